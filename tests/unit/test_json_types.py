"""The one JSON type naming that the emulator's request checks and the cloud client's answer checks share."""
from __future__ import annotations

from typing import Any

import pytest

from shared.http.json_types import json_type, json_type_with_article


@pytest.mark.parametrize(("value", "bare", "with_article"), [
    pytest.param(None, "null", "null", id="null"),
    pytest.param(True, "boolean", "a boolean", id="boolean-not-number"),
    pytest.param(0, "number", "a number", id="int"),
    pytest.param(-2.5, "number", "a number", id="float"),
    pytest.param("", "string", "a string", id="string"),
    pytest.param([1], "array", "an array", id="array"),
    pytest.param({"a": 1}, "object", "an object", id="object"),
    pytest.param((1,), "object", "an object", id="anything-else-counts-as-object"),
])
def test_names(value: Any, bare: str, with_article: str) -> None:
    assert json_type(value) == bare
    assert json_type_with_article(value) == with_article
