"""The router's engine config and candidate chat models, from a YAML path, a
dict or an `SLSConfig`, plus Python candidates and `models={name: chat_model}`.

YAML is read as `SLSConfig.from_yaml_text` reads it; the candidates are then
completed from their chat models (name, capabilities, context window) before
the config is validated, and provider keys are taken out (kept as secrets to
scrub from errors).
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from shared_core.config import SLSConfig, expand_env, read_yaml_text
from shared_core.errors import ConfigError

from .candidates import (
    CANDIDATE_FIELDS,
    build_chat_model,
    infer_capabilities,
    infer_context_window,
    model_label,
    redact,
    secrets_of,
)


def assemble(config: Any, candidates: list[Any],
             models: dict[str, Any]) -> tuple[SLSConfig, dict[str, BaseChatModel], set[str]]:
    """The engine config, each candidate's chat model, and the keys to scrub."""
    data = _load_config(config)
    cands: list[Any] = [dict(c) if isinstance(c, dict) else c for c in (data.get("candidates") or [])]
    objects = _merge_python_candidates(cands, candidates)
    for name, obj in (models or {}).items():
        if not isinstance(obj, BaseChatModel):
            raise ConfigError(f"models.{name}", f"expected a LangChain chat model, got {type(obj).__name__}")
        objects[name] = obj
    built: dict[str, BaseChatModel] = {}
    secrets: set[str] = set()
    for i, cand in enumerate(cands):
        name, model = _complete_candidate(cand, f"candidates[{i}]", objects)
        secrets |= secrets_of(model, cand.get("provider") or {})
        if cand.get("provider"):
            cand["provider"] = redact(cand["provider"])
        built[name] = model
    unknown_models = set(objects) - set(built)
    if unknown_models:
        raise ConfigError("models", f"no candidate named {sorted(unknown_models)[0]!r}; candidates: {sorted(built)}")
    data["candidates"] = cands
    return SLSConfig.from_dict(data), built, secrets


def _load_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, SLSConfig):
        return config.to_dict()
    if isinstance(config, dict):
        return expand_env(deepcopy(config))
    if isinstance(config, (str, Path)):
        path = Path(config)
        if not path.exists():
            raise ConfigError("<file>", f"{path} does not exist")
        data = read_yaml_text(path.read_text(), source=str(path))
        if not isinstance(data, dict):
            raise ConfigError("<root>", f"{path}: expected a mapping, got {type(data).__name__}")
        return data
    raise ConfigError("config", f"expected a YAML path, a dict or an SLSConfig, got {type(config).__name__}")


def _merge_python_candidates(cands: list[Any], candidates: list[Any]) -> dict[str, BaseChatModel]:
    """Adds Python candidates to the configured ones (or fills in a same-named
    one); returns the chat model objects they carried, by name."""
    objects: dict[str, BaseChatModel] = {}
    for entry in candidates or []:
        fields, obj = _python_candidate(entry, len(cands))
        same = next((c for c in cands if isinstance(c, dict) and c.get("name") == fields.get("name")), None)
        if same is not None:
            same.update(fields)
        else:
            cands.append(fields)
        if obj is not None:
            objects[fields.get("name") or model_label(obj)] = obj
    return objects


def _python_candidate(entry: Any, index: int) -> tuple[dict[str, Any], BaseChatModel | None]:
    where = f"candidates[{index}]"
    if isinstance(entry, BaseChatModel):
        raise ConfigError(where, "give a dict with the model and its prices: "
                                 "{'model': chat_model, 'price_in': ..., 'price_out': ...}")
    if not isinstance(entry, dict):
        raise ConfigError(where, f"expected a dict, got {type(entry).__name__}")
    fields = dict(entry)
    model = fields.pop("model", None)
    kwargs = fields.pop("kwargs", None)
    obj = None
    if isinstance(model, BaseChatModel):
        obj = model
        fields.setdefault("name", model_label(model))
    elif isinstance(model, str):
        fields.setdefault("provider", {"model": model, **({"kwargs": kwargs} if kwargs else {})})
        fields.setdefault("name", model)
    elif isinstance(model, dict):
        fields.setdefault("provider", model)
    elif model is not None:
        raise ConfigError(f"{where}.model", f"expected a chat model, 'provider:model' or a provider spec, "
                                            f"got {type(model).__name__}")
    unknown = set(fields) - set(CANDIDATE_FIELDS)
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", f"unknown field; known: model, kwargs, "
                                                           f"{', '.join(CANDIDATE_FIELDS)}")
    return fields, obj


def _complete_candidate(cand: Any, where: str, objects: dict[str, BaseChatModel]) -> tuple[str, BaseChatModel]:
    """A configured candidate's name and chat model (given, or built from its
    provider spec), with capabilities and context window read from the model
    where the config does not give them."""
    if not isinstance(cand, dict):
        raise ConfigError(where, f"expected a mapping, got {type(cand).__name__}")
    provider = cand.get("provider") or {}
    if not cand.get("name") and isinstance(provider, dict) and isinstance(provider.get("model"), str):
        cand["name"] = provider["model"]
    name = cand.get("name")
    if not name:
        raise ConfigError(f"{where}.name", "missing")
    model = objects.get(name)
    if model is None:
        if not provider:
            raise ConfigError(f"{where}.provider", f"candidate '{name}' has no model: give provider.model "
                              "('openai:gpt-4o-mini'), provider.class, or pass models={name: chat_model}")
        model = build_chat_model(provider, f"{where}.provider")
    if "capabilities" not in cand:
        cand["capabilities"] = infer_capabilities(model)
    if "context_window" not in cand and (window := infer_context_window(model)):
        cand["context_window"] = window
    return name, model


def profile_of(config: SLSConfig) -> dict[str, Any]:
    """The router's LangChain model profile: what some candidate can do."""
    cands = config.candidates
    return {"tool_calling": any("tools" in c.capabilities for c in cands),
            "tool_choice": any("tools" in c.capabilities for c in cands),
            "image_inputs": any("vision" in c.capabilities for c in cands),
            "max_input_tokens": max(c.context_window for c in cands)}
