"""`diffcoder edit` and `diffcoder scope` through the real command-line entry point."""

from __future__ import annotations

import json

import pytest

from diffcoder.cli.main import main
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

SOURCE = (
    "import math\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef two():\n    return 2\n"
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("edit") / "tiny", seed=2)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "stats.py"
    path.write_text(SOURCE, "utf-8")
    return path


def test_edit_json_reports_region_outcome_and_stats(ckpt, source, capsys):
    argv = ["edit", "--model", str(ckpt), "--file", str(source), "--line", "4", "--json"]
    code = main([*argv, "--instruction", "Handle the empty list."])
    out = json.loads(capsys.readouterr().out)
    assert code == (0 if out["outcome"] == "proposed" else 1)  # the exit-code table
    assert out["region"]["kind"] == "function" and out["region"]["start"]["line"] == 3
    assert out["region"]["language"] == "python" and out["written"] is False
    assert out["finish_reason"] in {"eos", "stop", "length"} and out["nfe"] >= 1
    if out["rejected"]:
        assert out["replacements"] == [] and out["new_text"] == SOURCE
    assert source.read_text("utf-8") == SOURCE  # nothing written without --write


def test_edit_of_unreadable_file_is_a_clear_error(ckpt, tmp_path, capsys):
    argv = ["edit", "--model", str(ckpt), "--file", str(tmp_path / "missing.py")]
    assert main([*argv, "--instruction", "x"]) == 2
    assert "missing.py" in capsys.readouterr().err


def test_scope_is_wired_into_the_cli(source, capsys):
    assert main(["scope", "--file", str(source), "--line", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "function" and SOURCE[out["start_offset"] :].startswith("def two")


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("stats.py", "using python, from the extension of stats.py"),
        ("stats", "lines and indentation, and the answer's syntax is not checked"),
    ],
)
def test_edit_says_when_the_language_is_unknown(
    ckpt, tmp_path, monkeypatch, capsys, name, fallback
):
    import diffcoder.cli.edit as edit_module
    from diffcoder.testing.scripted_backend import ScriptedBackend

    path = tmp_path / name
    path.write_text(SOURCE, "utf-8")
    answer = "def mean(xs):\n    return sum(xs) / len(xs)\n```"
    monkeypatch.setattr(
        edit_module,
        "backend_from_args",
        lambda args: ScriptedBackend.from_checkpoint(args.model, answer, steps=1),
    )
    argv = ["edit", "--model", str(ckpt), "--file", str(path), "--line", "4"]
    assert main([*argv, "--language", "cobol", "--instruction", "x"]) == 0
    err = capsys.readouterr().err
    note = next(line for line in err.splitlines() if "note:" in line)
    assert note.startswith("diffcoder edit: note: --language 'cobol' has no grammar here")
    assert "supported: python, javascript" in note and fallback in note
