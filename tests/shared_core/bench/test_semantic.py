"""`sls bench semantic`: the replay's split and truth, the hindsight threshold, every row
through the real cache and FAISS on small pairs made here, and a CI-sized run of the
command on the shared paraphrase files where they are present."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from shared_core.bench import semantic
from shared_core.encoders import HashingEncoder

from .conftest import need_data

TOPICS = ["password", "invoice", "router", "printer", "account", "laptop", "email", "phone", "backup", "wallet",
          "calendar", "garden", "kitchen", "bicycle", "passport", "ticket", "camera", "guitar", "battery", "license"]
ASKS = ["How do I reset my {}?", "Where can I buy a new {}?", "Why does my {} keep failing?",
        "What is the best way to clean a {}?", "Can I share my {} with family?"]
REWORD = {"How do I reset my {}?": "how do i reset my {} please",
          "Where can I buy a new {}?": "where can i buy a new {} today",
          "Why does my {} keep failing?": "why does my {} keep on failing",
          "What is the best way to clean a {}?": "what is the best way to clean my {}",
          "Can I share my {} with family?": "can i share my {} with my family"}


def pairs() -> list[dict[str, str]]:
    out = [{"id": f"p{i}", "origin": ask.format(t), "similar": REWORD[ask].format(t)}
           for i, (t, ask) in enumerate((t, a) for t in TOPICS for a in ASKS)]
    # held out (every 5th), with the very text of p0's stored origin: asked, it must get p0's answer
    out.insert(4, {"id": "dup", "origin": out[0]["origin"], "similar": "reset the password how"})
    return out


def write(tmp_path, rows, name="tiny.jsonl.gz"):
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path


def test_replay_stores_four_fifths_and_asks_the_rest_as_never_stored_origins():
    rep = semantic.build_replay("t", pairs())
    n = len(pairs())
    assert len(rep.stored) == n - n // 5 and len(rep.queries) == n
    held = {p["origin"] for i, p in enumerate(pairs()) if i % 5 == 4}
    assert sum(q in held for q, _ in rep.queries) == len(held)
    # origins with the very same text share one answer
    assert dict(rep.stored)[pairs()[0]["origin"]] == "answer p0"
    assert dict(rep.queries)[pairs()[0]["origin"]] == frozenset({"answer p0"})  # the held-out 'dup' asks it


def test_a_query_whose_text_is_a_stored_origin_may_get_that_origin():
    rows = [{"id": "a", "origin": "Is coffee bad?", "similar": "Is tea bad?"},
            {"id": "b", "origin": "Is tea bad?", "similar": "Is black tea harmful?"}]
    right = dict(semantic.build_replay("t", rows).queries)
    assert right["Is tea bad?"] == {"answer a", "answer b"}


def test_best_in_hindsight_is_the_lowest_cut_within_the_error_share():
    recs = [(0.99, True), (0.95, True), (0.93, False), (0.9, True), (0.85, False), None, None, None, None, None]
    assert semantic.best_in_hindsight(recs, 0.1) == 0.9  # one wrong of ten queries allowed
    assert semantic.best_in_hindsight(recs, 0.05) == 0.95
    assert semantic.best_in_hindsight([(2.0, False)] + recs[:2] + [None] * 7, 0.05) is None  # exact errors count
    assert semantic.best_in_hindsight([(0.9, True), (0.9, False)] + [None] * 8, 0.05) is None  # ties not split


def test_rows_through_the_real_cache(tmp_path):
    rows = semantic.run_replay(semantic.build_replay("t", semantic.load_pairs(write(tmp_path, pairs()))),
                               HashingEncoder(), target=0.05)
    by = {r["row"]: r for r in rows}
    assert list(by) == ["sls (learned)", "fixed 0.80", "fixed 0.90", "fixed 0.95", "best fixed in hindsight",
                        "exact only"]
    assert by["exact only"]["hit_rate"] == 1 / len(pairs()) and by["exact only"]["wrong"] == 0  # the 'dup' 
    assert by["fixed 0.80"]["hit_rate"] >= by["fixed 0.90"]["hit_rate"] >= by["fixed 0.95"]["hit_rate"]
    best = by["best fixed in hindsight"]
    assert best["wrong_of_queries"] <= 0.05 and best["hit_rate"] > by["exact only"]["hit_rate"]
    sls = by["sls (learned)"]
    assert sls["wrong_of_queries"] <= 0.05
    for r in rows:
        assert r["hits"] == round(r["hit_rate"] * r["queries"]) and 0 <= r["lookup_p50_ms"] <= r["lookup_p99_ms"]


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_text("not gzip")
    with pytest.raises(FileNotFoundError, match="bad.jsonl.gz"):
        semantic.load_pairs(bad)
    with pytest.raises(ValueError, match="line 1 has no similar"):
        semantic.load_pairs(write(tmp_path, [{"id": "x", "origin": "y"}]))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        semantic.find_files([str(tmp_path / "nowhere")])


def test_cli_on_the_shared_paraphrase_files(tmp_path):
    folder = need_data("semantic")
    out = tmp_path / "semantic.json"
    proc = subprocess.run([sys.executable, "-m", "shared_core.cli", "bench", "semantic", "--data", str(folder),
                           "--limit", "300", "--encoders", "hashing", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "qqp_pairs with hashing-256" in proc.stdout and "gptcache_mock with hashing-256" in proc.stdout
    result = json.loads(out.read_text())
    assert [r["file"] for r in result["runs"]] == ["qqp_pairs", "gptcache_mock"]
    for run in result["runs"]:
        rows = {r["row"]: r for r in run["rows"]}
        assert rows["sls (learned)"]["queries"] == 300
        assert rows["fixed 0.80"]["hit_rate"] >= rows["fixed 0.95"]["hit_rate"]
