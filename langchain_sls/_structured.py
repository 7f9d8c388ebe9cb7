"""Structured output: `with_structured_output` through `function_calling`
(tools), `json_schema` or `json_mode`, and what a candidate's
`with_structured_output(..., include_raw=True)` gives back, as one message."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

SCHEMA_KW = "_sls_schema"
METHOD_CAPABILITY = {"function_calling": "tools", "json_schema": "structured_output", "json_mode": "json_mode"}


def check_method(method: str | None, candidates: list[Any]) -> str:
    """The method to use (the first some candidate supports, when not given)."""
    caps = {cap for c in candidates for cap in c.capabilities}
    if method is None:
        method = next((m for m, cap in METHOD_CAPABILITY.items() if cap in caps), "function_calling")
    if method not in METHOD_CAPABILITY:
        raise ValueError(f"Unrecognized method argument. Expected one of 'function_calling', 'json_schema' or "
                         f"'json_mode'. Received: '{method}'")
    capability = METHOD_CAPABILITY[method]
    if capability not in caps:
        raise ValueError(f"with_structured_output(method='{method}') needs a candidate with the '{capability}' "
                         f"capability; candidates: " + ", ".join(f"{c.name} {c.capabilities}" for c in candidates))
    return method


def structured_runnable(router: Any, schema: Any, method: str, include_raw: bool,
                        strict: bool | None) -> Runnable:
    """The router bound for `method`, piped into the parser of `schema`."""
    if schema is None and method != "json_mode":
        raise ValueError(f"schema must be specified when method is '{method}'")
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable
    if method == "function_calling":
        tool_name = convert_to_openai_tool(schema)["function"]["name"]
        llm = router.bind_tools([schema], tool_choice=tool_name, strict=strict, ls_structured_output_format=ls_format)
        parser = (PydanticToolsParser(tools=[schema], first_tool_only=True) if is_pydantic
                  else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True))
    else:
        llm = router.bind(response_format=_response_format(schema, method, strict),
                          ls_structured_output_format=ls_format, **{SCHEMA_KW: schema})
        parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
    if not include_raw:
        return llm | parser
    parser_assign = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")


def _response_format(schema: Any, method: str, strict: bool | None) -> dict[str, Any]:
    if method == "json_schema":
        js = convert_to_json_schema(schema, strict=strict)
        json_schema = {"name": js.get("title", "output"), "schema": js}
        if strict is not None:
            json_schema["strict"] = strict
        return {"type": "json_schema", "json_schema": json_schema}
    response_format: dict[str, Any] = {"type": "json_object"}
    if schema is not None:
        response_format["schema"] = convert_to_json_schema(schema)
    return response_format


def structured_request(response_format: Any, schema: Any) -> tuple[dict[str, Any], tuple[str, Any]]:
    """The engine's response_format and the (method, schema) a candidate's
    `with_structured_output` gets, from an OpenAI-style response_format."""
    if isinstance(response_format, type):  # bind(response_format=PydanticModel), as ChatOpenAI takes it
        schema = response_format if schema is None else schema
        js = convert_to_json_schema(response_format)
        response_format = {"type": "json_schema", "json_schema": {"name": js.get("title", "output"), "schema": js}}
    if not isinstance(response_format, dict) or response_format.get("type") not in ("json_object", "json_schema"):
        raise ValueError(f"response_format must be {{'type': 'json_object'}}, {{'type': 'json_schema', ...}} or a "
                         f"pydantic class, got {response_format!r}")
    if response_format["type"] == "json_schema":
        if schema is None:
            schema = (response_format.get("json_schema") or {}).get("schema")
        return response_format, ("json_schema", schema)
    return response_format, ("json_mode", schema)


def is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except (TypeError, ValueError):
        return False


def structured_message(out: Any) -> AIMessage:
    """The raw message of a candidate's `with_structured_output(include_raw=True)`,
    with the JSON answer as its text (a candidate that answered through a tool
    call, or whose text is not JSON but parsed, gets the parsed value as text)."""
    if not isinstance(out, dict):
        return out
    raw: AIMessage = out["raw"]
    parsed = out.get("parsed")
    text = str(raw.text) if raw is not None else ""
    if not is_json(text):
        if parsed is not None:
            text = json.dumps(parsed.model_dump() if isinstance(parsed, BaseModel) else parsed, default=str)
        elif raw is not None and raw.tool_calls:
            text = json.dumps(raw.tool_calls[0]["args"], default=str)
    return AIMessage(content=text, usage_metadata=raw.usage_metadata if raw is not None else None,
                     response_metadata=dict(raw.response_metadata) if raw is not None else {},
                     id=raw.id if raw is not None else None)
