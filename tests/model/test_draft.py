"""Draft-accelerated decoding: the output never depends on the draft; exact drafts save forwards."""

from __future__ import annotations

import random
import threading

import pytest
import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.draft import Verification, verification_mask, verify_draft
from diffcoder.model.draft_cursor import MIN_WINDOW, DraftCursor
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.sampler import generate
from diffcoder.model.selection import step_schedule
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import BiasedLM, Specials, avoid_specials, random_llama

N = 48


@pytest.fixture(scope="module")
def plain_model():
    return random_llama(seed=11)


@pytest.fixture(scope="module")
def sharp_model():
    return random_llama(seed=12, head_scale=10000.0)


def prompt_of(seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(128, 320) for _ in range(5 + seed % 7)]


def decode(model, prompt, draft=None, cancel=None, on_step=None, **config):
    config = DecodeConfig(**{"max_new_tokens": N, "threshold": 0.9, **config})
    lm = BiasedLM(model, avoid_specials())
    return generate(lm, prompt, config, Specials(), draft=draft, cancel=cancel, on_step=on_step)


def perturb(tokens: list[int], share: float, rng: random.Random) -> list[int]:
    out = list(tokens)
    for i in rng.sample(range(len(out)), max(1, round(share * len(out)))):
        out[i] = rng.randrange(128, 320)
    return out


def shifted(tokens: list[int], rng: random.Random) -> list[int]:
    out = list(tokens)
    at = rng.randrange(len(out))
    if rng.random() < 0.5:
        return out[:at] + [rng.randrange(128, 320) for _ in range(rng.randrange(1, 9))] + out[at:]
    return out[:at] + out[at + rng.randrange(1, 9) :]


