"""The model as the server holds it: loaded in the background, one worker thread decoding.

Requests wait for a load in progress (up to a limit), and get a clear reason when there is no model:
none configured, still loading, or a load that failed (with `ModelLoadError`'s how-to-fix).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from diffcoder.lsp_server.documents import RequestFailed
from diffcoder.lsp_server.settings import Settings
from diffcoder.model.engine import DiffusionEngine
from diffcoder.model.loading import ModelLoadError
from diffcoder.model.sampler import DecodeConfig, GenerationResult, StepInfo
from diffcoder.model.worker import GenerationJob, ModelWorker

logger = logging.getLogger(__name__)
T = TypeVar("T")
# How to load an engine: the server's test hook (`create_server(engine_loader=...)`) replaces it.
EngineLoader = Callable[[str, Settings], DiffusionEngine]
State = Literal["unconfigured", "loading", "ready", "failed"]
HOW_TO_SET = (
    "no model configured (started with --no-demo-model, or the embedded demo model is not "
    "installed): start the server with "
    "`diffcoder-lsp --model PATH` or set "
    '"modelPath" in the initializationOptions (VS Code: the diffcoder.modelPath setting)'
)


def load_engine(path: str, settings: Settings) -> DiffusionEngine:
    return DiffusionEngine.from_path(path, device=settings.device, quant=settings.quant)


class ModelJob:
    """One request's decoding: cancelled from the event loop, seen by the model thread."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = uri
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._job: GenerationJob | None = None

    def attach(self, job: GenerationJob) -> None:
        with self._lock:
            self._job = job
            if self.cancelled.is_set():
                job.cancel()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            if self._job is not None:
                self._job.cancel()


class ModelHost:
    def __init__(self, loader: EngineLoader = load_engine) -> None:
        self.loader = loader
        self.state: State = "unconfigured"
        self.reason = HOW_TO_SET
        self.path: str | None = None
        self.engine: DiffusionEngine | None = None
        self.worker: ModelWorker | None = None
        # Prompt building and post-processing run here, one request at a time, so the tokenizer
        # is never used from two threads at once and the event loop never does model-side work.
        self.pipeline = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffcoder-pipeline")
        self._loaded: asyncio.Event | None = None
        self._loads = 0  # a load that finishes after a newer one started is dropped

    def describe(self) -> dict[str, Any]:
        return {"state": self.state, "path": self.path, "detail": self.reason}

    def load(self, path: str, settings: Settings, on_begin=None, on_end=None) -> asyncio.Task:
        """Start loading `path` in a thread (the previous model is closed first); requests from
        now on see "loading" and wait for it."""
        self.close_model()
        self._loads += 1
        self.state, self.path, self.reason = "loading", path, f"loading {path}"
        self._loaded = asyncio.Event()
        coroutine = self._load(self._loads, self._loaded, path, settings, on_begin, on_end)
        return asyncio.ensure_future(coroutine)

    async def _load(self, this_load, loaded, path, settings, on_begin, on_end) -> None:
        if on_begin is not None:
            await on_begin(f"{path} ({settings.quant} on {settings.device})")
        engine: DiffusionEngine | None = None
        try:
            engine = await asyncio.to_thread(self.loader, path, settings)
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
            self.engine, self.worker = engine, ModelWorker(engine)
            self.state, self.reason = "ready", engine.describe()
            logger.info("model ready: %s", self.reason)
        loaded.set()
        if on_end is not None:
            on_end(self.reason)

    async def acquire(self, wait_s: float) -> DiffusionEngine:
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

    def routed_generate(self, job: ModelJob) -> Callable[..., GenerationResult]:
        """A `generate` for `run_edit` that decodes on the worker thread and honours `job`."""

        def generate(
            prompt_ids: list[int],
            config: DecodeConfig,
            *,
            on_step: Callable[[StepInfo], None] | None = None,
            cancel: Any = None,
            draft_ids: list[int] | None = None,
        ) -> GenerationResult:
            assert self.worker is not None
            worker_job = self.worker.submit(prompt_ids, config, on_step, draft_ids)
            job.attach(worker_job)
            try:
                return worker_job.future.result()
            except CancelledError:  # dropped before it started
                return GenerationResult([], "", "cancelled", 0, len(prompt_ids), 0.0, 0.0)

        return generate

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run model-side glue (`run_edit`, infill) on the pipeline thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pipeline, lambda: fn(*args, **kwargs))

    def close_model(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.engine = self.worker = None

    def close(self) -> None:
        self.close_model()
        self.pipeline.shutdown(wait=False, cancel_futures=True)
