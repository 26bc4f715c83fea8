"""f. Memory of the supervisor and of each worker, beside a bare ``python -c`` measured the same way.

The pool first runs two mixed sample jobs per worker (every deliverable kind, summaries),
so the lazily imported code is loaded, then idles a moment before psutil reads RSS, USS
and PSS of every process. RSS counts shared pages in full (a worker forked from the fork
server shares its imported modules), USS only what the process alone holds; the target
is on RSS beyond the bare interpreter, the stricter of the two readings.
"""
from __future__ import annotations

import psutil

from bench.numbers import mean, mib
from bench.procstats import ProcessSample, bare_interpreter_sample, sample_process
from bench.report import Row, SectionResult, Target

from .common import SectionContext

KEY = "f"
TITLE = "RSS of the supervisor and each worker vs a bare interpreter"
BEYOND_TARGET = Target(op="<=", value=30.0, source="issue 4: per-worker RSS beyond the bare interpreter")


def _role(process: psutil.Process) -> str:
    """What a helper process of the pool is, from its command line."""
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    for marker, role in (("forkserver", "fork server"), ("resource_tracker", "resource tracker")):
        if marker in command:
            return role
    return f"pid {process.pid}"


def _sample_json(sample: ProcessSample) -> dict[str, float | None]:
    return {"pid": sample.pid, "rss_mib": mib(sample.rss_bytes), "uss_mib": mib(sample.uss_bytes),
            "pss_mib": mib(sample.pss_bytes), "threads": sample.threads, "open_fds": sample.open_fds}


def run(ctx: SectionContext) -> SectionResult:
    workers = ctx.settings.memory_workers
    result = SectionResult(key=KEY, title=TITLE)
    with ctx.cloud() as cloud, ctx.pool(cloud, workers=workers, name="f-memory") as pool:
        ctx.warm_up(cloud, pool, workers=workers)
        worker_pids = set(pool.worker_pids().values())
        tree = pool.tree()
        samples = {process.pid: sample_process(process.pid, unique=True) for process in tree}
        roles = {process.pid: _role(process) for process in tree}
    bare = bare_interpreter_sample()
    supervisor = samples.get(pool.pid)
    worker_samples = [sample for pid, sample in samples.items() if pid in worker_pids and sample]
    helpers = [sample for pid, sample in samples.items() if pid not in worker_pids and pid != pool.pid and sample]
    if supervisor is None or not worker_samples:
        raise RuntimeError("the pool's processes could not be measured")
    worker_rss = [sample.rss_bytes for sample in worker_samples]
    worker_uss = [sample.uss_bytes or 0 for sample in worker_samples]
    ctx.progress(f"[f] supervisor {mib(supervisor.rss_bytes):.1f} MiB, worker max {mib(max(worker_rss)):.1f} MiB, "
                 f"bare {mib(bare.rss_bytes):.1f} MiB")
    bare_rss = mib(bare.rss_bytes)
    result.rows += [
        Row(metric="supervisor RSS", unit="MiB", ours=mib(supervisor.rss_bytes), baseline=bare_rss,
            baseline_name="bare python"),
        Row(metric=f"worker RSS, mean of {len(worker_rss)}", unit="MiB", ours=mib(mean(worker_rss)),
            baseline=bare_rss, baseline_name="bare python"),
        Row(metric="worker RSS, max", unit="MiB", ours=mib(max(worker_rss)), baseline=bare_rss,
            baseline_name="bare python"),
        Row(metric="worker RSS beyond the bare interpreter, max", unit="MiB",
            ours=mib(max(worker_rss) - bare.rss_bytes), target=BEYOND_TARGET),
        Row(metric="worker USS (unique memory), mean", unit="MiB", ours=mib(mean(worker_uss)),
            baseline=mib(bare.uss_bytes), baseline_name="bare python"),
        Row(metric="supervisor USS", unit="MiB", ours=mib(supervisor.uss_bytes), baseline=mib(bare.uss_bytes),
            baseline_name="bare python"),
    ]
    result.details = {"supervisor": _sample_json(supervisor), "workers": [_sample_json(s) for s in worker_samples],
                      "helpers": [_sample_json(s) for s in helpers], "bare_interpreter": _sample_json(bare)}
    helper_text = ", ".join(f"{roles[s.pid]} {mib(s.rss_bytes):.1f} MiB RSS / {mib(s.uss_bytes or 0):.1f} MiB USS"
                            for s in helpers)
    result.notes.append(f"helper processes of the pool: {helper_text or 'none'}")
    result.details["helper_roles"] = {str(pid): role for pid, role in roles.items()}
    return result
