"""Percentiles, summaries and ratios of measured samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The Q-th percentile (0-100) by the nearest-rank method; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples: Sequence[float], *, failures: int = 0) -> dict[str, float | int]:
    """n, failures, p50, p95, p99, max and mean in seconds, rounded to the millisecond."""
    out: dict[str, float | int] = {"n": len(samples), "failures": failures}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        out[name] = _r(percentile(samples, q))
    out["max"] = _r(max(samples)) if samples else math.nan
    out["mean"] = _r(sum(samples) / len(samples)) if samples else math.nan
    return out


def ratio(value: float, floor: float) -> float:
    """VALUE / FLOOR, rounded to two decimals; NaN when FLOOR is not positive."""
    if not floor or floor <= 0 or math.isnan(floor) or math.isnan(value):
        return math.nan
    return round(value / floor, 2)


def _r(x: float) -> float:
    return x if math.isnan(x) else round(x, 4)
