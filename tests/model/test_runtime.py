"""The cached block-causal runtime against transformers' own full-sequence forward."""

from __future__ import annotations

import pytest
import torch

from diffcoder.model.runtime import BlockDiffusionLM, block_causal_mask
from tests.model.fake_models import random_llama
from tests.model.reference_decoder import full_logits


@pytest.fixture(scope="module")
def model():
    return random_llama(seed=5)


@pytest.mark.parametrize("length", [13, 16, 23])
@pytest.mark.parametrize("prefill_chunk", [4, 8, 1024])
def test_incremental_cached_logits_equal_full_forward(model, length, prefill_chunk):
    ids = torch.randint(0, 320, (length,), generator=torch.Generator().manual_seed(length))
    reference = full_logits(model, ids.tolist(), block=4)
    lm = BlockDiffusionLM(model)
    cache = lm.new_cache(length)
    aligned = (length // 2) // 4 * 4
    lm.prefill(cache, ids[:aligned], chunk=prefill_chunk)
    start = aligned
    while start < length:
        stop = min(start + 4, length)
        positions = torch.arange(start, stop)
        # a throw-away step first: its KV must not leak into what follows
        lm.forward(cache, torch.full((stop - start,), 5), positions)
        logits = lm.forward(cache, ids[start:stop], positions, commit=stop - start)
        torch.testing.assert_close(logits, reference[start:stop], atol=1e-5, rtol=1e-5)
        start = stop
    assert cache.length == length


def test_fused_segment_equals_separate_forwards(model):
    ids = torch.randint(0, 320, (16,), generator=torch.Generator().manual_seed(0))
    lm = BlockDiffusionLM(model)
    separate, fused = lm.new_cache(16), lm.new_cache(16)
    lm.prefill(separate, ids[:8])
    lm.prefill(fused, ids[:4])
    clean = lm.forward(fused, ids[4:12], torch.arange(4, 12), commit=4, logits_rows=slice(4, None))
    assert fused.length == 8
    expected = lm.forward(separate, ids[8:12], torch.arange(8, 12))
    torch.testing.assert_close(clean, expected, atol=1e-5, rtol=1e-5)
    for a, b in zip(separate.keys, fused.keys, strict=True):
        torch.testing.assert_close(a[:, :, :8], b[:, :, :8], atol=1e-6, rtol=1e-6)


def test_block_causal_mask_layout():
    pos = torch.arange(2, 10)
    mask = block_causal_mask(pos, pos, 4)
    # positions 2,3 form the tail of block 0; 4..7 block 1; 8,9 block 2
    assert mask[0].tolist() == [True, True, False, False, False, False, False, False]
    assert mask[2].tolist() == [True] * 6 + [False, False]
    assert mask[7].tolist() == [True] * 8


def test_custom_mask_and_logit_rows(model):
    lm = BlockDiffusionLM(model)
    cache = lm.new_cache(8)
    ids = torch.randint(0, 320, (4,), generator=torch.Generator().manual_seed(1))
    causal = torch.tril(torch.ones(4, 4, dtype=torch.bool))
    first = lm.forward(cache, ids, torch.arange(4), mask=causal, logits_rows=slice(0, 1))
    alone = lm.forward(cache, ids[:1], torch.arange(1))
    assert first.shape == (1, 320)
    torch.testing.assert_close(first, alone, atol=1e-5, rtol=1e-5)
    assert cache.length == 0  # neither forward committed anything


def test_extend_commits_the_same_kv_as_a_committing_forward(model):
    lm = BlockDiffusionLM(model)
    ids = torch.randint(0, 320, (8,), generator=torch.Generator().manual_seed(2))
    extended, forwarded = lm.new_cache(8), lm.new_cache(8)
    assert lm.extend(extended, ids, torch.arange(8)) is None
    lm.forward(forwarded, ids, torch.arange(8), commit=8)
    assert extended.length == forwarded.length == 8
    pairs = zip(extended.keys + extended.values, forwarded.keys + forwarded.values, strict=True)
    for a, b in pairs:
        torch.testing.assert_close(a[:, :, :8], b[:, :, :8])


def test_a_segment_past_the_cache_capacity_is_refused(model):
    lm = BlockDiffusionLM(model)
    cache = lm.new_cache(8)
    lm.prefill(cache, torch.arange(128, 136))
    with pytest.raises(ValueError, match="overflows the KV cache"):
        lm.forward(cache, torch.full((4,), 5), torch.arange(8, 12))
    assert cache.length == 8
