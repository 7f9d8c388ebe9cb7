"""State that many workers share: run budget, rate limits, cooldowns, learning, cache.

One process needs none of it: `LocalState` is the default and does nothing, so
the engine calls the same hooks either way. `state: {backend: redis, url: ...}`
puts them on a Redis server (shared_core/shared_state/redis.py):

- the run budget and rate-limit windows are checked and spent atomically (Lua);
- a cooldown is a key with a TTL per candidate;
- observations (feedback) and confirmed cache entries are append-only streams
  that every worker writes to and follows, replaying the others' into its own
  predictor and cache (its FAISS index stays in memory).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import CandidateConfig, StateConfig
    from ..predictor import Estimate

_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class LocalState:
    """One process: the engine's own spend is the budget, nothing is published."""

    name = "local"

    def attach(self, engine: Any) -> None:
        pass

    def spent(self, local_usd: float) -> float:
        return local_usd

    def reserve(self, request_id: str, cand: "CandidateConfig", est: "Estimate | None") -> str | None:
        """Why `cand` may not be called now (budget, rate limit), or None: its cost is held."""
        return None

    def settle(self, request_id: str, model: str, cost_usd: float) -> None:
        """The call is over: replace what `reserve` held by what it cost."""

    def status(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        pass


def open_shared(engine_config: Any) -> LocalState:
    state = engine_config.state
    if state.backend != "redis":
        return LocalState()
    from .redis import RedisState

    return RedisState(state, engine_config.budget.run_budget_usd, engine_config.fallback.cooldown_s)


def check_redis_state(state: "StateConfig", path: str) -> None:
    """`state.url` and `state.prefix` of the redis backend, with errors naming the field."""
    if state.path:
        raise ConfigError(f"{path}.path", "the redis backend keeps state on the server: give state.url, not a path")
    if not state.url:
        raise ConfigError(f"{path}.url", "backend redis needs a url, e.g. redis://127.0.0.1:6379/0")
    url = urlparse(str(state.url))
    if url.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{path}.url", f"'{state.url}' must start with redis://, rediss:// or unix://")
    try:
        url.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(f"{path}.url", f"'{state.url}' has a port that is not a number") from None
    if url.scheme != "unix" and not url.hostname:
        raise ConfigError(f"{path}.url", f"'{state.url}' names no host")
    if url.scheme == "unix" and not url.path:
        raise ConfigError(f"{path}.url", f"'{state.url}' names no socket path")
    if not isinstance(state.prefix, str) or not _PREFIX.match(state.prefix):
        raise ConfigError(f"{path}.prefix", f"{state.prefix!r} must be 1-64 of letters, digits and _ . : -")


__all__ = ["LocalState", "open_shared", "check_redis_state"]
