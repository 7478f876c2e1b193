"""Draft-accelerated decoding: verify several blocks of a draft (the code being edited) per forward.

Lossless with respect to greedy decoding at the configured selection rule: a block is accepted
only when the first denoising step plain decoding would run on it commits the whole block and
commits exactly the draft's tokens, so its result is already determined.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.draft_states import PlannedStates, copies_mask, plan_states, second_step
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.selection import choose_tokens, commit_count, select_commits
from diffcoder.model.steps import ForwardOp, run_op
from diffcoder.model.types import DecodeConfig


@dataclass(frozen=True)
class Verification:
    accepted_blocks: int
    verified_blocks: int
    accepted_tokens: int
    next_start: int  # the first block not accepted
    opened_block: bool  # that block's first denoising step has been applied
    draft_disagreed: bool = False  # the model's choice differed from the draft there


def verification_mask(positions: torch.Tensor, clean: int, block_length: int) -> torch.Tensor:
    """[n, n] layout: clean tokens block-causal; each masked copy sees earlier clean blocks
    and its own block's masked copy, never its clean twin or later blocks."""
    blocks = torch.div(positions, block_length, rounding_mode="floor")
    is_clean = torch.arange(positions.shape[0], device=positions.device) < clean
    q_blocks, k_blocks = blocks[:, None], blocks[None, :]
    q_clean, k_clean = is_clean[:, None], is_clean[None, :]
    clean_rows = q_clean & k_clean & (k_blocks <= q_blocks)
    masked_rows = ~q_clean & (
        (k_clean & (k_blocks < q_blocks)) | (~k_clean & (k_blocks == q_blocks))
    )
    return clean_rows | masked_rows


def _spans(canvas: Canvas, available: int, window: int) -> list[tuple[int, int, int, int]]:
    """(start, end, offset into the proposal, masked count) of each block from the canvas's
    block on that a proposal of `available` tokens covers, at most `window` of them."""
    spans: list[tuple[int, int, int, int]] = []
    start, needed = canvas.block_start, 0
    while start < canvas.end and len(spans) < window:
        end = min(start + canvas.block_length, canvas.end)
        masked = int(canvas.undecided[start:end].sum())
        if needed + masked > available:
            break
        spans.append((start, end, needed, masked))
        needed, start = needed + masked, end
    return spans


@dataclass(frozen=True)
class PlannedVerification:
    """A verification forward (`forward`) and what its logits are checked against."""

    forward: ForwardOp
    spans: list[tuple[int, int, int, int]]  # see `_spans`
    draft: torch.Tensor  # the proposal's tokens for the spans' undecided positions


def verification_forward(
    canvas: Canvas, proposal: list[int], *, window: int, replayed: list[bool] | None = None
) -> PlannedVerification | PlannedStates | None:
    """The forward checking up to `window` fresh blocks from `canvas.block_start` against
    `proposal`, the draft's guess for their undecided positions; None (no forward) when the
    proposal does not cover even one block. `replayed` marks proposal tokens that a learned
    replacement wrote (`draft_states.plan_states`). Changes nothing on the canvas."""
    spans = _spans(canvas, len(proposal), window)
    if not spans:
        return None
    start, pending, last_end = canvas.block_start, canvas.cached, spans[-1][1]
    needed = spans[-1][2] + spans[-1][3]
    draft = torch.tensor(proposal[:needed], device=canvas.tokens.device, dtype=torch.long)
    clean = canvas.tokens[start:last_end].clone()
    clean[canvas.undecided[start:last_end]] = draft
    # [pending block, clean draft blocks, their masked copies], the copies at the same positions
    ids = torch.cat([canvas.tokens[pending:start], clean, canvas.tokens[start:last_end]])
    positions = torch.cat([canvas.positions[pending:last_end], canvas.positions[start:last_end]])
    n_clean = last_end - pending
    # then candidate next states of the first blocks (draft_states), where the cache has room
    groups = [torch.full((n_clean,), -1, device=ids.device, dtype=torch.long)]
    groups += [
        torch.full((b_end - b_start,), i, device=ids.device)
        for i, (b_start, b_end, *_) in enumerate(spans)
    ]
    capacity = getattr(canvas.cache, "capacity", 0)
    more, states = plan_states(
        canvas.tokens,
        canvas.undecided,
        clean,
        spans,
        start=start,
        first_row=last_end - start,
        room=capacity - canvas.cached - ids.shape[0],
        opened=bool((~canvas.undecided[max(start, canvas.prompt_len) : spans[0][1]]).any()),
        replayed=torch.tensor(replayed[:needed], dtype=torch.bool)
        if replayed is not None and len(replayed) >= needed and any(replayed[:needed])
        else None,
    )
    if states:
        ids = torch.cat([ids, *more])
        positions = torch.cat(
            [
                positions,
                *(canvas.positions[spans[st.block][0] : spans[st.block][1]] for st in states),
            ]
        )
        groups += [torch.full_like(m, len(spans) + k) for k, m in enumerate(more)]
    forward = ForwardOp(
        ids,
        positions,
        commit=0,
        logits_rows=slice(n_clean, None),
        mask=copies_mask(positions, torch.cat(groups), n_clean, canvas.block_length),
    )
    return PlannedStates(forward=forward, spans=spans, draft=draft, states=tuple(states))


