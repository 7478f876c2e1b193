"""Data set loaders: CanItEdit rows (JSONL, parquet), EditEval's runnable forms, infilling rows."""

from __future__ import annotations

import json
import sys

import pytest

from diffcoder.evaluation.datasets import (
    DatasetError,
    edit_program,
    load_edit_problems,
    load_infill_problems,
)


def test_canitedit_rows_carry_instruction_kind_and_change_kind(canitedit_rows):
    problems = load_edit_problems(canitedit_rows, "canitedit")
    assert len(problems) == 5
    first = problems[0]
    assert first.id == "0_clamp_bounds" and first.change_kind == "corrective"
    assert first.instruction.startswith("Fix clamp")
    lazy = load_edit_problems(canitedit_rows, "canitedit", instruction="lazy", limit=2)
    assert [p.instruction for p in lazy] == ["fix clamp", "add peek"]
    assert edit_program("x = 1", "assert x") == "x = 1\nassert x"


def test_editeval_uses_the_runnable_programs_with_their_context(editeval_path):
    rows = [json.loads(line) for line in editeval_path.read_text("utf-8").splitlines()]
    problems = load_edit_problems(editeval_path, "editeval")
    assert len(problems) == len(rows)
    embedded = next(i for i, row in enumerate(rows) if row["exec_before"] != row["before"])
    assert problems[embedded].before == rows[embedded]["exec_before"]
    assert rows[embedded]["before"] in problems[embedded].before


def test_bad_input_is_a_clear_error(tmp_path, canitedit_rows):
    with pytest.raises(DatasetError, match="does not exist"):
        load_edit_problems(tmp_path / "nope.jsonl", "canitedit")
    with pytest.raises(DatasetError, match="format must be"):
        load_edit_problems(canitedit_rows, "humaneval")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"before": "x"}\nnot json\n', "utf-8")
    with pytest.raises(DatasetError, match="after"):
        load_edit_problems(broken, "canitedit")
    broken.write_text("[1]\n", "utf-8")
    with pytest.raises(DatasetError, match="JSON object"):
        load_edit_problems(broken, "canitedit")


def test_parquet_needs_pyarrow_or_reads_the_same_rows(tmp_path, canitedit_rows, monkeypatch):
    path = tmp_path / "test.parquet"
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        path.write_bytes(b"PAR1")
        with pytest.raises(DatasetError, match="pip install pyarrow"):
            load_edit_problems(path, "canitedit")
        return
    rows = [json.loads(line) for line in canitedit_rows.read_text("utf-8").splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert load_edit_problems(path, "canitedit") == load_edit_problems(canitedit_rows, "canitedit")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DatasetError, match="pip install pyarrow"):
        load_edit_problems(path, "canitedit")


def test_infilling_rows_build_the_checked_program(infilling_path):
    (problem,) = load_infill_problems(infilling_path, limit=1)
    program = problem.program(problem.middle)
    assert program.startswith(problem.prefix + problem.middle + problem.suffix)
    assert program.rstrip().endswith(f"check({problem.entry_point})")
