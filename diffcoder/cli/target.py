"""Where `diffcoder edit` and `diffcoder scope` act: the `--line/--column` or `--range` flags, the
cursor or selection they name in a file, and the region as the JSON contract prints it.

Positions are 0-based lines and characters counted in code points; lines end at `\\n`, `\\r\\n` or
`\\r` as in LSP.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from diffcoder.cli.options import non_negative_int
from diffcoder.editing.positions import LineIndex

if TYPE_CHECKING:
    from diffcoder.editing.regions import Region

_RANGE = re.compile(r"^(\d+):(\d+)-(\d+):(\d+)$")
LineRange = tuple[int, int, int, int]  # first line, first column, last line, last column


class PositionError(ValueError):
    """A line or range that does not exist in the file."""


def line_range(value: str) -> LineRange:
    match = _RANGE.match(value.strip())
    if match is None:
        message = f"expected LINE:COL-LINE:COL (0-based), e.g. 3:0-7:12, not {value!r}"
        raise argparse.ArgumentTypeError(message)
    first_line, first_col, last_line, last_col = (int(part) for part in match.groups())
    return first_line, first_col, last_line, last_col


def add_position_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--line", type=non_negative_int, help="cursor line (0-based)")
    where.add_argument("--range", type=line_range, help="selection LINE:COL-LINE:COL (0-based)")
    parser.add_argument(
        "--column", type=non_negative_int, help="cursor column (0-based, default 0)"
    )


def _offset(lines: LineIndex, line: int, character: int) -> int:
    if line >= len(lines.starts):
        raise PositionError(f"line {line} is past the end of the file ({len(lines.starts)} lines)")
    # As in LSP, a character past the end of the line means the end of the line.
    return lines.position_to_offset(line, character, "utf-32")


def _position(lines: LineIndex, offset: int) -> dict[str, int]:
    position = lines.offset_to_position(offset, "utf-32")
    return {"line": position.line, "character": position.character}


def target_offsets(
    text: str, *, line: int | None, column: int | None, span: LineRange | None
) -> tuple[int | None, tuple[int, int] | None]:
    """The cursor or the selection (`str` offsets) that `--line/--column` or `--range` name."""
    if column is not None and line is None:
        raise PositionError("--column needs --line")
    lines = LineIndex(text)
    if line is not None:
        return _offset(lines, line, column or 0), None
    if span is not None:
        first_line, first_col, last_line, last_col = span
        return None, (_offset(lines, first_line, first_col), _offset(lines, last_line, last_col))
    return None, None


def read_source(path: Path) -> str:
    # Bytes, then decode: text mode would translate `\r\n` and shift every offset.
    return path.read_bytes().decode("utf-8")


def region_json(region: Region, text: str, language: str | None) -> dict[str, object]:
    lines = LineIndex(text)
    return {
        "start_offset": region.start,
        "end_offset": region.end,
        "start": _position(lines, region.start),
        "end": _position(lines, region.end),
        "kind": region.kind,
        "reason": region.reason,
        "name": region.name,
        "language": language,
    }
