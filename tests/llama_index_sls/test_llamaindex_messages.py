"""ChatMessage <-> engine request dicts, tool calls, usage, the tool-loop pin."""

from __future__ import annotations

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools import FunctionTool

from llama_index_sls.messages import (
    cached_chat,
    needs_vision,
    selections_from_json,
    selections_to_json,
    strip_sls,
    to_engine_messages,
    tool_calls_of_message,
    tool_loop_model,
    tool_schemas,
    usage_of,
)
from shared_core.request import Request


def test_roles_content_and_tool_fields_map_to_a_valid_request():
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
        ChatMessage(role=MessageRole.DEVELOPER, content="dev note"),
        ChatMessage(role=MessageRole.USER, content="6 x 7?"),
        ChatMessage(role=MessageRole.ASSISTANT, blocks=[ToolCallBlock(tool_call_id="c1", tool_name="mul",
                                                                      tool_kwargs={"a": 6, "b": 7})]),
        ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role=MessageRole.CHATBOT, content="It is 42."),
    ]
    dicts = to_engine_messages(messages)
    assert [d["role"] for d in dicts] == ["system", "system", "user", "assistant", "tool", "assistant"]
    assert dicts[3] == {"role": "assistant", "content": "",
                        "tool_calls": [{"id": "c1", "name": "mul", "kwargs": {"a": 6, "b": 7}}]}
    assert dicts[4]["tool_call_id"] == "c1"
    request = Request(messages=dicts)
    assert request.query == "6 x 7?" and request.is_follow_up()


def test_multi_block_text_and_vision():
    msg = ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="what is"), TextBlock(text="this?"),
                                                     ImageBlock(url="https://example.com/x.png")])
    assert to_engine_messages([msg])[0]["content"] == "what is\nthis?"
    assert needs_vision([msg]) and not needs_vision([ChatMessage(content="text only")])


def test_openai_style_tool_calls_are_read():
    msg = ChatMessage(role=MessageRole.ASSISTANT, content=None, additional_kwargs={"tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": '{"city": "Oslo"}'}}]})
    assert tool_calls_of_message(msg) == [{"id": "call_9", "name": "lookup", "kwargs": {"city": "Oslo"}}]


def test_selections_round_trip():
    sel = [ToolSelection(tool_id="t1", tool_name="f", tool_kwargs={"x": 1})]
    assert selections_from_json(selections_to_json(sel)) == sel


def test_strip_sls_leaves_the_callers_messages_alone():
    msg = ChatMessage(role=MessageRole.ASSISTANT, content="hi",
                      additional_kwargs={"sls": {"sls_model": "m"}, "tool_calls": []})
    stripped = strip_sls([msg])[0]
    assert stripped.additional_kwargs == {"tool_calls": []}
    assert "sls" in msg.additional_kwargs


def test_tool_loop_model():
    asked = ChatMessage(role=MessageRole.ASSISTANT, blocks=[ToolCallBlock(tool_name="f")],
                        additional_kwargs={"sls": {"sls_model": "big"}})
    result = ChatMessage(role=MessageRole.TOOL, content="1", additional_kwargs={"tool_call_id": "x"})
    q = ChatMessage(role=MessageRole.USER, content="q")
    assert tool_loop_model([q, asked, result]) == "big"
    assert tool_loop_model([q, asked, result, result]) == "big"  # parallel tool results
    assert tool_loop_model([q, asked, result, ChatMessage(role=MessageRole.ASSISTANT, content="a"), q]) is None
    assert tool_loop_model([q, asked, result, ChatMessage(role=MessageRole.ASSISTANT, content="a")]) is None
    assert tool_loop_model([q]) is None
    unrouted = ChatMessage(role=MessageRole.ASSISTANT, blocks=[ToolCallBlock(tool_name="f")])
    assert tool_loop_model([q, unrouted, result]) is None


def test_tool_schemas():
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    (schema,) = tool_schemas([FunctionTool.from_defaults(add)])
    assert schema["name"] == "add" and set(schema["parameters"]["properties"]) == {"a", "b"}


def test_usage_of():
    assert usage_of(ChatResponse(message=ChatMessage(content="x"),
                                 additional_kwargs={"prompt_tokens": 3, "completion_tokens": 4})) == (3, 4)
    assert usage_of(CompletionResponse(text="x", raw={"usage": {"input_tokens": 5, "output_tokens": 6}})) == (5, 6)
    assert usage_of(CompletionResponse(text="x")) == (None, None)


def test_cached_chat_rebuilds_tool_calls():
    resp = cached_chat("", {"sls_model": "m"}, {"tool_calls": [{"id": "c", "name": "f", "kwargs": {"a": 1}}]})
    assert tool_calls_of_message(resp.message) == [{"id": "c", "name": "f", "kwargs": {"a": 1}}]
    assert resp.raw["sls"] == {"sls_model": "m"}
