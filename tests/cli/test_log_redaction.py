"""The supervisor's handlers mask secrets in messages and in tracebacks, text and JSON alike."""
from __future__ import annotations

import io
import logging

import pytest

from shared.config.sections import LoggingConfig
from shared.http.redact import register_secret
from supervisor.logs import emit_worker_record, setup_logging

SECRET = "cred-77.tracebacks-must-not-show-this"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_are_masked_in_messages_and_tracebacks(log_format: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging(LoggingConfig(level="info", format=log_format))
    register_secret(SECRET)
    try:
        try:
            raise RuntimeError(f"the cloud rejected {SECRET}")
        except RuntimeError:
            logging.getLogger("xenon.test").exception("call failed with key %s", SECRET)
        emit_worker_record({"name": "xenon.worker", "levelno": logging.WARNING, "levelname": "WARNING",
                            "msg": f"worker saw {SECRET}", "slot": 3, "workspace_id": "ws-1"})
    finally:
        logging.getLogger().handlers.clear()
    output = stream.getvalue()
    assert "RuntimeError" in output and "worker saw" in output
    assert SECRET not in output and "tracebacks-must-not-show-this" not in output
    assert "w3" in output and "ws-1" in output
