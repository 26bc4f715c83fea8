"""The supervisor's log output: its own records and every worker's, in one stream.

Workers send formatted, redacted records over their pipes (``workers.logs``); the
supervisor re-emits them here with the worker's slot and workspaceId, as human text or as
one JSON object per line, to stderr and optionally a file. Every record passes the
redaction filter once more on the way out, so a secret cannot reach the output even if a
code path forgot to redact it.

Untrusted text (messages, workspace ids, logger names, exception texts) cannot forge a
record or drive the terminal (``shared.http.escape``). Text logs: a record is exactly one
line starting with its timestamp, control characters shown escaped (``\\n``, ``\\x1b``,
``\\u2028``); a traceback follows on continuation lines that all start with
``TRACE_PREFIX`` (``"  | "``), so no line of it can pass for a record. JSON logs: one object
per line, with DEL, C1, Unicode separators, bidi controls and lone surrogates \\u-escaped.
Both cap values with a ``…[+N chars]`` marker: messages at ``MESSAGE_LIMIT``, tags (slot,
workspaceId, logger name) at ``FIELD_LIMIT``, tracebacks at ``TRACE_LIMIT`` characters.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from shared.config.sections import LoggingConfig
from shared.http.escape import cap, escape_controls, escape_json_line, shown
from shared.http.redact import redact
from shared.pipe.messages import FIELD_LIMIT, MESSAGE_LIMIT, TRACE_LIMIT

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(slot)-4s %(workspace_id)s %(name)s: %(message)s"
TRACE_PREFIX = "  | "  # starts every traceback line of a text record; a record starts with a digit
# Record attributes a format string may show; each is redacted, escaped and capped at FIELD_LIMIT.
_TEXT_FIELDS = ("name", "levelname", "slot", "workspace_id", "threadName", "processName", "funcName",
                "module", "filename", "pathname")


class _Tagging(logging.Filter):
    """Supervisor records get slot ``sup``; every record's text is redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "slot"):
            record.slot = "sup"
            record.workspace_id = "-"
        elif isinstance(record.slot, int):
            record.slot = f"w{record.slot}"
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is redacted too.
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        return True


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback and stack, redacted and capped ("" when it has none)."""
    parts = [record.exc_text or (formatter.formatException(record.exc_info) if record.exc_info else ""),
             formatter.formatStack(record.stack_info) if record.stack_info else ""]
    return cap(redact("\n".join(part for part in parts if part)), TRACE_LIMIT)


class TextFormatter(logging.Formatter):
    """Human text: one line per record, then the traceback's lines behind ``TRACE_PREFIX``."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        view = logging.makeLogRecord(record.__dict__)  # a copy: other handlers see the record as it was
        view.message = shown(redact(record.getMessage()), MESSAGE_LIMIT)
        for name in _TEXT_FIELDS:
            if hasattr(view, name):
                setattr(view, name, shown(redact(getattr(view, name)), FIELD_LIMIT))
        view.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(view)
        trace = _trace(self, record)
        if trace:
            line += "".join(f"\n{TRACE_PREFIX}{escape_controls(part)}" for part in trace.split("\n"))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every value redacted and capped."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": cap(redact(record.name), FIELD_LIMIT),
            "slot": cap(redact(getattr(record, "slot", "sup")), FIELD_LIMIT),
            "workspace_id": cap(redact(getattr(record, "workspace_id", "-")), FIELD_LIMIT),
            "message": cap(redact(record.getMessage()), MESSAGE_LIMIT),
        }
        trace = _trace(self, record)
        if trace:
            entry["exception"] = trace
        return escape_json_line(json.dumps(entry, ensure_ascii=False))


def setup_logging(config: LoggingConfig) -> None:
    """Install the supervisor's handlers on the root logger (replacing any earlier ones)."""
    install_log_handlers(build_log_handlers(config), config)


def build_log_handlers(config: LoggingConfig) -> list[logging.Handler]:
    """The handlers ``config`` asks for, not installed yet; OSError if the log file cannot be opened.

    Separate from installing them so that a reload can build first and swap only when every
    step succeeded, leaving the running handlers untouched otherwise.
    """
    formatter: logging.Formatter = JsonFormatter() if config.format == "json" else TextFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.file:
        handlers.append(logging.FileHandler(config.file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_Tagging())
    return handlers


def install_log_handlers(handlers: list[logging.Handler], config: LoggingConfig) -> None:
    """Replace the root logger's handlers by ``handlers`` (closing the old ones) and set the level."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(config.level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def emit_worker_record(fields: Mapping[str, Any]) -> None:
    """Re-emit a record a worker sent, through the supervisor's handlers."""
    record = logging.makeLogRecord(dict(fields))
    # getLogger keeps a logger per dotted prefix of the name: a long dotted name would cost memory quadratic
    # in its length, so the name is capped before it is looked up.
    record.name = cap(str(record.name), FIELD_LIMIT)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)
