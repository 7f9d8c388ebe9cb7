"""Log templates read as patterns: `<*>` is a wildcard for a variable part.

Used by the verified-reuse cache tier (a confirmed template is reused for a new
line only when it fits) and by LogTemplateVerifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WILDCARD = "<*>"
_WS = re.compile(r"\s+")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_LETTER = re.compile(r"[A-Za-z]")


def fold_ws(text: str) -> str:
    return _WS.sub(" ", text or "").strip()


@dataclass(frozen=True)
class TemplatePattern:
    template: str
    regex: re.Pattern
    literal_alpha: int  # letters outside wildcards: how specific the template is
    literal_chars: int
    slots: int

    def match(self, line: str) -> tuple[str, ...] | None:
        """The text each wildcard covers when the template matches the whole line."""
        m = self.regex.fullmatch(fold_ws(line))
        return m.groups() if m else None


def compile_template(template: str) -> TemplatePattern:
    template = fold_ws(template)
    parts = template.split(WILDCARD)
    regex = "(.+?)".join(re.escape(p) for p in parts)
    literal = "".join(parts)
    return TemplatePattern(
        template=template,
        regex=re.compile(regex, re.DOTALL),
        literal_alpha=len(_LETTER.findall(literal)),
        literal_chars=len(literal.replace(" ", "")),
        slots=len(parts) - 1,
    )


def shape(text: str) -> str:
    """The form of a value, not its content: runs of letters become 'a', runs of
    letters and digits with a digit become '0', punctuation and spaces stay.
    `blk_-695` -> `a_-0`, `10.0.0.1:80` -> `0.0.0.0:0`, `/var/log` -> `/a/a`."""
    return _ALNUM_RUN.sub(lambda m: "0" if any(c.isdigit() for c in m.group()) else "a", text)


def literal_tokens(template: str) -> list[str]:
    """Whitespace-separated tokens of the template with no wildcard in them; any
    line the template matches contains each of them as a whole token."""
    return [tok for tok in fold_ws(template).split(" ") if tok and WILDCARD not in tok]


_VARIABLE_LOOKING = re.compile(
    r"^(?:[-+]?\d+(?:\.\d+)?[a-zA-Z%]*|0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"
    r"|[\w.-]*\d[\w.-]*\d[\w.-]*)$"
)


def looks_variable(token: str) -> bool:
    """Numbers, hex, IP addresses, ids with several digits: values a template abstracts."""
    return bool(_VARIABLE_LOOKING.match(token.strip("()[]{}<>,;:'\"=")))


_PLACEHOLDER = re.compile(r"\{\{?[^{}]*\}?\}")


def to_template(answer: str) -> str:
    """A model's answer as a template: text between backticks if any, `{name}`
    placeholders as `<*>`, white space folded."""
    m = re.search(r"`([^`]+)`", answer)
    text = m.group(1) if m else answer.strip().splitlines()[0] if answer.strip() else ""
    return fold_ws(_PLACEHOLDER.sub(WILDCARD, text))
