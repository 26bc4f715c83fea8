"""BoundedSession against hostile loopback servers: trickled headers and bodies end at the
deadline, oversized answers are refused, and a normal answer is untouched.

The bounds asserted are loose on purpose (a deadline of 0.5 s must end the call within a few
seconds, where the trickle alone would take minutes): they prove the call is cut, not how fast.
"""
from __future__ import annotations

import gzip
import threading
import time
from typing import Any

import pytest
import requests

from shared.http.bounded import Answer, AnswerTooLarge, BoundedSession, DeadlineExceeded, ExchangeLimits
from tests.fakes.trickle import TrickleServer, http_answer

LIMITS = ExchangeLimits(connect_timeout=2.0, read_timeout=5.0, deadline=0.5, max_bytes=1000)
SLOW_ANSWER = http_answer(b'{"leased": false}' + b" " * 200)  # ~300 bytes: 30 s at 10 bytes/s


def _post(url: str, limits: ExchangeLimits = LIMITS,
          session: BoundedSession | None = None) -> tuple[Answer | requests.RequestException, float]:
    """The answer of one POST, or the exception it raised; and the seconds it took."""
    started = time.monotonic()
    result: Answer | requests.RequestException
    try:
        result = (session or BoundedSession()).request("POST", url + "/x", data=b"{}", headers={}, limits=limits)
    except requests.RequestException as exc:
        result = exc
    return result, time.monotonic() - started


def test_a_normal_answer_is_read_whole() -> None:
    with TrickleServer(http_answer(b'{"ok": true}')) as server:
        answer, _ = _post(server.url)
    assert not isinstance(answer, Exception), answer
    assert answer.status == 200 and answer.content == b'{"ok": true}'


@pytest.mark.parametrize("where", ["status line", "headers", "body"])
def test_a_trickle_anywhere_ends_at_the_deadline(where: str) -> None:
    # Each byte arrives well within the 5 s read timeout, so only the deadline can end the call.
    head_size = SLOW_ANSWER.index(b"\r\n\r\n") + 4
    fast_part = {"status line": 0, "headers": 20, "body": head_size}[where]
    with TrickleServer(SLOW_ANSWER, byte_delay=0.1, fast_prefix=fast_part) as slow:
        answer, seconds = _post(slow.url)
    assert isinstance(answer, DeadlineExceeded), answer
    assert isinstance(answer, requests.Timeout)  # callers that retry timeouts retry this too
    assert seconds < 5.0, f"the call took {seconds:.1f} s; the trickle would take ~30 s"


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with TrickleServer(http_answer(b"{}", content_length=10**12)) as server:
        answer, _ = _post(server.url)
    assert isinstance(answer, AnswerTooLarge), answer


def test_an_undeclared_body_over_the_cap_is_refused_as_it_passes_it() -> None:
    body = b"[" + b"1," * 5000 + b"1]"
    raw = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body)
    with TrickleServer(raw) as server:
        answer, _ = _post(server.url)
    assert isinstance(answer, AnswerTooLarge), answer


def test_the_cap_counts_decoded_bytes_so_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b" " * 100_000)  # ~100 bytes on the wire, 100 kB decoded
    with TrickleServer(http_answer(bomb, headers=["Content-Encoding: gzip"])) as server:
        answer, _ = _post(server.url)
    assert len(bomb) < LIMITS.max_bytes
    assert isinstance(answer, AnswerTooLarge), answer


def test_a_session_serves_again_after_a_cut_exchange() -> None:
    session = BoundedSession()
    with TrickleServer(SLOW_ANSWER, byte_delay=0.1) as slow:
        first, _ = _post(slow.url, session=session)
    with TrickleServer(http_answer(b'{"ok": true}')) as fast:
        second, _ = _post(fast.url, session=session)
    assert isinstance(first, DeadlineExceeded)
    assert not isinstance(second, Exception) and second.content == b'{"ok": true}'


def test_exchanges_on_many_threads_share_one_timer_thread() -> None:
    results: list[object] = []
    with TrickleServer(SLOW_ANSWER, byte_delay=0.1) as slow:
        threads = [threading.Thread(target=lambda: results.append(_post(slow.url)[0])) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len(results) == 8 and all(isinstance(result, DeadlineExceeded) for result in results), results
    assert [t.name for t in threading.enumerate()].count("http-deadlines") == 1


def test_a_stream_left_early_closes_its_connection() -> None:
    session = BoundedSession()
    with TrickleServer(SLOW_ANSWER, byte_delay=0.01, chunk=10) as slow:
        with session.stream("POST", slow.url + "/x", data=b"{}", headers={},
                                 limits=ExchangeLimits(connect_timeout=2, read_timeout=5, deadline=30,
                                                       max_bytes=10_000)) as streamed:
            first = next(streamed.iter_chunks())
        started = time.monotonic()
        answer, _ = _post(slow.url, session=session,
                          limits=ExchangeLimits(connect_timeout=2, read_timeout=5, deadline=30, max_bytes=10_000))
    assert first and time.monotonic() - started < 20
    assert slow.served == 2  # the abandoned stream's connection was not reused


@pytest.mark.parametrize("field", ["connect_timeout", "read_timeout", "deadline"])
def test_limits_refuse_non_positive_times(field: str) -> None:
    values: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 1.0, "deadline": 1.0, "max_bytes": 1, field: 0}
    with pytest.raises(ValueError, match=field):
        ExchangeLimits(**values)
