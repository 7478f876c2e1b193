"""Edit evaluation: targets, scoring with scripted backends, the direct backend on a tiny model."""

from __future__ import annotations

import pytest

from diffcoder.evaluation.attempts import EditAttempt, EditTarget
from diffcoder.evaluation.backends import DirectBackend, open_backend
from diffcoder.evaluation.datasets import load_edit_problems
from diffcoder.evaluation.edit_eval import (
    EvalSettings,
    edit_target,
    evaluate_edits,
    first_changed_offset,
    summarize_edits,
)


def test_cursor_goes_to_the_first_changed_line_of_before():
    before = "def f():\n    a = 1\n    return a\n"
    after = "def f():\n    a = 1\n    return a + 1\n"
    assert before[first_changed_offset(before, after) :].startswith("return a\n")
    assert first_changed_offset(before, before) == 0
    appended = before + "\n\ndef g():\n    pass\n"
    assert first_changed_offset(before, appended) == before.rindex("return")


class ScriptedEdits:
    """An edit backend answering each program with a fixed edit (the gold one on even seeds when
    `flaky`)."""

    name = "scripted"

    def __init__(self, answers: dict[str, str], *, flaky: bool = False) -> None:
        self.answers, self.flaky, self.targets = answers, flaky, []

    def edit(self, text, instruction, target, *, temperature, seed):
        self.targets.append(target)
        new_text = text if self.flaky and seed % 2 else self.answers.get(text, text)
        return EditAttempt(
            new_text=new_text,
            rejected=None,
            finish_reason="eos",
            region_kind="file",
            nfe=10,
            generated_tokens=20,
            tokens_per_forward=2.0,
            seconds=0.01 * (seed + 1),
        )

    def close(self) -> None:
        pass


def test_gold_edits_pass_and_unchanged_programs_fail(canitedit_rows):
    problems = load_edit_problems(canitedit_rows, "canitedit")
    gold = ScriptedEdits({p.before: p.after for p in problems})
    settings = EvalSettings(scope="cursor")
    summary = summarize_edits(evaluate_edits(gold, problems, settings, log=None), settings)
    assert summary["total"] == 5 and summary["pass_at_1"] == 1.0
    assert set(summary["pass_at_1_by_change_kind"]) == {"adaptive", "corrective", "perfective"}
    assert all(t.cursor is not None and t.selection is None for t in gold.targets)
    unchanged = evaluate_edits(ScriptedEdits({}), problems, EvalSettings(), log=None)
    assert summarize_edits(unchanged, EvalSettings())["pass_at_1"] == 0.0


def test_several_samples_use_the_unbiased_estimator(canitedit_rows):
    problems = load_edit_problems(canitedit_rows, "canitedit", limit=2)
    backend = ScriptedEdits({p.before: p.after for p in problems}, flaky=True)
    settings = EvalSettings(samples=4, temperature=0.2)
    records = evaluate_edits(backend, problems, settings, log=None)
    assert len(records) == 8 and [r["sample"] for r in records[:4]] == [0, 1, 2, 3]
    summary = summarize_edits(records, settings)
    assert summary["pass_at_1"] == 0.5
    assert summary["pass_at_k"]["4"] == 1.0
    assert summary["latency_seconds"]["p50"] == pytest.approx(0.025)


def test_file_scope_selects_the_whole_program(canitedit_rows):
    (problem,) = load_edit_problems(canitedit_rows, "canitedit", limit=1)
    assert edit_target(problem, "file") == EditTarget((0, len(problem.before)), None)
    with pytest.raises(ValueError, match="--scope"):
        EvalSettings(scope="module")


def test_lsp_backend_without_a_model_serves_the_demo_model_and_never_loads_in_process():
    # Its runs are in test_lsp_backend.py; here only what open_backend itself decides.
    def never_load():
        raise AssertionError("the lsp backend must not load the model in process")

    backend = open_backend("lsp", never_load, device="cpu")
    try:
        assert "--model" not in backend.command
        assert backend.model["detail"].startswith("demo model")
    finally:
        backend.close()


def test_direct_backend_runs_the_edit_pipeline(eval_ckpt, canitedit_rows):
    from diffcoder.model.engine import load_engine
    from diffcoder.model.types import LoadOptions

    backend = open_backend("direct", lambda: load_engine(eval_ckpt, LoadOptions(device="cpu")))
    assert isinstance(backend, DirectBackend)
    problems = load_edit_problems(canitedit_rows, "canitedit", limit=1)
    (record,) = evaluate_edits(backend, problems, EvalSettings(scope="cursor"), log=None)
    assert record["finish_reason"] in {"eos", "stop", "length"} and record["nfe"] >= 1
    assert record["region_kind"] == "function" and record["latency_seconds"] > 0
    # the figures come from the generation's stats(): consistent with each other
    assert record["tokens_per_forward"] == round(record["generated_tokens"] / record["nfe"], 4)
    assert 0 < record["model_seconds"] <= record["latency_seconds"]
    if record["rejected"]:
        assert record["new_text"] == problems[0].before and not record["passed"]
