"""The unbiased pass@k estimator and the latency percentiles."""

from __future__ import annotations

import itertools
import math

import pytest

from diffcoder.evaluation.metrics import mean_pass_at_k, pass_at_k, percentile, spread


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (c correct) that hold at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize(
    "n,c,k", [(1, 0, 1), (1, 1, 1), (5, 2, 1), (5, 2, 3), (10, 3, 5), (7, 7, 2)]
)
def test_pass_at_k_matches_the_combinatorial_definition(n, c, k):
    assert math.isclose(pass_at_k(n, c, k), brute_force_pass_at_k(n, c, k))


def test_pass_at_1_is_the_share_of_correct_samples():
    assert pass_at_k(20, 7, 1) == pytest.approx(7 / 20)
    assert mean_pass_at_k([(1, 1), (1, 0), (4, 2)]) == pytest.approx((1 + 0 + 0.5) / 3)
    assert mean_pass_at_k([]) == 0.0


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError, match="at least 3 samples"):
        pass_at_k(2, 1, 3)
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


def test_percentiles_interpolate_between_ranks():
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([], 50) is None
    assert spread([1.0, 2.0, 3.0]) == {"p50": 2.0, "p90": 2.8, "mean": 2.0}
