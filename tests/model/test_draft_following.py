"""Drafts that follow real edits: line-anchored re-alignment, quick window growth, next-state
verification, and losslessness of all of it on random and scripted models."""

from __future__ import annotations

import random

import pytest
import torch

from diffcoder.model.canvas import Canvas
from diffcoder.model.draft import Verification, verification_forward, verify_draft
from diffcoder.model.draft_cursor import MIN_WINDOW, DraftCursor
from diffcoder.model.draft_states import candidate_states, copies_mask
from diffcoder.model.sampler import generate
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import BiasedLM, Specials, avoid_specials, random_llama

N = 48
NEWLINES = {150, 151}  # ids that "contain a newline" for the cursor's decode


def fake_decode(ids: list[int]) -> str:
    return "".join("\n" if t in NEWLINES else f"<{t}>" for t in ids)


@pytest.fixture(scope="module")
def models():
    return {"plain": random_llama(seed=21), "sharp": random_llama(seed=22, head_scale=10000.0)}


def decode(model, prompt, draft=None, **config):
    config = DecodeConfig(**{"max_new_tokens": N, "threshold": 0.9, **config})
    return generate(BiasedLM(model, avoid_specials()), prompt, config, Specials(), draft=draft)


def edited(tokens: list[int], rng: random.Random) -> list[int]:
    """A draft that differs from `tokens` the way an edit's region differs from its answer:
    one to three contiguous hunks replaced by spans of other lengths."""
    out = list(tokens)
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(out))
        cut = rng.randrange(0, 6)
        out[at : at + cut] = [rng.randrange(128, 320) for _ in range(rng.randrange(0, 7))]
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("which", ["plain", "sharp"])
def test_edited_drafts_never_change_the_output(models, seed, which):
    model = models[which]
    rng = random.Random(seed)
    prompt = [rng.randrange(128, 320) for _ in range(5 + seed)]
    plain = decode(model, prompt)
    for attempt in range(3):
        draft = edited(plain.token_ids, rng)
        drafted = decode(model, prompt, draft=draft)
        assert drafted.token_ids == plain.token_ids, attempt
        assert drafted.finish_reason == plain.finish_reason
        assert drafted.nfe <= plain.nfe


def test_cursor_jumps_to_the_first_unchanged_line_after_a_hunk():
    # draft lines: [200 201 NL] [202 203 204 NL] [205 206 NL] [207 208 NL]
    draft = [200, 201, 150, 202, 203, 204, 150, 205, 206, 150, 207, 208, 150]
    cursor = DraftCursor(draft, window=4, max_window=16, decode=fake_decode)
    # the output replaced line 2 by a longer one and has just ended it: no 3-token anchor yet
    generated = [200, 201, 150, 300, 301, 302, 303, 304, 150]
    cursor.realign(generated)
    assert cursor.proposal(len(generated))[:3] == [205, 206, 150]
    # without line information it keeps guessing a substitution (no anchor has been seen)
    blind = DraftCursor(draft, window=4, max_window=16)
    blind.realign(generated)
    assert blind.proposal(len(generated))[:3] != [205, 206, 150]


def test_cursor_prefers_the_near_line_over_a_far_weak_match():
    line = [210, 211, 150]
    draft = [200, 150] + line * 6 + [220, 221, 150]
    cursor = DraftCursor(draft, window=4, max_window=16, decode=fake_decode)
    generated = [200, 150, 300, 301, 150]  # a changed first line, then a line break
    cursor.realign(generated)
    assert cursor.proposal(len(generated))[:3] == line  # the nearest line start, not the end


def test_window_grows_back_quickly_after_a_realignment():
    draft = list(range(200, 300))
    cursor = DraftCursor(draft, window=4, max_window=16)
    whole = Verification(4, 4, 16, 0, False)
    cursor.record(whole)
    assert cursor.window == 16  # x4 after a window accepted whole
    cursor.record(Verification(0, 16, 0, 0, True, draft_disagreed=True))
    assert cursor.window == MIN_WINDOW
    cursor.realign(draft[:30] + [9, 9, 9] + draft[30:40])
    assert cursor.proposal(43)[:3] == draft[40:43]
    assert cursor.window == 16  # restored, not regrown 1, 2, 4, 8, 16


def test_candidate_states_are_single_places_and_suffixes():
    states = candidate_states(torch.tensor([True, True, True, True]))
    as_lists = [s.nonzero().flatten().tolist() for s in states]
    assert as_lists == [[0], [1], [2], [3], [2, 3], [1, 2, 3]]
    assert candidate_states(torch.tensor([False, False, True, False])) == []


def test_copies_see_earlier_clean_blocks_and_only_their_own_group():
    # pending block 0..3, clean draft blocks 4..11, masked copies of both, one candidate of 4..7
    positions = torch.tensor(list(range(12)) + list(range(4, 12)) + list(range(4, 8)))
    groups = torch.tensor([-1] * 12 + [0] * 4 + [1] * 4 + [2] * 4)
    mask = copies_mask(positions, groups, clean=12, block_length=4)
    candidate = mask[20]
    assert candidate[:4].all() and not candidate[4:20].any() and candidate[20:].all()
    assert not mask[16, 12:16].any() and mask[16, 16:20].all() and mask[16, 4:8].all()
    assert not mask[:12, 12:].any()


