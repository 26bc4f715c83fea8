"""Small numeric helpers shared by the sections: units and order statistics."""
from __future__ import annotations

import statistics
from collections.abc import Sequence

MIB = 2 ** 20


def mib(size: float | None) -> float | None:
    """Bytes as MiB (None stays None)."""
    return None if size is None else size / MIB


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile, linearly interpolated between closest ranks; nan when empty."""
    if not 0 <= share <= 1:
        raise ValueError(f"percentile share must be within 0..1, got {share}")
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
