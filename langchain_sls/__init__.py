"""LangChain adapter of SLS: `SmartRouterLLM`, a chat model that routes every call
through the SLS engine (cache, prediction, choice, call with fallback, feedback)."""

from shared_core.optional import require

require("langchain_core", "langchain-core", "langchain", "langchain_sls")  # the framework is an install extra

from .chat_models import SmartRouterLLM
from .simulated import SimulatedChatModel
from .verifiers import FunctionVerifier, chat_model_judge

__all__ = ["SmartRouterLLM", "SimulatedChatModel", "FunctionVerifier", "chat_model_judge"]
