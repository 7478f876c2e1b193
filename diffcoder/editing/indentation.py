"""Indentation of source lines, by one rule for the whole editing layer: spaces and tabs.

Every supported language indents with spaces and tabs. Other whitespace at a line start (a form
feed page break, a no-break space) is content: counting it as indentation would let re-indenting
or dedenting move it, and would make the prompt's context selection and the post-processing
disagree about a line's depth.
"""

from __future__ import annotations

from collections.abc import Iterable

TAB_WIDTH = 4  # how far a tab indents when depths are compared in columns


def indentation(line: str) -> str:
    """The spaces and tabs that start `line`."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str) -> int:
    """The depth of `line` in columns, a tab counting TAB_WIDTH."""
    return len(indentation(line).expandtabs(TAB_WIDTH))


def common_indentation(lines: Iterable[str]) -> str:
    """The longest indentation all non-blank `lines` start with ("" when there are none)."""
    indents = [indentation(line) for line in lines if line.strip()]
    if not indents:
        return ""
    common = indents[0]
    for indent in indents[1:]:
        while not indent.startswith(common):
            common = common[:-1]
    return common
