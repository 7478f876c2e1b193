"""`diffcoder bench edits`: drafts on real before/after pairs, decoded by an oracle model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffcoder.benchmarking.edit_settings import PROFILES, SCOPES, EditsBenchSettings
from diffcoder.cli.options import positive_int

FORMATS = ("canitedit", "editeval")  # the loaders of `diffcoder eval edit`


def register_bench(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "edits",
        help="draft vs plain decoding on real edit pairs, with an oracle model",
        description=(
            "Forwards per output token with and without the region as a draft, on the "
            "before/after pairs of an edit data set, decoded by an oracle model (it predicts the "
            "gold answer; it measures decoding, not model quality)."
        ),
    )
    parser.add_argument(
        "--dataset", type=Path, default=None, help="edit pairs (default: the shared EditEval set)"
    )
    parser.add_argument("--format", default="editeval", choices=FORMATS)
    parser.add_argument(
        "--profile",
        action="append",
        choices=(*PROFILES, "all"),
        help="the oracle's confidence profile (repeatable; default: all)",
    )
    parser.add_argument("--limit", type=positive_int, default=None, help="the first N pairs")
    parser.add_argument("--scope", default="file", choices=SCOPES, help="as `eval edit --scope`")
    parser.add_argument("--seed", type=int, default=0, help="the noisy profile's seed")
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="a tokenizer.json (default: the shared real)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the page and plot here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run_bench_edits)


def run_bench_edits(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.edits import run_edits_benchmark

    chosen = args.profile or ["all"]
    profiles = PROFILES if "all" in chosen else tuple(dict.fromkeys(chosen))
    try:
        settings = EditsBenchSettings(
            out=args.out,
            dataset=args.dataset,
            format=args.format,
            profiles=profiles,
            limit=args.limit,
            scope=args.scope,
            seed=args.seed,
            tokenizer=args.tokenizer,
        )
    except ValueError as error:
        print(f"diffcoder bench edits: {error}", file=sys.stderr)
        return 2
    status = run_edits_benchmark(settings, as_json=args.json)
    if status == 0 and args.out is not None:
        from diffcoder.benchmarking.all import write_index

        write_index(args.out)  # this benchmark's section of benchmarks.md
    return status
