"""The job registry: one model thread running one job at a time, and every way a job ends early
(request id, document, progress token, all, a newer infill, a reload, shutdown), each stopping the
decoding within one forward. Also the server's hook that reads `$/cancelRequest`."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pygls.lsp.server import LanguageServer

from diffcoder.lsp_server.jobs import JobRegistry, cancelled_request_id
from diffcoder.lsp_server.server import create_server
from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions
from diffcoder.testing.scripted_backend import ScriptedBackend
from tests.lsp.conftest import TINY


@pytest.fixture(scope="module")
def scripted() -> ScriptedBackend:
    return ScriptedBackend.from_checkpoint(TINY, "x = 1\n", steps=40, step_delay=0.01)


@pytest.fixture(scope="module")
def engine():
    return load_engine(TINY, LoadOptions(device="cpu", quant="none", dtype="float32"))


async def first_step(started: threading.Event) -> None:
    assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)


def test_jobs_never_overlap_and_run_on_the_model_thread(scripted: ScriptedBackend):
    active, overlaps, threads = [0], [], set()
    lock = threading.Lock()

    def generate(*args, **kwargs):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
            threads.add(threading.current_thread().name)
        try:
            return scripted.generate(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    async def scenario():
        registry = JobRegistry()
        prompt = encode_prompt(scripted.tokenizer, "def add(a, b):")

        async def one(request_id: int):
            with registry.track("edit", request_id, "file:///a.py") as job:
                return await registry.run(job, generate, prompt, DecodeConfig(max_new_tokens=4))

        try:
            return await asyncio.gather(*(one(i) for i in range(4)))
        finally:
            registry.close()

    results = asyncio.run(scenario())
    assert len(overlaps) == 4 and max(overlaps) == 1
    assert [r.text for r in results] == ["x = 1\n"] * 4
    assert len(threads) == 1 and threads.pop().startswith("diffcoder-model")


def test_cancelling_the_awaiting_task_stops_the_decoding(scripted: ScriptedBackend):
    ended = []

    def generate(*args, **kwargs):
        ended.append(scripted.generate(*args, **kwargs))
        return ended[-1]

    async def scenario():
        registry = JobRegistry()
        started = threading.Event()
        prompt = encode_prompt(scripted.tokenizer, "x")

        async def decode():
            with registry.track("edit", "doomed", None) as job:
                config = DecodeConfig(max_new_tokens=64)
                return await registry.run(
                    job, generate, prompt, config, on_step=lambda i: started.set()
                )

        task = asyncio.ensure_future(decode())
        await first_step(started)
        assert registry.in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert registry.in_flight == 0
        # the thread is free again: the next job queues behind the cancelled one and runs
        with registry.track("edit", "next", None) as job:
            await registry.run(job, generate, prompt, DecodeConfig(max_new_tokens=4))
        registry.close()

    asyncio.run(scenario())
    assert [r.finish_reason for r in ended] == ["cancelled", "stop"]
    assert 1 <= ended[0].nfe < 40


def test_a_cancel_by_request_id_stops_the_engine_within_one_forward(engine):
    async def scenario():
        registry = JobRegistry()

        def on_step(info):
            if info.step == 3:
                registry.cancel_request("edit-7")  # from the model thread, mid-decoding

        prompt = encode_prompt(engine.tokenizer, "x = 1")
        config = DecodeConfig(max_new_tokens=64, threshold=None)
        with registry.track("edit", "edit-7", "file:///a.py") as job:
            result = await registry.run(job, engine.generate, prompt, config, on_step=on_step)
        registry.close()
        return job, result

    job, result = asyncio.run(scenario())
    assert job.cancelled
    # no forward after the step that saw the cancel (the same count the engine gave before)
    assert result.finish_reason == "cancelled" and result.nfe == 3


def test_close_stops_a_running_generation(engine):
    async def scenario():
        registry = JobRegistry()
        started = threading.Event()
        prompt = encode_prompt(engine.tokenizer, "x")
        config = DecodeConfig(max_new_tokens=100_000, threshold=None)
        with registry.track("edit", 1, None) as job:
            running = asyncio.ensure_future(
                registry.run(job, engine.generate, prompt, config, on_step=lambda i: started.set())
            )
            await first_step(started)
            registry.close()  # what shutdown does
            return await running

    assert asyncio.run(scenario()).finish_reason == "cancelled"


def test_cancel_by_document_token_kind_or_all():
    registry = JobRegistry()
    with (
        registry.track("edit", 1, "file:///a.py") as a_edit,
        registry.track("infill", 2, "file:///a.py") as a_infill,
        registry.track("edit", 3, "file:///b.py") as b_edit,
    ):
        b_edit.progress_token = "diffcoder-tok"
        jobs = (a_edit, a_infill, b_edit)
        assert registry.in_flight == 3
        assert registry.cancel() == 0, "no criterion must not mean every job"
        assert registry.cancel(uri="file:///nowhere.py") == 0
        assert not any(job.cancelled for job in jobs)
        assert registry.cancel(token="diffcoder-tok") == 1 and b_edit.cancelled
        assert registry.cancel(uri="file:///a.py", kind="infill") == 1 and a_infill.cancelled
        assert not a_edit.cancelled
        assert registry.cancel(request_id=1) == 1 and a_edit.cancelled
        assert registry.cancel_all() == 3
    assert registry.in_flight == 0
    registry.close()


def test_a_newer_infill_cancels_the_older_on_its_document_only():
    registry = JobRegistry()
    with (
        registry.track("edit", 1, "file:///a.py") as edit,
        registry.track("infill", 2, "file:///a.py") as older,
        registry.track("infill", 3, "file:///b.py") as elsewhere,
    ):
        with registry.track("infill", 4, "file:///a.py") as newer:
            assert older.cancelled and not newer.cancelled
        assert not edit.cancelled and not elsewhere.cancelled
    registry.close()


def test_a_reload_cancels_the_jobs_on_the_model_not_those_waiting(scripted: ScriptedBackend):
    async def scenario():
        registry = JobRegistry()
        started = threading.Event()
        prompt = encode_prompt(scripted.tokenizer, "x")
        with (
            registry.track("edit", 1, None) as running,
            registry.track("edit", 2, None) as waiting,
        ):
            config = DecodeConfig(max_new_tokens=64)
            task = asyncio.ensure_future(
                registry.run(
                    running, scripted.generate, prompt, config, on_step=lambda i: started.set()
                )
            )
            await first_step(started)
            assert registry.cancel_running() == 1
            result = await task
        registry.close()
        return running, waiting, result

    running, waiting, result = asyncio.run(scenario())
    assert running.cancelled and not waiting.cancelled
    assert result.finish_reason == "cancelled"


def test_cancelled_request_id_reads_pygls_messages():
    protocol = LanguageServer("test", "0").protocol
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "edit-1"}}
    assert cancelled_request_id(protocol.structure_message(cancel)) == "edit-1"
    number = {**cancel, "params": {"id": 7}}
    assert cancelled_request_id(protocol.structure_message(number)) == 7
    request = {"jsonrpc": "2.0", "id": 8, "method": "shutdown", "params": None}
    assert cancelled_request_id(protocol.structure_message(request)) is None


def test_the_server_protocol_cancels_the_job_a_cancel_request_names():
    server = create_server(demo_model=False)
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 12}}
    with (
        server.jobs.track("edit", 12, None) as named,
        server.jobs.track("edit", 13, None) as other,
    ):
        server.protocol.handle_message(server.protocol.structure_message(cancel))
        assert named.cancelled and not other.cancelled
    server.jobs.close()
