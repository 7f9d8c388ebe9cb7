"""Request: validation, capability needs, and the scope / exact keys of the cache."""

from __future__ import annotations

import itertools

import pytest

from shared_core.errors import RequestError
from shared_core.request import Request

CANDS = ["small", "large"]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def req(*turns, **kw) -> Request:
    msgs = list(turns) or [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "What is 2+2?"}]
    return Request(messages=msgs, **kw)


def user(text):
    return {"role": "user", "content": text}


# -- validation -------------------------------------------------------------------------

def test_empty_messages():
    with pytest.raises(RequestError, match="empty messages: a request needs at least one message"):
        Request(messages=[])


@pytest.mark.parametrize("msgs", [
    [user("")],
    [user("   \n\t")],
    [{"role": "system", "content": ""}, user(" ")],
    [{"role": "user"}],  # no content key at all
])
def test_all_empty_content(msgs):
    with pytest.raises(RequestError, match="every message has empty content"):
        Request(messages=msgs)


def test_tool_calls_count_as_content():
    r = Request(messages=[{"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}])
    assert r.is_follow_up()


@pytest.mark.parametrize("role", ["bot", "human", "User", ""])
def test_bad_role(role):
    with pytest.raises(RequestError, match=f"message 1 has unknown role '{role}'.*system.*user.*assistant.*tool"):
        Request(messages=[user("hi"), {"role": role, "content": "x"}])


def test_missing_role_and_non_text_content():
    with pytest.raises(RequestError, match="message 0 has no role"):
        Request(messages=[{"content": "hi"}])
    with pytest.raises(RequestError, match="message 0 has no role"):
        Request(messages=["hi"])
    with pytest.raises(RequestError, match="message 0 content must be text, got list"):
        Request(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])


def test_request_error_is_value_error():
    with pytest.raises(ValueError):
        Request(messages=[])


# -- derived properties -------------------------------------------------------------------

def test_query_system_prompt_temperature():
    r = Request(messages=[{"role": "system", "content": "A"}, user("first"), {"role": "assistant", "content": "ok"},
                          {"role": "system", "content": "B"}, user("second")], params={"temperature": None})
    assert r.query == "second"
    assert r.system_prompt == "A\nB"
    assert r.temperature == 0.0
    assert req(params={"temperature": 0.7}).temperature == 0.7
    # no user turn: the last message is the query
    assert Request(messages=[{"role": "system", "content": "only system"}]).query == "only system"


def test_query_text_overrides_the_last_user_turn():
    r = Request(messages=[user("Context: ... long retrieved text ...\nQuestion: who wrote it?")],
                query_text="who wrote it?")
    assert r.query == "who wrote it?"
    assert Request(messages=[user("plain")], query_text="").query == "plain"


def test_tools_add_tools_capability():
    assert req().required_capabilities == frozenset()
    assert req(tools=[TOOL]).required_capabilities == {"tools"}
    r = req(tools=[TOOL], required_capabilities=frozenset({"vision"}))
    assert r.required_capabilities == {"tools", "vision"} and isinstance(r.required_capabilities, frozenset)


def test_json_schema_adds_structured_output():
    assert req(response_format={"type": "json_schema", "json_schema": {}}).required_capabilities == {"structured_output"}
    assert req(response_format={"type": "json_object"}).required_capabilities == frozenset()


def test_is_follow_up():
    assert not req().is_follow_up()
    assert not Request(messages=[user("a"), user("b")]).is_follow_up()
    assert Request(messages=[user("a"), {"role": "assistant", "content": "b"}, user("c")]).is_follow_up()
    assert Request(messages=[user("a"), {"role": "tool", "content": "42", "tool_call_id": "t1"}]).is_follow_up()


# -- keys ---------------------------------------------------------------------------------

def test_scope_key_is_stable_and_ignores_candidate_order_and_stream():
    a = req(params={"temperature": 0, "stream": True}).scope_key(["small", "large"])
    b = req(params={"temperature": 0}).scope_key(["large", "small"])
    assert a == b
    assert len(a) == 32 and int(a, 16) >= 0


def test_scope_key_ignores_the_user_text_and_system_whitespace():
    base = req().scope_key(CANDS)
    assert req({"role": "system", "content": "Be terse."}, user("something else")).scope_key(CANDS) == base
    assert req({"role": "system", "content": "  Be\n terse. "}, user("What is 2+2?")).scope_key(CANDS) == base


def test_scope_key_differs_by_everything_that_changes_the_answer():
    variants = {
        "base": req().scope_key(CANDS),
        "tenant": req(tenant="acme").scope_key(CANDS),
        "system": req({"role": "system", "content": "Be verbose."}, user("What is 2+2?")).scope_key(CANDS),
        "no system": req(user("What is 2+2?")).scope_key(CANDS),
        "temperature": req(params={"temperature": 0.7}).scope_key(CANDS),
        "max_tokens": req(params={"max_tokens": 10}).scope_key(CANDS),
        "tools": req(tools=[TOOL]).scope_key(CANDS),
        "format": req(response_format={"type": "json_object"}).scope_key(CANDS),
        "candidates": req().scope_key(["small"]),
        "task": req(task="codegen").scope_key(CANDS),
    }
    for (n1, k1), (n2, k2) in itertools.combinations(variants.items(), 2):
        assert k1 != k2, f"{n1} and {n2} share a scope"


def test_exact_key_stable_under_whitespace():
    scope = req().scope_key(CANDS)
    k = Request(messages=[user("What is 2+2?")]).exact_key(scope)
    assert Request(messages=[user("  What   is\n2+2?\t")]).exact_key(scope) == k
    assert Request(messages=[user("What is 2+3?")]).exact_key(scope) != k
    assert Request(messages=[user("What is 2+2?")]).exact_key(req(tenant="x").scope_key(CANDS)) != k


def test_exact_key_depends_on_the_whole_conversation():
    scope = "s"
    one = Request(messages=[user("a"), {"role": "assistant", "content": "b"}, user("c")]).exact_key(scope)
    two = Request(messages=[user("a"), {"role": "assistant", "content": "B"}, user("c")]).exact_key(scope)
    three = Request(messages=[user("c")]).exact_key(scope)
    assert len({one, two, three}) == 3
    t1 = Request(messages=[user("a"), {"role": "tool", "content": "x", "tool_call_id": "1"}]).exact_key(scope)
    t2 = Request(messages=[user("a"), {"role": "tool", "content": "x", "tool_call_id": "2"}]).exact_key(scope)
    assert t1 != t2


def test_exact_key_depends_on_tool_calls():
    def convo(city):
        call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}
        return Request(messages=[user("What's the weather where I'm going?"),
                                 {"role": "assistant", "content": "", "tool_calls": [call]},
                                 {"role": "tool", "content": "sunny", "tool_call_id": "c1"}])
    assert convo("Paris").exact_key("s") != convo("Oslo").exact_key("s")


# -- the sls_* options of an adapter call -------------------------------------------------

def test_routing_options_leave_the_candidate_kwargs():
    from shared_core.request import pop_routing_options
    kwargs = {"sls_task": "qa", "sls_max_cost_usd": 1, "sls_metadata": {"agreement": True}, "temperature": 0.2}
    opts = pop_routing_options(kwargs, task="default", tenant="acme", allow_cache=False)
    assert (opts.task, opts.tenant, opts.candidates, opts.allow_cache) == ("qa", "acme", None, False)
    assert opts.metadata == {"agreement": True, "max_cost_usd": 1.0}
    assert kwargs == {"temperature": 0.2}


@pytest.mark.parametrize("kwargs, message", [
    ({"sls_taks": "qa"}, "unknown routing option 'sls_taks'; known: sls_task"),
    ({"sls_max_cost_usd": "cheap"}, "sls_max_cost_usd must be a number >= 0"),
    ({"sls_max_cost_usd": -1.0}, "sls_max_cost_usd must be a number >= 0"),
    ({"sls_metadata": ["agreement"]}, "sls_metadata must be a dict, got list"),
])
def test_routing_options_name_a_bad_one(kwargs, message):
    from shared_core.request import pop_routing_options
    with pytest.raises(RequestError, match=message):
        pop_routing_options(kwargs, task="default", tenant="default")


def test_scope_key_memo_gives_the_digest_and_keeps_scopes_apart():
    from shared_core import request as request_module

    def req(**kw):
        return Request(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], **kw)

    names = ["a", "b"]
    variants = [req(), req(params={"temperature": 1}), req(params={"temperature": 1.0}),
                req(params={"seed": True}), req(params={"seed": 1}), req(tenant="t2"), req(task="logs"),
                req(params={"stop": ["\n"]})]  # a list: not memoised, still digested
    first = [r.scope_key(names) for r in variants]
    request_module._SCOPES.clear()
    fresh = [r.scope_key(names) for r in variants]
    assert first == fresh == [r.scope_key(names) for r in variants]  # memoised answers are the digest
    assert len(set(first)) == len(first)  # 1 and 1.0, 1 and True are different parameters, as in the digest
    assert req().scope_key(["b", "a"]) == first[0] and req().scope_key(["a"]) != first[0]


def test_scope_and_exact_keys_are_the_digests_saved_state_and_redis_already_hold():
    # pinned values: a change to the hashing would orphan every saved cache entry and Redis key
    r = Request(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is  2+2?"},
                          {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}],
                task="qa", tenant="t1")
    scope = r.scope_key(["b", "a"])
    assert scope == "d74a4047ed37318de8f6b2239ca17fb3"
    assert r.exact_key(scope) == r.exact_key(scope) == "9758fcca34b1b71726c88bed4de615c6"  # the kept hash is copied
