"""Deliverables of a job (protocol §4), as pure Python without I/O.

- ``limits``: every limit, in one place.
- ``paths``: sanitising ``create_file`` names.
- ``validate``: the stored shapes of files, charts, tables, lists, checklists and SVGs, and
  ``validate_completion`` for a whole ``completeWorkspaceJob`` body (run by the worker).
- ``svg_filter``: the SVG blocklist, applied to what a browser would see.
- ``text``: strings as the cloud's JavaScript sees them (trim, blank, UTF-16 length and cut).
- ``tools``: the 11 tool definitions offered to the model (``TOOL_SPECS``).
- ``collector``: ``DeliverableCollector``, one per job, turning tool calls into artifacts.
- ``placeholders``: ``{{artifact:<kind>:<ref>}}`` citations, their repair prompt and the
  ``deliverable_placeholder_mismatch`` failure reason.
"""
from __future__ import annotations

from workers.deliverables.collector import DeliverableCollector
from workers.deliverables.errors import DeliverableError
from workers.deliverables.placeholders import (
    Citation,
    find_citations,
    mismatch_reason,
    missing_citations,
    repair_prompt,
)
from workers.deliverables.tools import TOOL_SPECS
from workers.deliverables.validate import validate_completion, validate_item

__all__ = [
    "Citation",
    "DeliverableCollector",
    "DeliverableError",
    "TOOL_SPECS",
    "find_citations",
    "mismatch_reason",
    "missing_citations",
    "repair_prompt",
    "validate_completion",
    "validate_item",
]
