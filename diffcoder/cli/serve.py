"""`diffcoder serve --model DIR`: the team server on Ray Serve (docs/server.md). Prints the URL and
what it loaded, serves until Ctrl-C or SIGTERM, then stops cleanly. Exit codes: 0 after a clean
stop, 2 for bad input (arguments, a token file, a busy port, a checkpoint that does not load).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from diffcoder.cli.options import positive_int
from diffcoder.model.types import DTYPE_CHOICES, QUANT_CHOICES


def _autoscale(value: str) -> tuple[int, int]:
    low, _, high = value.partition(":")
    if not (low.isdigit() and high.isdigit()) or not 1 <= int(low) <= int(high):
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX replicas with 1 <= MIN <= MAX (1:4), not {value!r}"
        )
    return int(low), int(high)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the model to a team over HTTP (Ray Serve)", description=__doc__
    )
    parser.add_argument("--model", default=None, help="checkpoint directory (default: demo model)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=positive_int, default=8000)
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--replicas", type=positive_int, default=None, help="model replicas (default: one per GPU)"
    )
    scale.add_argument(
        "--autoscale", type=_autoscale, default=None, metavar="MIN:MAX", help="replicas on demand"
    )
    parser.add_argument(
        "--max-batch", type=positive_int, default=8, help="requests one replica decodes at once"
    )
    parser.add_argument("--quant", default="auto", choices=QUANT_CHOICES)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (one GPU per replica)")
    parser.add_argument("--dtype", default=None, choices=DTYPE_CHOICES, help="compute dtype")
    parser.add_argument(
        "--address", default=None, help="join this Ray cluster (ray start --head prints it)"
    )
    parser.add_argument(
        "--token-file", default=None, help="bearer tokens, one per line (required off loopback)"
    )
    parser.add_argument(
        "--max-request-tokens",
        type=positive_int,
        default=8192,
        help="prompt + draft + new tokens of one request",
    )
    parser.add_argument(
        "--max-concurrent", type=positive_int, default=8, help="running requests per token"
    )
    parser.add_argument(
        "--num-cpus", type=positive_int, default=None, help="CPUs of the local Ray (default: all)"
    )
    parser.set_defaults(run=run_serve)


def settings_from_args(args: argparse.Namespace, note=print):
    """Everything checked that needs no Ray: the host rule, tokens, the checkpoint, the port."""
    from diffcoder.model.embedded import model_or_demo
    from diffcoder.serving.app import ServeSettings, port_problem
    from diffcoder.serving.auth import digest, loopback_problem, read_tokens
    from diffcoder.serving.requests import Limits

    problem = loopback_problem(args.host, args.token_file)
    if problem:
        raise ValueError(problem)
    digests = tuple(digest(t) for t in read_tokens(args.token_file)) if args.token_file else ()
    model = model_or_demo(args.model, note)
    if not args.address:  # on a cluster the proxy listens on the head node, not here
        problem = port_problem(args.host, args.port)
        if problem:
            raise ValueError(problem)
    return ServeSettings(
        model=str(model),
        host=args.host,
        port=args.port,
        replicas=args.replicas,
        autoscale=args.autoscale,
        max_batch=args.max_batch,
        device=args.device,
        quant=args.quant,
        dtype=args.dtype,
        address=args.address,
        token_digests=digests,
        limits=Limits(
            max_request_tokens=args.max_request_tokens, max_concurrent=args.max_concurrent
        ),
        num_cpus=args.num_cpus,
    )


def run_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from diffcoder.model.checkpoint_files import check_files, check_json_files

    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    settings = settings_from_args(args, note)
    if not settings.address:  # a mistyped path fails here, not in every replica
        check_files(Path(settings.model))
        check_json_files(Path(settings.model))
    from diffcoder.serving.app import replica_count, start, stop

    stopping = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    where = f"the Ray cluster at {settings.address}" if settings.address else "a local Ray"
    note(f"Starting {where}, loading {settings.model} …")
    try:
        try:
            info = start(settings)
        except RuntimeError as error:
            note(f"diffcoder serve: the model deployment failed: {error}")
            return 2
        signal.signal(signal.SIGTERM, on_sigterm)  # again: starting Ray installs its own
        auth = "bearer tokens required" if settings.token_digests else "loopback only, no tokens"
        print(f"DiffCoder team server at {settings.url} ({auth})", flush=True)
        print(f"model: {info['summary']}; {replica_count()} replica(s)", flush=True)
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        note("stopping …")
        return 0
    finally:
        stop(settings)
        signal.signal(signal.SIGTERM, previous)
        note("stopped")
