"""A minimal synchronous LSP client over a subprocess's stdio: the demo, the latency benchmark
and `diffcoder eval --via lsp` drive `diffcoder-lsp` with it.

JSON-RPC framing, request/response matching on a reader thread, plain answers to the few requests
a server sends a client, and applying a returned WorkspaceEdit the way an editor does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import IO, Any

from diffcoder.editing.positions import LineIndex
from diffcoder.lsp_server.protocol import STATUS_REQUEST

# What a small editor announces: UTF-16 positions, progress bars, versioned edits, inline infill.
CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"workDoneProgress": True},
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
    "textDocument": {
        "synchronization": {"dynamicRegistration": False},
        "codeAction": {"resolveSupport": {"properties": ["edit"]}},
        "inlineCompletion": {"dynamicRegistration": False},
    },
}


class LspError(RuntimeError):
    """The server answered a request with an error (or died before answering)."""


class LspClient:
    """One server process; `request` blocks until its answer (or `timeout`) arrives."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | IO[bytes] | None = None,
    ) -> None:
        # The server's log goes to a file: a pipe nobody reads could fill up and stall it.
        self._owns_log = isinstance(log, Path)
        self._log: IO[bytes] | int = (
            open(log, "wb") if isinstance(log, Path) else log or subprocess.DEVNULL  # noqa: SIM115
        )
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **(env or {})},
        )
        self._ids = itertools.count(1)
        self._pending: dict[int, Future] = {}
        self._write_lock = threading.Lock()
        self.notifications: list[tuple[str, Any]] = []
        self.messages: list[str] = []  # window/showMessage texts, for error reports
        self.closed = False  # the server's output ended
        # Answers to server->client requests; others get "method not found".
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "window/workDoneProgress/create": lambda params: None,
            "client/registerCapability": lambda params: None,
            "workspace/configuration": lambda params: [None for _ in params.get("items", [])],
            "workspace/applyEdit": lambda params: {"applied": False, "failureReason": "preview"},
        }
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- wire ---------------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        with self._write_lock:
            try:
                self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self.process.stdin.flush()
            except (OSError, ValueError) as error:
                raise LspError(f"the server is gone ({error})") from None

    def _read_message(self) -> dict[str, Any] | None:
        stream = self.process.stdout
        assert stream is not None
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(stream.read(length or 0))

    def _read_loop(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                self._dispatch(message)
        finally:
            self.closed = True
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(LspError("the server exited"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:  # a response
            future = self._pending.pop(message.get("id"), None)
            if future is None:
                return
            if "error" in message:
                error = message["error"]
                future.set_exception(LspError(f"{error.get('code')}: {error.get('message')}"))
            else:
                future.set_result(message.get("result"))
        elif "id" in message:  # a request from the server
            handler = self.handlers.get(message["method"])
            if handler is None:
                error = {"code": -32601, "message": f"{message['method']} is not handled"}
                answer: dict[str, Any] = {"error": error}
            else:
                answer = {"result": handler(message.get("params"))}
            with contextlib.suppress(LspError):  # the server is going away: nobody waits
                self._send({"id": message["id"], **answer})
        else:
            if message["method"] == "window/showMessage":
                self.messages.append(str((message.get("params") or {}).get("message", "")))
            self.notifications.append((message["method"], message.get("params")))

    # -- protocol -----------------------------------------------------------------------------
    def request(self, method: str, params: Any, timeout: float | None = 120.0) -> Any:
        if self.closed:
            raise LspError(f"the server is gone; cannot send {method}")
        request_id = next(self._ids)
        future: Future = Future()
        self._pending[request_id] = future
        self._send({"id": request_id, "method": method, "params": params})
        try:
            return future.result(timeout)
        except FutureTimeout:  # a distinct class before Python 3.11
            self._pending.pop(request_id, None)
            with contextlib.suppress(LspError):
                self.notify("$/cancelRequest", {"id": request_id})
            raise LspError(f"no answer to {method} within {timeout} s") from None

    def timed(self, method: str, params: Any, timeout: float = 120.0) -> tuple[Any, float]:
        """The answer and the seconds from sending the request to reading the answer."""
        started = time.perf_counter()
        result = self.request(method, params, timeout)
        return result, time.perf_counter() - started

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def initialize(
        self,
        root: Path | None,
        options: Any = None,
        capabilities: dict[str, Any] | None = None,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.resolve().as_uri() if root is not None else None,
                "capabilities": CAPABILITIES if capabilities is None else capabilities,
                "initializationOptions": options,
            },
            timeout,
        )
        self.notify("initialized", {})
        return result

    def wait_until_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Poll `diffcoder/status` until the model loaded (or failed); returns the status."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.request(STATUS_REQUEST, {})
            if status["model"]["state"] in ("ready", "failed", "unconfigured"):
                return status
            if time.monotonic() > deadline:
                raise LspError(f"the model is still loading after {timeout:g} s: {status}")
            time.sleep(0.05)

    def open(self, uri: str, text: str, language: str = "python", version: int = 1) -> None:
        item = {"uri": uri, "languageId": language, "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def close(self, timeout: float = 10.0) -> int:
        """shutdown + exit, then wait; a server that hangs is killed (by its own PID)."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", None, timeout)
                self.notify("exit", None)
        except (LspError, OSError):
            pass
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5.0)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        if self._owns_log:
            self._log.close()
        return code

    def __enter__(self) -> LspClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def apply_workspace_edit(
    text: str, edit: Mapping[str, Any] | None, uri: str | None = None, encoding: str = "utf-16"
) -> str:
    """`text` with the TextEdits of a WorkspaceEdit (for `uri`, or all) applied, as an editor
    does: positions in the negotiated `encoding`, edits referring to the original text."""
    if not edit:
        return text
    edits: list[Mapping[str, Any]] = []
    for change in edit.get("documentChanges") or []:
        if uri is None or (change.get("textDocument") or {}).get("uri") == uri:
            edits.extend(change.get("edits") or [])
    for target, changes in (edit.get("changes") or {}).items():
        if uri is None or target == uri:
            edits.extend(changes)
    return apply_text_edits(text, edits, encoding)


def apply_text_edits(text: str, edits: list[Mapping[str, Any]], encoding: str = "utf-16") -> str:
    """LSP TextEdits (JSON shapes) applied to `text`, positions in `encoding`."""
    lines = LineIndex(text)
    spans = []
    for item in edits:
        start, end = item["range"]["start"], item["range"]["end"]
        spans.append(
            (
                lines.position_to_offset(start["line"], start["character"], encoding),
                lines.position_to_offset(end["line"], end["character"], encoding),
                item["newText"],
            )
        )
    # TextEdits never overlap and refer to the original text: apply from the end backwards.
    for start, end, new in sorted(spans, key=lambda span: span[:2], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def lsp_position(text: str, offset: int, encoding: str = "utf-16") -> dict[str, int]:
    """An LSP position dict for a `str` offset."""
    line, character = LineIndex(text).offset_to_position(offset, encoding)
    return {"line": line, "character": character}
