"""What each model answers when it does not know: its share of each option, per task.

Models pick some option letters more than others whatever the question ("selection
bias": Zheng et al., 2024, "Large Language Models Are Not Robust Multiple Choice
Selectors", ICLR). On a RouterBench Winogrande replay one model answers A to every
question and another B to 98% of them. Two models that both lean to A agree on A
more often than their accuracy says, and an always-A model's A says nothing of the
question: the agreement verifier must not count either as evidence.

So a model m right with probability p on average is taken to know the answer with
probability r = (p - 1/n) / (1 - 1/n) on average, less on a harder question, and
otherwise to guess option k with its share s_m(k) (item-response theory's
three-parameter model, its guessing floor the model's own; Dawid and Skene's model
where questions do not differ):

    P(m answers k | the right one is t) = r [k = t] + (1 - r) s_m(k)

With every share 1/n and no difference in difficulty this is the symmetric model
(right with p, each wrong option with (1 - p) / (n - 1)). The shares are learned
without labels from the answers the models give: a Dirichlet posterior mean whose
prior is centred on 1/n, `prior_sd` the spread of a share a priori (0: no shares,
the symmetric model of agreement.py). The counts are kept per engine and saved with
its state; the workers of a shared deployment (shared_state/) each count their own,
which settle within a few dozen answers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class AnswerShares:
    """Counts of each model's answers per task; `shares` is what a guess of it looks like."""

    def __init__(self, prior_sd: float = 0.1):
        self.prior_sd = prior_sd
        self.counts: dict[tuple[str, str], Counter[str]] = {}

    def add(self, task: str, keys: dict[str, str | None]) -> None:
        """The answers one request got (None: no usable answer, not counted)."""
        for model, key in keys.items():
            if key is not None:
                self.counts.setdefault((task, model), Counter())[key] += 1

    def shares(self, task: str, models: list[str], options: tuple[str, ...]) -> dict[str, dict[str, float]]:
        """Each model's share of each of `options` when it guesses; {} where the
        options are unknown or the shares are held at 1/n."""
        n = len(options)
        if n < 2 or self.prior_sd <= 0:
            return {}
        strength = self._prior_strength(n)
        out = {}
        for m in models:
            c = self.counts.get((task, m))
            total = (sum(c[k] for k in options) if c else 0) + strength * n
            out[m] = {k: ((c[k] if c else 0) + strength) / total for k in options}
        return out

    def _prior_strength(self, n: int) -> float:
        """The Dirichlet pseudo-count per option whose share has sd `prior_sd` a priori:
        a share's variance is (1/n)(1 - 1/n) / (n a + 1) under Dirichlet(a, ..., a)."""
        var = self.prior_sd ** 2
        return max(0.5, ((1.0 / n) * (1.0 - 1.0 / n) / var - 1.0) / n)

    def state(self) -> list[dict[str, Any]]:
        return [{"task": t, "model": m, "counts": dict(c)} for (t, m), c in self.counts.items()]

    def restore(self, saved: list[dict[str, Any]] | None) -> None:
        for row in saved or []:
            self.counts[(str(row["task"]), str(row["model"]))] = Counter(
                {str(k): int(v) for k, v in row["counts"].items()})
