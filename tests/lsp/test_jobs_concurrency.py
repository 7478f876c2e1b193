"""The job registry with a batching backend: up to `concurrency` pipelines at once (their requests
share forwards), a newer inline completion still cancels an older one on the same document."""

from __future__ import annotations

import asyncio
import threading

from diffcoder.lsp_server.jobs import JobRegistry
from diffcoder.model.backend import encode_prompt
from diffcoder.model.batching import BatchedEngine
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions
from diffcoder.testing.scripted_backend import ScriptedBackend
from tests.lsp.conftest import TINY


def overlap_counter():
    active, peaks, lock = [0], [], threading.Lock()

    def decode(backend, prompt, config, cancel):
        with lock:
            active[0] += 1
            peaks.append(active[0])
        try:
            return backend.generate(prompt, config, cancel=cancel)
        finally:
            with lock:
                active[0] -= 1

    return decode, peaks


def run_jobs(registry: JobRegistry, decode, backend, prompts, kind="edit", uri=None):
    async def one(request_id: int, prompt):
        doc = uri or f"file:///{request_id}.py"
        with registry.track(kind, request_id, doc) as job:
            config = DecodeConfig(max_new_tokens=8)
            return await registry.run(job, decode, backend, prompt, config)

    async def scenario():
        try:
            return await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
        finally:
            registry.close()

    return asyncio.run(scenario())


def test_up_to_concurrency_jobs_run_at_once():
    backend = ScriptedBackend.from_checkpoint(TINY, "x = 1\n", steps=20, step_delay=0.01)
    batching = ScriptedBackend.from_checkpoint(
        TINY, "x = 1\n", steps=20, step_delay=0.01, concurrency=3
    )
    prompt = encode_prompt(backend.tokenizer, "def f():")
    decode, peaks = overlap_counter()
    run_jobs(JobRegistry(), decode, backend, [prompt] * 4)
    assert max(peaks) == 1  # a one-at-a-time backend keeps the one model thread
    decode, peaks = overlap_counter()
    results = run_jobs(JobRegistry(), decode, batching, [prompt] * 7)
    assert max(peaks) == 3 and len(peaks) == 7
    assert [r.text for r in results] == ["x = 1\n"] * 7


def test_a_newer_infill_cancels_the_older_one_with_a_batching_backend():
    backend = ScriptedBackend.from_checkpoint(
        TINY, "x = 1\n", steps=200, step_delay=0.01, concurrency=4
    )
    prompt = encode_prompt(backend.tokenizer, "x")
    registry = JobRegistry()

    async def infill(request_id: int, started: threading.Event | None):
        with registry.track("infill", request_id, "file:///a.py") as job:

            def decode(backend, prompt, config, cancel):
                if started is not None:
                    started.set()
                return backend.generate(prompt, config, cancel=cancel)

            return await registry.run(job, decode, backend, prompt, DecodeConfig(8))

    async def scenario():
        started = threading.Event()
        older = asyncio.ensure_future(infill(1, started))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, started.wait, 30)
        newer = await infill(2, None)
        return await older, newer

    try:
        older, newer = asyncio.run(scenario())
    finally:
        registry.close()
    assert older.finish_reason == "cancelled" and newer.finish_reason == "stop"


def test_concurrent_jobs_share_the_batched_engines_forwards():
    engine = load_engine(TINY, LoadOptions(device="cpu", quant="none", dtype="float32"))
    prompts = [encode_prompt(engine.tokenizer, f"def f{i}(a, b):") for i in range(4)]
    alone = [engine.generate(p, DecodeConfig(max_new_tokens=8)).token_ids for p in prompts]
    batched = BatchedEngine.from_engine(engine, max_batch=4, context=64)
    decode, peaks = overlap_counter()
    try:
        results = run_jobs(JobRegistry(), decode, batched, prompts)
    finally:
        batched.close()
    assert [r.token_ids for r in results] == alone
    assert max(peaks) >= 2 and batched.counts.largest_batch >= 2
