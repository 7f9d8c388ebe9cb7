"""A paced budget: spend on average at most a share of what one model would cost.

A user who would otherwise send everything to one strong model can say what
they will pay in its terms: `budget.cost_share: 0.4` is "at most 40% of what
`budget.reference_model` (default: the dearest candidate) would cost for the
same requests". That is a constraint, not a price, so the router turns it into
one: the cost term of every utility (scheduler.py, and the agreement cascade's
willingness to pay) is multiplied by a weight w >= 1, the Lagrange multiplier
of the budget, found online by multiplicative dual ascent:

    log w <- max(0, log w + gain * (cost / reference cost - share))   per request

Spending above the share raises the weight until cheaper plans win; spending
below it lets the weight fall back to 1, where the user's own preferences
decide. gain 0.1: a run of requests that each overspend by one reference cost
doubles the weight in seven requests, and a run at the share leaves it alone.

The ascent starts where the prior says the budget binds, not at 1: before a
task's first paced request, the least weight at which the plan best on the
posterior means fits the share (`start`). From 1, the first requests overspend
until the weight has climbed (on the Winogrande replay at share 0.4, 0.74 of the
reference over the first 50), and the rest of the run pays that back.

Each task is paced on its own (a task's reference cost is its own), and each
process paces its own traffic: when every worker keeps its average within the
share, so does their sum, with no shared counter. The weight is saved with the
scheduler's state, so a restart does not forget an overspend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .config import Budget
from .predictor import Estimate


MAX_LOG_WEIGHT = 16.0  # a start weight of at most e^16: past that no plan is cheap enough


class BudgetPacer:
    def __init__(self, share: float, reference_model: str | None = None, gain: float = 0.1):
        self.share = share
        self.reference_model = reference_model
        self.gain = gain
        self.log_weight: dict[str, float] = {}  # per task
        self.paced: dict[str, int] = {}  # requests paced per task
        self.spent_share: dict[str, float] = {}  # sum of cost / reference cost per task

    @classmethod
    def from_budget(cls, budget: Budget) -> "BudgetPacer | None":
        if budget.cost_share is None:
            return None
        return cls(budget.cost_share, budget.reference_model, budget.pacing_gain)

    def cost_weight(self, task: str) -> float:
        """What the cost term of a utility is multiplied by for `task` now (>= 1)."""
        return math.exp(self.log_weight.get(task, 0.0))

    def unstarted(self, task: str) -> bool:
        """No request of `task` paced yet: its weight may still be started."""
        return not self.paced.get(task)

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
            self.log_weight[task] = hi
        return self.cost_weight(task)

    def reference_usd(self, estimates: dict[str, Estimate]) -> float | None:
        """The reference model's predicted cost of this request: the named model's,
        else the dearest candidate's; None if the named one is not a candidate here."""
        if self.reference_model is not None:
            est = estimates.get(self.reference_model)
            return est.cost_usd if est is not None else None
        return max((e.cost_usd for e in estimates.values()), default=None)

    def paid(self, task: str, cost_usd: float, reference_usd: float | None) -> None:
        """One served request of `task` cost `cost_usd` where the reference would have
        cost `reference_usd` (a free reference, or none known: nothing to pace by)."""
        if not reference_usd or reference_usd <= 0:
            return
        ratio = cost_usd / reference_usd
        self.log_weight[task] = max(0.0, self.log_weight.get(task, 0.0) + self.gain * (ratio - self.share))
        self.paced[task] = self.paced.get(task, 0) + 1
        self.spent_share[task] = self.spent_share.get(task, 0.0) + ratio

    def report(self) -> dict[str, dict[str, float]]:
        """Per task: requests paced, their mean cost as a share of the reference's, the weight now."""
        return {t: {"requests": n, "cost_share": self.spent_share[t] / n, "cost_weight": self.cost_weight(t)}
                for t, n in self.paced.items()}

    def state(self) -> dict[str, Any]:
        return {"log_weight": dict(self.log_weight), "paced": dict(self.paced), "spent_share": dict(self.spent_share)}

    def restore(self, saved: dict[str, Any] | None) -> None:
        if saved:
            self.log_weight = {str(k): float(v) for k, v in saved.get("log_weight", {}).items()}
            self.paced = {str(k): int(v) for k, v in saved.get("paced", {}).items()}
            self.spent_share = {str(k): float(v) for k, v in saved.get("spent_share", {}).items()}
