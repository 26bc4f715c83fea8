"""EmulatorServer lifecycle and ``serve``: start, URL, stop (also of kept-alive connections), signals."""
from __future__ import annotations

import signal
import socket

import pytest
import requests

from emulator import EmulatorServer, serve
from emulator.server import parse_listen
from shared.config.sections import EmulatorConfig
from tests.emulator.conftest import HTTP_TIMEOUT


def test_url_and_lifecycle() -> None:
    server = EmulatorServer(config=EmulatorConfig(seed_jobs=2))
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        with pytest.raises(RuntimeError):
            server.start()
        assert requests.get(server.url + "/admin/stats", timeout=HTTP_TIMEOUT).json()["jobs"]["pending"] == 2
    finally:
        server.stop()
    server.stop()  # idempotent


def test_stop_ends_kept_alive_connections() -> None:
    with requests.Session() as session:
        with EmulatorServer(config=EmulatorConfig(seed_jobs=0)) as server:
            url = server.url
            assert session.get(url + "/admin/stats", timeout=HTTP_TIMEOUT).status_code == 200
        with pytest.raises(requests.ConnectionError):
            session.get(url + "/admin/stats", timeout=HTTP_TIMEOUT)


def test_admin_token_is_random_per_server() -> None:
    first = EmulatorServer(config=EmulatorConfig(seed_jobs=0))
    second = EmulatorServer(config=EmulatorConfig(seed_jobs=0))
    assert first.admin_id_token != second.admin_id_token and len(first.admin_id_token) > 30


@pytest.mark.parametrize("listen, expected", [
    ("127.0.0.1:0", ("127.0.0.1", 0, socket.AF_INET)),
    ("[::1]:8080", ("::1", 8080, socket.AF_INET6)),
    (":9000", ("127.0.0.1", 9000, socket.AF_INET)),
])
def test_parse_listen(listen: str, expected: tuple[str, int, socket.AddressFamily]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["127.0.0.1", "host:port", "127.0.0.1:70000"])
def test_parse_listen_rejects(listen: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(listen)


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = EmulatorServer(config=EmulatorConfig(listen="[::1]:0", seed_jobs=0))
        server.start()
    except OSError:
        pytest.skip("::1 not available here")
    try:
        assert server.url.startswith("http://[::1]:")
        assert requests.get(server.url + "/admin/faults", timeout=HTTP_TIMEOUT).status_code == 200
    finally:
        server.stop()


def test_serve_runs_until_sigterm_and_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: dict[str, object] = {}

    def on_ready(server: EmulatorServer) -> None:
        seen["url"] = server.url
        seen["status"] = requests.get(server.url + "/admin/stats", timeout=HTTP_TIMEOUT).status_code
        signal.raise_signal(signal.SIGTERM)

    serve(config=EmulatorConfig(seed_jobs=1), on_ready=on_ready)
    assert seen["status"] == 200
    assert signal.getsignal(signal.SIGTERM) is before
    with pytest.raises(requests.ConnectionError):
        requests.get(str(seen["url"]) + "/admin/stats", timeout=HTTP_TIMEOUT)
