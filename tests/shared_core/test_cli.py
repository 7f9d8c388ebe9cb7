"""The `sls` command: bench output shape, errors, and the cache micro-benchmark."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared_core.cli import main

DATA = Path(os.environ.get("SLS_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
LOGS = DATA / "logparsing"
ROWS = {"sls", "sls-no-cache", "sls-no-update", "sls-no-predictor", "random", "best-single", "per-system-best",
        "oracle"}


def needs_data():
    if not LOGS.is_dir():
        pytest.skip(f"shared replay data not found at {LOGS}; set SLS_DATA")


def test_bench_logparsing_writes_the_documented_shape(tmp_path, capsys):
    needs_data()
    out = tmp_path / "result.json"
    code = main(["bench", "logparsing", "--data", str(LOGS), "--systems", "HDFS,Apache", "--limit", "300",
                 "--out", str(out), "--quiet", "--workers", "1"])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["task"] == "logparsing" and result["queries"] == 600
    methods = {r["method"] for r in result["rows"]}
    assert ROWS <= methods and any(m.startswith("single:") for m in methods)
    for r in result["rows"]:
        for key in ("accuracy", "cost_usd", "time_s", "llm_calls", "cache_hits"):
            assert isinstance(r[key], (int, float))
    assert set(result["overhead_us"]) == {"p50", "p99"}
    sls = next(r for r in result["rows"] if r["method"] == "sls")
    no_cache = next(r for r in result["rows"] if r["method"] == "sls-no-cache")
    assert sls["cache_hits"] > 0 and no_cache["cache_hits"] == 0
    assert sls["cost_usd"] < no_cache["cost_usd"]
    assert "sls" in capsys.readouterr().out


def test_bench_feedback_none_uses_verifiers_only(tmp_path):
    needs_data()
    out = tmp_path / "none.json"
    assert main(["bench", "logparsing", "--data", str(LOGS / "HDFS.csv.gz"), "--limit", "200", "--variants", "sls",
                 "--feedback", "none", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["feedback"] == "none" and result["rows"][0]["method"] == "sls"


def test_bench_missing_data_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", "logparsing", "--data", str(tmp_path / "nowhere"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no log-parsing data at" in err and "--data" in err and "$SLS_DATA" in err


def test_unknown_systems_are_an_error_that_lists_the_known(capsys):
    needs_data()
    assert main(["bench", "logparsing", "--data", str(LOGS), "--systems", "HDFS,Nope", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown --systems Nope" in err and "HDFS" in err and "Zookeeper" in err


def test_version_and_help_with_examples(capsys):
    from shared_core.cli import package_version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"sls {package_version()}"
    for command in ("demo", "bench", "run", "stats", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out and f"sls {command}" in out


def test_cache_micro_benchmark_prints_a_row_per_size(tmp_path, capsys):
    out = tmp_path / "cache.json"
    # --distinct: no two lines share a vector, so 6,000 entries pass hnsw_from (4,096 vectors)
    assert main(["bench", "cache", "--sizes", "500,6000", "--distinct", "--quiet", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["sizes"]
    assert [r["entries"] for r in rows] == [500, 6000] and [r["index"] for r in rows] == ["flat", "hnsw"]
    assert rows[0]["recall_at_1"] == 1.0 and rows[1]["recall_at_1"] > 0.9
    assert all(r["puts_per_s"] > 0 for r in rows)
    assert rows[1]["bytes_per_entry"] > 500  # a float16 vector and its graph links at least (RSS: 500 entries is noise)
    assert "bytes/entry" in capsys.readouterr().out


def test_bench_sizes_must_be_numbers(capsys):
    assert main(["bench", "route", "--sizes", "1000,lots"]) == 2
    assert "--sizes must be comma-separated whole numbers" in capsys.readouterr().err


def _loghub_folder(folder, lines=60):
    import gzip

    folder.mkdir()
    with gzip.open(folder / "Tiny.csv.gz", "wt", newline="") as fh:
        fh.write("content,event_template\n")
        for i in range(lines):
            fh.write(f"Connection {i} closed by peer{i % 7},Connection <*> closed by <*>\n")
    return folder


def test_bench_route_reads_the_folder_data_names(tmp_path, capsys):
    folder = _loghub_folder(tmp_path / "loghub")
    out = tmp_path / "route.json"
    assert main(["bench", "route", "--sizes", "100", "--observations", "50", "--data", str(folder),
                 "--quiet", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert str(folder) in result["corpus"] and "Loghub (1 systems" in result["corpus"]
    assert result["sizes"][0]["entries"] == 100


@pytest.mark.parametrize("task", ["route", "cache"])
def test_bench_data_without_loghub_files_or_with_two_folders_is_an_error(tmp_path, capsys, task):
    assert main(["bench", task, "--sizes", "100", "--data", str(tmp_path)]) == 2
    assert f"--data {tmp_path}: no Loghub <System>.csv.gz files in that folder" in capsys.readouterr().err
    assert main(["bench", task, "--sizes", "100", "--data", str(tmp_path), str(tmp_path)]) == 2
    assert f"sls bench {task} reads one Loghub folder; --data got 2" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "route", "--config", "my.yaml"],
     "sls bench route does not read --config; it is for sls bench logparsing, codegen, qa"),
    (["bench", "cache", "--observations", "10"], "sls bench cache does not read --observations; it is for sls bench route"),
    (["bench", "qa", "--sizes", "1000"], "sls bench qa does not read --sizes; it is for sls bench cache, route"),
    (["bench", "logparsing", "--target-error-rate", "0.1"], "does not read --target-error-rate"),
    (["bench", "semantic", "--entries", "5000"], "sls bench semantic reads --entries only with --scale"),
])
def test_a_bench_option_the_task_does_not_read_is_an_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "qa", "--mixed", "--variants", "sls,sls-online-train"],
     "sls-online-train starts each file on its own train part; it does not combine with --mixed"),
    (["bench", "qa", "--warm", "--pretrain"], "sls-pretrained starts each file on its own train part"),
    (["bench", "qa", "--warm", "--mixed"], "--warm carries one engine through the files in turn, --mixed"),
])
def test_a_workload_that_cannot_run_a_row_says_so_before_loading_anything(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        main(argv + ["--data", str(tmp_path / "nowhere"), "--quiet"])


def test_bench_qa_mixed_runs_its_default_rows_as_one_workload(tmp_path):
    qa = DATA / "qa"
    if not qa.is_dir():
        pytest.skip(f"shared replay data not found at {qa}; set SLS_DATA")
    out = tmp_path / "mixed.json"
    assert main(["bench", "qa", "--data", str(qa), "--mixed", "--limit", "40", "--baselines", "none",
                 "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    methods = {r["method"] for r in result["rows"]}
    assert result["mixed"] and "sls" in methods and "sls-online-train" not in methods
    assert set(result["per_group"]["sls"]) == {"arc_challenge", "winogrande"}
