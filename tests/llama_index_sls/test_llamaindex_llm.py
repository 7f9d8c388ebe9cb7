"""SmartRouterLLM with real LlamaIndex objects: every call goes through the engine."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM
from llama_index.core.tools import FunctionTool

from llama_index_sls import RouteRecorder, SimulatedLLM
from shared_core.config import CandidateConfig
from shared_core.errors import FeedbackError, NoCandidateError, RequestError, UnknownModelError

META_KEYS = {"sls_request_id", "sls_model", "sls_cache_tier", "sls_cost_usd", "sls_predicted", "sls_attempts"}


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def multiply(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(multiply)


def sls(response) -> dict:
    return response.additional_kwargs["sls"]


# -- basic routing and metadata ----------------------------------------------------------------
def test_is_a_function_calling_llm_with_honest_metadata(three):
    router = three()
    assert isinstance(router, FunctionCallingLLM)
    meta = router.metadata
    assert meta.context_window == 128000  # the largest window a candidate has
    assert meta.is_function_calling_model is True
    assert meta.is_chat_model is True  # the function-calling candidates are chat models
    restricted = three()
    restricted.candidate_names = ["cheap"]
    assert restricted.metadata.context_window == 4096
    assert restricted.metadata.is_function_calling_model is False


def test_no_tool_capable_candidate_means_no_function_calling(make_router):
    router = make_router({"a": (MockLLM(), 1.0), "b": (MockLLM(), 2.0)})
    assert router.metadata.is_function_calling_model is False
    with pytest.raises(NoCandidateError, match="lacks capability tools"):
        router.chat(user("Multiply 6 by 7"), tools=[MULTIPLY])


def test_chat_routes_and_carries_metadata_everywhere(three):
    router = three()
    response = router.chat(user("hello router"))
    meta = sls(response)
    assert META_KEYS <= set(meta)
    assert meta["sls_model"] == "cheap" and meta["sls_cache_tier"] is None
    assert response.raw["sls"] == meta and response.message.additional_kwargs["sls"] == meta
    assert meta["sls_predicted"]["cost_usd"] > 0 and meta["sls_cost_usd"] > 0
    assert "hello router" in response.message.content  # MockLLM echoes its prompt
    assert router.feedback(meta["sls_request_id"], 1.0) is True
    with pytest.raises(FeedbackError):  # the same request by its response: one score per request
        router.feedback(response, 1.0)


def test_complete_and_cache_hit(three):
    router = three()
    first = router.complete("What is the capital of France?")
    again = router.complete("What is the capital of France?")
    assert first.text == "What is the capital of France?"  # MockLLM.complete echoes
    assert sls(first)["sls_cache_tier"] is None and sls(again)["sls_cache_tier"] == "exact"
    assert again.text == first.text and sls(again)["sls_cost_usd"] == 0
    assert sls(again)["sls_model"] == "cheap"  # the model that produced the cached answer
    assert again.raw["sls"]["sls_request_id"] != first.raw["sls"]["sls_request_id"]


def test_provider_usage_is_billed(make_router, fakes):
    router = make_router({"big": (fakes["openai_style"](answer="ok"), 10.0, True)})
    meta = sls(router.chat(user("hi")))
    assert meta["sls_cost_usd"] == pytest.approx((11 * 10.0 + 7 * 40.0) / 1e6)  # the fake's reported usage


def test_per_call_options_are_not_passed_to_candidates(make_router, fakes):
    fake = fakes["openai_style"](answer="ok")
    router = make_router({"a": (MockLLM(), 1.0), "big": (fake, 10.0, True)})
    response = router.chat(user("route me"), sls_candidates=["big"], sls_task="t", sls_allow_cache=False)
    assert sls(response)["sls_model"] == "big"
    with pytest.raises(UnknownModelError):
        router.chat(user("x"), sls_candidates=["nope"])


def test_empty_messages_raise_request_error(three):
    with pytest.raises(RequestError):
        three().chat([])


# -- streaming -----------------------------------------------------------------------------
def test_stream_chat_is_routed_and_last_chunk_has_metadata(three):
    router = three()
    chunks = list(router.stream_chat(user("stream this")))
    assert len(chunks) > 3  # MockLLM streams its prompt character by character
    assert "".join(c.delta for c in chunks) == chunks[-1].message.content
    final = sls(chunks[-1])
    assert final["sls_request_id"] and final["sls_model"] == "cheap"
    assert all(sls(c).get("sls_partial") for c in chunks[:-1])


def test_cached_answer_streams_too(three):
    router = three()
    text = router.chat(user("a question worth caching")).message.content
    chunks = list(router.stream_chat(user("a question worth caching")))
    assert len(chunks) > 1
    assert "".join(c.delta for c in chunks) == text == chunks[-1].message.content
    assert {sls(c)["sls_cache_tier"] for c in chunks} == {"exact"}
    list(router.stream_complete("cached completion"))
    completions = list(router.stream_complete("cached completion"))
    assert sls(completions[-1])["sls_cache_tier"] == "exact" and completions[-1].text == "cached completion"
    assert "".join(c.delta for c in completions) == "cached completion"


def test_streaming_is_real(make_router, fakes):
    slow = fakes["slow"]()
    router = make_router({"slow": (slow, 1.0)})
    produced_at_receipt = [slow.produced for _ in router.stream_complete("count")]
    # each chunk reaches the caller while the provider is still producing (one chunk is held back)
    assert produced_at_receipt[0] <= 2 and produced_at_receipt == sorted(produced_at_receipt)
    assert len(produced_at_receipt) == 5


def test_stream_falls_back_before_first_chunk_and_fails_after(make_router, fakes):
    router = make_router({"down": (fakes["failing"](), 0.1), "up": (MockLLM(), 1.0)})
    chunks = list(router.stream_chat(user("fallback while streaming")))
    meta = sls(chunks[-1])
    assert meta["sls_model"] == "up" and meta["sls_attempts"][0]["model"] == "down"
    broken = make_router({"broken": (fakes["slow"](fail_after=2), 0.1), "up": (MockLLM(), 1.0)})
    with pytest.raises(ConnectionError):
        list(broken.stream_complete("part of an answer, then an error"))


# -- async -----------------------------------------------------------------------------------
async def test_async_forms_are_routed(three):
    router = three()
    chat = await router.achat(user("async chat"))
    comp = await router.acomplete("async complete")
    chunks = [c async for c in await router.astream_chat(user("async stream"))]
    comps = [c async for c in await router.astream_complete("async stream complete")]
    for meta in (sls(chat), sls(comp), sls(chunks[-1]), sls(comps[-1])):
        assert meta["sls_request_id"] and meta["sls_model"] == "cheap"
    assert comps[-1].text == "async stream complete"
    cached = [c async for c in await router.astream_chat(user("async stream"))]
    assert sls(cached[-1])["sls_cache_tier"] == "exact" and len(cached) > 1


async def test_async_fallback(make_router, fakes):
    router = make_router({"down": (fakes["failing"](), 0.1), "up": (MockLLM(), 1.0)})
    meta = sls(await router.achat(user("async fallback")))
    assert meta["sls_model"] == "up" and meta["sls_attempts"][0]["model"] == "down"


# -- fallback, budget, errors: the engine's behaviour ------------------------------------------
def test_fallback_to_next_candidate(make_router, fakes):
    down = fakes["failing"](failures=2)  # the engine retries a 503 once, then falls back
    router = make_router({"down": (down, 0.1), "up": (MockLLM(), 1.0)})
    meta = sls(router.chat(user("fallback please")))
    assert meta["sls_model"] == "up"
    assert meta["sls_attempts"] == [
        {"model": "down", "error": "ConnectionError: 503 Service Unavailable (fake provider)"}]
    assert sls(router.chat(user("and the down model is healthy again")))["sls_model"] == "down"  # cooldown 0


def test_candidate_raw_is_the_routed_models_own_raw_response(make_router, fakes):
    router = make_router({"tooly": (fakes["openai_style"](answer="hi"), 1.0, True)})
    assert router.chat(user("raw please")).raw["candidate_raw"] == {"id": "resp-1"}


@pytest.mark.parametrize("use_async", [False, True])
async def test_max_retries_retries_on_the_same_candidate(make_router, fakes, use_async):
    flaky = fakes["failing"](failures=2)  # the engine's own policy retries a 503 once: max_retries takes its place
    router = make_router({"flaky": (flaky, 0.1), "up": (MockLLM(), 1.0)}, router_kwargs={"max_retries": 2})
    response = await router.acomplete("retry me") if use_async else router.complete("retry me")
    assert sls(response)["sls_model"] == "flaky" and response.text == "recovered" and flaky.calls == 3
    few = fakes["failing"](failures=2)
    router = make_router({"flaky": (few, 0.1), "up": (MockLLM(), 1.0)}, router_kwargs={"max_retries": 0})
    response = await router.acomplete("retry me") if use_async else router.complete("retry me")
    assert sls(response)["sls_model"] == "up" and few.calls == 1


@pytest.mark.parametrize("use_async", [False, True])
async def test_timeout_gives_up_on_a_slow_candidate_and_falls_back(make_router, fakes, use_async):
    router = make_router({"slow": (fakes["late"](delay_s=3.0), 0.1), "up": (MockLLM(), 1.0)},
                         router_kwargs={"timeout": 0.2, "max_retries": 0})
    response = await router.achat(user("quick")) if use_async else router.chat(user("quick"))
    meta = sls(response)
    assert meta["sls_model"] == "up"
    assert "did not answer within timeout=0.2 s" in meta["sls_attempts"][0]["error"]


@pytest.mark.parametrize("kwargs, message", [({"timeout": 0}, "timeout must be a number of seconds > 0"),
                                             ({"max_retries": -1}, "max_retries must be a whole number >= 0")])
def test_bad_timeout_or_max_retries_is_refused(make_router, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_router({"a": (MockLLM(), 0.1)}, router_kwargs=kwargs)


def test_all_candidates_failing_raises_no_candidate_error(make_router, fakes):
    router = make_router({"a": (fakes["failing"](), 0.1), "b": (fakes["failing"](), 1.0)})
    with pytest.raises(NoCandidateError) as err:
        router.complete("nobody answers")
    assert set(err.value.reasons) == {"a", "b"}


def test_budget_caps_are_enforced_by_the_engine(make_router):
    router = make_router({"a": (MockLLM(), 5.0), "b": (MockLLM(), 50.0)},
                         budget={"max_cost_per_request_usd": 1e-9})
    with pytest.raises(NoCandidateError, match="per-request cap"):
        router.chat(user("too expensive"))
    open_router = make_router({"a": (MockLLM(), 5.0), "b": (MockLLM(), 50.0)})
    with pytest.raises(NoCandidateError, match="per-request cap"):
        open_router.chat(user("capped per call"), sls_max_cost_usd=1e-9)


def test_context_window_routes_long_prompts_to_big_windows(three):
    router = three()
    long_prompt = "word " * 6000  # ~6000 tokens: over cheap's 4096 window
    assert sls(router.complete(long_prompt))["sls_model"] == "tooly"
    with pytest.raises(NoCandidateError, match="context window"):
        router.complete("word " * 200_000)


# -- callbacks and instrumentation ---------------------------------------------------------------
def test_callback_handlers_and_instrumentation_see_each_routed_call(three):
    debug = LlamaDebugHandler()
    router = three()
    router.callback_manager = CallbackManager([debug])
    recorder = RouteRecorder.attach()
    try:
        router.chat(user("observed chat"))
        router.complete("observed completion")
        list(router.stream_chat(user("observed stream")))
    finally:
        recorder.detach()
    pairs = debug.get_event_pairs(CBEventType.LLM)
    assert len(pairs) == 3
    responses = [p[1].payload.get("response") or p[1].payload.get("completion") for p in pairs]
    assert all(r.additional_kwargs["sls"]["sls_request_id"] for r in responses)
    assert [r["sls_model"] for r in recorder.routes] == ["cheap"] * 3


# -- tools ---------------------------------------------------------------------------------
def test_tool_calls_only_go_to_tool_capable_models(three):
    router = three()
    response = router.chat_with_tools([MULTIPLY], user_msg="Multiply 6 by 7")
    meta = sls(response)
    assert meta["sls_model"] == "tooly"  # the cheapest tool-capable candidate, not "cheap"
    calls = router.get_tool_calls_from_response(response)
    assert [c.tool_name for c in calls] == ["multiply"]


def test_tool_calls_parse_for_any_candidate_format(make_router, fakes):
    fake = fakes["openai_style"](script=[{"name": "multiply", "arguments": {"a": 6, "b": 7}}])
    router = make_router({"big": (fake, 10.0, True)})
    response = router.chat_with_tools([MULTIPLY], user_msg="Multiply 6 by 7")
    calls = router.get_tool_calls_from_response(response)
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == [("call_1", "multiply", {"a": 6, "b": 7})]
    assert router.get_tool_calls_from_response(router.chat(user("no tools")), error_on_no_tool_call=False) == []
    with pytest.raises(ValueError):
        router.get_tool_calls_from_response(router.chat(user("no tools either")))


def test_tool_call_answers_are_not_cached(make_router, fakes):
    fake = fakes["openai_style"](script=[{"name": "multiply", "arguments": {"a": 1, "b": 2}}] * 2)
    router = make_router({"big": (fake, 10.0, True)})
    first = router.chat_with_tools([MULTIPLY], user_msg="Multiply 1 by 2")
    second = router.chat_with_tools([MULTIPLY], user_msg="Multiply 1 by 2")
    assert sls(first)["sls_cache_tier"] is None and sls(second)["sls_cache_tier"] is None
    assert len(fake.seen) == 2


def test_tool_loop_is_pinned_to_the_model_that_called_the_tool(three):
    router = three()
    history = user("Multiply 6 by 7") + [
        ChatMessage(role=MessageRole.ASSISTANT, blocks=[ToolCallBlock(tool_call_id="c1", tool_name="multiply",
                                                                      tool_kwargs={"a": 6, "b": 7})],
                    additional_kwargs={"sls": {"sls_model": "big"}}),
        ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "c1"}),
    ]
    response = router.chat(history, tools=[MULTIPLY])
    assert sls(response)["sls_model"] == "big"  # tooly is cheaper, but the loop belongs to big
    # the router's own metadata never reaches a candidate (OpenAI copies additional_kwargs into the API call)
    sent = router.llms["big"].seen[-1]
    assert all("sls" not in m.additional_kwargs for m in sent)
    # a new user turn starts a new loop
    follow_up = history + [ChatMessage(role=MessageRole.ASSISTANT, content="42"), *user("and 2 by 3?")]
    assert sls(router.chat(follow_up, tools=[MULTIPLY]))["sls_model"] == "tooly"


def test_predict_and_call(make_router, fakes):
    fake = fakes["openai_style"](script=[{"name": "multiply", "arguments": {"a": 6, "b": 7}}])
    router = make_router({"cheap": (MockLLM(), 0.1), "big": (fake, 10.0, True)})
    out = router.predict_and_call([MULTIPLY], user_msg="Multiply 6 by 7")
    assert out.response == "42"
    assert out.sources[0].tool_name == "multiply"


# -- agents ----------------------------------------------------------------------------------------
async def test_function_agent_calls_a_tool_through_the_router(make_router, fakes):
    from llama_index.core.agent.workflow import FunctionAgent

    big = fakes["openai_style"](script=[{"name": "multiply", "arguments": {"a": 6, "b": 7}}], answer="It is 42.")
    router = make_router({"cheap": (MockLLM(), 0.1), "big": (big, 10.0, True)})
    agent = FunctionAgent(tools=[MULTIPLY], llm=router, system_prompt="Use tools.")
    recorder = RouteRecorder.attach()
    try:
        result = await agent.run(user_msg="What is 6 times 7?")
    finally:
        recorder.detach()
    assert str(result) == "It is 42."
    assert [t.tool_name for t in result.tool_calls] == ["multiply"]
    assert result.tool_calls[0].tool_output.content == "42"
    assert [r["sls_model"] for r in recorder.routes] == ["big", "big"]


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_tool_loop_stays_on_one_model_after_fallback(make_router, fakes, streaming):
    """Step 1: the cheaper tool model fails, the engine falls back to big. Step 2
    reads the tool result: the cheap model is healthy again (cooldown 0) and
    cheaper, yet the loop stays pinned to big, which asked for the tool."""
    from llama_index.core.agent.workflow import FunctionAgent

    class FlakyOnceFC(MockFunctionCallingLLM):
        failed: int = 0

        def _prepare_chat_with_tools(self, *args, **kwargs):  # every chat_with_tools form passes here
            if self.failed < 2:  # the engine retries a 429 once, then falls back
                self.failed += 1
                raise ConnectionError("429 rate limited (fake provider)")
            return super()._prepare_chat_with_tools(*args, **kwargs)

    big = fakes["openai_style"](script=[{"name": "multiply", "arguments": {"a": 3, "b": 4}}], answer="12")
    router = make_router({"tooly": (FlakyOnceFC(), 1.0, True), "big": (big, 10.0, True)})
    agent = FunctionAgent(tools=[MULTIPLY], llm=router, streaming=streaming)
    recorder = RouteRecorder.attach()
    try:
        result = await agent.run(user_msg="Multiply 3 by 4")
    finally:
        recorder.detach()
    assert str(result) == "12"
    assert [r["sls_model"] for r in recorder.routes] == ["big", "big"]
    assert recorder.routes[0]["sls_attempts"][0]["model"] == "tooly"
    assert recorder.routes[1]["sls_attempts"] == []


async def test_react_agent_runs_on_a_text_model(make_router):
    """A ReAct agent drives tools through plain chat: any model can serve it."""
    from llama_index.core.agent.workflow import ReActAgent
    from shared_core.candidates import SimulatedCandidate

    def react_script(request, rng):
        if any("Observation:" in m["content"] for m in request.messages if m["role"] != "system"):
            return "Thought: I can answer without using any more tools.\nAnswer: 6 times 7 is 42."
        return 'Thought: I need the multiply tool.\nAction: multiply\nAction Input: {"a": 6, "b": 7}'

    cfg = CandidateConfig(name="text", price_in=0.1, price_out=0.4)
    react_llm = SimulatedLLM(SimulatedCandidate(cfg, react_script))
    router = make_router({"text": (react_llm, 0.1), "tooly": (MockFunctionCallingLLM(), 1.0, True)})
    agent = ReActAgent(tools=[MULTIPLY], llm=router)
    recorder = RouteRecorder.attach()
    try:
        result = await agent.run(user_msg="What is 6 times 7?")
    finally:
        recorder.detach()
    assert "42" in str(result)
    assert [t.tool_output.content for t in result.tool_calls] == ["42"]
    assert {r["sls_model"] for r in recorder.routes} == {"text"}


# -- RAG and chat engines ----------------------------------------------------------------------------
DOCS = {
    "battery": "The e-bike battery holds 625 watt-hours and charges fully in about five hours.",
    "warranty": "Every bike frame has a lifetime warranty for the original owner.",
    "stores": "Stores open from 9 am to 6 pm on weekdays and are closed on Sundays.",
}


@pytest.fixture
def index():
    from llama_index.core import Document, VectorStoreIndex

    from llama_index_sls import HashingEmbedding

    docs = [Document(text=t, metadata={"topic": k}) for k, t in DOCS.items()]
    return VectorStoreIndex.from_documents(docs, embed_model=HashingEmbedding(embed_dim=256))


def test_vector_store_query_engine_through_the_router(index, make_router):
    router = make_router({"cheap": (MockLLM(), 0.1), "tooly": (MockFunctionCallingLLM(), 1.0, True)})
    engine = index.as_query_engine(llm=router, similarity_top_k=1)
    recorder = RouteRecorder.attach()
    try:
        answer = engine.query("How long does the e-bike battery take to charge?")
        again = engine.query("How long does the e-bike battery take to charge?")
    finally:
        recorder.detach()
    # the retrieved chunk is the battery one (hashing embedding), and MockLLM echoes the prompt holding it
    assert "625 watt-hours" in str(answer) and "lifetime" not in str(answer)
    assert answer.source_nodes[0].node.metadata["topic"] == "battery"
    assert [r["sls_cache_tier"] for r in recorder.routes] == [None, "exact"]
    assert str(again) == str(answer)
    # the routing of each answer is on its own response, no recorder needed
    assert answer.metadata["sls"] == recorder.routes[0] and answer.metadata["sls_routes"] == recorder.routes[:1]
    assert again.metadata["sls"]["sls_cache_tier"] == "exact"
    assert router.feedback(answer.metadata["sls"]["sls_request_id"], 1.0) is True


def test_a_failed_query_leaves_nothing_behind_for_the_next(index, make_router, fakes):
    down = make_router({"down": (fakes["failing"](), 0.1)})
    with pytest.raises(NoCandidateError):
        index.as_query_engine(llm=down, similarity_top_k=1).query("When do stores open?")
    router = make_router({"cheap": (MockLLM(), 0.1)})
    answer = index.as_query_engine(llm=router, similarity_top_k=1).query("When do stores open?")
    assert [r["sls_model"] for r in answer.metadata["sls_routes"]] == ["cheap"]


def test_streaming_query_engine(index, make_router):
    router = make_router({"cheap": (MockLLM(), 0.1)})
    engine = index.as_query_engine(llm=router, similarity_top_k=1, streaming=True)
    text = "".join(engine.query("When do stores open?").response_gen)
    assert "9 am" in text


def test_chat_engine_over_several_turns(index, make_router):
    from llama_index_sls import SimulatedFunctionCallingLLM

    cfg_small = CandidateConfig(name="small", price_in=0.1, price_out=0.4)
    cfg_big = CandidateConfig(name="big", price_in=5.0, price_out=20.0, capabilities=["streaming", "tools"])
    router = make_router({"small": (SimulatedLLM.from_config(cfg_small, skill=1.0), 0.1),
                          "big": (SimulatedFunctionCallingLLM.from_config(cfg_big, skill=1.0), 5.0, True)})
    chat_engine = index.as_chat_engine(chat_mode="condense_plus_context", llm=router, similarity_top_k=1)
    recorder = RouteRecorder.attach()
    try:
        first = chat_engine.chat("How long does the e-bike battery take to charge?")
        second = chat_engine.chat("What warranty does the bike frame have?")
        third = chat_engine.stream_chat("When do stores open on weekdays?")
        streamed = "".join(third.response_gen)
    finally:
        recorder.detach()
    assert "five hours" in str(first)
    assert "lifetime" in str(second)
    assert "9 am" in streamed
    assert len(chat_engine.chat_history) == 6
    # turn 1 answers; turns 2 and 3 first condense the follow-up into a standalone question, then answer
    assert len(recorder.routes) == 5
    assert {r["sls_model"] for r in recorder.routes} == {"small"}  # no tools needed: the cheaper model


def test_settings_llm(make_router, index):
    from llama_index.core import Settings

    router = make_router({"cheap": (MockLLM(), 0.1)})
    old = Settings._llm
    try:
        Settings.llm = router
        assert Settings.llm is router
        assert "625" in str(index.as_query_engine(similarity_top_k=1).query("battery watt-hours?"))
    finally:
        Settings._llm = old


# -- retrieval prompts: the question, not the retrieved text, is the cache's query --------------------
LONG_CONTEXT = " ".join(f"Fact {i}: the widget has setting {chr(65 + i % 26)} enabled by default." for i in range(40))


def test_template_question_is_the_query_and_context_joins_the_scope(make_router):
    """Regression: as the whole formatted prompt, two different questions over the
    same 2.5k-character context encoded identically (the encoder reads 2000
    characters), so a confirmed answer was served to the other question."""
    from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT

    router = make_router({"m": (MockLLM(max_tokens=4), 1.0)})
    recorder = RouteRecorder.attach()
    try:
        def ask(question: str, context: str = LONG_CONTEXT) -> dict:
            router.predict(DEFAULT_TEXT_QA_PROMPT.partial_format(query_str=question), context_str=context)
            return recorder.routes[-1]

        first = ask("What colour is the widget?")
        router.feedback(first["sls_request_id"], 1.0)  # confirmed: eligible for near-duplicate hits
        assert ask("Who manufactures the widget?")["sls_cache_tier"] is None
        assert ask("What colour is the widget?", context="A different document.")["sls_cache_tier"] is None
        assert ask("What colour is the widget?")["sls_cache_tier"] == "exact"
        pending = router.engine.updater.pending[first["sls_request_id"]]
        assert pending.request.query == "What colour is the widget?"
    finally:
        recorder.detach()


async def test_template_question_in_async_and_streaming_predictions(make_router):
    from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT

    router = make_router({"m": (MockLLM(max_tokens=4), 1.0)})
    prompt = DEFAULT_TEXT_QA_PROMPT.partial_format(query_str="Is the widget blue?")
    recorder = RouteRecorder.attach()
    try:
        await router.apredict(prompt, context_str=LONG_CONTEXT)
        "".join(router.stream(prompt, context_str=LONG_CONTEXT))
        "".join([t async for t in await router.astream(prompt, context_str="other")])
    finally:
        recorder.detach()
    queries = [router.engine.updater.pending[r["sls_request_id"]].request.query for r in recorder.routes]
    assert queries == ["Is the widget blue?"] * 3
    assert [r["sls_cache_tier"] for r in recorder.routes] == [None, "exact", None]


def test_structured_predict_goes_through_a_tool_capable_model(make_router, fakes):
    from pydantic import BaseModel
    from llama_index.core.prompts import PromptTemplate

    class Product(BaseModel):
        name: str
        price: float

    fake = fakes["openai_style"](script=[{"name": "Product", "arguments": {"name": "Trail X", "price": 1890}}])
    router = make_router({"cheap": (MockLLM(), 0.1), "big": (fake, 10.0, True)})
    out = router.structured_predict(Product, PromptTemplate("Extract the product: {text}"), text="Trail X, 1890 EUR")
    assert out == Product(name="Trail X", price=1890.0)
