"""A LangChain chain whose chat model is SmartRouterLLM: invoke, cache hit, batch,
stream, feedback.

Runs offline as is: examples/router.yaml uses SIMULATED candidates
(langchain_sls.simulated.SimulatedChatModel, canned answers, no key, no network).

Real providers: pip install "sls[openai,anthropic]" (langchain-openai and
langchain-anthropic), export OPENAI_API_KEY / ANTHROPIC_API_KEY, and in
router.yaml give each candidate a LangChain model spec instead of the simulated
class, e.g. `provider: {model: "openai:gpt-4o-mini", kwargs: {api_key: "${OPENAI_API_KEY}"}}`
(see the comments there). Then run:

    python examples/langchain_chain.py [path/to/router.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_sls import SmartRouterLLM

CONFIG = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("router.yaml")


def describe(meta: dict, usage: dict | None) -> str:
    pred = meta.get("sls_predicted") or {}
    parts = [f"routed to {meta['sls_model']}", f"cache: {meta['sls_cache_tier'] or 'none'}"]
    if pred:
        parts.append(f"predicted P(good)={pred['p_good']:.2f} cost=${pred['cost_usd']:.6f} "
                     f"latency={pred['latency_s']:.2f}s")
    parts.append(f"actual cost=${meta['sls_cost_usd']:.6f}")
    if usage:
        parts.append(f"usage in={usage['input_tokens']} out={usage['output_tokens']}")
    if meta.get("sls_attempts"):
        parts.append("fell back after: " + "; ".join(f"{a['model']} ({a['error']})" for a in meta["sls_attempts"]))
    parts.append(f"request {meta['sls_request_id'][:12]}")
    return " | ".join(parts)


def main() -> None:
    # `with` saves what the router learned on the way out (with `state:` set in the
    # YAML); it is also saved on a timer and at interpreter exit
    with SmartRouterLLM.from_config(CONFIG) as router:
        run(router)


def run(router: SmartRouterLLM) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "You answer in one sentence."), ("human", "{question}")])
    # keep the AIMessage (for its metadata) next to the parsed text
    chain = prompt | router
    text_chain = prompt | router | StrOutputParser()

    print("== chain.invoke")
    msg = chain.invoke({"question": "What is the capital of France?"})
    print("answer:", msg.content)
    print("  ", describe(msg.response_metadata, msg.usage_metadata))

    print("== the same question again (served by the cache)")
    again = chain.invoke({"question": "What is the capital of France?"})
    print("answer:", again.content)
    print("  ", describe(again.response_metadata, again.usage_metadata))

    print("== prompt | router | StrOutputParser(), batch")
    for q, answer in zip(["Write a haiku about routing.", "Name a prime number."],
                         text_chain.batch([{"question": "Write a haiku about routing."},
                                           {"question": "Name a prime number."}])):
        print(f"{q} -> {answer}")

    print("== stream")
    full = None
    pieces = []
    for chunk in chain.stream({"question": "Tell me about the capital of France in detail."}):
        pieces.append(chunk.content)
        full = chunk if full is None else full + chunk
    print(f"{len(pieces)} chunks:", "|".join(p for p in pieces if p))
    print("  ", describe(full.response_metadata, full.usage_metadata))

    print("== feedback")
    ok = router.feedback(msg, 1.0)  # or router.feedback(request_id, score)
    print(f"feedback on {msg.response_metadata['sls_request_id'][:12]}: accepted={ok}; stats={router.stats()}")


if __name__ == "__main__":
    main()
