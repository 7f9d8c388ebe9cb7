"""Errors SLS raises. Each names the problem so a user can fix the input."""

from __future__ import annotations


class SLSError(Exception):
    """Base class of every error SLS raises on purpose."""


class ConfigError(SLSError, ValueError):
    """The YAML or Python configuration is invalid; the message names the field."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"config field '{field}': {problem}")


class RequestError(SLSError, ValueError):
    """The request itself cannot be served (empty messages, bad role, ...)."""


class UnknownModelError(SLSError, KeyError):
    """A model name that no configured candidate has."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__(f"unknown model '{name}'; configured candidates: {', '.join(sorted(known))}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class NoCandidateError(SLSError, RuntimeError):
    """No candidate can serve the request; `reasons` maps each candidate to why."""

    def __init__(self, reasons: dict[str, str], errors: dict[str, BaseException] | None = None):
        self.reasons = dict(reasons)
        self.errors = dict(errors or {})
        detail = "; ".join(f"{name}: {why}" for name, why in sorted(self.reasons.items()))
        super().__init__(f"no candidate can serve this request ({detail or 'no candidates configured'})")


class StateError(SLSError, RuntimeError):
    """Persisted state is unreadable or of an unknown version."""


class FeedbackError(SLSError, ValueError):
    """Feedback that cannot be taken: a score that is not a number in [0, 1], or a
    second explicit score for a request that already has one (the first stands)."""
