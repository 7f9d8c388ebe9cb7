"""SLS shared core: the framework-neutral SmartLLMs Scheduler engine."""

from .candidates import Answer, Candidate, ReplayCandidate
from .config import CandidateConfig, SLSConfig
from .engine import Engine, Plan, Result, StreamEvent
from .errors import ConfigError, NoCandidateError, RequestError, SLSError, StateError, UnknownModelError
from .request import Request
from .simulator import SimulatedCandidate

__all__ = [
    "Answer", "Candidate", "ReplayCandidate", "SimulatedCandidate", "CandidateConfig", "SLSConfig", "Engine",
    "Plan", "Result", "StreamEvent", "ConfigError", "NoCandidateError", "RequestError", "SLSError", "StateError",
    "UnknownModelError", "Request",
]
__version__ = "0.1.0"
