"""The 11 tool definitions: names, valid JSON Schemas that admit valid calls, descriptions
that teach the limits and the citation."""
from __future__ import annotations

import jsonschema
import pytest

from tests.unit.deliverables.samples import TOOL_ARGS, TOOL_KIND
from workers.deliverables.tools import TOOL_NAMES, TOOL_SPECS, citation
from workers.models.base import ToolSpec

SPECS = {spec.name: spec for spec in TOOL_SPECS}


def test_the_eleven_tools_in_protocol_order() -> None:
    assert [spec.name for spec in TOOL_SPECS] == [
        "create_file", "create_pie_chart", "create_bar_chart", "create_stacked_bar_chart", "create_line_chart",
        "create_area_chart", "create_scatter_chart", "create_table", "create_list", "create_checklist", "create_svg",
    ]
    assert list(TOOL_NAMES) == [spec.name for spec in TOOL_SPECS]
    assert all(isinstance(spec, ToolSpec) for spec in TOOL_SPECS)


@pytest.mark.parametrize("tool", TOOL_ARGS)
def test_schema_is_valid_and_admits_a_valid_call(tool: str) -> None:
    schema = SPECS[tool].parameters
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(TOOL_ARGS[tool], schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False


@pytest.mark.parametrize("tool", TOOL_ARGS)
def test_description_says_how_to_cite(tool: str) -> None:
    kind = TOOL_KIND[tool]
    expected = citation(kind, "specs/plan.md" if kind == "file" else "<id>")
    assert expected in SPECS[tool].description


@pytest.mark.parametrize(("tool", "wrapper"), [
    ("create_table", "table"), ("create_list", "list"), ("create_checklist", "checklist"), ("create_svg", "svg"),
])
def test_wrapper_tools_take_one_wrapper_object(tool: str, wrapper: str) -> None:
    schema = SPECS[tool].parameters
    assert list(schema["properties"]) == [wrapper] and schema["required"] == [wrapper]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({wrapper: {}}, schema)  # the inner object has required fields too


def test_chart_tools_take_fields_at_top_level_without_kind() -> None:
    for tool in TOOL_NAMES:
        if tool.endswith("_chart"):
            properties = SPECS[tool].parameters["properties"]
            assert "id" in properties and "kind" not in properties


def test_schemas_and_descriptions_state_the_limits() -> None:
    bar = SPECS["create_bar_chart"].parameters["properties"]
    assert (bar["labels"]["minItems"], bar["labels"]["maxItems"]) == (1, 32)
    assert bar["series"]["maxItems"] == 8
    assert bar["orientation"]["enum"] == ["vertical", "horizontal"]
    scatter = SPECS["create_scatter_chart"].parameters["properties"]["series"]
    assert scatter["maxItems"] == 6 and scatter["items"]["properties"]["points"]["maxItems"] == 48
    assert SPECS["create_table"].parameters["properties"]["table"]["properties"]["rows"]["maxItems"] == 80
    assert "48,000 characters" in SPECS["create_file"].description
    assert "At most 12 charts" in SPECS["create_pie_chart"].description
    assert "64,000 characters" in str(SPECS["create_svg"].parameters)
