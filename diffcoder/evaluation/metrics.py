"""Figures of an evaluation run: the unbiased pass@k estimator and latency percentiles.

pass@k as in Chen et al. (2021): with n samples of which c pass, 1 - C(n-c, k) / C(n, k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from the n (c of them correct) passes."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, not {n}")
    if n - c < k:
        return 1.0
    # The product form avoids huge binomials: C(n-c, k) / C(n, k) = prod (1 - k / i).
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int = 1) -> float:
    """Mean pass@k over problems given (samples, correct) per problem; 0.0 for no problems."""
    if not counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p90 and mean of a series, rounded for reports."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    mean = sum(values) / len(values) if values else None
    return {
        "p50": rounded(percentile(values, 50)),
        "p90": rounded(percentile(values, 90)),
        "mean": rounded(mean),
    }
