"""A verifier checks an answer without labels; its score feeds the update manager."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..request import Request


class Verifier(ABC):
    """Scores an answer to a request in [0, 1], or returns None when it cannot tell.

    `tasks` limits a verifier to requests with those task tags (empty: all).
    """

    name: str = "verifier"

    def __init__(self, tasks: tuple[str, ...] | list[str] = ()):
        self.tasks = tuple(tasks)

    def applies(self, request: Request) -> bool:
        return not self.tasks or request.task in self.tasks

    @abstractmethod
    def verify(self, request: Request, answer: str) -> float | None:
        """Score `answer` for `request`: 1.0 good, 0.0 bad, None unknown."""
