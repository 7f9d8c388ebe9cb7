"""Verifiers score answers without labels (tests, judges, format checks)."""

from .base import Verifier
from .judge import JudgeVerifier
from .python_tests import PythonTestsVerifier, TestRun, extract_code, run_tests

__all__ = ["Verifier", "JudgeVerifier", "PythonTestsVerifier", "TestRun", "extract_code", "run_tests"]

try:  # written separately; keep this package importable until it lands
    from .log_template import LogTemplateVerifier
except ImportError as e:
    if getattr(e, "name", None) != __name__ + ".log_template":
        raise  # the module exists but is broken: say so instead of hiding it
else:
    __all__.append("LogTemplateVerifier")


def make_verifier(spec: dict) -> Verifier:
    """A verifier from its YAML form: {type: log_template | python_tests, ...kwargs}.
    A judge needs a model to call, so it is built in Python, not YAML."""
    spec = dict(spec)
    kind = spec.pop("type")
    if kind == "log_template":
        return LogTemplateVerifier(**spec)
    if kind == "python_tests":
        return PythonTestsVerifier(**spec)
    raise ValueError(f"unknown verifier type '{kind}' (YAML knows log_template, python_tests; "
                     "build JudgeVerifier in Python with a judge model)")
