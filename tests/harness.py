"""Run the real system in tests: a `xenon-runner run` subprocess against an emulator on loopback.

``Runner`` writes a YAML config into the test's tmp dir, starts the supervisor in its own
session (so a test can kill the whole tree), and offers waits on /status and the log. All
waits poll with generous deadlines: they are safety nets, never assertions about speed.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
CHAOS_MODEL = "tests.fakes.chaos_model:make_handle"
WAIT = 60.0   # seconds: default safety net for waits


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float = WAIT, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


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
                 env: dict[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.state_dir = tmp_path / "chaos"
        self.state_dir.mkdir(exist_ok=True)
        cloud: dict[str, Any] = {"base_url": cloud_url, "connect_timeout": 2, "read_timeout": 10}
        if tokens:
            cloud["tokens"] = tokens
        else:
            cloud["token"] = token
        self.config: dict[str, Any] = {
            "cloud": cloud,
            "pool": {"workers": workers, "poll_interval": 0.5, "graceful_timeout": 10, "hung_timeout": 10,
                     "kill_timeout": 2, "restart_backoff": 0.1, "restart_backoff_max": 1, **(pool or {})},
            "model": model or {"name": CHAOS_MODEL, "options": {"state_dir": str(self.state_dir)}},
            "metrics": {"listen": f"127.0.0.1:{self.port}", "multiproc_dir": str(tmp_path / "metrics")},
            "logging": {"level": "info", **(logging or {})},
        }
        self.config_path = tmp_path / "runner.yaml"
        self.log_path = tmp_path / "runner.log"
        self.env = runner_env(**(env or {}))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    def start(self, *extra_args: str) -> "Runner":
        self.write_config()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "supervisor", "run", "--config",
                                         str(self.config_path), *extra_args], cwd=REPO, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def __enter__(self) -> "Runner":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill_tree()

    # --- reading --------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str) -> requests.Response | None:
        try:
            return requests.get(self.url + path, timeout=5)
        except requests.RequestException:
            return None

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
        return wait_for(lambda: (s := self.status()) and s["ready_workers"] >= wanted and s,
                        timeout=timeout, what=f"{wanted} ready workers\n{self.log()[-3000:]}")

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
            raise AssertionError(f"runner did not exit within {timeout:g}s\n{self.log()[-3000:]}") from None

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


def job_states(server: Any) -> dict[str, dict[str, Any]]:
    """Every job of an in-process emulator, by workspaceId, as the admin API shows it."""
    answer = requests.get(server.url + "/admin/jobs", timeout=5)
    answer.raise_for_status()
    body = answer.json()
    jobs = body["jobs"] if isinstance(body, dict) else body
    return {job["workspaceId"]: job for job in jobs}


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)
