"""Defect 6 (logs): untrusted text cannot forge a log record, drive the terminal or make a 1 MB line.

A workspaceId or a model citation arrives from the cloud or the model; a worker logs it, the
supervisor writes it. Before the fix the text formatter wrote it raw: a ``\\n2026-12-01 … ERROR``
inside became a second, forged record and ANSI escapes reached the terminal.
"""
from __future__ import annotations

import json
import logging
import sys

from shared.http.escape import UNSAFE
from shared.http.redact import register_secret
from shared.pipe.messages import FIELD_LIMIT, MESSAGE_LIMIT, LogRecordMessage, WorkerMessage
from supervisor.logs import TRACE_PREFIX
from tests.hostile.logs_support import ANSI, FORGED, RECORD_START, Captured
from workers.logs import JobTag, PipeLogHandler


def records(capture: Captured) -> list[str]:
    """The output's lines; for JSON each must parse as one object."""
    lines = capture.take().splitlines()
    if capture.format == "json":
        for line in lines:
            assert isinstance(json.loads(line), dict), line
    return lines


def test_a_forged_line_in_a_workspace_id_or_message_stays_in_its_record(captured: Captured) -> None:
    captured.worker_record(msg=f"citation: see [1]{FORGED}{ANSI}", workspace_id=f"ws-1{FORGED}{ANSI}")
    captured.worker_record(name=f"xenon.worker{FORGED}", msg="ok")
    lines = records(captured)
    assert len(lines) == 2, lines
    for line in lines:
        assert not UNSAFE.search(line), repr(line)
    if captured.format == "text":
        assert all(RECORD_START.match(line) for line in lines)
        assert "ws-1\\n2026-12-01 00:00:00,000 ERROR" in lines[0] and "\\x1b[2J" in lines[0]
    else:
        entry = json.loads(lines[0])
        assert entry["workspace_id"] == f"ws-1{FORGED}{ANSI}" and entry["message"].endswith(ANSI)


def test_unicode_line_separators_and_bidi_overrides_are_escaped(captured: Captured) -> None:
    captured.worker_record(msg="a\u2028b\u2029c\x85d\u202eevil\u2066e\x7f", workspace_id="ws\u2028x")
    lines = records(captured)
    assert len(lines) == 1 and not UNSAFE.search(lines[0]), repr(lines)
    assert "\\u2028" in lines[0] and "\\u202e" in lines[0]


def test_huge_ids_and_messages_are_capped_with_a_marker(captured: Captured) -> None:
    captured.worker_record(msg="Q" * 1_000_000, workspace_id="Z" * 1_000_000)
    line, = records(captured)
    assert len(line) < MESSAGE_LIMIT + FIELD_LIMIT + 200
    assert 0 < line.count("Z") < FIELD_LIMIT and 0 < line.count("Q") < MESSAGE_LIMIT
    assert f"…[+{1_000_000 - line.count('Q')} chars]" in line and f"…[+{1_000_000 - line.count('Z')} chars]" in line


def test_a_worker_traceback_stays_on_prefixed_continuation_lines(captured: Captured) -> None:
    sent: list[WorkerMessage] = []
    handler = PipeLogHandler(slot=2, send=sent.append)
    JobTag.workspace_id = "ws-7"
    try:
        raise ValueError(f"model said{FORGED}")
    except ValueError:
        record = logging.LogRecord("xenon.worker.job", logging.ERROR, __file__, 1, "job failed", None, sys.exc_info())
        handler.emit(record)
    finally:
        JobTag.workspace_id = "-"
    message, = sent
    assert isinstance(message, LogRecordMessage)
    captured.worker_record(**message.record)
    lines = records(captured)
    if captured.format == "text":
        assert RECORD_START.match(lines[0]) and lines[0].endswith("job failed")
        assert len(lines) > 3 and all(line.startswith(TRACE_PREFIX) for line in lines[1:]), lines
        assert lines[-1] == f"{TRACE_PREFIX}2026-12-01 00:00:00,000 ERROR   sup  - xenon.supervisor: pool stopped " \
                            "by operator"
    else:
        entry = json.loads(lines[0])
        assert len(lines) == 1 and entry["message"] == "job failed" and "ValueError: model said" in entry["exception"]


def test_a_url_password_is_masked_in_every_log_line(captured: Captured) -> None:
    logging.getLogger("xenon.supervisor").info("cloud https://runner:pa55word-in-url@cloud.example/api")
    captured.worker_record(msg="later the bare password: pa55word-in-url")
    output = captured.take()
    assert "pa55word" not in output
    assert "https://runner:***@cloud.example/api" in output


def test_secrets_in_tags_are_masked(captured: Captured) -> None:
    register_secret("cred-1.tag-secret-value-1234")
    captured.worker_record(msg="x", workspace_id="ws tag-secret-value-1234", name="xenon.tag-secret-value-1234")
    assert "tag-secret" not in captured.take()


def test_a_long_dotted_logger_name_does_not_create_a_logger_per_prefix(captured: Captured) -> None:
    before = len(logging.Logger.manager.loggerDict)
    captured.worker_record(name=f"{captured.format}." + "x." * 50_000, msg="hello")   # uncapped: 50,000 loggers
    assert len(logging.Logger.manager.loggerDict) - before <= FIELD_LIMIT
    assert "hello" in captured.take()
