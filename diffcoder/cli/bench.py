"""`diffcoder bench decode|draft|scope|lsp|demo-model|all`: benchmarks that print figures (and with
`--out` write a page and a plot). Each handler turns its flags into the benchmark's settings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from diffcoder.benchmarking.settings import (
    DecodeBenchSettings,
    DraftBenchSettings,
    LspBenchSettings,
)
from diffcoder.cli.options import positive_int
from diffcoder.editing.budgets import DEFAULT_REGION_TOKENS

_OUT_HELP = "write table + plot here"

# Benchmarks with a CLI module of their own: each has `register_bench(kinds)`, which adds its
# sub-command to `diffcoder bench` (imports of torch stay inside its handler).
BENCH_MODULES: tuple[str, ...] = (
    "diffcoder.cli.bench_edits",
    "diffcoder.cli.bench_server",
    "diffcoder.cli.bench_batch",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks that print figures")
    kinds = bench.add_subparsers(dest="bench", required=True)

    _add_decoding_bench(
        kinds, DecodeBenchSettings, "parity vs fast decoding, side by side", "tiny checkpoints only"
    )
    _add_decoding_bench(
        kinds,
        DraftBenchSettings,
        "draft-accelerated vs plain decoding",
        "a tiny checkpoint instead of ~30M",
    )

    scope = kinds.add_parser("scope", help="EditEval scoping figures")
    scope.add_argument("--data", type=Path, default=None, help="EditEval jsonl (default: shared)")
    scope.add_argument(
        "--budget", type=positive_int, default=DEFAULT_REGION_TOKENS, help="region token budget"
    )
    scope.add_argument("--json", action="store_true", help="print one JSON object")
    scope.set_defaults(run=run_scope)

    lsp = kinds.add_parser("lsp", help="language server request latency")
    defaults = LspBenchSettings()
    lsp.add_argument("--out", type=Path, default=defaults.out, help=_OUT_HELP)
    lsp.add_argument("--repeats", type=positive_int, default=defaults.repeats)
    lsp.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=defaults.max_new_tokens,
        help="edit and infill budget",
    )
    lsp.add_argument(
        "--file", type=Path, default=defaults.file, help="document (examples/stats.py)"
    )
    lsp.add_argument(
        "--threads", type=positive_int, default=defaults.threads, help="torch threads in the server"
    )
    lsp.set_defaults(run=run_lsp)

    demo = kinds.add_parser("demo-model", help="the demo model's examples, good and bad")
    demo.add_argument("--model", type=Path, default=None, help="default: the demo model")
    demo.add_argument("--untrained", type=Path, default=None, help="its untrained twin")
    demo.add_argument("--out", type=Path, default=None, help="write demo-model-examples.md")
    demo.set_defaults(run=run_demo_model)

    for name in BENCH_MODULES:
        importlib.import_module(name).register_bench(kinds)

    every = kinds.add_parser("all", help="every benchmark, into docs/benchmarks.md")
    every.add_argument("--out", type=Path, default=Path("docs"), help="where the pages go")
    every.add_argument("--quick", action="store_true", help="small settings (a smoke run)")
    every.set_defaults(run=run_all)


def _add_decoding_bench(kinds, settings_type, help: str, quick_help: str) -> None:
    """`bench decode` and `bench draft`: the same flags, each with its own defaults."""
    parser = kinds.add_parser(settings_type.name, help=help)
    defaults = settings_type()
    parser.add_argument("--out", type=Path, default=defaults.out, help=_OUT_HELP)
    parser.add_argument("--max-new-tokens", type=positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--repeats", type=positive_int, default=defaults.repeats)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.set_defaults(run=run_decoding_bench, settings_type=settings_type)


def run_decoding_bench(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.decode import run_decode_benchmark
    from diffcoder.benchmarking.draft import run_draft_benchmark

    settings = args.settings_type(
        out=args.out, max_new_tokens=args.max_new_tokens, repeats=args.repeats, quick=args.quick
    )
    run = run_draft_benchmark if isinstance(settings, DraftBenchSettings) else run_decode_benchmark
    return run(settings)


def run_scope(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.scope_eval import evaluate_scoping, summary_lines

    try:
        result = evaluate_scoping(args.data, budget=args.budget)
    except (OSError, ValueError) as error:
        print(f"diffcoder bench scope: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print("\n".join(summary_lines(result)))
    return 0


def run_lsp(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.lsp_latency import run_lsp_latency
    from diffcoder.cli.target import read_source

    read_source(args.file)  # a file the server refuses would fail every request

    settings = LspBenchSettings(
        out=args.out,
        repeats=args.repeats,
        max_new_tokens=args.max_new_tokens,
        file=args.file,
        threads=args.threads,
    )
    return run_lsp_latency(settings)


def run_demo_model(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.demo_model import run_demo_model_report

    return run_demo_model_report(model=args.model, untrained=args.untrained, out=args.out)


def run_all(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.all import run_all_benchmarks

    return run_all_benchmarks(args.out, quick=args.quick)
