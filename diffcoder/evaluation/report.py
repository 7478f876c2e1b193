"""Evaluation output: results as JSONL (one line per sample) and a markdown report with PNG plots.

Plots need matplotlib (a dev dependency); without it the report says so and keeps the tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_results(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _plots(out_dir: Path, summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    figure, (latency, forwards) = plt.subplots(1, 2, figsize=(10, 3.6))
    latency.hist([r["latency_seconds"] for r in records], bins=20, color="#4878a8")
    latency.set(xlabel="seconds per request", ylabel="samples", title="Latency")
    forwards.scatter(
        [r["generated_tokens"] for r in records],
        [r["nfe"] for r in records],
        c=["#3a923a" if r["passed"] else "#c03d3e" for r in records],
        s=14,
    )
    forwards.set(
        xlabel="generated tokens", ylabel="forward passes (NFE)", title="NFE (green: pass)"
    )
    figure.tight_layout()
    figure.savefig(out_dir / "latency.png", dpi=120)
    plt.close(figure)
    written.append("latency.png")
    kinds = summary.get("pass_at_1_by_change_kind")
    if kinds:
        figure, axis = plt.subplots(figsize=(5, 3.2))
        axis.bar(list(kinds), list(kinds.values()), color="#4878a8")
        axis.set(ylim=(0, 1), ylabel="pass@1", title="pass@1 by change kind")
        figure.tight_layout()
        figure.savefig(out_dir / "pass_by_kind.png", dpi=120)
        plt.close(figure)
        written.append("pass_by_kind.png")
    return written


def _spread_row(name: str, figures: dict[str, Any] | None) -> str:
    figures = figures or {}
    return f"| {name} | {figures.get('p50')} | {figures.get('p90')} | {figures.get('mean')} |"


def write_report(
    out_dir: str | Path,
    title: str,
    summary: dict[str, Any],
    records: Sequence[dict[str, Any]],
    settings: dict[str, Any],
) -> Path:
    """`report.md`, `results.jsonl` and the plots in `out_dir`; returns the markdown's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(out_dir / "results.jsonl", records)
    plots = _plots(out_dir, summary, records) if records else []
    lines = [f"# {title}", ""]
    lines += [f"- {key}: `{value}`" for key, value in settings.items()]
    lines += ["", f"**pass@1: {summary['pass_at_1']:.3f}** over {summary['total']} problems", ""]
    for k, value in (summary.get("pass_at_k") or {}).items():
        if k != "1":
            lines.append(f"pass@{k}: {value:.3f}  ")
    kinds = summary.get("pass_at_1_by_change_kind")
    if kinds:
        counts = summary.get("problems_by_change_kind", {})
        lines += ["", "| change kind | problems | pass@1 |", "|---|---|---|"]
        lines += [f"| {kind} | {counts.get(kind)} | {value:.3f} |" for kind, value in kinds.items()]
    lines += ["", "| per request | p50 | p90 | mean |", "|---|---|---|---|"]
    lines.append(_spread_row("latency (s)", summary.get("latency_seconds")))
    lines.append(_spread_row("forward passes (NFE)", summary.get("nfe")))
    lines.append(_spread_row("tokens per forward", summary.get("tokens_per_forward")))
    lines.append(_spread_row("forwards per token", summary.get("forwards_per_token")))
    lines.append(_spread_row("draft accepted share", summary.get("draft_accepted_share")))
    keys = (
        "rejected",
        "timed_out",
        "exact_match",
        "scope_misses",
        "env_errors",
        "env_errors_by_package",
    )
    extras = [key for key in keys if key in summary]
    if extras:
        lines += [""] + [f"- {key}: {summary[key]}" for key in extras]
    failures = (summary.get("oracle") or {}).get("failures_by_cause")
    if failures:
        lines += ["", "| oracle failure cause | problems |", "|---|---|"]
        lines += [f"| {cause} | {', '.join(ids)} |" for cause, ids in failures.items()]
    lines.append("")
    if plots:
        lines += [f"![{name}]({name})" for name in plots]
    else:
        lines.append("(no plots: matplotlib is not installed, or there were no results)")
    lines += ["", "Per-sample results: `results.jsonl`.", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), "utf-8")
    return path
