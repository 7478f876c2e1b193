"""A broken checkpoint reaches the user as the loader's one message: the CLI prints one line
`diffcoder: error: …` and exits 2 (no traceback), and the language server's failed state and its
showMessage carry the same text, then recover when the path is fixed. The weight-loading progress
bar appears only on a terminal, never in the server's output.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from diffcoder.lsp_server.client import LspClient
from diffcoder.model.loading import load_model
from diffcoder.model.types import ModelLoadError
from tests.model.breakages import BREAKAGES, copy_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CANITEDIT = ROOT / "tests" / "evaluation" / "data" / "canitedit_synthetic.jsonl"
# One torch thread per process: these tests start several on a 2-core machine.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SHOWN = ("truncated_weights", "config_hidden_size", "truncated_tokenizer", "missing_shard")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each shown breakage: its directory and the message the loader gives for it."""
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("broken")
    tiny = make_tiny_checkpoint(root / "tiny")
    sharded = make_tiny_checkpoint(root / "sharded", shards=2)
    found = {}
    for name in SHOWN:
        needs_shards, breaks, _words = BREAKAGES[name]
        ckpt = copy_checkpoint(sharded if needs_shards else tiny, root / name)
        breaks(ckpt)
        with pytest.raises(ModelLoadError) as caught:
            load_model(ckpt, "cpu", "none")
        found[name] = (ckpt, str(caught.value))
    found["good"] = (tiny, "")
    return found


def _diffcoder(*args: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "diffcoder", *args]
    return subprocess.run(
        command, stderr=stderr, stdout=subprocess.PIPE, text=True, env=ENV, timeout=300
    )


def _assert_one_error_line(
    done: subprocess.CompletedProcess, message: str, prog: str = "diffcoder"
) -> None:
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert errors == [f"{prog}: error: {message}"], done.stderr
    assert "Traceback" not in done.stderr and "Loading weights" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("name", SHOWN)
def test_generate_prints_the_message_and_exits_2(broken, name: str) -> None:
    ckpt, message = broken[name]
    done = _diffcoder("generate", "--model", str(ckpt), "--prompt", "def f():", "--device", "cpu")
    _assert_one_error_line(done, message)


def test_edit_and_eval_print_the_same_message(broken, tmp_path: Path) -> None:
    ckpt, message = broken["config_hidden_size"]
    source = tmp_path / "code.py"
    source.write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    edit = ("edit", "--model", str(ckpt), "--file", str(source), "--line", "1")
    done = _diffcoder(*edit, "--instruction", "Swap the operands", "--device", "cpu")
    _assert_one_error_line(done, message)
    assert source.read_text(encoding="utf-8") == "def add(a, b):\n    return a + b\n"

    evaluate = ["eval", "edit", "--dataset", str(CANITEDIT), "--format", "canitedit"]
    evaluate += ["--model", str(ckpt), "--limit", "1", "--device", "cpu"]
    if "--unconfined" in _diffcoder("eval", "edit", "--help").stdout:
        evaluate.append("--unconfined")  # the model load comes first either way
    _assert_one_error_line(_diffcoder(*evaluate), message, prog="diffcoder eval")


def test_the_cli_shows_the_progress_bar_only_on_a_terminal(broken) -> None:
    ckpt, _message = broken["good"]
    args = ("generate", "--model", str(ckpt), "--prompt", "def f():", "--device", "cpu")
    args += ("--max-new-tokens", "4")
    piped = _diffcoder(*args)
    assert piped.returncode == 0, piped.stderr
    assert "Loading weights" not in piped.stderr and "it/s" not in piped.stderr

    primary, secondary = pty.openpty()
    # A terminal 100 columns wide (a fresh pty has none, and tqdm draws nothing in 0 columns).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        on_terminal = _diffcoder(*args, stderr=secondary)
        os.close(secondary)
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(primary)
    assert on_terminal.returncode == 0
    assert b"Loading weights" in seen


def _wait_for(client: LspClient, path: Path, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        model = client.request("diffcoder/status", {})["model"]
        if model["path"] == str(path) and model["state"] in ("ready", "failed"):
            return model
        assert time.monotonic() < deadline, f"no answer for {path}: {model}"
        time.sleep(0.1)


def test_the_server_reports_the_same_message_and_recovers(broken, tmp_path: Path) -> None:
    first, _ = broken[SHOWN[0]]
    stderr, log = tmp_path / "stderr.txt", tmp_path / "server.log"
    command = [sys.executable, "-m", "diffcoder.lsp_server", "--model", str(first)]
    command += ["--device", "cpu", "--log-file", str(log)]
    with LspClient(command, env=ENV, log=stderr) as client:
        client.initialize(None)
        for name in SHOWN:
            ckpt, message = broken[name]
            if name != SHOWN[0]:
                settings = {"diffcoder": {"modelPath": str(ckpt), "device": "cpu"}}
                client.notify("workspace/didChangeConfiguration", {"settings": settings})
            model = _wait_for(client, ckpt)
            detail = f"the model at {ckpt} could not be loaded: {message}"
            assert model["state"] == "failed" and model["detail"] == detail
            deadline = time.monotonic() + 10
            while f"DiffCoder: {detail}" not in client.messages:
                assert time.monotonic() < deadline, client.messages
                time.sleep(0.05)
        good, _ = broken["good"]
        settings = {"diffcoder": {"modelPath": str(good), "device": "cpu"}}
        client.notify("workspace/didChangeConfiguration", {"settings": settings})
        assert _wait_for(client, good)["state"] == "ready"
    # Nothing past --log-file (the weight-loading bar was the leak), no traceback in the log.
    assert stderr.read_text(encoding="utf-8", errors="replace") == ""
    output = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in output and "LOAD REPORT" not in output
    assert "Loading weights" not in output and "it/s]" not in output
    for name in SHOWN:
        assert output.count(broken[name][1]) == 1, output
