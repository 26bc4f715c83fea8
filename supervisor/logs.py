"""The supervisor's log output: its own records and every worker's, in one stream.

Workers send formatted, redacted records over their pipes (``workers.logs``); the
supervisor re-emits them here with the worker's slot and workspaceId, as human text or as
one JSON object per line, to stderr and optionally a file. Every record passes the
redaction filter once more on the way out, so a secret cannot reach the output even if a
code path forgot to redact it.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Mapping

from supervisor.config.sections import LoggingConfig
from workers.http.redact import redact

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(slot)-4s %(workspace_id)s %(name)s: %(message)s"


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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "slot": getattr(record, "slot", "sup"),
            "workspace_id": getattr(record, "workspace_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: LoggingConfig) -> None:
    """Install the supervisor's handlers on the root logger (replacing any earlier ones)."""
    install_log_handlers(build_log_handlers(config), config)


def build_log_handlers(config: LoggingConfig) -> list[logging.Handler]:
    """The handlers ``config`` asks for, not installed yet; OSError if the log file cannot be opened.

    Separate from installing them so that a reload can build first and swap only when every
    step succeeded, leaving the running handlers untouched otherwise.
    """
    formatter: logging.Formatter = JsonFormatter() if config.format == "json" else logging.Formatter(TEXT_FORMAT)
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
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)
