"""Predictor: priors, local (kNN) learning, usage EMAs, warm start, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared_core.config import CandidateConfig, LatencyHint, PredictorConfig
from shared_core.encoders import HashingEncoder
from shared_core.predictor import Predictor
from shared_core.storage import dump_arrays, load_arrays

DIM = 64
MODELS = ["a", "b"]


def cands(pa=0.5, pb=0.5):
    return [CandidateConfig("a", price_in=1.0, price_out=2.0, quality_prior=pa, expected_output_tokens=100,
                            latency=LatencyHint(ttft_s=0.5, tokens_per_s=100)),
            CandidateConfig("b", price_in=10.0, price_out=30.0, quality_prior=pb, expected_output_tokens=200)]


def make(pa=0.5, pb=0.5, **cfg) -> Predictor:
    return Predictor(cands(pa, pb), PredictorConfig(**cfg), DIM, seed=3)


def unit(v):
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture
def regions():
    """Three well separated centres and a sampler of points close to each."""
    rng = np.random.default_rng(42)
    centres = [unit(rng.normal(size=DIM)) for _ in range(3)]

    def around(i, eps=0.03):
        return unit(centres[i] + eps * rng.normal(size=DIM))
    return centres, around


def by_model(estimates):
    return {e.model: e for e in estimates}


def test_starts_at_config_priors():
    p = make(0.8, 0.3)
    est = by_model(p.predict("default", unit(np.ones(DIM)), 1000, MODELS, explore=False))
    assert est["a"].p_good == pytest.approx(0.8) and est["b"].p_good == pytest.approx(0.3)
    assert est["a"].p_sample == est["a"].p_good and est["a"].evidence == 0.0
    assert est["a"].cost_usd == pytest.approx((1000 * 1.0 + 100 * 2.0) / 1e6)
    assert est["b"].cost_usd == pytest.approx((1000 * 10.0 + 200 * 30.0) / 1e6)
    assert est["a"].latency_s == pytest.approx(0.5 + 100 / 100)
    assert est["a"].output_tokens == 100 and est["a"].input_tokens == 1000
    # no vector: same priors
    assert by_model(p.predict("default", None, 1000, MODELS, explore=False))["b"].p_good == pytest.approx(0.3)


def test_local_learning(regions):
    centres, around = regions
    p = make()
    for _ in range(30):  # a is good near centre 0 and bad near centre 1; b the reverse
        p.observe("t", around(0), "a", 1.0)
        p.observe("t", around(0), "b", 0.0)
        p.observe("t", around(1), "a", 0.0)
        p.observe("t", around(1), "b", 1.0)
    here = by_model(p.predict("t", around(0), 100, MODELS, explore=False))
    there = by_model(p.predict("t", around(1), 100, MODELS, explore=False))
    assert here["a"].p_good > 0.85 and here["b"].p_good < 0.15
    assert there["b"].p_good > 0.85 and there["a"].p_good < 0.15
    assert here["a"].evidence > 1.0
    # a region with no observations stays near the (balanced) global rate
    far = by_model(p.predict("t", centres[2], 100, MODELS, explore=False))
    assert abs(far["a"].p_good - 0.5) < 0.1 and abs(far["b"].p_good - 0.5) < 0.1
    assert far["a"].evidence < 0.01


def test_one_sided_evidence_stays_mostly_local(regions):
    centres, around = regions
    p = make()
    for _ in range(10):
        p.observe("t", around(0), "a", 0.0)
    near = by_model(p.predict("t", around(0), 100, ["a"], explore=False))["a"]
    far = by_model(p.predict("t", centres[2], 100, ["a"], explore=False))["a"]
    assert near.p_good < 0.1
    assert far.p_good > near.p_good + 0.05 and far.evidence < 0.01 < near.evidence


def test_tasks_are_separate(regions):
    _, around = regions
    p = make()
    for _ in range(20):
        p.observe("logs", around(0), "a", 0.0)
    assert by_model(p.predict("code", around(0), 100, MODELS, explore=False))["a"].p_good == pytest.approx(0.5)


def test_rewards_are_clipped_and_unknown_models_ignored(regions):
    _, around = regions
    p = make()
    p.observe("t", around(0), "a", 7.0)
    p.observe("t", around(0), "zzz", 1.0)
    assert p.t == 1 and p.stats[("t", "a")].good == pytest.approx(1.0) and p.stats[("t", "a")].bad == 0.0


def test_output_token_ema_updates_cost():
    p = make()
    p.observe_usage("t", "a", 1000, None)
    est = by_model(p.predict("t", None, 0, ["a"], explore=False))["a"]
    assert est.output_tokens == 1000 and est.cost_usd == pytest.approx(1000 * 2.0 / 1e6)
    p.observe_usage("t", "a", 0, None)
    est = by_model(p.predict("t", None, 0, ["a"], explore=False))["a"]
    assert est.output_tokens == pytest.approx(900) and est.cost_usd == pytest.approx(900 * 2.0 / 1e6)
    assert by_model(p.predict("other", None, 0, ["a"], explore=False))["a"].output_tokens == 100


def test_latency_ratio_learns_from_calls():
    p = make()
    for _ in range(50):
        p.observe_usage("t", "a", 100, 3.0)  # modelled 1.5 s, took 3 s
    est = by_model(p.predict("t", None, 0, ["a"], explore=False))["a"]
    assert 2.8 < est.latency_s <= 3.0


def test_exploration_modes(regions):
    _, around = regions
    q = around(0)
    ucb = by_model(make(exploration="ucb").predict("t", q, 10, MODELS))
    assert all(e.p_sample > e.p_good for e in ucb.values())
    greedy = by_model(make(exploration="greedy").predict("t", q, 10, MODELS))
    assert all(e.p_sample == e.p_good for e in greedy.values())
    p = make()
    draws = [by_model(p.predict("t", q, 10, MODELS))["a"].p_sample for _ in range(20)]
    assert len(set(draws)) == 20 and all(0 <= d <= 1 for d in draws)
    again = make()
    assert [by_model(again.predict("t", q, 10, MODELS))["a"].p_sample for _ in range(20)] == draws  # seeded


def test_warm_start_from_jsonl(tmp_path):
    enc = HashingEncoder(dim=DIM)
    path = tmp_path / "labels.jsonl"
    rows = []
    for i in range(15):
        rows.append({"query": f"parse this log line number {i}", "model": "a", "score": 1.0, "task": "logs",
                     "output_tokens": 40})
        rows.append({"query": f"parse this log line number {i}", "model": "b", "score": 0.0, "task": "logs"})
    rows.append({"query": "x", "model": "not-configured", "score": 1.0})
    path.write_text("\n".join(json.dumps(r) for r in rows[:10]) + "\n\n" + "\n".join(json.dumps(r) for r in rows[10:]))
    p = make()
    assert p.warm_start(path, enc.encode_one) == 30
    est = by_model(p.predict("logs", enc.encode_one("parse this log line number 99"), 10, MODELS, explore=False))
    assert est["a"].p_good > 0.9 and est["b"].p_good < 0.1
    assert est["a"].output_tokens == pytest.approx(40)
    assert len(p.memories["logs"]) == 30 and "default" not in p.memories


def test_snapshot_restore_roundtrip(regions):
    centres, around = regions
    p = make(0.6, 0.4)
    for i in range(40):
        p.observe("t", around(i % 3), MODELS[i % 2], float(i % 5 != 0))
        p.observe_usage("t", MODELS[i % 2], 50 + i, 1.0)
    p.predict("t", around(0), 10, MODELS)  # advance the rng
    meta, arrays = p.snapshot()
    meta = json.loads(json.dumps(meta))
    arrays = load_arrays(dump_arrays(arrays))
    q = Predictor(cands(0.6, 0.4), PredictorConfig(), DIM, seed=999)
    q.restore(meta, arrays)
    assert q.t == p.t
    for probe in [*centres, around(0), around(1)]:
        assert p.predict("t", probe, 123, MODELS, explore=False) == q.predict("t", probe, 123, MODELS, explore=False)
    # the sampler's state travels too: the next Thompson draws agree
    assert p.predict("t", centres[0], 1, MODELS) == q.predict("t", centres[0], 1, MODELS)
    # and both keep learning the same way
    for pred in (p, q):
        pred.observe("t", centres[2], "b", 0.0)
    assert p.predict("t", centres[2], 1, MODELS, explore=False) == q.predict("t", centres[2], 1, MODELS, explore=False)


def test_learn_false_ignores_observations(regions):
    _, around = regions
    p = make(0.7, 0.2, learn=False)
    for _ in range(20):
        p.observe("t", around(0), "a", 0.0)
        p.observe_usage("t", "a", 5000, 10.0)
    assert p.t == 0 and p.memories == {}
    est = by_model(p.predict("t", around(0), 10, MODELS, explore=False))
    assert est["a"].p_good == pytest.approx(0.7) and est["a"].output_tokens == 100


def test_memory_is_bounded_in_clusters(regions):
    _, around = regions
    p = make(max_observations=20)
    for i in range(25):
        p.observe("t", around(i % 2), "a", 1.0 if i % 2 == 0 else 0.0)
    mem = p.memories["t"]
    assert len(mem) == len(mem.centres) == 20 and mem.observations == 25  # the last 5 merged, none dropped
    est = by_model(p.predict("t", around(0), 10, ["a"], explore=False))["a"]
    assert est.p_good > 0.8  # still answers from the kept neighbours


def test_restores_a_state_saved_before_the_memory_kept_clusters(regions):
    # that format: one vector row and one (model, reward, time) per observation
    centres, around = regions
    vecs = np.stack([around(i % 2) for i in range(12)])
    meta = {"t": 12, "stats": [], "memories": {"t": {"model": ["a"] * 12, "reward": [float(i % 2 == 0) for i in range(12)],
                                                       "time": list(range(1, 13))}}}
    p = make()
    p.restore(meta, {"mem_t": vecs})
    assert len(p.memories["t"]) == 12 and p.memories["t"].observations == 12
    est0 = by_model(p.predict("t", centres[0], 10, ["a"], explore=False))["a"]
    est1 = by_model(p.predict("t", centres[1], 10, ["a"], explore=False))["a"]
    assert est0.p_good > est1.p_good
