"""The throughput-vs-workers PNG, when matplotlib (the ``bench`` extra) is installed."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot_throughput(runs: Sequence[dict[str, Any]], *, ideal_single: float, path: Path) -> str:
    """Write the plot to ``path``; returns a line for the report (written, or why not)."""
    if len(runs) < 2:
        return "plot skipped: fewer than two pool sizes measured"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot skipped: matplotlib is not installed (pip install 'xenonflare-runner[bench]')"
    workers = [run["workers"] for run in runs]
    measured = [run["jobs_per_second"] for run in runs]
    single = next((run["jobs_per_second"] for run in runs if run["workers"] == 1), None)
    figure, (rate_axes, efficiency_axes) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    rate_axes.plot(workers, [ideal_single * n for n in workers], linestyle=":", color="grey",
                   label=f"model-bound ideal (N / {1 / ideal_single:.2f} s)")
    if single is not None:
        rate_axes.plot(workers, [single * n for n in workers], linestyle="--", color="tab:orange",
                       label="linear from 1 worker")
        efficiency_axes.plot(workers, [100 * rate / (single * n) for rate, n in zip(measured, workers, strict=True)],
                             marker="o", color="tab:blue")
    rate_axes.plot(workers, measured, marker="o", color="tab:blue", label="measured")
    rate_axes.set_ylabel("jobs per second (steady)")
    rate_axes.set_title("throughput, 300 ms model")
    rate_axes.legend()
    efficiency_axes.set_ylabel("scaling efficiency (%)")
    efficiency_axes.set_ylim(0, 105)
    efficiency_axes.set_title("jobs/s ÷ (N × jobs/s of 1 worker)")
    for axes in (rate_axes, efficiency_axes):
        axes.set_xscale("log", base=2)
        axes.set_xticks(workers, [str(n) for n in workers])
        axes.set_xlabel("workers")
        axes.grid(True, alpha=0.3)
    figure.suptitle("xenon-runner on the local emulator")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return f"plot written to {path}"
