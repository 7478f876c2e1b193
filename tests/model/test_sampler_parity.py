"""Parity mode against the uncached reference decoder; fast mode against parity mode."""

from __future__ import annotations

import pytest

from diffcoder.model.sampler import generate
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import (
    EOS,
    MASK,
    BiasedLM,
    LogitBias,
    Specials,
    prompt_of,
    random_llama,
)
from tests.model.reference_decoder import reference_decode


@pytest.fixture(scope="module")
def model():
    return random_llama(seed=1)


@pytest.fixture(scope="module")
def sharp_model():
    return random_llama(seed=2, head_scale=300.0)


def run_both(model, prompt, *, gen, steps_per_block, threshold, bias=None, temperature=0.0):
    config = DecodeConfig(
        max_new_tokens=gen,
        steps_per_block=steps_per_block,
        threshold=threshold,
        temperature=temperature,
        mode="parity",
        seed=7,
    )
    ours = generate(BiasedLM(model, bias), prompt, config, Specials())
    ref_ids, ref_nfe = reference_decode(
        model,
        prompt,
        gen_length=gen,
        steps=config.upstream_steps,
        threshold=threshold,
        mask_id=MASK,
        eos_id=EOS,
        temperature=temperature,
        seed=7,
        bias=bias,
    )
    return ours, ref_ids, ref_nfe


@pytest.mark.parametrize("prompt_len", [4, 5, 6, 7, 9, 14])
@pytest.mark.parametrize(
    ("steps_per_block", "threshold"), [(4, None), (2, None), (1, None), (4, 0.2)]
)
def test_parity_matches_reference(model, prompt_len, steps_per_block, threshold):
    ours, ref_ids, ref_nfe = run_both(
        model,
        prompt_of(prompt_len),
        gen=12,
        steps_per_block=steps_per_block,
        threshold=threshold,
    )
    assert ours.token_ids == ref_ids
    assert ours.nfe == ref_nfe
    assert ours.finish_reason == "length"
    assert len(ref_ids) == 12


@pytest.mark.parametrize("prompt_len", [8, 9, 10, 11])
@pytest.mark.parametrize("eos_offset", [1, 6, 14])  # first, a middle, the last block
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_parity_eos_in_any_block(model, prompt_len, eos_offset, threshold):
    prompt = prompt_of(prompt_len, seed=prompt_len)
    bias = LogitBias(at_position={prompt_len + eos_offset: (EOS, 50.0)})
    ours, ref_ids, ref_nfe = run_both(
        model, prompt, gen=16, steps_per_block=4, threshold=threshold, bias=bias
    )
    assert ours.token_ids == ref_ids
    assert ours.nfe == ref_nfe
    assert ours.finish_reason == "eos"
    assert len(ours.token_ids) <= eos_offset


def test_parity_sampling_matches_reference(model):
    ours, ref_ids, ref_nfe = run_both(
        model, prompt_of(6), gen=8, steps_per_block=4, threshold=None, temperature=0.7
    )
    assert ours.token_ids == ref_ids and ours.nfe == ref_nfe


def test_parity_sharp_model_commits_whole_blocks(sharp_model):
    ours, ref_ids, ref_nfe = run_both(
        sharp_model, prompt_of(8), gen=16, steps_per_block=4, threshold=0.9
    )
    assert ours.token_ids == ref_ids and ours.nfe == ref_nfe
    assert ours.nfe == 2 * 4  # best case upstream: one denoise + one commit per block
