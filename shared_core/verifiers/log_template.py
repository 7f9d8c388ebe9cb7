"""Checks a log-parsing answer without labels: the template, read as a pattern,
must match the whole line, and must abstract what has to be variable."""

from __future__ import annotations

from collections.abc import Callable

from ..logtemplates import compile_template, fold_ws, literal_tokens, looks_variable, to_template
from ..request import Request
from .base import Verifier


class LogTemplateVerifier(Verifier):
    name = "log_template"

    def __init__(self, tasks: tuple[str, ...] | list[str] = ("logparsing",), extract: Callable[[str], str] = to_template,
                 min_literal_letters: int = 3):
        super().__init__(tasks)
        self.extract = extract
        self.min_literal_letters = min_literal_letters

    def verify(self, request: Request, answer: str) -> float | None:
        template = self.extract(answer)
        if not template:
            return 0.0
        pattern = compile_template(template)
        if pattern.match(fold_ws(request.query)) is None:
            return 0.0  # the template does not describe this line
        if pattern.literal_alpha < self.min_literal_letters:
            return 0.0  # only wildcards: fits anything, says nothing
        if any(looks_variable(tok) for tok in literal_tokens(template)):
            return 0.0  # a number or id was left in as a constant
        return 1.0
