"""`diffcoder bench demo-model`: what the embedded demo model can and cannot do, shown honestly.

Runs a fixed set of instruction edits and infills (written for this report, not taken from the
training corpus) through the editor's own paths (`run_edit`, `run_infill`) on a checkpoint and
its untrained twin, checks each answer against what a person would accept, and writes the
outputs verbatim, with held-out masked-token accuracy measured on both checkpoints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from diffcoder.model.backend import GenerationBackend

STATS = """import math


def mean(xs):
    return sum(xs) / len(xs)


def stdev(xs):
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
"""
SHAPES = """def area(width, height):
    return width * height


def first(items):
    return items[0]
"""
GUARDED_MEAN = "(xs):\n    if not xs:\n        return 0.0\n    return sum"


@dataclass(frozen=True)
class EditCase:
    text: str
    cursor_at: str  # the cursor goes at the first occurrence of this
    instruction: str
    expected: str  # the whole new file a reviewer would accept


@dataclass(frozen=True)
class InfillCase:
    before: str
    after: str
    accepted: tuple[str, ...]  # middles a reviewer would accept (stripped)


EDITS = (
    EditCase(
        STATS, "return sum", "Handle the empty list: return 0.0.",
        STATS.replace("(xs):\n    return sum", GUARDED_MEAN),
    ),
    EditCase(
        SHAPES, "return items", "Return None when `items` is empty.",
        SHAPES.replace("(items):\n", "(items):\n    if not items:\n        return None\n"),
    ),
    EditCase(
        SHAPES, "return width", "Rename the function `area` to `compute`.",
        SHAPES.replace("def area", "def compute"),
    ),
    EditCase(
        SHAPES, "return width", "Rename the parameter `width` to `value`.",
        SHAPES.replace("(width,", "(value,").replace("return width", "return value"),
    ),
    EditCase(
        SHAPES, "return width", "Add type hints (floats).",
        SHAPES.replace("area(width, height):", "area(width: float, height: float) -> float:"),
    ),
)  # fmt: skip

INFILLS = (
    InfillCase("def add(a, b):\n", "\n", ("return a + b", "return b + a")),
    InfillCase("def add(a, b):\n    return ", "\n", ("a + b", "b + a")),
    InfillCase(
        "class Foo:\n    def __init__(self, name):\n        self.name = ", "\n", ("name",)
    ),
    InfillCase("def is_even(n):\n    return n % 2 == ", "\n", ("0",)),
    InfillCase(
        "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        ", "\n",
        ("self.y = y",),
    ),
    InfillCase(
        "def count(items, wanted):\n    total = 0\n    for item in items:\n"
        "        if item == wanted:\n            ",
        "\n    return total\n", ("total += 1",),
    ),
    InfillCase(
        "def maximum(values):\n    best = values[0]\n    for value in values[1:]:\n"
        "        if value > best:\n            ",
        "\n    return best\n", ("best = value",),
    ),
    InfillCase(
        "import os\n\n\ndef here(name):\n    return os.path.", "\n",
        ("join(os.getcwd(), name)", "abspath(name)", "join(os.path.dirname(__file__), name)"),
    ),
)  # fmt: skip


def _edit_rows(backend: GenerationBackend) -> list[dict]:
    from diffcoder.editing.edit_pipeline import EditRequest, run_edit

    rows = []
    for case in EDITS:
        request = EditRequest(
            text=case.text, instruction=case.instruction, path="example.py",
            cursor=case.text.index(case.cursor_at),
        )  # fmt: skip
        started = time.perf_counter()
        result = run_edit(backend, request)
        rows.append({
            "instruction": case.instruction,
            "ok": result.proposed and result.new_text == case.expected,
            "answer": result.new_region_text if result.proposed else None,
            "rejected": None if result.proposed else result.detail,
            "region": case.text[result.region.start : result.region.end],
            "forwards": result.generation.nfe,
            "draft_accepted": result.generation.draft_accepted_tokens,
            "seconds": round(time.perf_counter() - started, 3),
        })  # fmt: skip
    return rows


def _infill_rows(backend: GenerationBackend) -> list[dict]:
    from diffcoder.editing.infill_pipeline import run_infill

    rows = []
    for case in INFILLS:
        text = case.before + case.after
        result = run_infill(backend, text, len(case.before), max_new_tokens=32)
        rows.append({
            "before": case.before, "after": case.after, "middle": result.text,
            "ok": result.text.strip() in case.accepted, "forwards": result.generation.nfe,
        })  # fmt: skip
    return rows


def evaluate_checkpoint(path: Path) -> dict:
    from diffcoder.model.engine import load_engine
    from diffcoder.model.types import LoadOptions

    backend = load_engine(path, LoadOptions(device="cpu", quant="none"))
    return {"edits": _edit_rows(backend), "infills": _infill_rows(backend)}


def _fence(text: str) -> str:
    return f"```python\n{text.rstrip()}\n```"


def render(trained: dict, untrained: dict | None, masked: dict | None, model: str) -> str:
    def score(result: dict, kind: str) -> str:
        rows = result[kind]
        return f"{sum(r['ok'] for r in rows)}/{len(rows)}"

    lines = [
        "# Demo model: examples and figures\n",
        f"Written by `diffcoder bench demo-model --untrained TWIN --out docs` on {model} (TWIN: "
        "its untrained twin, `build/demo-model/untrained` after `make train-tiny`); every output "
        "below is "
        "the model's own, greedy, through the editor's paths (`run_edit` with the region as "
        "draft, `run_infill`). A row counts as good only if the whole new file (edits) or the "
        "middle (infills) is what a reviewer would accept.\n",
        "| | trained | untrained twin |",
        "|---|---:|---:|",
    ]
    for kind in ("edits", "infills"):
        other = score(untrained, kind) if untrained else "–"
        lines.append(f"| {kind} accepted | {score(trained, kind)} | {other} |")
    if masked:
        lines.append(
            "| held-out masked-token accuracy (`diffcoder eval masked`, 48 rows) | "
            f"{masked['trained']['accuracy']:.3f} | {masked['untrained']['accuracy']:.3f} |"
        )
    lines.append("\n## Instruction edits (trained model)\n")
    for row in trained["edits"]:
        verdict = "good" if row["ok"] else "bad"
        lines.append(f"### {row['instruction']} — {verdict}\n")
        lines.append("Region:\n\n" + _fence(row["region"]) + "\n")
        if row["answer"] is None:
            lines.append(f"Refused: {row['rejected']}\n")
        else:
            lines.append(
                f"Answer ({row['forwards']} forwards, {row['draft_accepted']} draft tokens "
                "accepted):\n\n" + _fence(row["answer"]) + "\n"
            )
    lines.append("## Infills (trained model)\n")
    lines.append("| code before the cursor (last line) | model's middle | good |")
    lines.append("|---|---|---|")
    for row in trained["infills"]:
        last = row["before"].rstrip().split("\n")[-1]
        middle = row["middle"].replace("\n", "⏎")
        lines.append(f"| `{last.strip()}` | `{middle}` | {'yes' if row['ok'] else 'no'} |")
    return "\n".join(lines) + "\n"


def run_demo_model_report(
    *, model: Path | None = None, untrained: Path | None = None, out: Path | None = None
) -> int:
    """The report on `model` (else the embedded demo model), beside its untrained twin when
    given; written to `out`/demo-model-examples.md when given."""
    from diffcoder.model.embedded import demo_model_path

    path = model or demo_model_path()
    trained = evaluate_checkpoint(path)
    untrained_result = masked = None
    if untrained:
        from diffcoder.training.config import TrainConfig
        from diffcoder.training.trainer import heldout_accuracy

        untrained_result = evaluate_checkpoint(untrained)
        scores = heldout_accuracy([path, untrained], TrainConfig(out=path))
        masked = {"trained": scores[str(path)], "untrained": scores[str(untrained)]}
    name = "the embedded demo model" if model is None else str(model)
    page = render(trained, untrained_result, masked, name)
    print(page)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "demo-model-examples.md").write_text(page, "utf-8")
    return 0
