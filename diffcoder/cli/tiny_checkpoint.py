"""`diffcoder make-tiny-checkpoint`: write a random-weight checkpoint laid out like a real one
(tests and benchmarks use them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diffcoder.cli.options import positive_float, positive_int

# Flags left out of the command line are not passed on, so `make_tiny_checkpoint`'s signature
# holds the only copy of each default.
_KEYWORDS = (
    "vocab", "hidden", "layers", "heads", "kv_heads", "intermediate", "head_scale", "shards",
    "seed",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-tiny-checkpoint",
        help="write a random-weight test checkpoint",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--vocab", choices=["small", "real"])
    parser.add_argument("--hidden", type=positive_int)
    parser.add_argument("--layers", type=positive_int)
    parser.add_argument("--heads", type=positive_int)
    parser.add_argument("--kv-heads", type=positive_int)
    parser.add_argument("--intermediate", type=positive_int)
    parser.add_argument("--head-scale", type=positive_float, help="sharpen the output head")
    parser.add_argument("--shards", type=positive_int)
    parser.add_argument("--seed", type=int)
    parser.set_defaults(run=run_make_tiny)


def run_make_tiny(args: argparse.Namespace) -> int:
    from diffcoder.cli.prechecks import check_output

    check_output(args.out, directory=True, flag="the output")
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint  # torch: after the check

    given = {name: getattr(args, name) for name in _KEYWORDS if hasattr(args, name)}
    print(make_tiny_checkpoint(args.out, **given))
    return 0
