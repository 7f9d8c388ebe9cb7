"""The RouterBench loader on small files made here, and on slices of the
shared replays when they are there."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from shared_core.bench import routerbench
from shared_core.bench.replay import run_bench
from shared_core.cli import bench_config, main

YAML = """models:
  big:   {provider: a, price_in: 10.0, price_out: 30.0, ttft_s: 0.6, tokens_per_s: 25}
  small: {provider: b, price_in: 0.5,  price_out: 1.0,  ttft_s: 0.3, tokens_per_s: 100}
  other: {provider: c, price_in: 0.2,  price_out: 0.2,  ttft_s: 0.2, tokens_per_s: 100}
"""
PREFIX = "Q: 1+1?\nA) 2\nB) 3\nAnswer:\nA\n\nQ: 2+2?\nA) 5\nB) 4\nAnswer:\nB\n\n"


def _write(path, rows):
    cols = ["id", "prompt"] + [f"{m}.{k}" for m in ("big", "small", "other") for k in ("output", "correct", "cost")]
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        for r in rows:
            w.writerow(r)


@pytest.fixture
def qa_dir(tmp_path):
    root = tmp_path / "data"
    (root / "qa").mkdir(parents=True)
    (root / "routerbench_models.yaml").write_text(YAML)
    rows = []
    for i, (q, big, small, other) in enumerate([
        ("Q: 3+3?\nA) 6\nB) 7\nAnswer:", ("A", 1), ("A\n", 1), ("B", 0)),
        ("Q: 5-1?\nA) 3\nB) 4\nAnswer:", ("B", 1), ("A", 0), ("I do", 0)),
        # contradicting labels for the same text: the majority (big, other) wins
        ("Q: 2*3?\nA) 6\nB) 5\nAnswer:", ("A", 1), ("A", 0), ("A", 1)),
    ]):
        rows.append({"id": f"t.{i}", "prompt": PREFIX + q,
                     **{f"{m}.output": a for m, (a, _) in zip(("big", "small", "other"), (big, small, other))},
                     **{f"{m}.correct": c for m, (_, c) in zip(("big", "small", "other"), (big, small, other))},
                     "big.cost": 0.003, "small.cost": 0.0002, "other.cost": 0.0001})
    _write(root / "qa" / "toy.csv.gz", rows)
    return root


def test_load_task_splits_the_few_shot_prefix_into_the_system_prompt(qa_dir):
    task = routerbench.load_task("qa", [qa_dir / "qa"])
    assert task.models == ["big", "small", "other"]
    g = task.groups[0]
    assert g.name == "toy" and len(g) == 3
    assert g.system_prompt == PREFIX
    assert g.queries[0] == "Q: 3+3?\nA) 6\nB) 7\nAnswer:"
    assert g.cost["big"][0] == pytest.approx(0.003)
    assert g.output_tokens["other"][1] == 1  # len("I do") // 4
    assert g.time["big"][0] == pytest.approx(0.6 + 1 / 25)
    assert g.input_tokens["big"][0] > 20  # the prefix counts: the models read it
    assert task.candidates[0].expected_output_tokens == 2
    assert task.verifiers == []


def test_judge_uses_the_label_of_the_answer_given(qa_dir):
    task = routerbench.load_task("qa", [qa_dir / "qa"])
    g = task.groups[0]
    assert task.judge(g, 0, "A") is True
    assert task.judge(g, 0, "A\n") is True
    assert task.judge(g, 0, "B") is False
    assert task.judge(g, 1, "  B ") is True  # white space folded as a fallback
    assert task.judge(g, 1, "never recorded") is False
    # row 2: small's "A" was labelled 0 against two 1s: every method is judged alike
    assert task.judge(g, 2, "A") is True
    assert list(g.correct["small"]) == [True, False, True]


def test_models_yaml_is_found_one_folder_up_or_via_sls_data(qa_dir, tmp_path, monkeypatch):
    assert routerbench.models_yaml_path([qa_dir / "qa" / "toy.csv.gz"]) == qa_dir / "routerbench_models.yaml"
    lone = tmp_path / "elsewhere" / "x"
    lone.mkdir(parents=True)
    (lone / "toy.csv.gz").write_bytes((qa_dir / "qa" / "toy.csv.gz").read_bytes())
    monkeypatch.delenv("SLS_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SLS_DATA"):
        routerbench.load_task("qa", [lone])
    monkeypatch.setenv("SLS_DATA", str(qa_dir))
    assert routerbench.load_task("qa", [lone]).size == 3


def test_load_task_rejects_unknown_tasks_and_missing_files(qa_dir):
    with pytest.raises(ValueError):
        routerbench.load_task("logparsing", [qa_dir / "qa"])
    with pytest.raises(FileNotFoundError):
        routerbench.load_task("qa", [qa_dir / "nope"])
    with pytest.raises(FileNotFoundError):
        routerbench.load_task("qa", [qa_dir / "qa"], systems=["arc"])


def test_shared_prefix_cuts_at_a_blank_line():
    assert routerbench.shared_prefix(["ex\n\nQ one", "ex\n\nQ two"]) == "ex\n\n"
    assert routerbench.shared_prefix(["Write a function to a", "Write a function to b"]) == ""
    assert routerbench.shared_prefix(["only one"]) == ""


def test_bench_on_the_toy_files_runs_end_to_end(qa_dir, tmp_path):
    out = tmp_path / "r.json"
    code = main(["bench", "qa", "--data", str(qa_dir / "qa"), "--train-frac", "0", "--quiet", "--workers", "1",
                 "--variants", "sls,sls-cascade", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert {r["method"] for r in result["rows"]} >= {"sls", "sls-cascade", "oracle", "single:big"}


# -- the shared replays -------------------------------------------------------------------
def test_mbpp_prompts_carry_no_tests(need_data):
    """Why the codegen replay has no unit-test verifier: MBPP's asserts are not
    in the prompts (and the answers name their functions freely)."""
    task = routerbench.load_task("codegen", [need_data("codegen", "mbpp.csv.gz")])
    g = task.groups[0]
    assert len(g) == 299 and len(task.models) == 11
    assert not any("assert" in q for q in g.queries)
    assert g.system_prompt == ""
    assert g.correct["gpt-4-1106-preview"].mean() == pytest.approx(0.686, abs=0.001)
    assert g.cost["gpt-4-1106-preview"].sum() == pytest.approx(2.80, abs=0.01)
    assert task.verifiers == []


def test_codegen_slice_with_baselines(need_data):
    task = routerbench.load_task("codegen", [need_data("codegen", "mbpp.csv.gz")], limit=60)
    base = bench_config("codegen", task.candidates, None)
    result = run_bench(task, ("sls", "sls-cascade"), base=base, workers=1, train_frac=0.2,
                       baselines=("optllm-style", "routellm-style", "frugalgpt-cascade"))
    by = {r["method"]: r for r in result["rows"]}
    assert result["queries"] == 48
    assert by["sls-cascade"]["llm_calls"] >= 48
    assert by["oracle"]["accuracy"] >= max(r["accuracy"] for m, r in by.items() if m.startswith("single:"))
    for m in ("sls", "optllm-style", "routellm-style"):
        assert by[m]["llm_calls"] == 48  # one call per query
    assert by["frugalgpt-cascade"]["llm_calls"] >= 48


def test_qa_slice_has_two_replays_with_few_shot_system_prompts(need_data):
    task = routerbench.load_task("qa", [need_data("qa")], limit=30)
    assert [g.name for g in task.groups] == ["arc_challenge", "winogrande"]
    for g in task.groups:
        assert g.system_prompt.endswith("\n\n") and len(g.system_prompt) > 1000
        assert len(g.queries[0]) < 1100
    base = bench_config("qa", task.candidates, None)
    result = run_bench(task, ("sls",), base=base, workers=1, train_frac=0.2, baselines=("optllm-style",))
    assert set(result["files"]) == {"arc_challenge", "winogrande"}
