"""Verifiers for the router: YAML specs and Python objects to shared_core verifiers.

YAML: `{type: log_template | python_tests, ...}` as shared_core knows them, and
`{type: judge, candidate: <name> | provider: {model|class, kwargs}, threshold?,
scale?, tasks?, prompt_template?}` for an LLM judge built from a LangChain model.
Python: a `shared_core.verifiers.Verifier`, a LangChain chat model (used as a
judge), or a function `(question, answer) -> score in [0, 1] | None`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from shared_core.errors import ConfigError
from shared_core.request import Request
from shared_core.verifiers import JudgeVerifier, Verifier, make_verifier

from .candidates import build_chat_model

_JUDGE_KEYS = {"prompt_template", "scale", "threshold", "tasks"}


class FunctionVerifier(Verifier):
    """Scores answers with a plain function `(question, answer) -> float | None`."""

    def __init__(self, fn: Callable[[str, str], float | None], tasks: Sequence[str] = (), name: str | None = None):
        super().__init__(tuple(tasks))
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    def verify(self, request: Request, answer: str) -> float | None:
        score = self.fn(request.query, answer)
        return None if score is None else min(1.0, max(0.0, float(score)))


def chat_model_judge(model: BaseChatModel, **kwargs: Any) -> JudgeVerifier:
    """A JudgeVerifier that asks a LangChain chat model."""
    return JudgeVerifier(judge=lambda prompt: str(model.invoke(prompt).text), **kwargs)


def build_verifiers(specs: Sequence[Mapping[str, Any]], extra: Sequence[Any] | None,
                    models: Mapping[str, BaseChatModel]) -> list[Verifier]:
    out: list[Verifier] = []
    for i, spec in enumerate(specs):
        where = f"verifiers[{i}]"
        spec = dict(spec)
        if spec.get("type") == "judge":
            spec.pop("type")
            if "candidate" in spec:
                name = spec.pop("candidate")
                if name not in models:
                    raise ConfigError(f"{where}.candidate", f"unknown candidate '{name}'; known: {sorted(models)}")
                judge = models[name]
            elif "provider" in spec:
                judge = build_chat_model(spec.pop("provider"), f"{where}.provider")
            else:
                raise ConfigError(where, "a judge needs 'candidate' (a candidate's name) or 'provider' (a model spec)")
            unknown = set(spec) - _JUDGE_KEYS
            if unknown:
                raise ConfigError(f"{where}.{sorted(unknown)[0]}", f"unknown field; known: {sorted(_JUDGE_KEYS)}")
            out.append(chat_model_judge(judge, **spec))
            continue
        try:
            out.append(make_verifier(spec))
        except (TypeError, ValueError, ImportError) as exc:
            raise ConfigError(where, str(exc)) from exc
    for i, v in enumerate(extra or []):
        if isinstance(v, Verifier):
            out.append(v)
        elif isinstance(v, BaseChatModel):
            out.append(chat_model_judge(v))
        elif callable(v):
            out.append(FunctionVerifier(v))
        else:
            raise TypeError(f"verifiers[{i}]: expected a Verifier, a chat model (judge) or a function "
                            f"(question, answer) -> score, got {type(v).__name__}")
    return out
