"""The model as the server holds it: loaded in the background, in one of four states.

Requests wait for a load in progress (up to a limit), and get a clear reason when there is no model:
none configured, still loading, or a load that failed (with `ModelLoadError`'s how-to-fix). Torch
is imported only when a local engine loads. Decoding runs on the job registry's model thread(s).

With `--server URL` the "model" is a team server (`diffcoder.model.remote`): connecting is the
load, an unreachable server is a failed load, and a request the server cannot serve fails with
the server's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from diffcoder.lsp_server.documents import RequestFailed
from diffcoder.lsp_server.protocol import ModelState, ModelStatus
from diffcoder.lsp_server.settings import Settings
from diffcoder.model.backend import GenerationBackend
from diffcoder.model.types import LoadOptions, ModelLoadError

logger = logging.getLogger(__name__)
T = TypeVar("T")
# How to load an engine: the server's test hook (`create_server(engine_loader=...)`) replaces it.
EngineLoader = Callable[[str, Settings], GenerationBackend]
HOW_TO_SET = (
    "no model configured (started with --no-demo-model, or the embedded demo model is not "
    "installed): start the server with "
    "`diffcoder-lsp --model PATH` or set "
    '"modelPath" in the initializationOptions (VS Code: the diffcoder.modelPath setting)'
)


# Requests one editor has in flight at once (an edit while inline completions arrive, several
# documents); each slot's KV cache holds a full context, so more would only reserve memory.
LOCAL_MAX_BATCH = 4


def load_engine(path: str, settings: Settings) -> GenerationBackend:
    """The local engine; imported here so a server that never loads one never imports torch.
    No progress bar: it would land on stderr, past the server's --log-file."""
    from diffcoder.model.batching import BatchedEngine
    from diffcoder.model.engine import load_engine as load_local

    options = LoadOptions(device=settings.device, quant=settings.quant, progress_bars=False)
    return BatchedEngine.from_engine(load_local(path, options), max_batch=LOCAL_MAX_BATCH)


class RemoteLoader:
    """`diffcoder-lsp --server URL`: every load connects to the team server, whatever model
    path the editor names (`location` is what the status shows instead)."""

    def __init__(self, url: str, token_file: str | None = None) -> None:
        self.location = url
        self.token_file = token_file

    def __call__(self, path: str, settings: Settings) -> GenerationBackend:
        from diffcoder.model.remote import connect

        return _ServerBackend(connect(self.location, self.token_file))


class _ServerBackend:
    """A remote backend whose failures are request failures with the server's reason (not
    internal errors): the editor shows them like a missing model."""

    def __init__(self, remote: GenerationBackend) -> None:
        self.remote = remote

    def __getattr__(self, name: str) -> Any:  # tokenizer, special, concurrency, describe
        return getattr(self.remote, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        from diffcoder.model.remote import RemoteError

        try:
            return self.remote.generate(*args, **kwargs)
        except RemoteError as error:
            raise RequestFailed(f"DiffCoder: {error}") from None


async def _in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a daemon thread: unlike `asyncio.to_thread`, a load that takes minutes
    does not hold the process after `exit` (the interpreter joins executor threads)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():
            outcome()

    def run() -> None:
        try:
            result = fn(*args)
        except Exception as error:  # handed to the awaiting coroutine
            outcome = functools.partial(done.set_exception, error)
        else:
            outcome = functools.partial(done.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name="diffcoder-load", daemon=True).start()
    return await done


class ModelHost:
    def __init__(self, loader: EngineLoader = load_engine) -> None:
        self.loader = loader
        self.state: ModelState = "unconfigured"
        self.reason = HOW_TO_SET
        self.path: str | None = None
        self.engine: GenerationBackend | None = None
        self._loaded: asyncio.Event | None = None
        self._loads = 0  # a load that finishes after a newer one started is dropped

    def describe(self) -> ModelStatus:
        return ModelStatus(state=self.state, path=self.path, detail=self.reason)

    def load(self, path: str, settings: Settings, on_begin=None, on_end=None) -> asyncio.Task:
        """Start loading `path` in a thread (the previous model is closed first); requests from
        now on see "loading" and wait for it."""
        self.close_model()
        path = getattr(self.loader, "location", None) or path  # a team server's URL
        self._loads += 1
        self.state, self.path, self.reason = "loading", path, f"loading {path}"
        self._loaded = asyncio.Event()
        coroutine = self._load(self._loads, self._loaded, path, settings, on_begin, on_end)
        return asyncio.ensure_future(coroutine)

    async def _load(self, this_load, loaded, path, settings, on_begin, on_end) -> None:
        if on_begin is not None:
            await on_begin(f"{path} ({settings.quant} on {settings.device})")
        engine: GenerationBackend | None = None
        try:
            engine = await _in_daemon_thread(self.loader, path, settings)
        except (ModelLoadError, OSError, ValueError, RuntimeError, ImportError) as error:
            failure = str(error)
        except Exception as error:  # anything else too: the server stays up and says why
            logger.exception("model load failed")
            failure = f"{type(error).__name__}: {error}"
        if this_load != self._loads:  # a newer load replaced this one meanwhile
            if on_end is not None:
                on_end("replaced by a newer load")
            return
        if engine is None:
            self.state = "failed"
            self.reason = f"the model at {path} could not be loaded: {failure}"
            logger.error("%s", self.reason)
        else:
            self.engine = engine
            self.state, self.reason = "ready", engine.describe().summary
            logger.info("model ready: %s", self.reason)
        loaded.set()
        if on_end is not None:
            on_end(self.reason)

    async def acquire(self, wait_s: float) -> GenerationBackend:
        """The engine, waiting up to `wait_s` for a load in progress; else RequestFailed."""
        if self.state == "loading" and self._loaded is not None:
            try:
                await asyncio.wait_for(self._loaded.wait(), wait_s)
            except asyncio.TimeoutError:
                raise RequestFailed(
                    f"DiffCoder: the model is still loading ({self.path}); try again shortly"
                ) from None
        if self.state == "ready" and self.engine is not None:
            return self.engine
        raise RequestFailed(f"DiffCoder: {self.reason}")

    def close_model(self) -> None:
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()  # a BatchedEngine stops its scheduler thread; waiting calls end with an error
        self.engine = None
