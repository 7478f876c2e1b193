"""`diffcoder bench batch`: N concurrent requests of mixed lengths, batched (one `BatchedEngine`
with N slots, every request submitted at once) against one after another (batch 1, in a queue).

Latency is from the moment all N requests arrive to each one's answer, so batch 1's includes the
wait behind the requests before it, as a busy server's would.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from diffcoder.benchmarking.batch_settings import BatchBenchSettings

PAGE = "batch-benchmark.md"
PLOT = "batch-benchmark.png"
# Python openings of different lengths (prompt lengths of every remainder mod 4 once encoded)
SNIPPETS = (
    "def add(a, b):",
    "import os\nimport sys\n\n\ndef main(argv):\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):",
    "def fibonacci(n):\n    a, b = 0, 1\n",
    "for line in open(path):\n    fields = line.split(',')\n",
    "def count_words(text: str) -> dict[str, int]:\n    counts = {}\n",
    "# parse the command line\nimport argparse\n\nparser = argparse.ArgumentParser()\n",
    "async def fetch(client, url):\n",
)


@dataclass(frozen=True)
class Outcome:
    forwards: int
    tokens: int
    seconds: float
    latencies: list[float]
    token_ids: list[list[int]]
    nfes: list[int]  # each request's own forwards

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def forwards_per_token(self) -> float:
        return self.forwards / self.tokens if self.tokens else 0.0

    def latency(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Row:
    concurrent: int
    alone: Outcome
    batched: Outcome

    @property
    def bound(self) -> float:
        """The least any batching can reach: the longest request's forwards ÷ all of them."""
        return max(self.alone.nfes) / self.alone.forwards if self.alone.forwards else 1.0

    @property
    def identical(self) -> int:
        pairs = zip(self.alone.token_ids, self.batched.token_ids, strict=True)
        return sum(a == b for a, b in pairs)

    @property
    def same_tokens(self) -> float:
        """Share of the batch-1 tokens that the batched answer repeats before it first differs."""
        total = sum(len(a) for a in self.alone.token_ids)
        agreed = 0
        for a, b in zip(self.alone.token_ids, self.batched.token_ids, strict=True):
            pairs = enumerate(zip(a, b, strict=False))
            agreed += next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
        return agreed / total if total else 1.0


