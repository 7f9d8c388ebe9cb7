"""The SIMULATED chat model used by the offline examples."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_sls.simulated import SimulatedChatModel, SimulatedRateLimitError, example_for


@tool
def lookup(city: str, days: int = 1) -> str:
    """Look something up."""
    return city


def test_answers_rules_usage_and_label() -> None:
    model = SimulatedChatModel(model="sim", answers={"capital": "Paris."})
    msg = model.invoke("What is the capital of France?")
    assert msg.content == "Paris."
    assert msg.response_metadata["simulated"] is True
    assert msg.usage_metadata["output_tokens"] == 2
    assert "[sim, simulated]" in model.invoke("something else").content


def test_tool_calls_and_tool_answers() -> None:
    model = SimulatedChatModel(tool_calls=[{"name": "lookup", "when": "weather", "args": {"city": "Oslo"}}])
    llm = model.bind_tools([lookup])
    ai = llm.invoke("weather in Oslo?")
    assert ai.tool_calls[0]["name"] == "lookup" and ai.tool_calls[0]["args"] == {"city": "Oslo"}
    final = llm.invoke([HumanMessage("weather in Oslo?"), ai, lookup.invoke(ai.tool_calls[0])])
    assert final.content == "The lookup tool returned Oslo."
    assert not llm.invoke("no keyword here").tool_calls


def test_structured_output_fills_the_schema() -> None:
    class Point(BaseModel):
        x: int
        label: str

    assert SimulatedChatModel().with_structured_output(Point).invoke("a point") == Point(x=1, label="simulated")
    assert example_for({"type": "array", "items": {"enum": ["a", "b"]}}) == ["a"]


def test_failures_and_streaming() -> None:
    model = SimulatedChatModel(answers={"hi": "hello there friend"}, fail_times=1, error="rate_limit")
    with pytest.raises(SimulatedRateLimitError):
        model.invoke("hi")
    chunks = list(model.stream("hi"))
    assert "".join(c.content for c in chunks) == "hello there friend" and len(chunks) >= 3
    broken = SimulatedChatModel(answers={"hi": "one two three"}, fail_after_chunks=1)
    with pytest.raises(Exception, match="simulated"):
        list(broken.stream("hi"))
