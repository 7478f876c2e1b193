"""Draft-accelerated decoding vs plain fast and parity decoding, side by side in one run.

The draft is the plain output itself with a growing share of its tokens replaced, on a
confidence-sharpened ~30M checkpoint (its random head scaled so most blocks commit whole, as a
trained model does on code it is copying). Output equality with plain decoding is checked too.
"""

from __future__ import annotations

import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from diffcoder.benchmarking.decode import PROMPT, suppress_special_rows
from diffcoder.benchmarking.settings import DraftBenchSettings
from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DEFAULT_THRESHOLD, DecodeConfig, LoadOptions
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

WRONG_SHARES = (0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 1.0)


@dataclass
class DraftRow:
    label: str
    nfe_per_token: float
    ms_per_token: float
    accepted_share: float
    same_tokens: bool


def wrong_draft(exact: list[int], share: float, vocab: range, seed: int) -> list[int]:
    """`exact` with `share` of its tokens replaced by other ids."""
    rng = random.Random(seed)
    out = list(exact)
    for i in rng.sample(range(len(out)), round(share * len(out))):
        out[i] = rng.choice([t for t in (rng.choice(vocab), rng.choice(vocab)) if t != out[i]])
    return out


def run_draft_benchmark(settings: DraftBenchSettings) -> int:
    with tempfile.TemporaryDirectory(prefix="diffcoder-bench-") as tmp:
        hidden = 64 if settings.quick else 512
        layers = 2 if settings.quick else 10
        # logits of std ~1000: nearly every block clears the threshold in one step
        scale = 1000.0 / (0.02 * hidden**0.5)
        path = make_tiny_checkpoint(
            Path(tmp) / "sharp", hidden=hidden, layers=layers, heads=8, kv_heads=4,
            head_scale=scale,
        )  # fmt: skip
        engine = load_engine(path, LoadOptions(device="cpu", quant="none", dtype="float32"))
    suppress_special_rows(engine)
    params = sum(p.numel() for p in engine.model.parameters()) / 1e6
    prompt = encode_prompt(engine.tokenizer, PROMPT, chat=True)
    n = settings.max_new_tokens
    fast = DecodeConfig(max_new_tokens=n, threshold=DEFAULT_THRESHOLD)
    parity = DecodeConfig(max_new_tokens=n, threshold=DEFAULT_THRESHOLD, mode="parity")
    exact = engine.generate(prompt, fast).token_ids
    vocab = range(128, len(engine.tokenizer))
    runs = {"parity": (parity, None), "fast, no draft": (fast, None)}
    for share in WRONG_SHARES:
        draft = wrong_draft(exact, share, vocab, seed=int(share * 1000))
        runs[f"fast + draft, {share:.0%} wrong"] = (fast, draft)

    samples: dict[str, list] = {label: [] for label in runs}
    for _ in range(settings.repeats):  # interleaved, so machine noise hits every row alike
        for label, (config, draft) in runs.items():
            samples[label].append(engine.generate(prompt, config, draft_ids=draft))
    rows = []
    for label, results in samples.items():
        first = results[0]
        tokens = max(1, len(first.token_ids))
        rows.append(
            DraftRow(
                label=label,
                nfe_per_token=first.nfe / tokens,
                ms_per_token=statistics.median(r.decode_seconds for r in results) * 1000 / tokens,
                accepted_share=first.draft_accepted_tokens / tokens,
                same_tokens=first.token_ids == exact,
            )
        )
    table = markdown_table(rows, samples["fast, no draft"][0].nfe / max(1, len(exact)))
    header = (
        f"{params:.1f}M-parameter sharpened checkpoint, {n} new tokens, "
        f"threshold {DEFAULT_THRESHOLD}"
    )
    print(header)
    print(table)
    if settings.out is not None:
        write_report(settings.out, settings.command(), rows, header, table)
    return 0


def markdown_table(rows: list[DraftRow], fast_nfe: float) -> str:
    lines = [
        "| decoding | NFE/token | ÷ fast NFE | ms/token | draft tokens accepted | same output |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        same = "yes" if r.same_tokens else "NO"
        lines.append(
            f"| {r.label} | {r.nfe_per_token:.3f} | {r.nfe_per_token / fast_nfe:.2f} "
            f"| {r.ms_per_token:.2f} | {r.accepted_share:.0%} | {same} |"
        )
    return "\n".join(lines)


def write_report(out: Path, command: str, rows: list[DraftRow], header: str, table: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    drafted = [r for r in rows if "draft," in r.label]
    shares = [share * 100 for share in WRONG_SHARES]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, field, title in (
        (axes[0], "nfe_per_token", "forwards per generated token"),
        (axes[1], "ms_per_token", "ms per generated token (CPU)"),
    ):
        ax.plot(shares, [getattr(r, field) for r in drafted], "o-", label="fast + draft")
        for r, style in zip(rows[:2], ("--", ":"), strict=True):
            ax.axhline(getattr(r, field), linestyle=style, color="gray", label=r.label)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, 110)
        ax.set_xticks(shares, [f"{share:g}" for share in shares])
        ax.set_xlabel("share of draft tokens that are wrong (%)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "draft-benchmark.png", dpi=110)
    (out / "draft-benchmark.md").write_text(
        f"# Draft-accelerated decoding benchmark\n\nReproduce: `{command} --out docs`\n\n"
        f"{header}.\n\n{table}\n\n![plot](draft-benchmark.png)\n",
        "utf-8",
    )
    print(f"wrote {out / 'draft-benchmark.md'} and draft-benchmark.png")
