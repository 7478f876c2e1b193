"""EditEval scoping measurement (`diffcoder bench scope`): does the region hold the gold edit?

Cursor on the first changed line of `before`, the instruction given; reports coverage, mean region
size as a share of the file, and how often the region is the whole file.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from diffcoder.editing.budgets import DEFAULT_REGION_TOKENS
from diffcoder.editing.parsing import parse_text
from diffcoder.editing.regions import choose_region
from diffcoder.editing.syntax_scopes import collect_scopes
from diffcoder.testing.shared_data import default_editeval_path


@dataclass(frozen=True)
class GoldChange:
    """Where `after` differs from `before`, in rows of `before`.

    Trailing whitespace, a missing final newline and blank lines at the edges of a hunk are
    ignored: they change no code, and counting them would score layout rather than scoping.
    """

    cursor_row: int
    replaced: tuple[tuple[int, int], ...]  # inclusive row ranges whose code is replaced/deleted
    inserted: tuple[tuple[int, int], ...]  # code inserted at some row boundary in lo..hi


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    return lines[:-1] if len(lines) > 1 and lines[-1] == "" else lines


def gold_change(before: str, after: str) -> GoldChange | None:
    """The gold edit's rows; None when the texts differ only in blank lines and whitespace."""
    old, new = _lines(before), _lines(after)
    replaced: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    cursor: int | None = None
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        code = [row for row in range(i1, i2) if old[row].strip()]
        if code:
            replaced.append((code[0], code[-1]))
            cursor = code[0] if cursor is None else cursor
        elif any(line.strip() for line in new[j1:j2]):
            inserted.append((i1, i2))
            # Code put into blank lines: the cursor goes on the first of them, or on the line
            # the insertion follows.
            cursor = (i1 if i2 > i1 else max(i1 - 1, 0)) if cursor is None else cursor
    if cursor is None:
        return None
    return GoldChange(min(cursor, len(old) - 1), tuple(replaced), tuple(inserted))


def covers(first: int, last: int, change: GoldChange) -> bool:
    """Replaced rows lie in first..last; an insertion may also sit on the region's edges."""
    inside = all(first <= a and b <= last for a, b in change.replaced)
    return inside and all(hi >= first and lo <= last + 1 for lo, hi in change.inserted)


@dataclass(frozen=True)
class ProblemScore:
    task_id: str
    covered: bool
    region_share: float
    whole_file: bool
    kind: str
    top_level_definitions: int


@dataclass
class Tally:
    problems: int = 0
    covered: int = 0
    whole_file: int = 0
    region_share_sum: float = 0.0

    def add(self, score: ProblemScore) -> None:
        self.problems += 1
        self.covered += score.covered
        self.whole_file += score.whole_file
        self.region_share_sum += score.region_share

    def figures(self) -> dict[str, float | int]:
        n = max(self.problems, 1)
        return {
            "problems": self.problems,
            "coverage": round(self.covered / n, 4),
            "mean_region_share": round(self.region_share_sum / n, 4),
            "whole_file_share": round(self.whole_file / n, 4),
        }


@dataclass
class ScopeEvalResult:
    """Figures over all problems, and over files with several top-level definitions (where the
    whole file is a real choice rather than the only function)."""

    all: Tally = field(default_factory=Tally)
    several_definitions: Tally = field(default_factory=Tally)
    kinds: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return float(self.all.figures()["coverage"])

    def as_dict(self) -> dict[str, object]:
        return {
            **self.all.figures(),
            "several_definitions": self.several_definitions.figures(),
            "kinds": dict(sorted(self.kinds.items())),
            "misses": self.misses,
        }


def score_problem(
    record: dict[str, object],
    *,
    language: str = "python",
    budget: int = DEFAULT_REGION_TOKENS,
    count_tokens: Callable[[str], int] | None = None,
) -> ProblemScore | None:
    before, after = str(record["before"]), str(record["after"])
    change = gold_change(before, after)
    if change is None:
        return None
    lines = before.split("\n")
    line = lines[change.cursor_row]
    cursor = sum(len(text) + 1 for text in lines[: change.cursor_row])
    cursor += len(line) - len(line.lstrip())
    region = choose_region(
        before,
        language,
        cursor=cursor,
        instruction=str(record.get("instruction") or ""),
        budget=budget,
        count_tokens=count_tokens,
    )
    first = before.count("\n", 0, region.start)
    last = first + before.count("\n", region.start, max(region.start, region.end - 1))
    content_start = len(before) - len(before.lstrip())
    content_end = len(before.rstrip())
    tree = parse_text(before, language)
    definitions = 0
    if tree is not None:
        scopes = collect_scopes(tree, language, before)
        top = scopes.outermost_statements(None)
        definitions = sum(
            any(
                d.kind in ("function", "class")
                and d.node.start_byte >= s.start_byte
                and d.node.end_byte <= s.end_byte
                for d in scopes.definitions
            )
            for s in top
        )
    return ProblemScore(
        task_id=str(record.get("task_id", record.get("id", "?"))),
        covered=covers(first, last, change),
        region_share=(region.end - region.start) / max(len(before), 1),
        whole_file=region.start <= content_start and region.end >= content_end,
        kind=region.kind,
        top_level_definitions=definitions,
    )


def evaluate_scoping(
    path: Path | None = None,
    *,
    budget: int = DEFAULT_REGION_TOKENS,
    count_tokens: Callable[[str], int] | None = None,
) -> ScopeEvalResult:
    """Score every EditEval problem (skipping ones whose gold edit is whitespace only)."""
    source = path or default_editeval_path()
    if not source.is_file():
        raise FileNotFoundError(
            f"EditEval data not found at {source}; pass --data or set DIFFCODER_SHARED_DIR"
        )
    result = ScopeEvalResult()
    with source.open(encoding="utf-8") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            score = score_problem(json.loads(raw), budget=budget, count_tokens=count_tokens)
            if score is None:
                continue
            result.all.add(score)
            if score.top_level_definitions > 1:
                result.several_definitions.add(score)
            result.kinds[score.kind] += 1
            if not score.covered:
                result.misses.append(score.task_id)
    return result


def summary_lines(result: ScopeEvalResult) -> list[str]:
    """The figures as a small table, for a terminal."""
    lines = [f"{'':24}{'problems':>9}{'coverage':>10}{'region':>9}{'whole file':>12}"]
    for label, tally in (("all", result.all), ("2+ top-level defs", result.several_definitions)):
        f = tally.figures()
        lines.append(
            f"{label:24}{f['problems']:>9}{f['coverage']:>10.1%}"
            f"{f['mean_region_share']:>9.1%}{f['whole_file_share']:>12.1%}"
        )
    lines.append("region kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(result.kinds.items())))
    lines.append(
        "coverage: gold change inside the region; region: mean share of the file's characters"
    )
    return lines
