"""One model replica of the team server: the engine and its batching scheduler, on one GPU (or one
CPU process). `app.py` deploys it with Ray Serve; the ingress calls `run`, a stream of events:

    {"event": "error", "status": 4xx, "body": {...}}      the request is refused (nothing ran), or
    {"event": "start", ...}, {"event": "progress", ...}*, {"event": "done", "result": {...}}

A caller that goes away (the HTTP client disconnected, Serve cancelled the call) sets the cancel
flag: the decoding stops within one forward and its batch slot is free for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from diffcoder.model.backend import BackendInfo, GenerationBackend, PromptTokenizer
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    LoadOptions,
    SpecialIds,
    StepInfo,
)
from diffcoder.serving.openai import CompletionRequest, prepare_completion
from diffcoder.serving.requests import (
    ApiError,
    GenerateRequest,
    Limits,
    Prepared,
    generate_payload,
    parse_body,
    prepare_generate,
    progress_payload,
)

logger = logging.getLogger(__name__)
# What a client needs to rebuild the tokenizer without the checkpoint (those present are sent).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
)
_LOCK_POLL_S = 0.05


class SerialBackend:
    """An engine that decodes one request at a time, shared by many threads: the others wait in
    arrival order (and can be cancelled while they wait). Used until the batching scheduler is
    installed."""

    def __init__(self, engine: GenerationBackend) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._busy = False

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self.engine.tokenizer

    @property
    def special(self) -> SpecialIds:
        return self.engine.special

    @property
    def concurrency(self) -> int:
        return 1

    def describe(self) -> BackendInfo:
        return self.engine.describe()

    def _enter(self, cancel: CancelFlag | None) -> bool:
        """Wait for the engine, first come first served; False when cancelled while waiting."""
        turn = threading.Event()
        with self._lock:
            if not self._busy:
                self._busy = True
                return True
            self._waiting.append(turn)
        while not turn.wait(_LOCK_POLL_S):
            if cancel is not None and cancel.is_set():
                with self._lock:
                    if turn in self._waiting:
                        self._waiting.remove(turn)
                        return False
                return True  # handed the engine just now: `generate` ends at once, cancelled
        return True

    def _leave(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the engine passes to the next in line
            else:
                self._busy = False

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        if not self._enter(cancel):
            return GenerationResult.cancelled_before_start(len(prompt_ids))
        try:
            return self.engine.generate(
                prompt_ids, config, draft_ids=draft_ids, on_step=on_step, cancel=cancel
            )
        finally:
            self._leave()


def load_backend(model: str, options: LoadOptions, max_batch: int) -> GenerationBackend:
    """The batching engine (`diffcoder.model.batching`) sharing forwards between up to
    `max_batch` requests; where that module is not installed, the local engine one at a time."""
    if importlib.util.find_spec("diffcoder.model.batching") is not None:
        from diffcoder.model.batching import load_batched_engine

        return load_batched_engine(model, options, max_batch=max_batch)
    from diffcoder.model.engine import load_engine

    return SerialBackend(load_engine(model, options))


def tokenizer_payload(backend: GenerationBackend) -> dict[str, Any]:
    """`GET /v1/tokenizer`: the checkpoint's tokenizer files, chat template and special ids."""
    info = backend.describe()
    directory = Path(info.model)
    files = {
        name: (directory / name).read_text("utf-8")
        for name in TOKENIZER_FILES
        if (directory / name).is_file()
    }
    special = dataclasses.asdict(backend.special)
    special["banned"] = sorted(backend.special.banned)
    return {
        "files": files,
        "chat_template": getattr(backend.tokenizer, "chat_template", None),
        "special": special,
        "vocab_size": len(backend.tokenizer),  # type: ignore[arg-type]
    }


def _replica_id() -> str:
    """Serve's id for this replica; outside a deployment (the class called directly, as unit
    tests do, even after another test imported Serve) one made from the process id."""
    local = f"local-{os.getpid()}"
    if "ray.serve" not in sys.modules:
        return local
    from ray import serve
    from ray.serve.exceptions import RayServeException

    try:
        return serve.get_replica_context().replica_id.unique_id
    except RayServeException:
        return local


class ModelReplica:
    """The deployment class: loads the checkpoint once, then serves `run` calls concurrently."""

    def __init__(self, model: str, options: LoadOptions, max_batch: int, limits: Limits) -> None:
        self.backend = load_backend(model, options, max_batch)
        self.info = self.backend.describe()
        self.limits = limits
        self.replica_id = _replica_id()
        self._tokenizer = tokenizer_payload(self.backend)
        self.vocab_size = int(self._tokenizer["vocab_size"])
        logger.info("replica %s ready: %s", self.replica_id, self.info.summary)

    def describe(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.info),
            "replica": self.replica_id,
            "concurrency": self.backend.concurrency,
        }

    def tokenizer(self) -> dict[str, Any]:
        return self._tokenizer

    def __del__(self) -> None:
        """Serve calls this when it stops the replica: end the scheduler thread."""
        close = getattr(getattr(self, "backend", None), "close", None)
        if close is not None:
            close()

    def check_health(self) -> None:
        """Serve calls this every few seconds; a replica that raises is replaced."""
        healthy = getattr(self.backend, "healthy", True)
        if not (healthy() if callable(healthy) else healthy):
            raise RuntimeError("the batching scheduler stopped")

    def _prepare(self, body: bytes, kind: str) -> Prepared:
        tokenizer = self.backend.tokenizer
        if kind == "completion":
            completion = parse_body(CompletionRequest, body)
            return prepare_completion(completion, tokenizer, self.vocab_size, self.limits)
        request = parse_body(GenerateRequest, body)
        return prepare_generate(request, tokenizer, self.vocab_size, self.limits)

    async def run(self, body: bytes, kind: str, progress: bool) -> AsyncIterator[dict[str, Any]]:
        """Validate, then decode on a worker thread, streaming events (see the module doc)."""
        try:
            prepared = self._prepare(body, kind)
        except ApiError as error:
            yield {"event": "error", "status": error.status, "body": error.body()}
            return
        yield {"event": "start", "replica": self.replica_id}
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def post(kind: str, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
                loop.call_soon_threadsafe(events.put_nowait, (kind, value))

        def on_step(step: StepInfo) -> None:
            if progress:
                post("progress", step)

        def work() -> None:
            try:
                result = self.backend.generate(
                    prepared.prompt_ids,
                    prepared.config,
                    draft_ids=prepared.draft_ids,
                    on_step=on_step,
                    cancel=cancel,
                )
            except ValueError as error:  # a request this engine cannot take, and why
                post("refused", error)
            except Exception as error:  # reported to the client; the replica keeps serving
                logger.exception("generation failed")
                post("failed", error)
            else:
                post("done", result)

        threading.Thread(target=work, name="diffcoder-request", daemon=True).start()
        try:
            while True:
                kind, value = await events.get()
                if kind == "progress":
                    yield {"event": "progress", **progress_payload(value)}
                elif kind == "done":
                    payload = generate_payload(value, self.info, prepared.config)
                    yield {"event": "done", "result": payload}
                    return
                else:
                    error = (
                        ApiError(400, str(value))
                        if kind == "refused"
                        else ApiError(500, f"the model failed: {type(value).__name__}: {value}")
                    )
                    yield {"event": "error", "status": error.status, "body": error.body()}
                    return
        finally:
            cancel.set()  # the caller went away (or the answer is out): stop within one forward
