"""The block-diffusion sampler: block -> step -> select -> commit, after a prompt, batch size 1.

`parity` reproduces upstream Stable-DiffCoder decoding exactly (docs/decoding.md); `fast` keeps
its token choices but fuses each block's commit into the next block's first step, never picks
special ids, and stops as soon as committed tokens make EOS or a stop string certain.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from diffcoder.model.draft import DraftCursor, verify_draft
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.selection import choose_tokens, select_commits, step_schedule
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    FinishReason,
    GenerationResult,
    SpecialIds,
    StepInfo,
)


def generate(
    lm: BlockDiffusionLM,
    prompt_ids: list[int],
    config: DecodeConfig,
    special: SpecialIds,
    *,
    decode: Callable[[list[int]], str] = lambda ids: "",
    on_step: Callable[[StepInfo], None] | None = None,
    cancel: CancelFlag | None = None,
    draft: list[int] | None = None,
) -> GenerationResult:
    """Decode `config.max_new_tokens` positions after `prompt_ids` block by block.

    `draft` (fast mode, temperature 0) is text the output probably repeats, such as the code
    being edited; it is verified many blocks per forward and never changes the output.
    """
    fast, length = config.mode == "fast", config.block_length
    if draft is not None and not fast:
        raise ValueError("drafts need fast mode (parity mode reproduces upstream decoding)")
    device, prompt_len = lm.device, len(prompt_ids)
    end = prompt_len + config.max_new_tokens
    canvas = torch.tensor(
        list(prompt_ids) + [special.mask] * config.max_new_tokens, device=device, dtype=torch.long
    )
    undecided = torch.arange(end, device=device) >= prompt_len
    positions = torch.arange(end + length, device=device)
    banned = torch.tensor(sorted(special.banned | {special.mask}), device=device) if fast else None
    generator = torch.Generator(device=device).manual_seed(config.seed)
    stops = _StopWatch(special.eos, config.stop_strings, decode, prompt_len) if fast else None
    cursor = None
    if draft and config.temperature == 0:
        cursor = DraftCursor(draft, config.draft_window, config.max_draft_window)

    started = time.perf_counter()
    first_block = start = prompt_len - prompt_len % length  # blocks sit at multiples of length
    # room for the widest segment: the pending block plus a block (or a full verification layout)
    slack = length * (2 * config.max_draft_window + 1 if cursor is not None else 2)
    cache = lm.new_cache(end + slack)
    lm.prefill(cache, canvas[:start])
    prefilled = time.perf_counter()

    nfe = step = 0
    pending_commit = start  # fast mode: a clean block waiting to be committed by the next forward
    finish: FinishReason | None = None

    def first_count(masked: int) -> int:
        return step_schedule(masked, config.fixed_steps)[0]

    def after_forward() -> FinishReason | None:
        nonlocal step
        step += 1
        if on_step is not None:
            committed = int((~undecided[prompt_len:]).sum())
            block = (start - first_block) // length
            on_step(StepInfo(step, block, committed, config.max_new_tokens, nfe))
        if cancel is not None and cancel.is_set():
            return "cancelled"
        return stops.check(canvas, undecided) if stops is not None else None

    while start < end and finish is None:
        block_step = 0
        proposal = (
            cursor.proposal(max(start, prompt_len) - prompt_len) if cursor is not None else []
        )
        if proposal:
            verified = verify_draft(
                lm, cache, canvas, undecided, pending_start=pending_commit, start=start, end=end,
                proposal=proposal, window=cursor.window, first_count=first_count,
                threshold=config.threshold, banned=banned,
            )  # fmt: skip
            if verified is not None:
                nfe += 1
                cursor.record(verified)
                pending_commit = start = verified.next_start
                finish = after_forward()
                if not verified.opened_block:
                    continue
                block_step = 1
        stop = min(start + length, end)
        schedule = None
        if config.threshold is None:
            schedule = step_schedule(stop - max(start, prompt_len), config.fixed_steps)
        while finish is None and bool(undecided[start:stop].any()):
            fed = pending_commit
            logits = lm.forward(
                cache,
                canvas[fed:stop],
                positions[fed:stop],
                commit=start - fed,
                logits_rows=slice(start - fed, None),
            )
            pending_commit, nfe = start, nfe + 1
            tokens, confidence = choose_tokens(logits, config.temperature, generator, banned)
            chosen = select_commits(
                confidence,
                undecided[start:stop],
                count=schedule[block_step] if schedule else None,
                threshold=config.threshold,
            )
            canvas[start:stop] = torch.where(chosen, tokens, canvas[start:stop])
            undecided[start:stop] &= ~chosen
            block_step += 1
            finish = after_forward()
        if finish is None and not fast:
            # upstream's separate commit forward, then its EOS check on the finished block
            lm.forward(cache, canvas[start:stop], positions[start:stop], commit=stop - start)
            nfe, pending_commit = nfe + 1, stop
            if bool((canvas[prompt_len:stop] == special.eos).any()):
                finish = "eos"
        if cursor is not None and finish is None:
            cursor.realign(canvas[prompt_len:stop].tolist())
        start = stop

    token_ids = _decided_prefix(canvas, undecided, prompt_len)
    if special.eos in token_ids:
        token_ids = token_ids[: token_ids.index(special.eos)]
        finish = "cancelled" if finish == "cancelled" else "eos"
    text = decode(token_ids)
    if finish == "stop" or (stops is not None and stops.first_stop(text) is not None):
        token_ids, text = stops.truncate(token_ids, text)
        finish = "stop"
    decode_seconds = time.perf_counter() - prefilled
    return GenerationResult(
        token_ids=token_ids,
        text=text,
        finish_reason=finish or "length",
        nfe=nfe,
        prompt_tokens=prompt_len,
        prefill_seconds=prefilled - started,
        decode_seconds=decode_seconds,
        draft_accepted_tokens=cursor.accepted_tokens if cursor is not None else 0,
    )


def _decided_prefix(canvas: torch.Tensor, undecided: torch.Tensor, prompt_len: int) -> list[int]:
    open_positions = undecided[prompt_len:].nonzero()
    stop = int(open_positions[0]) if open_positions.numel() else undecided.shape[0] - prompt_len
    return canvas[prompt_len : prompt_len + stop].tolist()


class _StopWatch:
    """Fast mode: has the committed prefix made EOS or a stop string certain?"""

    def __init__(self, eos: int, stop_strings, decode, prompt_len: int) -> None:
        self.eos, self.stop_strings, self.decode = eos, tuple(stop_strings), decode
        self.prompt_len, self.seen = prompt_len, -1

    def check(self, canvas: torch.Tensor, undecided: torch.Tensor) -> FinishReason | None:
        prefix = _decided_prefix(canvas, undecided, self.prompt_len)
        if len(prefix) == self.seen:
            return None
        self.seen = len(prefix)
        if self.eos in prefix:
            return "eos"
        if self.stop_strings and self.first_stop(self.decode(prefix)) is not None:
            return "stop"
        return None

    def first_stop(self, text: str) -> int | None:
        hits = [text.find(s) for s in self.stop_strings if s and s in text]
        return min(hits) if hits else None

    def truncate(self, token_ids: list[int], text: str) -> tuple[list[int], str]:
        """Cut the text before the stop string and the ids before the token it starts in."""
        cut = self.first_stop(text)
        assert cut is not None
        keep = 0
        while keep < len(token_ids) and len(self.decode(token_ids[: keep + 1])) <= cut:
            keep += 1
        return token_ids[:keep], text[:cut]
