"""The file around an edit's region, as the edit prompt shows it: which lines to keep within a token
allowance (the blocks that frame the region, imports, the nearest lines, other signatures) and how
the left-out runs are shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import groupby

from diffcoder.editing.indentation import indent_width, indentation
from diffcoder.editing.output import REGION_MARKER, to_lf

# Indices of the kept lines above and below the region.
Kept = tuple[AbstractSet[int], AbstractSet[int]]

# Lines worth keeping when the file is trimmed: imports, and signatures of definitions.
_IMPORT = re.compile(
    r"(import\b|from\s+\S+\s+import\b|#\s*include\b|using\s|use\s|package\s|extern\s+crate\b"
    r"|(const|let|var)\s+[\w{}\s,]+=\s*require\()"
)
_SIGNATURE = re.compile(
    r"\s*(@\w|(export\s+)?(default\s+)?(pub(\([^)]*\))?\s+)?(async\s+)?(static\s+)?"
    r"(def|class|function|func|fn|impl|struct|enum|interface|trait|type|module|namespace|mod)\b)"
    # C/Java-style `type name(args) {`: words before the name, so a plain call does not match.
    r"|\s*(?!(if|for|while|switch|return|else|catch|do|case|new|throw|await)\b)[A-Za-z_]"
    r"[\w:<>\[\],*&~]*(\s+[\w:<>\[\],*&~]+)*\s+[*&]*\w+\s*\([^;]*$"
)


@dataclass(frozen=True)
class RegionLayout:
    """The file split around a region, newlines shown as LF: whole lines above and below it, and
    the code that shares the region's first and last line."""

    above: tuple[str, ...]
    head: str  # code before the region on its first line
    region: str
    tail: str  # code after the region on its last line
    below: tuple[str, ...]
    base: int  # columns of the region's shallowest line: lines framing it are shallower
    indent: str  # the region's first line's indentation, for the marker

    @classmethod
    def around(cls, file_text: str, start: int, end: int) -> RegionLayout:
        before, region, after = map(
            to_lf, (file_text[:start], file_text[start:end], file_text[end:])
        )
        *above, head = before.split("\n")
        after_lines = after.split("\n")
        starts_line = not (before + region) or (before + region).endswith("\n")
        tail, below = ("", after_lines) if starts_line else (after_lines[0], after_lines[1:])
        if below and below[-1] == "":
            below.pop()  # the file's final newline, not a line
        region_lines = [line for line in (head + region).split("\n") if line.strip()]
        return cls(
            above=tuple(above),
            head=head,
            region=region,
            tail=tail,
            below=tuple(below),
            base=min((indent_width(line) for line in region_lines), default=0),
            indent=indentation(region_lines[0]) if region_lines and not head else "",
        )

    @property
    def whole_file(self) -> bool:
        return not (self.above or self.below or self.head or self.tail)

    def marker(self, comment: tuple[str, str]) -> str:
        """The line standing for the region in the file context: a comment on its own line, or
        the region's line with the marker in the region's place when it shares its line."""
        if self.head or self.tail:
            return f"{self.head}{REGION_MARKER}{self.tail}"
        return f"{self.indent}{comment[0]}{REGION_MARKER}{comment[1]}"

    def headers(self) -> tuple[str, ...]:
        """The lines above that open the blocks enclosing the region, top first."""
        return tuple(self.above[i] for _, i in sorted(set(_framing(self.above, (), self.base))))


def _framing(before: tuple[str, ...], after: tuple[str, ...], base: int) -> list[tuple[int, int]]:
    """(side, index) of the lines that frame the region: the headers that enclose it (with a
    multi-line signature's opening line and decorators) and the closers below it. Side 0 is
    above the region, side 1 below."""
    picks: list[tuple[int, int]] = []
    level, i = base, len(before) - 1
    while i >= 0 and level > 0:
        line = before[i]
        if line.strip() and indent_width(line) < level:
            level = indent_width(line)
            picks.append((0, i))
            if line.lstrip()[:1] in ")]}":
                while i > 0 and not (
                    before[i - 1].strip() and indent_width(before[i - 1]) == level
                ):
                    i -= 1
                    picks.append((0, i))
                i -= 1
                picks.append((0, max(i, 0)))
            while (
                i > 0
                and before[i - 1].lstrip().startswith("@")
                and indent_width(before[i - 1]) == level
            ):
                i -= 1
                picks.append((0, i))
        i -= 1
    level = base
    for index, line in enumerate(after):
        if line.strip() and indent_width(line) < level:
            level = indent_width(line)
            picks.append((1, index))
    return picks


def select_context(layout: RegionLayout, cost: Callable[[str], int], allowance: int) -> Kept:
    """The lines above/below the region to show within `allowance` tokens: framing lines first,
    imports (up to a quarter), the nearest lines (above weighted over below), then other
    signatures."""
    sides = (layout.above, layout.below)
    keep: tuple[set[int], set[int]] = (set(), set())
    spent = 0

    def take(side: int, index: int, limit: int = allowance) -> bool:
        nonlocal spent
        if index in keep[side]:
            return True
        price = cost(sides[side][index])
        if spent + price > limit:
            return False
        keep[side].add(index)
        spent += price
        return True

    for side, index in _framing(layout.above, layout.below, layout.base):
        take(side, index)
    imports_limit = spent + allowance // 4
    for index, line in enumerate(sides[0]):
        if _IMPORT.match(line):
            take(0, index, imports_limit)
    above, below = len(sides[0]) - 1, 0
    while above >= 0 or below < len(sides[1]):
        distance_above, distance_below = len(sides[0]) - above, 1.5 * (below + 1)
        if above >= 0 and (below >= len(sides[1]) or distance_above <= distance_below):
            above = above - 1 if take(0, above) else -1
        else:
            below = below + 1 if take(1, below) else len(sides[1])
    nearest = sorted(
        [(len(sides[0]) - i, 0, i) for i, line in enumerate(sides[0]) if _SIGNATURE.match(line)]
        + [(i + 1, 1, i) for i, line in enumerate(sides[1]) if _SIGNATURE.match(line)]
    )
    for _, side, index in nearest:
        take(side, index)
    return keep


def _elide(lines: tuple[str, ...], keep: AbstractSet[int], comment: tuple[str, str]) -> list[str]:
    """Kept lines in order; each run of left-out lines becomes one `...` comment line."""
    out: list[str] = []
    for kept, run in groupby(range(len(lines)), key=keep.__contains__):
        shown = [lines[i] for i in run if kept or lines[i].strip()]
        if kept:
            out += shown
        else:
            indent = min(map(indentation, shown), key=len, default="")
            out.append(f"{indent}{comment[0]}...{comment[1]}" if shown else "")
    return out


def render_context(layout: RegionLayout, keep: Kept, comment: tuple[str, str]) -> str:
    """The file as the prompt shows it: kept lines, elisions, and the marker for the region."""
    lines = _elide(layout.above, keep[0], comment) + [layout.marker(comment)]
    return "\n".join(lines + _elide(layout.below, keep[1], comment))
