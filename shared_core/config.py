"""YAML configuration: candidates, preferences, budgets, cache, predictor and state.

Every field is validated on load; an error names the field path
(`candidates[2].price_in`) and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from .errors import ConfigError

KNOWN_CAPABILITIES = frozenset({"tools", "structured_output", "json_mode", "streaming", "vision"})


@dataclass
class LatencyHint:
    """Modelled time per call: ttft_s + output_tokens / tokens_per_s."""

    ttft_s: float = 0.5
    tokens_per_s: float = 50.0

    def validate(self, path: str) -> None:
        _positive(self.tokens_per_s, f"{path}.tokens_per_s")
        _non_negative(self.ttft_s, f"{path}.ttft_s")


@dataclass
class CandidateLimits:
    """What a provider allows this candidate: calls in flight, requests and
    tokens (input + expected output) per minute. None: no limit. `sls run`
    keeps to them; interactive adapters do not queue."""

    concurrency: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def validate(self, path: str) -> None:
        for name in ("concurrency", "requests_per_minute", "tokens_per_minute"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), f"{path}.{name}")


@dataclass
class CandidateConfig:
    """One model the router may call. Prices are USD per 1M tokens."""

    name: str
    price_in: float | None = None  # None: the model card's list price
    price_out: float | None = None
    context_window: int | None = None  # None: the card's, else 8192
    capabilities: list[str] | None = None  # None: the card's, else [streaming]
    latency: LatencyHint = field(default_factory=LatencyHint)
    quality_prior: float | None = None  # None: from the card's benchmarks (shared_core/catalog.py)
    expected_output_tokens: int = 256
    provider: dict[str, Any] = field(default_factory=dict)
    limits: CandidateLimits = field(default_factory=CandidateLimits)

    card: str | None = None  # a model card of the catalog; None: matched by name or alias
    benchmarks: dict[str, float] = field(default_factory=dict)  # the candidate's own published scores, percent

    def validate(self, path: str) -> None:
        if not self.name or not re.fullmatch(r"[\w.:/@+-]+", self.name):
            raise ConfigError(f"{path}.name", f"'{self.name}' must be non-empty letters, digits or ._:/@+-")
        self.apply_card(path)
        _non_negative(self.price_in, f"{path}.price_in")
        _non_negative(self.price_out, f"{path}.price_out")
        _positive(self.context_window, f"{path}.context_window")
        _positive(self.expected_output_tokens, f"{path}.expected_output_tokens")
        _check_benchmarks(self.benchmarks, f"{path}.benchmarks")
        if self.quality_prior is not None and not 0.0 < self.quality_prior < 1.0:
            raise ConfigError(f"{path}.quality_prior", f"{self.quality_prior} must be strictly between 0 and 1")
        unknown = set(self.capabilities) - KNOWN_CAPABILITIES
        if unknown:
            raise ConfigError(f"{path}.capabilities", f"unknown {sorted(unknown)}; known: {sorted(KNOWN_CAPABILITIES)}")
        self.latency.validate(f"{path}.latency")
        self.limits.validate(f"{path}.limits")

    def __post_init__(self) -> None:
        self.apply_card(None)

    def apply_card(self, path: str | None) -> None:
        """Fill what the candidate leaves unset from its model card; with a `path`
        (validation), say which field is still missing."""
        from .catalog import default_catalog

        card = default_catalog().get(self.card or self.name)
        if self.card and card is None and path is not None:
            raise ConfigError(f"{path}.card", f"no model card '{self.card}' in the catalog (shared_core/defaults/model_cards.yaml)")
        if card is not None:
            self.card = card.name
            for name in ("price_in", "price_out", "context_window"):
                if getattr(self, name) is None:
                    setattr(self, name, getattr(card, name))
            if self.capabilities is None and card.capabilities is not None:
                self.capabilities = list(card.capabilities)
            self.benchmarks = {**card.benchmarks, **self.benchmarks}
        for name in ("price_in", "price_out"):
            if getattr(self, name) is None and path is not None:
                raise ConfigError(f"{path}.{name}", "missing, and no model card gives a list price for "
                                  f"'{self.card or self.name}'")
        self.context_window = 8192 if self.context_window is None else self.context_window
        self.capabilities = ["streaming"] if self.capabilities is None else self.capabilities

    def cost_usd(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.price_in + output_tokens * self.price_out) / 1e6

    def modelled_latency_s(self, output_tokens: float) -> float:
        return self.latency.ttft_s + output_tokens / self.latency.tokens_per_s


@dataclass
class Preferences:
    """How the scheduler trades quality against cost and latency.

    utility = quality * P(good) - cost_term - latency * L / (L + L_ref),
    where cost_term is cost_usd / willingness_to_pay_usd when that is set (what a
    good answer is worth to you), else cost * C / (C + C_ref); C_ref and L_ref are
    the median predicted cost and latency of the eligible candidates. The bounded
    form means `cost` is the most utility price can take away.
    """

    quality: float = 1.0
    cost: float = 0.3
    latency: float = 0.05
    willingness_to_pay_usd: float | None = None

    def validate(self, path: str) -> None:
        for name in ("quality", "cost", "latency"):
            _non_negative(getattr(self, name), f"{path}.{name}")
        if self.willingness_to_pay_usd is not None:
            _positive(self.willingness_to_pay_usd, f"{path}.willingness_to_pay_usd")


BUDGET_SCOPES = ("all", "task")  # one budget over all requests, or one per task (pacing.py)


@dataclass
class Budget:
    """Hard limits (a per-request cap, a run total) and a paced one: `cost_share`
    of what `reference_model` (None: the dearest candidate) would cost, over all
    requests (`scope: all`) or over each task's (`scope: task`) (shared_core/pacing.py)."""

    max_cost_per_request_usd: float | None = None
    run_budget_usd: float | None = None
    cost_share: float | None = None
    reference_model: str | None = None
    pacing_gain: float = 0.1
    scope: str = "all"

    def validate(self, path: str) -> None:
        for name in ("max_cost_per_request_usd", "run_budget_usd", "cost_share", "pacing_gain"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), f"{path}.{name}")
        if self.reference_model is not None and self.cost_share is None:
            raise ConfigError(f"{path}.reference_model", "is only read with budget.cost_share: set both")
        if self.scope not in BUDGET_SCOPES:
            raise ConfigError(f"{path}.scope", f"'{self.scope}' is not one of {', '.join(BUDGET_SCOPES)}")


