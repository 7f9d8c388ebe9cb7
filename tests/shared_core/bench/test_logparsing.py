import gzip

import pytest

from shared_core.bench.logparsing import load_group, read_columns
from shared_core.config import CandidateConfig

HEADER = "content,event_template,m.output,m.prompt_tokens,m.completion_tokens\n"


def _write(path, text):
    with gzip.open(path, "wt", newline="") as fh:
        fh.write(text)
    return path


def test_a_file_reads_as_its_columns_with_quoted_commas_and_new_lines(tmp_path):
    f = _write(tmp_path / "X.csv.gz", HEADER + 'a 1,a <*>,"`a <*>`",10,3\n"b, 2\nmore",b <*>,`b`,11,\n')
    cols = read_columns(f)
    assert cols["content"] == ("a 1", "b, 2\nmore")
    assert cols["m.completion_tokens"] == ("3", "")


def test_a_group_loads_labels_and_tokens(tmp_path):
    f = _write(tmp_path / "X.csv.gz", HEADER + "a 1,a <*>,`a <*>`,10,3\nb 2,b <*>,`c d`,11,\n")
    group = load_group(f, ["m"], {"m": CandidateConfig(name="m", price_in=1.0, price_out=2.0)})
    assert group.name == "X" and group.queries == ["a 1", "b 2"]
    assert group.correct["m"].tolist() == [True, False]
    assert group.input_tokens["m"].tolist() == [10, 11] and group.output_tokens["m"].tolist() == [3, 0]
    assert group.cost["m"].tolist() == pytest.approx([16e-6, 11e-6])


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    (HEADER + "a 1,a <*>,`a`,10\n", "data row 1 has 4 fields, the header 5"),
    ("content,event_template\na,a\n", "has no column m.output"),
])
def test_a_malformed_file_is_named_with_what_is_wrong(tmp_path, text, message):
    f = _write(tmp_path / "Bad.csv.gz", text)
    with pytest.raises(ValueError, match=message) as err:
        load_group(f, ["m"], {"m": CandidateConfig(name="m", price_in=1.0, price_out=2.0)})
    assert "Bad.csv.gz" in str(err.value)
