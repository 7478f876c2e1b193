"""`diffcoder edit`: one instruction edit of a file from the command line, shown as a diff.

The same pipeline the language server runs: region, prompt, decoding with the region as draft,
output handling, syntax gate, minimal replacements. Everything that needs no model (arguments,
the file, the position, the instruction, whether the prompt fits) is checked before it loads.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from diffcoder.cli.options import add_load_options, add_threshold_option, backend_from_args
from diffcoder.cli.target import (
    add_position_arguments,
    language_for,
    read_source,
    region_json,
    target_offsets,
)

if TYPE_CHECKING:
    from diffcoder.editing.edit_pipeline import EditRequest, EditResult

# The figures the human-readable verdict line shows (`--json` carries all of `stats()`):
# forwards per token (autoregressive decoding needs 1.0) and the share of the answer the draft,
# the region itself, supplied say what verifying the draft saved.
SHOWN_STATS = (
    "finish_reason",
    "nfe",
    "generated_tokens",
    "draft_accepted_tokens",
    "forwards_per_token",
    "draft_accepted_share",
    "decode_seconds",
)
EXIT_CODES = (
    "exit codes: 0 the edit was shown (and written with --write; also when the model changed "
    "nothing); 1 the answer was refused (syntax errors, did not end), cancelled (Ctrl-C), or "
    "could not be written; 2 bad input (arguments, file, position, instruction too long, "
    "checkpoint)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edit", help="edit a file by instruction and print the diff", epilog=EXIT_CODES
    )
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


def _fail(message: str, code: int) -> int:
    print(f"diffcoder edit: {message}", file=sys.stderr)
    return code


def _request(args: argparse.Namespace) -> tuple[EditRequest, str | None, str | None]:
    """The request the flags describe, checked without a model (ValueError/OSError say why not),
    the grammar's language, and a note about `--language`."""
    from diffcoder.cli.prechecks import check_writable
    from diffcoder.editing.budgets import check_instruction
    from diffcoder.editing.edit_pipeline import EditRequest

    check_instruction(args.instruction)
    text = read_source(args.file)
    cursor, selection = target_offsets(
        text, line=args.line, column=args.column, span=args.range, name=str(args.file)
    )
    if args.write:
        check_writable(args.file)
    language, note = language_for(args.language, args.file, edits=True)
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
    return request, language, note


def run_edit_command(args: argparse.Namespace) -> int:
    """0 shown (or written), 1 refused/cancelled/not written, 2 bad input (before any model)."""
    from diffcoder.cli.interrupt import cancel_on_interrupt
    from diffcoder.cli.prechecks import checkpoint_tokenizer, write_back
    from diffcoder.editing.budgets import PromptTooLongError
    from diffcoder.editing.edit_pipeline import SYNTAX_REFUSAL, prepare_edit, run_edit
    from diffcoder.model.embedded import model_or_demo

    try:
        request, language, note = _request(args)
    except (ValueError, OSError) as error:
        return _fail(str(error), 2)
    if note is not None:
        print(f"diffcoder edit: note: {note}", file=sys.stderr)
    args.model = model_or_demo(args.model, lambda line: print(line, file=sys.stderr))
    try:
        prepare_edit(checkpoint_tokenizer(args.model), request)  # exact, before the weights
        backend = backend_from_args(args)
        with cancel_on_interrupt() as cancel:
            result = run_edit(backend, request, cancel=cancel)
    except PromptTooLongError as error:
        return _fail(str(error), 2)
    written = False
    if result.proposed and args.write and result.replacements:
        why_not = write_back(args.file, request.text, result.new_text)
        if why_not is not None:
            _report(args, request, result, language, written=False)
            return _fail(why_not, 1)
        written = True
    _report(args, request, result, language, written=written)
    if result.outcome == "cancelled":
        return _fail("cancelled; nothing written", 1)
    if not result.proposed:
        detail = result.detail or ""
        if detail.startswith(SYNTAX_REFUSAL):
            detail = f"{SYNTAX_REFUSAL} (--allow-syntax-errors keeps such an answer)"
        return _fail(f"the answer was refused: {detail}; nothing written", 1)
    return 0


def _report(
    args: argparse.Namespace,
    request: EditRequest,
    result: EditResult,
    language: str | None,
    *,
    written: bool,
) -> None:
    text = request.text
    stats = result.generation.stats()
    if args.json:
        payload = {
            "region": region_json(result.region, text, language),
            "outcome": result.outcome,
            "rejected": None if result.proposed else result.detail,
            "written": written,
            "replacements": [r._asdict() for r in result.replacements],
            "new_text": result.new_text,
            **stats,
        }
        print(json.dumps(payload, ensure_ascii=False))
        return
    print(f"region: {result.region.kind} — {result.region.reason}", file=sys.stderr)
    diff = difflib.unified_diff(
        text.splitlines(keepends=True),
        result.new_text.splitlines(keepends=True),
        f"a/{args.file.name}",
        f"b/{args.file.name}",
    )
    sys.stdout.writelines(diff)
    if not result.proposed:
        verdict = result.outcome
    elif not result.replacements:
        verdict = "kept: no change"
    else:
        verdict = "kept, written" if written else "kept"
    shown = ", ".join(f"{key} {stats[key]}" for key in SHOWN_STATS)
    print(f"[{verdict}] {shown}", file=sys.stderr)
