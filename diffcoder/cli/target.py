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
from diffcoder.editing.text_checks import text_problem

if TYPE_CHECKING:
    from diffcoder.editing.regions import Region

_RANGE = re.compile(r"^(\d+):(\d+)-(\d+):(\d+)$")
LineRange = tuple[int, int, int, int]  # first line, first column, last line, last column


class PositionError(ValueError):
    """A line or range that does not exist in the file."""


class SourceError(ValueError):
    """A file that cannot be read, or that DiffCoder does not edit (binary, too large)."""


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


def _offset(lines: LineIndex, line: int, character: int, what: str, name: str) -> int:
    count = lines.line_count
    if line >= count:
        raise PositionError(
            f"{what} {line} is past the end of {name}: it has {count} "
            f"line{'s' if count != 1 else ''}, 0 to {count - 1} (0-based)"
        )
    # As in LSP, a character past the end of the line means the end of the line.
    return lines.position_to_offset(line, character, "utf-32")


def _position(lines: LineIndex, offset: int) -> dict[str, int]:
    position = lines.offset_to_position(offset, "utf-32")
    return {"line": position.line, "character": position.character}


def target_offsets(
    text: str,
    *,
    line: int | None,
    column: int | None,
    span: LineRange | None,
    name: str = "the file",
) -> tuple[int | None, tuple[int, int] | None]:
    """The cursor or the selection (`str` offsets) that `--line/--column` or `--range` name."""
    if column is not None and line is None:
        raise PositionError("--column needs --line")
    lines = LineIndex(text)
    if line is not None:
        return _offset(lines, line, column or 0, "--line", name), None
    if span is not None:
        first_line, first_col, last_line, last_col = span
        first = _offset(lines, first_line, first_col, "--range's first line", name)
        return None, (first, _offset(lines, last_line, last_col, "--range's last line", name))
    return None, None


def read_source(path: Path) -> str:
    """The file's text, or a `SourceError` saying why it cannot be edited: unreadable, not
    UTF-8, binary or too large (the language server refuses the same documents)."""
    try:
        # Bytes, then decode: text mode would translate `\r\n` and shift every offset.
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise SourceError(f"cannot read {path}: {reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = text_problem(data.decode("latin-1"), str(path)) if b"\0" in data else None
        raise SourceError(
            problem
            or f"{path} is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "convert it to UTF-8"
        ) from None
    problem = text_problem(text, str(path))
    if problem is not None:
        raise SourceError(problem)
    return text


def language_for(
    language_id: str | None, path: Path, *, edits: bool = False
) -> tuple[str | None, str | None]:
    """The grammar `--language` (else the file's extension) names, and a note when `--language`
    names none: the command goes on, by the extension or by lines and indentation."""
    from diffcoder.editing.languages import detect_language, resolve_language, supported_languages

    language = detect_language(language_id, path)
    if not language_id or resolve_language(language_id) is not None:
        return language, None
    supported = ", ".join(supported_languages())
    if language is not None:
        fallback = f"using {language}, from the extension of {path.name}"
    else:
        fallback = "the region follows lines and indentation"
        fallback += ", and the answer's syntax is not checked" if edits else ""
    note = f"--language {language_id!r} has no grammar here (supported: {supported}); {fallback}"
    return language, note


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
