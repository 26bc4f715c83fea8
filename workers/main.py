"""The worker process: die with the supervisor, boot (client + model once), report READY, work.

It works on ``pool.jobs_per_worker`` job lanes at once (``workers.lanes``), all sharing the
one client and model handle.

Order matters at boot: the process-group and parent-death setup come first, so that a
worker can never be orphaned; logging and metrics come next, so that boot failures are
reported; the model handle is created last and exactly once, then reused for every job.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from shared.cloud.jobs import JobClient
from shared.config.sections import ModelConfig
from shared.http.redact import register_secret
from shared.http.retry import RetryPolicy
from shared.metrics import install as install_metrics
from shared.metrics import metrics
from shared.pipe import liveness
from shared.pipe.failures import Failure
from shared.pipe.messages import Fatal, Ready, WorkerExit
from shared.pipe.spec import WorkerSpec

from .job import JobRunner
from .lanes import lanes_for, run_lanes
from .lease_loop import LeaseLoop
from .link import SupervisorLink
from .logs import install_pipe_logging
from .models.loader import load_model_handle

log = logging.getLogger("xenon.worker")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def run_worker(spec: WorkerSpec, conn: Connection) -> None:
    """Entry point of a worker process (the ``multiprocessing.Process`` target)."""
    _die_with_parent(spec.supervisor_pid)
    runners: list[JobRunner] = []   # one per job lane, once booted

    def abort(failure: Failure) -> None:
        _abort_all(runners, failure)
        os._exit(WorkerExit.STOPPED)

    link = SupervisorLink(conn=conn, alive_interval=spec.alive_interval, on_abort=abort,
                          on_lost=_kill_own_group)
    install_pipe_logging(slot=spec.slot, level=spec.log_level, send=link.send)
    link.start()
    liveness.install(link.send)
    install_metrics(directory=spec.metrics_dir, identifier=spec.name)
    for secret in (spec.token, spec.model.api_key):
        register_secret(secret)
    try:
        client = JobClient.from_config(spec.cloud, token=spec.token, on_request=_count_api_request)
        model = load_model_handle(spec.model, on_request=_count_model_request)
    except Exception as exc:  # any boot failure is reported, then the worker exits
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        log.error("worker boot failed: %s", reason)
        link.send(Fatal(f"boot failed: {reason}", WorkerExit.BOOT_FAILED))
        sys.exit(WorkerExit.BOOT_FAILED)
    lanes = lanes_for(model, wanted=spec.jobs_per_worker, model_name=spec.model.name)
    runners.extend(JobRunner(client=client, model=model, job_timeout=spec.job_timeout, send=link.send,
                             model_call_limit=model_call_limit(spec.model), lane=lane) for lane in range(lanes))
    link.send(Ready(os.getpid(), jobs=lanes))
    log.info("ready (pid %d, model %s, %d job%s at once)", os.getpid(), spec.model.name, lanes,
             "" if lanes == 1 else "s")
    try:
        code = run_lanes([LeaseLoop(link=link, client=client, runner=runner) for runner in runners])
    finally:
        model.close()
        client.close()
    sys.exit(code)


def _abort_all(runners: list[JobRunner], failure: Failure) -> None:
    """Fail every lane's job in hand with ``failure`` at once (each abort is a cloud call), and wait for all."""
    threads = [threading.Thread(target=runner.abort, args=(failure,), name=f"abort-{runner.lane}", daemon=True)
               for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def model_call_limit(config: ModelConfig) -> float:
    """The longest one model call may take by the model config, in seconds: every try to its
    connect and read timeouts, every wait between tries as long as the retry policy allows.
    A model round declares at most this (or the job's time left) to the watchdog."""
    policy = RetryPolicy(max_attempts=config.max_attempts)
    longest_wait = max(policy.retry_after_cap, policy.max_delay)
    per_try = config.connect_timeout + config.read_timeout
    return config.max_attempts * per_try + (config.max_attempts - 1) * longest_wait


def _die_with_parent(supervisor_pid: int) -> None:
    """Make this worker the leader of its own process group and tie its life to the supervisor.

    SIGTERM (from the supervisor, or from the kernel when our parent dies) kills the whole
    group at once, the worker's own children included. The Python-level handler would wait
    for the main thread, which may sit in a long socket read, so the signal is noticed
    through the wakeup fd by a dedicated thread instead.
    """
    os.setpgid(0, 0)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # ^C in a terminal is the supervisor's to handle
    signal.signal(signal.SIGTERM, lambda *_: None)  # installs the C handler that feeds the wakeup fd
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_kill_group_on_signal, args=(read_fd,), name="signal-reaper", daemon=True).start()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe check below still applies
        pass
    if os.getppid() == 1 or not _alive(supervisor_pid):
        _kill_own_group()  # the parent died before PDEATHSIG was armed


def _kill_group_on_signal(read_fd: int) -> None:
    while True:
        signals = os.read(read_fd, 64)
        if signal.SIGTERM in signals:
            _kill_own_group()


def _kill_own_group() -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _count_api_request(endpoint: str, code: str, seconds: float) -> None:
    installed = metrics()
    installed.api_requests.labels(endpoint, code).inc()
    installed.api_duration.labels(endpoint).observe(seconds)


def _count_model_request(endpoint: str, code: str, seconds: float) -> None:
    installed = metrics()
    installed.model_requests.labels(code).inc()
    installed.model_duration.observe(seconds)
