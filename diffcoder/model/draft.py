"""Draft-accelerated decoding: verify several blocks of a draft (the code being edited) per forward.

Lossless with respect to greedy decoding at the configured selection rule: a block is accepted
only when the first denoising step plain decoding would run on it commits the whole block and
commits exactly the draft's tokens, so its result is already determined.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.selection import choose_tokens, commit_count, select_commits
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


def verify_draft(
    lm: BlockDiffusionLM,
    canvas: Canvas,
    proposal: list[int],
    *,
    window: int,
    config: DecodeConfig,
    banned: torch.Tensor | None,
) -> Verification | None:
    """One forward checking up to `window` fresh blocks from `canvas.block_start` against
    `proposal`, the draft's guess for their undecided positions.

    Returns None, without a forward, when the proposal does not cover even one block. Otherwise
    the accepted blocks are decided and their clean KV stays in the cache, the first refused
    block has had its first denoising step, and the canvas moves on to that block.
    """
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
    logits = lm.forward(
        canvas.cache,
        ids,
        positions,
        logits_rows=slice(n_clean, None),
        mask=verification_mask(positions, n_clean, canvas.block_length),
    )
    canvas.nfe += 1
    tokens, confidence = choose_tokens(logits, 0.0, None, banned)

    accepted_tokens = 0
    for index, (b_start, b_end, offset, masked) in enumerate(spans):
        rows = slice(b_start - start, b_end - start)
        open_ = canvas.undecided[b_start:b_end].clone()
        count = commit_count(config, masked, 0)
        chosen = select_commits(confidence[rows], open_, count=count, threshold=config.threshold)
        agrees = bool(torch.equal(tokens[rows][open_], draft[offset : offset + masked]))
        accepted = agrees and bool(torch.equal(chosen, open_))
        # accepted, this writes the draft's tokens; refused, the block's first denoising step
        canvas.decide(b_start, b_end, chosen, tokens[rows])
        if not accepted:
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
