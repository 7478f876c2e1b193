"""The one thread that owns the model: requests are queued and awaited, never run concurrently.

Cancelling a job sets the flag the sampler checks every step, so it ends within one forward.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from diffcoder.model.engine import DiffusionEngine
from diffcoder.model.types import DecodeConfig, GenerationResult, StepInfo


@dataclass(eq=False)
class GenerationJob:
    future: Future[GenerationResult]
    cancel_flag: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop the job: drop it if it has not started, else end decoding at the next step."""
        self.cancel_flag.set()
        self.future.cancel()


class ModelWorker:
    def __init__(self, engine: DiffusionEngine) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffcoder-model")
        self._jobs: set[GenerationJob] = set()

    def submit(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        on_step: Callable[[StepInfo], None] | None = None,
        draft_ids: list[int] | None = None,
    ) -> GenerationJob:
        cancel_flag = threading.Event()
        future = self._executor.submit(
            self.engine.generate,
            prompt_ids,
            config,
            on_step=on_step,
            cancel=cancel_flag,
            draft_ids=draft_ids,
        )
        job = GenerationJob(future, cancel_flag)
        self._jobs.add(job)
        future.add_done_callback(lambda _: self._jobs.discard(job))
        return job

    async def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        on_step: Callable[[StepInfo], None] | None = None,
        draft_ids: list[int] | None = None,
    ) -> GenerationResult:
        """Await a generation from asyncio code; cancelling the await cancels the decoding."""
        job = self.submit(prompt_ids, config, on_step, draft_ids)
        try:
            return await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise

    def close(self) -> None:
        """Cancel queued and running jobs (each stops within one forward), then join the thread."""
        for job in list(self._jobs):
            job.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
