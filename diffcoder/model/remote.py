"""A `GenerationBackend` that decodes on a team server (`diffcoder serve`, docs/server.md) over
HTTP. No torch and no checkpoint: the tokenizer is rebuilt from the server's `/v1/tokenizer`.

Each `generate` is one streamed `POST /v1/generate`: progress events become `on_step` calls, and
`cancel` closes the connection, which cancels the request on the server. A server that answers
503 (a replica died) or drops the connection is asked once more; every other failure is a
`RemoteError` whose message says what to fix. Several threads may decode at once (`concurrency`
is the server's per-token limit).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    ModelLoadError,
    SpecialIds,
    StepInfo,
)

logger = logging.getLogger(__name__)
# The tokenizer files a server may send (anything else in the answer is ignored).
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "chat_template.jinja",
    }
)
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 600.0  # between two events: a request may queue behind others
_CANCEL_POLL_S = 0.05
_UNLIMITED_LENGTH = int(1e30)  # transformers' own "no limit"


class RemoteError(RuntimeError):
    """The server did not decode the request; the message says why and what to do."""


class _Retry(Exception):
    """A failure worth one more try: the replica died (503) or the connection dropped."""


def read_token(path: str | Path) -> str:
    """The first token in a token file (one per line, `#` comments), as the server reads it."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as error:
        raise ModelLoadError(
            f"cannot read the token file {path}: {error.strerror or error}"
        ) from None
    tokens = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not tokens:
        raise ModelLoadError(f"the token file {path} holds no token; write the token on one line")
    return tokens[0]


def tokenizer_from_files(files: dict[str, str]) -> PromptTokenizer:
    from transformers import PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory(prefix="diffcoder-tokenizer-") as directory:
        for name, text in files.items():
            if name in TOKENIZER_FILES:
                (Path(directory) / name).write_text(text, "utf-8")
        tokenizer = PreTrainedTokenizerFast.from_pretrained(directory, trust_remote_code=False)
    tokenizer.model_max_length = _UNLIMITED_LENGTH
    return tokenizer