@dataclass
class SemanticCacheConfig:
    """Near-duplicate hits. The user sets the error rate they accept (wrong hits as
    a share of queries); the `learned` policy finds per scope, from evidence, the
    similarity threshold that meets it, and serves nothing until it can."""

    enabled: bool = True
    target_error_rate: float = 0.005
    confidence: float = 0.8
    policy: str = "learned"  # learned | static | none (shared_core/cache/policy.py)
    initial_threshold: float = 0.99  # the static policy's cosine
    floor: float = 0.80  # the learned threshold never goes below it
    min_evidence: int = 30
    index: str = "auto"  # flat | hnsw | auto (flat while small, HNSW past hnsw_from entries)
    hnsw_from: int = 4096

    def validate(self, path: str) -> None:
        if not 0.0 < self.target_error_rate < 0.5:
            raise ConfigError(f"{path}.target_error_rate", "must be in (0, 0.5)")
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError(f"{path}.confidence", "must be in [0.5, 1)")
        if not 0.0 < self.floor <= self.initial_threshold <= 1.0:
            raise ConfigError(f"{path}.initial_threshold", "need 0 < floor <= initial_threshold <= 1")
        if self.index not in ("flat", "hnsw", "auto"):
            raise ConfigError(f"{path}.index", f"'{self.index}' is not one of flat, hnsw, auto")
        from .cache.policy import POLICIES

        if self.policy not in POLICIES:
            raise ConfigError(f"{path}.policy", f"'{self.policy}' is not one of {', '.join(sorted(POLICIES))}")


