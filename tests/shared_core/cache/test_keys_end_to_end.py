"""Through the real engine: answers that depend on earlier turns or on the middle of a long
prompt are never shared, even under a lenient fixed threshold that shares everything else."""

from __future__ import annotations

from shared_core import Engine, Request, SimulatedCandidate, SLSConfig


def engine() -> Engine:
    cfg = SLSConfig.from_dict({
        "candidates": [{"name": "m", "price_in": 1.0, "price_out": 1.0, "quality_prior": 0.5}],
        "cache": {"semantic": {"policy": "static", "initial_threshold": 0.8, "floor": 0.8}},
        "seed": 1,
    })
    said = lambda request, rng: "You said: " + request.messages[0]["content"]  # noqa: E731
    return Engine(cfg, [SimulatedCandidate(cfg.candidate("m"), said)])


def turns(*texts: str) -> Request:
    return Request(messages=[{"role": "user", "content": t} for t in texts])


def test_the_two_pin_conversations_of_issue_10_never_share():
    eng = engine()
    r = eng.run(turns("My PIN is 1111", "What did I say?"))
    eng.feedback(r.request_id, 1.0)
    same = eng.run(turns("My PIN is 1111", "what did I say"))
    assert same.tier == "semantic" and same.text == "You said: My PIN is 1111"  # the cache does serve
    other = eng.run(turns("My PIN is 2222", "What did I say?"))
    assert other.tier is None and other.text == "You said: My PIN is 2222"


DOC = "\n".join(f"Clause {i}: the tenant keeps the garden tidy and pays the water bill." for i in range(40))


def test_long_prompts_that_differ_only_in_the_middle_never_share():
    eng = engine()
    middle = len(DOC) // 2
    changed = DOC[:middle] + DOC[middle:].replace("tenant", "landlord", 1)
    r = eng.run(turns(DOC + "\nWho pays the water bill?"))
    eng.feedback(r.request_id, 1.0)
    assert eng.run(turns(DOC + "\nwho pays the water bill")).tier == "semantic"
    other = eng.run(turns(changed + "\nWho pays the water bill?"))
    assert other.tier is None and other.text.startswith("You said: " + changed[:20])
