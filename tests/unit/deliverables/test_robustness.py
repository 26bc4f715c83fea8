"""Neither the collector nor the completion check ever raises on hostile input: seeded
random JSON values, and valid calls with one field swapped for a random value."""
from __future__ import annotations

import json
import random
from typing import Any

from tests.unit.deliverables import samples
from tests.unit.deliverables.samples import TOOL_ARGS
from workers.deliverables.collector import DeliverableCollector
from workers.deliverables.validate import validate_completion
from workers.models.base import ToolCall

SCALARS: list[Any] = [None, True, False, 0, -1, 2.5, float("nan"), float("inf"), 10 ** 400, "", " ", "x",
                      "😀" * 40, "<svg onload=x>", "a/../b.md", "\ud800"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["id", "kind", "title", "name", "content", "labels", "series", "values", "segments", "points", "x", "y",
            "label", "items", "checked", "ordered", "columns", "rows", "table", "list", "checklist", "svg"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def mutate(rng: random.Random, value: Any) -> Any:
    """``value`` with one member somewhere replaced by a random value."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        return {**value, key: mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.7:
        index = rng.randrange(len(value))
        return [*value[:index], mutate(rng, value[index]), *value[index + 1:]]
    return random_value(rng)


def test_collector_answers_every_call_and_keeps_only_valid_items() -> None:
    rng = random.Random(20240611)
    accepted = 0
    for job in range(100):
        collector = DeliverableCollector()
        for number in range(30):
            tool = rng.choice(list(TOOL_ARGS))
            arguments = mutate(rng, TOOL_ARGS[tool]) if number % 2 else random_value(rng)
            result = collector.apply(ToolCall(call_id=f"{job}-{number}", name=tool, arguments=json.dumps(arguments)))
            answer = json.loads(result.output)
            assert isinstance(answer["ok"], bool) and answer["detail"]
            accepted += answer["ok"]
        assert validate_completion(collector.payload(workspace_id="ws", message="done")) == []
    assert accepted > 50  # the mutations leave many calls valid, so the check above has items to check


def test_completion_check_reports_instead_of_raising() -> None:
    rng = random.Random(7)
    full = samples.body(files=[samples.file()], charts=[samples.bar(), samples.scatter()], datasets=[samples.table()],
                        lists=[samples.list_()], checklists=[samples.checklist()], svgs=[samples.svg()])
    for _ in range(3000):
        problems = validate_completion(mutate(rng, full))
        assert all(isinstance(problem, str) and ": " in problem for problem in problems)
