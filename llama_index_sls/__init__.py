"""LlamaIndex adapter of SLS: `SmartRouterLLM` routes every LlamaIndex LLM call
through the SLS engine (shared_core)."""

from .candidates import build_llm, build_llms
from .embeddings import HashingEmbedding
from .instrumentation import RouteRecorder
from .llm import SmartRouterLLM
from .simulated import SimulatedFunctionCallingLLM, SimulatedLLM, extractive_responder

__all__ = [
    "SmartRouterLLM", "HashingEmbedding", "RouteRecorder", "SimulatedLLM", "SimulatedFunctionCallingLLM",
    "extractive_responder", "build_llm", "build_llms",
]
