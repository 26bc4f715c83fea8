"""The throughput-vs-workers PNG, when matplotlib (the ``bench`` extra) is installed."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


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
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    axes.plot(workers, [ideal_single * n for n in workers], linestyle=":", color="grey",
              label=f"model-bound ideal (N / {1 / ideal_single:.2f} s)")
    if single is not None:
        axes.plot(workers, [single * n for n in workers], linestyle="--", color="tab:orange",
                  label="linear from 1 worker")
    axes.plot(workers, measured, marker="o", color="tab:blue", label="measured")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    axes.set_xticks(workers, [str(n) for n in workers])
    axes.set_xlabel("workers")
    axes.set_ylabel("jobs per second")
    axes.set_title("xenon-runner throughput vs workers (300 ms model, local emulator)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return f"plot written to {path}"
