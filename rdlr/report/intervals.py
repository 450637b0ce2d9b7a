"""The uncertainty the report puts on a mean over seeds: the half-width of a two-sided 95 % Student-t
interval.

For n seeds with sample standard deviation s (ddof=1), the interval is mean ± t_{0.975, n−1} · s / √n: built this
way over many repetitions, it covers the mean over all seeds (same data, same configuration) 95 % of the time when
the per-seed results are roughly normal. It is undefined for a single seed. With the paper's 5 seeds
t_{0.975, 4} ≈ 2.78, so the half-width is about 1.24 s; with 3 seeds (the demo) t_{0.975, 2} ≈ 4.30, about 2.48 s.
"""

from __future__ import annotations

import math

from scipy import stats

CONFIDENCE = 0.95
CONVENTION = (
    "mean ± half-width of the two-sided 95 % Student-t interval over seeds (t_{0.975, n−1} · s/√n, s = sample std)"
)


def half_width(std: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Half-width of the ``confidence`` t-interval of a mean of ``n`` values with sample std ``std``; NaN for
    ``n < 2`` or an undefined ``std``."""
    if n < 2 or math.isnan(std):
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * std / math.sqrt(n)
