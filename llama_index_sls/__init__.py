"""LlamaIndex adapter of SLS: `SmartRouterLLM` routes every LlamaIndex LLM call
through the SLS engine (shared_core)."""

from shared_core.optional import require

require("llama_index.core", "llama-index-core", "llamaindex", "llama_index_sls")  # the framework is an install extra

from .candidates import build_llm, build_llms
from .embeddings import HashingEmbedding
from .instrumentation import RouteRecorder
from .llm import SmartRouterLLM
from .simulated import SimulatedFunctionCallingLLM, SimulatedLLM, extractive_responder

__all__ = [
    "SmartRouterLLM", "HashingEmbedding", "RouteRecorder", "SimulatedLLM", "SimulatedFunctionCallingLLM",
    "extractive_responder", "build_llm", "build_llms",
]
