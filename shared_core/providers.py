"""Framework-neutral helpers for the `provider` spec of a candidate in YAML,
shared by the LangChain and LlamaIndex adapters."""

from __future__ import annotations

import importlib
import re
from typing import Any

from .errors import ConfigError

_UNSET_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def import_class(path: str, where: str, base: type | None = None, kind: str = "") -> type:
    """`pkg.mod.Class` or `pkg.mod:Class`; a ConfigError naming `where` if it fails.

    A config names code to run, so with `base` only a subclass of it (the
    framework's model type) is returned, checked before anything calls it:
    `class: subprocess.Popen` is refused, not started. Importing the module
    still runs its top-level code, as any `import` does (README: "Reliability
    and security")."""
    module_name, _, cls_name = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise ConfigError(where, f"'{path}' is not a dotted path like package.module.Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(where, f"cannot import {module_name}: {exc}") from exc
    try:
        cls = getattr(module, cls_name)
    except AttributeError as exc:
        raise ConfigError(where, f"{module_name} has no {cls_name}") from exc
    if base is not None and not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(where, f"'{path}' is not a {kind or base.__qualname__} class; "
                                 "a config may only name model classes of its framework")
    return cls


def check_env_expanded(value: Any, where: str) -> None:
    """A `${VAR}` that survived loading names an unset environment variable: say which."""
    if isinstance(value, str):
        m = _UNSET_ENV.search(value)
        if m:
            raise ConfigError(where, f"environment variable {m.group(1)} is not set")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_env_expanded(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_env_expanded(v, f"{where}[{i}]")
