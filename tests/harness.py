"""Run the real system in tests: a `xenon-runner run` subprocess against an emulator on loopback.

``Runner`` writes a YAML config into the test's tmp dir, starts the supervisor in its own
session (so a test can kill the whole tree), and offers waits on /status and the log. All
waits poll with generous deadlines: they are safety nets, never assertions about speed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
CHAOS_MODEL = "tests.fakes.chaos_model:make_handle"
WAIT = 60.0   # seconds: default safety net for waits
LOG_TAIL_CHARS = 4000   # characters of the runner's log quoted when a wait fails
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]   # an AF_INET name: (host, port)
        return port


def wait_for(predicate: Callable[[], T | None], *, timeout: float = WAIT, what: str | Callable[[], str] = "condition",
             interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``what`` otherwise.

    ``what`` may be a callable, evaluated only on failure (e.g. to attach the log as it is then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def installed_tool(name: str, *, missing: str) -> str:
    """Path of the command ``name``; where it is not installed the test is skipped, saying ``missing``."""
    found = shutil.which(name)
    if not found:
        pytest.skip(missing)
    return found


def runner_env(**extra: str) -> dict[str, str]:
    """A clean environment: none of the developer's runner or OpenAI variables leak in."""
    drop = ("RUNNER_", "OPENAI_", "POLL_MS", "XENON")
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Runner:
    def __init__(self, tmp_path: Path, *, cloud_url: str, token: str | None = None,
                 tokens: list[str] | None = None, workers: int = 2, model: dict[str, Any] | None = None,
                 pool: dict[str, Any] | None = None, logging: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, cloud_options: dict[str, Any] | None = None) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.state_dir = tmp_path / "chaos"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cloud: dict[str, Any] = {"base_url": cloud_url, "connect_timeout": 2, "read_timeout": 10,
                                 **(cloud_options or {})}
        if tokens:
            cloud["tokens"] = tokens
        else:
            cloud["token"] = token
        self.config: dict[str, Any] = {
            "cloud": cloud,
            "pool": {"workers": workers, "poll_interval": 0.5, "graceful_timeout": 10, "hung_timeout": 10,
                     "kill_timeout": 2, "restart_backoff": 0.1, "restart_backoff_max": 1, **(pool or {})},
            "model": model or {"name": CHAOS_MODEL},
            "metrics": {"listen": f"127.0.0.1:{self.port}", "multiproc_dir": str(tmp_path / "metrics")},
            "logging": {"level": "info", **(logging or {})},
        }
        self.config_path = tmp_path / "runner.yaml"
        self.log_path = tmp_path / "runner.log"
        self.env = runner_env(**{"CHAOS_STATE_DIR": str(self.state_dir), **(env or {})})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    def start(self, *extra_args: str) -> Runner:
        self.write_config()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "supervisor", "run", "--config",
                                         str(self.config_path), *extra_args], cwd=REPO, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill_tree()

    # --- reading --------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str) -> requests.Response | None:
        """GET ``path`` from the supervisor; None while it is not listening (yet, or any more)."""
        try:
            return requests.get(self.url + path, timeout=5)
        except requests.RequestException:
            return None

    def answer(self, path: str) -> requests.Response:
        """GET ``path`` from a supervisor that must be listening: the test fails, with the log, if it is not."""
        answer = self.get(path)
        assert answer is not None, f"no answer to GET {path}\n{self.log_tail()}"
        return answer

    def status(self) -> dict[str, Any] | None:
        answer = self.get("/status")
        return answer.json() if answer is not None and answer.status_code == 200 else None

    def metrics(self) -> str:
        answer = self.get("/metrics")
        assert answer is not None and answer.status_code == 200, "no /metrics answer"
        return answer.text

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample in /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0

    def workers(self) -> list[dict[str, Any]]:
        status = self.status()
        return status["workers"] if status else []

    def wait_ready(self, count: int | None = None, timeout: float = WAIT) -> dict[str, Any]:
        wanted = count if count is not None else self.config["pool"]["workers"]
        return self.wait_status(lambda s: s["ready_workers"] >= wanted, timeout=timeout,
                                what=f"{wanted} ready workers")

    def wait_status(self, predicate: Callable[[dict[str, Any]], Any], *, what: str,
                    timeout: float = WAIT) -> dict[str, Any]:
        """Poll /status until ``predicate(status)`` holds; returns that status.

        Fails at once, with the log, if the runner exits meanwhile.
        """
        def check() -> dict[str, Any] | None:
            self.expect_running()
            status = self.status()
            return status if status is not None and predicate(status) else None

        return wait_for(check, timeout=timeout, what=lambda: f"{what}\n{self.log_tail()}")

    def wait_log(self, text: str, *, timeout: float = WAIT, count: int = 1) -> None:
        """Wait until ``text`` appears ``count`` times in the log."""
        wait_for(lambda: self.log().count(text) >= count, timeout=timeout,
                 what=lambda: f"{text!r} in the log\n{self.log_tail()}")

    def expect_running(self) -> None:
        assert self.process is not None, "runner not started"
        code = self.process.poll()
        if code is not None:
            raise AssertionError(f"runner exited with {code}\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The last ``LOG_TAIL_CHARS`` characters of the runner's log, for failure messages."""
        return self.log()[-LOG_TAIL_CHARS:]

    def pids(self) -> set[int]:
        return {w["pid"] for w in self.workers() if w["pid"]}

    def tree(self) -> list[psutil.Process]:
        """The supervisor and every process below it (workers, fork server, their children)."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    # --- acting ---------------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = WAIT) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runner did not exit within {timeout:g}s\n{self.log_tail()}") from None

    def kill_tree(self) -> None:
        """Kill the supervisor's session and any worker group left behind (test cleanup)."""
        if self.process is None:
            return
        processes = self.tree()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.kill()
            except psutil.Error:
                pass
        self.process.wait(timeout=10)


class StatusRecorder:
    """Samples a runner's /status on a background thread (``with StatusRecorder(runner) as seen``).

    For loose checks over a period, e.g. how few workers were ready during a rolling restart.
    """

    def __init__(self, runner: Runner, *, interval: float = 0.05) -> None:
        self._runner = runner
        self._interval = interval   # seconds between samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="status-recorder", daemon=True)
        self.samples: list[dict[str, Any]] = []

    def __enter__(self) -> StatusRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            status = self._runner.status()
            if status is not None:
                self.samples.append(status)


FINAL_STATES = ("completed", "failed")


def enqueue(server: Any, *texts: str) -> list[str]:
    """Enqueue one global job per text on an in-process emulator; returns their workspaceIds.

    An empty text enqueues a job without messages (the runner fails it as ``empty_context``).
    """
    return [server.enqueue_job({"target": "global", "messages": [{"text": text}] if text else []})
            for text in texts]


def wait_final(server: Any, workspace_ids: list[str], *, timeout: float = WAIT) -> dict[str, dict[str, Any]]:
    """Wait until every job in ``workspace_ids`` is completed or failed; returns those jobs by id."""
    def check() -> dict[str, dict[str, Any]] | None:
        jobs = job_states(server)
        wanted = {w: jobs[w] for w in workspace_ids}
        return wanted if all(job["state"] in FINAL_STATES for job in wanted.values()) else None

    return wait_for(check, timeout=timeout,
                    what=lambda: "jobs to end\n" + dump({w: j for w, j in job_states(server).items()
                                                         if w in workspace_ids}))


def cloud_stats(server: Any) -> dict[str, Any]:
    """The emulator's ``/admin/stats``: request counts by route and status, lifecycle events."""
    answer = requests.get(server.url + "/admin/stats", timeout=5)
    answer.raise_for_status()
    stats: dict[str, Any] = answer.json()
    return stats


def route_requests(server: Any, route: str) -> int:
    """How many requests ``route`` (e.g. ``/leaseWorkspaceJob``) received, any status."""
    return sum(cloud_stats(server)["requests"].get(route, {}).values())


def revoke(server: Any, instance_id: str) -> None:
    """Revoke a runner instance through the protocol route, as Studio would."""
    answer = requests.post(server.url + "/revokeRunnerInstance", json={"instanceId": instance_id},
                           headers={"Authorization": f"Bearer {server.admin_id_token}"}, timeout=5)
    answer.raise_for_status()


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (exited, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def job_states(server: Any) -> dict[str, dict[str, Any]]:
    """Every job of an in-process emulator, by workspaceId, as the admin API shows it."""
    answer = requests.get(server.url + "/admin/jobs", timeout=5)
    answer.raise_for_status()
    body = answer.json()
    jobs = body["jobs"] if isinstance(body, dict) else body
    return {job["workspaceId"]: job for job in jobs}


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)
