"""`sls bench semantic`: does the near-duplicate tier serve the right answer?

Replays paraphrase pairs (data/semantic/README.md) through the real cache:
every origin of the stored part is stored with its own answer and confirmed;
then the paraphrases of the stored part, mixed with the origins of a held-out
part (never stored: they must miss, unless the very same text was stored),
are looked up in a seeded order. Labels feedback follows each lookup: a hit
is judged right when its answer is the one stored for the same question; a
miss is answered by the "model" with the right answer, which the shadow check
compares with the nearest entry. The same question is the pair's own origin,
an origin with the very same text, or, for a query whose own text is a stored
origin's (Quora repeats questions across pairs), that origin. Each row is a threshold policy over the same
store and queries: the learned one (`sls`), fixed cosines, the best fixed
cosine chosen in hindsight whose wrong hits stay under the target, and none
(exact tier only).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import CacheManager
from ..config import CacheConfig, SemanticCacheConfig
from ..encoders import Encoder, make_encoder
from ..request import Request
from . import default_data_dir
from .table import format_table

FILES = ("qqp_pairs.jsonl.gz", "gptcache_mock.jsonl.gz")
FIXED = (0.80, 0.90, 0.95)
HELD_OUT = 5  # every 5th pair's origin is never stored and asked as a query
TIMED = 300  # queries encoded one at a time for the encode p50/p99
COLUMNS = ["row", "threshold", "hit_rate", "wrong_of_queries", "wrong_of_hits", "encode_p50_ms", "encode_p99_ms",
           "lookup_p50_ms", "lookup_p99_ms"]
HEADERS = ["row", "threshold", "hit rate", "wrong/queries", "wrong/hits", "encode p50 ms", "p99",
           "lookup p50 ms", "p99"]


@dataclass
class Replay:
    """What is stored and what is asked, with the answer each question should get."""

    name: str
    stored: list[tuple[str, str]]  # (origin text, answer)
    queries: list[tuple[str, frozenset[str]]]  # (text, the answers that are right for it)


def load_pairs(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise FileNotFoundError(f"{path}: not a gzip'd JSON-lines file of paraphrase pairs ({exc})") from exc
    for i, row in enumerate(rows):
        missing = {"id", "origin", "similar"} - set(row)
        if missing:
            raise ValueError(f"{path}: line {i + 1} has no {', '.join(sorted(missing))}")
    return rows[:limit] if limit else rows


def build_replay(name: str, pairs: list[dict[str, str]], seed: int = 0) -> Replay:
    """The answer to a question is its origin's id; origins with the very same text
    share the first such id, so serving either is right."""
    answer_of: dict[str, str] = {}
    for p in pairs:
        answer_of.setdefault(_fold(p["origin"]), f"answer {p['id']}")
    held = [p for i, p in enumerate(pairs) if i % HELD_OUT == HELD_OUT - 1]
    kept = [p for i, p in enumerate(pairs) if i % HELD_OUT != HELD_OUT - 1]
    stored = [(p["origin"], answer_of[_fold(p["origin"])]) for p in kept]

    def right(text: str, origin: str) -> frozenset[str]:
        same_text = answer_of.get(_fold(text))
        return frozenset({answer_of[_fold(origin)], *([same_text] if same_text else [])})

    queries = [(p["similar"], right(p["similar"], p["origin"])) for p in kept]
    queries += [(p["origin"], right(p["origin"], p["origin"])) for p in held]
    order = np.random.default_rng(seed).permutation(len(queries))
    return Replay(name, stored, [queries[i] for i in order])


def _fold(text: str) -> str:
    return " ".join(text.split()).lower()


def _request(text: str) -> Request:
    return Request(messages=[{"role": "user", "content": text}], task="semantic-bench")


class Prepared:
    """One replay encoded once by one encoder, shared by every row."""

    def __init__(self, replay: Replay, encoder: Encoder):
        self.replay, self.encoder = replay, encoder
        self.stored_vecs = encoder.encode([t for t, _ in replay.stored])
        self.query_vecs = encoder.encode([t for t, _ in replay.queries])
        times = []
        for text, _ in replay.queries[:TIMED]:
            t0 = time.perf_counter()
            encoder.encode_one(text)
            times.append(time.perf_counter() - t0)
        self.encode_ms = np.array(times) * 1000


def run_row(prep: Prepared, row: str, semantic: SemanticCacheConfig) -> dict[str, Any]:
    cache = CacheManager(CacheConfig(semantic=semantic, reuse=[]), prep.encoder.dim)
    scope = _request("x").scope_key(["bench"])
    for (text, answer), vec in zip(prep.replay.stored, prep.stored_vecs):
        req = _request(text)
        entry_id = cache.store(req, scope, req.exact_key(scope), vec, answer, "bench")
        cache.judge_entry(entry_id, req, correct=True)
    hits = wrong = 0
    times, nearest = [], []
    for (text, right), vec in zip(prep.replay.queries, prep.query_vecs):
        req = _request(text)
        t0 = time.perf_counter()
        look = cache.lookup(req, scope, req.exact_key(scope), vec)
        times.append(time.perf_counter() - t0)
        nearest.append(_nearest_record(cache, look, right))
        if look.hit is not None:
            hits += 1
            wrong += look.hit.answer not in right
            cache.judge_hit(look.hit, req, scope, look.hit.answer in right)
        else:
            cache.shadow(req, scope, look.nearest, _answer(cache, look, right))
    n = len(prep.replay.queries)
    ms = np.array(times) * 1000
    threshold = cache.policy.threshold(scope)
    return {"row": row, "threshold": round(threshold, 4) if threshold <= 1.0 else None, "queries": n,
            "hits": hits, "wrong": wrong, "hit_rate": hits / n, "wrong_of_queries": wrong / n,
            "wrong_of_hits": wrong / hits if hits else 0.0,
            "encode_p50_ms": float(np.percentile(prep.encode_ms, 50)),
            "encode_p99_ms": float(np.percentile(prep.encode_ms, 99)),
            "lookup_p50_ms": float(np.percentile(ms, 50)), "lookup_p99_ms": float(np.percentile(ms, 99)),
            "_nearest": nearest}


def _answer(cache: CacheManager, look, right: frozenset[str]) -> str:
    """The model's answer on a miss: a right one, the nearest entry's if that is right."""
    entry = cache.entries.get(look.nearest.entry_id) if look.nearest and look.nearest.entry_id else None
    return entry.answer if entry is not None and entry.answer in right else min(right)


def _nearest_record(cache: CacheManager, look, right: frozenset[str]) -> tuple[float, bool] | None:
    """(similarity, right) of what a fixed threshold would serve: an exact hit (as 2.0),
    else the nearest unvetoed entry."""
    if look.hit is not None and look.hit.tier == "exact":
        return (2.0, look.hit.answer in right)
    n = look.nearest
    if n is None or n.entry_id is None or n.veto is not None:
        return None
    entry = cache.entries.get(n.entry_id)
    return (n.similarity, entry is not None and entry.answer in right)


def best_in_hindsight(records: list[tuple[float, bool] | None], target: float) -> float | None:
    """The fixed cosine with the most hits whose wrong hits (exact ones included) stay
    within target of all queries."""
    seen = sorted((r for r in records if r is not None), key=lambda r: -r[0])
    n, wrong, best = len(records), 0, None
    for i, (sim, ok) in enumerate(seen):
        wrong += not ok
        if wrong / n > target:
            break
        if sim <= 1.0 and (i + 1 == len(seen) or seen[i + 1][0] < sim):  # cut between distinct cosines
            best = sim
    return best


REPLAY_STEPS = len(FIXED) + 4  # what run_replay ticks: the encoding, then each row (the hindsight one or not)


def run_replay(replay: Replay, encoder: Encoder, target: float, tick=lambda: None) -> list[dict[str, Any]]:
    prep = Prepared(replay, encoder)
    tick()
    learned = SemanticCacheConfig(policy="learned", target_error_rate=target)  # the defaults otherwise
    rows = [run_row(prep, "sls (learned)", learned)]
    tick()
    for t in FIXED:
        rows.append(run_row(prep, f"fixed {t:.2f}", SemanticCacheConfig(policy="static", initial_threshold=t,
                                                                       floor=min(t, 0.8))))
        tick()
    # exact repeats are judged before the near-duplicate tier, so every row shares the same records
    best = best_in_hindsight(rows[0]["_nearest"], target)
    if best is not None:
        rows.append(run_row(prep, "best fixed in hindsight", SemanticCacheConfig(
            policy="static", initial_threshold=best, floor=min(best, 0.8))))
    tick()
    rows.append(run_row(prep, "exact only", SemanticCacheConfig(policy="none")))
    tick()
    for r in rows:
        r.pop("_nearest")
    return rows


def scale(encoder: Encoder, texts: list[str], entries: int, lookups: int = 500, seed: int = 0) -> dict[str, Any]:
    """Encode + lookup per query with `entries` confirmed entries in one scope: the
    texts' own vectors plus random unit vectors up to `entries` (HNSW past hnsw_from)."""
    rng = np.random.default_rng(seed)
    cache = CacheManager(CacheConfig(semantic=SemanticCacheConfig(policy="static", initial_threshold=0.9,
                                                                   floor=0.8), reuse=[]), encoder.dim)
    scope = _request("x").scope_key(["bench"])
    filler = rng.normal(size=(entries, encoder.dim)).astype(np.float32)
    filler /= np.linalg.norm(filler, axis=1, keepdims=True)
    stored = min(len(texts) // 2, entries)
    filler[:stored] = encoder.encode(texts[:stored])
    req = _request("filler")
    key = req.exact_key(scope)
    for i in range(entries):
        entry_id = cache.store(req, scope, f"{key}{i}", filler[i], f"answer {i}", "bench")
        cache.judge_entry(entry_id, req, correct=True)
    times = []
    for text in texts[stored : stored + lookups]:
        q = _request(text)
        t0 = time.perf_counter()
        vec = encoder.encode_one(text)
        cache.lookup(q, scope, q.exact_key(scope), vec)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return {"encoder": encoder.name, "entries": len(cache), "lookups": len(times),
            "encode_lookup_p50_ms": float(np.percentile(ms, 50)), "encode_lookup_p99_ms": float(np.percentile(ms, 99))}


def find_files(data: list[str] | None) -> list[Path]:
    default = default_data_dir() / "semantic"
    roots = [Path(d) for d in data] if data else [default]
    files = []
    for root in roots:
        if root.is_dir():
            files += [root / f for f in FILES if (root / f).is_file()]
        elif root.is_file():
            files.append(root)
        else:
            raise FileNotFoundError(f"{root}: no such file or folder of paraphrase pairs")
    if not files:
        raise FileNotFoundError(f"no {' or '.join(FILES)} under {', '.join(map(str, roots))}")
    return files


def encoders(names: str) -> list[Encoder]:
    out = []
    for name in [n for n in names.split(",") if n]:
        try:
            out.append(make_encoder(name))
        except ImportError as exc:
            print(f"sls bench semantic: skipping encoder '{name}': {exc}")
    return out


def main(data: list[str] | None = None, limit: int | None = None, encoder_names: str = "hashing,minilm",
         target: float = 0.02, entries: int | None = None, out: str | None = None, quiet: bool = False) -> int:
    from tqdm import tqdm

    result: dict[str, Any] = {"target_error_rate": target, "runs": [], "scale": []}
    files = find_files(data)
    chosen = encoders(encoder_names)
    bar = tqdm(total=len(chosen) * len(files) * REPLAY_STEPS, desc="sls bench semantic", unit="step",
               disable=quiet, file=sys.stderr)
    for enc in chosen:
        for path in files:
            replay = build_replay(path.name.split(".")[0], load_pairs(path, limit))
            bar.set_postfix_str(f"{replay.name}, {enc.name}")
            t0 = time.perf_counter()
            rows = run_replay(replay, enc, target, lambda: bar.update(1))
            print(f"\n{replay.name} with {enc.name}: {len(replay.stored)} stored, {len(replay.queries)} queries "
                  f"({len(replay.queries) - len(replay.stored)} never-stored origins), target_error_rate {target}, "
                  f"{time.perf_counter() - t0:.0f} s")
            print(format_table(rows, COLUMNS, HEADERS))
            print(target_line(rows, target))
            result["runs"].append({"file": replay.name, "encoder": enc.name, "rows": rows})
        if entries:
            texts = [q for path in files for p in load_pairs(path) for q in (p["similar"], p["origin"])]
            s = scale(enc, texts, entries)
            print(f"\n{enc.name} at {s['entries']} entries: encode + lookup p50 {s['encode_lookup_p50_ms']:.3f} ms, "
                  f"p99 {s['encode_lookup_p99_ms']:.3f} ms ({s['lookups']} queries)")
            result["scale"].append(s)
    bar.close()
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    return 0


def target_line(rows: list[dict[str, Any]], target: float) -> str:
    sls = rows[0]
    best = next((r for r in rows if r["row"] == "best fixed in hindsight"), None)
    ratio = f"{sls['hit_rate'] / best['hit_rate']:.2f}x the best fixed's" if best and best["hit_rate"] else "no best fixed"
    ok = "within" if sls["wrong_of_queries"] <= target else "OVER"
    return f"sls: wrong hits {sls['wrong_of_queries']:.4f} of queries ({ok} {target}); hit rate {ratio}"