@dataclass
class CacheConfig:
    enabled: bool = True
    exact: bool = True
    serve_unconfirmed: bool = True  # exact repeats of answers no feedback has judged yet
    allow_sampled: bool = False  # requests with temperature > 0 skip the cache unless True
    semantic: SemanticCacheConfig = field(default_factory=SemanticCacheConfig)
    reuse: list[str] = field(default_factory=lambda: ["log_template"])
    max_entries: int = 200_000

    def validate(self, path: str) -> None:
        self.semantic.validate(f"{path}.semantic")
        _positive(self.max_entries, f"{path}.max_entries")
        from .cache.reuse import REUSERS

        for i, name in enumerate(self.reuse):
            if name not in REUSERS:
                known = ", ".join(sorted(REUSERS))
                raise ConfigError(f"{path}.reuse[{i}]", f"unknown reuser '{name}' (known: {known})")


@dataclass
class PredictorConfig:
    """Per task family, a probit regression over model features (shared_core/quality.py)
    whose prior comes from the model cards; near a query, kNN over query embeddings
    refines it. Prior spreads are in probit units."""

    k: int = 24
    bandwidth: float = 0.04  # similarity kernel width: weight = exp((sim - 1) / bandwidth)
    local_prior_strength: float = 1.0
    half_life: float = 20_000.0  # observations; older evidence counts half
    exploration: str = "thompson"  # thompson | ucb | greedy
    # the utility exploration may cost per request on average, as the predictor
    # expects it at the time (0: follow the posterior mean once the prior is set)
    exploration_budget: float = 0.01
    # the requests of a task that what exploration teaches is expected to serve, when
    # it weighs whether a try can repay itself (null: as many as the task has had so far)
    exploration_horizon: float | None = None
    eliminate: bool = True  # rank last a model whose best case is below another's worst case
    task_families: dict[str, str] = field(default_factory=dict)  # task -> family (code, qa, logparsing, ...)
    family_benchmarks: dict[str, str] = field(default_factory=dict)  # family -> the card benchmark that speaks for it
    prior_sd_shift: float = 0.5  # the workload against the benchmark, shared by all models
    prior_sd_slope: float = 0.3
    prior_sd_model: float = 0.35  # one model, its score published
    prior_sd_unknown: float = 0.8  # one model, its score predicted or missing
    max_observations: int = 2048  # per task, kept as clusters past this (shared_core/observations.py)
    learn: bool = True
    warm_start: str | None = None

    def validate(self, path: str) -> None:
        _positive(self.k, f"{path}.k")
        _positive(self.bandwidth, f"{path}.bandwidth")
        _positive(self.local_prior_strength, f"{path}.local_prior_strength")
        _positive(self.half_life, f"{path}.half_life")
        _non_negative(self.exploration_budget, f"{path}.exploration_budget")
        if self.exploration_horizon is not None:
            _non_negative(self.exploration_horizon, f"{path}.exploration_horizon")
        for name in ("prior_sd_shift", "prior_sd_slope", "prior_sd_model", "prior_sd_unknown"):
            _positive(getattr(self, name), f"{path}.{name}")
        from .catalog import PERCENT_BENCHMARKS

        for family, bench in self.family_benchmarks.items():
            if bench not in PERCENT_BENCHMARKS:
                raise ConfigError(f"{path}.family_benchmarks.{family}",
                                  f"'{bench}' is not one of {', '.join(PERCENT_BENCHMARKS)}")
        if self.exploration not in ("thompson", "ucb", "greedy"):
            raise ConfigError(f"{path}.exploration", f"'{self.exploration}' is not one of thompson, ucb, greedy")


@dataclass
class EncoderConfig:
    type: str = "hashing"  # a name in shared_core.encoders.ENCODERS: hashing | minilm | sentence_transformers
    dim: int = 256  # hashing only; a model's width is its own
    model: str | None = None  # minilm: a weights package name or a model folder

    def validate(self, path: str) -> None:
        from .encoders import ENCODERS

        if self.type not in ENCODERS:
            raise ConfigError(f"{path}.type", f"'{self.type}' is not one of {', '.join(sorted(ENCODERS))}")
        _positive(self.dim, f"{path}.dim")


