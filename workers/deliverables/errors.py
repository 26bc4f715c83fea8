"""``DeliverableError`` and ``Where``: one problem with one deliverable, and where it is.

A problem is written for two readers. The model gets ``detail``, which names things the way
the model named them (``bar chart "sales": series "2024": has 3 values but there are 4
labels``). The completion check gets ``path``, machine-precise (``series[0].values``), and
puts it behind the item's own place (``charts[2].series[0].values: ...``).
"""
from __future__ import annotations

from dataclasses import dataclass

from workers.deliverables.text import quote


def _join(head: str, tail: str) -> str:
    return f"{head} {tail}" if head else tail


@dataclass(frozen=True)
class Where:
    """A place inside one item: ``path`` for machines, ``label`` for the model.

    ``context`` is the label of the object holding the last field, so that an element of a
    list can be called by its name (``series "2024"``) rather than ``series[0]``.
    """

    path: str = ""
    label: str = ""
    context: str = ""

    def field(self, name: str) -> Where:
        """The member ``name`` of the object here."""
        path = f"{self.path}.{name}" if self.path else name
        return Where(path, _join(self.label, name), self.label)

    def index(self, position: int, *, name: str | None = None, noun: str = "") -> Where:
        """Element ``position`` of the list here; ``noun`` + ``name`` identify it for the model."""
        label = _join(self.context, f"{noun} {quote(name)}") if name and noun else f"{self.label}[{position}]"
        return Where(f"{self.path}[{position}]", label, self.context)

    def called(self, label: str) -> Where:
        """The same place, shown to the model as ``label``."""
        return Where(self.path, label, self.context)


class DeliverableError(ValueError):
    """A deliverable is invalid. ``str(err)`` is ``detail``: specific, and says what to fix."""

    def __init__(self, detail: str, *, path: str = "", reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path = path
        self.reason = detail if reason is None else reason

    @classmethod
    def at(cls, where: Where, reason: str, *, subject: str) -> DeliverableError:
        """The error for ``reason`` at ``where`` inside the item called ``subject``."""
        detail = ": ".join(part for part in (subject, where.label, reason) if part)
        return cls(detail, path=where.path, reason=reason)

    def problem(self, prefix: str) -> str:
        """This error as one completion problem, placed behind ``prefix`` (e.g. ``charts[2]``)."""
        if not self.path:
            place = prefix
        elif not prefix or self.path.startswith("["):
            place = prefix + self.path
        else:
            place = f"{prefix}.{self.path}"
        return f"{place}: {self.reason}" if place else self.reason
