"""What agreement alone can tell of each model's accuracy on a RouterBench QA file.

A diagnostic, not a router: every model's recorded answer to every question, and
an EM (Dawid and Skene, 1979) that alternates the agreement verifier's own truth
posterior (agreement.truth_posterior, with the default difficulty model) and each
model's accuracy, the mean posterior that its answer is right. No label is read
until the estimates are compared with them. Run once with every guess uniform
over the options (the symmetric model) and once with each model guessing by its
own letter shares (answer_shares.py), so the two likelihoods can be told apart
on the most information the answers could ever give the cascade.

    python -m shared_core.bench.identify ../shared/data/qa/winogrande.csv.gz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..agreement import ChoiceNormalizer, truth_posterior
from ..answer_shares import AnswerShares
from ..config import AgreementConfig
from ..request import Request
from .replay import ReplayGroup
from .routerbench import load_task


def identify(group: ReplayGroup, models: list[str], guess_share_sd: float, difficulty_sd: float,
             iters: int = 30, start: float = 0.7) -> dict[str, float]:
    """Every model's accuracy as the EM finds it from the answers alone (all start at `start`)."""
    norm = ChoiceNormalizer()
    keys = [{m: norm(group.answers[m][i] or "") for m in models} for i in range(len(group))]
    shares = AnswerShares(guess_share_sd)
    for k in keys:
        shares.add(group.name, k)
    requests = [Request(messages=[{"role": "user", "content": q}]) for q in group.queries]
    # what each question allows and each model's shares do not change between rounds
    asked = [(norm.coincidence(r), shares.shares(group.name, models, norm.options(r))) for r in requests]
    p = {m: start for m in models}
    for _ in range(iters):
        credit = dict.fromkeys(models, 0.0)
        for k, (q, guess) in zip(keys, asked):
            post = truth_posterior(k, p, q, difficulty_sd, guess)
            for m, key in k.items():
                credit[m] += post.get(key, 0.0) if key is not None else 0.0
        p = {m: float(np.clip(credit[m] / len(keys), 0.01, 0.99)) for m in models}
    return p


def _ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(float)


def report(path: str | Path, iters: int = 30) -> str:
    task = load_task("qa", [path])
    group, models = task.groups[0], task.models
    true = np.array([float(np.mean(group.correct[m])) for m in models])
    sd = AgreementConfig().difficulty_sd
    found = {"symmetric": identify(group, models, 0.0, sd, iters),
             "letter shares": identify(group, models, AgreementConfig().guess_share_sd, sd, iters)}
    lines = [f"{group.name}: {len(group)} questions, {len(models)} models, label-free EM ({iters} rounds)",
             f"{'model':32s} {'true':>6s} " + " ".join(f"{k:>14s}" for k in found)]
    for i, m in enumerate(models):
        lines.append(f"{m:32s} {true[i]:6.3f} " + " ".join(f"{found[k][m]:14.3f}" for k in found))
    for k, p in found.items():
        est = np.array([p[m] for m in models])
        rho = float(np.corrcoef(_ranks(est), _ranks(true))[0, 1])
        lines.append(f"{k}: mean absolute error {np.abs(est - true).mean():.3f}, rank correlation {rho:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="RouterBench QA replay files (csv or csv.gz)")
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args(argv)
    for f in args.files:
        print(report(f, args.iters))


if __name__ == "__main__":
    main()
