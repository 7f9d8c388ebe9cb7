"""SmartRouterLLM with real LangChain objects: langchain-core's fake chat models
as candidates, real chains, a tool loop, an agent, callbacks and tracing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import JsonOutputParser, StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.tracers.context import collect_runs
from lc_fakes import FailingFakeChatModel, ProviderError, ToolCallingFakeChatModel, make_router, tool_call_message
from pydantic import BaseModel, Field, SecretStr

from langchain_sls import SimulatedChatModel, SmartRouterLLM
from shared_core.errors import FeedbackError, NoCandidateError

META_KEYS = {"sls_request_id", "sls_model", "sls_cache_tier", "sls_predicted", "sls_cost_usd", "sls_latency_s"}


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Person(BaseModel):
    """A person."""

    name: str = Field(description="The person's name")
    age: int = Field(description="Age in years")


def merged(chunks: list[Any]) -> Any:
    out = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


# -- invoke, cache, chains, batch ----------------------------------------------------------------
def test_invoke_routes_and_reports_metadata_and_usage(router: SmartRouterLLM) -> None:
    msg = router.invoke("What is the capital of France?")
    assert isinstance(msg, AIMessage)
    assert msg.content == "cheap answer"
    meta = msg.response_metadata
    assert META_KEYS <= set(meta)
    assert meta["sls_model"] == "cheap" and meta["sls_cache_tier"] is None
    assert set(meta["sls_predicted"]) == {"p_good", "cost_usd", "latency_s"}
    assert meta["sls_cost_usd"] > 0
    usage = msg.usage_metadata
    assert usage["input_tokens"] > 0 and usage["output_tokens"] == 2
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    # the actual cost is the candidate's usage at its configured prices
    assert meta["sls_cost_usd"] == pytest.approx((usage["input_tokens"] * 0.1 + 2 * 0.4) / 1e6, rel=1e-3)


def test_repeat_is_served_by_the_cache_without_calling_a_model() -> None:
    fake = GenericFakeChatModel(messages=iter(["first", "second"]))
    router = make_router([{"name": "only", "model": fake, "price_in": 1, "price_out": 2}])
    first = router.invoke("Same question?")
    again = router.invoke("Same question?")
    assert first.content == again.content == "first"
    assert again.response_metadata["sls_cache_tier"] == "exact"
    assert again.response_metadata["sls_model"] == "only"
    assert again.response_metadata["sls_cost_usd"] == 0
    assert again.usage_metadata == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    assert next(fake.messages) == "second"  # the model was called once


def test_candidate_usage_is_kept_as_reported() -> None:
    reply = AIMessage(content="hi", usage_metadata={"input_tokens": 120, "output_tokens": 30, "total_tokens": 150})
    router = make_router([{"name": "m", "model": GenericFakeChatModel(messages=iter([reply])),
                           "price_in": 1.0, "price_out": 10.0}])
    msg = router.invoke("hello")
    assert msg.usage_metadata["input_tokens"] == 120 and msg.usage_metadata["output_tokens"] == 30
    assert msg.response_metadata["sls_cost_usd"] == pytest.approx((120 * 1.0 + 30 * 10.0) / 1e6)


def test_real_chain_with_prompt_and_parser(router: SmartRouterLLM) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("human", "{question}")])
    chain = prompt | router | StrOutputParser()
    assert chain.invoke({"question": "What is 2 + 2?"}) == "cheap answer"
    assert list(chain.stream({"question": "What is 3 + 3?"}))  # streams strings through the parser


def test_batch_and_abatch(router: SmartRouterLLM) -> None:
    outs = router.batch(["one?", "two?", "three?"])
    assert [o.content for o in outs] == ["cheap answer"] * 3
    assert len({o.response_metadata["sls_request_id"] for o in outs}) == 3

    async def run() -> list[AIMessage]:
        return await router.abatch(["four?", "five?"])

    import asyncio

    assert [o.response_metadata["sls_model"] for o in asyncio.run(run())] == ["cheap", "cheap"]


async def test_ainvoke(router: SmartRouterLLM) -> None:
    msg = await router.ainvoke([SystemMessage("be brief"), HumanMessage("hi async")])
    assert msg.content == "cheap answer" and msg.response_metadata["sls_model"] == "cheap"
    assert msg.usage_metadata["input_tokens"] > 0


def test_model_kwarg_restricts_to_one_candidate(router: SmartRouterLLM) -> None:
    msg = router.invoke("pick premium", model="premium")
    assert msg.content == "premium answer" and msg.response_metadata["sls_model"] == "premium"


# -- streaming --------------------------------------------------------------------------------------
def test_stream_is_real_streaming_from_the_candidate(router: SmartRouterLLM) -> None:
    chunks = list(router.stream("stream it"))
    assert len(chunks) > 5  # FakeListChatModel streams character by character
    full = merged(chunks)
    assert full.content == "cheap answer"
    assert full.response_metadata["sls_model"] == "cheap" and full.response_metadata["sls_cache_tier"] is None
    assert full.usage_metadata["output_tokens"] == 2 and full.usage_metadata["input_tokens"] > 0
    assert chunks[-1].chunk_position == "last"
    # and the streamed answer was cached once complete
    again = router.invoke("stream it")
    assert again.response_metadata["sls_cache_tier"] == "exact" and again.content == "cheap answer"


def test_cache_hit_streams_the_cached_answer() -> None:
    fake = GenericFakeChatModel(messages=iter(["the cached answer has several words"]))
    router = make_router([{"name": "m", "model": fake, "price_in": 1, "price_out": 2}])
    router.invoke("cache me")
    chunks = list(router.stream("cache me"))
    assert len(chunks) >= 6
    full = merged(chunks)
    assert full.content == "the cached answer has several words"
    assert full.response_metadata["sls_cache_tier"] == "exact"
    assert full.usage_metadata["total_tokens"] == 0


async def test_astream(router: SmartRouterLLM) -> None:
    chunks = [c async for c in router.astream("astream it")]
    full = merged(chunks)
    assert len(chunks) > 5 and full.content == "cheap answer"
    assert full.response_metadata["sls_model"] == "cheap"
    hit = merged([c async for c in router.astream("astream it")])
    assert hit.content == "cheap answer" and hit.response_metadata["sls_cache_tier"] == "exact"


# -- errors and fallback ---------------------------------------------------------------------------
def test_failing_candidate_is_cooled_down_and_the_next_serves() -> None:
    router = make_router([
        {"name": "flaky", "model": FailingFakeChatModel(responses=["never"]), "price_in": 0.1, "price_out": 0.1},
        {"name": "steady", "model": FakeListChatModel(responses=["steady answer"]), "price_in": 1, "price_out": 1},
    ])
    msg = router.invoke("hello")
    assert msg.content == "steady answer" and msg.response_metadata["sls_model"] == "steady"
    assert msg.response_metadata["sls_attempts"][0]["model"] == "flaky"
    assert "ProviderError" in msg.response_metadata["sls_attempts"][0]["error"]
    assert "flaky" in router.stats()["cooling"]
    # cooling down: the next request does not even try it
    assert router.invoke("another").response_metadata["sls_attempts"] == []


def test_stream_failing_before_first_chunk_falls_back() -> None:
    router = make_router([
        {"name": "flaky", "model": FakeListChatModel(responses=["broken"], error_on_chunk_number=0),
         "price_in": 0.1, "price_out": 0.1},
        {"name": "steady", "model": FakeListChatModel(responses=["steady stream"]), "price_in": 1, "price_out": 1},
    ])
    full = merged(list(router.stream("stream with fallback")))
    assert full.content == "steady stream"
    assert full.response_metadata["sls_model"] == "steady"
    assert full.response_metadata["sls_attempts"][0]["model"] == "flaky"


async def test_astream_failing_before_first_chunk_falls_back() -> None:
    router = make_router([
        {"name": "flaky", "model": FailingFakeChatModel(responses=["x"]), "price_in": 0.1, "price_out": 0.1},
        {"name": "steady", "model": FakeListChatModel(responses=["async steady"]), "price_in": 1, "price_out": 1},
    ])
    full = merged([c async for c in router.astream("async fallback")])
    assert full.content == "async steady" and full.response_metadata["sls_model"] == "steady"


def test_stream_failing_after_output_raises() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModelError

    router = make_router([
        {"name": "flaky", "model": FakeListChatModel(responses=["partial answer"], error_on_chunk_number=4),
         "price_in": 0.1, "price_out": 0.1},
        {"name": "steady", "model": FakeListChatModel(responses=["steady"]), "price_in": 1, "price_out": 1},
    ])
    seen = []
    with pytest.raises(FakeListChatModelError):
        for chunk in router.stream("half then fail"):
            seen.append(chunk.content)
    assert "".join(seen) == "part"


def test_no_candidate_error_says_why() -> None:
    router = make_router([
        {"name": "tiny", "model": FakeListChatModel(responses=["x"]), "price_in": 1, "price_out": 1,
         "context_window": 50},
    ])
    with pytest.raises(NoCandidateError, match="context window"):
        router.invoke("word " * 200)
    with pytest.raises(NoCandidateError, match="per-request cap"):
        router.invoke("short", sls_max_cost_usd=1e-12)
    with pytest.raises(NoCandidateError, match="lacks capability tools"):
        router.bind_tools([multiply]).invoke("use a tool")
    image = HumanMessage(content=[{"type": "text", "text": "what is this?"},
                                  {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}])
    with pytest.raises(NoCandidateError, match="lacks capability vision"):
        router.invoke([image])


def test_all_candidates_failing_raises_with_their_errors() -> None:
    router = make_router([{"name": "a", "model": FailingFakeChatModel(responses=["x"]), "price_in": 1,
                           "price_out": 1}])
    with pytest.raises(NoCandidateError, match="ProviderError"):
        router.invoke("hi")


# -- tools -----------------------------------------------------------------------------------------------
def test_bind_tools_routes_to_tool_capable_candidates_and_passes_schemas() -> None:
    tooler = ToolCallingFakeChatModel(messages=iter([tool_call_message("multiply", {"a": 6, "b": 7})]))
    router = make_router([
        {"name": "no-tools", "model": FakeListChatModel(responses=["x"]), "price_in": 0.01, "price_out": 0.01},
        {"name": "tooler", "model": tooler, "price_in": 3, "price_out": 15},
    ])
    assert "tools" not in router.engine.config.candidate("no-tools").capabilities  # inferred from the class
    msg = router.bind_tools([multiply], tool_choice="multiply").invoke("what is 6 times 7?")
    assert msg.response_metadata["sls_model"] == "tooler"
    assert msg.tool_calls[0]["name"] == "multiply" and msg.tool_calls[0]["args"] == {"a": 6, "b": 7}
    sent = tooler.seen[-1]
    assert sent["tools"][0]["function"]["name"] == "multiply"
    assert sent["tool_choice"] == "multiply"


def test_tool_result_turn_is_pinned_to_the_model_that_asked() -> None:
    a = ToolCallingFakeChatModel(messages=iter(["from A"]))
    b = ToolCallingFakeChatModel(messages=iter(["from B: 42"]))
    router = make_router([{"name": "A", "model": a, "price_in": 0.1, "price_out": 0.1},
                          {"name": "B", "model": b, "price_in": 5, "price_out": 5}])
    asked = tool_call_message("multiply", {"a": 6, "b": 7}, "call_9")
    asked.response_metadata = {"sls_model": "B"}
    convo = [HumanMessage("6 times 7?"), asked, ToolMessage("42", tool_call_id="call_9")]
    msg = router.bind_tools([multiply]).invoke(convo)
    assert msg.content == "from B: 42" and msg.response_metadata["sls_model"] == "B"
    # without the tool result the cheaper A would have answered
    assert router.bind_tools([multiply]).invoke("hello").response_metadata["sls_model"] == "A"


def test_langgraph_free_tool_loop() -> None:
    model = ToolCallingFakeChatModel(messages=iter([tool_call_message("multiply", {"a": 6, "b": 7}),
                                                    AIMessage(content="6 times 7 is 42.")]))
    router = make_router([
        {"name": "plain", "model": FakeListChatModel(responses=["x"]), "price_in": 0.01, "price_out": 0.01},
        {"name": "agent-model", "model": model, "price_in": 1, "price_out": 2},
        {"name": "other-tools", "model": ToolCallingFakeChatModel(messages=iter([])), "price_in": 5,
         "price_out": 5},
    ])
    llm = router.bind_tools([multiply])
    messages: list[Any] = [HumanMessage("What is 6 times 7?")]
    for _ in range(5):
        ai = llm.invoke(messages)
        messages.append(ai)
        if not ai.tool_calls:
            break
        for call in ai.tool_calls:
            messages.append(multiply.invoke(call))  # a ToolMessage
    assert messages[-1].content == "6 times 7 is 42."
    assert isinstance(messages[2], ToolMessage) and messages[2].content == "42"
    routed = [m.response_metadata["sls_model"] for m in messages if isinstance(m, AIMessage)]
    assert routed == ["agent-model", "agent-model"]
    assert messages[1].response_metadata["sls_excluded"] == {"plain": "lacks capability tools"}
    # the pin is soft: other-tools stays ranked behind agent-model as a fallback, plain still lacks tools
    assert messages[-1].response_metadata["sls_excluded"] == {"plain": "lacks capability tools"}
    assert messages[-1].response_metadata["sls_reason"].startswith("tool loop pinned to agent-model; ")


def test_tool_result_turn_falls_back_when_the_pinned_model_fails() -> None:
    class DownToolModel(ToolCallingFakeChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise ProviderError("503 service unavailable (fake)")

    backup = ToolCallingFakeChatModel(messages=iter(["from backup: 42"]))
    router = make_router([
        {"name": "plain", "model": FakeListChatModel(responses=["no tools here"]), "price_in": 0.01, "price_out": 0.01},
        {"name": "asker", "model": DownToolModel(messages=iter([])), "price_in": 0.1, "price_out": 0.1},
        {"name": "backup", "model": backup, "price_in": 5, "price_out": 5},
    ])
    asked = tool_call_message("multiply", {"a": 6, "b": 7}, "call_9")
    asked.response_metadata = {"sls_model": "asker"}
    convo = [HumanMessage("6 times 7?"), asked, ToolMessage("42", tool_call_id="call_9")]
    msg = router.bind_tools([multiply]).invoke(convo)
    meta = msg.response_metadata
    assert msg.content == "from backup: 42" and meta["sls_model"] == "backup"
    assert [a["model"] for a in meta["sls_attempts"]] == ["asker"]
    assert meta["sls_excluded"] == {"plain": "lacks capability tools"}
    assert isinstance(backup.seen[-1]["messages"][-1], ToolMessage)  # the backup reads the tool result


def test_tool_call_answers_are_not_cached_by_default() -> None:
    model = ToolCallingFakeChatModel(messages=iter([tool_call_message("multiply", {"a": 1, "b": 2}, "c1"),
                                                    tool_call_message("multiply", {"a": 1, "b": 2}, "c2")]))
    router = make_router([{"name": "m", "model": model, "price_in": 1, "price_out": 1}])
    llm = router.bind_tools([multiply])
    assert llm.invoke("1 times 2?").response_metadata["sls_cache_tier"] is None
    assert llm.invoke("1 times 2?").response_metadata["sls_cache_tier"] is None


def test_cached_tool_calls_replay_when_enabled() -> None:
    model = ToolCallingFakeChatModel(messages=iter([tool_call_message("multiply", {"a": 1, "b": 2}, "c1")]))
    router = make_router([{"name": "m", "model": model, "price_in": 1, "price_out": 1}], cache_tool_calls=True)
    llm = router.bind_tools([multiply])
    llm.invoke("1 times 2?")
    hit = llm.invoke("1 times 2?")
    assert hit.response_metadata["sls_cache_tier"] == "exact"
    assert hit.tool_calls[0]["name"] == "multiply" and hit.tool_calls[0]["args"] == {"a": 1, "b": 2}
    streamed = merged(list(llm.stream("1 times 2?")))
    assert streamed.tool_calls[0]["args"] == {"a": 1, "b": 2}


def test_streamed_tool_calls_come_through() -> None:
    # GenericFakeChatModel cannot stream tool calls; the simulated model streams them as tool_call_chunks
    model = SimulatedChatModel(tool_calls=[{"name": "multiply", "args": {"a": 2, "b": 3}}])
    router = make_router([{"name": "m", "model": model, "price_in": 1, "price_out": 1}])
    chunks = list(router.bind_tools([multiply]).stream("2 times 3?"))
    full = merged(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("multiply", {"a": 2, "b": 3})]
    assert full.response_metadata["sls_model"] == "m"
    assert full.usage_metadata["output_tokens"] > 0


def test_real_agent_with_create_agent() -> None:
    agents = pytest.importorskip("langchain.agents")
    model = ToolCallingFakeChatModel(messages=iter([tool_call_message("multiply", {"a": 6, "b": 7}),
                                                    AIMessage(content="The answer is 42.")]))
    router = make_router([{"name": "agent-model", "model": model, "price_in": 1, "price_out": 2}])
    agent = agents.create_agent(model=router, tools=[multiply])
    state = agent.invoke({"messages": [HumanMessage("What is 6 times 7?")]})
    final = state["messages"][-1]
    assert final.content == "The answer is 42."
    tool_msgs = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert tool_msgs and tool_msgs[0].content == "42"
    assert all(m.response_metadata["sls_model"] == "agent-model" for m in state["messages"] if isinstance(m, AIMessage))


# -- structured output -------------------------------------------------------------------------------------
def test_with_structured_output_via_tool_calling() -> None:
    model = ToolCallingFakeChatModel(messages=iter([tool_call_message("Person", {"name": "Ada", "age": 36})] * 2))
    router = make_router([{"name": "m", "model": model, "price_in": 1, "price_out": 1}])
    assert router.with_structured_output(Person).invoke("Who wrote the first program?") == Person(name="Ada", age=36)
    out = router.with_structured_output(Person, include_raw=True).invoke("Who else?")
    assert out["parsed"] == Person(name="Ada", age=36) and out["parsing_error"] is None
    assert out["raw"].response_metadata["sls_model"] == "m"
    assert model.seen[-1]["tool_choice"] == "Person"


class JsonModeFakeChatModel(FakeListChatModel):
    """A fake with a JSON mode: with_structured_output(method='json_mode') returns raw + parsed."""

    def with_structured_output(self, schema: Any = None, *, method: str = "json_mode", include_raw: bool = False,
                               **kwargs: Any) -> Any:
        assert method in ("json_mode", "json_schema") and include_raw
        parser = JsonOutputParser()
        return RunnableMap(raw=self) | RunnablePassthrough.assign(
            parsed=lambda d: parser.invoke(d["raw"]), parsing_error=lambda _: None)


def test_with_structured_output_json_mode() -> None:
    router = make_router([
        {"name": "tools-only", "model": ToolCallingFakeChatModel(messages=iter([])), "price_in": 0.01,
         "price_out": 0.01},
        {"name": "json", "model": JsonModeFakeChatModel(responses=['{"name": "Grace", "age": 85}']),
         "price_in": 1, "price_out": 1, "capabilities": ["json_mode", "structured_output", "streaming"]},
    ])
    structured = router.with_structured_output(Person, method="json_mode")
    assert structured.invoke("Who found the first bug?") == Person(name="Grace", age=85)
    raw = router.with_structured_output(Person, method="json_schema", include_raw=True).invoke("Again?")
    assert raw["parsed"] == Person(name="Grace", age=85)
    assert raw["raw"].response_metadata["sls_model"] == "json"
    # the json answer was cached, and a stream of the structured call gives the same JSON
    assert json.loads(merged(list(router.bind(response_format={"type": "json_object"}).stream("Stream?"))).content)


def test_with_structured_output_needs_a_capable_candidate(router: SmartRouterLLM) -> None:
    with pytest.raises(ValueError, match="json_mode"):
        router.with_structured_output(Person, method="json_mode")
    with pytest.raises(ValueError, match="Unrecognized method"):
        router.with_structured_output(Person, method="telepathy")


# -- callbacks, tracing, feedback, tokens -------------------------------------------------------------------
class RunRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []
        self.tokens = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, parent_run_id: Any = None,
                            tags: Any = None, metadata: Any = None, **kwargs: Any) -> None:
        self.starts.append({"run_id": run_id, "parent": parent_run_id, "tags": tags or [],
                            "metadata": metadata or {}})

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens += 1


def _check_child_run(rec: RunRecorder) -> None:
    assert len(rec.starts) == 2, rec.starts
    router_run, candidate_run = rec.starts
    assert candidate_run["parent"] == router_run["run_id"]
    assert "sls:candidate" in candidate_run["tags"] and candidate_run["metadata"]["sls_candidate"] == "cheap"


def test_callbacks_see_the_candidate_as_a_child_run(router: SmartRouterLLM) -> None:
    rec = RunRecorder()
    router.invoke("callbacks?", config={"callbacks": [rec]})
    _check_child_run(rec)
    rec = RunRecorder()
    list(router.stream("stream callbacks?", config={"callbacks": [rec]}))
    _check_child_run(rec)
    assert rec.tokens > 0


async def test_async_callbacks_see_the_candidate_as_a_child_run(router: SmartRouterLLM) -> None:
    rec = RunRecorder()
    await router.ainvoke("async callbacks?", config={"callbacks": [rec]})
    _check_child_run(rec)
    rec = RunRecorder()
    _ = [c async for c in router.astream("async stream callbacks?", config={"callbacks": [rec]})]
    _check_child_run(rec)


def test_tracer_sees_routed_call_nested_in_chain(router: SmartRouterLLM) -> None:
    chain = ChatPromptTemplate.from_template("Q: {q}") | router | StrOutputParser()
    with collect_runs() as cb:
        chain.invoke({"q": "traced?"})
    (root,) = cb.traced_runs
    router_run = next(r for r in root.child_runs if r.name == "SmartRouterLLM")
    assert [c.name for c in router_run.child_runs] == ["FakeListChatModel"]
    out = router_run.outputs["generations"][0][0]["message"]["kwargs"]
    assert out["response_metadata"]["sls_model"] == "cheap" and out["usage_metadata"]["input_tokens"] > 0


async def test_events_of_invoke_inside_a_streamed_chain(router: SmartRouterLLM) -> None:
    """astream_events makes invoke stream internally: the candidate is still a child run."""
    chain = RunnableLambda(lambda q: router.invoke(q))
    starts = {}
    async for ev in chain.astream_events("events?", version="v2"):
        if ev["event"] == "on_chat_model_start":
            starts[ev["name"]] = ev
    assert starts["FakeListChatModel"]["parent_ids"][-1] == starts["SmartRouterLLM"]["run_id"]


def test_feedback_reaches_the_engine(router: SmartRouterLLM) -> None:
    msg = router.invoke("rate me")
    assert router.feedback(msg, 0.0) is True  # wrong: the cached entry is rejected
    with pytest.raises(FeedbackError):  # the same request by its id: one score per request
        router.feedback(msg.response_metadata["sls_request_id"], 0.0)
    assert router.feedback("no-such-request", 1.0) is False
    assert router.stats()["feedback_events"] == 1
    assert router.invoke("rate me").response_metadata["sls_cache_tier"] is None


class _RateLimited(Exception):
    status_code = 429


class _Flaky(FakeListChatModel):
    """Stands in for a provider: `failures` 429s, then `delay_s` per answer."""

    failures: int = 0
    delay_s: float = 0.0

    def _call(self, *args: Any, **kwargs: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise _RateLimited("429 rate limit (fake)")
        time.sleep(self.delay_s)
        return super()._call(*args, **kwargs)

    async def _acall(self, *args: Any, **kwargs: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise _RateLimited("429 rate limit (fake)")
        await asyncio.sleep(self.delay_s)
        return super()._call(*args, **kwargs)


def _two(first: FakeListChatModel, **kwargs: Any) -> SmartRouterLLM:
    return make_router([{"name": "first", "model": first, "price_in": 0.1, "price_out": 0.1},
                        {"name": "second", "model": FakeListChatModel(responses=["from second"]), "price_in": 9,
                         "price_out": 9}], **kwargs)


@pytest.mark.parametrize("use_async", [False, True])
def test_max_retries_retries_a_429_on_the_same_candidate(use_async) -> None:
    router = _two(_Flaky(responses=["from first"], failures=2), max_retries=2)
    msg = asyncio.run(router.ainvoke("hello")) if use_async else router.invoke("hello")
    assert msg.content == "from first" and msg.response_metadata["sls_attempts"] == []
    router = _two(_Flaky(responses=["from first"], failures=2), max_retries=1)  # too few: falls back
    msg = asyncio.run(router.ainvoke("hello")) if use_async else router.invoke("hello")
    assert msg.content == "from second" and "429" in msg.response_metadata["sls_attempts"][0]["error"]


@pytest.mark.parametrize("use_async", [False, True])
def test_timeout_gives_up_on_a_slow_candidate_and_falls_back(use_async) -> None:
    router = _two(_Flaky(responses=["from first"], delay_s=3.0), timeout=0.2, max_retries=0)
    msg = asyncio.run(router.ainvoke("hello")) if use_async else router.invoke("hello")
    assert msg.content == "from second"
    assert "did not answer within timeout=0.2 s" in msg.response_metadata["sls_attempts"][0]["error"]


def test_python_verifier_scores_answers() -> None:
    router = make_router([{"name": "m", "model": FakeListChatModel(responses=["it is 42"]), "price_in": 1,
                           "price_out": 1}], verifiers=[lambda question, answer: 1.0 if "42" in answer else 0.0])
    msg = router.invoke("6 times 7?")
    assert msg.response_metadata["sls_verified"] == 1.0
    assert router.stats()["feedback_events"] == 1


def test_get_num_tokens_is_offline(router: SmartRouterLLM) -> None:
    assert router.get_num_tokens("hello world") == 2
    assert router.get_token_ids("hello world") == [15339, 1917]  # cl100k_base
    n = router.get_num_tokens_from_messages([HumanMessage("hello world")])
    assert n > 2
    assert router.get_num_tokens_from_messages([HumanMessage("hello world")], tools=[multiply]) > n


def test_api_keys_never_reach_config_state_or_repr(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLS_TEST_SECRET", "sk-very-secret-123")
    state = tmp_path / "state"
    yaml_text = f"""
