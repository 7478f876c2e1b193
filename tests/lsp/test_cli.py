"""`diffcoder-lsp` as a program: its options, stdout that carries only the protocol,
--log-file and --tcp."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffcoder.lsp_server.__main__ import main
from tests.lsp.conftest import SERVER_ENV


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def read_frames(data: bytes) -> list[dict]:
    """Every byte must belong to a Content-Length frame: anything else is a stray print."""
    messages = []
    while data:
        header, sep, rest = data.partition(b"\r\n\r\n")
        assert sep and header.startswith(b"Content-Length: "), f"not a frame: {data[:80]!r}"
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        assert len(rest) >= length, "truncated frame"
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


SESSION = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
    {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    {"jsonrpc": "2.0", "id": 2, "method": "diffcoder/status", "params": {}},
    {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
    {"jsonrpc": "2.0", "method": "exit"},
]


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--quant", "--device", "--tcp", "--log-file"):
        assert option in out


def test_bad_tcp_address_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["--tcp", "nowhere"])
    assert exit_info.value.code == 2


def test_stdout_carries_only_the_protocol_and_logs_go_to_the_file(tmp_path: Path):
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "diffcoder.lsp_server", "-vv", "--log-file", str(log)]
    command.append("--no-demo-model")
    done = subprocess.run(
        command,
        input=b"".join(frame(m) for m in SESSION),
        capture_output=True,
        env=SERVER_ENV,
        timeout=60,
    )
    answers = {m["id"]: m for m in read_frames(done.stdout) if "id" in m}
    assert answers[1]["result"]["capabilities"]["executeCommandProvider"]["commands"]
    assert answers[2]["result"]["model"]["state"] == "unconfigured"
    assert "no model configured" in log.read_text()


def test_tcp_serves_the_protocol(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "diffcoder.lsp_server", "--tcp", f"127.0.0.1:{port}"]
    server = subprocess.Popen(command, env=SERVER_ENV, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        with connection:
            connection.sendall(frame(SESSION[0]))
            data = b""
            while b"capabilities" not in data or len(read_frames_safe(data)) < 1:
                chunk = connection.recv(65536)
                assert chunk, "connection closed"
                data += chunk
        assert read_frames(data)[0]["id"] == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


def read_frames_safe(data: bytes) -> list[dict]:
    try:
        return read_frames(data)
    except (AssertionError, ValueError):
        return []
