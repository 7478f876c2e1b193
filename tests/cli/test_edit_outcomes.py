"""How `diffcoder edit` and `generate` end, through the real CLI in subprocesses with a scripted
model: the exit code (0 shown or written, 1 refused, cancelled or not written), what is written,
and what stderr and the JSON say. Nothing that is not a kept answer ever touches the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from diffcoder.cli.main import main
from tests.cli.scripted_cli import interrupt_while_decoding, run_scripted, tiny_checkpoint_dir

SOURCE = (
    "import math\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef two():\n    return 2\n"
)
REGION = "def mean(xs):\n    return sum(xs) / len(xs)\n"
FIXED = "def mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n"
BROKEN = "def mean(xs:\n    return sum(xs) / len(xs)\n"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint_dir(tmp_path_factory.mktemp("outcomes"))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "stats.py"
    path.write_text(SOURCE, "utf-8")
    return path


@pytest.fixture
def in_process(monkeypatch, capsys):
    """`main(argv)` in this process with a scripted model: (exit code, stdout, stderr)."""
    import diffcoder.cli.edit as edit_module
    import diffcoder.cli.generate as generate_module
    from diffcoder.testing.scripted_backend import ScriptedBackend

    def run(argv: list[str], answer: str, finish: str = "stop") -> tuple[int, str, str]:
        def scripted(args):
            return ScriptedBackend.from_checkpoint(args.model, answer, finish_reason=finish)

        monkeypatch.setattr(edit_module, "backend_from_args", scripted)
        monkeypatch.setattr(generate_module, "backend_from_args", scripted)
        code = main(argv)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def edit_argv(ckpt: Path, source: Path, *extra: str) -> list[str]:
    return ["edit", "--model", str(ckpt), "--file", str(source), "--line", "4",
            "--instruction", "Handle the empty list.", *extra]  # fmt: skip


def test_a_kept_answer_is_written_with_write_and_exits_0(ckpt, source):
    run = run_scripted(edit_argv(ckpt, source, "--write", "--json"), {"answer": FIXED + "```"})
    assert run.code == 0, run.err
    out = run.json()
    assert out["outcome"] == "proposed" and out["written"] is True and out["rejected"] is None
    assert source.read_text("utf-8") == SOURCE.replace(REGION, FIXED) == out["new_text"]
    assert not list(source.parent.glob(".*diffcoder*"))  # no temporary file left


def test_a_kept_answer_without_write_is_shown_and_exits_0(ckpt, source, in_process):
    code, out, err = in_process(edit_argv(ckpt, source), FIXED + "```")
    assert code == 0, err
    assert "+    if not xs:" in out and "[kept]" in err
    assert source.read_text("utf-8") == SOURCE


def test_an_answer_with_syntax_errors_is_refused_with_1(ckpt, source):
    run = run_scripted(edit_argv(ckpt, source, "--write"), {"answer": BROKEN + "```"})
    assert run.code == 1, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("diffcoder edit: the answer was refused: the model's code adds syntax")
    assert "--allow-syntax-errors" in last and "nothing written" in last
    assert "[refused]" in run.err and run.out == ""
    assert source.read_text("utf-8") == SOURCE


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_refused_without_write_is_1_too(ckpt, source, in_process, extra):
    code, out, err = in_process(edit_argv(ckpt, source, *extra), BROKEN + "```")
    assert code == 1 and "the answer was refused" in err
    if extra:
        payload = json.loads(out)
        assert payload["outcome"] == "refused" and payload["written"] is False
        assert "syntax errors" in payload["rejected"] and payload["replacements"] == []
    assert source.read_text("utf-8") == SOURCE


def test_allowed_syntax_errors_are_written(ckpt, source, in_process):
    argv = edit_argv(ckpt, source, "--write", "--allow-syntax-errors")
    code, _, err = in_process(argv, BROKEN + "```")
    assert code == 0, err
    assert source.read_text("utf-8") == SOURCE.replace(REGION, BROKEN)


def test_an_answer_that_did_not_end_is_refused_with_1(ckpt, source, in_process):
    code, _, err = in_process(edit_argv(ckpt, source, "--write"), "def mean(xs):\n    if", "length")
    assert code == 1
    assert "did not end within" in err and "nothing written" in err
    assert source.read_text("utf-8") == SOURCE


def test_no_change_is_done_and_writes_nothing(ckpt, source, in_process):
    before = source.stat().st_mtime_ns
    code, out, err = in_process(edit_argv(ckpt, source, "--write"), REGION + "```")
    assert code == 0, err
    assert "[kept: no change]" in err and out == ""
    assert source.read_text("utf-8") == SOURCE and source.stat().st_mtime_ns == before


def test_ctrl_c_while_decoding_cancels_with_1_and_writes_nothing(ckpt, source):
    script = {"answer": FIXED + "```", "steps": 2000, "delay": 0.05}
    run = interrupt_while_decoding(edit_argv(ckpt, source, "--write"), script)
    assert run.code == 1, run.err
    assert "cancelling" in run.err and "diffcoder edit: cancelled; nothing written" in run.err
    assert "Traceback" not in run.err
    assert source.read_text("utf-8") == SOURCE


def test_a_file_changed_while_decoding_is_not_overwritten(ckpt, source):
    mine = SOURCE + "\n\ndef three():\n    return 3\n"
    script = {"answer": FIXED + "```", "change_file": [str(source), mine]}
    run = run_scripted(edit_argv(ckpt, source, "--write"), script)
    assert run.code == 1
    assert "changed while the edit was computed" in run.err
    assert source.read_text("utf-8") == mine  # the user's text survives


def test_a_failed_write_is_1_and_keeps_the_file(ckpt, source, monkeypatch, in_process):
    """The disk refuses the new file (ENOSPC) after the model ran."""

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    code, _, err = in_process(edit_argv(ckpt, source, "--write"), FIXED + "```")
    assert code == 1
    assert "cannot write" in err and "No space left on device" in err
    assert source.read_text("utf-8") == SOURCE
    assert not list(source.parent.glob(".*diffcoder*"))


def test_generate_cancelled_by_ctrl_c_exits_1_with_what_it_has(ckpt):
    script = {"answer": "x = 1", "steps": 2000, "delay": 0.05}
    argv = ["generate", "--model", str(ckpt), "--prompt", "def f():", "--json"]
    run = interrupt_while_decoding(argv, script)
    assert run.code == 1, run.err
    assert run.json()["finish_reason"] == "cancelled"
    assert "diffcoder generate: cancelled" in run.err


@pytest.mark.parametrize("finish", ["eos", "stop", "length"])
def test_generate_that_ends_is_0_whatever_the_reason(ckpt, in_process, finish):
    argv = ["generate", "--model", str(ckpt), "--prompt", "def f():", "--json"]
    code, out, err = in_process(argv, "    return 1", finish)
    assert code == 0, err
    assert json.loads(out)["finish_reason"] == finish


def test_ctrl_c_outside_decoding_is_1_with_one_line(ckpt, source, monkeypatch, capsys):
    import diffcoder.cli.edit as edit_module

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(edit_module, "backend_from_args", interrupted)
    assert main(edit_argv(ckpt, source, "--write")) == 1
    assert capsys.readouterr().err.strip().endswith("diffcoder: interrupted")
    assert source.read_text("utf-8") == SOURCE
