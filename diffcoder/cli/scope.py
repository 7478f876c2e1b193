"""`diffcoder scope`: print the region an edit at a cursor or selection would rewrite.

The JSON fields are a contract other checks rely on (`target.region_json` builds them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diffcoder.cli.options import positive_int
from diffcoder.cli.target import (
    PositionError,
    SourceError,
    add_position_arguments,
    language_for,
    read_source,
    region_json,
    target_offsets,
)
from diffcoder.editing.budgets import DEFAULT_REGION_TOKENS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scope", help="show the region an edit would rewrite (tree-sitter scoping)"
    )
    parser.add_argument("--file", type=Path, required=True, help="the source file")
    parser.add_argument(
        "--language", help="LSP languageId or name (default: from the file extension)"
    )
    add_position_arguments(parser)
    parser.add_argument("--instruction", help="the edit instruction (it can widen the region)")
    parser.add_argument(
        "--budget", type=positive_int, default=DEFAULT_REGION_TOKENS, help="region token budget"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run_scope)


def run_scope(args: argparse.Namespace) -> int:
    """Print the region the flags name; 2 on bad input (file, position, budget)."""
    from diffcoder.editing.regions import choose_region

    try:
        text = read_source(args.file)
        cursor, selection = target_offsets(
            text, line=args.line, column=args.column, span=args.range, name=str(args.file)
        )
    except (SourceError, PositionError) as error:
        print(f"diffcoder scope: {error}", file=sys.stderr)
        return 2
    language, note = language_for(args.language, args.file)
    if note is not None:
        print(f"diffcoder scope: note: {note}", file=sys.stderr)
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
