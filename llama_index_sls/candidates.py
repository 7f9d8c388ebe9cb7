"""Build the router's candidate LLMs from the config's provider specs.

Each candidate's `provider` mapping says which LlamaIndex LLM serves it:

    provider:
      class: llama_index.llms.openai.OpenAI      # any importable LLM class
      kwargs: {model: gpt-4o-mini, api_key: "${OPENAI_API_KEY}"}

or the short form `model: "openai:gpt-4o-mini"` (plus optional `kwargs`) for
the providers in `KNOWN_PROVIDERS`. A YAML shared with other adapters can put
the LlamaIndex spec under `provider.llama_index`. `provider.simulated`
(`{skill, fail_rate, seed, chunk_delay_s}`) configures the offline stand-in
used when the router is built with `simulated=True`, or when a candidate has
no other spec and `simulated: true` is given.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM

from shared_core.config import CandidateConfig, SLSConfig
from shared_core.errors import ConfigError
from shared_core.providers import check_env_expanded, import_class, redact, scrub, secret_values

from .simulated import SimulatedFunctionCallingLLM, SimulatedLLM

# prefix -> (module, class, pip package)
KNOWN_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("llama_index.llms.openai", "OpenAI", "llama-index-llms-openai"),
    "anthropic": ("llama_index.llms.anthropic", "Anthropic", "llama-index-llms-anthropic"),
    "ollama": ("llama_index.llms.ollama", "Ollama", "llama-index-llms-ollama"),
    "mistralai": ("llama_index.llms.mistralai", "MistralAI", "llama-index-llms-mistralai"),
    "groq": ("llama_index.llms.groq", "Groq", "llama-index-llms-groq"),
    "google_genai": ("llama_index.llms.google_genai", "GoogleGenAI", "llama-index-llms-google-genai"),
    "bedrock_converse": ("llama_index.llms.bedrock_converse", "BedrockConverse", "llama-index-llms-bedrock-converse"),
}


def provider_spec(cand: CandidateConfig) -> dict[str, Any]:
    spec = cand.provider.get("llama_index", cand.provider)
    return spec if isinstance(spec, dict) else {}


def load_class(path: str, where: str) -> type[LLM]:
    """import_class of an LLM subclass (checked before any call), with a pip hint
    for the integrations SLS knows."""
    try:
        return import_class(path, where, base=LLM, kind="LlamaIndex LLM")
    except ConfigError as exc:
        module_name = path.rpartition(".")[0]
        hint = next((f" (pip install {pkg})" for mod, _, pkg in KNOWN_PROVIDERS.values() if mod == module_name), "")
        if not hint:
            raise
        raise ConfigError(where, str(exc).split(": ", 1)[1] + hint) from exc


def simulated_llm(cand: CandidateConfig, seed: int = 0) -> LLM:
    """The offline stand-in for a candidate: tool-capable when the config says so."""
    opts = dict(provider_spec(cand).get("simulated") or cand.provider.get("simulated") or {})
    if not isinstance(opts, dict):
        opts = {}
    cls = SimulatedFunctionCallingLLM if "tools" in cand.capabilities else SimulatedLLM
    skill = opts.get("skill", cand.quality_prior)  # no prior given: the stand-in's own default
    return cls.from_config(cand, skill=float(0.9 if skill is None else skill),
                           fail_rate=float(opts.get("fail_rate", 0.0)), seed=int(opts.get("seed", seed)),
                           chunk_delay_s=float(opts.get("chunk_delay_s", 0.0)))


def build_llm(cand: CandidateConfig, index: int, *, simulated: bool = False, seed: int = 0) -> LLM:
    where = f"candidates[{index}].provider"
    spec = provider_spec(cand)
    if simulated:
        return simulated_llm(cand, seed=seed + index)
    if "class" in spec:
        cls = load_class(str(spec["class"]), f"{where}.class")
    elif "model" in spec and ":" in str(spec["model"]):
        prefix, _, model = str(spec["model"]).partition(":")
        if prefix not in KNOWN_PROVIDERS:
            raise ConfigError(f"{where}.model", f"unknown provider '{prefix}'; known: {sorted(KNOWN_PROVIDERS)}, "
                                                "or give `class: package.module.LLMClass`")
        module, name, _ = KNOWN_PROVIDERS[prefix]
        cls = load_class(f"{module}.{name}", f"{where}.model")
        spec = {**spec, "kwargs": {"model": model, **(spec.get("kwargs") or {})}}
    elif spec.get("simulated") is not None:
        return simulated_llm(cand, seed=seed + index)
    else:
        raise ConfigError(where, f"candidate '{cand.name}' needs `class: package.module.LLMClass` (+ kwargs), "
                                 "`model: provider:name`, or `simulated: {...}`; or pass the LLM object in `llms=`")
    kwargs = spec.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where}.kwargs", "expected a mapping")
    check_env_expanded(kwargs, f"{where}.kwargs")
    try:
        return cls(**kwargs)
    except Exception as exc:  # the provider class rejects its arguments; its text may echo a key
        raise ConfigError(where, f"{cls.__name__}(**kwargs) failed: {type(exc).__name__}: "
                                 f"{scrub(str(exc), secret_values(kwargs))}") from None


def build_llms(config: SLSConfig, llms: dict[str, LLM] | None = None, *, simulated: bool = False) -> dict[str, LLM]:
    """An LLM for every configured candidate: given ones first, then built from specs."""
    given = dict(llms or {})
    for name in given:
        config.candidate(name)  # UnknownModelError names the configured candidates
    out = {}
    for i, cand in enumerate(config.candidates):
        out[cand.name] = given[cand.name] if cand.name in given else build_llm(cand, i, simulated=simulated,
                                                                              seed=config.seed)
    check_llms(config, out)
    return out


def check_llms(config: SLSConfig, llms: dict[str, LLM]) -> None:
    for i, cand in enumerate(config.candidates):
        llm = llms.get(cand.name)
        if llm is None:
            raise ConfigError(f"candidates[{i}]", f"no LLM for candidate '{cand.name}'")
        if not isinstance(llm, LLM):
            raise ConfigError(f"candidates[{i}]", f"'{cand.name}' is a {type(llm).__name__}, not a LlamaIndex LLM")
        if "tools" in cand.capabilities and not isinstance(llm, FunctionCallingLLM):
            raise ConfigError(f"candidates[{i}].capabilities",
                              f"'{cand.name}' lists 'tools' but {type(llm).__name__} is not a FunctionCallingLLM")


def take_secrets(config: SLSConfig, llms: dict[str, LLM]) -> set[str]:
    """The secrets in the candidates' provider specs and LLM objects; the specs are
    redacted in place, so the engine's config, its state and logs never hold a key."""
    found = set()
    for cand in config.candidates:
        found |= secret_values(cand.provider)
        cand.provider = redact(cand.provider)
    for llm in llms.values():
        found |= secret_values(llm)
    return found
