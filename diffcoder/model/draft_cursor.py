"""Where the generated text continues in the draft: the cursor that proposes draft tokens to
verify, adapts how many blocks to verify at once, and re-aligns after the output leaves the draft.

Pure bookkeeping over token ids (no forwards); `draft.verify_draft` runs the verification.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diffcoder.model.draft import Verification

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
