"""Whether trying a model the posterior ranks below the best can repay itself.

Thompson sampling explores every model in proportion to its chance of being
best, whatever that chance is worth. Here a model is explored only when the
value of what its calls could teach exceeds what they are expected to cost
(the knowledge gradient over several calls, KG(*): Frazier, Powell and
Dayanik, 2008; Ryzhov, Powell and Frazier, 2012):

    gain(n) = horizon * E[max(d_n, 0)] - n * max(-d, 0)

where d is the model's expected utility minus the best model's, d_n what the
router will believe d to be after n more calls of the model, and `horizon`
the requests that knowledge would serve. d_n is Gaussian around d with
variance s^2 * n / (n + n0): s is the posterior sd of the difference, n0 the
calls the model's current belief is worth. The model is worth exploring when
gain(n) > 0 for some n.
"""

from __future__ import annotations

import math

import numpy as np

_CALLS = (1, 2, 4, 8, 16, 32, 64, 128)  # the batch sizes n the test considers


def expected_improvement(d: float, s: float) -> float:
    """E[max(X, 0)] for X ~ Normal(d, s^2)."""
    if s <= 0.0:
        return max(d, 0.0)
    z = d / s
    return s * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + d * 0.5 * math.erfc(-z / math.sqrt(2))


def worth_exploring(d: float, s: float, n0: float, horizon: float) -> bool:
    """Can calls of a model `d` utility below the best (sd `s`, belief worth `n0`
    calls) repay themselves over `horizon` requests?"""
    if d >= 0.0:
        return True
    for n in _CALLS:
        s_n = s * math.sqrt(n / (n + n0))
        if horizon * expected_improvement(d, s_n) > n * -d:
            return True
    return False


def mean_var(x: np.ndarray) -> tuple[float, float]:
    """x.mean() and x.var(), the same sums in the same order, without numpy's
    argument handling: a quarter of the time, and it runs on every weighed draw."""
    n = len(x)
    mean = x.sum() / n
    dev = x - mean
    dev *= dev
    return float(mean), float(dev.sum() / n)


def draws_sd(x: np.ndarray) -> float:
    """np.std(x), as mean_var computes it."""
    return math.sqrt(mean_var(x)[1])


def belief_weight(draws: np.ndarray) -> float:
    """The calls a belief in a success rate is worth: the Beta distribution with the
    draws' mean and variance has a + b = p (1 - p) / var - 1."""
    p, var = mean_var(draws)
    if var <= 1e-12:
        return math.inf
    return max(p * (1.0 - p) / var - 1.0, 0.0)
