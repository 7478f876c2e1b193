"""The sampler's commit order on a scripted fake model whose confidences are set by position."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from diffcoder.model.sampler import generate
from diffcoder.model.types import DecodeConfig
from tests.model.fake_models import MASK, Specials

VOCAB = 320


@dataclass
class FakeCache:
    length: int = 0


class ScriptedLM:
    """Position p always proposes token 200 + p with probability confidence[p]."""

    device = torch.device("cpu")

    def __init__(self, confidence: dict[int, float]) -> None:
        self.confidence = confidence
        self.fed: list[list[int]] = []

    def new_cache(self, capacity: int) -> FakeCache:
        return FakeCache()

    def prefill(self, cache: FakeCache, ids: torch.Tensor) -> None:
        cache.length += ids.shape[0]

    def forward(self, cache, ids, positions, *, commit=0, logits_rows=slice(None), mask=None):
        self.fed.append(ids.tolist())
        cache.length += commit
        rows = []
        for p in positions[logits_rows].tolist():
            c = self.confidence.get(p, 0.5)
            probs = torch.full((VOCAB,), (1 - c) / (VOCAB - 1))
            probs[200 + p] = c
            rows.append(probs.log())
        return torch.stack(rows)


def filled_positions(fed: list[int], start: int) -> set[int]:
    return {start + i for i, t in enumerate(fed) if t != MASK}


def test_fixed_mode_commits_most_confident_first():
    lm = ScriptedLM({8: 0.5, 9: 0.9, 10: 0.7, 11: 0.6})
    result = generate(lm, list(range(130, 138)), DecodeConfig(4, threshold=None), Specials())
    assert result.token_ids == [208, 209, 210, 211]
    prompt_free = [filled_positions(f, 8) for f in lm.fed]
    assert prompt_free == [set(), {9}, {9, 10}, {9, 10, 11}]


def test_fixed_mode_two_steps_commit_two_each():
    lm = ScriptedLM({8: 0.5, 9: 0.9, 10: 0.7, 11: 0.6})
    config = DecodeConfig(4, threshold=None, steps_per_block=2)
    generate(lm, list(range(130, 138)), config, Specials())
    assert [filled_positions(f, 8) for f in lm.fed] == [set(), {9, 10}]


def test_threshold_mode_commits_best_and_all_above():
    lm = ScriptedLM({8: 0.85, 9: 0.3, 10: 0.95, 11: 0.2})
    generate(lm, list(range(130, 138)), DecodeConfig(4, threshold=0.8), Specials())
    # step 1: 10 (best) and 8 (>= 0.8); step 2: 9 (best left); step 3: 11
    assert [filled_positions(f, 8) for f in lm.fed] == [set(), {8, 10}, {8, 9, 10}]


def test_partial_first_block_refeeds_the_prompt_tail():
    lm = ScriptedLM({})
    result = generate(lm, list(range(130, 136)), DecodeConfig(6, threshold=None), Specials())
    assert len(result.token_ids) == 6
    first = lm.fed[0]
    assert first[:2] == [134, 135] and first[2:] == [MASK, MASK]  # block 4..7 holds the tail
    assert math.isclose(result.tokens_per_forward, 6 / len(lm.fed))
