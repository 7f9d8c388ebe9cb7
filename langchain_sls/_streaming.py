"""Stream plumbing: a candidate's chunks as the engine's stream, and the engine's
stream events as what a LangChain caller sees."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from shared_core.candidates import split_for_stream
from shared_core.engine import Result, StreamEvent

from .messages import cached_stream_chunks, closing_chunk


class Seen:
    """What the candidate's chunks already carried, so the closing chunk neither
    double-counts usage nor concatenates a second model name."""

    def __init__(self) -> None:
        self.usage = False
        self.model_name = False

    def generations(self, event: StreamEvent) -> list[ChatGenerationChunk]:
        """What the caller sees of an engine stream event."""
        if event.kind == "chunk":
            self.note(event.chunk)
            return [ChatGenerationChunk(message=event.chunk)]
        if event.result is None:
            return []
        return [ChatGenerationChunk(message=chunk) for chunk in self.closing(event.result)]

    def note(self, chunk: AIMessageChunk) -> None:
        self.usage = self.usage or chunk.usage_metadata is not None
        self.model_name = self.model_name or "model_name" in (chunk.response_metadata or {})

    def closing(self, result: Result) -> list[AIMessageChunk]:
        if result.tier is not None:  # a cache hit: stream the cached answer
            return cached_stream_chunks(result, split_for_stream(result.text))
        return [closing_chunk(result, add_usage=not self.usage, add_model_name=not self.model_name)]


def _is_empty(chunk: AIMessageChunk) -> bool:
    return not chunk.content and not chunk.tool_call_chunks and chunk.usage_metadata is None


class _EmptyHolder:
    """Holds back content-free chunks (a provider's role-only opening chunk) and
    merges them into the next real one: a candidate failing after such a chunk
    has shown nothing yet, so the engine can still fall back."""

    def __init__(self) -> None:
        self.held: AIMessageChunk | None = None

    def push(self, chunk: AIMessageChunk) -> list[AIMessageChunk]:
        """The chunks to yield now: none while only empty chunks have come."""
        if _is_empty(chunk):
            self.held = chunk if self.held is None else self.held + chunk
            return []
        out = chunk if self.held is None else self.held + chunk
        self.held = None
        return [out]

    def finish(self) -> list[AIMessageChunk]:
        return [] if self.held is None else [self.held]


def held_empties(chunks: Iterator[AIMessageChunk]) -> Iterator[AIMessageChunk]:
    holder = _EmptyHolder()
    for chunk in chunks:
        yield from holder.push(chunk)
    yield from holder.finish()


async def aheld_empties(chunks: AsyncIterator[AIMessageChunk]) -> AsyncIterator[AIMessageChunk]:
    holder = _EmptyHolder()
    async for chunk in chunks:
        for out in holder.push(chunk):
            yield out
    for out in holder.finish():
        yield out
