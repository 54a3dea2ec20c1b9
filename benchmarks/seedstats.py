"""Small statistics for results over training seeds, with no scipy: Student's t CDF and
quantile, a mean with its 95% t-interval, a paired t-test and an exact two-sided sign test.

In: lists of floats (one value per seed). Out: plain floats. Used by
``benchmarks/methods_seeds.py``; tested by ``tests/test_seedstats.py`` and the doctests.

The t CDF uses the regularized incomplete beta function, I_x(a, b), evaluated with the
continued fraction of Numerical Recipes (``betacf``), which converges fast for the small
degrees of freedom (2..20) a seed study has.
"""

from __future__ import annotations

import math
from statistics import mean, stdev


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # fmt: skip
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function.

    >>> round(incomplete_beta(1.0, 1.0, 0.3), 12)   # Beta(1, 1) is uniform
    0.3
    >>> round(incomplete_beta(2.0, 3.0, 0.5), 12)   # 11/16
    0.6875
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1.0 - x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom.

    >>> round(t_cdf(0.0, 4), 12)
    0.5
    >>> round(t_cdf(2.776445105, 4), 6)   # the 97.5% point for df=4
    0.975
    >>> round(t_cdf(1.0, 1), 12)          # Cauchy: 1/2 + atan(1)/pi
    0.75
    """
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value with ``t_cdf(t, df) == p`` (bisection; 0 < p < 1).

    >>> round(t_quantile(0.975, 2), 4), round(t_quantile(0.975, 4), 4)
    (4.3027, 2.7764)
    """
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2.0


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its two-sided t-interval (``nan`` half-width for one value).

    >>> m, h = mean_ci([1.0, 2.0, 3.0])
    >>> m, round(h, 4)                   # sd 1, n 3: 4.3027 / sqrt(3)
    (2.0, 2.4841)
    """
    m = mean(values)
    if len(values) < 2:
        return m, float("nan")
    return m, t_quantile(0.5 + level / 2.0, len(values) - 1) * stdev(values) / math.sqrt(len(values))


def paired_t(a: list[float], b: list[float]) -> tuple[float, float]:
    """Paired t-test of a - b: (t statistic, two-sided p-value); needs >= 2 pairs.

    >>> t, p = paired_t([3.0, 4.0, 5.0, 6.0], [1.0, 3.0, 2.0, 4.0])   # differences 2, 1, 3, 2
    >>> round(t, 4), round(p, 4)
    (4.899, 0.0163)
    """
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    sd = stdev(diffs)
    if sd == 0.0:
        return (0.0, 1.0) if mean(diffs) == 0.0 else (math.copysign(math.inf, mean(diffs)), 0.0)
    t = mean(diffs) / (sd / math.sqrt(len(diffs)))
    return t, 2.0 * (1.0 - t_cdf(abs(t), len(diffs) - 1))


def sign_test(a: list[float], b: list[float]) -> tuple[int, int, float]:
    """Exact two-sided sign test of a vs b: (wins of a, losses of a, p); ties are dropped.

    >>> sign_test([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])   # 5 of 5: p = 2 / 2**5
    (5, 0, 0.0625)
    """
    wins = sum(x > y for x, y in zip(a, b, strict=True))
    losses = sum(x < y for x, y in zip(a, b, strict=True))
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return wins, losses, 1.0
    p = 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return wins, losses, min(1.0, p)
