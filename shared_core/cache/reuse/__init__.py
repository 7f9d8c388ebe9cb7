"""Verified reuse: turn a cached answer into an answer for a new query, only
when the fit can be checked."""

from .base import Reuser
from .log_template import LogTemplateReuser

__all__ = ["Reuser", "LogTemplateReuser", "make_reuser"]


def make_reuser(name: str) -> Reuser:
    if name == "log_template":
        return LogTemplateReuser()
    raise ValueError(f"unknown reuser '{name}' (known: log_template)")
