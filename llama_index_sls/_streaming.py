"""Engine stream events as LlamaIndex responses. One chunk is held back so that
the last response carries the final metadata (request id, cost); earlier ones
carry only the model (`sls_partial`). A cache hit streams piece by piece."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

from shared_core.candidates import split_for_stream
from shared_core.engine import Result, StreamEvent

from .messages import cached_chat, routed_chat, routed_completion


def tag(chunk: ChatResponse | CompletionResponse, meta: dict[str, Any]) -> ChatResponse | CompletionResponse:
    """A candidate's response with the routing metadata."""
    if isinstance(chunk, ChatResponse):
        return routed_chat(chunk, meta)
    return routed_completion(chunk, chunk.text, meta, delta=chunk.delta)


def _stream_end(chat: bool, result: Result, held: Any) -> list[ChatResponse | CompletionResponse]:
    """The last responses of a stream: the held-back chunk with the final
    metadata, or a cached answer streamed piece by piece."""
    meta = result.metadata()
    if result.tier is None:
        if held is not None:
            return [tag(held, meta)]
        return [cached_chat("", meta, {}, delta="") if chat else routed_completion(None, "", meta, delta="")]
    out: list[ChatResponse | CompletionResponse] = []
    text = ""
    for piece in split_for_stream(result.text) if result.text else [""]:
        text += piece
        out.append(cached_chat(text, meta, result.extra if text == result.text else {}, delta=piece) if chat
                   else routed_completion(None, text, meta, delta=piece))
    return out


class _Relay:
    def __init__(self, chat: bool):
        self.chat = chat
        self.held: Any = None
        self.held_model: str | None = None

    def responses(self, event: StreamEvent) -> list[ChatResponse | CompletionResponse]:
        if event.kind != "chunk":
            return _stream_end(self.chat, event.result, self.held)
        out = [] if self.held is None else [tag(self.held, {"sls_model": self.held_model, "sls_partial": True})]
        self.held, self.held_model = event.chunk, event.model
        return out


def relay(chat: bool, events: Iterator[StreamEvent]) -> Generator[Any, None, None]:
    r = _Relay(chat)
    for event in events:
        yield from r.responses(event)


async def arelay(chat: bool, events: AsyncIterator[StreamEvent]) -> AsyncGenerator[Any, None]:
    r = _Relay(chat)
    async for event in events:
        for response in r.responses(event):
            yield response
