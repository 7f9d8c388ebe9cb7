"""An agent with tools on SmartRouterLLM: bind_tools routes only among candidates
that can call tools, and each tool-result turn goes back to the model that asked.

Runs offline as is: examples/router.yaml uses SIMULATED candidates
(langchain_sls.simulated.SimulatedChatModel) that call the tools they are told
to and answer from the tool result; no key, no network.

Real providers: pip install "sls[openai,anthropic]" (langchain-openai,
langchain-anthropic), export OPENAI_API_KEY / ANTHROPIC_API_KEY, and in
router.yaml replace each candidate's `provider` with e.g.
`{model: "openai:gpt-4o-mini", kwargs: {api_key: "${OPENAI_API_KEY}"}}`
(see the comments there). The same router works as the model of LangChain's
`create_agent(model=router, tools=[...])` or of a LangGraph graph; this example
keeps to a plain loop so it needs langchain-core only. Run:

    python examples/langchain_agent.py [path/to/router.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool

from langchain_sls import SmartRouterLLM

CONFIG = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("router.yaml")


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city (canned for the example)."""
    return {"Paris": "18 C and sunny"}.get(city, "unknown")


TOOLS = {t.name: t for t in (multiply, get_weather)}


def run_agent(router: SmartRouterLLM, question: str, max_turns: int = 5) -> list[BaseMessage]:
    llm = router.bind_tools(list(TOOLS.values()))
    messages: list[BaseMessage] = [SystemMessage("Use the tools when they help."), HumanMessage(question)]
    print(f"user: {question}")
    for _ in range(max_turns):
        ai: AIMessage = llm.invoke(messages)
        messages.append(ai)
        meta, usage = ai.response_metadata, ai.usage_metadata
        pred = meta.get("sls_predicted") or {}
        print(f"  model turn -> {meta['sls_model']} (cache: {meta['sls_cache_tier'] or 'none'}, "
              f"P(good)={pred.get('p_good', float('nan')):.2f}, cost=${meta['sls_cost_usd']:.6f}, "
              f"usage in={usage['input_tokens']} out={usage['output_tokens']}, request {meta['sls_request_id'][:12]})")
        print(f"    why: {meta['sls_reason']}")  # a tool-result turn names its pin; the rest are fallbacks
        if meta.get("sls_excluded"):
            print(f"    left out: {meta['sls_excluded']}")
        if not ai.tool_calls:
            print(f"assistant: {ai.content}")
            break
        for call in ai.tool_calls:
            result = TOOLS[call["name"]].invoke(call)  # a ToolMessage answering this call
            print(f"  tool {call['name']}({call['args']}) -> {result.content}")
            messages.append(result)
    return messages


def main() -> None:
    router = SmartRouterLLM.from_config(CONFIG)
    for question in ("What is 6 times 7?", "What's the weather in Paris?"):
        messages = run_agent(router, question)
        final = messages[-1]
        router.feedback(final, 1.0)  # tell the router the agent's answer was good
    print("stats:", router.stats())


if __name__ == "__main__":
    main()
