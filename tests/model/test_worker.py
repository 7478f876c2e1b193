"""The model worker thread: one forward at a time, awaitable, cancellable."""

from __future__ import annotations

import asyncio
import threading

import pytest

from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions
from diffcoder.model.worker import ModelWorker


@pytest.fixture(scope="module")
def engine(tiny_ckpt):
    return load_engine(tiny_ckpt, LoadOptions(device="cpu", quant="none", dtype="float32"))


def test_requests_never_overlap(engine):
    active, overlaps, threads = [0], [], set()
    lock = threading.Lock()
    original = engine.generate

    def guarded(*args, **kwargs):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
            threads.add(threading.current_thread().name)
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    engine.generate = guarded
    worker = ModelWorker(engine)
    try:
        prompt = encode_prompt(engine.tokenizer, "def add(a, b):")
        jobs = [worker.submit(prompt, DecodeConfig(max_new_tokens=16)) for _ in range(4)]
        results = [job.future.result(timeout=60) for job in jobs]
    finally:
        worker.close()
        del engine.generate
    assert max(overlaps) == 1
    assert all(r.token_ids == results[0].token_ids for r in results)
    assert len(threads) == 1 and threads.pop().startswith("diffcoder-model")


def test_cancelling_the_await_stops_decoding(engine):
    worker = ModelWorker(engine)
    started = threading.Event()
    results = []

    def on_step(info):
        started.set()

    async def scenario():
        prompt = encode_prompt(engine.tokenizer, "def add(a, b):")
        config = DecodeConfig(max_new_tokens=4096, threshold=None)
        task = asyncio.create_task(worker.generate(prompt, config, on_step))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the worker is free again and the model still decodes
        results.append(await worker.generate(prompt, DecodeConfig(max_new_tokens=8)))

    try:
        asyncio.run(scenario())
    finally:
        worker.close()
    assert len(results[0].token_ids) <= 8


def test_job_cancel_returns_cancelled_result(engine):
    worker = ModelWorker(engine)
    submitted = threading.Event()
    job_holder = []

    def on_step(info):
        if info.step == 3:
            submitted.wait(30)
            job_holder[0].cancel_flag.set()

    try:
        job = worker.submit(
            encode_prompt(engine.tokenizer, "x = 1"),
            DecodeConfig(max_new_tokens=64, threshold=None),
            on_step,
        )
        job_holder.append(job)
        submitted.set()
        result = job.future.result(timeout=60)
    finally:
        worker.close()
    assert result.finish_reason == "cancelled"
    assert result.nfe == 3


def test_close_stops_a_running_generation(engine):
    worker = ModelWorker(engine)
    started = threading.Event()
    job = worker.submit(
        encode_prompt(engine.tokenizer, "x"),
        DecodeConfig(max_new_tokens=100_000, threshold=None),
        lambda info: started.set(),
    )
    assert started.wait(30)
    worker.close()  # returns only once the running job has ended
    assert job.future.done() and job.future.result().finish_reason == "cancelled"
