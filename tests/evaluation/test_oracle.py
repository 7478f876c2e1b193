"""The gold-answer oracle: where a prompt's region is, what the gold has there, and the product's
edit path around it (`diffcoder eval edit --oracle`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcoder.editing.edit_pipeline import EditRequest, run_edit
from diffcoder.evaluation.datasets import EditProblem, load_edit_problems
from diffcoder.evaluation.edit_eval import EvalSettings, evaluate_edits, summarize_edits
from diffcoder.evaluation.oracle import (
    GOLD,
    SCOPE_MISS,
    UNLOCATED,
    OracleBackend,
    ShownRegion,
    gold_answer,
    locate,
    shown_region,
)
from diffcoder.evaluation.oracle_eval import OracleEdits, load_oracle, same_code
from diffcoder.testing.shared_data import default_real_tokenizer

BEFORE = (
    "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\ndef double(x):\n    return x + x\n"
)
AFTER = BEFORE.replace("3.14 * r * r", "math.pi * r ** 2")


@pytest.fixture(scope="module")
def oracle(eval_ckpt: Path) -> OracleBackend:
    return load_oracle(eval_ckpt, None)


def test_the_gold_inside_the_region_is_the_answer():
    verdict = gold_answer(BEFORE, AFTER, (3, 5))
    assert verdict.verdict == GOLD
    assert verdict.answer == "def area(r):\n    return math.pi * r ** 2\n"
    assert verdict.expected_text == AFTER


def test_a_change_outside_the_region_is_a_scope_miss():
    verdict = gold_answer(BEFORE, AFTER, (7, 9))
    assert verdict.verdict == SCOPE_MISS and verdict.outside_row == 4


def test_blank_lines_and_trailing_spaces_outside_change_no_code():
    after = AFTER.replace("import math\n\n\n", "import math   \n\n").rstrip("\n") + "\n\n\n"
    verdict = gold_answer(BEFORE, after, (3, 6))
    assert verdict.verdict == GOLD and verdict.answer.endswith("math.pi * r ** 2\n")
    assert verdict.expected_text == AFTER  # the region keeps its own blank line at its end


def test_code_inserted_at_the_region_edge_is_inside_and_a_deleted_region_is_empty():
    added = BEFORE + "\n\ndef triple(x):\n    return 3 * x\n"
    verdict = gold_answer(BEFORE, added, (7, 9))
    assert verdict.verdict == GOLD and verdict.answer.endswith("def triple(x):\n    return 3 * x\n")
    removed = gold_answer(BEFORE, BEFORE.replace("def double(x):\n    return x + x\n", ""), (7, 9))
    assert removed.verdict == GOLD and removed.answer == ""
    assert removed.expected_text == BEFORE[: BEFORE.index("def double")]


def test_a_region_found_twice_is_placed_by_the_lines_around_the_marker():
    text = "a = 1\nx = 0\nb = 2\nx = 0\n"
    shown = ShownRegion("x = 0\n", above=("b = 2",), below=())
    assert locate(text, shown) == (3, 4)
    assert locate(text, ShownRegion("x = 0\n", above=("a = 1",))) == (1, 2)
    assert locate(text, ShownRegion("y = 0\n")) is None


def test_the_region_is_read_back_from_the_prompt(oracle):
    from diffcoder.editing.edit_pipeline import prepare_edit

    request = EditRequest(BEFORE, "Use math.pi.", "python", "geo.py", cursor=BEFORE.index("return"))
    _, region, prompt = prepare_edit(oracle.tokenizer, request)
    shown = shown_region(oracle.tokenizer.decode(prompt.prompt_ids), prompt.stop_strings[0])
    assert shown is not None and shown.region == BEFORE[region.start : region.end]
    assert shown.above[0] == "" and "import math" in shown.above
    assert locate(BEFORE, shown) == (3, 5)


def test_through_the_pipeline_the_oracle_leaves_the_gold_or_nothing(oracle):
    oracle.gold = (BEFORE, AFTER)
    cursor = BEFORE.index("3.14")
    inside = run_edit(oracle, EditRequest(BEFORE, "Use math.pi.", "python", cursor=cursor))
    assert inside.proposed and inside.new_text == AFTER and inside.finish_reason == "stop"
    assert oracle.verdicts[-1].verdict == GOLD
    outside = run_edit(
        oracle, EditRequest(BEFORE, "Use math.pi.", "python", cursor=BEFORE.index("x + x"))
    )
    assert outside.new_text == BEFORE and oracle.verdicts[-1].verdict == SCOPE_MISS
    short = run_edit(oracle, EditRequest(BEFORE, "Use math.pi.", "python", max_new_tokens=5))
    assert short.finish_reason == "length" and short.outcome == "refused"
    assert len(short.generation.token_ids) == 5


def test_a_prompt_that_is_not_an_edit_prompt_is_unlocated(oracle):
    from diffcoder.model.types import DecodeConfig

    oracle.gold = (BEFORE, AFTER)
    ids = oracle.tokenizer.encode("def f():\n", add_special_tokens=False)
    result = oracle.generate(ids, DecodeConfig(max_new_tokens=16, stop_strings=("```",)))
    assert oracle.verdicts[-1].verdict == UNLOCATED and result.text == ""


def test_synthetic_rows_pass_at_file_scope_and_causes_are_listed(oracle, canitedit_rows):
    problems = load_edit_problems(canitedit_rows, "canitedit")
    for scope in ("file", "cursor"):
        settings = EvalSettings(scope=scope)
        edits = OracleEdits.for_problems(oracle, problems)
        records = evaluate_edits(edits, problems, settings, log=None)
        summary = summarize_edits(records, settings)
        assert summary["passed"] == summary["total"] == 5 and summary["pass_at_1"] == 1.0
        assert summary["scope_misses"] == 0 and summary["oracle"]["gold_outputs"] == 5
        assert summary["oracle"]["failures_by_cause"] == {}
        assert all(r["oracle"]["cause"] is None for r in records)


def test_a_scope_miss_fails_and_is_named_by_its_cause(oracle):
    problem = EditProblem(
        "geo", BEFORE, AFTER, "assert abs(area(1) - math.pi) < 1e-12\n", "Use math.pi.", "x"
    )
    settings = EvalSettings(scope="cursor")
    edits = OracleEdits.for_problems(oracle, [problem])
    (record,) = evaluate_edits(edits, [problem], settings, log=None)
    assert record["passed"] and record["oracle"]["cause"] is None
    # the same change, with the cursor's function elsewhere: pretend the gold also edits `double`
    both = AFTER.replace("x + x", "2 * x")
    missed = EditProblem("geo2", BEFORE, both, "assert area(1) == math.pi\n", "Use math.pi.", "x")
    edits = OracleEdits.for_problems(oracle, [missed])
    records = evaluate_edits(edits, [missed], settings, log=None)
    summary = summarize_edits(records, settings)
    assert summary["scope_misses"] == 1 and summary["passed"] == 0
    assert summary["oracle"]["failures_by_cause"] == {"scope_miss": ["geo2"]}
    assert "outside the chosen region" in summary["oracle"]["causes"]["scope_miss"]
    assert records[0]["new_text"] == BEFORE  # the region came back unchanged


def test_same_code_ignores_line_ends_and_trailing_space_only():
    assert same_code("a = 1  \r\nb = 2\n\n", "a = 1\nb = 2")
    assert not same_code("a = 1\n\nb = 2\n", "a = 1\nb = 2\n")


def test_two_problems_the_oracle_cannot_tell_apart_are_refused(oracle):
    one = EditProblem("a", "x = 1\n", "x = 2\n", "", "Change it.", "x")
    two = EditProblem("b", "x = 1\n", "x = 3\n", "", "Change it.", "x")
    with pytest.raises(ValueError, match="cannot tell them apart"):
        OracleEdits.for_problems(oracle, [one, two])


@pytest.mark.parametrize("scope", ["file", "cursor"])
def test_every_editeval_gold_survives_the_pipeline(editeval_path, scope):
    """No sandbox: that the pipeline leaves each gold program (up to trailing whitespace) is what
    pass@1 rests on; at the cursor, only the gold changes outside the region may be lost."""
    if not default_real_tokenizer().is_file():
        pytest.skip("the real tokenizer is absent")
    oracle = load_oracle(None, default_real_tokenizer())
    problems = load_edit_problems(editeval_path, "editeval")
    edits = OracleEdits.for_problems(oracle, problems)
    from diffcoder.evaluation.edit_eval import edit_target

    causes: dict[str, list[str]] = {}
    for problem in problems:
        attempt = edits.edit(
            problem.before, problem.instruction, edit_target(problem, scope), temperature=0, seed=0
        )
        assert attempt.oracle is not None
        causes.setdefault(str(attempt.oracle["cause"]), []).append(problem.id)
    if scope == "file":
        assert set(causes) == {"None"}
    else:
        assert set(causes) <= {"None", "scope_miss"}
        assert len(causes.get("scope_miss", [])) <= 56
