"""Reuse a confirmed log template for a new line it provably fits.

A template (from an answer that feedback confirmed) is served for a new line
only when, read as a pattern with `<*>` as wildcards, it matches the whole
line, it is specific enough (literal words, not just wildcards), and every
wildcard covers a value of a shape seen there before (`blk_-0` vs
`0.0.0.0:0`). Shapes are learned from confirmations, so the check starts strict
and widens with evidence; a wrong hit blocks the combination that caused it.
When several templates fit, the most specific one wins.

Candidates come from an index, not a scan: a template is filed under one of
its literal tokens (the one fewest templates were filed under when it was
learned), and every line that the template fits holds all its literal tokens.
A line looks up its own tokens, and only templates whose literal tokens are
all in the line are matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...logtemplates import TemplatePattern, compile_template, fold_ws, literal_tokens, shape, to_template
from ...request import Request
from ..entry import CacheHit
from .base import Reuser


@dataclass
class _Template:
    pattern: TemplatePattern
    entry_id: int
    slot_shapes: list[set[str]]
    tokens: frozenset[str] = frozenset()  # its literal tokens: a line it fits holds them all
    blocked: set[tuple[str, ...]] = field(default_factory=set)
    good: float = 1.0
    bad: float = 0.0


class LogTemplateReuser(Reuser):
    name = "log_template"

    def __init__(self, tasks: tuple[str, ...] = ("logparsing",), extract: Callable[[str], str] = to_template,
                 min_literal_letters: int = 3, min_literal_share: float = 0.2):
        self.tasks = tasks
        self.extract = extract
        self.min_literal_letters = min_literal_letters
        self.min_literal_share = min_literal_share
        self._scopes: dict[str, dict[str, _Template]] = {}
        self._anchors: dict[str, dict[str, set[str]]] = {}  # scope -> anchor token -> templates filed there

    def canonical(self, answer: str) -> str:
        return fold_ws(self.extract(answer))

    def _specific_enough(self, pattern: TemplatePattern, line: str) -> bool:
        line_chars = len(line.replace(" ", "")) or 1
        return (pattern.literal_alpha >= self.min_literal_letters
                and pattern.literal_chars >= self.min_literal_share * line_chars)

    def learn(self, scope: str, request: Request, answer: str, entry_id: int) -> None:
        line = fold_ws(request.query)
        pattern = compile_template(self.extract(answer))
        captures = pattern.match(line)
        if captures is None or not self._specific_enough(pattern, line):
            return  # a template that does not fit its own line, or fits anything, is never reused
        templates = self._scopes.setdefault(scope, {})
        record = templates.get(pattern.template)
        if record is None:
            record = templates[pattern.template] = _Template(pattern, entry_id, [set() for _ in captures], good=0.0)
            self._file(scope, record)
        record.good += 1
        for slot, value in zip(record.slot_shapes, captures):
            slot.add(shape(value))

    def _file(self, scope: str, record: _Template) -> None:
        record.tokens = frozenset(literal_tokens(record.pattern.template))
        anchors = self._anchors.setdefault(scope, {})
        anchor = min(record.tokens, key=lambda tok: (len(anchors.get(tok, ())), -len(tok), tok), default="")
        anchors.setdefault(anchor, set()).add(record.pattern.template)

    def candidates(self, scope: str, line: str) -> list[_Template]:
        """The templates whose literal tokens are all in the (folded) line."""
        templates, anchors = self._scopes[scope], self._anchors[scope]
        tokens = set(line.split(" "))
        found = [templates[name] for name in anchors.get("", ())]
        for tok in tokens:
            for name in anchors.get(tok, ()):
                record = templates[name]
                if record.tokens <= tokens:
                    found.append(record)
        return found

    def find(self, scope: str, request: Request) -> CacheHit | None:
        templates = self._scopes.get(scope)
        if not templates:
            return None
        line = fold_ws(request.query)
        line_chars = len(line.replace(" ", "")) or 1
        best: tuple[int, _Template] | None = None
        for record in self.candidates(scope, line):
            pattern = record.pattern
            if (pattern.literal_alpha < self.min_literal_letters
                    or pattern.literal_chars < self.min_literal_share * line_chars):
                continue  # fits anything (see _specific_enough)
            captures = pattern.match_folded(line)
            if captures is None:
                continue
            shapes = tuple(shape(v) for v in captures)
            if shapes in record.blocked or any(s not in seen for s, seen in zip(shapes, record.slot_shapes)):
                continue
            if best is None or record.pattern.literal_chars > best[0]:
                best = (record.pattern.literal_chars, record)
        if best is None:
            return None
        record = best[1]
        return CacheHit(tier="reuse", answer=record.pattern.template, entry_id=record.entry_id,
                        detail={"template": record.pattern.template, "reuser": self.name})

    def judge(self, scope: str, request: Request, hit: CacheHit, correct: bool) -> None:
        record = self._scopes.get(scope, {}).get(hit.detail.get("template", ""))
        if record is None:
            return
        captures = record.pattern.match(fold_ws(request.query))
        if correct:
            record.good += 1
            return
        record.bad += 1
        if captures is not None:
            record.blocked.add(tuple(shape(v) for v in captures))
        if record.bad >= record.good:
            self._drop(scope, record.pattern.template)

    def _drop(self, scope: str, template: str) -> None:
        self._scopes[scope].pop(template, None)
        for names in self._anchors.get(scope, {}).values():
            names.discard(template)

    def to_dict(self) -> dict[str, Any]:
        return {
            scope: [
                {"template": name, "entry_id": r.entry_id, "slot_shapes": [sorted(s) for s in r.slot_shapes],
                 "blocked": [list(b) for b in r.blocked], "good": r.good, "bad": r.bad}
                for name, r in templates.items()
            ]
            for scope, templates in self._scopes.items()
        }

    def load(self, data: dict[str, Any]) -> None:
        for scope, rows in data.items():
            templates = self._scopes.setdefault(scope, {})
            for row in rows:
                pattern = compile_template(row["template"])
                record = templates[pattern.template] = _Template(
                    pattern, row["entry_id"], [set(s) for s in row["slot_shapes"]], frozenset(),
                    {tuple(b) for b in row["blocked"]}, row["good"], row["bad"])
                self._file(scope, record)
