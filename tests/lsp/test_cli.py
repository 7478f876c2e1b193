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


@pytest.mark.parametrize(
    "argv",
    [
        ["--tcp", "nowhere"],
        ["--tcp", ":2087"],
        ["--tcp", "localhost:"],
        ["--tcp", "localhost:http"],
        ["--tcp", "localhost:0"],
        ["--tcp", "localhost:70000"],
        ["--tcp", "localhost:-1"],
        ["--device", "tpu"],
        ["--quant", "3bit"],
        ["--frobnicate"],
    ],
)
def test_bad_arguments_are_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "diffcoder-lsp: error:" in capsys.readouterr().err


def test_an_ipv6_address_in_brackets_is_understood():
    from diffcoder.lsp_server.__main__ import build_parser

    assert build_parser().parse_args(["--tcp", "[::1]:2087"]).tcp == ("::1", 2087)


def start_error(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "diffcoder.lsp_server", "--no-demo-model", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=SERVER_ENV, timeout=60)


def test_an_unwritable_log_file_is_one_line_and_exit_2(tmp_path: Path):
    for target in (tmp_path / "missing" / "server.log", tmp_path):  # no folder; a folder
        done = start_error("--log-file", str(target))
        assert done.returncode == 2, done
        assert done.stderr.startswith("diffcoder-lsp: error: cannot write the log file")
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_busy_port_is_one_line_and_exit_2(tmp_path: Path):
    log = tmp_path / "server.log"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = start_error("--tcp", f"127.0.0.1:{port}", "--log-file", str(log))
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        f"diffcoder-lsp: error: cannot listen on 127.0.0.1:{port}: the port is in use; "
        "pick another port, or stop the program that holds it"
    ]
    assert "the port is in use" in log.read_text() and "Traceback" not in log.read_text()


def test_an_unknown_host_is_one_line_and_exit_2():
    done = start_error("--tcp", "no-such-host.invalid:2087")
    assert done.returncode == 2 and "unknown host" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


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
    assert answers[3]["result"] is None  # shutdown, answered before exit
    assert "no model configured" in log.read_text()
    assert done.returncode == 0  # shutdown, then exit (sent at once, as a pipe delivers them)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(port: int) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.1)


def receive(connection: socket.socket, count: int, data: bytes = b"") -> list[dict]:
    """The next `count` messages (pygls adds a Content-Type header: frames are read loosely)."""
    messages: list[dict] = []
    while len(messages) < count:
        header, sep, rest = data.partition(b"\r\n\r\n")
        length = int(header.split(b"\r\n")[0].split(b":")[1]) if sep else -1
        if sep and len(rest) >= length:
            messages.append(json.loads(rest[:length]))
            data = rest[length:]
            continue
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return messages


def test_tcp_serves_one_client_and_refuses_a_second_without_crossing_replies(tmp_path: Path):
    port = free_port()
    command = [sys.executable, "-m", "diffcoder.lsp_server", "--no-demo-model"]
    log = tmp_path / "server.log"
    command += ["--tcp", f"127.0.0.1:{port}", "--log-file", str(log)]
    server = subprocess.Popen(command, env=SERVER_ENV, stderr=subprocess.DEVNULL)
    try:
        with connect(port) as first:
            first.sendall(frame(SESSION[0]))
            assert receive(first, 1)[0]["id"] == 1
            first.sendall(frame(SESSION[1]))
            with connect(port) as second:
                second.sendall(frame(SESSION[0]))
                shown, refused = receive(second, 2)
                assert shown["method"] == "window/showMessage"
                assert "already serves a client" in shown["params"]["message"]
                assert refused["id"] == 1 and refused["error"]["code"] == -32803
                assert "another port" in refused["error"]["message"]
                assert second.recv(100) == b"", "the second connection stays open"
            first.sendall(frame(SESSION[2]))
            answers = receive(first, 1)
            assert answers[0]["id"] == 2 and answers[0]["result"]["model"]["state"]
            first.sendall(frame(SESSION[3]) + frame(SESSION[4]))
            assert receive(first, 1)[0] == {"jsonrpc": "2.0", "id": 3, "result": None}
        assert server.wait(timeout=30) == 0
        assert "refused a second client" in log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
