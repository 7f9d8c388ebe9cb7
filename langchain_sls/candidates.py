"""Candidate chat models: built from YAML provider specs or given in Python.

A YAML candidate names its model the way LangChain does:

    provider: {model: "openai:gpt-4o-mini", kwargs: {api_key: "${OPENAI_API_KEY}"}}
    provider: {class: "langchain_anthropic.ChatAnthropic", kwargs: {model: claude-3-5-haiku-latest}}
    provider: {class: "langchain_sls.simulated.SimulatedChatModel", kwargs: {...}}   # offline, SIMULATED

`model` goes through `langchain.chat_models.init_chat_model` when the `langchain`
package is installed, else through the same provider table for the common
providers. A `${VAR}` left unexpanded (the variable is not set) is an error
naming the field, never an empty key. After the models are built, secret-like
kwargs in the config are replaced by `***`, so the engine config, its state and
logs never hold a key.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from langchain_core.language_models import BaseChatModel

from shared_core.errors import ConfigError
from shared_core.providers import check_env_expanded, import_class, scrub, secret_values
from shared_core.providers import redact  # noqa: F401  (the adapter's public helper; sls run imports it here)

# provider -> (module, class, extra to install); mirrors init_chat_model's table
_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("langchain_openai", "ChatOpenAI", "langchain-openai"),
    "azure_openai": ("langchain_openai", "AzureChatOpenAI", "langchain-openai"),
    "anthropic": ("langchain_anthropic", "ChatAnthropic", "langchain-anthropic"),
    "google_genai": ("langchain_google_genai", "ChatGoogleGenerativeAI", "langchain-google-genai"),
    "google_vertexai": ("langchain_google_vertexai", "ChatVertexAI", "langchain-google-vertexai"),
    "bedrock_converse": ("langchain_aws", "ChatBedrockConverse", "langchain-aws"),
    "bedrock": ("langchain_aws", "ChatBedrock", "langchain-aws"),
    "cohere": ("langchain_cohere", "ChatCohere", "langchain-cohere"),
    "deepseek": ("langchain_deepseek", "ChatDeepSeek", "langchain-deepseek"),
    "fireworks": ("langchain_fireworks", "ChatFireworks", "langchain-fireworks"),
    "groq": ("langchain_groq", "ChatGroq", "langchain-groq"),
    "mistralai": ("langchain_mistralai", "ChatMistralAI", "langchain-mistralai"),
    "ollama": ("langchain_ollama", "ChatOllama", "langchain-ollama"),
    "perplexity": ("langchain_perplexity", "ChatPerplexity", "langchain-perplexity"),
    "together": ("langchain_together", "ChatTogether", "langchain-together"),
    "xai": ("langchain_xai", "ChatXAI", "langchain-xai"),
}
_PREFIXES = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"),
             ("claude", "anthropic"), ("command", "cohere"), ("gemini", "google_genai"),
             ("mistral", "mistralai"), ("mixtral", "mistralai"), ("deepseek", "deepseek"), ("grok", "xai"),
             ("sonar", "perplexity"))
CANDIDATE_FIELDS = ("name", "price_in", "price_out", "context_window", "capabilities", "latency", "quality_prior",
                    "expected_output_tokens", "provider", "card", "benchmarks")


def split_provider(model: str, model_provider: str | None = None) -> tuple[str, str]:
    """('openai', 'gpt-4o-mini') from 'openai:gpt-4o-mini' or an inferable bare name."""
    if model_provider is None and ":" in model and model.split(":", 1)[0].replace("-", "_").lower() in _PROVIDERS:
        model_provider, model = model.split(":", 1)
    if model_provider is None:
        model_provider = next((p for prefix, p in _PREFIXES if model.lower().startswith(prefix)), None)
    if model_provider is None:
        raise ValueError(f"cannot tell the provider of model '{model}': write it as 'provider:model' "
                         f"(providers: {', '.join(sorted(_PROVIDERS))}) or give a class path")
    return model_provider.replace("-", "_").lower(), model


def init_chat_model(model: str, *, model_provider: str | None = None, **kwargs: Any) -> BaseChatModel:
    """A chat model from 'provider:model', as `langchain.chat_models.init_chat_model` builds it."""
    try:
        from langchain.chat_models import init_chat_model as lc_init
    except ImportError:
        lc_init = None
    if lc_init is not None:
        return lc_init(model, model_provider=model_provider, **kwargs)
    provider, name = split_provider(model, model_provider)
    if provider not in _PROVIDERS:
        raise ValueError(f"unknown provider '{provider}' (known without the `langchain` package: "
                         f"{', '.join(sorted(_PROVIDERS))}); give a class path instead")
    module, cls_name, package = _PROVIDERS[provider]
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except ImportError as exc:
        raise ImportError(f"provider '{provider}' needs the package {package}: pip install {package}") from exc
    return cls(model=name, **kwargs)


def build_chat_model(spec: dict[str, Any], where: str = "provider") -> BaseChatModel:
    """A chat model from a provider spec: {model: 'provider:model' | class: 'pkg.Class', kwargs: {...}}."""
    if not isinstance(spec, dict):
        raise ConfigError(where, f"expected a mapping with 'model' or 'class', got {type(spec).__name__}")
    unknown = set(spec) - {"model", "class", "kwargs", "model_provider"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown field; known: class, kwargs, model, model_provider")
    kwargs = spec.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where}.kwargs", f"expected a mapping, got {type(kwargs).__name__}")
    check_env_expanded(kwargs, f"{where}.kwargs")
    try:
        if "class" in spec:
            cls = import_class(str(spec["class"]), f"{where}.class", base=BaseChatModel, kind="LangChain chat model")
            if "model" in spec:
                kwargs = {"model": spec["model"], **kwargs}
            return cls(**kwargs)
        if "model" in spec:
            return init_chat_model(str(spec["model"]), model_provider=spec.get("model_provider"), **kwargs)
    except ConfigError:
        raise
    except Exception as exc:  # import errors, bad kwargs: name the field, never echo kwargs (keys)
        raise ConfigError(where, f"cannot build the chat model: {type(exc).__name__}: {_scrub(str(exc), kwargs)}") \
            from None
    raise ConfigError(where, "needs 'model' (e.g. 'openai:gpt-4o-mini') or 'class' "
                             "(e.g. 'langchain_openai.ChatOpenAI')")


def _scrub(text: str, kwargs: dict[str, Any]) -> str:
    return scrub(text, secret_values(kwargs))


def secrets_of(model: BaseChatModel, spec: Any = None) -> set[str]:
    """Secret strings a candidate holds (its SecretStr fields and secret-like
    attributes, secret-like provider kwargs and headers), so that every text
    that leaves the router can be scrubbed of them."""
    return secret_values(spec or {}) | secret_values(model)


def model_label(model: BaseChatModel) -> str:
    """A readable candidate name for a chat model object."""
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return re.sub(r"[^\w.:/@+-]", "-", value)
    return type(model).__name__


def supports_tools(model: BaseChatModel) -> bool:
    return type(model).bind_tools is not BaseChatModel.bind_tools


def infer_capabilities(model: BaseChatModel) -> list[str]:
    """What a chat model can do, from its class and its LangChain model profile."""
    profile = getattr(model, "profile", None) or {}
    caps = ["streaming"]
    if profile.get("tool_calling", supports_tools(model)) and supports_tools(model):
        caps.append("tools")
    if profile.get("structured_output"):
        caps.append("structured_output")
    if profile.get("image_inputs"):
        caps.append("vision")
    return caps


def infer_context_window(model: BaseChatModel) -> int | None:
    profile = getattr(model, "profile", None) or {}
    value = profile.get("max_input_tokens")
    return int(value) if isinstance(value, int) and value > 0 else None


def accepted_kwargs(fn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The kwargs `fn` names as parameters (not those only a **kwargs would swallow:
    a provider may forward those to its API)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in kwargs.items() if k in params and params[k].kind is not inspect.Parameter.VAR_KEYWORD}
