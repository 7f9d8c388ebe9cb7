"""Optional dependencies: the frameworks of the adapters and the libraries of the
benches are install extras, and a missing one is named with the line that brings it."""

from __future__ import annotations

import importlib.util

from .errors import SLSError


class MissingDependency(SLSError, ImportError):
    """An optional dependency is not installed; the message says which `pip install` fixes it."""


def require(module: str, package: str, extra: str, needed_by: str) -> None:
    """Raise MissingDependency unless `module` (of the distribution `package`) can be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module left without a spec
        found = False
    if not found:
        raise MissingDependency(f"{needed_by} needs {package}, which is not installed: pip install 'sls[{extra}]'",
                                name=module)
