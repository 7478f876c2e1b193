"""`diffcoder bench batch`: continuous batching against decoding one request after another."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffcoder.benchmarking.batch_settings import CONCURRENCY, BatchBenchSettings
from diffcoder.cli.options import positive_int, token_ids
from diffcoder.model.types import DTYPE_CHOICES


def register_bench(kinds: argparse._SubParsersAction) -> None:
    defaults = BatchBenchSettings()
    parser = kinds.add_parser(
        "batch",
        help="continuous batching vs one request after another",
        description=(
            "For each number of concurrent requests (mixed prompt lengths and budgets): "
            "forwards, forwards per token, tokens/s and p50/p99 request latency, batched and "
            "one after another, and whether every request's tokens are identical."
        ),
    )
    parser.add_argument(
        "--concurrency",
        type=token_ids,
        default=list(CONCURRENCY),
        help="request counts, comma-separated (default 1,2,4,8,16)",
    )
    parser.add_argument("--max-new-tokens", type=positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--model", type=Path, default=None, help="default: the demo model")
    parser.add_argument("--dtype", default=defaults.dtype, choices=DTYPE_CHOICES)
    parser.add_argument("--device", default=defaults.device, help="cpu | cuda | cuda:N")
    parser.add_argument("--quick", action="store_true", help="small budgets (a smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="write the page and plot here")
    parser.set_defaults(run=run_bench_batch)


def run_bench_batch(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.batch import run_batch_benchmark

    settings = BatchBenchSettings(
        out=args.out,
        concurrency=tuple(args.concurrency),
        max_new_tokens=args.max_new_tokens,
        model=args.model,
        dtype=args.dtype,
        device=args.device,
        quick=args.quick,
    )
    status = run_batch_benchmark(settings)
    if status == 0 and settings.out is not None:
        from diffcoder.benchmarking.all import write_index

        write_index(settings.out)  # this benchmark's section of benchmarks.md
    return status
