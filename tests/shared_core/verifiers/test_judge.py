"""JudgeVerifier with canned judge replies (a real judge is a remote LLM)."""

import logging

import pytest

from shared_core.request import Request
from shared_core.verifiers import JudgeVerifier
from shared_core.verifiers.judge import parse_score

REQ = Request(messages=[{"role": "system", "content": "be brief"},
                        {"role": "user", "content": "What is 2+2?"}], task="qa")


@pytest.mark.parametrize("reply, expected", [
    ("The answer is right.\nSCORE: 8", 0.8),
    ("On a scale of 0-10 it is decent.\n**Score:** 7/10", 0.7),
    ("score = 3 out of 5", 0.6),
    ("I'd give it 9/10.", 0.9),
    ("6", 0.6),
    ("Reasoning first.\n**4**", 0.4),
    ("SCORE: 85", 0.85),  # above the scale: read as a percentage
    ("SCORE: 12/10", 1.0),  # clamped
    ("Yes.", 1.0),
    ("no, it says 5", 0.0),
    ("Incorrect", 0.0),
    ("The arithmetic checks out.\nyes", 1.0),
    ("I cannot judge this.", None),
    ("No score given.", None),
    ("", None),
])
def test_parse_score(reply, expected):
    got = parse_score(reply)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_prompt_template_and_last_user_turn():
    seen = []
    v = JudgeVerifier(lambda prompt: seen.append(prompt) or "SCORE: 10",
                      prompt_template='Q={question} A={answer} reply JSON {"score": n}')
    assert v.verify(REQ, "4") == 1.0
    assert seen == ['Q=What is 2+2? A=4 reply JSON {"score": n}']


def test_default_prompt_contains_question_and_answer():
    seen = []
    JudgeVerifier(lambda p: seen.append(p) or "SCORE: 5").verify(REQ, "four")
    assert "What is 2+2?" in seen[0] and "four" in seen[0] and "SCORE:" in seen[0]


def test_threshold_turns_score_into_pass_fail():
    v = JudgeVerifier(lambda p: "SCORE: 7", threshold=0.7)
    assert v.verify(REQ, "4") == 1.0
    v = JudgeVerifier(lambda p: "SCORE: 6", threshold=0.7)
    assert v.verify(REQ, "4") == 0.0
    assert JudgeVerifier(lambda p: "hmm", threshold=0.5).verify(REQ, "4") is None


def test_judge_exception_gives_none_and_warns(caplog):
    def broken(prompt):
        raise TimeoutError("judge down")

    with caplog.at_level(logging.WARNING):
        assert JudgeVerifier(broken).verify(REQ, "4") is None
    assert "judge down" in caplog.text


def test_chat_message_like_reply_and_custom_scale():
    class Msg:
        content = "SCORE: 4"

    assert JudgeVerifier(lambda p: Msg(), scale=5).verify(REQ, "4") == pytest.approx(0.8)


def test_applies_by_task():
    v = JudgeVerifier(lambda p: "SCORE: 1", tasks=["qa"])
    assert v.name == "judge" and v.applies(REQ)
    assert not v.applies(Request(messages=[{"role": "user", "content": "x"}], task="codegen"))
