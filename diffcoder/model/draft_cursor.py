"""Where the generated text continues in the draft: the cursor that proposes draft tokens to
verify, adapts how many blocks to verify at once, and re-aligns after the output leaves the draft.

Pure bookkeeping over token ids (no forwards); `draft.verify_draft` runs the verification.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from diffcoder.model.draft_replay import HunkReplay

if TYPE_CHECKING:
    from diffcoder.model.draft import Verification

ANCHOR = 3  # tokens a suffix must share with the draft before decoding re-aligns to it
# Matches longer than this rank equal, so a nearby place beats a far one inside repeated text.
LONGEST_MATCH = 8
# After this many wrong first blocks in a row, stop verifying until the draft is found again:
# a wrong draft then costs nothing but the re-alignment search.
MAX_MISSES = 2
GROWTH = 4  # the window multiplies by this after a window is accepted whole
# The window never shrinks below this: a refused block still has its first step from the
# verification, and the blocks after it are checked at once when it ends as guessed.
MIN_WINDOW = 4
BLOCK_GUESS = 4  # proposal tokens after the accepted ones that the refused block holds at most
FAR = 16  # draft tokens of distance from the expected place that cost one token of agreement


class LineBreaks:
    """Which token ids contain a newline (so a line of text starts after them), from `decode`;
    without one, no token does and re-alignment uses token anchors only."""

    def __init__(self, decode: Callable[[list[int]], str] | None) -> None:
        self._decode = decode
        self._known: dict[int, bool] = {}

    def __call__(self, token: int) -> bool:
        if self._decode is None:
            return False
        if token not in self._known:
            self._known[token] = "\n" in self._decode([token])
        return self._known[token]


class DraftCursor:
    """Where the generated text continues in the draft, and how many blocks to verify at once.

    The draft index of generated position g is `g + shift`. After the output leaves the draft,
    re-alignment picks the place in the draft that explains the most recent generated tokens,
    as a diff would: a run of at least `ANCHOR` tokens found anywhere past what was confirmed
    (prompt-lookup style), or a line start, when the output has just begun a line, whose
    newline token (and what follows of the line so far) it shares. So after a changed hunk the
    cursor jumps to the draft's next line that the output resumes, not only after three tokens of
    it. An edit reads its draft in order: only when nothing past what was confirmed explains the
    latest tokens may it go back, on a run of `LONGEST_MATCH` tokens (code moved up).
    """

    def __init__(
        self,
        draft: list[int],
        window: int,
        max_window: int,
        *,
        decode: Callable[[list[int]], str] | None = None,
    ) -> None:
        self.draft, self.shift = list(draft), 0
        self.confirmed = 0  # draft tokens up to here were accepted or re-aligned to
        self.misses = 0  # verifications in a row whose first block the draft got wrong
        self._proposed_from = 0
        self.window, self.max_window = window, max_window
        self.peak = window  # the widest window accepted whole: restored after a re-alignment
        self.accepted_tokens = 0
        self.replay = HunkReplay()  # replacements the output made, proposed again where they fit
        self.replayed: list[bool] = []  # per token of the last proposal: written by a replay
        self._consumed: list[int] | None = None  # the last proposal's draft offsets
        self._sources: list[tuple[int, ...] | None] = []  # the replacement behind each token
        self._sync = (0, 0)  # a generated index and the draft index aligned with it
        self._anchors: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for end in range(ANCHOR, len(self.draft) + 1):
            self._anchors[tuple(self.draft[end - ANCHOR : end])].append(end)
        self._breaks = LineBreaks(decode)
        # the draft's line starts: positions after a token holding a newline
        self._line_starts = {
            s for s in range(1, len(self.draft)) if self._breaks(self.draft[s - 1])
        }

    _STATE = (
        "shift",
        "confirmed",
        "misses",
        "_proposed_from",
        "window",
        "peak",
        "accepted_tokens",
        "_sync",
        "_consumed",
        "replayed",
        "_sources",
    )

    def snapshot(self) -> tuple[object, ...]:
        """The cursor's position, window and replays, for `restore` after a tentative
        re-alignment (on a guessed block that decoding may still refute)."""
        return (*(getattr(self, name) for name in self._STATE), self.replay.copy())

    def restore(self, state: tuple[object, ...]) -> None:
        *fields, replay = state
        for name, value in zip(self._STATE, fields, strict=True):
            setattr(self, name, value)
        self.replay = replay  # type: ignore[assignment]

    def proposal(self, generated: int) -> list[int]:
        """The draft from where generated position `generated` continues in it, with the
        learned replacements applied (`replayed` marks their tokens)."""
        self._consumed, self.replayed, self._sources = None, [], []
        if self.misses >= MAX_MISSES:
            return []  # resting until re-alignment finds the draft again
        start = self._proposed_from = generated + self.shift
        if not 0 <= start < len(self.draft):
            return []
        if not self.replay:
            return self.draft[start:]
        replayed = self.replay.apply(self.draft[start:])
        self._consumed, self.replayed = replayed.consumed, replayed.replayed
        self._sources = replayed.sources
        return replayed.tokens

    def record(self, outcome: Verification) -> None:
        """Grow the window quickly after full acceptance, shrink it to what was accepted (at least
        `MIN_WINDOW` blocks) when the draft was wrong; a block refused only for low confidence
        says nothing against the draft."""
        self.accepted_tokens += outcome.accepted_tokens
        missed = outcome.accepted_blocks == 0 and outcome.draft_disagreed
        self.misses = self.misses + 1 if missed else 0
        accepted = outcome.accepted_tokens
        if outcome.draft_disagreed:  # a replacement in the refused block was wrong here: drop it
            for source in self._sources[accepted : accepted + BLOCK_GUESS]:
                if source is not None:
                    self.replay.forget(source)
        if accepted:
            used = self._consumed[accepted] if self._consumed else accepted  # draft tokens
            generated_end = self._proposed_from - self.shift + accepted
            self.confirmed = max(self.confirmed, self._proposed_from + used)
            self.shift += used - accepted
            self._sync = (generated_end, self._proposed_from + used)
        if outcome.accepted_blocks == outcome.verified_blocks:
            self.window = min(self.max_window, GROWTH * self.window)
            self.peak = max(self.peak, self.window)
        elif outcome.draft_disagreed:  # a hunk starts: keep a few blocks
            self.window = max(MIN_WINDOW, outcome.accepted_blocks)

    def realign(self, generated: list[int]) -> None:
        """After a block decoded without the draft: keep the shift while the latest tokens still
        agree with the draft there (a substitution), else move it to the place that explains
        them best, nearer places first (an edit is local; a far jump needs a longer match)."""
        if not generated:
            return
        if self._still_in_step(generated):
            self.misses = 0
            self._learn(generated, len(generated) + self.shift)
            return
        expected = len(generated) + self.shift
        target = self._line_target(generated, expected)
        candidates = self._candidates(generated, expected)
        ahead = [end for end in candidates if end > self.confirmed or end == expected]
        best_end = self._best(generated, ahead, expected, target)
        if self._agreement(generated, best_end) < ANCHOR:
            # nothing ahead explains the latest tokens: code moved from text already used?
            behind = [end for end in candidates if end <= self.confirmed and end != expected]
            moved = self._best(generated, behind, expected, target)
            if self._agreement(generated, moved) >= LONGEST_MATCH:
                best_end = moved
        if best_end == expected:
            return  # nothing explains the latest tokens better: keep guessing a substitution
        self.shift = best_end - len(generated)
        self.misses = 0
        if self._agreement(generated, best_end) >= ANCHOR:
            self.window = max(self.window, min(self.peak, self.max_window))
            self._learn(generated, best_end)

    def _learn(self, generated: list[int], end: int) -> None:
        """The output is aligned with the draft again (its last tokens match the draft before
        `end`): learn what it wrote since the last aligned place as a replacement."""
        agreement = self._agreement(generated, end)
        (g_start, d_start), g_end, d_end = self._sync, len(generated) - agreement, end - agreement
        if 0 <= g_start <= g_end and 0 <= d_start <= d_end and agreement >= 2:
            self.replay.learn(generated[g_start:g_end], self.draft[d_start:d_end])
        self._sync = (len(generated), end)

    def _best(self, generated: list[int], ends: list[int], expected: int, target: int) -> int:
        """The draft end among `ends` that explains the latest tokens best, nearer `target`
        first; `expected` when `ends` is empty."""
        best_end, best = expected, (float("-inf"), 0.0)
        for end in ends:
            length = min(self._agreement(generated, end), LONGEST_MATCH)
            key = (length - abs(end - target) / FAR, -abs(end - target))
            if key > best:
                best_end, best = end, key
        return best_end

    def _line_target(self, generated: list[int], expected: int) -> int:
        """Where the output should be if each line it wrote since the last confirmed draft
        token replaced one line of the draft (a diff's most common hunk); `expected` when
        line breaks are unknown or none was written."""
        since = min(max(self.confirmed - self.shift, 0), len(generated))
        lines = sum(self._breaks(t) for t in generated[since:])
        if not lines:
            return expected
        tail = 0  # tokens written after the output's last line break
        while self._breaks(generated[-1 - tail]) is False and tail < len(generated) - 1:
            tail += 1
        for place in range(self.confirmed, len(self.draft)):
            if self._breaks(self.draft[place]):
                lines -= 1
                if not lines:
                    return place + 1 + tail
        return expected

    def _candidates(self, generated: list[int], expected: int) -> list[int]:
        """Draft ends where the latest tokens may continue (`realign` ranks those past what was
        confirmed first): where the last `ANCHOR` tokens occur; and when the output began a
        line within them, every draft line start holding that partial line (the current place
        only if it is one too)."""
        found = [
            end
            for end in self._anchors.get(tuple(generated[-ANCHOR:]), ())
            if 0 < end < len(self.draft)
        ]
        back = next(
            (b for b in range(1, min(ANCHOR, len(generated)) + 1) if self._breaks(generated[-b])),
            None,
        )
        if back is None:
            return [expected, *found]
        partial = generated[len(generated) - back + 1 :]
        for start in sorted(self._line_starts):
            end = start + len(partial)
            if self.confirmed < end < len(self.draft) and self.draft[start:end] == partial:
                found.append(end)
        if expected - len(partial) in self._line_starts:
            found.append(expected)
        return found

    def _agreement(self, generated: list[int], end: int) -> int:
        """How many of the latest generated tokens equal the draft's tokens before `end`."""
        if not 0 <= end <= len(self.draft):
            return 0
        length, limit = 0, min(end, len(generated), 4 * LONGEST_MATCH)
        while length < limit and self.draft[end - length - 1] == generated[-length - 1]:
            length += 1
        return length

    def _still_in_step(self, generated: list[int]) -> bool:
        """The last tokens agree with the draft at the current shift and so do most of the
        recent ones: a substitution, keep it."""
        recent = range(max(0, len(generated) - LONGEST_MATCH), len(generated))
        pairs = [(generated[i], i + self.shift) for i in recent]
        same = [0 <= j < len(self.draft) and self.draft[j] == t for t, j in pairs]
        return all(same[-min(2, len(same)) :]) and 2 * sum(same) > len(pairs)
