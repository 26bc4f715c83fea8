"""Defect 9: the /metrics–/status endpoint under slow and half-sent requests.

Before the fix every connection got a thread that waited for the rest of the request for as
long as the client liked: 300 half-sent requests held 300 supervisor threads until the
clients left. Now a connection costs a socket until its head is overdue, the threads are a
fixed few, and /healthz answers through the flood. Tests run a real ``StatusServer`` on
127.0.0.1 (and one real pool); the expiry rule itself is checked on a fake clock.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import requests

from supervisor.observability.http_listener import Limits, Pending
from supervisor.observability.http_server import StatusServer
from supervisor.observability.snapshot import PoolSnapshot
from tests.integration.conftest import StartRunner

FLOOD = 300            # half-sent connections
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"   # no blank line: the head never ends
CLIENT_PATIENCE = 20.0  # seconds a test client waits for the server to act; far above every server bound


@contextlib.contextmanager
def status_server(limits: Limits | None = None) -> Iterator[StatusServer]:
    """A real StatusServer on 127.0.0.1; without ``limits`` exactly as the supervisor runs it."""
    options = {} if limits is None else {"limits": limits}
    server = StatusServer(listen="127.0.0.1:0", metrics_dir="/nonexistent",
                          snapshot=lambda: PoolSnapshot(loop_heartbeat=time.monotonic()), **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def half_sent(port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_PATIENCE)
        client.sendall(HALF_REQUEST)
        clients.append(client)
    return clients


def closed_by_server(client: socket.socket) -> bool:
    """True when the server closed (or reset) the connection before ``CLIENT_PATIENCE`` ran out."""
    try:
        while client.recv(65536):   # a short refusal (431, 503) may come before the close
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_the_expiry_rule_on_a_fake_clock() -> None:
    limits = Limits(header_timeout=5.0, idle_timeout=2.0)
    pending = Pending(socket.socket(), ("127.0.0.1", 1), connected_at=100.0, last_byte_at=100.0)
    try:
        assert not pending.expired(101.9, limits)
        assert pending.expired(102.0, limits), "silent for idle_timeout"
        pending.last_byte_at = 103.5          # a byte now and then ...
        assert not pending.expired(104.9, limits)
        assert pending.expired(105.0, limits), "... but the whole head is due header_timeout after connecting"
    finally:
        pending.sock.close()


def test_the_default_bounds_are_a_few_seconds_and_a_few_threads() -> None:
    limits = Limits()
    assert limits.idle_timeout <= limits.header_timeout <= 10 and limits.write_timeout <= 10
    assert limits.handler_threads <= 8 and limits.max_connections >= 64 and limits.max_head_bytes <= 65536


def test_healthz_answers_through_a_flood_of_half_sent_requests_with_few_threads() -> None:
    with status_server() as server:
        threads_before = threading.active_count()
        clients = half_sent(port_of(server.url), FLOOD)
        try:
            answer = requests.get(server.url + "/healthz", timeout=CLIENT_PATIENCE)
            assert answer.status_code == 200 and answer.json()["ok"] is True
            assert threading.active_count() - threads_before <= 2, "a thread per half-sent request"
        finally:
            for client in clients:
                client.close()


def test_a_half_sent_request_is_dropped_after_a_few_seconds() -> None:
    with status_server() as server:
        client, = half_sent(port_of(server.url), 1)
        with client:
            assert closed_by_server(client), "the server waited for the rest of the request for ever"


def test_a_client_trickling_its_head_is_dropped_at_the_header_deadline() -> None:
    limits = Limits(header_timeout=1.0, idle_timeout=0.5)
    with status_server(limits) as server:
        with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=CLIENT_PATIENCE) as client:
            started = time.monotonic()
            with contextlib.suppress(OSError):   # the server closes while we are still sending
                for byte in HALF_REQUEST * 4:
                    client.sendall(bytes([byte]))
                    time.sleep(0.1)              # well inside idle_timeout: only the header deadline can end it
            assert closed_by_server(client)
            assert time.monotonic() - started < CLIENT_PATIENCE


def test_an_oversized_request_head_gets_431() -> None:
    with status_server() as server:
        with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=CLIENT_PATIENCE) as client:
            with contextlib.suppress(OSError):
                client.sendall(b"GET /healthz HTTP/1.1\r\nX-Filler: " + b"a" * (Limits().max_head_bytes + 10))
            assert client.recv(100).startswith(b"HTTP/1.1 431 ")


def test_beyond_the_connection_cap_the_oldest_half_sent_request_makes_room() -> None:
    with status_server(Limits(max_connections=8)) as server:
        clients = half_sent(port_of(server.url), 20)
        try:
            assert requests.get(server.url + "/healthz", timeout=CLIENT_PATIENCE).status_code == 200
            assert closed_by_server(clients[0]), "the oldest connection was evicted"
        finally:
            for client in clients:
                client.close()


def test_a_real_pool_keeps_answering_and_its_thread_count_stays_bounded(start_runner: StartRunner) -> None:
    runner = start_runner(workers=1)
    assert runner.process is not None
    supervisor = psutil.Process(runner.process.pid)
    threads_before = supervisor.num_threads()
    clients = half_sent(runner.port, FLOOD)
    try:
        answer = requests.get(runner.url + "/healthz", timeout=CLIENT_PATIENCE)
        assert answer.status_code == 200
        assert supervisor.num_threads() - threads_before <= 2, "a thread per half-sent request"
        assert closed_by_server(clients[-1])
    finally:
        for client in clients:
            client.close()
    runner.wait_ready()
