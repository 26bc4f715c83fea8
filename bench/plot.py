"""The PNGs, when matplotlib (the ``bench`` extra) is installed: throughput vs workers (section a),
and share of the model-bound limit and pool PSS vs job slots in flight (sections j and l)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import SectionResult

NO_MATPLOTLIB = "plot skipped: matplotlib is not installed (pip install 'xenonflare-runner[bench]')"
SHARE_TARGET = 95.0   # % of the model-bound limit (issue 12)
PSS_TARGET_GIB = 1.5  # whole pool at 1,000 in flight (issue 12)


def _pyplot() -> Any | None:
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, figure: Any, path: Path) -> str:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return f"plot written to {path}"


def plot_throughput(runs: Sequence[dict[str, Any]], *, ideal_single: float, path: Path) -> str:
    """Write the plot to ``path``; returns a line for the report (written, or why not)."""
    if len(runs) < 2:
        return "plot skipped: fewer than two pool sizes measured"
    plt = _pyplot()
    if plt is None:
        return NO_MATPLOTLIB
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
    return _save(plt, figure, path)


def concurrency_points(sections: Sequence[SectionResult]) -> list[dict[str, Any]]:
    """One point per fresh-pool run of sections j and l: job slots, layout, share of the limit (%),
    model seconds, and the whole pool's PSS (GiB; l only, else None)."""
    points: list[dict[str, Any]] = []
    for section in sections:
        if section.error:
            continue
        if section.key == "j":
            model = float(section.details.get("model_seconds", 0.0))
            for burst in section.details.get("bursts", []):
                points.append({"slots": burst["workers"], "workers": burst["workers"], "jobs_per_worker": 1,
                               "share": burst["ours"]["share"], "model_seconds": model, "pss_gib": None})
            for burst in section.details.get("lane_bursts", []):
                points.append({"slots": burst["slots"], "workers": burst["workers"],
                               "jobs_per_worker": burst["jobs_per_worker"], "share": burst["ours"]["share"],
                               "model_seconds": model, "pss_gib": None})
        elif section.key == "l":
            model = float(section.details.get("model_seconds", 0.0))
            for run in section.details.get("runs", []):
                points.append({"slots": run["slots"], "workers": run["workers"],
                               "jobs_per_worker": run["jobs_per_worker"], "share": run["share"],
                               "model_seconds": model, "pss_gib": run["pss_gib"]})
    return points


def plot_concurrency(points: Sequence[dict[str, Any]], *, path: Path) -> str:
    """Share of the model-bound limit and pool PSS against job slots in flight, processes only
    (1 job per worker) beside ``jobs_per_worker`` > 1; returns a line for the report."""
    if not points:
        return "concurrency plot skipped: sections j and l did not run"
    plt = _pyplot()
    if plt is None:
        return NO_MATPLOTLIB
    figure, (share_axes, pss_axes) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    for lanes_only, color, label, offset in ((True, "tab:blue", "processes only (1 job each)", -11),
                                             (False, "tab:green", "jobs_per_worker > 1", 4)):
        chosen = [point for point in points if (point["jobs_per_worker"] == 1) == lanes_only]
        share_axes.scatter([p["slots"] for p in chosen], [p["share"] for p in chosen], color=color, label=label)
        with_pss = [point for point in chosen if point["pss_gib"] is not None]
        pss_axes.scatter([p["slots"] for p in with_pss], [p["pss_gib"] for p in with_pss], color=color, label=label)
        for point in chosen:
            note = f"{point['workers']}x{point['jobs_per_worker']}, {point['model_seconds']:g} s"
            share_axes.annotate(note, (point["slots"], point["share"]), fontsize=7, xytext=(4, offset),
                                textcoords="offset points")   # offset in points: the two series' labels apart
    share_axes.axhline(SHARE_TARGET, linestyle=":", color="grey", label=f"target {SHARE_TARGET:g}%")
    share_axes.set_ylabel("throughput, % of the model-bound limit")
    share_axes.set_ylim(0, 105)
    share_axes.set_title("bursts into fresh pools (label: workers x jobs, model)")
    pss_axes.axhline(PSS_TARGET_GIB, linestyle=":", color="grey", label=f"target {PSS_TARGET_GIB:g} GiB")
    pss_axes.set_ylabel("PSS of the whole pool (GiB)")
    pss_axes.set_ylim(bottom=0)
    pss_axes.set_title("memory with every slot in a job (section l)")
    slots = sorted({point["slots"] for point in points})
    for axes in (share_axes, pss_axes):
        axes.set_xscale("log", base=2)
        axes.set_xticks(slots, [str(n) for n in slots])
        axes.set_xlabel("job slots in flight (workers x jobs_per_worker)")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle("xenon-runner: concurrency on the local emulator")
    return _save(plt, figure, path)
