"""A LlamaIndex FunctionAgent with two tools, its every LLM call routed by SLS.

Tool calls are routed only to tool-capable candidates (the local model in
examples/llamaindex_router.yaml has no `tools` capability, so it never serves
an agent step), and a tool loop stays on one model: the call that reads a
tool's result is pinned to the model that asked for the tool.

Offline by default (CI): the candidates are SIMULATED stand-ins with a
scripted tool policy (they call the tool whose description matches the
question, with arguments taken from it); they illustrate the mechanics and
are not measurements of the models they are named after.

    python examples/llamaindex_agent.py            # offline, simulated candidates
    python examples/llamaindex_agent.py --real     # the providers in the YAML

With --real: pip install llama-index-llms-openai llama-index-llms-anthropic
llama-index-llms-ollama and export OPENAI_API_KEY and ANTHROPIC_API_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llama_index_sls import RouteRecorder, SmartRouterLLM  # noqa: E402

CONFIG = Path(__file__).with_name("llamaindex_router.yaml")
PRICES = {"trail x": 1890.0, "city e": 2490.0, "kids 20": 349.0}


def bike_price(model: str) -> str:
    """Look up the price in euros of a Northwind bike model, e.g. 'Trail X'."""
    price = PRICES.get(model.strip().lower())
    return f"{price:.2f} EUR" if price is not None else f"unknown model {model!r}; known: Trail X, City E, Kids 20"


def multiply(a: float, b: float) -> float:
    """Multiply two numbers: the product of a times b."""
    return a * b


QUESTIONS = [
    "What is the price of the 'Trail X' bike?",
    "Multiply 12 times 7.",
    "What is the price of the 'City E' bike?",
]


async def run(real: bool) -> list[dict]:
    router = SmartRouterLLM.from_config(CONFIG, simulated=not real, task="shop-agent")
    mode = "REAL providers" if real else "SIMULATED candidates (offline stand-ins, not real models)"
    print(f"SLS router over {mode}: {router.metadata.model_name}")
    tool_models = [c.name for c in router.engine.config.candidates if "tools" in c.capabilities]
    print(f"tool-capable candidates: {tool_models}\n")
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(bike_price), FunctionTool.from_defaults(multiply)],
        llm=router,
        system_prompt="You are the Northwind bike shop assistant. Use the tools for prices and arithmetic.",
    )
    recorder = RouteRecorder.attach()
    summary = []
    try:
        for question in QUESTIONS:
            recorder.clear()
            handler = agent.run(user_msg=question)
            tool_calls = []
            async for event in handler.stream_events():
                if type(event).__name__ == "ToolCallResult":
                    tool_calls.append(f"{event.tool_name}({event.tool_kwargs}) -> {event.tool_output.content}")
            response = await handler
            steps = [(m["sls_model"], m["sls_cache_tier"] or "miss", m["sls_cost_usd"]) for m in recorder.routes]
            print(f"Q: {question}\nA: {response}")
            for call in tool_calls:
                print(f"    tool: {call}")
            for i, (model, tier, cost) in enumerate(steps, 1):
                print(f"    LLM step {i}: model={model} cache={tier} cost=${cost:.6f}")
            pinned = len({m for m, _, _ in steps}) == 1
            print(f"    tool loop stayed on one model: {pinned}\n")
            for meta in recorder.routes:  # a real app would use user feedback; here: the tool ran fine
                router.feedback(meta["sls_request_id"], 1.0)
            summary.append({"question": question, "answer": str(response), "tool_calls": tool_calls,
                            "models": [s[0] for s in steps]})
    finally:
        recorder.detach()
    print(f"engine: spent ${router.stats()['spent_usd']:.6f}")
    return summary


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="call the providers in the YAML (needs keys)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.real))


if __name__ == "__main__":
    main()
