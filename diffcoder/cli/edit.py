"""`diffcoder edit`: one instruction edit of a file from the command line, shown as a diff.

The same pipeline the language server runs: region, prompt, decoding with the region as draft,
output handling, syntax gate, minimal replacements.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from diffcoder.cli.options import add_load_options, add_threshold_option, backend_from_args
from diffcoder.cli.target import (
    PositionError,
    add_position_arguments,
    read_source,
    region_json,
    target_offsets,
)

# The figures the human-readable verdict line shows (`--json` carries all of `stats()`).
SHOWN_STATS = (
    "finish_reason",
    "nfe",
    "generated_tokens",
    "draft_accepted_tokens",
    "decode_seconds",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("edit", help="edit a file by instruction and print the diff")
    parser.add_argument(
        "--model", default=None, help="checkpoint directory (default: the embedded demo model)"
    )
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--instruction", required=True)
    parser.add_argument("--language", help="LSP languageId (default: from the file extension)")
    add_position_arguments(parser)
    add_threshold_option(parser, "confidence threshold or 'none'")
    parser.add_argument("--no-draft", action="store_true", help="do not verify the region as draft")
    parser.add_argument(
        "--allow-syntax-errors", action="store_true", help="keep output that adds syntax errors"
    )
    parser.add_argument("--write", action="store_true", help="write the edited file back")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_load_options(parser)
    parser.set_defaults(run=run_edit_command)


def run_edit_command(args: argparse.Namespace) -> int:
    from diffcoder.editing.edit_pipeline import EditRequest, run_edit

    try:
        text = read_source(args.file)
        cursor, selection = target_offsets(
            text, line=args.line, column=args.column, span=args.range
        )
    except (OSError, UnicodeDecodeError, PositionError) as error:
        print(f"diffcoder edit: cannot use {args.file}: {error}", file=sys.stderr)
        return 2
    backend = backend_from_args(args)
    request = EditRequest(
        text=text,
        instruction=args.instruction,
        language=args.language,
        path=str(args.file),
        selection=selection,
        cursor=cursor,
        reject_syntax_errors=not args.allow_syntax_errors,
        use_draft=not args.no_draft,
        threshold=args.threshold,
    )
    result = run_edit(backend, request)
    stats = result.generation.stats()
    if args.json:
        payload = {
            "region": region_json(result.region, text, request.language),
            "rejected": None if result.proposed else result.detail,
            "replacements": [r._asdict() for r in result.replacements],
            "new_text": result.new_text,
            **stats,
        }
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(f"region: {result.region.kind} — {result.region.reason}", file=sys.stderr)
        diff = difflib.unified_diff(
            text.splitlines(keepends=True),
            result.new_text.splitlines(keepends=True),
            f"a/{args.file.name}",
            f"b/{args.file.name}",
        )
        sys.stdout.writelines(diff)
        verdict = "kept" if result.proposed else f"rejected: {result.detail}"
        shown = ", ".join(f"{key} {stats[key]}" for key in SHOWN_STATS)
        print(f"[{verdict}] {shown}", file=sys.stderr)
    if args.write and result.proposed and result.replacements:
        args.file.write_bytes(result.new_text.encode("utf-8"))
    return 0