@dataclass
class StateConfig:
    path: str | None = None  # None: in memory only
    backend: str = "local"  # local (files) | sqlite | redis (shared by workers: shared_core/shared_state)
    autosave_every: int = 500  # feedback events between automatic saves; 0 = only on save()
    url: str | None = None  # redis only: redis://host:port/db (rediss:// for TLS, unix:///path.sock)
    prefix: str = "sls"  # redis only: the key namespace; workers with the same prefix share everything

    def validate(self, path: str) -> None:
        if self.backend not in ("local", "sqlite", "redis"):
            raise ConfigError(f"{path}.backend", f"'{self.backend}' is not one of local, sqlite, redis")
        if self.backend == "redis":
            from .shared_state import check_redis_state

            check_redis_state(self, path)
        if self.backend == "local" and self.path and os.path.isfile(self.path):
            raise ConfigError(f"{path}.path", f"{self.path} is a file; the local backend keeps state in a folder "
                                              "(or use backend: sqlite)")


@dataclass
class FallbackConfig:
    cooldown_s: float = 30.0
    max_attempts: int = 3

    def validate(self, path: str) -> None:
        _non_negative(self.cooldown_s, f"{path}.cooldown_s")
        _positive(self.max_attempts, f"{path}.max_attempts")


@dataclass
class RunConfig:
    """`sls run`: jobs in flight at once, and retries of a call that got a 429
    or a 5xx (exponential backoff with jitter from backoff_initial_s up to
    backoff_max_s) before the engine falls back to the next candidate."""

    concurrency: int = 32
    max_retries: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def validate(self, path: str) -> None:
        _positive(self.concurrency, f"{path}.concurrency")
        _non_negative(self.max_retries, f"{path}.max_retries")
        _positive(self.backoff_initial_s, f"{path}.backoff_initial_s")
        if not self.backoff_max_s >= self.backoff_initial_s:
            raise ConfigError(f"{path}.backoff_max_s", f"{self.backoff_max_s!r} must be >= backoff_initial_s")


@dataclass
class AgreementConfig:
    """`Engine.agree`: how answers are compared, and what a right one is worth
    (None: the preferences' willingness_to_pay_usd, else $0.01)."""

    tasks: list[str] = field(default_factory=list)  # tasks run() serves this way (or request metadata "agreement")
    normalizer: str = "choice"  # choice | number | short | log_template
    willingness_to_pay_usd: float | None = None
    coincidence: float | None = None  # chance two wrong answers match; None: from the normalizer
    # how much questions differ in difficulty, in probit units: what makes models err
    # together (agreement.py); 0: models err independently
    difficulty_sd: float = 1.0
    # how far a model's share of one option, when it guesses, may stand from 1/n a
    # priori (answer_shares.py: models favour some letters); 0: no shares, the symmetric model
    guess_share_sd: float = 0.1

    def validate(self, path: str) -> None:
        from .agreement import NORMALIZERS

        if self.normalizer not in NORMALIZERS:
            raise ConfigError(f"{path}.normalizer", f"'{self.normalizer}' is not one of {', '.join(sorted(NORMALIZERS))}")
        if self.willingness_to_pay_usd is not None:
            _positive(self.willingness_to_pay_usd, f"{path}.willingness_to_pay_usd")
        if self.coincidence is not None and not 0.0 <= self.coincidence <= 1.0:
            raise ConfigError(f"{path}.coincidence", f"{self.coincidence!r} must be in [0, 1]")
        _non_negative(self.difficulty_sd, f"{path}.difficulty_sd")
        if not 0.0 <= self.guess_share_sd < 0.5:
            raise ConfigError(f"{path}.guess_share_sd", f"{self.guess_share_sd!r} must be in [0, 0.5)")


