"""`diffcoder scope`: the JSON contract, positions in code points, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffcoder.cli.main import main
from diffcoder.cli.target import PositionError, target_offsets

FIXTURES = Path(__file__).parents[1] / "editing" / "fixtures"


def scope(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["scope", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cursor_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "sample.py"
    code, out, _ = scope(["--file", str(path), "--line", "31", "--column", "8", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["kind"] == "method" and payload["name"] == "add"
    assert payload["start"] == {"line": 28, "character": 0}
    assert payload["end"] == {"line": 33, "character": 0}
    text = path.read_bytes().decode("utf-8")
    assert text[payload["start_offset"] : payload["end_offset"]].startswith("    def add(")
    assert isinstance(payload["reason"], str) and payload["reason"]


def test_range_and_instruction(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "sample.py")
    code, out, _ = scope(["--file", path, "--range", "29:8-30:0", "--json"], capsys)
    assert code == 0 and json.loads(out)["kind"] == "selection"
    assert json.loads(out)["start"]["line"] == 29 and json.loads(out)["end"]["line"] == 32
    argv = ["--file", path, "--line", "31", "--instruction", "import math", "--json"]
    code, out, _ = scope(argv, capsys)
    assert code == 0 and json.loads(out)["kind"] == "file"


def test_code_point_offsets_with_emoji_and_crlf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "x = '😀😀'\r\n\r\ndef f():\r\n    return '日本'\r\n"
    path = tmp_path / "u.py"
    path.write_bytes(text.encode("utf-8"))
    code, out, _ = scope(["--file", str(path), "--line", "3", "--column", "99", "--json"], capsys)
    payload = json.loads(out)
    assert code == 0 and payload["kind"] == "function"
    assert payload["start_offset"] == text.index("def f")
    assert payload["end_offset"] == len(text)
    assert payload["start"] == {"line": 2, "character": 0}
    assert payload["end"] == {"line": 4, "character": 0}


def test_language_override_and_human_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "script"
    path.write_text("def f():\n    return 1\n", encoding="utf-8")
    code, out, _ = scope(["--file", str(path), "--language", "python", "--line", "1"], capsys)
    assert code == 0 and out.startswith("function 0:0-2:0")
    code, out, _ = scope(["--file", str(path), "--line", "1", "--json"], capsys)
    assert code == 0 and json.loads(out)["kind"] == "lines"  # no extension, no language


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--file", "/no/such/file.py", "--json"], "cannot read"),
        (["--file", str(FIXTURES), "--json"], "cannot read"),
        (["--file", str(FIXTURES / "sample.py"), "--line", "999"], "past the end"),
        (["--file", str(FIXTURES / "sample.py"), "--column", "3"], "--column needs --line"),
    ],
)
def test_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = scope(argv, capsys)
    assert code == 2 and message in err and out == ""


def test_not_utf8_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.py"
    path.write_bytes("x = 'é'\n".encode("latin-1"))
    code, _, err = scope(["--file", str(path)], capsys)
    assert code == 2 and "not UTF-8" in err


def test_bad_range_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        scope(["--file", str(FIXTURES / "sample.py"), "--range", "3-4"], capsys)
    assert exit_.value.code == 2


def test_target_offsets_take_code_points_and_clamp_to_the_line_end() -> None:
    text = "a😀b\r\nsecond\n"
    assert target_offsets(text, line=0, column=2, span=None) == (2, None)
    assert target_offsets(text, line=1, column=None, span=None) == (text.index("second"), None)
    assert target_offsets(text, line=None, column=None, span=(0, 1, 1, 99)) == (
        None,
        (1, text.index("\n", text.index("second"))),
    )
    assert target_offsets(text, line=None, column=None, span=None) == (None, None)
    with pytest.raises(PositionError, match="--column needs --line"):
        target_offsets(text, line=None, column=1, span=None)


def test_the_column_picks_between_definitions_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.js"
    line = "function a() { return 1 } function b() { return 2 }"
    path.write_text(f"const x = 1;\n\n{line}\n", encoding="utf-8")
    for name in ("a", "b"):
        column = line.index(f"function {name}") + 12
        argv = ["--file", str(path), "--line", "2", "--column", str(column), "--json"]
        code, out, _ = scope(argv, capsys)
        payload = json.loads(out)
        assert code == 0 and payload["name"] == name and payload["kind"] == "function"
        assert payload["reason"].startswith(f"The cursor is inside function `{name}`")
        assert payload["start"] == {"line": 2, "character": 0}


@pytest.mark.parametrize(
    ("filename", "kind", "fallback"),
    [("f.py", "function", "using python, from the extension of f.py"), ("f", "lines", "lines")],
)
def test_an_unknown_language_is_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], filename: str, kind: str, fallback: str
) -> None:
    path = tmp_path / filename
    path.write_text("def f():\n    return 1\n", encoding="utf-8")
    argv = ["--file", str(path), "--language", "pyhton", "--line", "1", "--json"]
    code, out, err = scope(argv, capsys)
    assert code == 0 and json.loads(out)["kind"] == kind
    assert "--language 'pyhton' has no grammar" in err and "supported: python, " in err
    assert fallback in err and len(err.strip().splitlines()) == 1
    code, _, err = scope(["--file", str(path), "--language", "py", "--line", "1"], capsys)
    assert code == 0 and err == ""  # an alias is no news


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"x = 1\n\x00\x00\n", "looks binary (it contains NUL characters)"),
        (b"x = 1\n" * (600 * 1024), "too large for DiffCoder"),
    ],
)
def test_files_the_server_refuses_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    code, out, err = scope(["--file", str(path), "--line", "0", "--json"], capsys)
    assert code == 2 and out == "" and message in err


def test_past_the_end_says_how_many_lines(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "sample.py"
    count = len(path.read_bytes().decode("utf-8").splitlines()) + 1  # and the empty last one
    code, _, err = scope(["--file", str(path), "--line", str(count)], capsys)
    assert code == 2 and f"--line {count} is past the end" in err
    assert f"it has {count} lines, 0 to {count - 1} (0-based)" in err
    code, _, _ = scope(["--file", str(path), "--line", str(count - 1), "--json"], capsys)
    assert code == 0
