"""A paced budget: spend on average at most a share of what one model would cost.

A user who would otherwise send everything to one strong model can say what
they will pay in its terms: `budget.cost_share: 0.4` is "at most 40% of what
`budget.reference_model` (default: the dearest candidate) would cost for the
same requests". That is a constraint, not a price, so the router turns it into
one: the cost term of every utility (scheduler.py, and the agreement cascade's
willingness to pay) is multiplied by a weight w >= 1, the Lagrange multiplier
of the budget, found online by multiplicative dual ascent:

    log w <- max(0, log w + gain * (cost - share * reference cost + balance / n) / mean reference cost)

per request, with n the requests paced so far, the reference's mean cost over
them, and the balance what they spent beyond the share before this one (< 0:
unspent). Its first two terms are the gradient of the Lagrangian of the
constraint as the user states it, total cost <= share x total reference cost,
so a request is weighed by what it costs, not counted as one ratio among
equals. Spending above the share raises the weight until cheaper plans win;
spending below it lets the weight fall back to 1, where the user's own
preferences decide. gain 0.1: a run of requests that each overspend by one
mean reference cost doubles the weight in about seven requests. The balance,
spread over as many requests again, makes the total converge to the share:
with the overspend alone the weight settles where spending runs at the share
and keeps for good whatever was saved or overspent on the way there.

The ascent starts where the prior says the budget binds, not at 1: before a
task's first paced request, the least weight at which the plan best on the
posterior means fits the share (`start`). From 1, the first requests overspend
until the weight has climbed (on the Winogrande replay at share 0.4, 0.74 of the
reference over the first 50), and the rest of the run pays that back.

What the reference would have cost is predicted (its list price of the tokens
counted here), so the pacer scales it by what the reference's own calls billed
against their predictions (`observe_call`): a provider's tokenizer and message
framing differ from the count, and a budget kept against a reference predicted
2% dear is overspent by 2%.

One budget covers all of a process's traffic (`budget.scope: all`, the
default): the constraint is on the sum, so it has one multiplier, and a task
whose answers come cheap leaves room for one whose answers do not. With
`scope: task` each task keeps to the share on its own. Each process paces its
own traffic: when every worker keeps its total within the share, so does their
sum, with no shared counter. The weight is saved with the
scheduler's state, so a restart does not forget an overspend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .config import BUDGET_SCOPES, Budget
from .predictor import Estimate


MAX_LOG_WEIGHT = 16.0  # a start weight of at most e^16: past that no plan is cheap enough
ALL = "all"  # the key of the one budget over all tasks (scope all)


class BudgetPacer:
    def __init__(self, share: float, reference_model: str | None = None, gain: float = 0.1, scope: str = "all"):
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"budget scope '{scope}' is not one of {', '.join(BUDGET_SCOPES)}")
        self.share = share
        self.reference_model = reference_model
        self.gain = gain
        self.scope = scope
        # per budget: the task's name with scope 'task', else the one key ALL
        self.log_weight: dict[str, float] = {}
        self.paced: dict[str, int] = {}  # requests paced
        self.spent_usd: dict[str, float] = {}  # what they cost
        self.reference_spent_usd: dict[str, float] = {}  # what the reference would have cost
        self.calls: dict[str, list[float]] = {}  # per model: [predicted, billed] USD of its calls

    @classmethod
    def from_budget(cls, budget: Budget) -> "BudgetPacer | None":
        if budget.cost_share is None:
            return None
        return cls(budget.cost_share, budget.reference_model, budget.pacing_gain, budget.scope)

    def key(self, task: str) -> str:
        """The budget `task`'s requests are paced in."""
        return task if self.scope == "task" else ALL

    def cost_weight(self, task: str) -> float:
        """What the cost term of a utility is multiplied by for `task` now (>= 1)."""
        return math.exp(self.log_weight.get(self.key(task), 0.0))

    def unstarted(self, task: str) -> bool:
        """No request of `task`'s budget paced yet: its weight may still be started."""
        return not self.paced.get(self.key(task))

    def start(self, task: str, reference_usd: float, cost_at: Callable[[float], float], steps: int = 12) -> float:
        """Start `task`'s weight at the least w at which `cost_at(w)` (the predicted
        cost of the plan best on the means when cost weighs w) is within the share
        of `reference_usd`, by bisection on log w up to MAX_LOG_WEIGHT; `cost_at`
        must not rise with w."""
        budget = self.share * reference_usd

        def fits(w: float) -> bool:
            return cost_at(w) <= budget

        lo, hi = 0.0, 1.0
        if not fits(1.0):
            while hi < MAX_LOG_WEIGHT and not fits(math.exp(hi)):
                lo, hi = hi, min(2.0 * hi, MAX_LOG_WEIGHT)
            for _ in range(steps):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if fits(math.exp(mid)) else (mid, hi)
        else:
            hi = 0.0
        if self.unstarted(task):  # else a request paid meanwhile, in another thread, has moved it on
            self.log_weight[self.key(task)] = hi
        return self.cost_weight(task)

    def reference_usd(self, estimates: dict[str, Estimate]) -> float | None:
        """What the reference model would bill for this request: the named model's
        predicted cost, else the dearest candidate's, times what its calls billed over
        their predictions; None if the named one is not a candidate here."""
        if self.reference_model is not None:
            est = estimates.get(self.reference_model)
        else:
            est = max(estimates.values(), key=lambda e: e.cost_usd, default=None)
        return est.cost_usd * self.billed_ratio(est.model) if est is not None else None

    def observe_call(self, model: str, predicted_usd: float, billed_usd: float) -> None:
        """A call of `model` billed `billed_usd` where `predicted_usd` was predicted."""
        if predicted_usd > 0 and billed_usd >= 0 and math.isfinite(billed_usd):
            sums = self.calls.setdefault(model, [0.0, 0.0])
            sums[0] += predicted_usd
            sums[1] += billed_usd

    def billed_ratio(self, model: str) -> float:
        """What `model`'s calls billed over what was predicted for them (1 before any)."""
        predicted, billed = self.calls.get(model, (0.0, 0.0))
        return billed / predicted if predicted > 0 and billed > 0 else 1.0

    def paid(self, task: str, cost_usd: float, reference_usd: float | None) -> None:
        """One served request of `task` cost `cost_usd` where the reference would have
        cost `reference_usd` (a free reference, or none known: nothing to pace by)."""
        if not reference_usd or reference_usd <= 0:
            return
        k = self.key(task)
        # what was left unspent (< 0) or overspent before this request, in USD
        balance = self.spent_usd.get(k, 0.0) - self.share * self.reference_spent_usd.get(k, 0.0)
        n = self.paced[k] = self.paced.get(k, 0) + 1
        self.spent_usd[k] = self.spent_usd.get(k, 0.0) + cost_usd
        self.reference_spent_usd[k] = self.reference_spent_usd.get(k, 0.0) + reference_usd
        mean_reference = self.reference_spent_usd[k] / n
        # this request's overspend, and the balance spread over as many requests again
        step = self.gain * (cost_usd - self.share * reference_usd + balance / n) / mean_reference
        self.log_weight[k] = max(0.0, self.log_weight.get(k, 0.0) + step)

    def report(self) -> dict[str, dict[str, float]]:
        """Per budget (ALL, or each task): requests paced, what they cost as a share of
        what the reference would have, the weight now."""
        return {k: {"requests": n, "cost_share": self.spent_usd[k] / self.reference_spent_usd[k],
                    "cost_weight": math.exp(self.log_weight.get(k, 0.0))}
                for k, n in self.paced.items()}

    def state(self) -> dict[str, Any]:
        return {"scope": self.scope, "log_weight": dict(self.log_weight), "paced": dict(self.paced),
                "spent_usd": dict(self.spent_usd), "reference_spent_usd": dict(self.reference_spent_usd),
                "calls": {m: list(v) for m, v in self.calls.items()}}

    def restore(self, saved: dict[str, Any] | None) -> None:
        """The saved weights and balances, where they were kept in this scope (a budget
        whose scope changed is a different budget, and one saved before the balances
        were kept cannot be continued: both start again)."""
        if not saved or saved.get("scope", "task") != self.scope or "reference_spent_usd" not in saved:
            return
        self.log_weight = {str(k): float(v) for k, v in saved.get("log_weight", {}).items()}
        self.paced = {str(k): int(v) for k, v in saved.get("paced", {}).items()}
        self.spent_usd = {str(k): float(v) for k, v in saved.get("spent_usd", {}).items()}
        self.reference_spent_usd = {str(k): float(v) for k, v in saved["reference_spent_usd"].items()}
        self.calls = {str(m): [float(v[0]), float(v[1])] for m, v in saved.get("calls", {}).items()}
