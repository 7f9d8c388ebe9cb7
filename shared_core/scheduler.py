"""Chooses the candidate with the best utility under hard limits.

Hard limits exclude a candidate with a stated reason: missing capabilities,
the context window, the per-request cost cap, the run budget, a cooldown after
errors. The rest are ranked by utility (see `Preferences`); the ranking is also
the fallback order. A tool loop's pin is soft: the pinned model goes first when
it is eligible, and the others stay behind it as fallbacks.

Exploration pays for itself: a candidate whose utility at the top of its
credible interval is below another's at the bottom of its own is dominated and
ranked last (it stays a fallback); and the predictor's exploratory ranking (a
Thompson draw) is followed only while the utility it is expected to cost, added
up over the run, stays within `exploration_budget` per request; past that, the
posterior mean decides until the budget has grown back. Within the budget, a
draw that favours a model is followed only when what its calls could teach can
repay their expected cost over the requests still to come (shared_core/
exploration.py): a model far below the best is not tried on a short run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import Budget, CandidateConfig, Preferences, SLSConfig
from .exploration import belief_weight, draws_sd, worth_exploring
from .pacing import BudgetPacer
from .predictor import Estimate
from .request import Request


@dataclass
class Decision:
    """Why a model was chosen: each candidate's predictions and utility, and why
    any candidate was left out."""

    chosen: str | None
    ranking: list[str]
    estimates: dict[str, Estimate]
    utilities: dict[str, float]
    excluded: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    cost_weight: float = 1.0  # the paced budget's multiplier of every cost term (pacing.py)
    reference_usd: float | None = None  # what the paced budget's reference model would cost here

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "ranking": self.ranking,
            "reason": self.reason,
            "excluded": self.excluded,
            "cost_weight": round(self.cost_weight, 6),
            "candidates": {m: {**e.to_dict(), "utility": round(self.utilities.get(m, float("nan")), 6)}
                           for m, e in self.estimates.items()},
        }


class Scheduler:
    def __init__(self, preferences: Preferences, budget: Budget, exploration_budget: float | None = None,
                 eliminate: bool = True, exploration_horizon: float | None = None):
        self.preferences = preferences
        self.budget = budget
        self.exploration_budget = exploration_budget  # None: no cap on exploration
        self.eliminate = eliminate
        # the requests of a task what exploring teaches would serve; None: as many as seen so far
        self.exploration_horizon = exploration_horizon
        self.exploration_spent = 0.0  # expected utility given up to explore, over the run
        self.decisions = 0
        self.seen: dict[str, int] = {}  # requests per task, cache hits included (count_request)
        self.pacer = BudgetPacer.from_budget(budget)  # None: no paced budget

    def exclusions(self, request: Request, cand: CandidateConfig, est: Estimate, spent_usd: float,
                   cooling: dict[str, str]) -> str | None:
        missing = request.required_capabilities.difference(cand.capabilities)
        if missing:
            return f"lacks capability {', '.join(sorted(missing))}"
        needed = est.input_tokens + (request.max_output_tokens or 0)
        if needed > cand.context_window:
            return f"context window: request needs {needed} tokens, window is {cand.context_window}"
        cap = request.metadata.get("max_cost_usd", self.budget.max_cost_per_request_usd)
        if cap is not None and est.cost_usd > cap:
            return f"predicted cost ${est.cost_usd:.6g} over the per-request cap ${cap:.6g}"
        if self.budget.run_budget_usd is not None and spent_usd + est.cost_usd > self.budget.run_budget_usd:
            return (f"run budget: ${spent_usd:.6g} spent of ${self.budget.run_budget_usd:.6g}, "
                    f"this call would cost ${est.cost_usd:.6g}")
        if cand.name in cooling:
            return f"cooling down after error: {cooling[cand.name]}"
        return None

    def decide(self, request: Request, candidates: list[CandidateConfig], estimates: dict[str, Estimate],
               spent_usd: float = 0.0, cooling: dict[str, str] | None = None) -> Decision:
        excluded = {}
        for cand in candidates:
            why = self.exclusions(request, cand, estimates[cand.name], spent_usd, cooling or {})
            if why:
                excluded[cand.name] = why
        eligible = [c.name for c in candidates if c.name not in excluded]
        pool = {m: estimates[m] for m in eligible}
        reference = self.pacer.reference_usd(estimates) if self.pacer else None
        if self.pacer is not None and reference and pool and self.pacer.unstarted(request.task):
            self.pacer.start(request.task, reference, lambda w: self._greedy_cost(pool, w))
        weight = self.pacer.cost_weight(request.task) if self.pacer else 1.0
        penalties = self.penalties(pool, weight)  # the same for every reading of P(good) below
        utilities = self.utilities(pool, penalties=penalties)
        dominated = self._dominated(pool, penalties) if self.eliminate else {}
        ranking = self._order(eligible, estimates, utilities, dominated)
        notes = [self._pin_note(request.pinned_model, ranking, excluded)]
        self.count_request(request.task)
        ranking, explored = self._within_exploration_budget(ranking, pool, dominated, self.horizon(request.task),
                                                            penalties)
        ranking = self._pin(request.pinned_model, ranking)
        chosen = ranking[0] if ranking else None
        reason = self._explain(chosen, ranking, estimates, utilities) if chosen else "no eligible candidate"
        if explored is False:
            notes.append("exploration budget spent: posterior mean")
        elif explored == "unrewarding":
            notes.append("exploring would not repay itself: posterior mean")
        if dominated:
            notes.append("dominated: " + ", ".join(sorted(dominated)))
        if weight > 1.0:
            notes.append(f"paced budget: cost weighs {weight:.2f}x")
        notes = [n for n in notes if n]
        return Decision(chosen, ranking, estimates, utilities, excluded, "; ".join(notes + [reason]), weight, reference)

    def _greedy_cost(self, pool: dict[str, Estimate], cost_weight: float) -> float:
        """The predicted cost of the candidate best on the posterior means when cost
        weighs `cost_weight`: what the paced budget's start (pacing.py) tests."""
        mean = self.utilities(pool, "p_good", self.penalties(pool, cost_weight))
        return pool[max(mean, key=mean.get)].cost_usd

    def paid(self, task: str, decision: Decision | None, cost_usd: float) -> None:
        """A routed request of `task` was served at `cost_usd`: what the paced budget learns."""
        if self.pacer is not None and decision is not None:
            self.pacer.paid(task, cost_usd, decision.reference_usd)

    def _dominated(self, pool: dict[str, Estimate],
                   penalties: dict[str, tuple[float, float]] | None = None) -> dict[str, str]:
        """Candidates whose best case is below another's worst case, each with that other."""
        if len(pool) < 2:
            return {}
        high = self.utilities(pool, "p_high", penalties)
        low = self.utilities(pool, "p_low", penalties)
        best = max(low, key=low.get)
        return {m: best for m in pool if m != best and high[m] < low[best]}

    def count_request(self, task: str) -> None:
        """One more request of `task` (a cache hit too): its traffic so far is the
        horizon of what exploration learns."""
        self.seen[task] = self.seen.get(task, 0) + 1

    def state(self) -> dict[str, Any]:
        """What exploration has spent and each task's traffic: saved with the router's
        state, so a restart does not start the horizon and the budget over."""
        out = {"seen": dict(self.seen), "exploration_spent": self.exploration_spent, "decisions": self.decisions}
        if self.pacer is not None:
            out["pacing"] = self.pacer.state()
        return out

    def restore(self, saved: dict[str, Any] | None) -> None:
        if saved:
            self.seen = {str(k): int(v) for k, v in saved.get("seen", {}).items()}
            self.exploration_spent = float(saved.get("exploration_spent", 0.0))
            self.decisions = int(saved.get("decisions", 0))
            if self.pacer is not None:
                self.pacer.restore(saved.get("pacing"))

    def horizon(self, task: str) -> float:
        """The requests what exploration learns of `task` would serve: its traffic so far."""
        return self.exploration_horizon if self.exploration_horizon is not None else float(self.seen.get(task, 0))

    def _within_exploration_budget(self, ranking: list[str], pool: dict[str, Estimate], dominated: dict[str, str],
                                   horizon: float, penalties: dict[str, tuple[float, float]] | None = None
                                   ) -> tuple[list[str], bool | str | None]:
        """Follow the exploratory ranking while its expected cost fits the budget and
        can repay itself; returns the ranking and whether it explored (None: nothing
        to decide; "unrewarding": the draw's model cannot repay its calls)."""
        if not ranking or self.exploration_budget is None:
            return ranking, None
        self.decisions += 1
        mean = self.utilities(pool, "p_good", penalties)
        greedy = max((m for m in ranking if m not in dominated), key=mean.get, default=ranking[0])
        cost = mean[greedy] - mean[ranking[0]]
        if cost <= 1e-12:
            return ranking, None
        to_greedy = [greedy] + [m for m in ranking if m != greedy]
        if not self._repays(pool[ranking[0]], pool[greedy], -cost, horizon):
            return to_greedy, "unrewarding"
        if self.exploration_spent + cost <= self.exploration_budget * self.decisions:
            self.exploration_spent += cost
            return ranking, True
        return to_greedy, False

    def _repays(self, explored: Estimate, greedy: Estimate, d: float, horizon: float) -> bool:
        """The value-of-information test of exploration.py on the joint draws (a model
        without draws is not held back)."""
        if explored.p_draws is None or greedy.p_draws is None:
            return True
        s = self.preferences.quality * draws_sd(explored.p_draws - greedy.p_draws)
        return worth_exploring(d, s, belief_weight(explored.p_draws), horizon)

    def _order(self, eligible: list[str], estimates: dict[str, Estimate], utilities: dict[str, float],
               dominated: dict[str, str] | None = None) -> list[str]:
        dominated = dominated or {}
        return sorted(eligible, key=lambda m: (m in dominated, -utilities[m], estimates[m].cost_usd))

    @staticmethod
    def _pin(pinned: str | None, ranking: list[str]) -> list[str]:
        # the model that asked for the tool reads its result best; the rest are fallbacks
        if pinned in ranking:
            return [pinned] + [m for m in ranking if m != pinned]
        return ranking

    @staticmethod
    def _pin_note(pinned: str | None, ranking: list[str], excluded: dict[str, str]) -> str:
        if not pinned:
            return ""
        if pinned in ranking:
            return f"tool loop pinned to {pinned}"
        why = excluded.get(pinned, "not among the request's candidates")
        return f"tool loop pinned to {pinned} could not be honoured ({why})"

    def utilities(self, estimates: dict[str, Estimate], p: str = "p_sample",
                  penalties: dict[str, tuple[float, float]] | None = None) -> dict[str, float]:
        """Utility of each candidate, reading P(good) from the estimate's field `p`
        (`penalties`: what `penalties(estimates)` gave, if known)."""
        if not estimates:
            return {}
        penalties = penalties if penalties is not None else self.penalties(estimates)
        quality = self.preferences.quality
        return {m: quality * getattr(e, p) - penalties[m][0] - penalties[m][1] for m, e in estimates.items()}

    def penalties(self, estimates: dict[str, Estimate], cost_weight: float = 1.0) -> dict[str, tuple[float, float]]:
        """What each candidate's cost (times the paced budget's `cost_weight`) and its
        latency take off its utility."""
        if not estimates:
            return {}
        prefs = self.preferences
        # relative to the typical eligible candidate, so weights are unitless; x / (x + ref)
        # is bounded, so a pricier model loses at most `cost` utility and is still
        # worth its price where the cheap ones are known to fail
        ref_cost = _median([e.cost_usd for e in estimates.values()]) or 1e-12
        ref_lat = _median([e.latency_s for e in estimates.values()]) or 1e-9
        out = {}
        for m, e in estimates.items():
            if prefs.willingness_to_pay_usd:
                cost_term = e.cost_usd / prefs.willingness_to_pay_usd
            else:
                cost_term = prefs.cost * e.cost_usd / (e.cost_usd + ref_cost)
            out[m] = (cost_weight * cost_term, prefs.latency * e.latency_s / (e.latency_s + ref_lat))
        return out

    @staticmethod
    def _explain(chosen: str, ranking: list[str], estimates: dict[str, Estimate], utilities: dict[str, float]) -> str:
        e = estimates[chosen]
        text = (f"{chosen}: utility {utilities[chosen]:.3f} (P(good) {e.p_good:.2f}, "
                f"${e.cost_usd:.6f}, {e.latency_s:.2f}s)")
        if len(ranking) > 1:
            r = ranking[1]
            text += f"; next {r}: utility {utilities[r]:.3f}"
        return text