def workload(engine, count: int, max_new: int):
    from diffcoder.model.backend import encode_prompt
    from diffcoder.model.types import DecodeConfig

    # mixed budgets: an edit's answer, a few completions of different lengths
    budgets = (max_new, 5 * max_new // 8, 7 * max_new // 8, 3 * max_new // 4)
    return [
        (
            encode_prompt(engine.tokenizer, SNIPPETS[i % len(SNIPPETS)] * (1 + i // len(SNIPPETS))),
            DecodeConfig(max_new_tokens=max(4, budgets[i % len(budgets)])),
        )
        for i in range(count)
    ]


def one_after_another(engine, requests) -> Outcome:
    """Batch 1 on one model thread, as the language server runs it (and like the batched
    scheduler's thread: torch's main thread behaves differently on an oversubscribed CPU)."""
    started, latencies, results = time.perf_counter(), [], []

    def decode_all() -> None:
        for prompt, config in requests:
            results.append(engine.generate(prompt, config))
            latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=1) as model_thread:
        model_thread.submit(decode_all).result()
    return Outcome(
        forwards=sum(r.nfe for r in results),
        tokens=sum(len(r.token_ids) for r in results),
        seconds=time.perf_counter() - started,
        latencies=latencies,
        token_ids=[r.token_ids for r in results],
        nfes=[r.nfe for r in results],
    )


def batched(engine, requests) -> Outcome:
    from diffcoder.model.batching import BatchedEngine
    from diffcoder.model.canvas import Canvas

    context = max(Canvas.capacity_for(len(p), c, drafting=False) for p, c in requests)
    batch = BatchedEngine.from_engine(engine, max_batch=len(requests), context=context)
    try:
        started = time.perf_counter()

        def one(request):
            result = batch.generate(*request)
            return result, time.perf_counter() - started

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(one, requests))
        seconds = time.perf_counter() - started
    finally:
        batch.close()
    return Outcome(
        forwards=batch.counts.forwards,
        tokens=sum(len(r.token_ids) for r, _ in answers),
        seconds=seconds,
        latencies=[latency for _, latency in answers],
        token_ids=[r.token_ids for r, _ in answers],
        nfes=[r.nfe for r, _ in answers],
    )


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| concurrent | forwards: 1 by 1 | batched | ÷ | least possible ÷ "
        "| forwards/token: 1 by 1 | batched "
        "| tokens/s: 1 by 1 | batched | × | p50 latency s: 1 by 1 | batched "
        "| p99 latency s: 1 by 1 | batched | identical requests | same tokens |",
        "|" + "---:|" * 16,
    ]
    for r in rows:
        a, b = r.alone, r.batched
        lines.append(
            f"| {r.concurrent} | {a.forwards} | {b.forwards} | {b.forwards / a.forwards:.3f} "
            f"| {r.bound:.3f} "
            f"| {a.forwards_per_token:.3f} | {b.forwards_per_token:.3f} "
            f"| {a.tokens_per_second:.0f} | {b.tokens_per_second:.0f} "
            f"| {b.tokens_per_second / a.tokens_per_second:.2f} "
            f"| {a.latency(0.5):.3f} | {b.latency(0.5):.3f} "
            f"| {a.latency(0.99):.3f} | {b.latency(0.99):.3f} "
            f"| {r.identical}/{r.concurrent} | {100 * r.same_tokens:.1f} % |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r.concurrent for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    axes[0].plot(xs, [r.batched.forwards / r.alone.forwards for r in rows], "o-", label="batched")
    axes[0].plot(xs, [1 / x for x in xs], "k:", label="1 / concurrent")
    axes[0].set_title("forwards, batched ÷ one after another")
    axes[1].plot(xs, [r.alone.tokens_per_second for r in rows], "o-", label="one after another")
    axes[1].plot(xs, [r.batched.tokens_per_second for r in rows], "o-", label="batched")
    axes[1].set_title("tokens per second")
    for label, outcome in (("1 by 1", "alone"), ("batched", "batched")):
        for share, style in ((0.5, "o-"), (0.99, "s--")):
            values = [getattr(r, outcome).latency(share) for r in rows]
            axes[2].plot(xs, values, style, label=f"{label} p{round(share * 100)}")
    axes[2].set_title("request latency (s)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("concurrent requests")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_batch_benchmark(settings: BatchBenchSettings) -> int:
    import torch

    from diffcoder.model.embedded import model_or_demo
    from diffcoder.model.engine import load_engine
    from diffcoder.model.types import LoadOptions

    path = model_or_demo(None if settings.model is None else str(settings.model), print)
    options = LoadOptions(
        device=settings.device, quant="none", dtype=settings.dtype, progress_bars=False
    )
    engine = load_engine(path, options)
    max_new = 16 if settings.quick else settings.max_new_tokens
    engine.generate(*workload(engine, 1, max_new)[0])  # warm-up
    rows = []
    for count in settings.concurrency:
        requests = workload(engine, count, max_new)
        alone = one_after_another(engine, requests)
        together = batched(engine, requests)
        rows.append(Row(count, alone, together))
        print(f"{count} concurrent: {together.forwards}/{alone.forwards} forwards", flush=True)
    table = markdown_table(rows)
    info = engine.describe()
    threads = torch.get_num_threads()
    setup = (
        f"Model: {info.summary}; {info.device}, {settings.dtype}, {threads} torch threads. "
        f"Budgets up to {max_new} new tokens (threshold 0.95, fast mode), prompts of "
        f"{min(len(p) for p, _ in requests)} to {max(len(p) for p, _ in requests)} tokens."
    )
    print(setup)
    print(table)
    if settings.out is not None:
        write_page(settings, rows, table, setup)
    return 0


def write_page(settings: BatchBenchSettings, rows: list[Row], table: str, setup: str) -> None:
    out = settings.out
    assert out is not None
    out.mkdir(parents=True, exist_ok=True)
    best = {r.concurrent: r for r in rows}.get(8)
    goal = ""
    if best is not None:
        ratio = best.batched.forwards / best.alone.forwards
        goal = (
            f"\n\nAt 8 concurrent requests the batched forwards are {ratio:.3f}× those of "
            f"decoding them one after another (goal ≤ 0.2×; no batching can go below "
            f"{best.bound:.3f}× here, the longest request's own forwards), with "
            f"{best.identical}/8 requests token-for-token identical.\n"
        )
    (out / PAGE).write_text(
        "# Batch benchmark: continuous batching vs one request after another\n\n"
        f"Reproduce: `{settings.command()} --out docs` (docs/batching.md explains the design). "
        f"{setup} Forwards count the decoding forwards after the prefill, each batched forward "
        "once; latency is from the arrival of all requests to each answer, so one after "
        f"another includes the queue.\n\n{table}{goal}\n![plot]({PLOT})\n",
        "utf-8",
    )
    plot(rows, out / PLOT)
    print(f"wrote {out / PAGE} and {PLOT}")
