"""One ``BoundedSession`` shared by a worker's job lanes: many exchanges at once on loopback.

A worker with ``pool.jobs_per_worker`` jobs sends up to two requests per job at once (a job's
call and its heartbeat) through one session. Every one of them must go through, and their
connections must go back to the pool for reuse instead of being discarded (urllib3's default
of 10 connections per host did that, logging a warning per connection).
"""
from __future__ import annotations

import logging
import threading

import pytest

from shared.http.bounded import BoundedSession, ExchangeLimits
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, Reply

AT_ONCE = 16   # exchanges in flight together: 8 jobs, each with a heartbeat
LIMITS = ExchangeLimits(connect_timeout=5, read_timeout=20, deadline=30, max_bytes=10_000)


def test_sixteen_exchanges_at_once_all_answer_and_keep_their_connections(caplog: pytest.LogCaptureFixture) -> None:
    all_in = threading.Barrier(AT_ONCE)

    def answer(request: RecordedRequest) -> Reply:
        all_in.wait(timeout=20)   # the server answers only once every exchange is in flight
        return Reply(body={"n": request.json["n"]})

    session = BoundedSession()
    answers: dict[int, bytes] = {}

    def call(n: int) -> None:
        answers[n] = session.request("POST", f"{server.base_url}/responses", data=b'{"n": %d}' % n,
                                     headers={"Content-Type": "application/json"}, limits=LIMITS).content

    with FakeOpenAIServer() as server, caplog.at_level(logging.WARNING, logger="urllib3"):
        server.set_fallback("responses", answer)
        threads = [threading.Thread(target=call, args=(n,)) for n in range(AT_ONCE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        session.close()

    assert answers == {n: b'{"n": %d}' % n for n in range(AT_ONCE)}
    assert [record.getMessage() for record in caplog.records if "pool is full" in record.getMessage()] == []