def apply_verification(
    canvas: Canvas,
    planned: PlannedVerification | PlannedStates,
    logits: torch.Tensor,
    *,
    config: DecodeConfig,
    banned: torch.Tensor | None,
) -> Verification:
    """Apply the verification forward's `logits`: the accepted blocks are decided and their
    clean KV stays in the cache, the first refused block has had its first denoising step, and
    the canvas moves on to that block. (The caller counts the forward.)"""
    spans, draft, start = planned.spans, planned.draft, canvas.block_start
    last_end = spans[-1][1]
    tokens, confidence = choose_tokens(logits, 0.0, None, banned)

    accepted_tokens = 0
    for index, (b_start, b_end, offset, masked) in enumerate(spans):
        rows = slice(b_start - start, b_end - start)
        open_ = canvas.undecided[b_start:b_end].clone()
        count = commit_count(config, masked, 0)
        chosen = select_commits(confidence[rows], open_, count=count, threshold=config.threshold)
        block_draft = canvas.tokens[b_start:b_end].clone()
        block_draft[open_] = draft[offset : offset + masked]
        agrees = bool(torch.equal(tokens[rows][open_], block_draft[open_]))
        accepted = agrees and bool(torch.equal(chosen, open_))
        # accepted, this writes the draft's tokens; refused, the block's first denoising step
        canvas.decide(b_start, b_end, chosen, tokens[rows])
        states = getattr(planned, "states", ())
        second = None
        if not accepted and states:
            second = second_step(
                states, index, open_, chosen, tokens[rows], block_draft, tokens, confidence, config
            )
        if second is not None:
            # the second step, from the candidate copy that was the block's state after the first
            left = open_ & ~chosen
            canvas.decide(b_start, b_end, left, second)
            if bool(torch.equal(second[left], block_draft[left])):
                accepted_tokens += masked  # the block ends as the draft: what follows still holds
                continue
            agrees = False
        if not accepted:
            canvas.guess(b_start, b_end, tokens[rows])  # what the open block's next step checks
            outcome = Verification(
                accepted_blocks=index,
                verified_blocks=len(spans),
                accepted_tokens=accepted_tokens,
                next_start=b_start,
                opened_block=True,
                draft_disagreed=not agrees,
            )
            break
        accepted_tokens += masked
    else:
        outcome = Verification(
            accepted_blocks=len(spans),
            verified_blocks=len(spans),
            accepted_tokens=accepted_tokens,
            next_start=last_end,
            opened_block=False,
        )
    # the clean KV up to the first refused block stays; everything fed after it is scratch
    canvas.cache.length = canvas.block_start = outcome.next_start
    return outcome


def verify_draft(
    lm: BlockDiffusionLM,
    canvas: Canvas,
    proposal: list[int],
    *,
    window: int,
    config: DecodeConfig,
    banned: torch.Tensor | None,
) -> Verification | None:
    """Batch 1: `verification_forward`, its forward on `lm`, then `apply_verification`.
    Returns None, without a forward, when the proposal does not cover even one block."""
    planned = verification_forward(canvas, proposal, window=window)
    if planned is None:
        return None
    logits = run_op(lm, canvas.cache, planned.forward)
    canvas.nfe += 1
    assert logits is not None
    return apply_verification(canvas, planned, logits, config=config, banned=banned)
