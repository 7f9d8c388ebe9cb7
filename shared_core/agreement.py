"""Agreement between independent models as a verifier that needs no labels.

Where answers can be compared (a choice letter, a number, a short answer, a log
template), two models that give the same answer are probably right, and a
disagreement says one is wrong. The agreement cascade asks a pair of models,
accepts the answer they agree on, and otherwise asks a third, whose answer it
serves. Which plan to run is chosen per request by expected utility from the
predictor's P(good) for each model (a Thompson draw, so that it explores):

    accuracy = E[pA pB + P(disagree) pC],  P(disagree) = 1 - pA pB - (1 - pA)(1 - pB) q
    cost     = cA + cB + E[P(disagree)] cC,  utility = accuracy - cost / willingness to pay

with q the chance that two wrong answers coincide (1 / (options - 1) for a
choice). Models do not err independently: a hard question trips most of them,
so two that agree are right less often than independence says, and a referee
called on a disagreement faces a harder question than average. Hence the
expectation E over a question's difficulty d ~ N(0, difficulty_sd^2), with
model m right at d with probability Phi(z_m - d) and z_m set so that its
average is p_m (a one-parameter item-response model; difficulty_sd 0 is the
one-coin model of Dawid and Skene, 1979). One-call plans compete with the
cascades, so escalation happens only where it pays. What the calls show
teaches the predictor without any label: each model is credited with the
posterior that its answer is the right one.

Without labels only a comparison teaches: a model asked alone is credited its
own prior (the posterior of one answer is the P(good) it was asked with), so
its answer is not counted as evidence, and a one-call plan competes at the
posterior mean, not the exploring draw: exploring it could not learn anything.
The draw's plan is run only where what it could teach can repay what it is
expected to lose against the plan best on the means (the value-of-information
test of exploration.py, which the one-call scheduler applies to its draw too).
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .candidates import Answer
from .catalog import normal_cdf_array, probit
from .errors import ConfigError
from .exploration import belief_weight, draws_sd, worth_exploring
from .request import Request

Shares = dict[str, dict[str, float]]  # model -> option -> its share when it guesses (answer_shares.py)


class Normalizer(ABC):
    """Reduces an answer to the form two answers are compared in; None: no answer."""

    name = "normalizer"

    @abstractmethod
    def __call__(self, text: str) -> str | None:
        ...

    def coincidence(self, request: Request) -> float:
        """The chance two wrong answers are the same one."""
        return 0.1

    def options(self, request: Request) -> tuple[str, ...]:
        """The answers the request allows, where they are few and known (the
        letters of a choice); () where any answer may come."""
        return ()


class ChoiceNormalizer(Normalizer):
    """A multiple-choice letter: 'B', '(B)', 'B) sugar', 'The answer is B.'."""

    name = "choice"
    _ALONE = re.compile(r"^\s*\(?([A-Ha-h])\)?(?:[.):\s]|$)")
    _SAID = re.compile(r"answer(?: is)?\s*:?\s*\(?([A-H])\b")
    _OPTION = re.compile(r"^\s*\(?([A-H])\)\s", re.M)

    def __call__(self, text: str) -> str | None:
        m = self._ALONE.match(text) or self._SAID.search(text)
        return m.group(1).upper() if m else None

    def coincidence(self, request: Request) -> float:
        options = self.options(request)
        return 1.0 / (len(options) - 1) if len(options) > 1 else 0.5

    def options(self, request: Request) -> tuple[str, ...]:
        return tuple(sorted(set(self._OPTION.findall(request.query))))


class NumberNormalizer(Normalizer):
    """The last number of the answer, as a float's shortest text."""

    name = "number"
    _NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")

    def __call__(self, text: str) -> str | None:
        found = self._NUM.findall(text)
        return None if not found else repr(float(found[-1].replace(",", "")))


