"""The training objective matches what decoding does: masks per block, and a noisy block sees
its own block plus clean earlier blocks, exactly as the cached runtime feeds it."""

from __future__ import annotations

import pytest
import torch

from diffcoder.model.runtime import BlockDiffusionLM, block_causal_mask
from diffcoder.training.objective import (
    diffusion_loss,
    hidden_states,
    mask_cap,
    sample_block_mask,
    two_copy_attention,
)
from tests.model.fake_models import random_llama


@pytest.mark.parametrize("length", [16, 18, 37])
@pytest.mark.parametrize("cap", [0.1, 0.5, 1.0])
def test_every_block_has_one_to_cap_masked_tokens(length, cap):
    masked = sample_block_mask(length, 64, 4, cap, torch.Generator().manual_seed(length))
    assert masked.shape == (64, length)
    blocks = torch.nn.functional.pad(masked, (0, -length % 4)).view(64, -1, 4).sum(-1)
    full_blocks = blocks[:, : length // 4]
    assert int(full_blocks.min()) >= 1
    assert int(full_blocks.max()) <= max(1, round(cap * 4))
    assert (int(full_blocks.max()) == 4) == (cap == 1.0)  # whole blocks only at the full cap


def test_mask_cap_warms_up_to_one():
    caps = [mask_cap(step, 100) for step in range(0, 150, 10)]
    assert caps[0] == pytest.approx(0.3) and caps == sorted(caps) and caps[-1] == 1.0
    assert mask_cap(0, 0) == 1.0


def test_two_copy_layout():
    n, block = 10, 4
    attention = two_copy_attention(n, block)
    noisy_noisy, noisy_clean = attention[:n, :n], attention[:n, n:]
    clean_noisy, clean_clean = attention[n:, :n], attention[n:, n:]
    blocks = torch.arange(n) // block
    assert torch.equal(noisy_noisy, blocks[:, None] == blocks[None, :])
    assert torch.equal(noisy_clean, blocks[None, :] < blocks[:, None])
    assert not clean_noisy.any()
    positions = torch.arange(n)
    assert torch.equal(clean_clean, block_causal_mask(positions, positions, block))


def test_noisy_logits_equal_the_cached_decoding_forward():
    model = random_llama(seed=3)
    tokens = torch.randint(6, 320, (1, 12), generator=torch.Generator().manual_seed(0))
    masked = torch.zeros(1, 12, dtype=torch.bool)
    masked[0, [1, 4, 5, 6, 7, 9]] = True
    noisy = torch.where(masked, torch.full_like(tokens, 5), tokens)
    with torch.no_grad():
        hidden = hidden_states(model, torch.cat([noisy, tokens], 1), two_copy_attention(12, 4))
        trained = model.lm_head(hidden[0, :12]).float()
    lm = BlockDiffusionLM(model)
    for start in (0, 4, 8):  # block k against a cache holding the clean blocks before it
        cache = lm.new_cache(16)
        if start:
            lm.prefill(cache, tokens[0, :start])
        block = noisy[0, start : start + 4]
        decoded = lm.forward(cache, block, torch.arange(start, start + 4))
        torch.testing.assert_close(trained[start : start + 4], decoded, atol=1e-4, rtol=1e-4)


def test_loss_counts_only_masked_positions_and_learns():
    torch.manual_seed(0)
    model = random_llama(seed=4).float().train()
    tokens = torch.randint(6, 320, (2, 16), generator=torch.Generator().manual_seed(1))
    masked = sample_block_mask(16, 2, 4, 1.0, torch.Generator().manual_seed(2))
    attention = two_copy_attention(16, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss, correct = diffusion_loss(model, tokens, masked, 5, attention)
        assert 0 <= int(correct) <= int(masked.sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # it can memorise one batch: gradients reach the loss
