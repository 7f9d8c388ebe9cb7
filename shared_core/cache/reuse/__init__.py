"""Verified reuse: turn a cached answer into an answer for a new query, only
when the fit can be checked."""

from .base import Reuser
from .log_template import LogTemplateReuser

__all__ = ["Reuser", "LogTemplateReuser", "REUSERS", "make_reuser"]

REUSERS: dict[str, type[Reuser]] = {"log_template": LogTemplateReuser}


def make_reuser(name: str) -> Reuser:
    if name not in REUSERS:
        raise ValueError(f"unknown reuser '{name}' (known: {', '.join(sorted(REUSERS))})")
    return REUSERS[name]()
