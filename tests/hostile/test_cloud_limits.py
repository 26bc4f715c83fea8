"""Every cloud call is bounded (issue 9, defect 2 and "answers have no size cap").

A trickling answer ends at ``cloud.call_timeout`` as a transient timeout that is retried per the
policy (the lease is tried once: the gate paces it); an answer over ``cloud.max_answer_bytes``
is refused as it passes the cap, also transient; a request body with lone surrogates is sent.
Bounds asserted are loose on purpose: they prove a call is cut, not how fast.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.cloud import JobClient, TransientCloudError
from shared.cloud.transport import DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_ANSWER_BYTES
from shared.http.retry import RetryPolicy
from supervisor.config.loader import load_config
from tests.cloud.conftest import RUNNER_KEY
from tests.cloud.standin import StandIn, answer
from tests.fakes.trickle import TrickleServer, http_answer

SLOW_LEASE = http_answer(b'{"leased": false}' + b" " * 600)   # one byte per 0.1 s: over a minute
HEARTBEAT_OK = http_answer(b'{"ok": true, "leaseExpiresAt": 1700000600000}')


def _client(url: str, sleeps: list[float], reports: list[tuple[str, str, float]], *,
            call_timeout: float = DEFAULT_CALL_TIMEOUT, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> JobClient:
    return JobClient(base_url=url, token=RUNNER_KEY, connect_timeout=2, read_timeout=5, retry=RetryPolicy(),
                     on_request=lambda *report: reports.append(report), sleep=sleeps.append,
                     call_timeout=call_timeout, max_answer_bytes=max_answer_bytes)


def test_a_trickling_lease_answer_ends_at_call_timeout_as_a_transient_timeout_tried_once() -> None:
    sleeps: list[float] = []
    reports: list[tuple[str, str, float]] = []
    with TrickleServer(SLOW_LEASE, byte_delay=0.1) as slow:
        started = time.monotonic()
        with pytest.raises(TransientCloudError, match="POST /leaseWorkspaceJob: timeout error") as caught:
            _client(slow.url, sleeps, reports, call_timeout=0.5).lease()
        took = time.monotonic() - started
    # Before: read_timeout (5 s) never tripped and the call lasted as long as the trickle (~70 s).
    assert took < 5.0, f"the lease call took {took:.1f}s"
    assert caught.value.attempts == 1 and sleeps == [] and slow.served == 1
    assert [(route, code) for route, code, _ in reports] == [("/leaseWorkspaceJob", "timeout")]


def test_a_trickling_heartbeat_answer_is_retried_then_succeeds() -> None:
    sleeps: list[float] = []
    reports: list[tuple[str, str, float]] = []
    with TrickleServer(SLOW_LEASE, byte_delay=0.1) as slow, TrickleServer(HEARTBEAT_OK) as fast:
        # The same client, two servers: the first try trickles, the retry goes to a normal server.
        client = _client(slow.url, sleeps, reports, call_timeout=0.5)
        with pytest.raises(TransientCloudError, match=r"timeout error.*\(after 4 tries\)"):
            client.heartbeat("ws-1")
        assert len(sleeps) == 3 and slow.served == 4
        assert _client(fast.url, sleeps, reports, call_timeout=0.5).heartbeat("ws-1") == 1_700_000_600_000


@pytest.mark.parametrize("declared", [True, False])
def test_an_answer_over_max_answer_bytes_is_a_transient_error_not_a_100_mb_read(declared: bool) -> None:
    sleeps: list[float] = []
    reports: list[tuple[str, str, float]] = []
    body = b'{"leased": false, "pad": "' + b"x" * 200_000 + b'"}'
    raw = http_answer(body) if declared else (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    with TrickleServer(raw) as server:
        with pytest.raises(TransientCloudError, match="too_large|exceeds 65536 bytes"):
            _client(server.url, sleeps, reports, max_answer_bytes=65536).lease()
    assert [code for _, code, _ in reports] == ["too_large"]


def test_a_request_body_with_lone_surrogates_is_sent_with_replacement_characters() -> None:
    with StandIn(answer(200, {"ok": True})) as server:
        client = JobClient(base_url=server.url, token=RUNNER_KEY, connect_timeout=2, read_timeout=5,
                           retry=RetryPolicy())
        client.fail("ws-1", "model said \ud83d then stopped")   # before: UnicodeEncodeError traceback
    assert server.requests[0].body == {"workspaceId": "ws-1", "error": "model said \ufffd then stopped"}


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("model: {name: builtin}\ncloud: {token: a.b}\n", (60.0, 8 * 2 ** 20)),
    ("model: {name: builtin}\ncloud: {token: a.b, call_timeout: 5, max_answer_bytes: 512KiB}\n", (5.0, 512 * 1024)),
])
def test_call_timeout_and_max_answer_bytes_are_configurable(
        tmp_path: Path, yaml_text: str, expected: tuple[float, int]) -> None:
    path = tmp_path / "runner.yaml"
    path.write_text(yaml_text)
    cloud = load_config(str(path), env={}).cloud
    assert (cloud.call_timeout, cloud.max_answer_bytes) == expected


@pytest.mark.parametrize("bad", ["call_timeout: 0", "max_answer_bytes: 0", "call_timeout: fast"])
def test_unusable_limits_are_refused_naming_the_key(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "runner.yaml"
    path.write_text(f"model: {{name: builtin}}\ncloud:\n  token: a.b\n  {bad}\n")
    with pytest.raises(Exception, match=f"cloud.{bad.split(':')[0]}"):
        load_config(str(path), env={})