def drafts_for(exact: list[int], seed: int) -> dict[str, list[int]]:
    rng = random.Random(seed)
    return {
        "exact": exact,
        "1%": perturb(exact, 0.01, rng),
        "10%": perturb(exact, 0.1, rng),
        "50%": perturb(exact, 0.5, rng),
        "shifted": shifted(exact, rng),
        "shifted twice": shifted(shifted(exact, rng), rng),
        "unrelated": [rng.randrange(128, 320) for _ in range(N)],
        "empty": [],
        "longer": exact + [rng.randrange(128, 320) for _ in range(20)],
        "shorter": exact[: len(exact) // 2],
    }


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("which", ["plain", "sharp"])
@pytest.mark.parametrize("threshold", [0.9, None])
def test_output_with_any_draft_equals_output_without(
    plain_model, sharp_model, seed, which, threshold
):
    model = sharp_model if which == "sharp" else plain_model
    steps = {"steps_per_block": 1} if threshold is None and seed % 2 else {}
    prompt = prompt_of(seed)
    plain = decode(model, prompt, threshold=threshold, **steps)
    for name, draft in drafts_for(plain.token_ids, seed).items():
        drafted = decode(model, prompt, draft=draft, threshold=threshold, **steps)
        assert drafted.token_ids == plain.token_ids, name
        assert drafted.finish_reason == plain.finish_reason, name
        assert drafted.nfe <= plain.nfe, name  # a verification forward doubles as a first step


@pytest.mark.parametrize("seed", range(4))
def test_exact_draft_on_a_confident_model_needs_a_fraction_of_the_forwards(sharp_model, seed):
    prompt = prompt_of(seed)
    plain = decode(sharp_model, prompt, max_new_tokens=128, draft_window=4, max_draft_window=16)
    drafted = decode(
        sharp_model, prompt, max_new_tokens=128, draft=plain.token_ids, max_draft_window=16
    )
    assert drafted.token_ids == plain.token_ids
    assert plain.nfe <= 36  # nearly every block commits whole in one step
    assert drafted.nfe <= plain.nfe / 4
    assert drafted.draft_accepted_tokens >= 112


def test_one_changed_span_does_not_end_acceleration(sharp_model):
    prompt = prompt_of(3)
    plain = decode(sharp_model, prompt, max_new_tokens=128)
    draft = plain.token_ids[:40] + [200, 201, 202, 203, 204, 205] + plain.token_ids[44:]
    drafted = decode(sharp_model, prompt, max_new_tokens=128, draft=draft)
    assert drafted.token_ids == plain.token_ids
    assert drafted.draft_accepted_tokens >= 128 - 16
    assert drafted.nfe <= 12


def test_temperature_ignores_the_draft(plain_model):
    prompt = prompt_of(1)
    sampled = decode(plain_model, prompt, temperature=0.8, seed=3)
    with_draft = decode(plain_model, prompt, temperature=0.8, seed=3, draft=sampled.token_ids)
    assert with_draft.token_ids == sampled.token_ids
    assert with_draft.draft_accepted_tokens == 0 and with_draft.nfe == sampled.nfe


def test_parity_mode_rejects_drafts(plain_model):
    with pytest.raises(ValueError, match="fast mode"):
        decode(plain_model, prompt_of(0), draft=[1, 2], mode="parity")


def test_cancellation_during_verification(sharp_model):
    prompt = prompt_of(2)
    plain = decode(sharp_model, prompt)
    cancel = threading.Event()
    result = decode(
        sharp_model, prompt, draft=plain.token_ids, cancel=cancel, on_step=lambda _: cancel.set()
    )
    assert result.finish_reason == "cancelled" and result.nfe == 1
    assert result.token_ids == plain.token_ids[: len(result.token_ids)]
    assert len(result.token_ids) >= 8  # the first verification already accepted blocks
    assert decode(sharp_model, prompt, draft=plain.token_ids).token_ids == plain.token_ids


@pytest.mark.parametrize("prompt_len", [8, 10])
def test_accepted_blocks_kv_equals_plain_decodings_cache(sharp_model, prompt_len):
    prompt = prompt_of(5)[:prompt_len] + [150] * max(0, prompt_len - len(prompt_of(5)))
    plain = decode(sharp_model, prompt)
    lm = BlockDiffusionLM(sharp_model)
    config = DecodeConfig(max_new_tokens=N, threshold=0.9)
    canvas = Canvas.create(lm, prompt, config, mask_id=5, drafting=True)
    cache = canvas.cache
    lm.prefill(cache, canvas.tokens[: canvas.block_start])
    banned = torch.tensor(sorted(Specials().banned))
    outcome = verify_draft(lm, canvas, plain.token_ids, window=3, config=config, banned=banned)
    assert outcome.accepted_blocks == 3 and not outcome.opened_block
    assert cache.length == outcome.next_start == canvas.block_start
    assert canvas.nfe == 1
    expected = lm.new_cache(canvas.end)
    lm.prefill(expected, torch.tensor(prompt + plain.token_ids)[: cache.length], chunk=4)
    for got, want in zip(cache.keys + cache.values, expected.keys + expected.values, strict=True):
        torch.testing.assert_close(got[:, :, : cache.length], want[:, :, : cache.length])


def test_verification_mask_layout():
    # pending block at 0..3, two draft blocks 4..11, then their masked copies
    positions = torch.tensor(list(range(12)) + list(range(4, 12)))
    mask = verification_mask(positions, clean=12, block_length=4)
    masked_first = mask[12]  # masked copy of block 1 (positions 4..7)
    assert masked_first[:4].all() and not masked_first[4:12].any()
    assert masked_first[12:16].all() and not masked_first[16:].any()
    masked_second = mask[16]  # sees pending + clean block 1, not its clean twin
    assert masked_second[:8].all() and not masked_second[8:16].any()
    assert masked_second[16:].all()
    assert not mask[:12, 12:].any()  # clean tokens never see masked copies
    assert mask[4, :8].all() and not mask[4, 8:].any()


def test_cursor_realigns_after_an_inserted_span():
    draft = list(range(200, 260))
    cursor = DraftCursor(draft, window=4, max_window=16)
    generated = draft[:20] + [9, 9, 9, 9, 9] + draft[20:30]
    cursor.realign(generated)
    assert cursor.proposal(len(generated))[:5] == draft[30:35]
    cursor.record(
        Verification(
            accepted_blocks=0,
            verified_blocks=4,
            accepted_tokens=0,
            next_start=0,
            opened_block=True,
            draft_disagreed=False,
        )
    )
    assert cursor.window == 4  # refused for low confidence only: the draft may still be right
    cursor.record(
        Verification(
            accepted_blocks=1,
            verified_blocks=4,
            accepted_tokens=4,
            next_start=0,
            opened_block=True,
            draft_disagreed=True,
        )
    )
    assert cursor.window == MIN_WINDOW  # a hunk starts: a few blocks, the refused one opened
    cursor.record(
        Verification(
            accepted_blocks=MIN_WINDOW,
            verified_blocks=MIN_WINDOW,
            accepted_tokens=4 * MIN_WINDOW,
            next_start=0,
            opened_block=False,
        )
    )
    assert cursor.window == min(4 * MIN_WINDOW, 16)  # grows x4 after a window accepted whole


def test_schedule_helper_is_the_fixed_rule():
    assert step_schedule(4, 1)[0] == 4 and step_schedule(4, 4)[0] == 1
