"""``EmulatorServer``: the local XenonFlare cloud, assembled and served on a background thread.

It listens on ``config.listen`` (loopback by default; the admin API has no authentication,
so keep it there), seeds ``config.seed_jobs`` sample jobs on the global target, and creates
one admin Studio account whose ID token is ``admin_id_token`` (random per server).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from emulator.admin import DEFAULT_OWNER, AdminRoutes
from emulator.completion_rules import completion_problems
from emulator.dispatch import Dispatcher
from emulator.faults import FaultInjector, FaultSettings
from emulator.httpio import EmulatorHttpServer
from emulator.routes import ProtocolRoutes, check_instance_kind
from emulator.routing import RouteTable
from emulator.state import EmulatorState
from emulator.stats import Stats
from shared.config.sections import EmulatorConfig

log = logging.getLogger("xenon.emulator")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a maximal completion payload is a few MB of JSON
_POLL_INTERVAL = 0.02  # seconds: how quickly stop() is noticed by the accept loop (cheap when idle)
_STOP_TIMEOUT = 10.0  # seconds to wait for the accept loop thread on stop


def parse_listen(listen: str) -> tuple[str, int, socket.AddressFamily]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as host, port and address family."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"emulator listen address must be HOST:PORT (e.g. 127.0.0.1:0), got {listen!r}")
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1], int(port), socket.AF_INET6
    return host or "127.0.0.1", int(port), socket.AF_INET


class EmulatorServer:
    """A stateful, thread-safe stand-in for the XenonFlare cloud on a real socket.

    ``clock`` returns epoch seconds (leases and timestamps use it; inject one to test
    expiry without sleeping). ``seed`` fixes the fault-injection random sequence and the
    sample jobs. Use as a context manager, or ``start()`` / ``stop()``.
    """

    def __init__(self, *, config: EmulatorConfig, clock: Callable[[], float] = time.time,
                 seed: int | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.config = config
        self._host, self._port, self._family = parse_listen(config.listen)
        self._max_body_bytes = max_body_bytes
        self.stats = Stats()
        self.state = EmulatorState(lease_seconds=config.lease_seconds,
                                   max_leases_per_instance=config.max_leases_per_instance,
                                   clock=clock, stats=self.stats)
        self.faults = FaultInjector(defaults=FaultSettings(
            error_rate=config.error_rate, throttle_rate=config.throttle_rate, retry_after=config.retry_after,
            drop_rate=config.drop_rate, latency=config.latency), seed=seed)
        self.admin_id_token = self.state.add_account(uid=DEFAULT_OWNER, admin=True)
        self._admin = AdminRoutes(state=self.state, stats=self.stats, faults=self.faults,
                                  sample_seed=seed or 0)
        protocol = ProtocolRoutes(state=self.state, stats=self.stats, validate=completion_problems)
        self._dispatcher = Dispatcher(table=RouteTable([*protocol.routes(), *self._admin.routes()]),
                                      faults=self.faults, stats=self.stats)
        self._admin.enqueue_samples(config.seed_jobs)
        self._httpd: EmulatorHttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve on a background daemon thread (port 0 = a free port)."""
        if self._httpd is not None:
            raise RuntimeError("emulator already started")
        self._httpd = EmulatorHttpServer((self._host, self._port), family=self._family,
                                         dispatcher=self._dispatcher, max_body_bytes=self._max_body_bytes)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL},
                                        name="xenon-emulator", daemon=True)
        self._thread.start()
        log.info("emulator listening on %s", self.url)

    @property
    def url(self) -> str:
        """Base URL to give clients, e.g. ``http://127.0.0.1:53211`` (wildcard binds map to loopback)."""
        if self._httpd is None:
            raise RuntimeError("emulator not started")
        port = self._httpd.server_address[1]
        if self._family == socket.AF_INET6:
            return f"http://[{'::1' if self._host in ('', '::') else self._host}]:{port}"
        return f"http://{'127.0.0.1' if self._host in ('', '0.0.0.0') else self._host}:{port}"

    def stop(self) -> None:
        """Stop accepting, end open connections and release the port. Idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join(_STOP_TIMEOUT)
        self._httpd = self._thread = None
        log.info("emulator stopped")

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def create_instance(self, *, kind: str = "global", owner: str = DEFAULT_OWNER,
                        name: str | None = None) -> dict[str, Any]:
        """Mint a runner instance without an ID token; same body as ``/createRunnerInstance``."""
        return self.state.create_instance(kind=check_instance_kind(kind), owner=owner, name=name)

    def enqueue_job(self, spec: dict[str, Any]) -> str:
        """Enqueue a job spec (see ``emulator.jobspec``) or ``{"sample": true}``; returns its workspaceId.

        Raises ``JobSpecError`` (a ValueError listing every problem) for a bad spec.
        """
        return self._admin.enqueue(spec)
