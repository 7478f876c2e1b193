"""`diffcoder bench lsp`: end-to-end latency of the language server's requests, split into model
time (as the server reports it) and server overhead (everything else: protocol, threads, pipeline).

Runs the real `diffcoder-lsp` process on a tiny random checkpoint, so the model share is small.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from diffcoder.benchmarking.editor_sample import (
    EXAMPLE,
    INSTRUCTION,
    cursor_offset,
    server_command,
    typed_text,
)
from diffcoder.benchmarking.settings import LspBenchSettings
from diffcoder.lsp_server.client import LspClient, lsp_position
from diffcoder.lsp_server.protocol import EDIT_COMMAND, STATUS_REQUEST

WARMUP = 2  # first requests pay for lazy imports and allocator growth; not counted


@dataclass
class Samples:
    label: str
    end_to_end: list[float] = field(default_factory=list)
    model: list[float] = field(default_factory=list)
    handler: list[float] = field(default_factory=list)  # server-measured time outside the model

    def add(self, end_to_end: float, model: float, handler: float) -> None:
        self.end_to_end.append(end_to_end)
        self.model.append(model)
        self.handler.append(handler)

    @property
    def overhead(self) -> list[float]:
        return [max(e - m, 0.0) for e, m in zip(self.end_to_end, self.model, strict=True)]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: with few repeats, a value that was actually measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(client: LspClient, text: str, repeats: int) -> list[Samples]:
    uri = "file:///bench/stats.py"
    typed_uri = "file:///bench/typing.py"
    typed = typed_text(text)
    client.open(uri, text)
    client.open(typed_uri, typed)
    cursor = lsp_position(text, cursor_offset(text))
    edit_args = {
        "textDocument": {"uri": uri, "version": 1},
        "position": cursor,
        "instruction": INSTRUCTION,
        "apply": False,
    }
    edit_params = {"command": EDIT_COMMAND, "arguments": [edit_args]}
    inline_params = {
        "textDocument": {"uri": typed_uri},
        "position": lsp_position(typed, len(typed)),
        "context": {"triggerKind": 1},
    }
    edit, inline, status = (
        Samples(f"{EDIT_COMMAND} (preview)"),
        Samples("inlineCompletion"),
        Samples(f"{STATUS_REQUEST} (no model)"),
    )
    for round_ in range(WARMUP + repeats):
        # Interleaved, so machine noise hits every request type alike.
        result, edit_s = client.timed("workspace/executeCommand", edit_params)
        _, inline_s = client.timed("textDocument/inlineCompletion", inline_params)
        state, status_s = client.timed(STATUS_REQUEST, {})
        if round_ < WARMUP:
            continue
        stats, infill = result["stats"], state["lastInfill"] or {}
        edit.add(edit_s, stats["modelSeconds"], stats["serverSeconds"])
        inline.add(inline_s, infill.get("modelSeconds", 0.0), infill.get("serverSeconds", 0.0))
        status.add(status_s, 0.0, 0.0)
    return [edit, inline, status]


def markdown_table(rows: list[Samples]) -> str:
    lines = [
        "| request | n | end to end p50 / p90 (ms) | model p50 / p90 (ms) "
        "| server overhead p50 / p90 (ms) | of which in handler p50 (ms) | overhead share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:

        def pair(values: list[float]) -> str:
            return f"{percentile(values, 50) * 1000:.1f} / {percentile(values, 90) * 1000:.1f}"

        share = sum(r.overhead) / sum(r.end_to_end) if sum(r.end_to_end) else 0.0
        handler = statistics.median(r.handler) * 1000
        lines.append(
            f"| {r.label} | {len(r.end_to_end)} | {pair(r.end_to_end)} | {pair(r.model)} "
            f"| {pair(r.overhead)} | {handler:.1f} | {share:.0%} |"
        )
    return "\n".join(lines)


def run_lsp_latency(settings: LspBenchSettings) -> int:
    path = settings.file or EXAMPLE
    text = path.read_text(encoding="utf-8")
    repeats, budget = max(1, settings.repeats), settings.max_new_tokens
    with tempfile.TemporaryDirectory(prefix="diffcoder-bench-lsp-") as tmp:
        from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

        model = make_tiny_checkpoint(Path(tmp) / "tiny", seed=0)
        # Few threads: a tiny model gains nothing from more, and spinning OpenMP workers on a
        # busy small machine turn into multi-second stalls.
        threads = str(settings.threads)
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        log = Path(tmp) / "server.log"
        with LspClient(server_command(model), env=env, log=log) as client:
            options = {
                "edit": {"maxNewTokens": budget},
                # No debounce: it is a deliberate wait, not overhead.
                "inline": {"debounceMs": 0, "maxNewTokens": budget},
            }
            client.initialize(Path(tmp), options)
            state = client.wait_until_ready()
            if state["model"]["state"] != "ready":
                print(f"diffcoder: error: the model did not load: {state['model']}")
                return 1
            started = time.perf_counter()
            rows = measure(client, text, repeats)
            wall = time.perf_counter() - started
    header = (
        f"Tiny random-weight checkpoint on CPU ({state['model']['detail']}); {path.name} "
        f"({len(text.splitlines())} lines); budget {budget} new tokens; {repeats} repeats after "
        f"{WARMUP} warm-up rounds ({wall:.1f} s); {os.cpu_count()} CPUs, server on {threads} "
        f"torch thread(s), {platform.machine()}, Python {platform.python_version()}"
    )
    table = markdown_table(rows)
    print(header)
    print(table)
    if settings.out is not None:
        write_report(settings.out, settings.command(), rows, header, table)
    return 0


def write_report(out: Path, command: str, rows: list[Samples], header: str, table: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    labels = [r.label.replace(" (", "\n(") for r in rows]
    model = [percentile(r.model, 50) * 1000 for r in rows]
    overhead = [percentile(r.overhead, 50) * 1000 for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.bar(labels, model, label="model (server-reported)", color="tab:blue")
    left.bar(labels, overhead, bottom=model, label="server overhead", color="tab:orange")
    left.set_ylabel("ms, p50")
    left.set_title("end to end = model + server overhead (p50)")
    left.legend(fontsize=8)
    # Overhead on its own: the stacked bars hide it next to the model, and outliers matter here.
    right.boxplot([[v * 1000 for v in r.overhead] for r in rows], whis=(10, 90))
    right.set_xticks(range(1, len(rows) + 1), labels)
    right.set_ylabel("ms")
    right.set_title("server overhead per request (whiskers p10-p90)")
    fig.tight_layout()
    fig.savefig(out / "lsp-latency.png", dpi=110)
    plt.close(fig)
    notes = (
        "Server overhead = end to end (client's clock, request sent to answer read) minus the "
        f"model time the server reports (`stats.modelSeconds` of `{EDIT_COMMAND}`; `lastInfill` "
        f"of `{STATUS_REQUEST}` for inline completions). It holds JSON-RPC over stdio, the hop "
        "from the event loop to the model thread and back, and the pipeline itself (region "
        "choice, prompt, post-processing, syntax gate, diff); the handler column "
        f"is the part the server measures inside its handler. `{STATUS_REQUEST}` touches no "
        "model: it is the protocol's floor. The random model never stops early, so each request "
        "decodes its whole budget. Little of the overhead depends on the model, so next to a real "
        "checkpoint's decoding (seconds) its share is far smaller than here."
    )
    (out / "lsp-latency.md").write_text(
        f"# Language server latency\n\nReproduce: `{command} --out docs`\n\n{header}.\n\n"
        f"{table}\n\n{notes}\n\n![plot](lsp-latency.png)\n",
        "utf-8",
    )
    print(f"wrote {out / 'lsp-latency.md'} and lsp-latency.png")
