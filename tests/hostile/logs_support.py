"""Shared by the hostile log tests: run records through the supervisor's real handlers, capture the output."""
from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from shared.config.sections import LoggingConfig
from supervisor.logs import emit_worker_record, setup_logging

FORGED = "\n2026-12-01 00:00:00,000 ERROR   sup  - xenon.supervisor: pool stopped by operator"
ANSI = "\x1b[2J\x1b[31m"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")   # how every text record begins


class Captured:
    """The supervisor's handlers writing to a string, as `run` sets them up."""

    def __init__(self, log_format: str) -> None:
        self.format = log_format
        self.stream = io.StringIO()
        with contextlib.redirect_stderr(self.stream):   # the stream handler binds sys.stderr when made
            setup_logging(LoggingConfig(level="debug", format=log_format))

    def worker_record(self, **fields: Any) -> None:
        """A record as a worker's ``PipeLogHandler`` sends it."""
        base: Mapping[str, Any] = {"name": "xenon.worker.job", "levelno": logging.WARNING, "levelname": "WARNING",
                                   "msg": "", "slot": 1, "workspace_id": "-"}
        emit_worker_record({**base, **fields})

    def take(self) -> str:
        output = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return output


@contextlib.contextmanager
def capture_logs(log_format: str) -> Iterator[Captured]:
    """The supervisor's logging set up for ``log_format``, writing to a ``Captured``; removed after."""
    try:
        yield Captured(log_format)
    finally:
        logging.getLogger().handlers.clear()


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[Captured]:
    with capture_logs(request.param) as capture:
        yield capture