class ShortAnswerNormalizer(Normalizer):
    """Lower case, punctuation and articles dropped, white space folded."""

    name = "short"

    def __call__(self, text: str) -> str | None:
        words = re.sub(r"[^\w\s]", " ", text.lower()).split()
        words = [w for w in words if w not in ("a", "an", "the")]
        return " ".join(words) or None


class TemplateNormalizer(Normalizer):
    """A log template as shared_core.logtemplates post-processes it."""

    name = "log_template"

    def __call__(self, text: str) -> str | None:
        from .logtemplates import to_template

        out = " ".join(to_template(text).split())
        return out or None

    def coincidence(self, request: Request) -> float:
        return 0.02


NORMALIZERS: dict[str, type[Normalizer]] = {c.name: c for c in (ChoiceNormalizer, NumberNormalizer,
                                                                 ShortAnswerNormalizer, TemplateNormalizer)}


def make_normalizer(name: str) -> Normalizer:
    if name not in NORMALIZERS:
        raise ConfigError("agreement.normalizer", f"'{name}' is not one of {', '.join(sorted(NORMALIZERS))}")
    return NORMALIZERS[name]()


@dataclass(frozen=True)
class AgreementPlan:
    """Call `first` (and `second`); on disagreement call `referee`."""

    first: str
    second: str | None = None
    referee: str | None = None
    accuracy: float = 0.0
    cost_usd: float = 0.0
    utility: float = 0.0

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for m in (self.first, self.second, self.referee) if m)


class Difficulty:
    """Every model's chance of being right at each of a few question difficulties
    (Gauss-Hermite nodes of N(0, sd^2)), averaging to its P(good). A P(good) may be
    an array of posterior draws: P(right) then has a row per draw, nodes last."""

    def __init__(self, p: dict[str, float | np.ndarray], sd: float = 0.0, nodes: int = 12):
        x, self.weights = _gauss_hermite(nodes) if sd > 0 else (np.zeros(1), np.ones(1))
        self.sd, self.nodes = sd, sd * x  # the difficulty at each node
        self.models = list(p)
        z = np.array([_probit(p[m]) for m in self.models]) * np.sqrt(1.0 + sd * sd)
        self.right = normal_cdf_array(z[..., None] - sd * x)  # model (x draw) x node
        self.row = {m: i for i, m in enumerate(self.models)}

    def of(self, model: str) -> np.ndarray:
        """P(right) of `model` at each node."""
        return self.right[self.row[model]]

    def mean(self, values: np.ndarray) -> float | np.ndarray:
        """The average over difficulty of per-node `values` (last axis)."""
        return values @ self.weights


@functools.lru_cache(maxsize=8)
def _gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The nodes of N(0, 1) and their weights (summing to 1): computed once, not per plan."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    x.flags.writeable = w.flags.writeable = False
    return x, w


def _probit(p: float | np.ndarray) -> float | np.ndarray:
    return probit(p) if np.ndim(p) == 0 else np.vectorize(probit, otypes=[float])(p)


