"""LogTemplateVerifier: a template must match the whole line and abstract its values."""

from __future__ import annotations

import pytest

from shared_core.request import Request
from shared_core.verifiers import LogTemplateVerifier, make_verifier

LINE = "PacketResponder 1 for block blk_-1608999687919862906 terminating"


def req(text=LINE, task="logparsing"):
    return Request(messages=[{"role": "user", "content": text}], task=task)


@pytest.fixture
def verifier():
    return LogTemplateVerifier()


@pytest.mark.parametrize("answer", [
    "PacketResponder <*> for block <*> terminating",
    "PacketResponder {id} for block {block} terminating",  # placeholders are normalised
    "`PacketResponder <*> for block <*> terminating`\nThe first variable is the responder id.",
    "PacketResponder <*> for block blk_<*> terminating",  # glued wildcard, still fits
])
def test_good_templates(verifier, answer):
    assert verifier.verify(req(), answer) == 1.0


def test_line_whitespace_is_folded(verifier):
    assert verifier.verify(req("PacketResponder  1 for\tblock blk_-16   terminating"),
                           "PacketResponder <*> for block <*> terminating") == 1.0


@pytest.mark.parametrize("answer", [
    "",
    "   ",
    "Receiving block <*> src: <*> dest: <*>",  # another event
    "PacketResponder <*> for block <*> terminating now",  # longer than the line
    "Then PacketResponder <*> for block <*> terminating",
    "PacketResponder <*> for block <*> terminated",
    "<*> <*>",  # only wildcards
    "<*>",
])
def test_bad_templates(verifier, answer):
    assert verifier.verify(req(), answer) == 0.0


def test_values_left_as_constants_fail():
    raw = LogTemplateVerifier(extract=lambda s: s)  # no post-processing: the verifier must catch them
    assert raw.verify(req(), "PacketResponder 1 for block <*> terminating") == 0.0
    assert raw.verify(req("Connected to 10.0.0.1:8080 ok"), "Connected to 10.0.0.1:8080 ok") == 0.0
    assert raw.verify(req(), "PacketResponder <*> for block <*> terminating") == 1.0


def test_minimum_literal_letters():
    assert LogTemplateVerifier().verify(req("ok 42"), "ok <*>") == 0.0  # 2 letters
    assert LogTemplateVerifier(min_literal_letters=2).verify(req("ok 42"), "ok <*>") == 1.0


def test_applies_to_its_tasks():
    v = LogTemplateVerifier()
    assert v.applies(req()) and not v.applies(req(task="codegen"))
    assert LogTemplateVerifier(tasks=()).applies(req(task="codegen"))


def test_built_from_yaml_spec():
    v = make_verifier({"type": "log_template", "tasks": ["logs"], "min_literal_letters": 5})
    assert isinstance(v, LogTemplateVerifier) and v.tasks == ("logs",) and v.min_literal_letters == 5
    with pytest.raises(ValueError, match="unknown verifier type"):
        make_verifier({"type": "nope"})
