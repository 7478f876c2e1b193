"""Draft-accelerated decoding: verify several blocks of a draft (the code being edited) per forward.

Lossless with respect to greedy decoding at the configured selection rule: a block is accepted
only when the first denoising step plain decoding would run on it commits the whole block and
commits exactly the draft's tokens, so its result is already determined.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.selection import choose_tokens, commit_count, select_commits
from diffcoder.model.types import DecodeConfig

ANCHOR = 3  # tokens a suffix must share with the draft before decoding re-aligns to it
# Matches longer than this rank equal, so a nearby place beats a far one inside repeated text.
LONGEST_MATCH = 8
# After this many wrong first blocks in a row, stop verifying until the draft is found again:
# a wrong draft then costs nothing but the re-alignment search.
MAX_MISSES = 2


class DraftCursor:
    """Where the generated text continues in the draft, and how many blocks to verify at once.

    The draft index of generated position g is `g + shift`. After a mismatch the longest suffix of
    the generated tokens that also occurs in the draft (prompt-lookup style) moves `shift`, so one
    changed line does not end acceleration for the rest of the region. An edit reads its draft
    in order, so re-alignment only looks past what has already been confirmed.
    """

    def __init__(self, draft: list[int], window: int, max_window: int) -> None:
        self.draft, self.shift = list(draft), 0
        self.confirmed = 0  # draft tokens up to here were accepted or re-aligned to
        self.misses = 0  # verifications in a row whose first block the draft got wrong
        self._proposed_from = 0
        self.window, self.max_window = window, max_window
        self.accepted_tokens = 0
        self._anchors: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for end in range(ANCHOR, len(self.draft) + 1):
            self._anchors[tuple(self.draft[end - ANCHOR : end])].append(end)

    def proposal(self, generated: int) -> list[int]:
        if self.misses >= MAX_MISSES:
            return []  # resting until re-alignment finds the draft again
        start = self._proposed_from = generated + self.shift
        return self.draft[start:] if 0 <= start < len(self.draft) else []

    def record(self, outcome: Verification) -> None:
        """Grow the window after full acceptance, shrink it to what was accepted when the draft
        was wrong; a block refused only for low confidence says nothing against the draft."""
        self.accepted_tokens += outcome.accepted_tokens
        missed = outcome.accepted_blocks == 0 and outcome.draft_disagreed
        self.misses = self.misses + 1 if missed else 0
        self.confirmed = max(self.confirmed, self._proposed_from + outcome.accepted_tokens)
        if outcome.accepted_blocks == outcome.verified_blocks:
            self.window = min(self.max_window, 2 * self.window)
        elif outcome.draft_disagreed:
            self.window = max(1, outcome.accepted_blocks)

    def realign(self, generated: list[int]) -> None:
        if len(generated) < ANCHOR:
            return
        if self._still_in_step(generated):
            self.misses = 0
            return
        expected = len(generated) + self.shift
        best: tuple[int, int] | None = None  # (-match length, distance from expected), end
        best_end = None
        for end in self._anchors.get(tuple(generated[-ANCHOR:]), ()):
            if not self.confirmed < end < len(self.draft):
                continue  # behind what was already used, or nothing left to propose
            length = ANCHOR
            while (
                length < min(LONGEST_MATCH, end, len(generated))
                and self.draft[end - length - 1] == generated[-length - 1]
            ):
                length += 1
            key = (-length, abs(end - expected))
            if best is None or key < best:
                best, best_end = key, end
        if best_end is not None:
            self.shift = best_end - len(generated)
            self.confirmed, self.misses = best_end, 0

    def _still_in_step(self, generated: list[int]) -> bool:
        """Most recent tokens agree with the draft at the current shift: a substitution, keep it."""
        recent = range(max(0, len(generated) - LONGEST_MATCH), len(generated))
        pairs = [(generated[i], i + self.shift) for i in recent]
        same = sum(0 <= j < len(self.draft) and self.draft[j] == t for t, j in pairs)
        return 2 * same > len(pairs)


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
