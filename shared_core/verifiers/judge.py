"""LLM-as-judge: a judge model scores an answer.

The judge is any `Callable[[str], str]` (prompt in, reply out) so that the
LangChain / LlamaIndex adapters can wrap their own chat models without this
module importing either framework.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

from ..request import Request
from .base import Verifier

log = logging.getLogger("sls.verifiers.judge")

DEFAULT_PROMPT = """You are grading an answer to a user's request.

Request:
{question}

Answer:
{answer}

Judge whether the answer is correct, complete and follows the request. Give one or
two sentences of reasoning, then end with a line of the form
SCORE: <n>
where <n> is an integer from 0 (wrong or useless) to 10 (fully correct)."""

_NUM = r"(-?\d+(?:\.\d+)?)"
_DENOM = rf"(?:\s*(?:/|out\s+of)\s*{_NUM})?"
# "SCORE: 7", "**Score:** 7/10", "score of 7 out of 10"; the last one wins (the
# prompt asks for it on the final line, and reasoning may mention the scale first).
_SCORE = re.compile(rf"\bscore\b[^\d\n-]{{0,12}}{_NUM}{_DENOM}", re.I)
_FRACTION = re.compile(rf"{_NUM}\s*(?:/|out\s+of)\s*{_NUM}", re.I)
_BARE = re.compile(rf"^[\s*_`]*{_NUM}[\s*_`.]*$")
# A verdict word standing alone or followed by punctuation ("Yes.", "No, because"),
# so that "No score given" is not read as "no".
_YES_NO = re.compile(r"^[\s*_`\"']*(yes|no|correct|incorrect)[*_`\"']*\s*(?:[.!,:;\-\u2014]|$)", re.I)


def parse_score(reply: str, scale: float = 10.0) -> float | None:
    """A judge reply as a score in [0, 1], or None if no score can be read.

    Tried in order: `SCORE: n` (optionally `n/d`), a fraction `n/d` or `n out of d`,
    a bare number on the last line, and a leading yes/no (or correct/incorrect) on
    the first or last line. A number without a denominator is out of `scale`; one
    above `scale` but at most 100 is read as a percentage.
    """
    text = reply.strip()
    if not text:
        return None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    hits = _SCORE.findall(text) or _FRACTION.findall(text)
    if hits:
        num, den = hits[-1]
        return _normalize(float(num), float(den) if den else None, scale)
    bare = _BARE.match(lines[-1])
    if bare:
        return _normalize(float(bare.group(1)), None, scale)
    for line in (lines[0], lines[-1]):
        m = _YES_NO.match(line)
        if m:
            return 1.0 if m.group(1).lower() in ("yes", "correct") else 0.0
    return None


def _normalize(num: float, den: float | None, scale: float) -> float | None:
    if den is None:
        den = scale if num <= scale else 100.0 if num <= 100 else None
    if not den or den <= 0:
        return None
    return min(1.0, max(0.0, num / den))


class JudgeVerifier(Verifier):
    """Scores an answer by asking a judge model; None if the judge fails or its
    reply has no readable score (never raises into the caller).

    `prompt_template` gets `{question}` (the request's last user turn) and
    `{answer}` substituted by plain replacement, so other braces (e.g. JSON
    examples) need no escaping. With `threshold` (in [0, 1]) the score becomes
    1.0 if >= threshold else 0.0.
    """

    name = "judge"

    def __init__(self, judge: Callable[[str], str], prompt_template: str = DEFAULT_PROMPT,
                 scale: float = 10.0, threshold: float | None = None,
                 tasks: tuple[str, ...] | list[str] = ()):
        super().__init__(tasks)
        self.judge = judge
        self.prompt_template = prompt_template
        self.scale = scale
        self.threshold = threshold

    def prompt(self, request: Request, answer: str) -> str:
        return self.prompt_template.replace("{question}", request.query).replace("{answer}", answer)

    def verify(self, request: Request, answer: str) -> float | None:
        try:
            reply = _text(self.judge(self.prompt(request, answer)))
        except Exception as e:  # a remote judge failing must not break routing
            log.warning("judge verifier: judge call failed: %s: %s", type(e).__name__, e)
            return None
        score = parse_score(reply, self.scale)
        if score is None:
            log.warning("judge verifier: no score in judge reply: %r", reply[:200])
            return None
        if self.threshold is not None:
            return 1.0 if score >= self.threshold else 0.0
        return score


def _text(reply: Any) -> str:
    # Tolerate a chat message object (has .content) from a lightly wrapped model.
    content = getattr(reply, "content", reply)
    return content if isinstance(content, str) else str(content)
