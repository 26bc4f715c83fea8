"""The supervisor's HTTP endpoint on ``metrics.listen``: /metrics, /healthz, /readyz, /status.

Served from a background thread; every answer is built from the latest ``PoolSnapshot``
and from the multiprocess metrics directory, never from the loop's live objects.
/healthz fails when the supervisor's loop has not turned for ``STALL_AFTER`` seconds,
so a wedged supervisor is restarted by its orchestrator.

Connections are taken by a ``BoundedHTTPListener`` (``http_listener``): a request head must
arrive within 5 s (and no 2 s silence), heads are capped at 16 KiB, at most 128 connections
may be half-sent (the oldest is dropped for a new one), 4 threads answer, and every answer
closes its connection. A slow-client flood therefore costs sockets for a few seconds, not
threads, and /healthz keeps answering through it.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .http_listener import BoundedHTTPListener, HeadRequestHandler, Limits
from .pool_collector import PoolCollector
from .snapshot import PoolSnapshot
from .usage import ProcessUsage

log = logging.getLogger("xenon.supervisor.http")

STALL_AFTER = 30.0   # seconds without a loop turn before /healthz fails


class StatusServer:
    """Serves the four endpoints from a daemon thread; ``snapshot`` returns the latest ``PoolSnapshot``."""

    def __init__(self, *, listen: str, metrics_dir: str, snapshot: Callable[[], PoolSnapshot],
                 limits: Limits = Limits()) -> None:
        host, _, port = listen.rpartition(":")
        self._address = (host.strip("[]"), int(port))
        self._metrics_dir = metrics_dir
        self._snapshot = snapshot
        self._usage = ProcessUsage()   # RSS and CPU, sampled for /status and /metrics only
        self._limits = limits
        self._listener: BoundedHTTPListener | None = None

    @property
    def url(self) -> str:
        assert self._listener is not None
        host, port = self._listener.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Bind (raises OSError when the address is taken) and serve on daemon threads."""
        self._listener = BoundedHTTPListener(self._address, _make_handler(self), limits=self._limits)
        self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()

    def render_metrics(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=self._metrics_dir)
        registry.register(PoolCollector(self._sampled_snapshot))
        return generate_latest(registry)

    def health(self) -> tuple[int, dict[str, Any]]:
        snap = self._snapshot()
        stalled_for = time.monotonic() - snap.loop_heartbeat
        ok = stalled_for < STALL_AFTER
        return (200 if ok else 503), {"ok": ok, "loop_stalled_seconds": round(stalled_for, 3)}

    def readiness(self) -> tuple[int, dict[str, Any]]:
        snap = self._snapshot()
        ready = snap.ready_workers > 0 and not snap.draining
        return (200 if ready else 503), {"ready": ready, "ready_workers": snap.ready_workers,
                                         "draining": snap.draining}

    def status(self) -> tuple[int, dict[str, Any]]:
        return 200, self._sampled_snapshot().to_json(now=time.monotonic())

    def _sampled_snapshot(self) -> PoolSnapshot:
        """The latest snapshot with RSS and CPU sampled now (at most once a second per process)."""
        return self._usage.annotate(self._snapshot())


def _make_handler(server: StatusServer) -> type[HeadRequestHandler]:
    class Handler(HeadRequestHandler):
        server_version = "xenon-runner"

        def do_GET(self) -> None:  # the stdlib's naming
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._send(200, server.render_metrics(), CONTENT_TYPE_LATEST)
                    return
                routes = {"/healthz": server.health, "/readyz": server.readiness, "/status": server.status}
                if path not in routes:
                    self._send_json(404, {"error": "not found", "endpoints": ["/metrics", *routes]})
                    return
                code, body = routes[path]()
                self._send_json(code, body)
            except Exception:  # a broken scrape must not kill the server thread
                log.exception("error serving %s", path)
                self._send_json(500, {"error": "internal error"})

        def _send_json(self, code: int, body: dict[str, Any]) -> None:
            self._send(code, json.dumps(body, indent=1).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")   # one request per connection
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # stdlib signature
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