class UnsureOnce(BiasedLM):
    """A sharp model made unsure of some positions while their block is fully masked, as a real
    model is of a token it may change: its choice stays, its confidence drops below 0.9."""

    def __init__(self, model, unsure: set[int], mask_id: int = 5) -> None:
        super().__init__(model, avoid_specials())
        self.unsure, self.mask_id = unsure, mask_id

    def forward(self, cache, ids, positions, *, commit=0, logits_rows=slice(None), mask=None):
        logits = super().forward(
            cache, ids, positions, commit=commit, logits_rows=logits_rows, mask=mask
        )
        rows = range(ids.shape[0])[logits_rows]
        for out, row in enumerate(rows):
            if int(positions[row]) not in self.unsure:
                continue
            block = int(positions[row]) // 4
            seen = mask[row] if mask is not None else torch.ones(ids.shape[0], dtype=torch.bool)
            own = (positions // 4 == block) & seen & (ids != self.mask_id)
            if not bool(own.any()):  # nothing of its block decided yet: make it 60/40
                top = int(logits[out].argmax())
                logits[out] = torch.full_like(logits[out], -1e4)
                logits[out, top], logits[out, 300 if top != 300 else 301] = 0.0, -0.4
        return logits


@pytest.mark.parametrize("unsure", [{13}, {13, 25}, {14, 15}, {13, 14, 15}])
def test_a_block_with_unsure_tokens_still_uses_the_draft(models, unsure):
    prompt = [200 + i for i in range(10)]
    config = DecodeConfig(max_new_tokens=N, threshold=0.9)
    lm = UnsureOnce(models["sharp"], unsure)
    plain = generate(lm, prompt, config, Specials())
    drafted = generate(lm, prompt, config, Specials(), draft=plain.token_ids)
    assert drafted.token_ids == plain.token_ids
    # an unsure block is opened by a verification; its next step, fused with the check of the
    # draft after it, finishes it: one forward more per unsure block, the rest from the draft
    unsure_blocks = {(p - 10) // 4 for p in unsure}
    assert drafted.nfe <= 2 + len(unsure_blocks) < plain.nfe
    assert drafted.draft_accepted_tokens >= len(plain.token_ids) - 4 * len(unsure_blocks)


def test_next_state_copies_fit_the_cache_and_leave_it_exact(models):
    prompt = [200 + i for i in range(10)]
    lm = UnsureOnce(models["sharp"], {13, 14})
    config = DecodeConfig(max_new_tokens=N, threshold=0.9)
    plain = generate(lm, prompt, config, Specials())
    canvas = Canvas.create(lm, prompt, config, 5, drafting=True)
    lm.prefill(canvas.cache, canvas.tokens[: canvas.block_start])
    fresh = verification_forward(canvas, plain.token_ids, window=4)
    assert fresh.states == ()  # a fresh block: its next step is verified by the pipeline
    banned = torch.tensor(sorted(Specials().banned))
    # block 8..11 (2 prompt tokens) is accepted; in 12..15, 13 and 14 are unsure and stay open
    outcome = verify_draft(lm, canvas, plain.token_ids, window=4, config=config, banned=banned)
    assert outcome.accepted_blocks == 1 and outcome.opened_block and canvas.block_start == 12
    guessed = canvas.guessed_block()
    assert guessed is not None and guessed.tolist() == plain.token_ids[2:6]
    proposal = plain.token_ids[3:5] + plain.token_ids[6:]  # the guesses, then the draft after
    opened = verification_forward(canvas, proposal, window=4)
    assert len(opened.states) == 2  # each open position alone
    outcome = verify_draft(lm, canvas, proposal, window=4, config=config, banned=banned)
    assert outcome.accepted_blocks == 4 and canvas.nfe == 2
    decided = canvas.tokens[10 : canvas.block_start].tolist()
    assert decided == plain.token_ids[: len(decided)] and len(decided) == 18


def test_new_code_blocks_pipeline_one_forward_each(models):
    # every block holds an unsure token (two steps each without help) and the draft is wrong
    # throughout: the open block's next step carries the next block's first step, given the
    # open block's guess, so new code costs one forward per block where the guess holds (this
    # model changes its mind on some unsure tokens once their block fills: those cost two)
    prompt = [200 + i for i in range(10)]
    unsure = {p for p in range(10, 10 + N) if p % 4 == 1}
    lm = UnsureOnce(models["sharp"], unsure)
    config = DecodeConfig(max_new_tokens=N, threshold=0.9)
    plain = generate(lm, prompt, config, Specials())
    wrong = [7 + (t % 3) for t in plain.token_ids]
    drafted = generate(lm, prompt, config, Specials(), draft=wrong)
    assert drafted.token_ids == plain.token_ids
    blocks = len(plain.token_ids) // 4
    assert plain.nfe >= 2 * blocks - 1
    assert drafted.nfe <= plain.nfe - 5
