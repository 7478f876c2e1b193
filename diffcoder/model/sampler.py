"""The block-diffusion sampler: block -> step -> select -> commit, after a prompt.

`decode_steps` is one request's decoding as a step machine (it yields the forwards it needs;
`diffcoder.model.steps`); `generate` drives it alone, batch size 1, and the batching scheduler
drives many at once.

`parity` reproduces upstream Stable-DiffCoder decoding exactly (docs/decoding.md); `fast` keeps
its token choices but fuses each block's commit into the next block's first step, never picks
special ids, and ends as soon as decided tokens make EOS or a stop string certain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import replace

import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.draft import Verification, apply_verification, verification_forward
from diffcoder.model.draft_cursor import DraftCursor
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.selection import choose_tokens, commit_count, select_commits
from diffcoder.model.steps import ForwardOp, PrefillOp, StepOp, Steps, drive_alone
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    FinishReason,
    GenerationResult,
    SpecialIds,
    StepInfo,
)

StepCallback = Callable[[StepInfo], None]


def generate(
    lm: BlockDiffusionLM,
    prompt_ids: list[int],
    config: DecodeConfig,
    special: SpecialIds,
    *,
    decode: Callable[[list[int]], str] = lambda ids: "",
    on_step: StepCallback | None = None,
    cancel: CancelFlag | None = None,
    draft: list[int] | None = None,
) -> GenerationResult:
    """Decode `config.max_new_tokens` positions after `prompt_ids` block by block, batch 1.

    `draft` (fast mode, temperature 0) is text the output probably repeats, such as the code
    being edited; it is verified many blocks per forward and never changes the output.
    """
    drafting = uses_draft(config, draft)
    canvas = Canvas.create(lm, prompt_ids, config, special.mask, drafting=drafting)
    steps = decode_steps(
        canvas, config, special, decode=decode, on_step=on_step, cancel=cancel, draft=draft
    )
    return drive_alone(lm, canvas.cache, steps)


def uses_draft(config: DecodeConfig, draft: list[int] | None) -> bool:
    """Whether a request verifies its draft (which sizes its cache); rejects parity drafts."""
    if draft is not None and config.mode != "fast":
        raise ValueError("drafts need fast mode (parity mode reproduces upstream decoding)")
    return bool(draft) and config.temperature == 0


def decode_steps(
    canvas: Canvas,
    config: DecodeConfig,
    special: SpecialIds,
    *,
    decode: Callable[[list[int]], str] = lambda ids: "",
    on_step: StepCallback | None = None,
    cancel: CancelFlag | None = None,
    draft: list[int] | None = None,
) -> Steps:
    """One request's decoding on `canvas` (fresh, its cache empty) as a step machine: yields
    each forward it needs (`diffcoder.model.steps`), is sent its logits, returns the result."""
    fast = config.mode == "fast"
    cursor = None
    if uses_draft(config, draft):
        assert draft is not None
        # the output ends where the draft does: EOS after it is the likeliest continuation
        ending_draft = list(draft) + [special.eos] * canvas.block_length
        cursor = DraftCursor(
            ending_draft, config.draft_window, config.max_draft_window, decode=decode
        )
    device = canvas.tokens.device
    banned = None
    if fast:
        banned = torch.tensor(sorted(special.banned | {special.mask}), device=device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    ending = _EndWatch(special.eos, config.stop_strings, decode) if fast else None

    started = time.perf_counter()
    yield PrefillOp(canvas.tokens[: canvas.block_start])
    prefilled = time.perf_counter()

    finish: FinishReason | None = None
    opened = False  # the block at canvas.block_start has had its first step (a verification's)
    while finish is None and canvas.block_start < canvas.end:
        step = 1 if opened else 0  # denoising steps the current block has had
        opened = False
        if cursor is not None and step == 0:
            verified = yield from _verify_draft(canvas, cursor, config, banned)
            if verified is not None:
                finish = _after_forward(canvas, on_step, cancel, ending)
                if not verified.opened_block:
                    continue
                step = 1
        block_start, block_end = canvas.block_start, canvas.block_end
        masked = block_end - max(block_start, canvas.prompt_len)  # what the schedule spreads
        while finish is None and canvas.block_is_open():
            piped = None
            if cursor is not None and config.threshold is not None:
                piped = yield from _pipelined_step(canvas, cursor, config, banned, special.mask)
            if piped is None:
                count = commit_count(config, masked, step)
                yield from _denoise_step(canvas, count, config, generator, banned)
            step += 1
            finish = _after_forward(canvas, on_step, cancel, ending)
            if piped is not None and canvas.block_start != block_start:
                opened = piped.opened_block  # decoding moved on, past the guessed block
                break
        if canvas.block_start != block_start:
            continue
        if finish is None and not fast:
            finish = yield from _commit_block(canvas, special.eos)
        if finish is None and cursor is not None:
            cursor.realign(canvas.tokens[canvas.prompt_len : block_end].tolist())
        canvas.block_start = block_end

    token_ids, text, finish = _answer(canvas, finish, special.eos, decode, ending)
    return GenerationResult(
        token_ids=token_ids,
        text=text,
        finish_reason=finish,
        nfe=canvas.nfe,
        prompt_tokens=canvas.prompt_len,
        prefill_seconds=prefilled - started,
        decode_seconds=time.perf_counter() - prefilled,
        draft_accepted_tokens=cursor.accepted_tokens if cursor is not None else 0,
    )


def _denoise_step(
    canvas: Canvas,
    count: int | None,
    config: DecodeConfig,
    generator: torch.Generator,
    banned: torch.Tensor | None,
) -> Generator[StepOp, torch.Tensor | None, None]:
    """One forward over the block (fast mode feeds the decided block before it too, committing
    its KV) and one round of commits: `count` positions, or by the threshold when None."""
    fed, start, end = canvas.cached, canvas.block_start, canvas.block_end
    logits = yield ForwardOp(
        canvas.tokens[fed:end],
        canvas.positions[fed:end],
        commit=start - fed,
        logits_rows=slice(start - fed, None),
    )
    assert logits is not None
    canvas.nfe += 1
    tokens, confidence = choose_tokens(logits, config.temperature, generator, banned)
    undecided = canvas.undecided[start:end]
    chosen = select_commits(confidence, undecided, count=count, threshold=config.threshold)
    canvas.decide(start, end, chosen, tokens)
    canvas.guess(start, end, tokens)


def _verify_draft(
    canvas: Canvas,
    cursor: DraftCursor,
    config: DecodeConfig,
    banned: torch.Tensor | None,
) -> Generator[StepOp, torch.Tensor | None, Verification | None]:
    """Check where the draft says the text goes on, several blocks in one forward; None when
    the draft has nothing to propose here (and no forward ran)."""
    proposal = cursor.proposal(canvas.generated_before_block)
    if not proposal:
        return None
    planned = verification_forward(canvas, proposal, window=cursor.window, replayed=cursor.replayed)
    if planned is None:
        return None
    logits = yield planned.forward
    assert logits is not None
    canvas.nfe += 1
    verified = apply_verification(canvas, planned, logits, config=config, banned=banned)
    cursor.record(verified)
    return verified


def _pipelined_step(
    canvas: Canvas,
    cursor: DraftCursor,
    config: DecodeConfig,
    banned: torch.Tensor | None,
    filler: int,
) -> Generator[StepOp, torch.Tensor | None, Verification | None]:
    """The open block's next step fused with a verification of what follows it, guessing the
    block's final tokens from its latest forward: when this step closes the block with exactly
    those tokens, the blocks after it were checked against the right context, so the draft's
    next blocks (or, without a draft there, the next block's first step) count at once. Threshold
    selection only. None when no guess exists (no forward ran)."""
    guessed = canvas.guessed_block()
    if guessed is None:
        return None
    start, end = canvas.block_start, canvas.block_end
    open_ = canvas.undecided[start:end].clone()
    generated = canvas.tokens[canvas.prompt_len : start].tolist()
    generated += guessed[max(0, canvas.prompt_len - start) :].tolist()
    saved = cursor.snapshot()
    cursor.realign(generated)  # tentative: as if the guess were decided
    continuation = cursor.proposal(len(generated))
    drafted = bool(continuation)
    window = min(1 + cursor.window, config.max_draft_window) if drafted else 2
    if not drafted:  # no draft there: the next block's first step, its clean twin unused
        continuation = [filler] * canvas.block_length
    guessed_count = int(open_.sum())
    proposal = guessed[open_].tolist() + continuation
    replayed = [False] * guessed_count + cursor.replayed if drafted else None
    planned = verification_forward(canvas, proposal, window=window, replayed=replayed)
    if planned is None:
        cursor.restore(saved)
        return None
    logits = yield planned.forward
    assert logits is not None
    canvas.nfe += 1
    verified = apply_verification(canvas, planned, logits, config=config, banned=banned)
    if verified.accepted_blocks == 0:
        cursor.restore(saved)  # the block is not decided as guessed: the sampler re-aligns
    elif drafted:  # the draft's share of the outcome: what followed the guessed block
        cursor.record(
            replace(
                verified,
                accepted_blocks=verified.accepted_blocks - 1,
                verified_blocks=verified.verified_blocks - 1,
                accepted_tokens=verified.accepted_tokens - guessed_count,
            )
        )
    return verified


def _commit_block(
    canvas: Canvas, eos: int
) -> Generator[StepOp, torch.Tensor | None, FinishReason | None]:
    """Parity mode: upstream's separate forward that commits the finished block, then its EOS
    check on everything generated so far."""
    start, end = canvas.block_start, canvas.block_end
    yield ForwardOp(
        canvas.tokens[start:end], canvas.positions[start:end], commit=end - start, logits_rows=None
    )
    canvas.nfe += 1
    return "eos" if bool((canvas.tokens[canvas.prompt_len : end] == eos).any()) else None


def _after_forward(
    canvas: Canvas,
    on_step: StepCallback | None,
    cancel: CancelFlag | None,
    ending: _EndWatch | None,
) -> FinishReason | None:
    """Report the step, then say whether decoding ends here: cancelled, or (fast mode) EOS or
    a stop string made certain."""
    canvas.steps += 1
    if on_step is not None:
        on_step(canvas.progress())
    if cancel is not None and cancel.is_set():
        return "cancelled"
    return ending.check(canvas) if ending is not None else None


def _answer(
    canvas: Canvas,
    finish: FinishReason | None,
    eos: int,
    decode: Callable[[list[int]], str],
    ending: _EndWatch | None,
) -> tuple[list[int], str, FinishReason]:
    """The decided prefix cut before EOS and before the first stop string, its text, and why
    decoding ended."""
    token_ids = canvas.decided_prefix()
    if eos in token_ids:
        token_ids = token_ids[: token_ids.index(eos)]
        finish = "cancelled" if finish == "cancelled" else "eos"
    text = decode(token_ids)
    if ending is not None and (finish == "stop" or ending.stop_string_at(text) is not None):
        token_ids, text = ending.cut(token_ids, text)
        finish = "stop"
    return token_ids, text, finish or "length"


class _EndWatch:
    """Fast mode: has the decided prefix made EOS or a stop string certain?"""

    def __init__(
        self, eos: int, stop_strings: tuple[str, ...], decode: Callable[[list[int]], str]
    ) -> None:
        self.eos, self.stop_strings, self.decode = eos, tuple(stop_strings), decode
        self.seen = -1  # length of the prefix last checked

    def check(self, canvas: Canvas) -> FinishReason | None:
        prefix = canvas.decided_prefix()
        if len(prefix) == self.seen:
            return None
        self.seen = len(prefix)
        if self.eos in prefix:
            return "eos"
        if self.stop_strings and self.stop_string_at(self.decode(prefix)) is not None:
            return "stop"
        return None

    def stop_string_at(self, text: str) -> int | None:
        hits = [text.find(s) for s in self.stop_strings if s and s in text]
        return min(hits) if hits else None

    def cut(self, token_ids: list[int], text: str) -> tuple[list[int], str]:
        """Cut the text before the stop string and the ids before the token it starts in."""
        cut = self.stop_string_at(text)
        assert cut is not None
        keep = 0
        while keep < len(token_ids) and len(self.decode(token_ids[: keep + 1])) <= cut:
            keep += 1
        return token_ids[:keep], text[:cut]
