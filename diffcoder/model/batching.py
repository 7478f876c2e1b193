"""`BatchedEngine`: the local model behind the generation-backend interface, with continuous
batching. `generate` may be called from many threads at once; their requests share forwards
(docs/batching.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.canvas import Canvas
from diffcoder.model.engine import DiffusionEngine, load_engine
from diffcoder.model.kv_pool import KVPool
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.sampler import uses_draft
from diffcoder.model.scheduler import BatchCounts, Scheduler, Ticket
from diffcoder.model.types import (
    BLOCK_LENGTH,
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    LoadOptions,
    SpecialIds,
    StepInfo,
)

# Room past the model's context for a draft verification's masked copies (16 blocks of 4).
DRAFT_SCRATCH = 16 * BLOCK_LENGTH
CPU_KV_SHARE = 0.25  # of the RAM available after loading
GPU_KV_SHARE = 0.5  # of the GPU memory free after loading, the rest for activations


@dataclass(frozen=True)
class PoolPlan:
    slots: int
    capacity: int  # positions per slot: prompt + max_new_tokens (+ draft scratch) of a request
    budget_bytes: int
    bytes_per_token: int

    @property
    def pool_bytes(self) -> int:
        return self.slots * self.capacity * self.bytes_per_token


def free_memory(device: torch.device) -> int:
    """Bytes the KV pool may take on `device`."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0] * GPU_KV_SHARE)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        available = 4 << 30
    return int(available * CPU_KV_SHARE)


def plan_pool(max_batch: int, context: int, bytes_per_token: int, budget: int) -> PoolPlan:
    """The largest batch whose slots hold the full `context` (so the batched engine takes every
    request batch 1 takes), up to `max_batch`; when not even one such slot fits, one shorter slot.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, not {max_batch}")
    positions = budget // max(1, bytes_per_token)  # what the whole budget holds
    slots = max(1, min(max_batch, positions // max(1, context)))
    capacity = min(context, positions // slots)
    if capacity < BLOCK_LENGTH * 2:
        raise ValueError(
            f"no KV pool fits: {budget / 2**20:.0f} MiB for the cache at "
            f"{bytes_per_token} bytes per position; free memory, use a smaller model or quant"
        )
    return PoolPlan(slots, capacity, budget, bytes_per_token)


class BatchedEngine:
    """A `GenerationBackend` whose concurrent `generate` calls share batched forwards."""

    def __init__(
        self,
        engine: DiffusionEngine,
        *,
        max_batch: int = 8,
        context: int | None = None,
        block_length: int = BLOCK_LENGTH,
        prefill_chunk: int = 256,
        kv_budget_bytes: int | None = None,
    ) -> None:
        self.engine = engine
        self.lm = BlockDiffusionLM(engine.model, block_length)
        config = engine.model.config
        if context is None:
            context = getattr(config, "max_position_embeddings", 8192) + DRAFT_SCRATCH
        budget = free_memory(self.lm.device) if kv_budget_bytes is None else kv_budget_bytes
        self.plan = plan_pool(max_batch, context, KVPool.bytes_per_token(self.lm), budget)
        self.pool = KVPool(self.lm, self.plan.slots, self.plan.capacity)
        self.scheduler = Scheduler(
            self.lm, self.pool, engine.special, engine.decode, prefill_chunk=prefill_chunk
        )

    @classmethod
    def from_engine(cls, engine: DiffusionEngine, max_batch: int = 8, **options) -> BatchedEngine:
        return cls(engine, max_batch=max_batch, **options)

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self.engine.tokenizer

    @property
    def special(self) -> SpecialIds:
        return self.engine.special

    @property
    def concurrency(self) -> int:
        return self.plan.slots

    @property
    def max_batch(self) -> int:
        return self.plan.slots

    @property
    def counts(self) -> BatchCounts:
        return self.scheduler.counts

    def describe(self) -> BackendInfo:
        info = self.engine.describe()
        plan = self.plan
        note = f"; batching up to {plan.slots} requests of up to {plan.capacity} positions"
        return BackendInfo(
            summary=info.summary + note,
            model=info.model,
            device=info.device,
            quant=info.quant,
            dtype=info.dtype,
        )

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        """Decode after `prompt_ids` in the shared batch; blocks until this request is done.
        `on_step` runs on the scheduler thread: keep it quick."""
        if config.block_length != self.lm.block_length:
            raise ValueError(
                f"this batched engine decodes blocks of {self.lm.block_length}, "
                f"not {config.block_length}"
            )
        drafting = uses_draft(config, draft_ids)  # rejects a parity-mode draft here
        needed = Canvas.capacity_for(len(prompt_ids), config, drafting=drafting)
        if needed > self.plan.capacity:
            scratch = needed - len(prompt_ids) - config.max_new_tokens
            raise ValueError(
                f"this request needs {needed} KV positions ({len(prompt_ids)} prompt tokens + "
                f"max_new_tokens {config.max_new_tokens}"
                + (f" + {scratch} for draft verification" if drafting else "")
                + f"), but each of the batched engine's {self.plan.slots} slots holds "
                f"{self.plan.capacity} (decided at load from its context and free memory); shorten "
                "the prompt, lower max_new_tokens, or load with a smaller max_batch"
            )
        ticket = Ticket(list(prompt_ids), config, draft_ids, on_step, cancel)
        self.scheduler.submit(ticket)
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    @property
    def healthy(self) -> bool:
        """Whether the scheduler thread still serves requests (a team server's health check)."""
        return self.scheduler.alive

    def close(self) -> None:
        """Stop the scheduler thread; calls still waiting end with an error."""
        self.scheduler.close()


def load_batched_engine(
    path: str | Path, options: LoadOptions | None = None, *, max_batch: int = 8
) -> BatchedEngine:
    """Load the checkpoint at `path` (as `load_engine`) for batched decoding."""
    return BatchedEngine.from_engine(load_engine(path, options), max_batch=max_batch)