@dataclass
class SLSConfig:
    candidates: list[CandidateConfig]
    preferences: Preferences = field(default_factory=Preferences)
    budget: Budget = field(default_factory=Budget)
    cache: CacheConfig = field(default_factory=CacheConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    state: StateConfig = field(default_factory=StateConfig)
    fallback: FallbackConfig = field(default_factory=FallbackConfig)
    agreement: AgreementConfig = field(default_factory=AgreementConfig)
    scheduler: str = "utility"  # utility | round_robin (shared_core/scheduler.py SCHEDULERS)
    run: RunConfig = field(default_factory=RunConfig)
    verifiers: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not self.candidates:
            raise ConfigError("candidates", "at least one candidate is required")
        seen: set[str] = set()
        for i, cand in enumerate(self.candidates):
            cand.validate(f"candidates[{i}]")
            if cand.name in seen:
                raise ConfigError(f"candidates[{i}].name", f"duplicate name '{cand.name}'")
            seen.add(cand.name)
        for name in ("preferences", "budget", "cache", "predictor", "encoder", "state", "fallback", "run", "agreement"):
            getattr(self, name).validate(name)
        if self.budget.reference_model is not None and self.budget.reference_model not in seen:
            raise ConfigError("budget.reference_model",
                              f"'{self.budget.reference_model}' is not a candidate ({', '.join(sorted(seen))})")
        from .verifiers import check_verifier_spec

        from .scheduler import SCHEDULERS

        if self.scheduler not in SCHEDULERS:
            raise ConfigError("scheduler", f"'{self.scheduler}' is not one of {', '.join(sorted(SCHEDULERS))}")
        for i, ver in enumerate(self.verifiers):
            check_verifier_spec(ver, f"verifiers[{i}]")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"{self.seed!r} must be a whole number >= 0")

    def candidate(self, name: str) -> CandidateConfig:
        for cand in self.candidates:
            if cand.name == name:
                return cand
        from .errors import UnknownModelError

        raise UnknownModelError(name, [c.name for c in self.candidates])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SLSConfig":
        if not isinstance(data, dict):
            raise ConfigError("<root>", f"expected a mapping, got {type(data).__name__}")
        if "candidates" not in data:
            raise ConfigError("candidates", "missing")
        return _build(cls, data, "")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> "SLSConfig":
        path = Path(path)
        if not path.exists():
            raise ConfigError("<file>", f"{path} does not exist")
        return cls.from_yaml_text(path.read_text(), source=str(path))

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<string>") -> "SLSConfig":
        return cls.from_dict(read_yaml_text(text, source))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_yaml_text(text: str, source: str = "<string>") -> Any:
    """The data of a YAML text, `${VAR}` expanded: what `from_yaml_text` builds a
    config from (an adapter completes its candidates in between)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("<yaml>", f"{source} is not valid YAML: {exc}") from exc
    return expand_env(data)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings; a missing variable without
    default stays as written, so a key is never silently empty."""
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) if m.group(2) is not None else m.group(0)), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass `cls` from a mapping, checking names and types."""
    where = path or "<root>"
    if not isinstance(data, dict):
        raise ConfigError(where, f"expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - fields
    if unknown:
        raise ConfigError(f"{path + '.' if path else ''}{sorted(unknown)[0]}", f"unknown field; known: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{path + '.' if path else ''}{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(where, str(exc)) from exc


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin is None and dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if args and type(None) in args:  # Optional[X]
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, path)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {type(value).__name__}")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)] if args else value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {type(value).__name__}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(path, f"expected a finite number, got {value!r}")
        if hint is int and float(value) != int(value):
            raise ConfigError(path, f"expected a whole number, got {value!r}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected text, got {value!r}")
        return value
    return value


def _check_benchmarks(benchmarks: dict[str, Any], path: str) -> None:
    from .catalog import PERCENT_BENCHMARKS

    for bench, value in benchmarks.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{path}.{bench}", f"expected a number, got {value!r}")
        if bench in PERCENT_BENCHMARKS and not 0.0 < value < 100.0:
            raise ConfigError(f"{path}.{bench}", f"{value!r} must be a percent strictly between 0 and 100")


def _positive(value: float, path: str) -> None:
    if value is None or not value > 0:  # written so that NaN fails too
        raise ConfigError(path, f"{value!r} must be > 0")


def _non_negative(value: float, path: str) -> None:
    if value is None or not value >= 0:
        raise ConfigError(path, f"{value!r} must be >= 0")
