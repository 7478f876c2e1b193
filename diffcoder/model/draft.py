"""Draft-accelerated decoding: verify several blocks of a draft (the code being edited) per forward.

Lossless with respect to greedy decoding at the configured selection rule: a block is accepted
only when the first denoising step plain decoding would run on it commits the whole block and
commits exactly the draft's tokens, so its result is already determined.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from diffcoder.model.runtime import BlockDiffusionLM, KVCache
from diffcoder.model.selection import choose_tokens, select_commits

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


def verify_draft(
    lm: BlockDiffusionLM,
    cache: KVCache,
    canvas: torch.Tensor,
    undecided: torch.Tensor,
    *,
    pending_start: int,
    start: int,
    end: int,
    proposal: list[int],
    window: int,
    first_count,
    threshold: float | None,
    banned: torch.Tensor | None,
) -> Verification | None:
    """One forward checking up to `window` fresh blocks from `start` against `proposal`.

    `first_count(masked)` is the fixed rule's first-step commit count (None in threshold mode).
    Returns None when the proposal does not cover even one block. Mutates canvas, undecided and
    the cache (which keeps the pending block and the accepted blocks' clean KV).
    """
    length = lm.block_length
    spans, needed = [], 0
    block_start = start
    while block_start < end and len(spans) < window:
        block_stop = min(block_start + length, end)
        masked = int(undecided[block_start:block_stop].sum())
        if needed + masked > len(proposal):
            break
        spans.append((block_start, block_stop, needed, masked))
        needed += masked
        block_start = block_stop
    if not spans:
        return None
    stop = spans[-1][1]
    draft = torch.tensor(proposal[:needed], device=canvas.device, dtype=canvas.dtype)
    clean = canvas[start:stop].clone()
    clean[undecided[start:stop]] = draft
    ids = torch.cat([canvas[pending_start:start], clean, canvas[start:stop]])
    positions = torch.arange(pending_start, stop, device=canvas.device)
    positions = torch.cat([positions, positions[start - pending_start :]])
    n_clean = stop - pending_start
    committed_before = cache.length
    logits = lm.forward(
        cache,
        ids,
        positions,
        logits_rows=slice(n_clean, None),
        mask=verification_mask(positions, n_clean, length),
    )
    tokens, confidence = choose_tokens(logits, 0.0, None, banned)

    accepted_tokens = 0
    for index, (b_start, b_stop, offset, masked) in enumerate(spans):
        rows = slice(b_start - start, b_stop - start)
        open_ = undecided[b_start:b_stop]
        count = first_count(masked) if threshold is None else None
        chosen = select_commits(confidence[rows], open_, count=count, threshold=threshold)
        agrees = bool(torch.equal(tokens[rows][open_], draft[offset : offset + masked]))
        if agrees and bool(torch.equal(chosen, open_)):
            canvas[b_start:b_stop] = clean[rows]
            undecided[b_start:b_stop] = False
            accepted_tokens += masked
            continue
        # the first rejected block: its masked copy's prediction is its first denoising step
        canvas[b_start:b_stop] = torch.where(chosen, tokens[rows], canvas[b_start:b_stop])
        undecided[b_start:b_stop] &= ~chosen
        cache.length = committed_before + (b_start - pending_start)
        return Verification(index, len(spans), accepted_tokens, b_start, True, not agrees)
    cache.length = committed_before + (stop - pending_start)
    return Verification(len(spans), len(spans), accepted_tokens, stop, False)
