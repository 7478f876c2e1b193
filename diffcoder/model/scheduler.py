"""Continuous batching: one thread advances every active request with one batched forward per step.

Each request is the sampler's step machine (`sampler.decode_steps`) on its own canvas, whose cache
is a slot of the `KVPool`. A request joins when a slot is free, feeds its prompt in chunks (so a
long prompt does not stall the running rows for long) and leaves, freeing its slot, the step it
finishes or sees its cancel flag; the others never wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.kv_pool import KVPool, SlotCache
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.sampler import decode_steps, uses_draft
from diffcoder.model.steps import ForwardOp, PrefillOp, Steps
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    SpecialIds,
    StepInfo,
)

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Ticket:
    """One `generate` call, from the caller's thread to the scheduler's and back."""

    prompt_ids: list[int]
    config: DecodeConfig
    draft_ids: list[int] | None
    on_step: Callable[[StepInfo], None] | None
    cancel: CancelFlag | None
    done: threading.Event = field(default_factory=threading.Event)
    result: GenerationResult | None = None
    error: BaseException | None = None

    def settle(self, result: GenerationResult | None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


@dataclass(eq=False)
class _Row:
    """A request holding a slot: its step machine and the operation it waits on."""

    ticket: Ticket
    cache: SlotCache
    steps: Steps
    op: PrefillOp | ForwardOp | None = None
    prefill_done: int = 0  # prompt tokens of the PrefillOp already fed


@dataclass
class BatchCounts:
    """What the scheduler ran: `forwards` are batched forwards after the prefill (one that
    advances any request's decoding counts once, whatever it also prefilled); `prefill_forwards`
    fed only prompts."""

    forwards: int = 0
    prefill_forwards: int = 0
    rows: int = 0  # request-steps the forwards advanced (rows x forwards)
    largest_batch: int = 0


class Scheduler:
    def __init__(
        self,
        lm: BlockDiffusionLM,
        pool: KVPool,
        special: SpecialIds,
        decode: Callable[[list[int]], str],
        *,
        prefill_chunk: int = 256,
    ) -> None:
        self.lm, self.pool, self.special, self.decode = lm, pool, special, decode
        block = lm.block_length
        self.prefill_chunk = max(block, prefill_chunk - prefill_chunk % block)
        self.counts = BatchCounts()
        self._queue: deque[Ticket] = deque()
        self._rows: list[_Row] = []
        # Slots of requests that left during a step are freed after it: freeing moves the last
        # slot, whose KV past its committed length (an accepted draft) is not settled until the
        # row has applied its logits.
        self._left: list[SlotCache] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="diffcoder-batch", daemon=True)
        self._thread.start()

    def submit(self, ticket: Ticket) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("the batched engine is closed")
            self._queue.append(ticket)
            self._wake.notify()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def close(self) -> None:
        """Stop the thread; requests still waiting or running end with an error."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._queue and not self._rows:
                    self._wake.wait()
                if self._closed:
                    waiting, self._queue = list(self._queue), deque()
                    break
                # cancelled while waiting: answered now, not when a slot frees
                gone = [t for t in self._queue if t.cancel is not None and t.cancel.is_set()]
                for ticket in gone:
                    self._queue.remove(ticket)
                    ticket.settle(GenerationResult.cancelled_before_start(len(ticket.prompt_ids)))
                joining = []
                while self._queue and len(joining) < self.pool.free:
                    joining.append(self._queue.popleft())
            try:
                for ticket in joining:
                    self._admit(ticket)
                if self._rows:
                    self._step()
            except Exception as error:  # a bug here must not leave callers waiting forever
                logger.exception("the batching scheduler failed a step")
                for row in list(self._rows):
                    self._leave(row, None, error)
                for ticket in joining:
                    if not ticket.done.is_set():
                        ticket.settle(None, error)
            self._free_slots()
        closed = RuntimeError("the batched engine was closed")
        for ticket in waiting:
            ticket.settle(None, closed)
        for row in list(self._rows):
            self._leave(row, None, closed)
        self._free_slots()

    def _admit(self, ticket: Ticket) -> None:
        if ticket.cancel is not None and ticket.cancel.is_set():
            ticket.settle(GenerationResult.cancelled_before_start(len(ticket.prompt_ids)))
            return
        cache = self.pool.acquire()
        try:
            config, special = ticket.config, self.special
            drafting = uses_draft(config, ticket.draft_ids)
            canvas = Canvas.create(
                self.lm, ticket.prompt_ids, config, special.mask, drafting=drafting, cache=cache
            )
            steps = decode_steps(
                canvas,
                config,
                special,
                decode=self.decode,
                on_step=ticket.on_step,
                cancel=ticket.cancel,
                draft=ticket.draft_ids,
            )
        except Exception as error:
            self._left.append(cache)
            ticket.settle(None, error)
            return
        row = _Row(ticket=ticket, cache=cache, steps=steps)
        self._rows.append(row)
        self._advance(row, None)

    def _advance(self, row: _Row, reply: torch.Tensor | None) -> None:
        """Send the row its forward's result; it asks for the next one, or leaves."""
        try:
            op = row.steps.send(reply)
            while isinstance(op, PrefillOp) and not op.ids.numel():
                op = row.steps.send(None)
        except StopIteration as stop:
            self._leave(row, stop.value, None)
            return
        except Exception as error:  # this request's own failure (an on_step callback, …)
            self._leave(row, None, error)
            return
        row.op, row.prefill_done = op, 0

    def _leave(self, row: _Row, result, error) -> None:
        self._rows.remove(row)
        self._left.append(row.cache)
        row.steps.close()
        row.ticket.settle(result, error)

    def _free_slots(self) -> None:
        for cache in self._left:
            self.pool.release(cache)
        self._left.clear()

    def _step(self) -> None:
        """One batched forward over every row, then each row's step machine moves on."""
        batch = [(row.cache, self._segment(row)) for row in self._rows]
        rows = list(self._rows)
        try:
            replies = self.pool.forward(batch)
        except Exception as error:  # out of memory, …: these requests fail, the engine lives
            logger.exception("a batched forward failed")
            for row in rows:
                self._leave(row, None, error)
            return
        decoding = sum(not isinstance(row.op, PrefillOp) for row in rows)
        counts = self.counts
        counts.forwards += 1 if decoding else 0
        counts.prefill_forwards += 0 if decoding else 1
        counts.rows += decoding
        counts.largest_batch = max(counts.largest_batch, len(rows))
        for row, reply, (_, segment) in zip(rows, replies, batch, strict=True):
            op = row.op
            if isinstance(op, PrefillOp):
                row.prefill_done += segment.length
                if row.prefill_done < op.ids.shape[0]:
                    cancel = row.ticket.cancel
                    if cancel is not None and cancel.is_set():
                        prompt = len(row.ticket.prompt_ids)
                        self._leave(row, GenerationResult.cancelled_before_start(prompt), None)
                    continue
                reply = None
            self._advance(row, reply)

    def _segment(self, row: _Row) -> ForwardOp:
        """The row's part of this forward: its operation, or the next chunk of its prompt."""
        op = row.op
        if isinstance(op, ForwardOp):
            return op
        assert op is not None
        start = row.cache.length
        chunk = op.ids[row.prefill_done : row.prefill_done + self.prefill_chunk]
        positions = torch.arange(start, start + chunk.shape[0], device=self.lm.device)
        return ForwardOp(chunk, positions, commit=int(chunk.shape[0]), logits_rows=None)
