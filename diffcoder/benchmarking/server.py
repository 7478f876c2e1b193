"""`diffcoder bench server`: the team server's throughput and latency against concurrent clients.

Starts the real server (a local Ray, Serve's proxy, the ingress and the model replicas) on
loopback, then for each client count runs that many clients at once, each sending `rounds`
requests through the language server's own remote backend (a streamed `/v1/generate`). Every
request must be answered: a lost one is counted and fails the run.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from diffcoder.model.backend import encode_prompt
from diffcoder.model.types import DecodeConfig

PAGE = "server-benchmark.md"
PROMPTS = (
    "def median(values):\n",
    "class Stack:\n    def __init__(self):\n",
    "def read_lines(path):\n    with open(path) as handle:\n",
    "import json\n\n\ndef load_config(path):\n",
)


@dataclass(frozen=True)
class ServerBenchSettings:
    out: Path | None = None
    clients: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    rounds: int = 3  # requests per client at each client count
    max_new_tokens: int = 32
    replicas: int = 1
    max_batch: int = 8
    model: Path | None = None  # None: the demo model
    quick: bool = False

    def command(self) -> str:
        quick = " --quick" if self.quick else ""
        clients = ",".join(str(c) for c in self.clients)
        return (
            f"diffcoder bench server{quick} --clients {clients} --rounds {self.rounds} "
            f"--max-new-tokens {self.max_new_tokens} --replicas {self.replicas} "
            f"--max-batch {self.max_batch}"
        )


@dataclass
class Level:
    clients: int
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    lost: int = 0
    seconds: float = 0.0

    def p(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]

    def row(self) -> str:
        answered = len(self.latencies)
        return (
            f"| {self.clients} | {answered + self.lost} | {self.p(50) * 1000:.0f} "
            f"| {self.p(99) * 1000:.0f} | {answered / self.seconds:.1f} "
            f"| {self.tokens / self.seconds:.0f} | {self.lost} |"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(backend, level: Level, rounds: int, max_new_tokens: int) -> None:
    config = DecodeConfig(max_new_tokens=max_new_tokens)
    prompts = [encode_prompt(backend.tokenizer, p) for p in PROMPTS]
    lock = threading.Lock()

    def client(number: int) -> None:
        for round_ in range(rounds):
            started = time.perf_counter()
            try:
                result = backend.generate(prompts[(number + round_) % len(prompts)], config)
            except Exception:  # counted, and the run fails below
                with lock:
                    level.lost += 1
                continue
            with lock:
                level.latencies.append(time.perf_counter() - started)
                level.tokens += len(result.token_ids)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(level.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    level.seconds = time.perf_counter() - started


def run_server_benchmark(settings: ServerBenchSettings) -> int:
    from diffcoder.model.embedded import model_or_demo
    from diffcoder.model.remote import RemoteBackend
    from diffcoder.serving import app
    from diffcoder.serving.requests import Limits

    model = str(model_or_demo(settings.model, print))
    serve = app.ServeSettings(
        model=model,
        port=_free_port(),
        replicas=settings.replicas,
        max_batch=settings.max_batch,
        device="cpu",
        limits=Limits(max_concurrent=max(settings.clients)),
    )
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = time.perf_counter()
    try:
        info = app.start(serve)
        startup = time.perf_counter() - started
        backend = RemoteBackend(serve.url)
        measure(backend, Level(1), 2, settings.max_new_tokens)  # warm-up: lazy imports, caches
        levels = []
        for clients in settings.clients:
            level = Level(clients)
            measure(backend, level, settings.rounds, settings.max_new_tokens)
            print(level.row(), flush=True)
            levels.append(level)
    finally:
        app.stop(serve)
    header = _header(settings, model, info, startup)
    table = "\n".join([_TABLE_HEAD, *(level.row() for level in levels)])
    print(header, table, sep="\n\n")
    if settings.out is not None:
        write_report(settings.out, settings.command(), levels, header, table)
    lost = sum(level.lost for level in levels)
    if lost:
        print(f"{lost} request(s) lost: the server must answer every request")
    return 1 if lost else 0


_TABLE_HEAD = (
    "| clients | requests | latency p50 (ms) | latency p99 (ms) | requests/s | generated tokens/s "
    "| lost |\n|---:|---:|---:|---:|---:|---:|---:|"
)


def _header(settings: ServerBenchSettings, model: str, info: dict, startup: float) -> str:
    batching = (
        f"a batching scheduler of {info['concurrency']} slots"
        if info["concurrency"] > 1
        else "one request at a time per replica (no batching scheduler installed)"
    )
    return (
        f"{Path(model).name} ({info['summary']}); {settings.replicas} CPU replica(s), {batching}; "
        f"{settings.max_new_tokens} new tokens per request, {settings.rounds} requests per client "
        f"after a warm-up; clients stream `/v1/generate` through the language server's remote "
        f"backend on loopback; startup (Ray, Serve, replicas) {startup:.0f} s; "
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
    )


def write_report(out: Path, command: str, levels: list[Level], header: str, table: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    clients = [level.clients for level in levels]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    axes[0].plot(clients, [level.tokens / level.seconds for level in levels], "o-")
    axes[0].set_title("throughput (generated tokens/s)")
    axes[1].plot(clients, [level.p(50) * 1000 for level in levels], "o-", label="p50")
    axes[1].plot(clients, [level.p(99) * 1000 for level in levels], "s--", label="p99")
    axes[1].set_title("latency per request (ms)")
    axes[1].legend()
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(clients, [str(c) for c in clients])
        ax.set_xlabel("concurrent clients")
    fig.tight_layout()
    fig.savefig(out / "server-benchmark.png", dpi=110)
    (out / PAGE).write_text(
        f"# Team server throughput and latency\n\nReproduce: `{command} --out docs`\n\n"
        f"{header}.\n\n{table}\n\n"
        "Latency is the client's clock from the request to the last event; requests/s and "
        "tokens/s count every answered request of one client count over its wall time. "
        "The batching scheduler (docs/batching.md) shares forwards between up to `--max-batch` "
        "requests of one replica; more clients than that queue for a slot, and latency grows "
        "with the queue (without the scheduler a replica decodes one request at a time and "
        "throughput stays flat). The clients, Serve's proxy and the replicas share this "
        "machine's CPUs.\n\n"
        "![plot](server-benchmark.png)\n",
        "utf-8",
    )
    print(f"wrote {out / PAGE} and server-benchmark.png")
