"""Line-based scopes for text without a usable parse (unknown language, mostly-ERROR tree):
the indented block around a row, and the widest window of whole lines within a token budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from diffcoder.editing.indentation import indent_width

_DEFINITION_LINE = re.compile(
    r"\s*(?:(?:export|default|pub(?:\([^)]*\))?|public|private|protected|internal|static|final"
    r"|abstract|async|override|virtual|inline|unsafe)\s+)*"
    r"(?:def|fn|func|function|fun|sub|proc|class|struct|impl|trait|interface|enum|module|object)\b"
)
# A line at the header's indentation that still belongs to its block (brace and `end` languages).
_CLOSERS = ("}", ")", "]", "end")


def indent_block(lines: list[str], row: int, last_row: int) -> tuple[int, int] | None:
    """Rows of the block around `row`: climb to a definition-like or unindented header, then
    take the lines indented under it; a lone top-level line gives its paragraph. None if blank.
    `lines` may carry their line ends."""
    blank = [not line.strip() for line in lines]
    rows = range(last_row + 1)
    anchor = next((r for r in [*rows[row:], *reversed(rows[:row])] if not blank[r]), None)
    if anchor is None:
        return None
    header = anchor
    while indent_width(lines[header]) > 0 and not _DEFINITION_LINE.match(lines[header]):
        level = indent_width(lines[header])
        above = (
            r for r in range(header - 1, -1, -1) if not blank[r] and indent_width(lines[r]) < level
        )
        parent = next(above, None)
        if parent is None:
            break
        header = parent
    level = indent_width(lines[header])
    last = header
    for r in range(header + 1, last_row + 1):
        if blank[r]:
            continue
        if indent_width(lines[r]) > level:
            last = r
            continue
        if indent_width(lines[r]) == level and lines[r].strip().startswith(_CLOSERS):
            last = r
        break
    first = header
    if last == header:
        while first > 0 and not blank[first - 1]:
            first -= 1
        while last < last_row and not blank[last + 1]:
            last += 1
    return first, last


def line_window(
    bounds: tuple[int, int], anchor: int, cost: Callable[[int, int], int], budget: int
) -> tuple[int, int]:
    """The most whole lines around `anchor`, inside rows `bounds`, whose token count fits;
    `cost(first, last)` counts rows first..last."""
    low, high = bounds
    first = last = min(max(anchor, low), high)
    used = cost(first, first)
    open_below = open_above = True
    while open_below or open_above:
        open_below = open_below and last < high
        if open_below:
            price = cost(last + 1, last + 1)
            open_below = used + price <= budget
            if open_below:
                last, used = last + 1, used + price
        open_above = open_above and first > low
        if open_above:
            price = cost(first - 1, first - 1)
            open_above = used + price <= budget
            if open_above:
                first, used = first - 1, used + price
    # Per-line counts are only nearly additive; trim the far end until the real count fits.
    while first < last and cost(first, last) > budget:
        if last - anchor >= anchor - first:
            last -= 1
        else:
            first += 1
    return first, last
