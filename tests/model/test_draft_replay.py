"""Replaying an edit's hunks where the draft repeats the replaced code: bookkeeping, and the
sampler staying lossless with it."""

from __future__ import annotations

from diffcoder.model.draft import Verification
from diffcoder.model.draft_cursor import DraftCursor
from diffcoder.model.draft_replay import HunkReplay
from diffcoder.model.sampler import generate
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import BiasedLM, Specials, avoid_specials, random_llama


def test_a_learned_replacement_is_the_changed_middle_and_replays_with_offsets():
    replay = HunkReplay()
    assert not replay
    replay.learn(written=[1, 2, 9, 9, 5], replaced=[1, 2, 7, 5])
    assert replay
    out = replay.apply([3, 7, 4, 7])
    assert out.tokens == [3, 9, 9, 4, 9, 9]
    assert out.replayed == [False, True, True, False, True, True]
    # draft tokens used up after each proposal token: a replayed run counts at its last token
    assert out.consumed == [0, 1, 1, 2, 3, 3, 4]
    replay.forget((7,))
    assert replay.apply([3, 7]).tokens == [3, 7]


def test_nothing_is_learned_from_a_pure_insertion_or_an_overlong_run():
    replay = HunkReplay()
    replay.learn(written=[1, 2, 3], replaced=[1, 3])  # insertion: no run to replace later
    replay.learn(written=[0] + [8] * 200 + [0], replaced=[0] + [6] * 100 + [0])
    assert not replay


def test_the_cursor_replays_a_hunk_and_follows_the_draft_after_it():
    a, b, c = [10, 11, 12, 13], [20, 21, 22, 23, 24], [30, 31, 32, 33]
    draft = a + [7] + b + [7] + c
    cursor = DraftCursor(draft, window=4, max_window=16)
    generated = a + [9, 9] + b  # the first 7 written as 9 9, the code after it unchanged
    cursor.realign(generated)
    proposal = cursor.proposal(len(generated))
    assert proposal == [9, 9] + c
    assert cursor.replayed == [True, True] + [False] * 4
    cursor.record(Verification(1, 1, 4, 0, False))  # 9 9 30 31 accepted
    assert cursor.proposal(len(generated) + 4) == [32, 33]


def test_replays_never_change_the_output():
    # a sharp random model's own output as the draft, with one repeated token pair changed
    # everywhere: the first change is decoded plainly, the later ones replayed and verified
    model = BiasedLM(random_llama(seed=22, head_scale=10000.0), avoid_specials())
    prompt = [200 + i for i in range(10)]
    config = DecodeConfig(max_new_tokens=64, threshold=0.9)
    plain = generate(model, prompt, config, Specials())
    tokens = plain.token_ids
    pair = next(
        (tokens[i], tokens[i + 1])
        for i in range(len(tokens) - 1)
        if sum(tokens[j : j + 2] == list(tokens[i : i + 2]) for j in range(len(tokens))) > 1
    )
    draft, i = [], 0
    while i < len(tokens):
        if tuple(tokens[i : i + 2]) == pair:
            draft.append(299)
            i += 2
        else:
            draft.append(tokens[i])
            i += 1
    drafted = generate(model, prompt, config, Specials(), draft=draft)
    assert drafted.token_ids == plain.token_ids
    assert drafted.nfe < plain.nfe
