"""Agreement between independent models as a verifier that needs no labels.

Where answers can be compared (a choice letter, a number, a short answer, a log
template), two models that give the same answer are probably right, and a
disagreement says one is wrong. The agreement cascade asks a pair of models,
accepts the answer they agree on, and otherwise asks a third, whose answer it
serves. Which plan to run is chosen per request by expected utility from the
predictor's P(good) for each model (a Thompson draw, so that it explores):

    accuracy = pA pB + P(disagree) pC,   P(agree) = pA pB + (1 - pA)(1 - pB) q
    cost     = cA + cB + P(disagree) cC,  utility = accuracy - cost / willingness to pay

with q the chance that two wrong answers coincide (1 / (options - 1) for a
choice). One-call plans compete with the cascades, so escalation happens only
where it pays. What the calls show teaches the predictor without any label:
agreeing models are credited with P(right | agree); on a disagreement the
third model's answer is the reference for the pair.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .candidates import Answer
from .errors import ConfigError
from .request import Request


class Normalizer(ABC):
    """Reduces an answer to the form two answers are compared in; None: no answer."""

    name = "normalizer"

    @abstractmethod
    def __call__(self, text: str) -> str | None:
        ...

    def coincidence(self, request: Request) -> float:
        """The chance two wrong answers are the same one."""
        return 0.1


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
        options = set(self._OPTION.findall(request.query))
        return 1.0 / (len(options) - 1) if len(options) > 1 else 0.5


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


def best_plan(p: dict[str, float], cost: dict[str, float], q: float, wtp: float) -> AgreementPlan:
    """The plan of highest expected utility: one call, or a pair and a referee."""
    plans = [AgreementPlan(m, accuracy=p[m], cost_usd=cost[m], utility=p[m] - cost[m] / wtp) for m in p]
    for a, b in itertools.combinations(p, 2):
        agree_right = p[a] * p[b]
        disagree = 1.0 - agree_right - (1.0 - p[a]) * (1.0 - p[b]) * q
        for c in p:
            if c in (a, b):
                continue
            acc = agree_right + disagree * p[c]
            spend = cost[a] + cost[b] + disagree * cost[c]
            plans.append(AgreementPlan(a, b, c, acc, spend, acc - spend / wtp))
    return max(plans, key=lambda pl: (pl.utility, -pl.cost_usd))


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


def truth_posterior(keys: dict[str, str | None], p: dict[str, float], q: float) -> dict[str, float]:
    """P(the right answer is k) for each answer k given, under the one-coin model
    (Dawid and Skene, 1979): model m is right with probability p_m, and a wrong
    answer lands on any one wrong option with probability q (1/q + 1 options)."""
    given = {k for k in keys.values() if k is not None}
    if not given:
        return {}
    like = {}
    for truth in given:
        like[truth] = 1.0
        for m, k in keys.items():
            like[truth] *= p[m] if k == truth else (1.0 - p[m]) * (q if k is not None else 1.0)
    unseen = max(0.0, 1.0 / max(q, 1e-9) + 1.0 - len(given))  # options nobody gave
    other = unseen * _all_wrong(keys, p, q)
    total = sum(like.values()) + other
    return {k: v / total for k, v in like.items()}


def _all_wrong(keys: dict[str, str | None], p: dict[str, float], q: float) -> float:
    out = 1.0
    for m, k in keys.items():
        out *= (1.0 - p[m]) * (q if k is not None else 1.0)
    return out


def pseudo_labels(outcome: Outcome, p: dict[str, float], q: float) -> dict[str, float]:
    """What the calls say of each model without a label: the posterior that its
    answer is the right one (0 for no answer)."""
    post = truth_posterior(outcome.keys, p, q)
    return {m: post.get(k, 0.0) if k is not None else 0.0 for m, k in outcome.keys.items()}


def most_likely(outcome: Outcome, p: dict[str, float], q: float) -> str:
    """The model to serve: one whose answer is most probably right (the referee's
    on a tie, as the stronger model), else what the plan's calls gave."""
    post = truth_posterior({m: outcome.keys[m] for m in outcome.answers}, p, q)
    if not post:
        return outcome.served
    best = max(post.values())
    tied = [m for m in outcome.answers if outcome.keys[m] is not None and post[outcome.keys[m]] >= best - 1e-12]
    return outcome.plan.referee if outcome.plan.referee in tied else tied[0]


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
    chosen = best_plan({m: est[m].p_sample for m in eligible}, {m: est[m].cost_usd for m in eligible}, q, wtp)

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
    p_mean = {m: est[m].p_good for m in chosen.models}
    outcome.served = most_likely(outcome, p_mean, q)
    others = {m: a for m, a in outcome.answers.items() if m != outcome.served}
    with engine._lock:
        for m, answer in others.items():
            engine.spent_usd += answer.cost_usd or 0.0
            engine.predictor.observe_usage(request.task, m, answer.output_tokens, answer.latency_s)
        for m, reward in pseudo_labels(outcome, p_mean, q).items():
            engine.predictor.observe(request.task, plan.vector, m, reward)
    verdict = "agreed" if outcome.agreed else "disagreed"
    attempts = failures + [{"model": m, "error": f"agreement vote ({verdict}): {outcome.keys.get(m)!r}"}
                           for m in others]
    result = engine._finish(plan, outcome.served, outcome.answers[outcome.served], attempts)
    lat = lambda m: (outcome.answers[m].latency_s or 0.0) if m in outcome.answers else 0.0
    pair = max(lat(chosen.first), lat(chosen.second) if chosen.second else 0.0)  # the pair runs at once
    result.cost_usd += sum(a.cost_usd or 0.0 for a in others.values())
    result.latency_s = pair + (lat(chosen.referee) if outcome.served == chosen.referee else 0.0)
    result.calls = len(outcome.answers)
    return result
