"""The label-free identification diagnostic, on a replay file made here: two models
that know the answer most of the time and three that give the same letter whatever
the question."""

from __future__ import annotations

import csv
import gzip

import numpy as np

from shared_core.bench.identify import identify, report
from shared_core.bench.routerbench import load_task

MODELS = {"good": 0.9, "fair": 0.75, "always_a": None, "always_a2": None, "always_b": None}


def _write(root, n=300, seed=0):
    (root / "qa").mkdir(parents=True)
    (root / "routerbench_models.yaml").write_text("models:\n" + "".join(
        f"  {m}: {{provider: p, price_in: 1.0, price_out: 1.0, ttft_s: 0.1, tokens_per_s: 100}}\n" for m in MODELS))
    rng = np.random.default_rng(seed)
    cols = ["id", "prompt"] + [f"{m}.{k}" for m in MODELS for k in ("output", "correct", "cost")]
    with gzip.open(root / "qa" / "toy.csv.gz", "wt", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        for i in range(n):
            truth = "AB"[rng.integers(2)]
            row = {"id": i, "prompt": f"Q{i}: which?\nA) one\nB) two\nAnswer:"}
            for m, acc in MODELS.items():
                if acc is None:
                    out = "B" if m == "always_b" else "A"
                else:
                    out = truth if rng.random() < acc else ("B" if truth == "A" else "A")
                row.update({f"{m}.output": out, f"{m}.correct": int(out == truth), f"{m}.cost": 0.001})
            w.writerow(row)
    return root / "qa" / "toy.csv.gz"


def test_letter_shares_identify_what_the_symmetric_model_gets_wrong(tmp_path):
    path = _write(tmp_path / "data")
    group = load_task("qa", [path]).groups[0]
    models = list(MODELS)
    true = {m: float(np.mean(group.correct[m])) for m in models}
    symmetric = identify(group, models, 0.0, 1.0, iters=20)
    shares = identify(group, models, 0.1, 1.0, iters=20)
    error = lambda p: np.mean([abs(p[m] - true[m]) for m in models])
    assert error(shares) < 0.1 < error(symmetric)
    # two models that always say A agree with each other on every question: the
    # symmetric model takes that for knowledge; their letter shares say it is not
    assert symmetric["always_a"] > symmetric["fair"]
    assert shares["good"] > shares["fair"] > max(shares[m] for m in ("always_a", "always_a2", "always_b"))


def test_report_prints_both_fits_against_the_labels(tmp_path):
    text = report(_write(tmp_path / "data", n=80), iters=5)
    assert "toy: 80 questions, 5 models" in text
    assert "symmetric: mean absolute error" in text and "letter shares: mean absolute error" in text
