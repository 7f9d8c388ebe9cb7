"""Log templates: turning a model's answer into one, and reading one as a pattern.

`to_template` is the one post-processing used for every answer (benchmarks,
cached answers, verifiers). Its rules follow the post-processing the Loghub
replay's authors applied to get their `<model>.template` columns (see
`shared_core/bench/log_agreement.py` for how often the two agree).

As a pattern, `<*>` is a wildcard for a variable part: the verified-reuse
cache tier serves a confirmed template for a new line only when it fits, and
LogTemplateVerifier checks answers with the same reading.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

WILDCARD = "<*>"
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_LETTER = re.compile(r"[A-Za-z]")

# A span between backticks: fenced block (optional language tag) or inline.
_BACKTICKS = re.compile(r"```[^\n`]*\n(.*?)```|```(.*?)```|`([^`\n]+)`", re.S)
# A quote that is not an apostrophe inside a word (isn't, user's).
_QUOTE = re.compile(r"(?<!\w)'|'(?!\w)")
# A quote closing a line: the recorded prompts ended in "... is '", so the
# answer is closed by a quote and whatever follows is chatter.
_CLOSING_QUOTE = re.compile(r"'[ \t]*(?:\n|$)")
# {{name}} first (some models double the braces), then {name} / {} / { name }.
# Braces holding `=`, quotes or a `<*>` are literal log text (Java/ObjC dumps
# such as `UserInfo={NSDescription=...}` or `Window{<*> u0 <*>}`), kept as is.
_DOUBLE_PLACEHOLDER = re.compile(r"\{\{[^{}'=]*\}\}")
_PLACEHOLDER = re.compile(r"\{[^{}'=<>]*\}")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
# Loghub's tokenisation: path-like strings are split off at these characters
# only, the other rules at these plus . - + @ # $ % &.
_PATH_SPLIT = re.compile(r"""([\s,!;:=|"'\[\](){}])""")
_TOKEN_SPLIT = re.compile(r"""([\s,!;:=|"'\[\](){}.\-+@#$%&])""")
_PATH = re.compile(r"(?:/[^/]+)+")
_NUMBER = re.compile(r"\d+")
_LONG_HEX = re.compile(r"(?=.*\d)(?=.*[a-fA-F])[0-9a-fA-F]{8,}")  # ids, hashes
_GLUED = re.compile(r"[^\s/]*<\*>[^\s/]*")  # blk_<*>, 0x<*>, user<*>
_VALUE_WORDS = {"true", "false", "null", "root", "admin"}  # Loghub abstracts these
# Adjacent wildcards that are one value in Loghub: 1.5, ip:port, a/b, #1#2,
# <*><*>. (The truth itself is split on `:`: HDFS writes ip:port as `<*>`,
# Zookeeper as `<*>:<*>`; we side with the authors' columns.)
_JOINED = re.compile(r"<\*>(?:[.:#/]?<\*>)+")


def fold_ws(s: str) -> str:
    """Runs of white space as one space, ends stripped (str.split's white space is
    re's \\s, and splitting is several times faster than the regex)."""
    return " ".join(s.split()) if s else ""


def is_correct(template: str, event_template: str) -> bool:
    return fold_ws(template) == fold_ws(event_template)


def _span(m: re.Match) -> str:
    """First line of a backtick span (a fenced block may hold notes after it)."""
    return next(g for g in m.groups() if g is not None).strip().split("\n", 1)[0]


def _extract(raw: str) -> str:
    """The template line out of a whole answer."""
    text = (raw or "").replace("\\'", "'").strip()  # \' : quote escaped inside the prompt's '...'
    first_line = text.split("\n", 1)[0]
    # Asked to print the template between backticks: take the span when it
    # starts on the first line, or the first line only introduces it ("...:").
    m = _BACKTICKS.search(text)
    if m and "\n" not in text[:m.start()]:
        return _span(m)
    # Recorded answers continue "The template of '<line>' is '": the answer ends
    # at the first unbalanced quote closing a line (balanced ones: 'Active').
    for q in _CLOSING_QUOTE.finditer(text):
        if len(_QUOTE.findall(text, 0, q.start())) % 2 == 0:
            return text[:q.start()]
    if m and first_line.rstrip().endswith(":"):
        return _span(m)
    # Otherwise the first line; the rest is explanation or more examples.
    return first_line


def _abstract(t: str) -> str:
    """One pass of the Loghub rules over an extracted line."""
    t = _DOUBLE_PLACEHOLDER.sub(WILDCARD, t)
    t = _PLACEHOLDER.sub(WILDCARD, t)
    t = fold_ws(t)
    t = _HEX.sub(WILDCARD, t)
    if "/" in t:  # a path starts with one; most lines have none
        t = "".join(WILDCARD if p[:1] == "/" and _PATH.fullmatch(p) else p for p in _PATH_SPLIT.split(t))
    tokens = [WILDCARD if tok and _is_value(tok) else tok for tok in _TOKEN_SPLIT.split(t)]
    return _JOINED.sub(WILDCARD, "".join(tokens))


@functools.lru_cache(maxsize=65536)  # tokens repeat far more than answers do
def _is_value(tok: str) -> bool:
    """A token Loghub abstracts: a number, a long hex id, a glued wildcard, a value word."""
    return (tok.lower() in _VALUE_WORDS or _NUMBER.fullmatch(tok) is not None
            or _LONG_HEX.fullmatch(tok) is not None or _GLUED.fullmatch(tok) is not None)


@functools.lru_cache(maxsize=65536)  # pure, and the same answers come back (verify, cache, judge)
def to_template(raw_output: str) -> str:
    """A model's raw answer as a template with `<*>` wildcards; idempotent."""
    # Repeat extract + abstract to a fixed point, so that the result is stable
    # by construction (collapsing wildcards can glue a new `word<*>` token, a
    # quote can become unbalanced...). It ends: a pass that changes the text
    # shortens its literal part or, failing that, removes a wildcard.
    t = raw_output or ""
    while True:
        nxt = _abstract(_extract(t))
        if nxt == t:
            return t
        t = nxt


@dataclass(frozen=True)
class TemplatePattern:
    """A template read as `parts[0] <*> parts[1] ... <*> parts[-1]`, each `<*>`
    covering at least one character.

    Matching is tokenised, not a regex: templates come from model answers, and
    a backtracking regex of `(.+?)` groups takes exponential time on a line it
    does not fit. Each wildcard takes the shortest span after which the next
    literal part occurs (one `str.find` per part, left to right; the last part
    is anchored at the end of the line), which is the same split the lazy regex
    would find: the rest of the template starts with a wildcard, so if it fits
    after some occurrence of a part it also fits after the earliest one. The
    work is linear in the line plus the template.
    """

    template: str
    parts: tuple[str, ...]
    literal_alpha: int  # letters outside wildcards: how specific the template is
    literal_chars: int
    slots: int

    def match(self, line: str) -> tuple[str, ...] | None:
        """The text each wildcard covers when the template matches the whole line."""
        return self.match_folded(fold_ws(line))

    def match_folded(self, line: str) -> tuple[str, ...] | None:
        """`match` for a line whose white space is already folded (`fold_ws`)."""
        if not self.slots:
            return () if line == self.template else None
        first, last = self.parts[0], self.parts[-1]
        end = len(line) - len(last)  # where the last wildcard's span ends
        if end < len(first) + self.slots or not line.startswith(first) or not line.endswith(last):
            return None
        captures, pos = [], len(first)
        for part in self.parts[1:-1]:
            found = line.find(part, pos + 1, end - 1)  # a non-empty span before it, and after it
            if found < 0:
                return None
            captures.append(line[pos:found])
            pos = found + len(part)
        captures.append(line[pos:end])
        return tuple(captures)


def compile_template(template: str) -> TemplatePattern:
    template = fold_ws(template)
    parts = template.split(WILDCARD)
    literal = "".join(parts)
    return TemplatePattern(
        template=template,
        parts=tuple(parts),
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
