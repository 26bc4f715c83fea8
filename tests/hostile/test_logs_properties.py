"""Property tests: arbitrary text through redaction and the text/JSON log formatters.

For any text (control characters, lone surrogates, Unicode separators, up to megabytes) with
a registered secret or a URL password anywhere in it: no 6+ character piece of the secret in
the output, one line per record (tracebacks only on ``TRACE_PREFIX`` lines), output always
encodable as UTF-8, every value within its cap. ``redact_and_cut`` also masks a secret that
an earlier careless cut left at the very end of a text.

Checks on megabyte outputs avoid pytest's assertion diffs (quadratic in the text's size).
"""
from __future__ import annotations

import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http.escape import UNSAFE, shown
from shared.http.redact import MIN_PARTIAL, redact_and_cut, register_secret
from shared.pipe.messages import FIELD_LIMIT, MESSAGE_LIMIT, TRACE_LIMIT
from supervisor.logs import TRACE_PREFIX
from tests.hostile.logs_support import RECORD_START, capture_logs

SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
SECRETS = ("QX7RZ9KVMW3TPJ8LHN", "HVNXQ2W8ZK4RTM9PCE")     # registered like an API key
URL_PASSWORDS = ("PW7K2MXQ9Z", "ZT4NW8RQ")                 # learnt only from a URL in the text
for _secret in SECRETS:
    register_secret(_secret)

# Anything but the secrets' characters (so every secret piece in the output must come from a
# secret), surrogates and every control character included.
FILLER = st.text(st.characters(blacklist_characters=SECRET_ALPHABET, blacklist_categories=()), max_size=40)
SCALE = st.sampled_from([1, 1, 1, 50, 30_000])   # repeat the filler: up to ~1 MB values


@st.composite
def hostile_texts(draw: st.DrawFn, *, cut_short_tail: bool = False) -> str:
    """Filler around a registered secret or a URL with a password (optionally a secret cut short at the end)."""
    before, after = draw(FILLER) * draw(SCALE), draw(FILLER)
    secret = draw(st.sampled_from(SECRETS))
    middle = draw(st.sampled_from([
        secret,
        f"https://runner:{draw(st.sampled_from(URL_PASSWORDS))}@cloud.example/v1",
        "",
    ]))
    tail = secret[:draw(st.integers(MIN_PARTIAL, len(secret) - 1))] if cut_short_tail and draw(st.booleans()) else ""
    return before + middle + after + tail


def pieces(secret: str) -> list[str]:
    return [secret[start:start + MIN_PARTIAL] for start in range(len(secret) - MIN_PARTIAL + 1)]


def assert_no_secret(output: str) -> None:
    leaked = [piece for secret in (*SECRETS, *URL_PASSWORDS) for piece in pieces(secret) if piece in output]
    assert not leaked, f"secret pieces leaked: {leaked}"


@settings(max_examples=120)
@given(text=hostile_texts(cut_short_tail=True), limit=st.integers(0, 600))
def test_redact_and_cut_never_leaks_a_secret_piece_and_respects_the_limit(text: str, limit: int) -> None:
    out = redact_and_cut(text, limit)
    assert_no_secret(out)
    assert len(out) <= max(limit, 24)


@settings(max_examples=120)
@given(text=hostile_texts(), limit=st.integers(0, 600))
def test_shown_is_one_safe_line_within_its_limit(text: str, limit: int) -> None:
    out = shown(text, limit)
    assert len(out) <= max(limit, 24)
    assert UNSAFE.search(out) is None and len(out.splitlines()) <= 1
    out.encode("utf-8")


@settings(max_examples=40)
@given(message=hostile_texts(), workspace_id=hostile_texts(), name=hostile_texts(), trace=hostile_texts(),
       log_format=st.sampled_from(["text", "json"]))
def test_every_record_is_one_safe_line_whatever_its_fields(message: str, workspace_id: str, name: str, trace: str,
                                                            log_format: str) -> None:
    with capture_logs(log_format) as capture:
        capture.worker_record(msg=message, workspace_id=workspace_id, name=name)
        capture.worker_record(msg=message, exc_text=trace)
        output = capture.take()
    assert_no_secret(output)
    output.encode("utf-8")
    lines = output.split("\n")[:-1]
    if log_format == "json":
        assert len(lines) == 2 and len(output.splitlines()) == 2
        first, second = (json.loads(line) for line in lines)
        assert len(first["message"]) <= MESSAGE_LIMIT and len(first["workspace_id"]) <= FIELD_LIMIT
        assert len(first["logger"]) <= FIELD_LIMIT and len(second["exception"]) <= TRACE_LIMIT
    else:
        assert len(output.splitlines()) == len(lines), "no other line breaks than the records' own"
        starts = [index for index, line in enumerate(lines) if not line.startswith(TRACE_PREFIX)]
        assert starts == [0, 1], "two records, and every other line is a traceback continuation"
        assert all(RECORD_START.match(lines[index]) for index in starts)
        assert UNSAFE.search("".join(lines)) is None
        assert len(lines[0]) <= MESSAGE_LIMIT + 2 * FIELD_LIMIT + 60
        assert len("".join(lines[2:])) <= TRACE_LIMIT * len("\\udc80")


@settings(max_examples=30)
@given(message=hostile_texts())
def test_supervisor_records_with_arguments_are_one_line(message: str) -> None:
    with capture_logs("text") as capture:
        logging.getLogger("xenon.supervisor").warning("job %s: %s", message, message)
        output = capture.take()
    assert_no_secret(output)
    assert len(output.splitlines()) == 1 and RECORD_START.match(output) is not None
