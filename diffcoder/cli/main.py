"""The `diffcoder` command: the parser is built from each subcommand module's `register`, which
also sets the handler that `main` runs. Registration imports nothing heavy, so `--help` and
argument errors answer without loading torch; each handler imports what it needs.

Exit codes (the README's table): 0 done; 1 refused or failed (a refused or cancelled answer,
nothing written, Ctrl-C); 2 bad input or environment (arguments, files, checkpoints). A handler
returns its own code; `main` turns the errors that mean bad input into one line and 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from diffcoder.cli import bench, demo, edit, generate, scope, serve, tiny_checkpoint, train
from diffcoder.cli import eval as eval_command

# In the order `diffcoder --help` lists them.
COMMANDS = (generate, tiny_checkpoint, bench, scope, edit, eval_command, train, demo, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffcoder", description="Code edits with a local block-diffusion model."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def describe(error: BaseException) -> str:
    """One line for an error that means bad input: an OSError names its file and reason."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    # Checkpoints are directories on this machine: a mistyped --model is never looked up on
    # the Hugging Face Hub (minutes of retries offline).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"diffcoder: error: {describe(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffcoder: interrupted", file=sys.stderr)
        return 1
