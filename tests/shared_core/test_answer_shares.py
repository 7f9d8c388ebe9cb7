"""AnswerShares: each model's share of each option when it guesses, learned from its answers."""

from __future__ import annotations

import pytest

from shared_core.answer_shares import AnswerShares


def test_a_share_starts_at_one_over_n_and_follows_the_answers():
    shares = AnswerShares(prior_sd=0.1)
    cold = shares.shares("qa", ["m"], ("A", "B"))
    assert cold == {"m": {"A": 0.5, "B": 0.5}}
    for _ in range(40):
        shares.add("qa", {"m": "A", "n": "B", "blank": None})
    leaning = shares.shares("qa", ["m", "n", "blank", "new"], ("A", "B"))
    assert leaning["m"]["A"] > 0.8 and leaning["n"]["B"] > 0.8
    assert leaning["blank"] == leaning["new"] == {"A": 0.5, "B": 0.5}  # no usable answer counts nothing
    assert sum(leaning["m"].values()) == pytest.approx(1.0)
    assert shares.shares("other task", ["m"], ("A", "B"))["m"]["A"] == 0.5  # per task


def test_the_prior_spread_is_the_sd_of_a_share_a_priori():
    shares = AnswerShares(prior_sd=0.1)
    for n in (2, 4):
        a = shares._prior_strength(n)
        sd = ((1 / n) * (1 - 1 / n) / (n * a + 1)) ** 0.5  # of one share under Dirichlet(a, ..., a)
        assert sd == pytest.approx(0.1)
    assert AnswerShares(prior_sd=0.0).shares("qa", ["m"], ("A", "B")) == {}  # held at 1/n
    assert AnswerShares().shares("qa", ["m"], ()) == {}  # options unknown


def test_state_round_trips():
    shares = AnswerShares()
    shares.add("qa", {"m": "A", "n": "B"})
    again = AnswerShares()
    again.restore(shares.state())
    assert again.shares("qa", ["m", "n"], ("A", "B")) == shares.shares("qa", ["m", "n"], ("A", "B"))
    again.restore(None)  # a state saved before shares were kept
