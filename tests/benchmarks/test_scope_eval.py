"""EditEval scoping: gold-change extraction, coverage rule, and the measured figures as a floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffcoder.benchmarking.scope_eval import GoldChange, covers, evaluate_scoping, gold_change
from diffcoder.cli.main import main
from diffcoder.testing.shared_data import default_editeval_path

# Measured with `diffcoder bench scope` (docs/scoping.md): 191 of 194 problems covered.
MEASURED_COVERED = 191
MEASURED_PROBLEMS = 194


def test_gold_change_rows() -> None:
    before = "a\nb\nc\nd\n"
    assert gold_change(before, "a\nB\nc\nd\n") == GoldChange(1, ((1, 1),), ())
    assert gold_change(before, "a\nb\nc\nd\ne\n") == GoldChange(3, (), ((4, 4),))
    assert gold_change(before, "x\na\nb\nc\nd\n") == GoldChange(0, (), ((0, 0),))
    assert gold_change(before, "a\nc\nd\n") == GoldChange(1, ((1, 1),), ())


def test_whitespace_and_blank_lines_are_not_a_change() -> None:
    before = "a\nb  \n\nc"
    assert gold_change(before, "a\nb\n\n\nc\n") is None
    # Blank lines at the edges of a hunk do not count, code does.
    change = gold_change("a\n\nb\nc\n", "a\nB\nc\n")
    assert change is not None and change.replaced == ((2, 2),)
    # Code typed into blank lines: an insertion anywhere among them.
    change = gold_change("a\n\n\nb\n", "a\n\nx\nb\n")
    assert change is not None and change.inserted == ((2, 3),) and change.cursor_row == 2


def test_covers() -> None:
    change = GoldChange(2, ((2, 3),), ((5, 5),))
    assert covers(2, 4, change)  # insertion right after the region's last line
    assert covers(0, 9, change)
    assert not covers(3, 9, change)
    assert not covers(2, 3, change)


def test_missing_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scope", "--data", str(tmp_path / "none.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_small_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "mini.jsonl"
    record = {
        "task_id": "mini/0",
        "instruction": "return the square",
        "before": "import os\n\n\ndef f(x):\n    return x\n\n\ndef g():\n    pass\n",
        "after": "import os\n\n\ndef f(x):\n    return x * x\n\n\ndef g():\n    pass\n",
    }
    data.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = evaluate_scoping(data)
    assert result.all.covered == 1 and result.kinds == {"function": 1}
    assert 0.2 < result.all.figures()["mean_region_share"] < 0.6
    assert main(["bench", "scope", "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["coverage"] == 1.0
    assert main(["bench", "scope", "--data", str(data)]) == 0
    table = capsys.readouterr().out
    assert "region kinds: function 1" in table and "100.0%" in table.splitlines()[1]


@pytest.mark.skipif(not default_editeval_path().is_file(), reason="../shared EditEval absent")
def test_editeval_coverage_does_not_drop() -> None:
    result = evaluate_scoping()
    assert result.all.problems == MEASURED_PROBLEMS
    assert result.all.covered >= MEASURED_COVERED, result.misses
    # ...and not by drifting to "always the whole file".
    assert result.kinds["file"] <= 32
    assert result.several_definitions.figures()["mean_region_share"] <= 0.80
