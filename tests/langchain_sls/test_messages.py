"""LangChain messages <-> engine request dicts, and the messages the router builds."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk, ChatMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_sls.messages import (
    as_chunk,
    content_text,
    merge_chunks,
    to_engine_messages,
    tool_loop_model,
)


def test_roles_tool_calls_and_tool_results() -> None:
    ai = AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}])
    msgs, needs = to_engine_messages([SystemMessage("sys"), HumanMessage("hi"), ai,
                                      ToolMessage("2", tool_call_id="c1", name="add"),
                                      ChatMessage(role="developer", content="dev note")])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "system"]
    assert msgs[2]["tool_calls"] == [{"name": "add", "args": {"a": 1}, "id": "c1"}]
    assert '[tool_call add {"a": 1}]' in msgs[2]["content"]  # calls are part of the cache key
    assert msgs[3] == {"role": "tool", "content": "2", "tool_call_id": "c1", "name": "add"}
    assert needs == set()


def test_content_blocks_and_images() -> None:
    needs: set[str] = set()
    blocks = [{"type": "text", "text": "look: "}, {"type": "image_url", "image_url": {"url": "data:a"}},
              {"type": "thinking", "thinking": "hidden"}]
    text = content_text(blocks, needs)
    assert text.startswith("look: [image sha256:") and "hidden" not in text
    assert needs == {"vision"}
    other = content_text([{"type": "text", "text": "look: "}, {"type": "image_url", "image_url": {"url": "data:b"}}])
    assert other != text  # different images never share a cache key


def test_pinned_model_comes_from_the_ai_message_that_asked() -> None:
    asked = AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "c1", "type": "tool_call"}],
                      response_metadata={"sls_model": "big"})
    convo = [HumanMessage("q"), asked, ToolMessage("r", tool_call_id="c1")]
    assert tool_loop_model(convo) == "big"
    assert tool_loop_model(convo + [HumanMessage("next")]) is None
    assert tool_loop_model([HumanMessage("q")]) is None


def test_as_chunk_normalizes_whole_messages_and_run_ids() -> None:
    msg = AIMessage(content="x", id="lc_run--abc", tool_calls=[{"name": "t", "args": {"k": 1}, "id": "c1",
                                                               "type": "tool_call"}])
    chunk = as_chunk(msg)
    assert isinstance(chunk, AIMessageChunk) and chunk.id is None
    assert chunk.tool_calls[0]["args"] == {"k": 1}
    provider = as_chunk(AIMessageChunk(content="y", id="chatcmpl-1", chunk_position="last"))
    assert provider.id == "chatcmpl-1" and provider.chunk_position is None
    assert merge_chunks([AIMessageChunk(content="a"), AIMessageChunk(content="b")]).content == "ab"
