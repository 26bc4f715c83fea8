"""The image's HEALTHCHECK probe, run as Docker runs it, against real HTTP servers on loopback."""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.support import DOCKER, run_tool
from tests.harness import free_port

PROBE = DOCKER / "healthcheck.py"


class _Health(BaseHTTPRequestHandler):
    """/healthz answers 200, /readyz 503 (a draining runner), anything else 404."""

    def do_GET(self) -> None:  # http.server's naming
        status = {"/healthz": 200, "/readyz": 503}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def probe(*args: str) -> tuple[int, str]:
    result = run_tool([sys.executable, str(PROBE), *args], timeout=30)
    return result.returncode, result.stderr


def test_healthy_when_the_url_answers_200(server: str) -> None:
    assert probe(f"{server}/healthz") == (0, "")


def test_unhealthy_when_the_url_answers_an_error(server: str) -> None:
    code, message = probe(f"{server}/readyz")
    assert code == 1 and "answered 503" in message


def test_unhealthy_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}/healthz"
    code, message = probe(url)
    assert code == 1 and "unreachable" in message and url in message


def test_default_url_is_the_supervisors_healthz_on_the_image_port() -> None:
    source = PROBE.read_text()
    assert 'DEFAULT_URL = "http://127.0.0.1:9464/healthz"' in source


def test_usage_error_on_extra_arguments() -> None:
    code, message = probe("http://127.0.0.1:1/a", "http://127.0.0.1:1/b")
    assert code == 2 and "usage" in message
