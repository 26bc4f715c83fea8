"""l. 1,000 jobs in flight on a 20 s model: throughput vs the model-bound limit, PSS of the whole
pool and supervisor CPU, with ``pool.jobs_per_worker`` > 1 beside processes only.

Each layout in ``inflight_layouts`` is (workers, jobs per worker); its job slots are the
product. A fresh pool of that layout idles, then gets ``inflight_waves`` × slots jobs at
once, each ``inflight_model_seconds`` of builtin model time (the same model the other
sections use, with a longer latency). From the emulator's stamps, as in section j:

* throughput: jobs ÷ (first lease → last finish), against slots ÷ model seconds;
* fill: first lease → slots-th lease.

PSS (shared pages split among the processes sharing them) of the supervisor, its fork
server and every worker is summed once the last wave is all leased, i.e. with every slot in
a job, while the jobs wait on the model (reading smaps then costs the jobs nothing); the
mean PSS of one worker process is read then and before the jobs (ready, idle). CPU
is read from the enqueue to the last finish: the supervisor's (the target), the whole
runner's (supervisor, fork server, workers) and the emulator's (this process, so the bench's
polling and PSS reads too) per job, which is what each wave of jobs finishing and leasing
together costs the 2 cores. Processes only is capped at ``pool.workers``' maximum (512):
1,000 single-job processes cannot be configured.

A burst moves every slot in step (all finish and lease again at once); real traffic does
not. So the ``inflight_steady_layout`` is also fed steadily (``bench/arrivals.py``) a little
above its limit, and its completion rate is read once every slot is busy.
"""
from __future__ import annotations

import os
import time
from typing import Any

from bench.arrivals import feed, window_rate
from bench.cloud import BenchCloud
from bench.numbers import MIB
from bench.pool import RunnerPool
from bench.procstats import CpuWindow, sample_process
from bench.report import Row, SectionResult, Target

from .burst import SETTLE_INTERVALS, burst_figures
from .common import SectionContext

KEY = "l"
TITLE = "1,000 jobs in flight on a 20 s model: jobs_per_worker vs processes only"
THROUGHPUT_TARGET = Target(op=">=", value=95.0, source="issue 12: 1,000 in flight, >= 95% of the limit (50 jobs/s)")
PSS_TARGET = Target(op="<=", value=1.5, source="issue 12: <= 1.5 GiB PSS for the whole pool")
CPU_TARGET = Target(op="<", value=5.0, source="issue 12: supervisor < 5% of a core under load")
WORKER_PSS_TARGET = Target(op="<=", value=8.0, source="issue 12: PSS per worker at 256-512 workers <= 8 MiB")
TARGET_SLOTS = 1000   # the targets apply to the layouts with this many job slots
STEADY_OVERFEED = 1.1       # steady arrivals at this multiple of the model-bound limit
# Model times after the first enqueue when the steady window opens: the slots fill by 1 / STEADY_OVERFEED
# model times, at the arrival rate, and the jobs leased then finish at that rate one model time later;
# only after them are finishes paced by slots coming free.
STEADY_WINDOW_OPENS = 2.0
LEASED_POLL = 0.2     # seconds between checks that the last wave is all leased
GIB = 1024 * MIB


def pool_pss_bytes(pool: RunnerPool) -> tuple[int, float]:
    """(PSS bytes summed over the supervisor's whole tree, mean PSS bytes of one worker process)."""
    workers = set(pool.worker_pids().values())
    samples = [sample_process(process.pid, unique=True) for process in pool.tree()]
    sizes = {sample.pid: sample.pss_bytes for sample in samples if sample is not None and sample.pss_bytes is not None}
    worker_sizes = [size for pid, size in sizes.items() if pid in workers]
    return sum(sizes.values()), sum(worker_sizes) / len(worker_sizes) if worker_sizes else float("nan")


def wait_all_leased(cloud: BenchCloud, *, timeout: float) -> None:
    """Wait until no job is pending (the last wave is in the workers). ``timeout`` is a safety net."""
    deadline = time.monotonic() + timeout
    while cloud.stats()["jobs"]["pending"] > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still pending after {timeout:g}s")
        time.sleep(LEASED_POLL)