def _cascade(d: Difficulty, pa: np.ndarray, pb: np.ndarray, pc: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and P(disagree) of a pair right with pa and pb at each node (last
    axis) and a referee right with pc; the leading axes broadcast (draws, or every
    pair and referee at once)."""
    disagree = 1.0 - pa * pb - (1.0 - pa) * (1.0 - pb) * q  # per node
    return d.mean(pa * pb) + d.mean(pc * disagree), d.mean(disagree)


def best_plan(p: dict[str, float], cost: dict[str, float], q: float, wtp: float,
              difficulty_sd: float = 0.0, alone: dict[str, float] | None = None) -> AgreementPlan:
    """The plan of highest expected utility: one call, or a pair and a referee.
    `alone` (default `p`) is what a one-call plan is valued at: the posterior mean
    where `p` is an exploring draw, since a lone answer teaches nothing without a label."""
    alone = p if alone is None else alone
    plans = [AgreementPlan(m, accuracy=alone[m], cost_usd=cost[m], utility=alone[m] - cost[m] / wtp) for m in p]
    best = max(plans, key=lambda pl: (pl.utility, -pl.cost_usd))
    cascade = _best_cascade(Difficulty(p, difficulty_sd), cost, q, wtp)
    return cascade if cascade is not None and (cascade.utility, -cascade.cost_usd) > (best.utility, -best.cost_usd) \
        else best


def _best_cascade(d: Difficulty, cost: dict[str, float], q: float, wtp: float) -> AgreementPlan | None:
    """Every pair a < b with every other referee c at once (arrays a x b x c): the
    one of highest utility, the first in (a, b, c) order on a tie, less dear first."""
    names, n = d.models, len(d.models)
    if n < 3:
        return None
    r, costs = d.right, np.array([cost[m] for m in names])
    acc, disagree = _cascade(d, r[:, None, None], r[None, :, None], r[None, None], q)  # a x b x c, a x b x 1
    spend = (costs[:, None, None] + costs[None, :, None]) + disagree * costs
    utility = acc - spend / wtp
    i = np.arange(n)
    valid = (i[:, None, None] < i[None, :, None]) & (i[:, None, None] != i) & (i[None, :, None] != i)
    flat = np.flatnonzero(valid)
    u = utility.ravel()[flat]
    top = flat[u == u.max()]
    pick = top[np.argmin(spend.ravel()[top])]  # argmin: the first of equal cost
    a, b, k = np.unravel_index(pick, utility.shape)
    return AgreementPlan(names[a], names[b], names[k], float(acc[a, b, k]), float(spend[a, b, k]),
                         float(utility[a, b, k]))


def plan_values(plan: AgreementPlan, p: dict[str, np.ndarray], cost: dict[str, float], q: float, wtp: float,
                difficulty_sd: float = 0.0) -> np.ndarray:
    """The plan's utility under each of a set of joint draws of P(good) (element i
    of every p[m] is draw i), as best_plan values it."""
    if plan.second is None:
        return np.asarray(p[plan.first], dtype=float) - cost[plan.first] / wtp
    d = Difficulty({m: np.atleast_1d(p[m]) for m in plan.models}, difficulty_sd)
    acc, disagree = _cascade(d, d.of(plan.first), d.of(plan.second), d.of(plan.referee), q)
    return acc - (cost[plan.first] + cost[plan.second] + disagree * cost[plan.referee]) / wtp


def worth_its_exploration(explored: AgreementPlan, mean: dict[str, float], draws: Callable[[str], np.ndarray | None],
                          cost: dict[str, float], q: float, wtp: float, difficulty_sd: float,
                          horizon: float) -> AgreementPlan:
    """The exploring draw's plan where what it could teach can repay what it is
    expected to lose against the plan best on the posterior means over `horizon`
    requests (exploration.worth_exploring, as the one-call scheduler tests its
    draw), else that plan. A Thompson draw among hundreds of plans of nearly the
    same worth explores at every request; most of those could never repay it."""
    greedy = best_plan(mean, cost, q, wtp, difficulty_sd)
    if greedy.models == explored.models:
        return explored
    models = set(explored.models) | set(greedy.models)
    joint = {m: draws(m) for m in models}
    if any(v is None for v in joint.values()):
        return explored  # no posterior draws: exploration is not weighed
    at_mean = {m: np.array([mean[m]]) for m in models}
    loss = float(plan_values(explored, at_mean, cost, q, wtp, difficulty_sd)[0]) - greedy.utility
    spread = draws_sd(plan_values(explored, joint, cost, q, wtp, difficulty_sd)
                      - plan_values(greedy, joint, cost, q, wtp, difficulty_sd))
    new = [m for m in explored.models if m not in greedy.models] or list(explored.models)
    weight = min(belief_weight(joint[m]) for m in new)  # the least known model is what it would learn of
    return explored if worth_exploring(loss, spread, weight, horizon) else greedy


@dataclass
class Outcome:
    """What an agreement run did: the answers by model and which one is served."""

    plan: AgreementPlan
    answers: dict[str, Answer]
    keys: dict[str, str | None]
    served: str

    @property
    def agreed(self) -> bool:
        first = self.keys.get(self.plan.first)
        return self.plan.second is not None and first is not None and first == self.keys.get(self.plan.second)


def run_plan(plan: AgreementPlan, call: Callable[[str], Answer], normalize: Normalizer) -> Outcome:
    """Call the pair, and the referee when the pair disagrees. A model that raises
    counts as no answer; if none answered, the last error propagates."""
    answers: dict[str, Answer] = {}
    error: Exception | None = None
    for model in (plan.first, plan.second):
        if model is None:
            continue
        try:
            answers[model] = call(model)
        except Exception as exc:  # a failed call is a missing vote
            error = exc
    keys = {m: normalize(a.text) for m, a in answers.items()}
    pair = [m for m in (plan.first, plan.second) if m in answers]
    agreed = len(pair) == 2 and keys[pair[0]] is not None and keys[pair[0]] == keys[pair[1]]
    if agreed or plan.referee is None:
        if not pair:
            raise error  # type: ignore[misc]
        return Outcome(plan, answers, keys, pair[0])
    try:
        answers[plan.referee] = call(plan.referee)
        keys[plan.referee] = normalize(answers[plan.referee].text)
    except Exception:
        if not pair:
            raise
    if keys.get(plan.referee) is None and pair:  # the referee gave no usable answer
        return Outcome(plan, answers, keys, next((m for m in pair if keys[m] is not None), pair[0]))
    return Outcome(plan, answers, keys, plan.referee)


def truth_posterior(keys: dict[str, str | None], p: dict[str, float], q: float,
                    difficulty_sd: float = 0.0, shares: Shares | None = None) -> dict[str, float]:
    """P(the right answer is k) for each answer k given: model m is right with
    probability p_m (at the question's difficulty, see `Difficulty`), and a wrong
    answer lands on any one wrong option with probability q (1/q + 1 options), or,
    with `shares`, a model that guesses picks each option with its share
    (answer_shares.py)."""
    given, unseen = _options(keys, q)
    if not given:
        return {}
    d = _difficulty(keys, p, q, difficulty_sd, shares)
    like = {truth: float(d.mean(_likelihood(keys, d, q, truth, shares))) for truth in given}
    other = unseen * float(d.mean(_likelihood(keys, d, q, None, shares)))
    total = sum(like.values()) + other
    return {k: v / total for k, v in like.items()}


def _options(keys: dict[str, str | None], q: float) -> tuple[set[str], float]:
    """The answers given, and how many options nobody gave (1/q + 1 in all)."""
    given = {k for k in keys.values() if k is not None}
    return given, max(0.0, 1.0 / max(q, 1e-9) + 1.0 - len(given))


def _difficulty(keys: dict[str, str | None], p: dict[str, float], q: float, sd: float,
                shares: Shares | None) -> Difficulty:
    """Each model's P(right) at each difficulty node; with `shares`, its P(knows)
    instead: right with p = r + (1 - r) / n on average, it knows with r on average,
    and a question's difficulty lowers what it knows (item-response theory's
    three-parameter model, its guessing floor each model's own shares)."""
    if not shares:
        return Difficulty({m: p[m] for m in keys}, sd)
    n = 1.0 / max(q, 1e-9) + 1.0
    return Difficulty({m: min(max((p[m] - 1.0 / n) / (1.0 - 1.0 / n), 1e-3), 1.0 - 1e-6) for m in keys}, sd)


def _likelihood(keys: dict[str, str | None], d: Difficulty, q: float, truth: str | None,
                shares: Shares | None = None) -> np.ndarray:
    """P(these answers | the right one is `truth`) at each difficulty node (None:
    an option nobody gave). With `shares` (d then holds P(knows), `_difficulty`), a
    model that does not know picks k with its share s(k), 1/n where it has none:
    every share 1/n is the symmetric model, right with r + (1 - r) / n."""
    out = np.ones_like(d.weights)
    n = 1.0 / max(q, 1e-9) + 1.0
    for m, k in keys.items():
        if shares:
            knows = d.of(m)
            if k is None:  # no usable answer: it did not know
                out = out * (1.0 - knows)
                continue
            share = shares.get(m, {}).get(k, 1.0 / n)
            out = out * (knows * (k == truth) + (1.0 - knows) * share)
        else:
            right = d.of(m)
            out = out * (right if k is not None and k == truth else (1.0 - right) * (q if k is not None else 1.0))
    return out


def question_difficulty(keys: dict[str, str | None], p: dict[str, float], q: float,
                        difficulty_sd: float, shares: Shares | None = None) -> tuple[float, float]:
    """What the answers say of the question's difficulty, as the offset and noise sd
    of a model's latent score (QualityModel.observe): under the model of `Difficulty`,
    m is right at difficulty d with Phi(s z - d), s = sqrt(1 + sd^2), that is
    Phi((z - d / s) / (1 / s)); with d's posterior mean and variance given the
    answers, Phi((z - mean / s) / (sqrt(1 + var) / s)). Answers that say nothing
    of d (var = sd^2) leave the plain update, offset 0 and noise sd 1."""
    if difficulty_sd <= 0 or not any(k is not None for k in keys.values()):
        return 0.0, 1.0
    d = _difficulty(keys, p, q, difficulty_sd, shares)
    given, unseen = _options(keys, q)
    like = sum(_likelihood(keys, d, q, t, shares) for t in given) + unseen * _likelihood(keys, d, q, None, shares)
    post = like * d.weights
    post /= post.sum()
    mean = float(post @ d.nodes)
    var = float(post @ (d.nodes - mean) ** 2)  # what the answers leave unknown stays noise
    s = float(np.sqrt(1.0 + difficulty_sd ** 2))
    return mean / s, float(np.sqrt(1.0 + var)) / s


def pseudo_labels(outcome: Outcome, p: dict[str, float], q: float, difficulty_sd: float = 0.0,
                  shares: Shares | None = None) -> dict[str, float]:
    """What the calls say of each model without a label: the posterior that its
    answer is the right one (0 for no answer). A model whose usable answer is the
    only one is left out: its posterior is its own prior, and crediting it would
    shrink what is believed of the model with no evidence."""
    post = truth_posterior(outcome.keys, p, q, difficulty_sd, shares)
    lone = sum(k is not None for k in outcome.keys.values()) < 2
    return {m: post.get(k, 0.0) if k is not None else 0.0 for m, k in outcome.keys.items()
            if k is None or not lone}


def most_likely(outcome: Outcome, p: dict[str, float], q: float, difficulty_sd: float = 0.0,
                shares: Shares | None = None) -> str:
    """The model to serve: one whose answer is most probably right (the referee's
    on a tie, as the stronger model), else what the plan's calls gave."""
    post = truth_posterior({m: outcome.keys[m] for m in outcome.answers}, p, q, difficulty_sd, shares)
    if not post:
        return outcome.served
    best = max(post.values())
    tied = [m for m in outcome.answers if outcome.keys[m] is not None and post[outcome.keys[m]] >= best - 1e-12]
    return outcome.plan.referee if outcome.plan.referee in tied else tied[0]


def _paced_weight(engine, plan, mean: dict[str, float], cost: dict[str, float], q: float, wtp: float,
                  sd: float) -> float:
    """The paced budget's cost weight (pacing.py) for this request. Before the task's
    first paced request it is started where the cascade best on the means fits the
    share: the scheduler's start tested one call, and a cascade costs more."""
    pacer, decision = engine.scheduler.pacer, plan.decision
    if pacer is not None and decision.reference_usd and pacer.unstarted(plan.request.task):
        with engine._lock:
            decision.cost_weight = pacer.start(plan.request.task, decision.reference_usd,
                                               lambda w: best_plan(mean, cost, q, wtp / w, sd).cost_usd)
    return decision.cost_weight


def serve(engine, plan, call: Callable[[str, Request], Answer]):
    """Serve `plan` (an engine Plan with a decision) by the agreement cascade and
    learn from it; returns the engine's Result for the served answer."""
    import time

    cfg = engine.config.agreement
    wtp = cfg.willingness_to_pay_usd or engine.config.preferences.willingness_to_pay_usd or 0.01
    normalize = make_normalizer(cfg.normalizer)
    request, est = plan.request, plan.decision.estimates
    eligible = plan.decision.ranking
    q = cfg.coincidence if cfg.coincidence is not None else normalize.coincidence(request)
    sd = cfg.difficulty_sd
    mean, cost = {m: est[m].p_good for m in eligible}, {m: est[m].cost_usd for m in eligible}
    wtp /= _paced_weight(engine, plan, mean, cost, q, wtp, sd)  # a paced budget makes every dollar weigh more
    chosen = best_plan({m: est[m].p_sample for m in eligible}, cost, q, wtp, sd, alone=mean)
    chosen = worth_its_exploration(chosen, mean, lambda m: est[m].p_draws, cost, q, wtp, sd,
                                   engine.scheduler.horizon(request.task))

    failures: list[dict[str, str]] = []

    def one(model: str) -> Answer:
        t0 = time.perf_counter()
        try:
            answer = call(model, request)
        except Exception as exc:  # cooled down, scrubbed and logged like any failed call
            engine._failed(model, exc, failures)
            raise
        return answer.complete_usage(request, engine.config.candidate(model), time.perf_counter() - t0,
                                     plan.input_tokens)

    outcome = run_plan(chosen, one, normalize)
    p_mean = {m: mean[m] for m in chosen.models}
    with engine._lock:  # each model's guesses as they looked before this request's answers
        shares = engine.answer_shares.shares(request.task, list(chosen.models), normalize.options(request))
        engine.answer_shares.add(request.task, outcome.keys)
        outcome.served = most_likely(outcome, p_mean, q, sd, shares)
        others = {m: a for m, a in outcome.answers.items() if m != outcome.served}
        for m, answer in others.items():
            engine.billed(plan, m, answer)
            engine.predictor.observe_usage(request.task, m, answer.output_tokens, answer.latency_s)
        hard = question_difficulty(outcome.keys, p_mean, q, sd, shares)
        credited = pseudo_labels(outcome, p_mean, q, sd, shares)
        for m, reward in credited.items():
            engine.predictor.observe(request.task, plan.vector, m, reward, hard)
    verdict = "agreed" if outcome.agreed else "disagreed"
    attempts = failures + [{"model": m, "error": f"agreement vote ({verdict}): {outcome.keys.get(m)!r}"}
                           for m in others]
    # a label of the served answer would count its model twice, and blame a referee for the
    # hard questions it is called on; one asked alone was not credited, so a label teaches it
    result = engine._finish(plan, outcome.served, outcome.answers[outcome.served], attempts,
                            learned=outcome.served in credited,
                            extra_usd=sum(a.cost_usd or 0.0 for a in others.values()))
    lat = lambda m: (outcome.answers[m].latency_s or 0.0) if m in outcome.answers else 0.0
    pair = max(lat(chosen.first), lat(chosen.second) if chosen.second else 0.0)  # the pair runs at once
    result.latency_s = pair + (lat(chosen.referee) if outcome.served == chosen.referee else 0.0)
    result.calls = len(outcome.answers)
    return result
