"""`diffcoder demo` (`make demo`): the language server end to end (`lsp_demo`), or with
`--pipeline` the edit pipeline in process (`pipeline_demo`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diffcoder.benchmarking.editor_sample import DEMO_MAX_NEW_TOKENS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="the language server end to end (the demo model)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the demo model)")
    parser.add_argument("--max-new-tokens", type=int, default=DEMO_MAX_NEW_TOKENS)
    parser.add_argument("--file", type=Path, default=None, help="file to edit (examples/stats.py)")
    parser.add_argument("--pipeline", action="store_true", help="the in-process pipeline demo")
    parser.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.pipeline:
        from diffcoder.cli.pipeline_demo import run_pipeline_demo

        return run_pipeline_demo(model=args.model, max_new_tokens=args.max_new_tokens)
    from diffcoder.cli.lsp_demo import run_lsp_demo

    return run_lsp_demo(model=args.model, max_new_tokens=args.max_new_tokens, file=args.file)
