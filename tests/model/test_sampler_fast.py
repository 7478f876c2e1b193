"""Fast mode: parity's tokens with fewer forwards, special ids banned, early stops, cancel."""

from __future__ import annotations

import threading

import pytest

from diffcoder.model.sampler import generate
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import (
    EOS,
    MASK,
    PAD,
    BiasedLM,
    LogitBias,
    Specials,
    avoid_specials,
    prompt_of,
    random_llama,
)


@pytest.fixture(scope="module")
def model():
    return random_llama(seed=3)


@pytest.fixture(scope="module")
def sharp_model():
    return random_llama(seed=4, head_scale=300.0)


def decode_letters(ids: list[int]) -> str:
    return "".join(chr(ord("a") + i % 26) for i in ids)


def run(model, prompt, bias=None, **config):
    lm = BiasedLM(model, bias)
    return generate(lm, prompt, DecodeConfig(**config), Specials(), decode=decode_letters), lm


@pytest.mark.parametrize("prompt_len", [4, 5, 6, 7, 13])
@pytest.mark.parametrize(("steps", "threshold"), [(4, None), (2, None), (4, 0.3)])
def test_fast_equals_parity_with_fewer_forwards(model, prompt_len, steps, threshold):
    prompt, bias = prompt_of(prompt_len, seed=prompt_len), avoid_specials()
    common = dict(max_new_tokens=16, steps_per_block=steps, threshold=threshold)
    parity, _ = run(model, prompt, bias, mode="parity", **common)
    fast, _ = run(model, prompt, bias, mode="fast", **common)
    assert fast.token_ids == parity.token_ids
    blocks = 4 + (1 if prompt_len % 4 else 0)  # a partial first block adds a partial last one
    assert parity.nfe - fast.nfe == blocks  # exactly the commit forwards are saved


def test_fast_needs_four_fifths_of_parity_forwards_at_one_token_per_step(model):
    common = dict(max_new_tokens=16, steps_per_block=4, threshold=None)
    parity, _ = run(model, prompt_of(4, seed=4), avoid_specials(), mode="parity", **common)
    fast, _ = run(model, prompt_of(4, seed=4), avoid_specials(), mode="fast", **common)
    assert fast.token_ids == parity.token_ids
    assert (fast.nfe, parity.nfe) == (16, 20)


def test_fast_halves_forwards_when_whole_blocks_commit(sharp_model):
    common = dict(max_new_tokens=32, threshold=0.9)
    parity, _ = run(sharp_model, prompt_of(8), avoid_specials(), mode="parity", **common)
    fast, _ = run(sharp_model, prompt_of(8), avoid_specials(), mode="fast", **common)
    assert fast.token_ids == parity.token_ids
    assert (fast.nfe, parity.nfe) == (8, 16)
    assert fast.tokens_per_forward == 4.0


def test_fused_forward_feeds_clean_block_then_masked_block(model):
    result, lm = run(model, prompt_of(8), avoid_specials(), max_new_tokens=8, threshold=None)
    prefill, *steps = lm.forward_lengths
    assert prefill == 8
    # block 1: four 4-token steps; block 2: first step fused (8 tokens), then three more
    assert steps == [4, 4, 4, 4, 8, 4, 4, 4]
    assert result.nfe == 8


@pytest.mark.parametrize("eos_offset", [1, 6, 13])
def test_fast_stops_at_certain_eos_with_parity_tokens(model, eos_offset):
    prompt = prompt_of(8, seed=eos_offset)
    bias = avoid_specials(at_position={8 + eos_offset: (EOS, 50.0)})
    common = dict(max_new_tokens=16, threshold=None)
    parity, _ = run(model, prompt, bias, mode="parity", **common)
    fast, _ = run(model, prompt, bias, mode="fast", **common)
    assert fast.finish_reason == parity.finish_reason == "eos"
    assert fast.token_ids == parity.token_ids
    assert fast.nfe < parity.nfe


def test_special_ids_are_never_chosen(model):
    # push the mask and pad ids (and an unused special) to the top everywhere
    bias = LogitBias(everywhere={MASK: 30.0, PAD: 29.0, 77: 28.0})
    parity, _ = run(model, prompt_of(8), bias, mode="parity", max_new_tokens=8, threshold=None)
    fast, _ = run(model, prompt_of(8), bias, mode="fast", max_new_tokens=8, threshold=None)
    assert set(parity.token_ids) & {MASK, PAD, 77}  # upstream happily picks them
    assert not set(fast.token_ids) & set(Specials().banned | {MASK})


def test_padding_rows_are_banned(model):
    specials = Specials(banned=Specials().banned | {319})
    lm = BiasedLM(model, LogitBias(everywhere={319: 30.0}))
    result = generate(lm, prompt_of(8), DecodeConfig(max_new_tokens=8), specials)
    assert 319 not in result.token_ids and len(result.token_ids) == 8


def test_max_new_tokens_need_not_be_a_multiple_of_the_block(model):
    bias = avoid_specials()
    parity, _ = run(model, prompt_of(8), bias, mode="parity", max_new_tokens=12, threshold=None)
    fast, _ = run(model, prompt_of(8), bias, mode="fast", max_new_tokens=10, threshold=None)
    assert len(fast.token_ids) == 10 and fast.finish_reason == "length"
    assert fast.token_ids[:8] == parity.token_ids[:8]  # block-causal: later blocks cannot matter


def test_stop_string_ends_decoding_early(model):
    bias = avoid_specials()
    full, _ = run(model, prompt_of(8), bias, max_new_tokens=24, threshold=None)
    stop = decode_letters(full.token_ids[9:11])
    cut = full.text.index(stop)
    stopped, _ = run(
        model, prompt_of(8), bias, max_new_tokens=24, threshold=None, stop_strings=(stop,)
    )
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[:cut]
    assert stopped.token_ids == full.token_ids[:cut]  # one letter per token here
    assert stopped.nfe < full.nfe


def test_cancel_mid_block_stops_within_one_forward_and_model_is_reusable(model):
    cancel = threading.Event()
    seen = []

    def on_step(info):
        seen.append(info)
        if info.step == 6:
            cancel.set()

    lm = BiasedLM(model, avoid_specials())
    config = DecodeConfig(max_new_tokens=16, threshold=None)
    result = generate(lm, prompt_of(8), config, Specials(), on_step=on_step, cancel=cancel)
    assert result.finish_reason == "cancelled"
    assert result.nfe == 6 and len(seen) == 6
    again = generate(lm, prompt_of(8), config, Specials())
    fresh = generate(BiasedLM(model, avoid_specials()), prompt_of(8), config, Specials())
    assert again.token_ids == fresh.token_ids and again.finish_reason == "length"
    # only the contiguous decided prefix comes back: block 0 plus what block 1 had settled
    assert 4 <= len(result.token_ids) <= 6
    assert result.token_ids == fresh.token_ids[: len(result.token_ids)]


def test_step_callback_reports_progress(model):
    seen = []
    config = DecodeConfig(max_new_tokens=8, threshold=None)
    generate(
        BiasedLM(model, avoid_specials()), prompt_of(5), config, Specials(), on_step=seen.append
    )
    assert [s.step for s in seen] == list(range(1, 9))
    assert [s.committed for s in seen] == list(range(1, 9))
    assert [s.block for s in seen] == [0, 0, 0, 1, 1, 1, 1, 2]
    assert all(s.max_new_tokens == 8 for s in seen)
