"""``python -m bench [--quick] [--only a,b] [--soak-jobs N] [--poll-interval S] [--out DIR]``.

Runs the selected sections one after another, prints the machine, the settings and the
results table to stdout (progress goes to stderr), and writes ``latest.json`` plus, when
matplotlib is there, ``throughput.png`` (section a) and ``concurrency.png`` (sections j and l)
into ``--out``. The exit code is 0 when every section ran (whatever the targets say: they are
figures to report, and this machine is noisy), 1 when a section could not run, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.machine import describe, machine_details, raise_fd_limit
from bench.plot import concurrency_points, plot_concurrency, plot_throughput
from bench.report import SectionResult, format_table, summary_line
from bench.sections import SECTIONS, SectionContext
from bench.settings import BenchSettings, make_settings

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
EXIT_OK, EXIT_SECTION_FAILED, EXIT_USAGE = 0, 1, 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark the real runner against the local emulator, side by side "
        "with a pool of naive pollers that behave as the official runner does.")
    parser.add_argument("--quick", action="store_true", help="tiny counts and windows (smoke test; figures "
                        "are not meaningful)")
    parser.add_argument("--only", metavar="a,b", help=f"run only these sections (of {','.join(SECTIONS)})")
    parser.add_argument("--soak-jobs", type=int, metavar="N", help="jobs in the soak (section h; default 1000)")
    parser.add_argument("--poll-interval", type=float, metavar="S", help="pool.poll_interval and the naive "
                        "POLL_MS, in seconds (default 1.0; 0.25 with --quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where latest.json, throughput.png and "
                        f"concurrency.png go (default {DEFAULT_OUT})")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the pools' configs and logs "
                        "(printed at the end) instead of deleting them")
    return parser.parse_args(argv)


def selected_sections(only: str | None) -> list[str]:
    """Section keys in report order; raises ValueError naming unknown keys."""
    if not only:
        return list(SECTIONS)
    wanted = [key.strip().lower() for key in only.split(",") if key.strip()]
    unknown = [key for key in wanted if key not in SECTIONS]
    if unknown or not wanted:
        raise ValueError(f"--only takes section letters from {','.join(SECTIONS)}, got {only!r}")
    return [key for key in SECTIONS if key in wanted]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_section(key: str, ctx: SectionContext) -> SectionResult:
    """Run one section; an exception becomes the section's error instead of ending the run."""
    module = SECTIONS[key]
    progress(f"[{key}] {module.TITLE} ...")
    started = time.monotonic()
    try:
        result = module.run(ctx)
    except Exception as exc:  # one broken section must not hide the others' figures
        progress(traceback.format_exc())
        result = SectionResult(key=key, title=module.TITLE, error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - started
    return result


def settings_line(settings: BenchSettings) -> str:
    return (f"settings: {'quick' if settings.quick else 'full'} run; poll interval {settings.poll_interval:g}s "
            f"(ours and naive); model: builtin, {settings.model_round_seconds:g}s per round x 2 rounds = "
            f"{1000 * settings.model_seconds:.0f} ms per job; soak {settings.soak_jobs} jobs")


def write_results(out: Path, *, settings: BenchSettings, machine: dict[str, Any], started: datetime, seconds: float,
                  sections: list[SectionResult]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    document = {"started_at": started.isoformat(timespec="seconds"), "seconds": round(seconds, 1),
                "machine": machine, "settings": {**asdict(settings), "workdir": str(settings.workdir)},
                "sections": [section.to_json() for section in sections]}
    path = out / "latest.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        keys = selected_sections(args.only)
        workdir = Path(tempfile.mkdtemp(prefix="xenon-bench-"))
        settings = make_settings(quick=args.quick, workdir=workdir, soak_jobs=args.soak_jobs,
                                 poll_interval=args.poll_interval)
    except ValueError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started, clock = datetime.now(timezone.utc), time.monotonic()
    raise_fd_limit()
    machine = machine_details()
    ctx = SectionContext(settings=settings, progress=progress, rng=random.Random(settings.seed))
    try:
        sections = [run_section(key, ctx) for key in keys]
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - clock
    print(f"xenon-runner benchmark, {started.isoformat(timespec='seconds')}, {seconds:.0f}s")
    print(describe(machine))
    print(settings_line(settings))
    print()
    print(format_table(sections))
    print(summary_line(sections))
    path = write_results(args.out, settings=settings, machine=machine, started=started, seconds=seconds,
                         sections=sections)
    print(f"results: {path}")
    throughput = next((section for section in sections if section.key == "a" and not section.error), None)
    if throughput is not None:
        print(plot_throughput(throughput.details["runs"], path=args.out / "throughput.png",
                              ideal_single=throughput.details["ideal_single_jobs_per_second"]))
    if {"j", "l"} & set(keys):
        print(plot_concurrency(concurrency_points(sections), path=args.out / "concurrency.png"))
    if args.keep_workdir:
        print(f"pool configs and logs kept in {workdir}")
    return EXIT_SECTION_FAILED if any(section.error for section in sections) else EXIT_OK
