"""Verifiers score answers without labels (tests, judges, format checks)."""

import inspect
from typing import Any

from ..errors import ConfigError

from .base import Verifier
from .judge import JudgeVerifier
from .log_template import LogTemplateVerifier
from .python_tests import PythonTestsVerifier, TestRun, extract_code, run_tests

__all__ = ["Verifier", "JudgeVerifier", "LogTemplateVerifier", "PythonTestsVerifier", "TestRun", "VERIFIERS",
           "check_verifier_spec", "extract_code", "make_verifier", "run_tests"]


# YAML `type:` -> class; a judge needs a model to call, so an adapter builds it
# (langchain_sls.verifiers: `type: judge` with a candidate or provider) or Python does
VERIFIERS: dict[str, type[Verifier]] = {"log_template": LogTemplateVerifier, "python_tests": PythonTestsVerifier}
BUILT_BY_ADAPTERS = frozenset({"judge"})


def check_verifier_spec(spec: Any, where: str) -> None:
    """A ConfigError naming the field for an unknown type or an argument the verifier does not take."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(where, "each verifier needs a 'type'")
    cls = VERIFIERS.get(spec["type"])
    if cls is None and spec["type"] in BUILT_BY_ADAPTERS:
        return  # the adapter that builds it checks its fields
    if cls is None:
        raise ConfigError(f"{where}.type", f"unknown verifier type '{spec['type']}' (YAML knows "
                                           f"{', '.join(sorted(VERIFIERS))}; build JudgeVerifier in Python)")
    params = inspect.signature(cls.__init__).parameters
    for arg in spec:
        if arg != "type" and (arg not in params or arg == "self"):
            known = ", ".join(p for p in params if p != "self")
            raise ConfigError(f"{where}.{arg}", f"{cls.__name__} takes no argument '{arg}' (it takes: {known})")


def make_verifier(spec: dict) -> Verifier:
    """A verifier from its YAML form: {type: log_template | python_tests, ...kwargs}."""
    check_verifier_spec(spec, "verifiers[]")
    spec = dict(spec)
    kind = spec.pop("type")
    if kind not in VERIFIERS:
        raise ConfigError("verifiers[].type", f"a '{kind}' verifier needs a model: build it with the LangChain "
                                              "adapter's YAML or JudgeVerifier in Python")
    return VERIFIERS[kind](**spec)