candidates:
  - name: fake
    price_in: 1
    price_out: 2
    provider:
      class: langchain_core.language_models.fake_chat_models.FakeListChatModel
      kwargs: {{responses: ["ok"], api_key: "${{SLS_TEST_SECRET}}"}}
state: {{path: "{state}"}}
"""
    path = tmp_path / "router.yaml"
    path.write_text(yaml_text)
    router = SmartRouterLLM.from_config(path)
    assert router.invoke("hi").content == "ok"
    router.save()
    assert router.engine.config.candidate("fake").provider["kwargs"]["api_key"] == "***"
    texts = [repr(router), str(router.engine.config.to_dict())] + \
        [p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file()]
    assert not any("sk-very-secret-123" in t for t in texts)


def _cands() -> list[dict[str, Any]]:
    return [{"name": "cheap", "model": FakeListChatModel(responses=["cheap answer"]), "price_in": 0.1,
             "price_out": 0.4},
            {"name": "premium", "model": FakeListChatModel(responses=["premium answer"]), "price_in": 5,
             "price_out": 15}]


def test_streaming_flag_streams_invoke_and_disable_streaming_invokes() -> None:
    rec = RunRecorder()
    msg = make_router(_cands(), streaming=True).invoke("streamed invoke", config={"callbacks": [rec]})
    assert msg.content == "cheap answer" and msg.response_metadata["sls_model"] == "cheap"
    assert rec.tokens > 5 and msg.usage_metadata["output_tokens"] == 2
    _check_child_run(rec)
    chunks = list(make_router(_cands(), disable_streaming=True).stream("not streamed"))
    assert len(chunks) == 1 and chunks[0].response_metadata["sls_model"] == "cheap"


def test_run_budget_exhausted_says_so() -> None:
    router = make_router(_cands(), config={"budget": {"run_budget_usd": 1e-9}})
    with pytest.raises(NoCandidateError, match="run budget"):
        router.invoke("anything")


class LeakyFakeChatModel(FakeListChatModel):
    """A fake whose provider error echoes its API key, as some providers' 401s do."""

    api_key: SecretStr = SecretStr("sk-leaky-secret-999")

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ProviderError(f"401 invalid api key {self.api_key.get_secret_value()}")


