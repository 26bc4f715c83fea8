"""Valid tool calls for every deliverable kind, shaped as protocol §4 says the model sends them."""
from __future__ import annotations

from typing import Any

SERIES = [{"name": "2025", "values": [3, 5, 8]}, {"name": "2026", "values": [4, 6, 9]}]
LABELS = ["Q1", "Q2", "Q3"]

ALL_KINDS: list[tuple[str, dict[str, Any]]] = [
    ("create_file", {"name": "specs/plan.md", "content": "# Plan\n\nShip it."}),
    ("create_pie_chart", {"id": "share", "title": "Share", "segments": [{"label": "A", "value": 60},
                                                                        {"label": "B", "value": 40}]}),
    ("create_bar_chart", {"id": "sales", "labels": LABELS, "series": SERIES, "orientation": "horizontal"}),
    ("create_stacked_bar_chart", {"id": "stack", "labels": LABELS, "series": SERIES}),
    ("create_line_chart", {"id": "trend", "labels": LABELS, "series": SERIES}),
    ("create_area_chart", {"id": "area", "labels": LABELS, "series": SERIES}),
    ("create_scatter_chart", {"id": "spread", "series": [{"name": "s", "points": [{"x": 1, "y": 2},
                                                                                    {"x": 2, "y": 3.5}]}]}),
    ("create_table", {"table": {"id": "costs", "columns": ["Item", "Cost"], "rows": [["CPU", "10"], ["RAM", "4"]]}}),
    ("create_list", {"list": {"id": "steps", "ordered": True, "items": ["Plan", "Build"]}}),
    ("create_checklist", {"checklist": {"id": "launch", "items": [{"id": "a", "label": "Test", "checked": True},
                                                                  {"id": "b", "label": "Ship", "checked": False}]}}),
    ("create_svg", {"svg": {"id": "diagram", "content": "<svg xmlns='http://www.w3.org/2000/svg'><rect/></svg>"}}),
]

CITATIONS = ("{{artifact:file:specs/plan.md}} {{artifact:chart:share}} {{artifact:chart:sales}} "
             "{{artifact:chart:stack}} {{artifact:chart:trend}} {{artifact:chart:area}} {{artifact:chart:spread}} "
             "{{artifact:table:costs}} {{artifact:list:steps}} {{artifact:checklist:launch}} {{artifact:svg:diagram}}")


def bar_chart(chart_id: str) -> tuple[str, dict[str, Any]]:
    return ("create_bar_chart", {"id": chart_id, "labels": LABELS, "series": SERIES})
