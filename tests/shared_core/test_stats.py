"""router.stats() and `sls stats`: what was learned and done, live and from a saved state."""

from __future__ import annotations

import json

import pytest

from shared_core import Engine, Request, SimulatedCandidate, SLSConfig
from shared_core.cli import main
from shared_core.stats import quality_summary


def engine(state=None) -> Engine:
    data = {"candidates": [{"name": "cheap", "price_in": 0.5, "price_out": 0.5},
                           {"name": "strong", "price_in": 20.0, "price_out": 20.0}], "seed": 3}
    if state:
        data["state"] = {"path": str(state)}
    cfg = SLSConfig.from_dict(data)
    return Engine(cfg, [SimulatedCandidate(cfg.candidate(n), lambda r, rng, n=n: f"{n} says {r.query}")
                        for n in ("cheap", "strong")])


def serve(eng: Engine, n: int = 80) -> None:
    """cheap is right on even questions only, strong always; a third are repeats."""
    for i in range(n):
        q = i % 55
        result = eng.run(Request(messages=[{"role": "user", "content": f"question {q} about topic {q * 7}"}],
                                 task="qa"))
        eng.feedback(result.request_id, 1.0 if result.model == "strong" or q % 2 == 0 else 0.0)


def test_stats_report_quality_calls_spend_hits_savings_and_thresholds():
    eng = engine()
    serve(eng)
    stats = eng.stats()
    models = {m["model"]: m for m in stats["models"]}
    assert set(models) == {"cheap", "strong"} and all(m["task"] == "qa" for m in stats["models"])
    calls = sum(m["calls"] for m in models.values())
    assert calls + sum(stats["cache"]["hits"].values()) == 80
    assert sum(m["cost_usd"] for m in models.values()) == pytest.approx(stats["spent_usd"], rel=1e-6)
    assert 0 < stats["cache"]["entries"] <= calls and stats["cache"]["hits"]["exact"] > 0  # wrong answers are evicted
    strong = models["strong"]
    assert strong["quality"] > 0.8 and 0 < strong["quality_sd"] < 0.2 and strong["mean_latency_s"] > 0
    [saving] = stats["savings"]
    assert saving["requests"] == 80 and saving["spent_usd"] == pytest.approx(stats["spent_usd"], rel=1e-6)
    assert saving["best_model"] == max(models.values(), key=lambda m: m["quality"] if m["evidence"] else -1)["model"]
    assert saving["always_best_usd"] > 0 and saving["saved_usd"] == pytest.approx(
        saving["always_best_usd"] - saving["spent_usd"], abs=1e-8)
    assert [t["task"] for t in stats["thresholds"]] == ["qa"]


def test_quality_is_the_beta_posterior_of_the_snapshot_counts():
    q = quality_summary({"stats": [{"task": "t", "model": "m", "good": 3.0, "bad": 1.0}]})[("t", "m")]
    assert q["quality"] == pytest.approx(4 / 6) and q["evidence"] == 4.0
    assert q["sd"] == pytest.approx((4 * 2 / (36 * 7)) ** 0.5)


def test_sls_stats_reads_a_saved_state_as_tables_and_json(tmp_path, capsys):
    with engine(tmp_path / "state") as eng:
        serve(eng)
        live = eng.stats()
    assert main(["stats", "--state", str(tmp_path / "state")]) == 0
    text = capsys.readouterr().out
    assert "quality" in text and "strong" in text and "savings against always calling" in text
    assert main(["stats", "--state", str(tmp_path / "state"), "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["models"] == live["models"] and saved["cache"] == live["cache"]
    with engine(tmp_path / "state") as again:  # usage survives a restart
        assert again.stats()["models"] == live["models"]


def test_sls_stats_names_a_missing_state(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no state at .*nowhere"):
        main(["stats", "--state", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    assert main(["stats", "--state", str(tmp_path / "empty")]) == 2
    assert "no saved state" in capsys.readouterr().err


def test_langchain_router_stats_is_the_engines(tmp_path):
    from langchain_sls import SmartRouterLLM
    from pathlib import Path

    with SmartRouterLLM.from_config(Path(__file__).resolve().parents[2] / "examples" / "router.yaml") as router:
        msg = router.invoke("What is the capital of France?")
        router.feedback(msg, 1.0)
        stats = router.stats()
    assert {m["model"] for m in stats["models"]} >= {msg.response_metadata["sls_model"]}
    assert stats["feedback_events"] == 1


def test_a_second_feedback_on_a_request_is_refused_and_the_first_stands(tmp_path):
    from shared_core.errors import FeedbackError

    with engine(tmp_path / "state") as eng:
        result = eng.run(Request(messages=[{"role": "user", "content": "is the sky blue"}], task="qa"))
        assert eng.feedback(result.request_id, 1.0) is True
        before = eng.stats()["models"]
        with pytest.raises(FeedbackError, match=f"request {result.request_id} already had feedback"):
            eng.feedback(result.request_id, 0.0)
        assert eng.stats()["models"] == before and eng.updater.events == 1
        assert eng.feedback("no-such-request", 1.0) is False
    with engine(tmp_path / "state") as again:  # the rule holds across a restart
        with pytest.raises(FeedbackError):
            again.feedback(result.request_id, 0.0)


def test_langchain_router_feedback_twice_raises(tmp_path):
    from pathlib import Path

    from langchain_sls import SmartRouterLLM
    from shared_core.errors import FeedbackError

    with SmartRouterLLM.from_config(Path(__file__).resolve().parents[2] / "examples" / "router.yaml") as router:
        msg = router.invoke("Write a haiku about routing.")
        assert router.feedback(msg, 1.0)
        with pytest.raises(FeedbackError):
            router.feedback(msg, 0.0)
