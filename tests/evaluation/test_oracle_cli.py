"""`diffcoder eval edit --oracle` through the command line, and the decoding figures every edit
evaluation carries (forwards per token, the draft's accepted share)."""

from __future__ import annotations

import json

from diffcoder.cli.main import main
from diffcoder.evaluation.attempts import EditAttempt
from diffcoder.evaluation.datasets import load_edit_problems
from diffcoder.evaluation.edit_eval import EvalSettings, evaluate_edits, summarize_edits
from diffcoder.evaluation.report import write_report


def _argv(rows) -> list[str]:
    return ["eval", "edit", "--dataset", str(rows), "--format", "canitedit", "--oracle"]


def test_the_oracle_passes_the_synthetic_rows(canitedit_rows, tmp_path, capsys):
    report = tmp_path / "report"
    argv = [*_argv(canitedit_rows), "--scope", "cursor", "--json", "--report", str(report)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["total"], summary["passed"], summary["scope_misses"]) == (5, 5, 0)
    assert summary["pass_at_1"] == 1.0 and summary["model"].startswith("oracle over")
    assert summary["oracle"]["failures_by_cause"] == {} and summary["oracle"]["gold_outputs"] == 5
    text = (report / "report.md").read_text("utf-8")
    assert "| forwards per token |" in text and "- scope_misses: 0" in text


def test_the_human_output_names_scope_misses_and_causes(canitedit_rows, capsys):
    assert main([*_argv(canitedit_rows), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "pass@1 1.000 over 1 problems" in out
    assert "scope_misses: 0" in out and "oracle failures by cause: {}" in out


def test_oracle_options_that_cannot_work_are_clear_errors(canitedit_rows, tmp_path, capsys):
    plain = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    assert main([*plain, "--tokenizer", str(tmp_path / "t.json")]) == 2
    assert "--tokenizer is for --oracle" in capsys.readouterr().err
    assert main([*_argv(canitedit_rows), "--via", "lsp"]) == 2
    assert "drop --via lsp" in capsys.readouterr().err
    assert main([*_argv(canitedit_rows), "--tokenizer", str(tmp_path / "t.json")]) == 2
    assert "is not a file (give a tokenizer.json)" in capsys.readouterr().err


class FixedFigures:
    """An edit backend whose attempts carry given decoding figures (and change nothing)."""

    name = "fixed"

    def __init__(self, figures: list[tuple[float, float]]) -> None:
        self.figures = iter(figures)

    def edit(self, text, instruction, target, *, temperature, seed):
        forwards, share = next(self.figures)
        return EditAttempt(
            new_text=text,
            rejected=None,
            finish_reason="stop",
            region_kind="file",
            nfe=10,
            generated_tokens=40,
            tokens_per_forward=4.0,
            seconds=0.01,
            forwards_per_token=forwards,
            draft_accepted_share=share,
        )

    def close(self) -> None:
        pass


def test_records_and_summary_carry_forwards_per_token_and_draft_share(canitedit_rows, tmp_path):
    problems = load_edit_problems(canitedit_rows, "canitedit", limit=3)
    backend = FixedFigures([(0.25, 0.5), (0.1, 0.9), (0.123456, 0.7)])
    settings = EvalSettings()
    records = evaluate_edits(backend, problems, settings, log=None)
    assert [r["forwards_per_token"] for r in records] == [0.25, 0.1, 0.1235]
    assert [r["draft_accepted_share"] for r in records] == [0.5, 0.9, 0.7]
    assert all("oracle" not in r for r in records)
    summary = summarize_edits(records, settings)
    assert summary["forwards_per_token"]["p50"] == 0.1235
    assert summary["draft_accepted_share"] == {"p50": 0.7, "p90": 0.86, "mean": 0.7}
    assert "scope_misses" not in summary and "oracle" not in summary
    text = write_report(tmp_path, "t", summary, records, {}).read_text("utf-8")
    assert "| draft accepted share | 0.7 | 0.86 | 0.7 |" in text


def test_an_attempt_takes_the_figures_from_the_generation_stats():
    stats = {"finish_reason": "stop", "nfe": 5, "generated_tokens": 50, "tokens_per_forward": 10}
    stats |= {"forwards_per_token": 0.1, "draft_accepted_share": 0.8}
    attempt = EditAttempt.from_stats(stats, new_text="", rejected=None, region_kind="f", seconds=1)
    assert (attempt.forwards_per_token, attempt.draft_accepted_share) == (0.1, 0.8)
