"""The value-of-information test of exploration: a try must be able to repay itself."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.exploration import belief_weight, draws_sd, expected_improvement, mean_var, worth_exploring


def test_expected_improvement_of_a_normal():
    assert expected_improvement(0.0, 1.0) == pytest.approx(1 / np.sqrt(2 * np.pi))
    assert expected_improvement(0.3, 0.0) == 0.3 and expected_improvement(-0.3, 0.0) == 0.0
    rng = np.random.default_rng(0)
    x = rng.normal(-0.1, 0.2, 200_000)
    assert expected_improvement(-0.1, 0.2) == pytest.approx(np.maximum(x, 0).mean(), rel=0.02)


def test_a_close_uncertain_model_is_worth_trying_a_far_one_only_over_a_long_run():
    assert worth_exploring(0.05, 0.1, 5.0, 0.0)  # already expected better: nothing to repay
    assert worth_exploring(-0.02, 0.15, 5.0, 20)  # close and uncertain: a few requests repay it
    far = dict(d=-0.2, s=0.16, n0=6.0)
    assert not worth_exploring(**far, horizon=300)  # 20 points below: a short run cannot repay the tries
    assert worth_exploring(**far, horizon=5000)  # a long one can
    assert not worth_exploring(-0.02, 0.0, 5.0, 10_000)  # known to be worse: never


def test_belief_weight_is_the_beta_sample_size():
    rng = np.random.default_rng(1)
    draws = rng.beta(8, 2, 100_000)  # a + b = 10
    assert belief_weight(draws) == pytest.approx(10, rel=0.05)
    assert belief_weight(np.full(10, 0.7)) == float("inf")


def test_mean_var_is_numpys_to_the_last_bit():
    # the scheduler's decisions must not move with the faster sums: same values, not close ones
    rng = np.random.default_rng(2)
    for n in (1, 7, 256, 1000):
        x = rng.beta(3, 2, n)
        assert mean_var(x) == (float(x.mean()), float(x.var()))
        d = x - x[::-1]
        assert draws_sd(d) == float(np.std(d))
