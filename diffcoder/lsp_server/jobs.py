"""Every running generation and how it ends early: the job registry, and the model threads.

A job is registered when its request arrives, so a cancel reaches it while it waits for the
debounce or the model load, and leaves when its answer is ready. Cancelling sets the job's Event,
which the pipeline passes to the backend as `cancel`: decoding stops within one forward.

A backend that decodes one request at a time (`concurrency == 1`) gets one model thread; a batching
backend gets up to `concurrency` pipelines at once, whose requests share forwards.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import unquote

from lsprotocol import types

logger = logging.getLogger(__name__)
T = TypeVar("T")
JobKind = Literal["edit", "infill"]


@dataclass(eq=False)
class Job:
    """One request's generation; `cancel_flag` is read by the model thread every step."""

    kind: JobKind
    request_id: Any  # the JSON-RPC id, the key of `$/cancelRequest`
    uri: str | None
    progress_token: str | None = None  # the key of `window/workDoneProgress/cancel`
    running: bool = False  # on the model thread (or queued for it), not waiting any more
    cancel_flag: threading.Event = field(default_factory=threading.Event)
    why_cancelled: str = "cancelled"  # the edit's detail when it ends cancelled

    def cancel(self, why: str | None = None) -> None:
        if why is not None and not self.cancelled:
            self.why_cancelled = why
        self.cancel_flag.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_flag.is_set()


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: list[Job] = []
        # The whole pipeline (prompt, decoding, post-processing) runs here, one job at a time,
        # so a one-at-a-time backend is never used from two threads at once.
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffcoder-model")
        # A batching backend's pipelines run side by side, at most `concurrency` of them.
        self._batch_threads: dict[int, ThreadPoolExecutor] = {}

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    @contextmanager
    def track(self, kind: JobKind, request_id: Any, uri: str | None) -> Iterator[Job]:
        """Register a job for the block's duration; a newer infill ends older ones on its
        document (typing moved on), and a request cancelled by pygls cancels its job."""
        if kind == "infill":
            self.cancel(uri=uri, kind="infill")
        job = Job(kind=kind, request_id=request_id, uri=uri)
        self._jobs.append(job)
        try:
            yield job
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            self._jobs.remove(job)

    async def run(self, job: Job, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs, cancel=<the job's Event>)` on a model thread: the one model
        thread, or, when the first argument is a backend whose `concurrency` is more than 1, one
        of that many threads (its requests then share forwards)."""
        job.running = True
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor(args), lambda: fn(*args, **kwargs, cancel=job.cancel_flag)
        )

    def _executor(self, args: tuple[Any, ...]) -> ThreadPoolExecutor:
        concurrency = getattr(args[0], "concurrency", 1) if args else 1
        if not isinstance(concurrency, int) or concurrency <= 1:
            return self._model_thread
        if concurrency not in self._batch_threads:
            self._batch_threads[concurrency] = ThreadPoolExecutor(
                max_workers=concurrency, thread_name_prefix="diffcoder-model-batch"
            )
        return self._batch_threads[concurrency]

    def cancel(
        self,
        *,
        request_id: Any = None,
        uri: str | None = None,
        token: str | None = None,
        kind: JobKind | None = None,
        why: str | None = None,
    ) -> int:
        """Cancel the jobs that match every criterion given (`why` becomes their detail). None
        given cancels nothing (a missing id must never end every job): `cancel_all` does that.
        URIs match whatever their percent-encoding."""
        criteria = {
            "request_id": request_id,
            "uri": None if uri is None else unquote(uri),
            "progress_token": token,
            "kind": kind,
        }
        wanted = {name: value for name, value in criteria.items() if value is not None}
        if not wanted:
            return 0

        def value(job: Job, name: str) -> Any:
            found = getattr(job, name)
            return unquote(found) if name == "uri" and found is not None else found

        chosen = [job for job in self._jobs if all(value(job, n) == v for n, v in wanted.items())]
        for job in chosen:
            job.cancel(why)
        return len(chosen)

    def cancel_all(self) -> int:
        for job in self._jobs:
            job.cancel()
        return len(self._jobs)

    def cancel_request(self, request_id: Any) -> None:
        """`$/cancelRequest`: pygls answers the request; this stops its decoding."""
        if self.cancel(request_id=request_id):
            logger.info("cancelled the decoding of request %s", request_id)

    def cancel_running(self) -> int:
        """Cancel the jobs that reached the model (a reload drops the model they use); jobs
        still waiting for it keep waiting, for the new one."""
        running = [job for job in self._jobs if job.running]
        for job in running:
            job.cancel()
        return len(running)

    def close(self) -> None:
        """Cancel every job (a running one stops within one forward); drop the queued ones."""
        self.cancel_all()
        for executor in (self._model_thread, *self._batch_threads.values()):
            executor.shutdown(wait=False, cancel_futures=True)


def cancelled_request_id(message: Any) -> Any | None:
    """The id a `$/cancelRequest` notification names (None for any other message).

    pygls answers a cancelled request itself, but for `workspace/executeCommand` it cancels only
    the future of the generator that wraps the command's coroutine: the coroutine, and the
    decoding behind it, never hear of it. pygls handles `$/cancelRequest` before user features
    (no `@feature` reaches it), so the server's protocol reads it in the public `handle_message`,
    which every incoming message passes through, using this function.
    """
    if isinstance(message, types.CancelNotification):
        return message.params.id
    return None
