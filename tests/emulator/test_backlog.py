"""The emulator and the fake OpenAI server queue a burst of connections instead of dropping SYNs.

socketserver listens with a backlog of 5; when the accept queue is full, Linux drops the
next SYNs and the client retries only after 1 s, then 3 s. A pool of hundreds of workers
(or 1,000 job lanes) connects at once, and a dropped SYN is a second-long stall. Here
nobody accepts: every connection must still complete its handshake, i.e. sit
in the kernel's queue.
"""
from __future__ import annotations

import socket
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from socketserver import TCPServer

from emulator.dispatch import Dispatcher
from emulator.faults import FaultInjector, FaultSettings
from emulator.httpio import EmulatorHttpServer
from emulator.routing import RouteTable
from emulator.stats import Stats
from tests.fakes.openai_server import _QuietServer

BURST = 200            # connections opened at once, none accepted
CONNECT_TIMEOUT = 2.0  # seconds; a dropped SYN is retried after 1 s, so a full queue fails this


def connect_all(server: TCPServer, count: int) -> int:
    """Open ``count`` connections to ``server`` without it accepting any; returns how many completed."""
    host, port = server.server_address[:2]
    completed = 0
    with ExitStack() as stack:
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect((host, port))
            except OSError:
                break
            completed += 1
    return completed


def test_emulator_queues_a_burst_of_connections() -> None:
    dispatcher = Dispatcher(table=RouteTable([]), faults=FaultInjector(defaults=FaultSettings(), seed=0),
                            stats=Stats())
    server = EmulatorHttpServer(("127.0.0.1", 0), family=socket.AF_INET, dispatcher=dispatcher, max_body_bytes=1)
    try:
        assert connect_all(server, BURST) == BURST
    finally:
        server.server_close()


def test_fake_openai_server_queues_a_burst_of_connections() -> None:
    server = _QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        assert connect_all(server, BURST) == BURST
    finally:
        server.server_close()
