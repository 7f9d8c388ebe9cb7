"""LogTemplateReuser: serves a confirmed template only for lines it provably fits."""

from __future__ import annotations

import json

import pytest

from shared_core.cache.reuse import LogTemplateReuser, make_reuser
from shared_core.request import Request

SCOPE = "scope-1"
PR = "PacketResponder <*> for block <*> terminating"


def line(text, task="logparsing", tenant="default"):
    return Request(messages=[{"role": "user", "content": text}], task=task, tenant=tenant)


@pytest.fixture
def reuser():
    r = LogTemplateReuser()
    r.learn(SCOPE, line("PacketResponder 1 for block blk_-1608999687919862906 terminating"), PR, 1)
    return r


def test_reuses_for_a_new_line_with_known_shapes(reuser):
    hit = reuser.find(SCOPE, line("PacketResponder 2 for block blk_-5009020203888190378 terminating"))
    assert hit is not None and hit.tier == "reuse" and hit.answer == PR and hit.entry_id == 1
    assert hit.detail == {"template": PR, "reuser": "log_template"}
    # white space in the line is folded before matching
    assert reuser.find(SCOPE, line("  PacketResponder 0  for block\tblk_-77 terminating ")) is not None


def test_refuses_unknown_shapes_until_confirmed(reuser):
    positive = line("PacketResponder 2 for block blk_7503483334202473044 terminating")  # blk_0, not blk_-0
    assert reuser.find(SCOPE, positive) is None
    assert reuser.find(SCOPE, line("PacketResponder two for block blk_-5 terminating")) is None
    reuser.learn(SCOPE, positive, PR, 2)
    hit = reuser.find(SCOPE, line("PacketResponder 9 for block blk_123 terminating"))
    assert hit is not None and hit.answer == PR


@pytest.mark.parametrize("text", [
    "PacketResponder 1 for block blk_-16 terminating now",  # extra words after
    "Then PacketResponder 1 for block blk_-16 terminating",  # extra words before
    "PacketResponder 1 for block blk_-16 finished",
    "something else entirely",
])
def test_refuses_templates_that_do_not_fit_the_whole_line(reuser, text):
    assert reuser.find(SCOPE, line(text)) is None


@pytest.mark.parametrize("answer, text", [
    ("<*> <*>", "session opened"),
    ("<*>", "anything at all"),
    ("<*> ok <*>", "user ok 42"),  # 2 letters of literal text
    ("<*> user <*>", "login for user from host.example.com at somewhere quite long"),  # literal < 20% of line
])
def test_too_general_templates_are_never_learned(answer, text):
    r = LogTemplateReuser()
    r.learn(SCOPE, line(text), answer, 1)
    assert r.find(SCOPE, line(text)) is None
    assert r.to_dict() in ({}, {SCOPE: []})


def test_template_that_does_not_fit_its_own_line_is_not_learned():
    r = LogTemplateReuser()
    r.learn(SCOPE, line("PacketResponder 1 for block blk_-1 terminating"), "Receiving block <*> src: <*>", 1)
    assert r.find(SCOPE, line("Receiving block blk_-1 src: /10.0.0.1:50010")) is None


@pytest.mark.parametrize("order", [("general", "specific"), ("specific", "general")])
def test_picks_the_most_specific_template(order):
    templates = {"specific": ("Receiving block <*> src: <*> dest: <*>", 11),
                 "general": ("Receiving <*> src: <*> dest: <*>", 12)}
    first = "Receiving block blk_-1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010"
    r = LogTemplateReuser()
    for name in order:
        template, eid = templates[name]
        r.learn(SCOPE, line(first), template, eid)
    hit = r.find(SCOPE, line("Receiving block blk_-99 src: /10.250.19.1:4411 dest: /10.250.19.1:50010"))
    assert hit is not None and hit.answer == templates["specific"][0] and hit.entry_id == 11


def test_wrong_hit_blocks_that_shape_combination(reuser):
    reuser.learn(SCOPE, line("PacketResponder 1 for block blk_42 terminating"), PR, 2)  # good = 2
    wrong_line = line("PacketResponder 3 for block blk_5 terminating")
    hit = reuser.find(SCOPE, wrong_line)
    assert hit is not None
    reuser.judge(SCOPE, wrong_line, hit, correct=False)
    assert reuser.find(SCOPE, line("PacketResponder 8 for block blk_6 terminating")) is None  # same shapes
    assert reuser.find(SCOPE, line("PacketResponder 8 for block blk_-6 terminating")) is not None  # other shapes