class RemoteBackend:
    def __init__(self, url: str, *, token: str | None = None) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelLoadError(f"the server URL {url!r} is not http(s)://HOST:PORT")
        self.url = url.rstrip("/")
        self._parts = parts
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            payload = self._get("/v1/tokenizer")
        except RemoteError as error:
            raise ModelLoadError(str(error)) from None
        self._tokenizer = tokenizer_from_files(payload["files"])
        special = dict(payload["special"])
        special["banned"] = frozenset(special["banned"])
        self._special = SpecialIds(**special)
        self._concurrency = max(1, int(payload["limits"]["max_concurrent"]))
        self._info = BackendInfo(
            summary=f"team server {self.url}: {payload['model']}, {payload['summary']}",
            model=self.url,
            device=payload["device"],
            quant=payload["quant"],
            dtype=payload["dtype"],
        )

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self._tokenizer

    @property
    def special(self) -> SpecialIds:
        return self._special

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def describe(self) -> BackendInfo:
        return self._info

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        kind = (
            http.client.HTTPSConnection
            if self._parts.scheme == "https"
            else http.client.HTTPConnection
        )
        return kind(self._parts.hostname, self._parts.port, timeout=timeout)

    def _unreachable(self, error: BaseException) -> RemoteError:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return RemoteError(
            f"cannot reach the DiffCoder server at {self.url} ({reason}); start it with "
            "`diffcoder serve --model DIR` or check the server URL (diffcoder.server.url)"
        )

    def _refusal(self, status: int, body: bytes) -> RemoteError:
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body.decode("utf-8", "replace")[:200] or http.client.responses.get(status, "")
        if status == 401:
            message += "; check the token file (diffcoder.server.tokenFile / --token-file)"
        return RemoteError(f"the DiffCoder server at {self.url} answered {status}: {message}")

    def _get(self, path: str) -> dict[str, Any]:
        connection = self._connection(CONNECT_TIMEOUT_S)
        try:
            connection.request("GET", path, headers=self._headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from None
        finally:
            connection.close()
        if response.status != 200:
            raise self._refusal(response.status, body)
        return json.loads(body)

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        body = json.dumps(_request(prompt_ids, config, draft_ids)).encode()
        for attempt in (1, 2):
            if cancel is not None and cancel.is_set():
                return GenerationResult.cancelled_before_start(len(prompt_ids))
            try:
                return self._decode_once(body, len(prompt_ids), on_step, cancel)
            except _Retry as why:
                if attempt == 2:
                    raise RemoteError(f"the DiffCoder server at {self.url}: {why}") from None
                logger.warning("retrying once: %s", why)
        raise AssertionError("unreachable")

    def _decode_once(
        self,
        body: bytes,
        prompt_tokens: int,
        on_step: Callable[[StepInfo], None] | None,
        cancel: CancelFlag | None,
    ) -> GenerationResult:
        connection = self._connection(READ_TIMEOUT_S)
        finished = threading.Event()
        started = time.perf_counter()

        def close_on_cancel() -> None:
            while not finished.wait(_CANCEL_POLL_S):
                if cancel.is_set():
                    if connection.sock is not None:
                        with contextlib.suppress(OSError):  # already closed
                            connection.sock.shutdown(socket.SHUT_RDWR)
                    return

        if cancel is not None:
            threading.Thread(
                target=close_on_cancel, name="diffcoder-remote-cancel", daemon=True
            ).start()
        nfe = 0
        try:
            headers = {**self._headers, "Content-Type": "application/json"}
            connection.request("POST", "/v1/generate", body=body, headers=headers)
            response = connection.getresponse()
            if response.status == 503:
                raise _Retry(self._refusal(503, response.read()))
            if response.status != 200:
                raise self._refusal(response.status, response.read())
            for event, data in _events(response):
                if event == "progress" and on_step is not None:
                    nfe = data.get("nfe", nfe)
                    on_step(_step(data))
                elif event == "done":
                    return _result(data)
                elif event == "error":
                    error = data.get("error", {})
                    if error.get("code") == 503:
                        raise _Retry(error.get("message", "a replica stopped"))
                    raise RemoteError(f"the DiffCoder server at {self.url}: {error.get('message')}")
            raise OSError("the server closed the stream before the answer")
        except (OSError, http.client.HTTPException) as error:
            if cancel is not None and cancel.is_set():
                elapsed = time.perf_counter() - started
                return GenerationResult([], "", "cancelled", nfe, prompt_tokens, 0.0, elapsed)
            if isinstance(error, ConnectionRefusedError | socket.gaierror):
                raise self._unreachable(error) from None
            raise _Retry(self._unreachable(error)) from None
        finally:
            finished.set()
            connection.close()


def connect(url: str, token_file: str | Path | None = None) -> RemoteBackend:
    """A backend on the server at `url`; ModelLoadError (with how to fix it) when unreachable."""
    return RemoteBackend(url, token=read_token(token_file) if token_file else None)


def _request(prompt_ids: list[int], config: DecodeConfig, draft_ids: list[int] | None) -> dict:
    return {
        "prompt_ids": prompt_ids,
        "draft_ids": draft_ids,
        "max_new_tokens": config.max_new_tokens,
        "block_length": config.block_length,
        "steps_per_block": config.steps_per_block,
        "threshold": config.threshold,
        "temperature": config.temperature,
        "mode": config.mode,
        "seed": config.seed,
        "stop": list(config.stop_strings),
        "draft_window": config.draft_window,
        "max_draft_window": config.max_draft_window,
        "stream": True,
    }


def _events(response: http.client.HTTPResponse) -> Iterator[tuple[str, dict[str, Any]]]:
    """Server-sent events as (name, JSON data)."""
    event, data = "message", []
    while True:
        line = response.readline()
        if not line:
            return
        text = line.decode("utf-8").rstrip("\r\n")
        if not text:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif text.startswith("event:"):
            event = text[6:].strip()
        elif text.startswith("data:"):
            data.append(text[5:].lstrip())


_STEP_FIELDS = tuple(f.name for f in fields(StepInfo))


def _step(data: dict[str, Any]) -> StepInfo:
    return StepInfo(**{name: data[name] for name in _STEP_FIELDS if name in data})


def _result(data: dict[str, Any]) -> GenerationResult:
    return GenerationResult(
        token_ids=data["token_ids"],
        text=data["text"],
        finish_reason=data["finish_reason"],
        nfe=data["nfe"],
        prompt_tokens=data["prompt_tokens"],
        prefill_seconds=data["prefill_seconds"],
        decode_seconds=data["decode_seconds"],
        draft_accepted_tokens=data.get("draft_accepted_tokens", 0),
    )
