"""Minimal replacements between an old and a new text, in Python `str` offsets of the old text.

Line-level opcodes first (difflib), then character-level inside replaced hunks, so an edit touches
only what changed; `apply_replacements` is the exact inverse used by tests and the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import NamedTuple

from diffcoder.editing.positions import LineIndex

# A \r\n pair is one unit so no replacement starts or ends between \r and \n: LSP clients treat
# the pair as one line end, and a position between them does not exist.
_UNIT = re.compile(r"\r\n|.", re.DOTALL)
# Character-level diffing is quadratic in the worst case; past this product of unit counts a
# replaced hunk is only trimmed of its common prefix and suffix.
MAX_CHAR_DIFF_CELLS = 4_000_000
# Unchanged runs shorter than this between two character edits are folded into one replacement:
# `foo(a, b)` -> `bar(x, y)` becomes one edit, not confetti that scatters the editor's cursors.
MIN_KEPT_RUN = 3


class Replacement(NamedTuple):
    """Replace `old[start:end]` with `text`."""

    start: int
    end: int
    text: str


def split_lines(text: str) -> list[str]:
    """Lines with their line ends (\\n, \\r\\n or \\r); joining them gives `text` back. Unlike
    `LineIndex.lines` there is no empty line after a final line end."""
    lines = LineIndex(text).lines
    return lines if lines[-1] else lines[:-1]


def _offsets(pieces: Sequence[str]) -> list[int]:
    offsets = [0]
    for piece in pieces:
        offsets.append(offsets[-1] + len(piece))
    return offsets


def _common_affixes(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and suffix (not overlapping, never splitting \\r\\n)."""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    if head and old[head - 1] == "\r" and old[head : head + 1] == "\n":
        head -= 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    if tail and old[len(old) - tail] == "\n" and old[len(old) - tail - 1 : len(old) - tail] == "\r":
        tail -= 1
    return head, tail


def _char_replacements(old: str, new: str, base: int) -> list[Replacement]:
    old_units, new_units = _UNIT.findall(old), _UNIT.findall(new)
    if len(old_units) * len(new_units) > MAX_CHAR_DIFF_CELLS:
        head, tail = _common_affixes(old, new)
        return [Replacement(base + head, base + len(old) - tail, new[head : len(new) - tail])]
    old_at, new_at = _offsets(old_units), _offsets(new_units)
    matcher = SequenceMatcher(None, old_units, new_units, autojunk=False)
    found = [
        Replacement(base + old_at[i1], base + old_at[i2], new[new_at[j1] : new_at[j2]])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    return _fold_short_gaps(found, old, base)


def _fold_short_gaps(reps: list[Replacement], old: str, base: int) -> list[Replacement]:
    folded: list[Replacement] = []
    for rep in reps:
        if folded and rep.start - folded[-1].end < MIN_KEPT_RUN:
            prev = folded[-1]
            kept = old[prev.end - base : rep.start - base]
            folded[-1] = Replacement(prev.start, rep.end, prev.text + kept + rep.text)
        else:
            folded.append(rep)
    return folded


def minimal_replacements(old: str, new: str) -> list[Replacement]:
    """Sorted, non-overlapping replacements that turn `old` into `new` (empty when equal)."""
    if old == new:
        return []
    old_lines, new_lines = split_lines(old), split_lines(new)
    old_at, new_at = _offsets(old_lines), _offsets(new_lines)
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    result: list[Replacement] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_at[i1], old_at[i2]
        text = new[new_at[j1] : new_at[j2]]
        if tag == "replace":
            result.extend(_char_replacements(old[start:end], text, start))
        else:
            result.append(Replacement(start, end, text))
    return result


def apply_replacements(old: str, replacements: Iterable[Replacement]) -> str:
    """Apply sorted, non-overlapping replacements given in offsets of `old`."""
    pieces: list[str] = []
    cursor = 0
    for start, end, text in replacements:
        if not cursor <= start <= end <= len(old):
            raise ValueError(
                f"replacement ({start}, {end}) is out of order, overlapping or outside the text "
                f"(length {len(old)}); replacements must be sorted by offset and not overlap"
            )
        pieces += [old[cursor:start], text]
        cursor = end
    pieces.append(old[cursor:])
    return "".join(pieces)


def shift_replacements(replacements: Iterable[Replacement], delta: int) -> list[Replacement]:
    """Move replacements computed over a region into offsets of the whole document."""
    return [Replacement(r.start + delta, r.end + delta, r.text) for r in replacements]