def test_wrong_hits_outweighing_confirmations_drop_the_template(reuser):
    probe = line("PacketResponder 3 for block blk_-5 terminating")
    hit = reuser.find(SCOPE, probe)
    reuser.judge(SCOPE, probe, hit, correct=False)  # bad 1 >= good 1
    assert reuser.find(SCOPE, line("PacketResponder 3 for block blk_-5 terminating")) is None
    assert reuser.to_dict() == {SCOPE: []}


def test_correct_hit_counts_as_support(reuser):
    probe = line("PacketResponder 3 for block blk_-5 terminating")
    reuser.judge(SCOPE, probe, reuser.find(SCOPE, probe), correct=True)  # good = 2
    probe2 = line("PacketResponder 4 for block blk_-6 terminating")
    reuser.judge(SCOPE, probe2, reuser.find(SCOPE, probe2), correct=False)  # bad 1 < good 2: kept
    assert reuser.find(SCOPE, line("PacketResponder 4 for block blk_-6 terminating")) is None  # blocked shapes
    reuser.learn(SCOPE, line("PacketResponder 1 for block blk_7 terminating"), PR, 3)
    assert reuser.find(SCOPE, line("PacketResponder 5 for block blk_8 terminating")) is not None


def test_scopes_and_tasks_are_separate(reuser):
    probe = line("PacketResponder 2 for block blk_-5 terminating")
    assert reuser.find("other-scope", probe) is None
    assert reuser.applies(probe) and not reuser.applies(line("x", task="default"))
    assert LogTemplateReuser(tasks=()).applies(line("x", task="anything"))


def test_canonical_is_the_template():
    r = make_reuser("log_template")
    assert r.canonical("PacketResponder {id} for block {blk}   terminating") == PR
    assert r.canonical("`PacketResponder <*> for block <*> terminating`\nexplanation") == PR
    with pytest.raises(ValueError, match="unknown reuser 'nope'"):
        make_reuser("nope")


def test_roundtrip_keeps_shapes_and_blocks(reuser):
    reuser.learn(SCOPE, line("PacketResponder 1 for block blk_42 terminating"), PR, 2)
    wrong = line("PacketResponder 3 for block blk_5 terminating")
    reuser.judge(SCOPE, wrong, reuser.find(SCOPE, wrong), correct=False)
    again = LogTemplateReuser()
    again.load(json.loads(json.dumps(reuser.to_dict())))
    assert again.to_dict() == reuser.to_dict()
    assert again.find(SCOPE, line("PacketResponder 8 for block blk_6 terminating")) is None
    hit = again.find(SCOPE, line("PacketResponder 8 for block blk_-6 terminating"))
    assert hit is not None and hit.entry_id == 1


def test_lookup_matches_only_templates_whose_literal_tokens_are_all_in_the_line():
    r = LogTemplateReuser()
    # 300 templates that share most of their words: a scan would match every one
    for i in range(300):
        r.learn(SCOPE, line(f"Receiving block blk_1 src 10.0.0.1 dest zone{chr(97 + i % 26)}{i} size 5"),
                f"Receiving block <*> src <*> dest zone{chr(97 + i % 26)}{i} size <*>", i + 1)
    new = "Receiving block blk_7 src 10.0.0.9 dest zonef57 size 77"
    found = r.candidates(SCOPE, new)
    assert [c.pattern.template for c in found] == ["Receiving block <*> src <*> dest zonef57 size <*>"]
    assert r.find(SCOPE, line(new)).entry_id == 58
    assert r.candidates(SCOPE, "Receiving block blk_7 src 10.0.0.9 dest elsewhere size 77") == []
    # a reloaded reuser files its templates the same way
    back = LogTemplateReuser()
    back.load(json.loads(json.dumps(r.to_dict())))
    assert [c.pattern.template for c in back.candidates(SCOPE, new)] == [found[0].pattern.template]
