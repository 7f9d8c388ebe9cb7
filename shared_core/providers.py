"""Framework-neutral helpers for the `provider` spec of a candidate in YAML,
shared by the LangChain and LlamaIndex adapters."""

from __future__ import annotations

import importlib
import os
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


# -- secrets: keep every value that came from one out of logs, metadata, state and errors --

# key, kwarg, header and environment-variable names that hold secrets (api_key, x-api-key,
# Authorization, OPENAI_API_KEY, aws_secret_access_key, ...)
SECRET_NAME = re.compile(r"(api[_-]?key|secret|token|password|passwd|credential|auth|cookie|private[_-]?key)", re.I)
_MIN_SECRET = 6  # shorter values are too likely to occur in ordinary text


def redact(value: Any) -> Any:
    """A copy of a provider spec with secret-like values (api_key, token, ...) as '***'."""
    if isinstance(value, dict):
        return {k: ("***" if SECRET_NAME.search(str(k)) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def secret_values(value: Any, key: str = "") -> set[str]:
    """The secret strings in a spec or a model object: values under secret-like names
    (nested headers included) and pydantic SecretStr fields."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= secret_values(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= secret_values(v, key)
    elif hasattr(value, "get_secret_value"):
        found |= secret_values(str(value.get_secret_value()), key or "secret")
    elif isinstance(value, str):
        if SECRET_NAME.search(key) and len(value) >= _MIN_SECRET:
            found.add(value)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for k, v in vars(value).items():  # a model object: its api_key, default_headers, ...
            if SECRET_NAME.search(k) or "header" in k or hasattr(v, "get_secret_value"):
                found |= secret_values(v, k)
    return found


def env_secrets() -> set[str]:
    """Values of environment variables with secret-like names: SDKs read keys from there."""
    return {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET}


def scrub(text: str, secrets: set[str] | frozenset[str]) -> str:
    """`text` with every secret in it replaced by '***' (longest first: one may contain another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def scrub_exception(exc: BaseException, secrets: set[str] | frozenset[str]) -> BaseException:
    """Take secrets out of an exception's text in place (args, message, body), so that
    wherever it is shown next (a log, a traceback, `sls_attempts`) they are gone."""
    if not secrets:
        return exc
    exc.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in exc.args)
    for attr in ("message", "body"):
        if isinstance(getattr(exc, attr, None), str):
            try:
                setattr(exc, attr, scrub(getattr(exc, attr), secrets))
            except Exception:  # a read-only attribute: args were scrubbed already
                pass
    return exc
