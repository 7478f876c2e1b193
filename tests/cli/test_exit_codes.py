"""The exit-code table (README) through the real command line, in subprocesses: every command
answers bad input with 2 and one line on stderr (no traceback), before any model loads.

0 done; 1 refused or failed (refused or cancelled answer, nothing written); 2 bad input or
environment. The refused paths of `edit` and `generate` are in test_edit_outcomes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.scripted_cli import Run, run_cli, run_scripted, tiny_checkpoint_dir

SOURCE = "import math\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    paths = {
        "py": root / "stats.py",
        "binary": root / "blob.py",
        "latin1": root / "latin1.py",
        "dir": root / "a-directory",
        "missing": root / "missing.py",
        "missing_jsonl": root / "missing.jsonl",
        "jsonl": root / "rows.jsonl",
    }
    paths["py"].write_text(SOURCE, "utf-8")
    paths["binary"].write_bytes(b"def f():\n    return 1\x00\x01\n")
    paths["latin1"].write_bytes("x = 'é'\n".encode("latin-1"))
    paths["dir"].mkdir()
    paths["jsonl"].write_text('{"x": 1}\n', "utf-8")
    return paths


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint_dir(tmp_path_factory.mktemp("codes"))


def one_line_error(run: Run, *words: str) -> None:
    """Exit 2, no traceback, and the last stderr line says what is wrong."""
    assert run.code == 2, run.err
    assert "Traceback" not in run.err, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("diffcoder"), last
    for word in words:
        assert word in last, last


# `diffcoder edit` bad input: refused before the (scripted) model loads, with the reason.
EDIT_BAD_INPUT = [
    ("empty instruction", ["--file", "{py}", "--instruction", "  "], ["instruction is empty"]),
    ("missing file", ["--file", "{missing}", "--instruction", "x"], ["cannot read", "missing.py"]),
    ("directory", ["--file", "{dir}", "--instruction", "x"], ["cannot read", "a-directory"]),
    ("not UTF-8", ["--file", "{latin1}", "--instruction", "x"], ["not UTF-8"]),
    ("NUL bytes", ["--file", "{binary}", "--instruction", "x"], ["looks binary"]),
    (
        "line past the end",
        ["--file", "{py}", "--instruction", "x", "--line", "9"],
        ["--line 9", "has 6 lines", "0 to 5"],
    ),
    (
        "range past the end",
        ["--file", "{py}", "--instruction", "x", "--range", "1:0-40:0"],
        ["40", "has 6 lines"],
    ),
    ("column alone", ["--file", "{py}", "--instruction", "x", "--column", "2"], ["--line"]),
    (
        "instruction too long",
        ["--file", "{py}", "--line", "4", "--instruction", "word " * 9000],
        ["instruction is too long", "shorten the instruction by at least"],
    ),
]


@pytest.mark.parametrize(
    ("argv", "words"), [c[1:] for c in EDIT_BAD_INPUT], ids=[c[0] for c in EDIT_BAD_INPUT]
)
def test_edit_bad_input_exits_2_before_the_model_loads(files, ckpt, argv, words):
    argv = [arg.format(**{k: str(v) for k, v in files.items()}) for arg in argv]
    run = run_scripted(["edit", "--model", str(ckpt), *argv], {"answer": "x"})
    one_line_error(run, *words)
    assert not run.loaded, run.err


def test_too_long_instruction_names_the_instruction_not_the_region(files, ckpt):
    argv = ["edit", "--model", str(ckpt), "--file", str(files["py"]), "--line", "4"]
    run = run_scripted([*argv, "--instruction", "word " * 9000], {"answer": "x"})
    one_line_error(run)
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("diffcoder edit: the instruction is too long: 9000 tokens;")
    over = int(last.split("by at least ")[1].split()[0])
    assert 0 < over < 9000  # by how much, a positive number of tokens
    assert "smaller region" not in last and "-" not in last.split("context")[0].split("tokens")[0]
    assert "sequence length is longer" not in run.err  # transformers' warning stays out


def test_a_missing_checkpoint_is_2_with_its_path(files):
    run = run_cli(["generate", "--model", "/no/such/ckpt", "--prompt", "x"])
    one_line_error(run, "/no/such/ckpt")


def test_bad_input_wins_over_a_missing_checkpoint(files):
    """The file is checked before the checkpoint is even looked at."""
    run = run_cli(["edit", "--model", "/no/such/ckpt", "--file", str(files["binary"]),
                   "--instruction", "x"])  # fmt: skip
    one_line_error(run, "looks binary")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["scope", "--file", "{binary}"], ["looks binary"]),
        (["scope", "--file", "{py}", "--range", "0:0-6:0"], ["--range", "has 6 lines"]),
        (["generate", "--prompt-file", "{dir}"], ["cannot read --prompt-file"]),
        (["generate", "--prompt-file", "{latin1}"], ["not UTF-8"]),
        (["generate", "--prompt", "x", "--draft-file", "{missing}"], ["--draft-file"]),
        (["generate", "--prompt", ""], ["prompt is empty"]),
        (["generate", "--prompt", "x", "--temperature", "-1"], ["temperature"]),
        (["generate", "--prompt", "x", "--draft-ids", "3,99999999"], ["99999999", "not a token"]),
        (["eval", "masked", "--model", "/no/such/ckpt"], ["/no/such/ckpt", "does not exist"]),
        (["eval", "edit", "--dataset", "{missing_jsonl}", "--format", "canitedit"], ["missing"]),
        (["eval", "edit", "--dataset", "{jsonl}", "--format", "canitedit"], ["before"]),
        (["eval", "infill", "--dataset", "{jsonl}", "--out", "{dir}"], ["--out", "not a file"]),
        (["bench", "lsp", "--file", "{binary}"], ["looks binary"]),
        (["bench", "scope", "--data", "{missing}"], ["missing"]),
        (["demo", "--file", "{dir}"], ["cannot read"]),
        (["demo", "--file", "{binary}"], ["looks binary"]),
        (["demo", "--model", "/no/such/ckpt"], ["/no/such/ckpt", "does not exist"]),
        (
            ["edit", "--model", "/no/such/ckpt", "--file", "{py}", "--instruction", "x"],
            ["/no/such"],
        ),
        (["train", "--out", "{py}"], ["--out", "not a directory"]),
        (["make-tiny-checkpoint", "{py}"], ["not a directory"]),
    ],
)
def test_every_command_answers_bad_input_with_2(files, argv, words):
    run = run_cli([arg.format(**{k: str(v) for k, v in files.items()}) for arg in argv])
    one_line_error(run, *words)
    assert not run.loaded, run.err


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--prompt", "x", "--max-new-tokens", "0"],
        ["generate", "--prompt", "x", "--steps-per-block", "0"],
        ["generate", "--prompt", "x", "--draft-ids=4,-5"],
        ["scope", "--file", "f.py", "--budget", "0"],
        ["eval", "edit", "--dataset", "d.jsonl", "--format", "canitedit", "--timeout", "0"],
        ["eval", "edit", "--dataset", "d.jsonl", "--format", "canitedit", "--temperature", "-1"],
        ["bench", "decode", "--repeats", "0"],
        ["bench", "lsp", "--threads", "0"],
        ["train", "--out", "o", "--steps", "0"],
        ["train", "--out", "o", "--learning-rate", "-1"],
        ["make-tiny-checkpoint", "o", "--hidden", "0"],
        ["demo", "--max-new-tokens", "0"],
    ],
)
def test_out_of_range_numbers_are_argument_errors(argv):
    """Checked by the parser: exit 2 with the flag named, before anything is imported."""
    run = run_cli(argv)
    assert run.code == 2 and "Traceback" not in run.err
    flag = next(a for a in reversed(argv) if a.startswith("--")).split("=")[0]
    assert f"argument {flag}" in run.err
