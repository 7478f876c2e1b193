"""`diffcoder scope`: print the region an edit at a cursor or selection would rewrite.

Positions are 0-based lines and characters counted in code points; lines end at `\\n`, `\\r\\n` or
`\\r` as in LSP. The JSON fields are a contract other checks rely on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from diffcoder.editing.languages import detect_language
from diffcoder.editing.positions import LineIndex
from diffcoder.editing.regions import DEFAULT_BUDGET, Region, choose_region

_RANGE = re.compile(r"^(\d+):(\d+)-(\d+):(\d+)$")


class PositionError(ValueError):
    """A line or range that does not exist in the file."""


def _range(value: str) -> tuple[int, int, int, int]:
    match = _RANGE.match(value.strip())
    if match is None:
        message = f"expected LINE:COL-LINE:COL (0-based), e.g. 3:0-7:12, not {value!r}"
        raise argparse.ArgumentTypeError(message)
    first_line, first_col, last_line, last_col = (int(part) for part in match.groups())
    return first_line, first_col, last_line, last_col


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, not {number}")
    return number


def add_scope_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `scope` on the `diffcoder` sub-command parsers."""
    parser = subparsers.add_parser(
        "scope", help="show the region an edit would rewrite (tree-sitter scoping)"
    )
    parser.add_argument("--file", type=Path, required=True, help="the source file")
    parser.add_argument(
        "--language", help="LSP languageId or name (default: from the file extension)"
    )
    add_position_arguments(parser)
    parser.add_argument("--instruction", help="the edit instruction (it can widen the region)")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="region token budget")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _offset(lines: LineIndex, line: int, character: int) -> int:
    if line >= len(lines.starts):
        raise PositionError(f"line {line} is past the end of the file ({len(lines.starts)} lines)")
    # As in LSP, a character past the end of the line means the end of the line.
    return lines.position_to_offset(line, character, "utf-32")


def _position(lines: LineIndex, offset: int) -> dict[str, int]:
    position = lines.offset_to_position(offset, "utf-32")
    return {"line": position.line, "character": position.character}


def target_offsets(
    text: str, args: argparse.Namespace
) -> tuple[int | None, tuple[int, int] | None]:
    """The cursor or selection (`str` offsets) that `--line/--column` or `--range` name."""
    if args.column is not None and args.line is None:
        raise PositionError("--column needs --line")
    lines = LineIndex(text)
    if args.line is not None:
        return _offset(lines, args.line, args.column or 0), None
    if args.range is not None:
        first_line, first_col, last_line, last_col = args.range
        return None, (_offset(lines, first_line, first_col), _offset(lines, last_line, last_col))
    return None, None


def add_position_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--line", type=_non_negative, help="cursor line (0-based)")
    where.add_argument("--range", type=_range, help="selection LINE:COL-LINE:COL (0-based)")
    parser.add_argument("--column", type=_non_negative, help="cursor column (0-based, default 0)")


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


def run_scope(args: argparse.Namespace) -> int:
    """Print the region for `args` (from `add_scope_parser`); 2 on unreadable input."""
    try:
        text = read_source(args.file)
    except (OSError, UnicodeDecodeError) as error:
        reason = "it is not UTF-8" if isinstance(error, UnicodeDecodeError) else error.strerror
        print(f"diffcoder scope: cannot read {args.file}: {reason or error}", file=sys.stderr)
        return 2
    if args.budget < 1:
        print(f"diffcoder scope: --budget must be positive, not {args.budget}", file=sys.stderr)
        return 2
    language = detect_language(args.language, args.file)
    try:
        cursor, selection = target_offsets(text, args)
    except PositionError as error:
        print(f"diffcoder scope: {error}", file=sys.stderr)
        return 2
    region = choose_region(
        text,
        language,
        selection=selection,
        cursor=cursor,
        instruction=args.instruction,
        budget=args.budget,
    )
    payload = region_json(region, text, language)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        start, end = payload["start"], payload["end"]
        print(
            f"{region.kind} {start['line']}:{start['character']}-{end['line']}:{end['character']}"
        )
        print(region.reason)
    return 0
