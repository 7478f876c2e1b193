"""A server process spoken to in raw JSON-RPC: any message (or any bytes) can be sent, every
answer and notification is kept, and the server's log (stderr) is read back.

The table-driven tests of bad input (test_errors.py) and of the command line (test_cli.py) use it;
the other tests speak through pytest-lsp's typed client, which cannot send a malformed message.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.lsp.conftest import SERVER_ENV

ABSENT: Any = object()  # "leave `params` out of the message" (not the same as null)
CAPABILITIES = {
    "window": {"workDoneProgress": True},
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
}


def frame(message: dict[str, Any] | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    def __init__(self, command: list[str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=SERVER_ENV
        )
        self.messages: list[dict[str, Any]] = []
        self.applied: list[dict[str, Any]] = []  # workspace/applyEdit params the server sent
        self._ids = itertools.count(1000)
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    # -- wire ------------------------------------------------------------------------------
    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    with self._lock:
                        self._lock.notify_all()
                    return
                if not line.strip():
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length or 0))
            if "method" in message and "id" in message:
                self._answer_server_request(message)
            with self._lock:
                self.messages.append(message)
                self._lock.notify_all()

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        method, params = message["method"], message.get("params") or {}
        result: Any = None
        if method == "workspace/configuration":
            result = [None for _ in params.get("items", [])]
        elif method == "workspace/applyEdit":
            self.applied.append(params)
            result = {"applied": True}
        with contextlib.suppress(OSError, ValueError):
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(frame(message))
        self.process.stdin.flush()

    # -- protocol ---------------------------------------------------------------------------
    def request(
        self, method: str, params: Any = ABSENT, *, msg_id: Any = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send a request and return the whole answer message (with `result` or `error`)."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not ABSENT:
            message["params"] = params
        self.send(message)
        return self.answer(msg_id, timeout)

    def answer(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for message in self.messages:
                    if "method" not in message and message.get("id") == msg_id:
                        return message
                left = deadline - time.monotonic()
                assert left > 0, f"no answer to request {msg_id!r} within {timeout} s"
                assert self.process.poll() is None, "the server exited"
                self._lock.wait(left)

    def notify(self, method: str, params: Any = ABSENT) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not ABSENT:
            message["params"] = params
        self.send(message)

    def initialize(self, options: Any = None) -> dict[str, Any]:
        params = {"processId": None, "capabilities": CAPABILITIES, "initializationOptions": options}
        answer = self.request("initialize", params)
        self.notify("initialized", {})
        return answer

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.request("diffcoder/status", {})["result"]
            if state["model"]["state"] != "loading" or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def open(self, uri: str, text: str, version: int = 1, language: str = "python") -> None:
        item = {"uri": uri, "languageId": language, "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def popups(self) -> list[str]:
        with self._lock:
            shown = [m for m in self.messages if m.get("method") == "window/showMessage"]
        return [m["params"]["message"] for m in shown]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def close(self, timeout: float = 15.0) -> int:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            if self.process.poll() is None:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
        return self.wait(timeout)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code
