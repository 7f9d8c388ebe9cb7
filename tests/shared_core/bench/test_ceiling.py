"""The reachability bounds: a full-information one-call ceiling and a
context-free bandit reference, on synthetic replays with a known answer and on
MBPP (where the issue's target is measured against it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared_core.bench import routerbench
from shared_core.bench.ceiling import (bandit_reference, ceiling_report, format_ceiling, full_information_ceiling,
                                       thompson_replay)
from shared_core.cli import main


def test_ceiling_finds_the_query_kinds_a_cheap_model_gets_right(synthetic_task):
    """The cheap model is right on sorting tasks (90%) and wrong on graph tasks
    (10%); the strong one is right on both at 100x the price. With labels, a
    router sends sorting to cheap and graphs to strong: far above cheap alone,
    near strong, for much less than strong."""
    g = synthetic_task.groups[0]
    c = full_information_ceiling(g, synthetic_task.models, budget_frac=0.7)
    assert c.best_single == "strong"
    cheap = g.correct["cheap"].mean()
    assert c.accuracy > cheap + 0.3
    assert c.accuracy > c.best_single_accuracy - 0.08
    assert c.cost_usd <= c.budget_usd == pytest.approx(0.7 * c.best_single_cost_usd)
    assert c.auc["cheap"] > 0.85  # the query text tells its sorting tasks from its graph tasks


def test_ceiling_within_a_budget_no_model_fits_is_zero(synthetic_task):
    c = full_information_ceiling(synthetic_task.groups[0], ["strong"], budget_frac=0.5)
    assert c.accuracy == 0.0 and c.cost_usd == 0.0


def test_thompson_replay_learns_the_better_arm():
    rng = np.random.default_rng(0)
    y = np.stack([rng.random(600) < 0.9, rng.random(600) < 0.3], axis=1).astype(float)
    c = np.full((600, 2), 1e-5)
    acc, cost = thompson_replay(y, c, start=0, score_from=300, wtp=1.0, seed=0)
    assert acc > 0.8
    assert cost == pytest.approx(300 * 1e-5)


def test_bandit_reference_scores_the_test_part(synthetic_task):
    ref = bandit_reference(synthetic_task.groups[0], synthetic_task.models, train_size=40, wtp=0.002, seeds=3)
    assert set(ref) == {"cold", "online-from-train"}
    for r in ref.values():
        assert 0.0 < r["accuracy"] <= 1.0 and r["cost_usd"] > 0


def test_format_ceiling_names_every_file(make_task):
    task = make_task(groups=2, n=60)
    report = ceiling_report(task.groups, task.models, [12, 12], wtp=0.002, seeds=2)
    text = format_ceiling(report)
    assert "g0:" in text and "g1:" in text and "full-information one-call ceiling" in text


def test_mbpp_one_call_ceiling_is_below_the_best_single_model(need_data):
    """The MBPP target (gpt-4's accuracy at 10% of its cost, one call per query)
    is out of reach of any router on query text: even with every model's label
    on 90% of the file, the most accurate plan within the budget falls short."""
    task = routerbench.load_task("codegen", [need_data("codegen", "mbpp.csv.gz")])
    c = full_information_ceiling(task.groups[0], task.models, regularisation=(1.0,))
    assert c.best_single == "gpt-4-1106-preview"
    assert c.accuracy < c.best_single_accuracy
    assert c.cost_usd <= c.budget_usd


def test_cli_ceiling_needs_a_train_part(need_data):
    with pytest.raises(SystemExit, match="train"):
        main(["bench", "codegen", "--data", str(need_data("codegen", "mbpp.csv.gz")), "--limit", "40",
              "--train-frac", "0", "--variants", "sls", "--quiet", "--workers", "1", "--ceiling"])


def test_cli_codegen_slice_writes_the_ceiling_and_the_online_train_row(need_data, tmp_path, capsys):
    out = tmp_path / "codegen.json"
    code = main(["bench", "codegen", "--data", str(need_data("codegen", "mbpp.csv.gz")), "--limit", "60",
                 "--baselines", "none", "--quiet", "--workers", "1", "--ceiling", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    methods = {r["method"] for r in result["rows"]}
    assert {"sls", "sls-cascade", "sls-online-train"} <= methods
    ceiling = result["ceiling"]["mbpp"]
    assert set(ceiling) == {"full_information", "bandit"}
    assert 0.0 <= ceiling["full_information"]["accuracy"] <= 1.0
    assert "full-information one-call ceiling" in capsys.readouterr().out
