"""Replaying an edit's hunks: once the output has replaced some draft tokens by others, propose
the same replacement wherever the draft repeats them (a rename, a changed call, a duplicated
function edited twice). Pure bookkeeping over token ids; every proposal is verified.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_OLD = 48  # longest draft run a learned replacement replaces
MAX_NEW = 96  # longest run it writes instead
SCAN = 256  # draft tokens of a proposal searched for runs to replace


@dataclass(frozen=True)
class Replayed:
    """A proposal with learned replacements applied."""

    tokens: list[int]
    # consumed[i]: draft tokens the first i proposal tokens stand for (len(tokens) + 1 entries)
    consumed: list[int]
    replayed: list[bool]  # per token: written by a replacement, not copied from the draft
    sources: list[tuple[int, ...] | None]  # per token: the replaced run that wrote it


class HunkReplay:
    """The replacements learned so far, the latest one for each replaced run."""

    def __init__(self) -> None:
        self._by_first: dict[int, dict[tuple[int, ...], tuple[int, ...]]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def learn(self, written: list[int], replaced: list[int]) -> None:
        """The output wrote `written` where the draft had `replaced` (both start at a place
        where they were aligned and end where they are again); keep the changed middle."""
        head = 0
        while head < min(len(written), len(replaced)) and written[head] == replaced[head]:
            head += 1
        tail = 0
        limit = min(len(written), len(replaced)) - head
        while tail < limit and written[-1 - tail] == replaced[-1 - tail]:
            tail += 1
        old = tuple(replaced[head : len(replaced) - tail])
        new = tuple(written[head : len(written) - tail])
        if 0 < len(old) <= MAX_OLD and len(new) <= MAX_NEW and old != new:
            self._by_first.setdefault(old[0], {})[old] = new

    def apply(self, draft: list[int]) -> Replayed:
        """`draft` (a proposal's draft tokens) with every learned run found in its first `SCAN`
        tokens replaced, left to right, the longest run first."""
        tokens: list[int] = []
        consumed = [0]
        replayed: list[bool] = []
        sources: list[tuple[int, ...] | None] = []
        index, scan = 0, min(len(draft), SCAN)
        while index < scan:
            match = self._match(draft, index)
            if match is None:
                tokens.append(draft[index])
                replayed.append(False)
                sources.append(None)
                index += 1
                consumed.append(index)
                continue
            old, new = match
            for k, token in enumerate(new):
                tokens.append(token)
                replayed.append(True)
                sources.append(old)
                consumed.append(index + len(old) if k == len(new) - 1 else index)
            if not new:  # a deletion: the next token stands for the deleted run too
                consumed[-1] = index + len(old)
            index += len(old)
        for token in draft[index:]:
            tokens.append(token)
            replayed.append(False)
            sources.append(None)
            index += 1
            consumed.append(index)
        return Replayed(tokens, consumed, replayed, sources)

    def forget(self, old: tuple[int, ...]) -> None:
        """Drop a replacement the output did not repeat."""
        runs = self._by_first.get(old[0], {})
        runs.pop(old, None)
        if not runs:
            self._by_first.pop(old[0], None)

    def copy(self) -> HunkReplay:
        other = HunkReplay()
        other._by_first = {first: dict(runs) for first, runs in self._by_first.items()}
        return other

    def _match(
        self, draft: list[int], index: int
    ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        runs = self._by_first.get(draft[index])
        if not runs:
            return None
        best = None
        for old, new in runs.items():
            if tuple(draft[index : index + len(old)]) == old and (
                best is None or len(old) > len(best[0])
            ):
                best = (old, new)
        return best
