"""One request's decoding as a step machine: what it asks the model for, and the batch-1 driver.

The sampler (`sampler.decode_steps`) is a generator. It yields one operation at a time, a
`PrefillOp` or a `ForwardOp`, and is sent back the forward's logits (None for an operation without
logits). Every operation runs against the request's own KV cache, starting at that cache's
committed length. `drive_alone` answers them with `BlockDiffusionLM.prefill/forward/extend`, one
request at a time; the batching scheduler (`diffcoder.model.scheduler`) answers many requests'
operations with one batched forward per step.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import torch

from diffcoder.model.types import GenerationResult


@dataclass(frozen=True)
class PrefillOp:
    """Commit `ids` (block-aligned prompt tokens, possibly none) from the cache's length on.
    A driver may feed them in chunks; no logits."""

    ids: torch.Tensor


@dataclass(frozen=True)
class ForwardOp:
    """Feed `ids` at absolute `positions` after the cached tokens; keep the KV of the first
    `commit`. `logits_rows` None computes no logits (parity's commit forward); `mask` ([n, n]
    bool) replaces the block-causal layout inside the segment."""

    ids: torch.Tensor
    positions: torch.Tensor
    commit: int = 0
    logits_rows: slice | None = field(default_factory=lambda: slice(None))
    mask: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return int(self.ids.shape[0])


StepOp = PrefillOp | ForwardOp
Steps = Generator[StepOp, "torch.Tensor | None", GenerationResult]


def run_op(lm: Any, cache: Any, op: StepOp) -> torch.Tensor | None:
    """Answer one operation with a batch-1 model (`BlockDiffusionLM` or a test double)."""
    if isinstance(op, PrefillOp):
        lm.prefill(cache, op.ids)
        return None
    if op.logits_rows is None:
        lm.extend(cache, op.ids, op.positions)
        return None
    return lm.forward(
        cache, op.ids, op.positions, commit=op.commit, logits_rows=op.logits_rows, mask=op.mask
    )


def drive_alone(lm: Any, cache: Any, steps: Steps) -> GenerationResult:
    """Run one request's step machine to its end, one forward per operation."""
    reply: torch.Tensor | None = None
    try:
        while True:
            reply = run_op(lm, cache, steps.send(reply))
    except StopIteration as stop:
        return stop.value
