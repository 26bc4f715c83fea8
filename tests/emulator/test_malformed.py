"""Malformed requests get a 4xx JSON error, never a crash or a hung connection."""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.emulator.conftest import HTTP_TIMEOUT, Cloud


def _address(url: str) -> tuple[str, int]:
    """(host, port) of the emulator's URL, which always names both."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes it."""
    with socket.create_connection(_address(url), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status_and_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _post_raw(cloud: Cloud, path: str, data: bytes, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return cloud.session.post(cloud.url + path, data=data, headers=headers, timeout=HTTP_TIMEOUT)


@pytest.mark.parametrize("data, word", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "got array"),
    (b'"text"', "got string"),
    (b'{"workspaceId": NaN}', "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_bad_bodies_are_400(cloud: Cloud, key: str, data: bytes, word: str) -> None:
    reply = _post_raw(cloud, "/heartbeatWorkspaceJob", data, key)
    assert reply.status_code == 400
    assert word in reply.json()["error"]
    # The kept-alive connection still works afterwards.
    assert cloud.lease(key) == {"leased": False}


def test_deeply_nested_json_is_400(cloud: Cloud, key: str) -> None:
    reply = _post_raw(cloud, "/completeWorkspaceJob", b"[" * 100_000 + b"]" * 100_000, key)
    assert reply.status_code == 400


@pytest.mark.parametrize("body, word", [
    ({}, "missing field 'workspaceId'"),
    ({"workspaceId": 12}, "must be a string, got number"),
    ({"workspaceId": None}, "got null"),
    ({"workspaceId": " "}, "must not be blank"),
])
def test_missing_and_wrong_typed_fields(cloud: Cloud, key: str, body: dict[str, Any], word: str) -> None:
    reply = cloud.post("/getWorkspaceRunnerContext", body, token=key)
    assert reply.status_code == 400
    assert word in reply.json()["error"]


def test_empty_body_allowed_on_admin_posts(cloud: Cloud) -> None:
    assert _post_raw(cloud, "/admin/reset", b"").status_code == 200


def test_unknown_route_is_404(cloud: Cloud, key: str) -> None:
    reply = cloud.post("/leaseWorkspaceJobs", {}, token=key)
    assert reply.status_code == 404 and reply.json() == {"error": "no route /leaseWorkspaceJobs"}
    assert cloud.get("/admin/jobs/a/b").status_code == 404
    assert cloud.stats()["requests"]["(unknown)"] == {"404": 2}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_wrong_method_is_405_with_allow(cloud: Cloud, method: str) -> None:
    reply = cloud.session.request(method, cloud.url + "/leaseWorkspaceJob", timeout=HTTP_TIMEOUT)
    assert reply.status_code == 405
    assert reply.headers["Allow"] == "POST"
    assert method in reply.json()["error"]


def test_head_gets_405_without_body(cloud: Cloud) -> None:
    reply = cloud.session.head(cloud.url + "/admin/stats", timeout=HTTP_TIMEOUT)
    assert reply.status_code == 405 and reply.headers["Allow"] == "GET" and reply.content == b""


def test_query_string_is_ignored_on_protocol_routes(cloud: Cloud, key: str) -> None:
    reply = cloud.session.post(cloud.url + "/leaseWorkspaceJob?x=1", json={},
                               headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200


@pytest.fixture
def small_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(config=EmulatorConfig(seed_jobs=0), max_body_bytes=1024) as server:
        yield server


def test_huge_body_is_413_and_closes(small_server: EmulatorServer) -> None:
    reply = requests.post(small_server.url + "/completeWorkspaceJob", data=b"x" * 200_000,
                          headers={"Authorization": "Bearer a.b"}, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 413
    assert reply.json()["detail"] == {"limitBytes": 1024}
    assert reply.headers["Connection"] == "close"
    assert small_server.stats.snapshot()["requests"]["/completeWorkspaceJob"] == {"413": 1}


def test_chunked_body_is_411(cloud: Cloud) -> None:
    reply = cloud.session.post(cloud.url + "/leaseWorkspaceJob", data=iter([b"{", b"}"]), timeout=HTTP_TIMEOUT)
    assert reply.status_code == 411 and "Content-Length" in reply.json()["error"]


def test_invalid_content_length_is_400(cloud: Cloud) -> None:
    raw = _raw_exchange(cloud.url, b"POST /leaseWorkspaceJob HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    status, body = _status_and_json(raw)
    assert status == 400 and "Content-Length" in body["error"]


def test_garbage_request_line_is_json_400(cloud: Cloud) -> None:
    status, body = _status_and_json(_raw_exchange(cloud.url, b"HELLO THERE WORLD\r\n\r\n"))
    assert status == 400 and "error" in body


def test_truncated_body_does_not_hang_the_server(cloud: Cloud, key: str) -> None:
    with socket.create_connection(_address(cloud.url), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(b"POST /leaseWorkspaceJob HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400")
    assert cloud.lease(key) == {"leased": False}
