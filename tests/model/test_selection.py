"""The commit rule and token choice on scripted logits."""

from __future__ import annotations

import pytest
import torch

from diffcoder.model.selection import choose_tokens, select_commits, step_schedule


@pytest.mark.parametrize(
    ("masked", "steps", "expected"),
    [(4, 4, [1, 1, 1, 1]), (4, 2, [2, 2]), (3, 4, [1, 1, 1, 0]), (5, 2, [3, 2]), (4, 1, [4])],
)
def test_step_schedule_spreads_extras_first(masked, steps, expected):
    assert step_schedule(masked, steps) == expected


def test_fixed_count_takes_the_most_confident_undecided():
    conf = torch.tensor([0.9, 0.2, 0.7, 0.8], dtype=torch.float64)
    undecided = torch.tensor([False, True, True, True])
    chosen = select_commits(conf, undecided, count=2)
    assert chosen.tolist() == [False, False, True, True]


def test_threshold_commits_best_plus_confident_ones():
    conf = torch.tensor([0.5, 0.96, 0.3, 0.95], dtype=torch.float64)
    undecided = torch.tensor([True, True, True, True])
    assert select_commits(conf, undecided, threshold=0.95).tolist() == [False, True, False, True]


def test_threshold_always_commits_at_least_one():
    conf = torch.tensor([0.1, 0.2, 0.99, 0.15], dtype=torch.float64)
    undecided = torch.tensor([True, True, False, True])  # the 0.99 one is already decided
    assert select_commits(conf, undecided, threshold=0.95).tolist() == [False, True, False, False]


def test_count_is_capped_by_what_is_left():
    conf = torch.tensor([0.1, 0.2], dtype=torch.float64)
    chosen = select_commits(conf, torch.tensor([True, False]), count=3)
    assert chosen.tolist() == [True, False]


def test_choose_tokens_greedy_and_confidence():
    logits = torch.log(torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]]))
    tokens, conf = choose_tokens(logits, temperature=0.0)
    assert tokens.tolist() == [1, 0]
    torch.testing.assert_close(conf, torch.tensor([0.7, 0.5], dtype=torch.float64))


def test_banned_ids_are_skipped_but_confidence_is_unchanged():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]]))
    tokens, conf = choose_tokens(logits, 0.0, banned=torch.tensor([0]))
    assert tokens.tolist() == [1]
    torch.testing.assert_close(conf, torch.tensor([0.3], dtype=torch.float64))


def test_gumbel_sampling_follows_the_distribution_and_seed():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(4000, 1)
    g = torch.Generator().manual_seed(0)
    tokens, _ = choose_tokens(logits, 1.0, generator=g)
    freq = torch.bincount(tokens, minlength=3).double() / 4000
    torch.testing.assert_close(
        freq, torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), atol=0.03, rtol=0
    )
    again, _ = choose_tokens(logits, 1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