def measure(ctx: SectionContext, workers: int, lanes: int) -> dict[str, Any]:
    """Figures of one layout: throughput and fill (``burst_figures``), PSS and supervisor CPU."""
    settings = ctx.settings
    model = settings.inflight_model_seconds
    slots = workers * lanes
    jobs = slots * settings.inflight_waves
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"l-{workers}x{lanes}", model_seconds=model,
                                        pool={"jobs_per_worker": lanes}) as pool:
        pool.wait_ready()
        time.sleep(SETTLE_INTERVALS * settings.poll_interval)
        _, idle_worker_pss = pool_pss_bytes(pool)
        deadline = ctx.job_deadline(jobs, slots) + settings.inflight_waves * model
        runner = [process.pid for process in pool.tree()]
        load = CpuWindow([*runner, os.getpid()]).start()
        ids = set(cloud.enqueue(jobs))
        wait_all_leased(cloud, timeout=deadline)
        pss, busy_worker_pss = pool_pss_bytes(pool)
        finished = [job for job in cloud.wait_finished(jobs, timeout=deadline) if job["workspaceId"] in ids]
        load.stop()
    figures = burst_figures(finished, slots, model)
    runner_seconds = sum(load.process_seconds.get(pid, 0.0) for pid in runner)
    return {**figures, "workers": workers, "jobs_per_worker": lanes, "slots": slots, "jobs": jobs,
            "pss_gib": pss / GIB, "worker_pss_mib_idle": idle_worker_pss / MIB,
            "worker_pss_mib_busy": busy_worker_pss / MIB, "supervisor_cpu": 100 * load.share_of_core(pool.pid),
            "runner_cpu_ms_per_job": 1000 * runner_seconds / jobs,
            "emulator_cpu_ms_per_job": 1000 * load.process_seconds.get(os.getpid(), 0.0) / jobs,
            "machine_busy": load.machine_busy}


def measure_steady(ctx: SectionContext, workers: int, lanes: int) -> dict[str, Any]:
    """Completion rate of a pool fed steadily at ``STEADY_OVERFEED`` × its limit, once every slot is busy.

    Arrivals above the limit keep the queue from running dry; the window opens
    ``STEADY_WINDOW_OPENS`` model times after the first enqueue (the jobs that filled the slots
    at the arrival rate have finished) and closes when the feeding stops.
    """
    settings = ctx.settings
    model = settings.inflight_model_seconds
    slots = workers * lanes
    limit = slots / model
    feeding = settings.inflight_steady_model_times * model
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name=f"l-steady-{workers}x{lanes}",
                                        model_seconds=model, pool={"jobs_per_worker": lanes}) as pool:
        pool.wait_ready()
        time.sleep(SETTLE_INTERVALS * settings.poll_interval)
        load = CpuWindow([pool.pid]).start()
        started_ms = time.time() * 1000   # the emulator stamps jobs with its clock, time.time
        ids = set(feed(cloud, rate=STEADY_OVERFEED * limit, seconds=feeding))
        load.stop()
        deadline = ctx.job_deadline(len(ids), slots) + model
        finished = [job for job in cloud.wait_finished(len(ids), timeout=deadline) if job["workspaceId"] in ids]
    rate = window_rate((job["finishedAtMs"] for job in finished), start_ms=started_ms + 1000 * STEADY_WINDOW_OPENS
                       * model, end_ms=started_ms + 1000 * feeding)
    return {"workers": workers, "jobs_per_worker": lanes, "slots": slots, "jobs": len(ids), "limit": limit,
            "jobs_per_second": rate, "share": 100 * rate / limit,
            "failed": sum(1 for job in finished if job["state"] != "completed"),
            "window_seconds": (feeding - STEADY_WINDOW_OPENS * model),
            "supervisor_cpu": 100 * load.share_of_core(pool.pid), "machine_busy": load.machine_busy}


