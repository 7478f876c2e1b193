"""Parity vs fast decoding, side by side in one run: forwards per token and seconds per token.

Checkpoints are generated on the spot (tiny, ~30M parameters, and confidence-sharpened twins
whose scaled output head behaves like a confident trained model); modes alternate per repeat so
machine noise hits both alike.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from diffcoder.benchmarking.settings import DecodeBenchSettings
from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import DiffusionEngine, load_engine
from diffcoder.model.types import DEFAULT_THRESHOLD, DecodeConfig, LoadOptions
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

PROMPT = "Add type hints:\n```python\ndef area(w, h):\n    return w * h\n```"


@dataclass(frozen=True)
class CheckpointSpec:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    sharpened: bool = False

    def head_scale(self) -> float:
        # random init gives logits of std ~0.02*sqrt(hidden); scale them to std ~50
        return 50.0 / (0.02 * math.sqrt(self.hidden)) if self.sharpened else 1.0


CHECKPOINTS = [
    CheckpointSpec("tiny", 64, 2, 4, 2),
    CheckpointSpec("tiny, sharpened", 64, 2, 4, 2, sharpened=True),
    CheckpointSpec("small", 512, 10, 8, 4),
    CheckpointSpec("small, sharpened", 512, 10, 8, 4, sharpened=True),
]
RULES = {"one token/step": None, f"threshold {DEFAULT_THRESHOLD}": DEFAULT_THRESHOLD}


def suppress_special_rows(engine: DiffusionEngine) -> None:
    """Give the random head a -1e4 bias on the ids fast mode bans, as a trained model has.

    Otherwise parity mode (which may pick them) and fast mode (which may not) follow different
    token trajectories and their forward counts would not be comparable.
    """
    head = engine.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[sorted(engine.special.banned | {engine.special.mask})] = -1e4
    engine.model.lm_head = biased.to(head.weight.device, head.weight.dtype)


@dataclass
class Row:
    checkpoint: str
    rule: str
    mode: str
    tokens: float
    nfe_per_token: float
    tokens_per_forward: float
    ms_per_token: float
    same_tokens_as_parity: bool | None = None


def measure(engine, prompt_ids, configs, repeats) -> dict[str, tuple]:
    """Per mode: (tokens, nfe, seconds per token, token ids); modes alternate every repeat."""
    runs: dict[str, list] = {mode: [] for mode in configs}
    for _ in range(repeats):
        for mode, config in configs.items():
            runs[mode].append(engine.generate(prompt_ids, config))
    out = {}
    for mode, results in runs.items():
        tokens = statistics.mean(max(1, len(r.token_ids)) for r in results)
        nfe = statistics.mean(r.nfe for r in results)
        seconds = statistics.median(r.decode_seconds / max(1, len(r.token_ids)) for r in results)
        out[mode] = (tokens, nfe, seconds, results[0].token_ids)
    return out


def bench_checkpoint(spec: CheckpointSpec, root: Path, max_new: int, repeats: int) -> list[Row]:
    path = make_tiny_checkpoint(
        root / spec.name.replace(" ", "_").replace(",", ""),
        hidden=spec.hidden,
        layers=spec.layers,
        heads=spec.heads,
        kv_heads=spec.kv_heads,
        head_scale=spec.head_scale(),
        seed=0,
    )
    engine = load_engine(path, LoadOptions(device="cpu", quant="none", dtype="float32"))
    suppress_special_rows(engine)
    params = sum(p.numel() for p in engine.model.parameters())
    name = f"{spec.name} ({params / 1e6:.1f}M params)"
    prompt_ids = encode_prompt(engine.tokenizer, PROMPT, chat=True)
    rows = []
    for rule, threshold in RULES.items():
        configs = {
            mode: DecodeConfig(max_new_tokens=max_new, threshold=threshold, mode=mode)
            for mode in ("parity", "fast")
        }
        engine.generate(prompt_ids, configs["fast"])  # warm-up
        measured = measure(engine, prompt_ids, configs, repeats)
        parity_ids = measured["parity"][3]
        for mode, (tokens, nfe, seconds, ids) in measured.items():
            same = None if mode == "parity" else ids == parity_ids
            rows.append(
                Row(
                    checkpoint=name,
                    rule=rule,
                    mode=mode,
                    tokens=tokens,
                    nfe_per_token=nfe / tokens,
                    tokens_per_forward=tokens / nfe,
                    ms_per_token=seconds * 1000,
                    same_tokens_as_parity=same,
                )
            )
    return rows


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| checkpoint | selection | mode | tokens | NFE/token | tokens/forward | ms/token "
        "| fast NFE ÷ parity NFE | fast time ÷ parity time | same tokens |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    parity = {(r.checkpoint, r.rule): r for r in rows if r.mode == "parity"}
    for r in rows:
        ratios = ["", "", ""]
        if r.mode == "fast":
            base = parity[(r.checkpoint, r.rule)]
            ratios = [
                f"{r.nfe_per_token / base.nfe_per_token:.2f}",
                f"{r.ms_per_token / base.ms_per_token:.2f}",
                "yes" if r.same_tokens_as_parity else "NO",
            ]
        lines.append(
            f"| {r.checkpoint} | {r.rule} | {r.mode} | {r.tokens:.0f} | {r.nfe_per_token:.3f} "
            f"| {r.tokens_per_forward:.2f} | {r.ms_per_token:.2f} | {' | '.join(ratios)} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys((r.checkpoint, r.rule) for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    width = 0.38
    for offset, mode in ((-width / 2, "parity"), (width / 2, "fast")):
        by_key = {(r.checkpoint, r.rule): r for r in rows if r.mode == mode}
        xs = [i + offset for i in range(len(labels))]
        axes[0].bar(xs, [by_key[k].nfe_per_token for k in labels], width, label=mode)
        axes[1].bar(xs, [by_key[k].ms_per_token for k in labels], width, label=mode)
    names = [f"{c}\n{r}" for c, r in labels]
    titles = ("forwards per generated token", "ms per generated token (CPU)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xticks(range(len(labels)), names, fontsize=7, rotation=30, ha="right")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_decode_benchmark(settings: DecodeBenchSettings) -> int:
    specs = CHECKPOINTS[:2] if settings.quick else CHECKPOINTS
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="diffcoder-bench-") as tmp:
        for spec in specs:
            print(f"benchmarking {spec.name} …", flush=True)
            rows += bench_checkpoint(spec, Path(tmp), settings.max_new_tokens, settings.repeats)
    table = markdown_table(rows)
    print(table)
    out = settings.out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "decode-benchmark.md").write_text(
            "# Decode benchmark: parity vs fast\n\n"
            f"Reproduce: `{settings.command()} --out docs`\n\n"
            f"{table}\n\n![plot](decode-benchmark.png)\n",
            "utf-8",
        )
        plot(rows, out / "decode-benchmark.png")
        print(f"wrote {out / 'decode-benchmark.md'} and decode-benchmark.png")
    return 0
