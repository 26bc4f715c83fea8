"""Benchmark results: rows of ours / baseline / ratio / target / pass-fail, as a table and as JSON.

A ``Row`` is one figure. ``ours`` is what our runner measured; ``baseline`` is what the
same run measured for the comparison (the naive official-pattern pool, a bare interpreter,
or linear scaling), so ``ratio`` = ours ÷ baseline compares two numbers taken side by side
on the same machine at the same time. A ``Target`` (from the issues) is checked against
``ours`` only.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}


@dataclass(frozen=True, kw_only=True)
class Target:
    """A bound ``ours`` must meet, e.g. ``Target(op="<=", value=1.5, source="issue 4")``."""

    op: str
    value: float
    source: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"target operator must be one of {', '.join(_OPERATORS)}, got {self.op!r}")

    def met_by(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.value)

    def text(self) -> str:
        return f"{self.op} {format_number(self.value)}"


@dataclass(frozen=True, kw_only=True)
class Row:
    """One figure: ``metric`` in ``unit``, ours beside the baseline measured in the same run."""

    metric: str
    unit: str
    ours: float | None
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        """ours ÷ baseline, or None when either is missing or the baseline is 0."""
        if self.ours is None or self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def passed(self) -> bool | None:
        """Whether ``ours`` meets the target (None without a target or a value)."""
        if self.target is None or self.ours is None or math.isnan(self.ours):
            return None
        return self.target.met_by(self.ours)

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "unit": self.unit, "ours": self.ours, "baseline": self.baseline,
                "baseline_name": self.baseline_name, "ratio": self.ratio,
                "target": None if self.target is None else {"op": self.target.op, "value": self.target.value,
                                                            "source": self.target.source},
                "passed": self.passed}


@dataclass(kw_only=True)
class SectionResult:
    """What one section (a … h) measured: its rows, notes for the reader, and raw data for the JSON."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0   # wall time the section took

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "rows": [row.to_json() for row in self.rows],
                "notes": self.notes, "details": self.details, "error": self.error,
                "seconds": round(self.seconds, 3)}


def format_number(value: float | None) -> str:
    """Three significant digits, no scientific notation for everyday sizes; '-' for None."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


def _verdict(row: Row) -> str:
    passed = row.passed
    return "" if passed is None else ("PASS" if passed else "FAIL")


def format_table(sections: Sequence[SectionResult]) -> str:
    """The human table: one block per section, rows aligned, notes under each block."""
    header = ("metric", "unit", "ours", "baseline", "ratio", "target", "result")
    lines: list[str] = []
    for section in sections:
        lines.append(f"[{section.key}] {section.title}")
        if section.error:
            lines.append(f"    ERROR: {section.error}")
        table = [header] + [(row.metric, row.unit, format_number(row.ours),
                             format_number(row.baseline) + (f" ({row.baseline_name})" if row.baseline_name
                                                            and row.baseline is not None else ""),
                             format_number(row.ratio), row.target.text() if row.target else "",
                             _verdict(row)) for row in section.rows]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(header))]
        if section.rows:
            for cells in table:
                padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
                lines.append("    " + "  ".join(padded).rstrip())
        lines.extend(f"    note: {note}" for note in section.notes)
        lines.append("")
    return "\n".join(lines)


def summary_line(sections: Sequence[SectionResult]) -> str:
    """'targets: 7 passed, 1 failed; sections with errors: none'."""
    verdicts = [row.passed for section in sections for row in section.rows if row.passed is not None]
    errors = [section.key for section in sections if section.error]
    return (f"targets: {verdicts.count(True)} passed, {verdicts.count(False)} failed; "
            f"sections with errors: {', '.join(errors) or 'none'}")
