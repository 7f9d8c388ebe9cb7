"""to_template: the post-processing shared by every method of the log-parsing replay."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.bench.log_agreement import agreement_report
from shared_core.logtemplates import compile_template, fold_ws, is_correct, to_template

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


# -- templates as patterns: model output is untrusted, so matching must stay linear --

def _regex_match(template: str, line: str):
    """The reference reading: `<*>` as a lazy `(.+?)` group, the whole line matched."""
    parts = fold_ws(template).split("<*>")
    m = re.fullmatch("(.+?)".join(map(re.escape, parts)), fold_ws(line), re.DOTALL)
    return m.groups() if m else None


@pytest.mark.parametrize("template, line, expected", [
    ("PacketResponder <*> for block <*> terminating", "PacketResponder 1 for block blk_2 terminating", ("1", "blk_2")),
    ("<*>", "anything at all", ("anything at all",)),
    ("<*><*>", "abc", ("a", "bc")),
    ("a <*> a <*> a", "a x a y a a", ("x", "y a")),
    ("no wildcard", "no  wildcard", ()),
    ("no wildcard", "no wildcards", None),
    ("<*> end", "end", None),  # a wildcard covers at least one character
    ("a<*>a", "aa", None),
    ("start <*>", "start ", None),
])
def test_pattern_match(template, line, expected):
    assert compile_template(template).match(line) == expected == _regex_match(template, line)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", " ", "<*>"]), max_size=8).map("".join),
       st.text(st.sampled_from("ab "), max_size=12))
def test_pattern_match_agrees_with_lazy_regex(template, line):
    assert compile_template(template).match(line) == _regex_match(template, line)


_ADVERSARIAL = """
import sys
from shared_core.logtemplates import compile_template
from shared_core.request import Request
from shared_core.verifiers.log_template import LogTemplateVerifier
from shared_core.cache.reuse.log_template import LogTemplateReuser
for n in (20, 40, 200):
    for template, line in [(" ".join(["<*>"] * n) + " end", " ".join(["a"] * (n + 10))),
                           ("<*>a" * n + "b", "a" * (4 * n)),
                           ("x" + "<*> <*>," * n, "x" + " ," * (3 * n) + " y")]:
        assert compile_template(template).match(line) is None
        request = Request(messages=[{"role": "user", "content": line}], task="logparsing")
        assert LogTemplateVerifier().verify(request, template) == 0.0
        LogTemplateReuser().learn("s", request, template, 1)
print("done")
"""


def test_adversarial_templates_do_not_hang():
    # a backtracking matcher needs minutes at n=20 and longer than the universe at n=200;
    # the timeout only guards against a hang, it is no speed target
    out = subprocess.run([sys.executable, "-c", _ADVERSARIAL], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
