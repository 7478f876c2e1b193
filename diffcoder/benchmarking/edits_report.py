"""The page, table and plot of `diffcoder bench edits` (docs/edits-benchmark.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# the rows are `edits.PairResult`s (not imported: edits imports this module)
PairResult = Any

PAGE, PLOT = "edits-benchmark.md", "edits-benchmark.png"
CAVEAT = (
    "An oracle model measures the decoding machinery (how many forwards the sampler and the "
    "draft path spend on an edit's tokens), not the model's quality: it always predicts the gold "
    "answer, and only its confidence profile decides how many denoising steps a block takes. "
    "As a real model's, its predictions of new code depend on the code before it: a query that "
    "sees anything but the answer (a mask, the old code) in an earlier block predicts a wrong "
    "token for a new position, so no guess of new code passes verification before the code "
    "before it is decided. That makes one forward per block holding a new token a lower bound "
    "for lossless decoding (the “floor” column), beaten only where the draft has the new code "
    "elsewhere (moved or repeated edits)."
)
PROFILE_NOTES = {
    "certain": "every token above the threshold",
    "realistic": (
        "tokens the draft has at the aligned place are confident at once; new tokens only after "
        "a position of their block is decided (a block with new code takes two steps or more)"
    ),
    "noisy": (
        "realistic, with a seeded tenth of the copied tokens unsure at first, a sixth of the new "
        "ones sure at once, and an eighth of the new ones needing two decided neighbours"
    ),
}


def _spread(summary: dict[str, Any], name: str, digits: int = 3) -> str:
    return (
        f"{summary[f'median_{name}']:.{digits}f} "
        f"({summary[f'p10_{name}']:.{digits}f}–{summary[f'p90_{name}']:.{digits}f})"
    )


def summary_table(report: dict[str, Any]) -> str:
    lines = [
        "| oracle profile | pairs | forwards/token, no draft | forwards/token, draft "
        "| floor | autoregressive | ÷ no draft | draft tokens accepted | hunks | same tokens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for profile, s in report["profiles"].items():
        plain, draft = s["median_forwards_per_token_plain"], s["median_forwards_per_token_draft"]
        ratio = plain / max(draft, 1e-9)
        lines.append(
            f"| {profile} | {s['pairs']} | {_spread(s, 'forwards_per_token_plain')} "
            f"| {_spread(s, 'forwards_per_token_draft')} "
            f"| {_spread(s, 'forwards_per_token_floor')} | 1.000 | {ratio:.1f}× "
            f"| {_spread(s, 'draft_accepted_share', 2)} | {_spread(s, 'hunks', 0)} "
            f"| {s['identical']}/{s['pairs']} |"
        )
    return "\n".join(lines)


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['dataset']} ({report['format']}, scope {report['scope']}), "
        f"{report['tokenizer']}; median (p10–p90)",
        summary_table(report),
    ]
    if report["skipped"]:
        lines.append(f"skipped {len(report['skipped'])} pairs: {report['skipped']}")
    lines.append(f"{report['seconds']} s")
    return lines


def pair_table(results: dict[str, list[PairResult]]) -> str:
    """One row per pair: its size, and per profile forwards/token without → with the draft."""
    profiles = list(results)
    lines = [
        "| pair | tokens | new tokens | hunks | "
        + " | ".join(f"{p}: no draft → draft" for p in profiles)
        + " | same tokens |",
        "|---|---:|---:|---:|" + "---:|" * len(profiles) + "---|",
    ]
    for rows in zip(*results.values(), strict=True):
        first = rows[0]
        cells = " | ".join(f"{r.plain_fpt:.3f} → {r.draft_fpt:.3f}" for r in rows)
        same = "yes" if all(r.identical for r in rows) else "NO"
        lines.append(
            f"| {first.id} | {first.tokens} | {first.new_tokens} | {first.hunks} | {cells} "
            f"| {same} |"
        )
    return "\n".join(lines)


def write_plot(path: Path, results: dict[str, list[PairResult]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6))
    markers = {"certain": "s", "realistic": "o", "noisy": "^"}
    for profile, rows in results.items():
        sizes = [r.new_tokens for r in rows]
        ax.scatter(
            sizes,
            [r.draft_fpt for r in rows],
            s=14,
            marker=markers.get(profile, "o"),
            alpha=0.7,
            label=f"draft, {profile}",
        )
    reference = results.get("realistic") or next(iter(results.values()))
    ax.scatter(
        [r.new_tokens for r in reference],
        [r.plain_fpt for r in reference],
        s=10,
        color="gray",
        alpha=0.5,
        label="no draft (plain fast), realistic",
    )
    ax.axhline(1.0, linestyle=":", color="black", label="autoregressive (1.0)")
    ax.axhline(0.1, linestyle="--", color="green", linewidth=0.8, label="goal 0.10")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=-0.5)
    ax.set_yscale("log")
    ax.set_xlabel("edit size: answer tokens the draft lacks at the aligned place")
    ax.set_ylabel("forwards per output token")
    ax.set_title("Oracle decoding of real edit pairs: forwards against edit size")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_edits_report(
    out: Path, command: str, report: dict[str, Any], results: dict[str, list[PairResult]]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_plot(out / PLOT, results)
    notes = "\n".join(f"- `{p}`: {PROFILE_NOTES[p]}." for p in results)
    per_pair = (
        f"<details><summary>every pair (forwards per output token)</summary>\n\n"
        f"{pair_table(results)}\n\n</details>"
    )
    skipped = ""
    if report["skipped"]:
        skipped = "\n\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in report["skipped"].items())
    page = (
        "# Drafts on real edit pairs (oracle model)\n\n"
        f"Reproduce: `{command} --out docs`\n\n"
        f"{CAVEAT}\n\n"
        f"Data: {Path(report['dataset']).name} ({report['format']}), region scope "
        f"`{report['scope']}`, {report['tokenizer']}; each pair's prompt, region and draft are "
        "built by the editing layer and decoded by `run_edit` with the real sampler, threshold "
        "0.95. Median (p10–p90) over the pairs; forwards per output token counts every forward "
        "after the prefill (verification included); autoregressive decoding costs 1.0. "
        "“Same tokens”: pairs whose draft and no-draft outputs are identical.\n\n"
        f"{notes}\n\n{summary_table(report)}{skipped}\n\n![plot]({PLOT})\n\n{per_pair}\n"
    )
    (out / PAGE).write_text(page, "utf-8")
    print(f"wrote {out / PAGE} and {PLOT}")
