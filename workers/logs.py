"""Worker-side logging: every record goes up the pipe to the supervisor's handlers.

Records are tagged with the worker slot and the workspaceId of the job the logging thread
works on, formatted (``msg % args``) and redacted here, so what crosses the pipe is plain picklable text with
no secret in it. The supervisor re-emits them through its own handlers (text or JSON).
This works with every start method, unlike multiprocessing-logging (fork only).

A traceback travels in its own field (``exc_text``), so the supervisor can show it on
continuation lines; message and traceback are capped here already (redacted first), so a
1 MB model message costs the pipe at most ``MESSAGE_LIMIT`` characters.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

from shared.http.redact import redact_and_cut
from shared.pipe.messages import FIELD_LIMIT, MESSAGE_LIMIT, ONCE_PER_POOL, TRACE_LIMIT, LogRecordMessage, WorkerMessage


class _JobTag(threading.local):
    """Which job the calling thread works on: a worker runs several jobs at once (one per job lane,
    ``pool.jobs_per_worker``), so the tag is per thread. A job's lane thread and its lease keeper's
    thread set it; every other thread logs with ``-``."""

    workspace_id: str = "-"
    attempt: int = 0


JobTag = _JobTag()


class PipeLogHandler(logging.Handler):
    """Sends each record to the supervisor as a ``LogRecordMessage``."""

    def __init__(self, *, slot: int, send: Callable[[WorkerMessage], None]) -> None:
        super().__init__()
        self._slot = slot
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            trace = "".join(traceback.format_exception(*record.exc_info)).rstrip() if record.exc_info else None
            fields = {
                "name": record.name, "levelno": record.levelno, "levelname": record.levelname,
                "msg": redact_and_cut(record.getMessage(), MESSAGE_LIMIT),
                "exc_text": redact_and_cut(trace, TRACE_LIMIT) if trace else None,
                "created": record.created, "msecs": record.msecs,
                "process": record.process, "threadName": record.threadName,
                "slot": self._slot, "workspace_id": redact_and_cut(JobTag.workspace_id, FIELD_LIMIT),
                ONCE_PER_POOL: getattr(record, ONCE_PER_POOL, None),
            }
            self._send(LogRecordMessage(fields))
        except Exception:  # logging must never take the worker down
            self.handleError(record)


def install_pipe_logging(*, slot: int, level: str, send: Callable[[WorkerMessage], None]) -> None:
    """Route this process's logging to the supervisor (replacing inherited handlers)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(PipeLogHandler(slot=slot, send=send))
    root.setLevel(level.upper())
    # urllib3 logs full URLs at debug; they carry no secrets, but they are noise.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
