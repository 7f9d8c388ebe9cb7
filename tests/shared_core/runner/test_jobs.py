"""Job lines: what a good line becomes, and a bad line named by its number."""

from __future__ import annotations

import pytest

from shared_core.runner.jobs import BadLine, Job, parse_job, read_jobs


def test_prompt_and_messages_lines_become_requests():
    job = parse_job('{"id": 7, "prompt": "hi there", "task": "qa", "tenant": "acme", "max_cost": 0.01, '
                    '"verify": {"tests": ["assert True"]}}', 3)
    assert (job.id, job.line, job.request.task, job.request.tenant) == ("7", 3, "qa", "acme")
    assert job.request.messages == [{"role": "user", "content": "hi there"}]
    assert job.request.metadata["max_cost_usd"] == 0.01 and job.request.metadata["tests"] == ["assert True"]
    chat = parse_job('{"id": "c", "messages": [{"role": "system", "content": "be brief"}, '
                     '{"role": "user", "content": "why?"}]}', 1)
    assert chat.request.query == "why?" and chat.request.system_prompt == "be brief"


@pytest.mark.parametrize("line, problem", [
    ("not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"prompt": "x"}', "'id' is missing"),
    ('{"id": "a", "prompt": "x", "messages": []}', "exactly one of 'prompt' and 'messages'"),
    ('{"id": "a"}', "exactly one of 'prompt' and 'messages'"),
    ('{"id": "a", "prompt": "x", "max_cost": -1}', "'max_cost' must be a positive number"),
    ('{"id": "a", "prompt": "x", "colour": "red"}', "unknown field 'colour'"),
    ('{"id": "a", "messages": [{"role": "wizard", "content": "x"}]}', "unknown role"),
    ('{"id": "a", "prompt": "   "}', "empty"),
])
def test_bad_lines_say_what_is_wrong(line, problem):
    with pytest.raises(ValueError, match=problem):
        parse_job(line, 1)


def test_read_jobs_numbers_bad_lines_and_refuses_repeated_ids(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"id": "a", "prompt": "one"}\n\n{oops\n{"id": "b", "prompt": "two"}\n{"id": "a", "prompt": "3"}\n')
    items = list(read_jobs(path))
    assert [type(i) for i in items] == [Job, BadLine, Job, BadLine]
    assert items[1].line == 3 and "not JSON" in str(items[1])
    assert items[3].line == 5 and "repeats the id of line 1" in items[3].error
