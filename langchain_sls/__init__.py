"""LangChain adapter of SLS: `SmartRouterLLM`, a chat model that routes every call
through the SLS engine (cache, prediction, choice, call with fallback, feedback)."""

from .chat_models import SmartRouterLLM
from .simulated import SimulatedChatModel
from .verifiers import FunctionVerifier, chat_model_judge

__all__ = ["SmartRouterLLM", "SimulatedChatModel", "FunctionVerifier", "chat_model_judge"]
