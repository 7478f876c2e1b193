"""One team server for the whole session: `diffcoder serve` as a subprocess (a local Ray with 2
CPUs and no dashboard, one CPU replica of a tiny checkpoint, loopback only, 8 bearer tokens).

Starting Ray and a replica takes ~30 s on 2 cores, so every serving test shares this one; the
replica-kill test runs last (tests/serving/test_reliability.py). Teardown sends SIGTERM and checks
the clean exit the CLI promises.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

SERVER_ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
START_TIMEOUT_S = 180.0
MAX_REQUEST_TOKENS = 1024
MAX_CONCURRENT = 4


@dataclass
class TeamServer:
    url: str
    port: int
    tokens: list[str]
    token_file: Path
    model: Path
    process: subprocess.Popen
    log: Path

    def auth(self, number: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[number]}"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[tuple[str, Any]]:
        """Server-sent events as (name, data); `data: [DONE]` stays text."""
        found = []
        for block in self.body.decode().split("\n\n"):
            lines = [line for line in block.splitlines() if line]
            if not lines:
                continue
            name = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), "message")
            data = "\n".join(ln[5:].strip() for ln in lines if ln.startswith("data:"))
            found.append((name, data if data == "[DONE]" else json.loads(data)))
        return found


def call(
    server: TeamServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: int | None = 0,
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    sent = dict(headers or {})
    if token is not None:
        sent.update(server.auth(token))
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("team-server")
    model = make_tiny_checkpoint(root / "tiny")
    tokens = [secrets.token_urlsafe(24) for _ in range(8)]
    token_file = root / "tokens.txt"
    token_file.write_text("# one token per teammate\n" + "\n".join(tokens) + "\n", "utf-8")
    port = free_port()
    log = root / "serve.log"
    command = [
        *(sys.executable, "-m", "diffcoder", "serve", "--model", str(model)),
        *("--port", str(port), "--replicas", "1", "--num-cpus", "2", "--device", "cpu"),
        *("--token-file", str(token_file), "--max-request-tokens", str(MAX_REQUEST_TOKENS)),
        *("--max-concurrent", str(MAX_CONCURRENT)),
    ]
    with open(log, "w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=SERVER_ENV
        )
    printed: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, printed), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while not any("SIGTERM stops it" in line for line in seen):
        try:
            line = printed.get(timeout=max(deadline - time.monotonic(), 0.1))
        except queue.Empty:
            line = None
        if line is None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"diffcoder serve did not start: {seen}\n{log.read_text()[-3000:]}")
        seen.append(line)
    server = TeamServer(f"http://127.0.0.1:{port}", port, tokens, token_file, model, process, log)
    server.printed = seen  # type: ignore[attr-defined]
    yield server
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("diffcoder serve did not stop within 60 s of SIGTERM")
    assert code == 0, log.read_text()[-3000:]
