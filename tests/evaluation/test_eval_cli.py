"""`diffcoder eval edit|infill` through the command line's entry point."""

from __future__ import annotations

import json

from diffcoder.cli.main import main


def test_references_pass_and_originals_fail_on_synthetic_rows(canitedit_rows, capsys):
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    assert main([*argv, "--check-references", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["total"], out["passed"], out["before_passed"]) == (5, 5, 0)
    assert (out["flaky"], out["env_errors"], out["env_errors_by_package"]) == ([], 0, {})
    assert out["sandbox"].startswith(("namespaces", "bubblewrap"))
    assert main([*argv, "--check-references"]) == 0  # the same, for people
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "after passing: 5/5 (all should pass)"
    assert "flaky (outcome changed between runs): none" in lines
    assert "environment errors (left out): 0" in lines


def test_every_editeval_reference_passes_and_needs_nothing_missing(editeval_path, capsys):
    """The acceptance check on the whole dev set: every gold program passes (a timing test that
    failed once under load and passed on a rerun is named flaky), env_errors is 0, and an
    original passes only where its tests time it."""
    argv = ["eval", "edit", "--dataset", str(editeval_path), "--format", "editeval"]
    assert main([*argv, "--check-references", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {
        row["task_id"]: row
        for row in map(json.loads, editeval_path.read_text("utf-8").splitlines())
    }
    assert out["total"] == len(rows) == 194
    assert out["failed"] == [] and out["env_errors"] == 0
    flaky_gold = [f["id"] for f in out["flaky"] if f["program"] == "after"]
    assert out["passed"] + len(flaky_gold) == out["total"]
    for key in out["before_passed_ids"] + [f["id"] for f in out["flaky"]]:
        assert "time.time()" in rows[key]["tests"], key


def test_edit_run_writes_results_and_report(eval_ckpt, canitedit_rows, tmp_path, capsys):
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    argv += ["--model", str(eval_ckpt), "--device", "cpu", "--limit", "1", "--scope", "file"]
    out_file, report = tmp_path / "results.jsonl", tmp_path / "report"
    assert main([*argv, "--out", str(out_file), "--report", str(report), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == 1 and 0.0 <= summary["pass_at_1"] <= 1.0
    assert summary["via"] == "direct" and set(summary["latency_seconds"]) == {"p50", "p90", "mean"}
    (record,) = [json.loads(line) for line in out_file.read_text("utf-8").splitlines()]
    assert record["id"] == "0_clamp_bounds" and record["scope"] == "file"
    text = (report / "report.md").read_text("utf-8")
    assert "pass@1" in text and (report / "latency.png").is_file()
    assert (report / "pass_by_kind.png").is_file()


def test_lsp_sampling_is_a_clear_error(eval_ckpt, canitedit_rows, capsys):
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    assert main([*argv, "--model", str(eval_ckpt), "--via", "lsp", "--samples", "3"]) == 2
    assert "--via lsp decodes greedily" in capsys.readouterr().err


def test_without_a_model_eval_uses_the_demo_model(canitedit_rows, capsys):
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    assert main([*argv, "--limit", "1", "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["model"] == "embedded demo model"
    assert "No --model given: using the embedded demo model" in captured.err


def test_infill_run_and_references(eval_ckpt, infilling_path, capsys):
    argv = ["eval", "infill", "--dataset", str(infilling_path), "--limit", "2", "--json"]
    assert main([*argv, "--model", str(eval_ckpt), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 2 and 0.0 <= out["pass_at_1"] <= 1.0 and out["nfe"]["p50"] >= 1
    assert main([*argv, "--check-references"]) == 0
    refs = json.loads(capsys.readouterr().out)
    assert refs["total"] == 2 and refs["passed"] == 2


def test_infill_without_a_model_uses_the_demo_model(infilling_path, capsys):
    argv = ["eval", "infill", "--dataset", str(infilling_path), "--limit", "1", "--json"]
    assert main([*argv, "--device", "cpu", "--max-new-tokens", "16"]) == 0
    captured = capsys.readouterr()
    assert "No --model given: using the embedded demo model" in captured.err
    summary = json.loads(captured.out)
    assert summary["total"] == 1 and summary["model"] == "embedded demo model"


def test_a_missing_dataset_is_a_clear_error(tmp_path, capsys):
    argv = ["eval", "edit", "--dataset", str(tmp_path / "none.jsonl"), "--format", "canitedit"]
    assert main([*argv, "--check-references"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffcoder eval: error:") and "none.jsonl" in err


def test_a_failing_reference_exits_1(tmp_path, capsys):
    row = {
        "full_name": "0_wrong_gold",
        "before": "def f():\n    return 1\n",
        "after": "def f():\n    return 3\n",  # the gold itself fails its test
        "tests": "assert f() == 2\n",
        "instruction_descriptive": "return two",
    }
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    argv = ["eval", "edit", "--dataset", str(data), "--format", "canitedit"]
    assert main([*argv, "--check-references", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in out["failed"]] == ["0_wrong_gold"] and out["env_errors"] == 0
