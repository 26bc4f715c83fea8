"""``validate_completion``: the body as a whole (fields, arrays, message, artifacts)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deliverables import samples
from workers.deliverables.validate import MAX_PROBLEMS, validate_completion


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in samples.body().items() if key != field}


def test_a_full_body_with_every_kind_is_valid() -> None:
    body = samples.body(
        files=[samples.file()],
        charts=[build() for build in samples.CHART_BUILDERS.values()],
        datasets=[samples.table()], lists=[samples.list_(ordered=True)], checklists=[samples.checklist()],
        svgs=[samples.svg(title="Architecture")],
    )
    assert validate_completion(body) == []


@pytest.mark.parametrize(("body", "problem"), [
    pytest.param([], "body: expected a JSON object, got a list of 0 items", id="not-an-object"),
    pytest.param(samples.body(workspaceId=""), 'workspaceId: expected a non-empty string, got the string ""',
                 id="workspace-id-empty"),
    pytest.param(without("workspaceId"), "workspaceId: expected a non-empty string, got null",
                 id="workspace-id-missing"),
    pytest.param(samples.body(assistantMessage=None), "assistantMessage: expected a string, got null",
                 id="message-null"),
    pytest.param(without("assistantMessage"),
                 "assistantMessage: is required (a string; it may be empty when there are artifacts)",
                 id="message-missing"),
    pytest.param(without("datasets"), "datasets: expected a list (send [] when there are no tables), got nothing",
                 id="array-missing"),
    pytest.param(samples.body(svgs={}), "svgs: expected a list (send [] when there are no SVGs), got an object",
                 id="array-not-a-list"),
    pytest.param(samples.body(tables=[]), 'tables: unknown field (tables go in "datasets")', id="tables-key"),
    pytest.param(samples.body(extra=1), "extra: unknown field; the fields are workspaceId, assistantMessage, "
                 "files, charts, datasets, lists, checklists, svgs", id="unknown-field"),
    pytest.param(samples.body(assistantMessage=""),
                 "assistantMessage: is empty and there are no artifacts; "
                 "a completion needs a message or at least one artifact", id="nothing-to-deliver"),
])
def test_body_problems(body: Any, problem: str) -> None:
    assert validate_completion(body) == [problem]


def test_problems_carry_the_item_place_and_path() -> None:
    body = samples.body(charts=[samples.bar(), samples.pie(), samples.line(
        labels=["a", "b", "c", "d"], series=[{"name": "s", "values": [1, 2, 3, float("nan")]}])])
    assert validate_completion(body) == ["charts[2].series[0].values[3]: expected a finite number, got NaN"]


def test_every_problem_is_reported_not_just_the_first() -> None:
    body = samples.body(workspaceId=None, lists=[samples.list_(id="bad id")], svgs=[samples.svg(content="<g/>")])
    problems = validate_completion(body)
    assert [problem.split(":")[0] for problem in problems] == ["workspaceId", "lists[0].id", "svgs[0].content"]


def test_the_same_id_in_different_kinds_is_fine() -> None:
    body = samples.body(charts=[samples.bar(id="x")], datasets=[samples.table(id="x")], lists=[samples.list_(id="x")],
                        checklists=[samples.checklist(id="x")], svgs=[samples.svg(id="x")])
    assert validate_completion(body) == []


def test_the_problem_list_is_bounded() -> None:
    body = samples.body(lists=[samples.list_(id=f"bad id {i}") for i in range(80)])
    problems = validate_completion(body)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == "... and 31 more problems"  # 80 ids + the cap of 12 lists = 81 problems
    assert problems[0] == "lists: has 80 lists; the limit is 12 per job"
