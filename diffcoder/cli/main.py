"""The `diffcoder` command: the parser is built from each subcommand module's `register`, which
also sets the handler that `main` runs. Registration imports nothing heavy, so `--help` and
argument errors answer without loading torch; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
import sys

from diffcoder.cli import bench, demo, edit, generate, scope, tiny_checkpoint, train
from diffcoder.cli import eval as eval_command

# In the order `diffcoder --help` lists them.
COMMANDS = (generate, tiny_checkpoint, bench, scope, edit, eval_command, train, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffcoder", description="Code edits with a local block-diffusion model."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"diffcoder: error: {error}", file=sys.stderr)
        return 2
