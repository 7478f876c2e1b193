"""`diffcoder demo` (`make demo`): the language server end to end (`lsp_demo`), or with
`--pipeline` the edit pipeline in process (`pipeline_demo`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diffcoder.benchmarking.editor_sample import DEMO_MAX_NEW_TOKENS
from diffcoder.cli.options import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="the language server end to end (the demo model)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the demo model)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=DEMO_MAX_NEW_TOKENS)
    parser.add_argument("--file", type=Path, default=None, help="file to edit (examples/stats.py)")
    parser.add_argument("--pipeline", action="store_true", help="the in-process pipeline demo")
    parser.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """0 shown, 1 the demo failed, 2 a file or checkpoint it cannot use (before it starts)."""
    if args.file is not None:
        from diffcoder.cli.target import read_source

        read_source(args.file)  # what the server would refuse, refused before it starts
    if args.model is not None:
        from diffcoder.model.checkpoint_files import check_files

        check_files(Path(args.model).expanduser())
    if args.pipeline:
        from diffcoder.cli.pipeline_demo import run_pipeline_demo

        return run_pipeline_demo(model=args.model, max_new_tokens=args.max_new_tokens)
    from diffcoder.cli.lsp_demo import run_lsp_demo

    return run_lsp_demo(model=args.model, max_new_tokens=args.max_new_tokens, file=args.file)
