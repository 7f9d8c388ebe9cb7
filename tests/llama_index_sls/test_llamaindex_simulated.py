"""The labelled simulated candidates used by the offline examples."""

from __future__ import annotations

import numpy as np
import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from llama_index_sls import SimulatedFunctionCallingLLM, SimulatedLLM, extractive_responder
from llama_index_sls.messages import tool_schemas
from shared_core.candidates import ReplayCandidate
from shared_core.config import CandidateConfig
from shared_core.request import Request
from shared_core.simulator import fill_arguments, plan_tool_calls

CFG = CandidateConfig(name="sim", price_in=1.0, price_out=2.0, capabilities=["streaming", "tools"])
QA = ("Context information is below.\n---------------------\n"
      "The battery charges in five hours. The frame has a lifetime warranty. Stores close on Sundays.\n"
      "---------------------\nGiven the context information and not prior knowledge, answer the query.\n"
      "Query: How long does the battery take to charge?\nAnswer: ")


def test_extractive_responder_answers_from_context():
    respond = extractive_responder(skill=1.0)
    request = Request(messages=[{"role": "user", "content": QA}])
    assert respond(request, np.random.default_rng(0)) == "The battery charges in five hours."


def test_low_skill_is_sometimes_wrong():
    respond = extractive_responder(skill=0.0)
    request = Request(messages=[{"role": "user", "content": QA}])
    assert respond(request, np.random.default_rng(0)) != "The battery charges in five hours."


def test_condense_prompt_returns_the_follow_up():
    prompt = "Chat History:\nuser: hi\nFollow Up Input: and the warranty?\nStandalone question:"
    assert extractive_responder()(Request(messages=[{"role": "user", "content": prompt}]),
                                  np.random.default_rng(0)) == "and the warranty?"


def test_simulated_llm_is_labelled_and_reports_usage():
    llm = SimulatedLLM.from_config(CFG, skill=1.0)
    assert llm.metadata.model_name == "simulated:sim"
    resp = llm.chat([ChatMessage(role="user", content=QA)])
    assert resp.message.content == "The battery charges in five hours."
    assert resp.additional_kwargs["simulated"] is True and resp.additional_kwargs["completion_tokens"] > 0
    chunks = list(llm.stream_complete(QA))
    assert "".join(c.delta for c in chunks) == chunks[-1].text == resp.message.content


def test_simulated_provider_errors():
    llm = SimulatedLLM.from_config(CFG, fail_rate=1.0)
    with pytest.raises(ConnectionError, match="simulated provider error"):
        llm.complete("hi")


def test_replay_candidate_behind_the_llm_interface():
    llm = SimulatedLLM(ReplayCandidate(CFG, {"what is 2+2?": {"text": "4", "output_tokens": 1}}))
    assert llm.complete("what is 2+2?").text == "4"
    with pytest.raises(KeyError):
        llm.complete("unrecorded")


def test_tool_policy():
    def bike_price(model: str) -> str:
        """Look up the price of a bike model."""
        return "1"

    def multiply(a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    tools = tool_schemas([FunctionTool.from_defaults(bike_price), FunctionTool.from_defaults(multiply)])
    (call,) = plan_tool_calls("What is the price of the 'Trail X' bike?", tools)
    assert call["name"] == "bike_price" and call["kwargs"] == {"model": "Trail X"}
    (call,) = plan_tool_calls("Multiply 12 times 7", tools)
    assert call["name"] == "multiply" and call["kwargs"] == {"a": 12.0, "b": 7.0}
    assert plan_tool_calls("hello there", tools) == []
    assert fill_arguments("weather in Paris", {"properties": {"city": {"type": "string"}}}) == {"city": "Paris"}


def test_simulated_function_calling_llm_tool_loop():
    def multiply(a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    tool = FunctionTool.from_defaults(multiply)
    llm = SimulatedFunctionCallingLLM.from_config(CFG)
    assert llm.metadata.is_function_calling_model
    out = llm.predict_and_call([tool], user_msg="Multiply 6 times 7")
    assert out.response == "42.0"
