"""Continuous batching: every request's answer equals decoding it alone, while forwards are shared.

Checkpoints with clear confidence margins (a sharpened head) in float32, and the plain tiny one in
float64, so batched arithmetic (other matrix shapes, padded attention) cannot flip a choice.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import torch

from diffcoder.model.batching import BatchedEngine, plan_pool
from diffcoder.model.engine import DiffusionEngine, load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions, StepInfo
from tests.model.fake_models import prompt_of

CPU32 = LoadOptions(device="cpu", quant="none", dtype="float32", progress_bars=False)


def engine_at(path, dtype=torch.float32, **overrides) -> DiffusionEngine:
    options = CPU32 if not overrides else LoadOptions(**{**CPU32.__dict__, **overrides})
    engine = load_engine(path, options)
    engine.model.to(dtype)
    return engine


@pytest.fixture(scope="module")
def sharp(sharp_ckpt) -> DiffusionEngine:
    return engine_at(sharp_ckpt)


@pytest.fixture(scope="module")
def plain64(tiny_ckpt) -> DiffusionEngine:
    return engine_at(tiny_ckpt, torch.float64)


@dataclass
class Request:
    prompt: list[int]
    config: DecodeConfig
    draft: list[int] | None = None
    cancel_at: int | None = None  # set the cancel flag at this step
    cancel: threading.Event = field(default_factory=threading.Event)

    def on_step(self, info: StepInfo) -> None:
        if info.step == self.cancel_at:
            self.cancel.set()


def run(engine, request: Request):
    return engine.generate(
        request.prompt,
        request.config,
        draft_ids=request.draft,
        on_step=request.on_step,
        cancel=threading.Event() if request.cancel_at is None else request.cancel,
    )


def run_batched(batched: BatchedEngine, requests: list[Request]):
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(lambda r: run(batched, r), requests))


def same(alone, batched) -> None:
    assert batched.token_ids == alone.token_ids
    assert batched.text == alone.text
    assert batched.finish_reason == alone.finish_reason
    assert batched.nfe == alone.nfe
    assert batched.draft_accepted_tokens == alone.draft_accepted_tokens


def mixed_requests(engine: DiffusionEngine) -> list[Request]:
    """Prompt lengths of every remainder mod 4, several budgets, both modes, both selection
    rules, sampling with per-request seeds, exact and wrong drafts, a stop string."""
    vocab = [i for i in range(len(engine.tokenizer)) if i not in engine.special.banned | {2}]

    def prompt(length: int, seed: int) -> list[int]:
        return [vocab[i % len(vocab)] for i in prompt_of(length, seed=seed)]

    requests = [
        Request(prompt(5, 1), DecodeConfig(max_new_tokens=12, threshold=None)),
        Request(prompt(6, 2), DecodeConfig(max_new_tokens=21, threshold=0.9)),
        Request(prompt(7, 3), DecodeConfig(max_new_tokens=16, mode="parity", threshold=None)),
        Request(prompt(8, 4), DecodeConfig(max_new_tokens=9, threshold=None, steps_per_block=2)),
        Request(prompt(13, 5), DecodeConfig(max_new_tokens=24, temperature=0.8, seed=7)),
        Request(prompt(14, 6), DecodeConfig(max_new_tokens=24, temperature=0.8, seed=8)),
        Request(prompt(31, 7), DecodeConfig(max_new_tokens=32, mode="parity", threshold=0.7)),
        Request(prompt(4, 8), DecodeConfig(max_new_tokens=40, threshold=0.5)),
    ]
    exact = engine.generate(requests[7].prompt, requests[7].config).token_ids
    wrong = exact[:10] + [vocab[3]] * 4 + exact[14:]
    requests.append(Request(requests[7].prompt, requests[7].config, draft=exact))
    requests.append(Request(requests[7].prompt, requests[7].config, draft=wrong))
    full = engine.generate(requests[1].prompt, requests[1].config)
    stop = engine.decode(full.token_ids[9:11])
    config = DecodeConfig(max_new_tokens=21, threshold=0.9, stop_strings=(stop,))
    requests.append(Request(requests[1].prompt, config))
    return requests


@pytest.mark.parametrize("which", ["sharp float32", "plain float64"])
def test_every_request_equals_decoding_it_alone(sharp, plain64, which):
    engine = sharp if which.startswith("sharp") else plain64
    requests = mixed_requests(engine)
    alone = [run(engine, r) for r in requests]
    batched = BatchedEngine.from_engine(engine, max_batch=4, context=128, prefill_chunk=8)
    try:
        assert batched.concurrency == 4
        answers = run_batched(batched, requests)
    finally:
        batched.close()
    for a, b in zip(alone, answers, strict=True):
        same(a, b)
    assert {a.finish_reason for a in alone} >= {"length", "stop"}
    if engine is sharp:  # confident enough for blocks to pass whole
        assert alone[8].draft_accepted_tokens > 0  # the exact draft was used
    counts = batched.counts
    assert counts.largest_batch == 4  # 11 requests through 4 slots: they joined as slots freed
    assert counts.rows == sum(a.nfe for a in alone)  # every request-step ran once
    assert counts.forwards < counts.rows / 2  # … in shared forwards


def test_eos_ends_one_row_early_and_the_others_go_on(sharp_ckpt, sharp):
    request = Request(prompt_of(9, seed=3), DecodeConfig(max_new_tokens=32, threshold=0.9))
    free = sharp.generate(request.prompt, request.config).token_ids
    eos_engine = engine_at(sharp_ckpt, special_overrides={"eos": free[10]})
    others = [
        Request(prompt_of(n, seed=n), DecodeConfig(max_new_tokens=20, threshold=None))
        for n in (5, 6, 7)
    ]
    requests = [request, *others]
    alone = [run(eos_engine, r) for r in requests]
    assert alone[0].finish_reason == "eos" and len(alone[0].token_ids) <= 10
    batched = BatchedEngine.from_engine(eos_engine, max_batch=4, context=64)
    try:
        for a, b in zip(alone, run_batched(batched, requests), strict=True):
            same(a, b)
    finally:
        batched.close()


def test_cancelling_one_row_mid_batch_leaves_the_others_exact(sharp):
    requests = [
        Request(prompt_of(4 + n, seed=n), DecodeConfig(max_new_tokens=24, threshold=None))
        for n in range(4)
    ]
    requests[1].cancel_at = 3
    alone = [run(sharp, r) for r in requests]
    requests[1].cancel.clear()
    batched = BatchedEngine.from_engine(sharp, max_batch=4, context=64)
    try:
        answers = run_batched(batched, requests)
        again = batched.generate(requests[1].prompt, requests[1].config)  # the slot is free
    finally:
        batched.close()
    for a, b in zip(alone, answers, strict=True):
        same(a, b)
    assert answers[1].finish_reason == "cancelled" and answers[1].nfe == 3
    assert again.finish_reason == "length"
    assert answers[1].token_ids == again.token_ids[: len(answers[1].token_ids)]


def test_requests_that_cannot_run_are_refused_clearly(sharp):
    batched = BatchedEngine.from_engine(sharp, max_batch=2, context=32)
    try:
        with pytest.raises(ValueError, match="needs 50 KV positions .* holds 32"):
            batched.generate(prompt_of(10), DecodeConfig(max_new_tokens=40))
        with pytest.raises(ValueError, match="fast mode"):
            batched.generate(
                prompt_of(8), DecodeConfig(max_new_tokens=8, mode="parity"), draft_ids=[1]
            )
        cancelled = threading.Event()
        cancelled.set()
        result = batched.generate(prompt_of(8), DecodeConfig(max_new_tokens=8), cancel=cancelled)
        assert result.finish_reason == "cancelled" and result.nfe == 0
    finally:
        batched.close()
    with pytest.raises(RuntimeError, match="closed"):
        batched.generate(prompt_of(8), DecodeConfig(max_new_tokens=8))


def test_a_failing_callback_fails_only_its_own_request(sharp):
    def boom(info: StepInfo) -> None:
        raise KeyError("callback")

    batched = BatchedEngine.from_engine(sharp, max_batch=2, context=64)
    config = DecodeConfig(max_new_tokens=16, threshold=None)
    try:
        with ThreadPoolExecutor(2) as pool:
            failing = pool.submit(batched.generate, prompt_of(6), config, on_step=boom)
            fine = pool.submit(batched.generate, prompt_of(7), config)
            with pytest.raises(KeyError, match="callback"):
                failing.result()
            assert fine.result().token_ids == sharp.generate(prompt_of(7), config).token_ids
        assert batched.healthy  # one request's failure does not stop the scheduler
    finally:
        batched.close()
    assert not batched.healthy
    with pytest.raises(RuntimeError, match="closed"):
        batched.generate(prompt_of(7), config)


def test_pool_plan_keeps_the_full_context_and_shrinks_the_batch():
    per_token = 1000
    full = plan_pool(8, 8192, per_token, 9 * 8192 * per_token)
    assert (full.slots, full.capacity) == (8, 8192)  # never more than max_batch
    fewer = plan_pool(8, 8192, per_token, 3 * 8192 * per_token + 5)
    assert (fewer.slots, fewer.capacity) == (3, 8192)
    assert fewer.pool_bytes <= fewer.budget_bytes
    shorter = plan_pool(8, 8192, per_token, 4096 * per_token)
    assert (shorter.slots, shorter.capacity) == (1, 4096)  # not even one full slot
    with pytest.raises(ValueError, match="no KV pool fits"):
        plan_pool(8, 8192, per_token, 4 * per_token)


def test_a_request_cancelled_while_queued_is_answered_before_a_slot_frees(sharp):
    batched = BatchedEngine.from_engine(sharp, max_batch=1, context=256)
    running, cancel = threading.Event(), threading.Event()
    long = DecodeConfig(max_new_tokens=200, threshold=None)
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(
                batched.generate, prompt_of(6), long, on_step=lambda info: running.set()
            )
            assert running.wait(30)
            queued = pool.submit(batched.generate, prompt_of(7), long, cancel=cancel)
            cancel.set()
            result = queued.result(timeout=30)
            assert not first.done()  # the only slot is still busy
            assert result.finish_reason == "cancelled" and result.nfe == 0
            assert first.result().finish_reason == "length"
    finally:
        batched.close()
