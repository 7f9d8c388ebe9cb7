"""QualityModel: cold estimates are the card scores, learning moves every model, posterior saves and restores."""

from __future__ import annotations

import numpy as np
import pytest

from shared_core.catalog import probit
from shared_core.quality import QualityModel, _factor

PRIORS = {"weak": 0.3, "mid": 0.5, "strong": 0.8}


def model() -> QualityModel:
    return QualityModel(list(PRIORS), {m: probit(p) for m, p in PRIORS.items()}, {m: 0.35 for m in PRIORS})


def test_cold_mean_is_the_prior_score():
    qm = model()
    for m, p in PRIORS.items():
        assert qm.mean(m) == pytest.approx(p, abs=1e-9)
        low, high = qm.interval(m)
        assert low < p < high


def test_one_models_outcomes_move_the_others():
    qm = model()
    for _ in range(40):
        qm.observe("mid", 0.0)  # this workload is much harder than the benchmark said
    assert qm.mean("mid") < 0.2
    assert qm.mean("weak") < 0.3 and qm.mean("strong") < 0.8  # the shared shift moved them too
    assert qm.mean("strong") > qm.mean("weak")  # the order of the unobserved ones is kept
    assert PRIORS["mid"] - qm.mean("mid") > PRIORS["weak"] - qm.mean("weak")  # mid's own evidence moved it most


def test_learns_a_model_rate_and_narrows():
    qm, rng = model(), np.random.default_rng(0)
    width0 = np.subtract(*qm.interval("weak")[::-1])
    outcomes = [float(rng.random() < 0.7) for _ in range(300)]
    for y in outcomes:
        qm.observe("weak", y)
    assert qm.mean("weak") == pytest.approx(np.mean(outcomes), abs=0.02)  # the evidence outweighs the 0.3 prior
    assert np.subtract(*qm.interval("weak")[::-1]) < width0 / 3


def test_graded_rewards_and_joint_samples():
    qm = model()
    qm.observe("strong", 0.5)
    draw = qm.sample(np.random.default_rng(1))
    assert set(draw) == set(PRIORS) and all(0.0 < v < 1.0 for v in draw.values())


def test_restore_keeps_learning_and_new_models_keep_their_prior():
    qm = model()
    for _ in range(20):
        qm.observe("weak", 1.0)
    saved = qm.to_dict()
    wider = QualityModel(list(PRIORS) + ["new"], {**{m: probit(p) for m, p in PRIORS.items()}, "new": probit(0.6)},
                         {m: 0.35 for m in [*PRIORS, "new"]})
    wider.restore(saved)
    assert wider.mean("weak") == pytest.approx(qm.mean("weak"), abs=0.01)  # a new model re-centres the feature
    assert wider.observations == 20
    assert wider.mean("new") > 0.6  # its own prior of 0.6, lifted by the shared shift weak's successes taught


def test_draws_are_joint_and_match_the_posterior_mean():
    qm = model()
    for _ in range(40):
        qm.observe("weak", 1.0)
    draws = qm.draws(4000)
    for m, (mean, _, _) in qm.summary().items():
        assert draws[m].mean() == pytest.approx(mean, abs=0.02)
    # the shared terms tie the models: their draws move together
    assert np.corrcoef(draws["mid"], draws["strong"])[0, 1] > 0.2
    assert qm.draws() is qm.draws()  # computed once per observation


def test_the_factor_is_numpys_cholesky_and_refuses_what_is_not_positive_definite():
    rng = np.random.default_rng(3)
    a = rng.random((10, 10))
    sigma = a @ a.T + np.eye(10)
    assert np.array_equal(_factor(sigma), np.linalg.cholesky(sigma))
    with pytest.raises(np.linalg.LinAlgError), np.errstate(invalid="ignore"):
        _factor(np.array([[1.0, 2.0], [2.0, 1.0]]))