def _median(values: list[float]) -> float:
    """statistics.median, without its overhead (it runs on every routing decision)."""
    values = sorted(values)
    half = len(values) // 2
    return values[half] if len(values) % 2 else (values[half - 1] + values[half]) / 2.0


class RoundRobinScheduler(Scheduler):
    """Ignores predictions: takes eligible candidates in turn (the no-predictor ablation)."""

    def __init__(self, preferences: Preferences, budget: Budget):
        super().__init__(preferences, budget, exploration_budget=None, eliminate=False)
        self._turn = 0

    def _order(self, eligible: list[str], estimates: dict[str, Estimate], utilities: dict[str, float],
               dominated: dict[str, str] | None = None) -> list[str]:
        if not eligible:
            return []
        start = self._turn % len(eligible)
        self._turn += 1
        return eligible[start:] + eligible[:start]

    def _explain(self, chosen: str, ranking: list[str], estimates: dict[str, Estimate],
                 utilities: dict[str, float]) -> str:
        return f"{chosen}: round robin"


# Schedulers by the name YAML gives them (`scheduler: utility`).
SCHEDULERS: dict[str, type[Scheduler]] = {"utility": Scheduler, "round_robin": RoundRobinScheduler}


def make_scheduler(config: SLSConfig) -> Scheduler:
    """The scheduler the config names, with its preferences, budget and exploration settings."""
    if config.scheduler not in SCHEDULERS:
        from .errors import ConfigError

        raise ConfigError("scheduler", f"'{config.scheduler}' is not one of {', '.join(sorted(SCHEDULERS))}")
    if config.scheduler == "round_robin":
        return RoundRobinScheduler(config.preferences, config.budget)
    return Scheduler(config.preferences, config.budget, config.predictor.exploration_budget,
                     config.predictor.eliminate, config.predictor.exploration_horizon)
