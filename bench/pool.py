"""Our runner as operators run it: a real ``xenon-runner run`` process tree against a bench cloud.

``RunnerPool`` writes a YAML config, starts ``python -m supervisor run --config …`` (what
the ``xenon-runner`` console script runs) in its own session with a clean environment, and
reads it from outside only: ``/status`` on its metrics port, its JSON log lines, psutil.
Every wait has a generous deadline that is a safety net, never a measurement.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0   # seconds for the whole pool to report READY (32 workers on 2 cores included)
STOP_TIMEOUT = 30.0     # seconds for a SIGTERM'd idle pool to exit before it is killed
STATUS_POLL = 0.02      # seconds between /status reads while waiting
LOG_TAIL_CHARS = 3000   # characters of the runner log quoted in errors
_DROPPED_ENV = ("RUNNER_", "OPENAI_", "POLL_MS", "XENON", "PROMETHEUS_MULTIPROC_DIR")


def free_port() -> int:
    """A loopback port that was free a moment ago (the supervisor binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]   # an AF_INET name: (host, port)
        return port


def clean_env() -> dict[str, str]:
    """This environment without the operator's runner, model or metrics variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_ENV)}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class RunnerPool:
    """One supervisor and its workers; a context manager that always leaves no process behind."""

    def __init__(self, *, workdir: Path, cloud_url: str, token: str, workers: int, poll_interval: float,
                 model_round_seconds: float, pool: Mapping[str, Any] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.metrics_dir = workdir / "metrics"
        self.log_path = workdir / "runner.log"
        self.config = {
            "cloud": {"base_url": cloud_url, "token": token},
            "pool": {"workers": workers, "poll_interval": poll_interval, "graceful_timeout": 10, **(pool or {})},
            "model": {"name": "builtin", "latency": model_round_seconds},
            "metrics": {"listen": f"127.0.0.1:{self.port}", "multiproc_dir": str(self.metrics_dir)},
            "logging": {"level": "info", "format": "json"},
        }
        self._session = requests.Session()
        self.process: subprocess.Popen[bytes] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> RunnerPool:
        config_path = self.workdir / "runner.yaml"
        config_path.write_text(yaml.safe_dump(self.config))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "supervisor", "run", "--config", str(config_path)],
                                            cwd=REPO, env=clean_env(), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._session.close()

    def stop(self) -> None:
        """SIGTERM (drain), then SIGKILL whatever of the tree is left after ``STOP_TIMEOUT``."""
        if self.process is None or self.process.poll() is not None:
            return
        tree = self.tree()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        for process in tree:
            try:
                process.kill()
            except psutil.Error:
                pass
        self.process.wait(timeout=STOP_TIMEOUT)

    # --- reading --------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the pool is not started")
        return self.process.pid

    def status(self) -> dict[str, Any] | None:
        """The supervisor's /status document, or None while it does not answer."""
        try:
            answer = self._session.get(f"http://127.0.0.1:{self.port}/status", timeout=5)
        except requests.RequestException:
            return None
        return answer.json() if answer.status_code == 200 else None

    def readiness(self) -> dict[str, Any] | None:
        """The supervisor's /readyz document (any status code), or None while it does not answer."""
        try:
            readiness: dict[str, Any] = self._session.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5).json()
            return readiness
        except (requests.RequestException, ValueError):
            return None

    def wait_ready(self, *, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Wait until every worker is READY; returns /status. Raises with the log tail otherwise.

        Polls /readyz, which is cheap to answer, so the waiting does not slow the start it measures.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the runner exited with {self.process.returncode}:\n{self.log_tail()}")
            ready = self.readiness()
            if ready and ready["ready_workers"] >= self.workers:
                status = self.status()
                if status is not None:
                    return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.workers} workers not READY within {timeout:g}s:\n{self.log_tail()}")
            time.sleep(STATUS_POLL)

    def worker_pids(self) -> dict[int, int]:
        """Live worker pids by slot, from /status."""
        status = self.status() or {"workers": []}
        return {worker["slot"]: worker["pid"] for worker in status["workers"] if worker["pid"]}

    def tree(self) -> list[psutil.Process]:
        """The supervisor and every process under it (fork server, workers, helpers)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def log_records(self) -> Iterator[dict[str, Any]]:
        """The JSON log lines written so far (lines that are not JSON are skipped)."""
        if not self.log_path.exists():
            return
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            for line in log:
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue

    def log_tail(self) -> str:
        """The last ``LOG_TAIL_CHARS`` characters of the runner's log, for error messages."""
        return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:] if self.log_path.exists() else ""

    def metrics_file_count(self) -> int:
        return len(list(self.metrics_dir.glob("*.db")))
