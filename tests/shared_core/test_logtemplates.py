"""to_template: the post-processing shared by every method of the log-parsing replay."""

import os
from pathlib import Path

import pytest

from shared_core.bench.log_agreement import agreement_report
from shared_core.logtemplates import fold_ws, is_correct, to_template

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SLS_DATA", REPO.parent / "shared" / "data")) / "logparsing"


@pytest.mark.parametrize("raw, expected", [
    # placeholders, single and doubled braces, a prefix glued to one
    ("PacketResponder {responder} for block {block} terminating",
     "PacketResponder <*> for block <*> terminating"),
    ("{{ip_address}} \"GET {{endpoint}}\" status: {status}", "<*> \"GET <*>\" status: <*>"),
    ("Deleting block blk_{id} file {}", "Deleting block <*> file <*>"),
    # adjacent wildcards make one value: ip:port, a.b
    ("blockMap updated: {ip}:{port} is added", "blockMap updated: <*> is added"),
    ("BLOCK* {name}.{method}: done", "BLOCK* <*>: done"),
    # values the model left in: numbers, hex, paths, true/false
    ("FA||Url||taskID[2019352994] dealloc", "FA||Url||taskID[<*>] dealloc"),
    ("flags=0x10840000 uid 10113 ok", "flags=<*> uid <*> ok"),
    ("Read {path} from /user/root/rand/part-00382.", "Read <*> from <*>"),
    ("registersensorsuccess: true", "registersensorsuccess: <*>"),
    # literal braces of the log are kept
    ("UserInfo={NSDescription=Account identity not set} Code={code}",
     "UserInfo={NSDescription=Account identity not set} Code=<*>"),
    ("Window{{id} u0 {name}}", "Window{<*> u0 <*>}"),
])
def test_abstraction(raw, expected):
    assert to_template(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    # between backticks, inline or fenced, possibly after an introduction
    ("The template is `Session: {id} initialized`.", "Session: <*> initialized"),
    ("```\nSession: {id} initialized\n```", "Session: <*> initialized"),
    ("Here is the static log template:\n\n```text\nSession: {id} initialized\n```\nNotes...",
     "Session: <*> initialized"),
    # recorded answers: closing quote of the prompt's '...', then chatter
    ("Interrupting {}.'\nThe template of 'Error in {}' is 'Error in {}'", "Interrupting <*>."),
    ("the start time isn't for {time} seconds.  Ignoring.'\n\n\"\"\"\nimport re",
     "the start time isn't for <*> seconds. Ignoring."),
    # a balanced quote is part of the template
    ("Location icon should now be in state '{state}'", "Location icon should now be in state '<*>'"),
    ("jk2_init() Can\\'t find child {pid} in scoreboard'\nmore", "jk2_init() Can't find child <*> in scoreboard"),
    # no quote: the first line, the rest is explanation
    ("iar {iar} dear {dear}\nBased on the log above, the variables are...", "iar <*> dear <*>"),
    ("", ""),
    ("  \n ", ""),
])
def test_extraction(raw, expected):
    assert to_template(raw) == expected


@pytest.mark.parametrize("raw", [
    "PacketResponder {responder} for block {block} terminating",
    "Interrupting {}.'\nThe template of 'x' is 'y'",
    "Received connection request <*>:<*>",
    "a/{x}/{y}z",
    "`x` {a}'' `{b}`",
    "Page bounds {{0, 0} {{width}, {height}}}",
    "jk2_init() Can\\'t find child {pid}",
    "x#{#x.}{\\\\'\\{-a\n\n>::b}@",
])
def test_idempotent(raw):
    once = to_template(raw)
    assert to_template(once) == once


def test_fold_ws_and_is_correct():
    assert fold_ws("  a \t b\n\nc  ") == "a b c"
    assert fold_ws("") == ""
    assert is_correct("PacketResponder <*>  for block <*>\n", " PacketResponder <*> for block <*>")
    assert not is_correct("PacketResponder <*>", "PacketResponder <*> terminating")


def test_hdfs_accuracy_matches_authors(tmp_path):
    hdfs = DATA / "HDFS.csv.gz"
    if not hdfs.exists():
        pytest.skip(f"shared replay data not found at {DATA}; set SLS_DATA")
    (tmp_path / hdfs.name).symlink_to(hdfs)
    mixtral = agreement_report(tmp_path)["mixtral-8x7b"]
    assert mixtral["rows"] == 2000
    assert abs(mixtral["accuracy_ours"] - mixtral["accuracy_theirs"]) <= 0.02
    assert mixtral["idempotent"] == 1.0
