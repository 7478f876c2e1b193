"""Evaluation data set loaders: CanItEdit (JSONL or parquet), EditEval, HumanEval-infilling.

Every edit data set becomes `EditProblem`s (program before/after, tests, instruction, change kind);
every infilling data set becomes `InfillProblem`s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EDIT_FORMATS = ("canitedit", "editeval")
INSTRUCTION_KINDS = ("descriptive", "lazy")


class DatasetError(ValueError):
    """A data set file is missing, unreadable, or lacks the fields its format needs."""


@dataclass(frozen=True)
class EditProblem:
    id: str
    before: str  # the program the model edits
    after: str  # the gold program (for --check-references)
    tests: str  # appended to the program: `program + "\n" + tests` must exit 0
    instruction: str
    change_kind: str  # CanItEdit's taxonomy.change_kind; "unknown" where a set has none


@dataclass(frozen=True)
class InfillProblem:
    id: str
    prefix: str
    suffix: str
    middle: str  # the gold middle
    test: str  # defines check(candidate)
    entry_point: str

    def program(self, middle: str) -> str:
        return f"{self.prefix}{middle}{self.suffix}\n{self.test}\ncheck({self.entry_point})\n"


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object per line")
            yield row


def _read_parquet(path: Path) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            f"{path} is parquet, which needs pyarrow: `pip install pyarrow`, or export the data "
            "set as JSONL (one object per line)"
        ) from None
    yield from pq.read_table(path).to_pylist()


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"data set {path} does not exist")
    if path.suffix == ".parquet":
        return _read_parquet(path)
    return _read_jsonl(path)


def _field(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field {name!r} is missing or not a string")
    return value


def canitedit_problem(row: dict[str, Any], instruction: str = "descriptive") -> EditProblem:
    where = f"CanItEdit row {row.get('full_name') or row.get('id')!r}"
    taxonomy = row.get("taxonomy") or {}
    return EditProblem(
        id=str(row.get("full_name") or row.get("name") or row.get("id")),
        before=_field(row, "before", where),
        after=_field(row, "after", where),
        tests=_field(row, "tests", where),
        instruction=_field(row, f"instruction_{instruction}", where),
        change_kind=str(taxonomy.get("change_kind") or "unknown"),
    )


def editeval_problem(row: dict[str, Any]) -> EditProblem:
    # The runnable forms embed `before`/`after` in the row's `context` (a class around a method,
    # say): the model edits that whole file, as a user would.
    where = f"EditEval row {row.get('task_id')!r}"
    return EditProblem(
        id=str(row.get("task_id") or row.get("id")),
        before=_field(row, "exec_before", where),
        after=_field(row, "exec_after", where),
        tests=_field(row, "tests", where),
        instruction=_field(row, "instruction", where).strip(),
        change_kind="unknown",
    )


def load_edit_problems(
    path: str | Path, fmt: str, *, instruction: str = "descriptive", limit: int | None = None
) -> list[EditProblem]:
    if fmt not in EDIT_FORMATS:
        raise DatasetError(f"format must be one of {', '.join(EDIT_FORMATS)}, not {fmt!r}")
    if instruction not in INSTRUCTION_KINDS:
        raise DatasetError(f"instruction must be 'descriptive' or 'lazy', not {instruction!r}")
    problems = []
    for row in read_rows(path):
        if limit is not None and len(problems) >= limit:
            break
        if fmt == "canitedit":
            problems.append(canitedit_problem(row, instruction))
        else:
            problems.append(editeval_problem(row))
    return problems


def load_infill_problems(path: str | Path, *, limit: int | None = None) -> list[InfillProblem]:
    problems = []
    for row in read_rows(path):
        if limit is not None and len(problems) >= limit:
            break
        where = f"infilling row {row.get('task_id')!r}"
        problems.append(
            InfillProblem(
                id=str(row.get("task_id")),
                prefix=_field(row, "prefix", where),
                suffix=_field(row, "suffix", where),
                middle=_field(row, "middle", where),
                test=_field(row, "test", where),
                entry_point=_field(row, "entry_point", where),
            )
        )
    return problems


def edit_program(program: str, tests: str) -> str:
    """What runs for an edit problem, as CanItEdit defines it."""
    return program + "\n" + tests
