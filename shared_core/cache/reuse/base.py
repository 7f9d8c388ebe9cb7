"""The one interface every task-aware reuser implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ...request import Request
from ..entry import CacheHit


class Reuser(ABC):
    name: str = "reuser"
    tasks: tuple[str, ...] = ()

    def applies(self, request: Request) -> bool:
        return not self.tasks or request.task in self.tasks

    @abstractmethod
    def learn(self, scope: str, request: Request, answer: str, entry_id: int) -> None:
        """Remember an answer that feedback confirmed for `request`."""

    @abstractmethod
    def find(self, scope: str, request: Request) -> CacheHit | None:
        """An answer for `request` built from confirmed ones, only if it checks out."""

    @abstractmethod
    def judge(self, scope: str, request: Request, hit: CacheHit, correct: bool) -> None:
        """Feedback on a served hit: a wrong one must not be served again."""

    def canonical(self, answer: str) -> str:
        """The form in which two answers to the same task are compared."""
        return " ".join(answer.split())

    def to_dict(self) -> dict[str, Any]:
        return {}

    def load(self, data: dict[str, Any]) -> None:
        pass
