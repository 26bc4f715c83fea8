"""The baseline: N runners behaving as the official runner does, one thread per runner.

Each ``NaivePoller`` is what one copy of the official runner does (protocol §2, §6):
lease; on an empty queue sleep a flat ``POLL_MS`` with no jitter and lease again; on a job:
context, heartbeat right after the context, the model (here a plain sleep of the same
simulated length our builtin model takes), heartbeat again just before completing,
complete — five cloud calls per short job. Runners start at random moments within one
poll interval, as copies started by hand do (the baseline's best case for pickup latency;
request counts do not depend on it). The calls go through our ``JobClient``, so the HTTP
cost per call is the same on both sides and only the call pattern differs.
"""
from __future__ import annotations

import random
import threading
from typing import Any

from shared.cloud.jobs import JobClient
from shared.http.retry import RetryPolicy

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 30.0   # seconds
NARRATIVE = "Here is the overview you asked for, prepared by the benchmark's naive runner."


def completion(workspace_id: str) -> dict[str, Any]:
    """The smallest valid completion: a message and every artifact array empty."""
    return {"workspaceId": workspace_id, "assistantMessage": NARRATIVE, "files": [], "charts": [],
            "datasets": [], "svgs": [], "lists": [], "checklists": []}


class NaivePoller(threading.Thread):
    """One official-pattern runner: flat polling, two heartbeats per job."""

    def __init__(self, *, index: int, cloud_url: str, token: str, poll_interval: float, model_seconds: float,
                 start_delay: float, stop: threading.Event) -> None:
        super().__init__(name=f"naive-runner-{index}", daemon=True)
        self._client = JobClient(base_url=cloud_url, token=token, connect_timeout=CONNECT_TIMEOUT,
                                 read_timeout=READ_TIMEOUT, retry=RetryPolicy(max_attempts=4))
        self._poll_interval = poll_interval   # seconds (POLL_MS / 1000)
        self._model_seconds = model_seconds
        self._start_delay = start_delay
        self._halt = stop
        self.jobs_done = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            if self._halt.wait(self._start_delay):
                return
            while not self._halt.is_set():
                lease = self._client.lease()
                if lease is None:
                    self._halt.wait(self._poll_interval)
                    continue
                self._run_job(lease.workspace_id)
        except Exception as exc:  # reported by NaivePool.stop, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._client.close()

    def _run_job(self, workspace_id: str) -> None:
        self._client.get_context(workspace_id)
        self._client.heartbeat(workspace_id)          # the official runner: right after the context
        self._halt.wait(self._model_seconds)          # the model
        self._client.heartbeat(workspace_id)          # ... and once more just before completing
        self._client.complete(completion(workspace_id))
        self.jobs_done += 1


class NaivePool:
    """``count`` naive pollers against one cloud; a context manager that stops and joins them."""

    def __init__(self, *, count: int, cloud_url: str, token: str, poll_interval: float, model_seconds: float,
                 rng: random.Random) -> None:
        self._stop = threading.Event()
        self.pollers = [NaivePoller(index=index, cloud_url=cloud_url, token=token, poll_interval=poll_interval,
                                    model_seconds=model_seconds, start_delay=rng.uniform(0, poll_interval),
                                    stop=self._stop) for index in range(count)]

    def __enter__(self) -> NaivePool:
        for poller in self.pollers:
            poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[str]:
        """Stop every poller (between calls); returns the errors any of them hit."""
        self._stop.set()
        for poller in self.pollers:
            poller.join(timeout=READ_TIMEOUT + CONNECT_TIMEOUT)
        return [f"{poller.name}: {poller.error}" for poller in self.pollers if poller.error]
