"""Start worker processes: the multiprocessing context, the per-worker spec and the pipe.

The default start method is forkserver: safe with the supervisor's threads (HTTP server,
cloud calls), and fast because the fork server imports ``workers.main`` once and forks
every worker from that warm state. Per-worker values travel in the ``WorkerSpec`` argument,
never in the environment (a fork server's environment is frozen when it starts).
"""
from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import cast

from shared.config.sections import RunnerConfig
from shared.pipe.spec import WorkerSpec
from workers.main import run_worker

# Seconds between a silent worker's Alive messages. Each one wakes the supervisor's loop, so
# an idle pool of N workers costs N / ALIVE_MAX turns a second at the default hung_timeout.
ALIVE_MIN, ALIVE_MAX = 0.2, 15.0


class Spawner:
    """Starts workers with one multiprocessing context, kept for the supervisor's life."""

    def __init__(self, *, start_method: str, metrics_dir: str) -> None:
        # get_context names only BaseContext for a str; each start method's context has a Process.
        self._ctx = cast("ForkContext | ForkServerContext | SpawnContext", multiprocessing.get_context(start_method))
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(["workers.main"])
        self._metrics_dir = metrics_dir

    def start(self, *, slot: int, config: RunnerConfig, cloud_url: str, token: str) -> tuple[BaseProcess, Connection]:
        """Start worker ``slot`` and return its process and the supervisor's end of its pipe."""
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        # A sign of life four times per hung_timeout: one lost or late Alive never looks like a hang.
        alive = min(ALIVE_MAX, max(ALIVE_MIN, config.pool.hung_timeout / 4))
        spec = WorkerSpec.for_slot(config, slot=slot, token=token, cloud_url=cloud_url, metrics_dir=self._metrics_dir,
                                   supervisor_pid=os.getpid(), alive_interval=alive)
        process = self._ctx.Process(target=run_worker, args=(spec, child_conn), name=f"xenon-worker-{slot}")
        try:
            process.start()
        except BaseException:
            parent_conn.close()
            raise
        finally:
            child_conn.close()
        # Every start() first polls each process multiprocessing still lists as a child, and a
        # forkserver poll builds a selector: starting N workers cost O(N²) (~3 s of 9 at 512).
        # The pool reaps its workers itself (sentinels, kill_all), so it does not list them.
        multiprocessing.process._children.discard(process)  # type: ignore[attr-defined]
        return process, parent_conn