def test_keys_echoed_in_provider_errors_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    router = make_router([{"name": "leaky", "model": LeakyFakeChatModel(responses=["x"]), "price_in": 0.1,
                           "price_out": 0.1}] + _cands()[1:])
    msg = router.invoke("hi")
    assert msg.response_metadata["sls_model"] == "premium"
    attempt = msg.response_metadata["sls_attempts"][0]["error"]
    assert "401 invalid api key ***" in attempt and "sk-leaky" not in attempt
    assert "sk-leaky" not in caplog.text and "sk-leaky" not in str(router.stats())


def test_agreement_cascade_through_the_chat_model() -> None:
    one_token = {"expected_output_tokens": 1}
    router = make_router([
        {"name": "c1", "model": FakeListChatModel(responses=["A"]), "price_in": 0.1, "price_out": 0.1,
         "quality_prior": 0.9, **one_token},
        {"name": "c2", "model": FakeListChatModel(responses=["B"]), "price_in": 0.1, "price_out": 0.1,
         "quality_prior": 0.9, **one_token},
        {"name": "big", "model": FakeListChatModel(responses=["B"]), "price_in": 10, "price_out": 30,
         "quality_prior": 0.97, **one_token},
    ], config={"agreement": {"willingness_to_pay_usd": 0.01}})  # the pair, and big only where they disagree
    msg = router.invoke("Which is a mammal?\nA) shark\nB) whale\nAnswer:", sls_metadata={"agreement": True})
    meta = msg.response_metadata
    assert msg.content == "B" and meta["sls_model"] == "big" and meta["sls_calls"] == 3
    assert sorted(a["model"] for a in meta["sls_attempts"]) == ["c1", "c2"]


def test_a_misspelt_routing_option_is_an_error_that_lists_them(router: SmartRouterLLM) -> None:
    from shared_core.errors import RequestError

    with pytest.raises(RequestError, match="unknown routing option 'sls_tenat'; known: sls_task, sls_tenant"):
        router.invoke("hi", sls_tenat="acme")
    assert router.invoke("hi", sls_tenant="acme").response_metadata["sls_model"] == "cheap"


def test_a_tool_loop_naming_a_model_this_router_lacks_is_not_pinned(router: SmartRouterLLM) -> None:
    asked = AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "c1", "type": "tool_call"}],
                      response_metadata={"sls_model": "elsewhere"})
    msg = router.invoke([HumanMessage("q"), asked, ToolMessage("r", tool_call_id="c1")])
    assert not msg.response_metadata["sls_reason"].startswith("tool loop pinned")