def run(ctx: SectionContext) -> SectionResult:
    result = SectionResult(key=KEY, title=TITLE)
    settings = ctx.settings
    model = settings.inflight_model_seconds
    result.details["runs"] = []
    result.details["model_seconds"] = model
    for workers, lanes in settings.inflight_layouts:
        run_ = measure(ctx, workers, lanes)
        slots = run_["slots"]
        name = f"{slots} in flight, {workers} workers x {lanes} job{'s' if lanes > 1 else ''}"
        ctx.progress(f"[l] {name}: {run_['jobs_per_second']:.1f} jobs/s = {run_['share']:.1f}% of the limit, fill "
                     f"{run_['fill_ms']:.0f} ms, PSS {run_['pss_gib']:.2f} GiB, supervisor "
                     f"{run_['supervisor_cpu']:.1f}% (machine {100 * run_['machine_busy']:.0f}% busy)")
        targeted = slots == TARGET_SLOTS
        result.rows += [
            Row(metric=f"throughput, {name}", unit="jobs/s", ours=run_["jobs_per_second"], baseline=run_["limit"],
                baseline_name="model-bound limit"),
            Row(metric=f"throughput vs the limit, {name}", unit="%", ours=run_["share"],
                target=THROUGHPUT_TARGET if targeted else None),
            Row(metric=f"fill, first -> {slots}th lease, {name}", unit="ms", ours=run_["fill_ms"]),
            Row(metric=f"PSS of the whole pool, {name}", unit="GiB", ours=run_["pss_gib"],
                target=PSS_TARGET if targeted else None),
            Row(metric=f"PSS per worker process, idle before the jobs, {name}", unit="MiB",
                ours=run_["worker_pss_mib_idle"], target=WORKER_PSS_TARGET if lanes == 1 and workers >= 256 else None),
            Row(metric=f"PSS per worker process, every slot in a job, {name}", unit="MiB",
                ours=run_["worker_pss_mib_busy"]),
            Row(metric=f"supervisor CPU under load, {name}", unit="% core", ours=run_["supervisor_cpu"],
                target=CPU_TARGET if targeted else None),
            Row(metric=f"runner CPU per job (all processes), {name}", unit="ms", ours=run_["runner_cpu_ms_per_job"]),
            Row(metric=f"emulator CPU per job (+ the bench's polling, PSS reads), {name}", unit="ms",
                ours=run_["emulator_cpu_ms_per_job"]),
        ]
        result.details["runs"].append(run_)
        if run_["failed"]:
            result.notes.append(f"{name}: {run_['failed']} jobs failed")
    steady = measure_steady(ctx, *settings.inflight_steady_layout)
    name = f"{steady['slots']} slots, {steady['workers']} workers x {steady['jobs_per_worker']} jobs"
    ctx.progress(f"[l] steady arrivals, {name}: {steady['jobs_per_second']:.1f} jobs/s = {steady['share']:.1f}% of "
                 f"the limit, supervisor {steady['supervisor_cpu']:.1f}% (machine {100 * steady['machine_busy']:.0f}% "
                 f"busy)")
    result.rows += [
        Row(metric=f"steady arrivals: throughput, {name}", unit="jobs/s", ours=steady["jobs_per_second"],
            baseline=steady["limit"], baseline_name="model-bound limit"),
        Row(metric=f"steady arrivals: throughput vs the limit, {name}", unit="%", ours=steady["share"],
            target=THROUGHPUT_TARGET if steady["slots"] == TARGET_SLOTS else None),
        Row(metric=f"steady arrivals: supervisor CPU, {name}", unit="% core", ours=steady["supervisor_cpu"],
            target=CPU_TARGET if steady["slots"] == TARGET_SLOTS else None),
    ]
    result.details["steady"] = steady
    if steady["failed"]:
        result.notes.append(f"steady arrivals: {steady['failed']} jobs failed")
    result.notes.append(f"steady arrivals: jobs enqueued at {STEADY_OVERFEED:g} x the limit for "
                        f"{settings.inflight_steady_model_times:g} model times; throughput = jobs finished per "
                        f"second from {STEADY_WINDOW_OPENS:g} model times after the first enqueue to the end of "
                        f"the feeding ({steady['window_seconds']:g} s); supervisor CPU while feeding")
    busy = ", ".join(f"{run_['slots']}: {100 * run_['machine_busy']:.0f}%" for run_ in result.details["runs"])
    result.notes.append(f"{settings.inflight_waves} waves (jobs = {settings.inflight_waves} x slots), {model:g} s of "
                        f"builtin model per job; throughput = jobs / (first lease -> last finish); limit = slots / "
                        f"model seconds; PSS = supervisor + fork server + workers, summed with every slot in a job; "
                        f"supervisor CPU from enqueue to last finish; processes only is capped by pool.workers "
                        f"(512); machine busy during each run (all processes, other users included): {busy}")
    return result
