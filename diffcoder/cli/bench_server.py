"""`diffcoder bench server`: the team server's throughput and latency against concurrent clients
(docs/server-benchmark.md). Ray and torch are imported by the handler only."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffcoder.benchmarking.server import ServerBenchSettings
from diffcoder.cli.options import positive_int


def _counts(value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in value.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected client counts like 1,4,16, not {value!r}")
    return counts


def register_bench(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser("server", help="team server throughput and latency vs clients")
    defaults = ServerBenchSettings()
    parser.add_argument("--out", type=Path, default=None, help="write table + plot here")
    parser.add_argument("--clients", type=_counts, default=defaults.clients, help="e.g. 1,4,16")
    parser.add_argument("--rounds", type=positive_int, default=defaults.rounds)
    parser.add_argument("--max-new-tokens", type=positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--replicas", type=positive_int, default=defaults.replicas)
    parser.add_argument("--max-batch", type=positive_int, default=defaults.max_batch)
    parser.add_argument("--model", type=Path, default=None, help="default: the demo model")
    parser.add_argument("--quick", action="store_true", help="1 and 4 clients, 1 round")
    parser.set_defaults(run=run_server_bench)


def run_server_bench(args: argparse.Namespace) -> int:
    from diffcoder.benchmarking.all import write_index
    from diffcoder.benchmarking.server import run_server_benchmark

    settings = ServerBenchSettings(
        out=args.out,
        clients=(1, 4) if args.quick else args.clients,
        rounds=1 if args.quick else args.rounds,
        max_new_tokens=args.max_new_tokens,
        replicas=args.replicas,
        max_batch=args.max_batch,
        model=args.model,
        quick=args.quick,
    )
    status = run_server_benchmark(settings)
    if status == 0 and args.out is not None:
        write_index(args.out)
    return status
