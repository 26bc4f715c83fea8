"""Defect 4 of issue 9: a secret cut at the truncation boundary escaped redaction.

A model server's error text was cut to 300 characters before redaction, so a key straddling
the cut left ``sk-SECRETK…`` in the log and in the job's fail reason. Every cut of untrusted
text now comes after redaction; these tests put a registered secret across each boundary.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cloud import JobClient, TransientCloudError
from shared.cloud.errors import MAX_QUOTED_CHARS
from shared.http.redact import register_secret
from shared.http.retry import RetryPolicy
from tests.cloud.standin import StandIn, answer
from workers.models.server_errors import MAX_REASON_CHARS, parse_server_error

OPENAI_KEY = "sk-SECRETKEY-0123456789abcdefghij"
RUNNER_KEY = "cred-redact.Secret0123456789Runner"


@pytest.fixture(autouse=True)
def registered() -> None:
    register_secret(OPENAI_KEY)
    register_secret(RUNNER_KEY)


def _pieces(secret: str) -> list[str]:
    return [secret[start:start + 6] for start in range(len(secret) - 5)]


def _leaks(text: str) -> list[str]:
    return [piece for secret in (OPENAI_KEY, RUNNER_KEY) for piece in _pieces(secret) if piece in text]


@pytest.mark.parametrize("shape", ["openai", "text"])
@pytest.mark.parametrize("offset", [-20, -10, -6, -3, 0])
def test_a_model_server_error_never_shows_part_of_a_key_cut_at_the_boundary(shape: str, offset: int) -> None:
    prefix = "Incorrect API key provided: "
    message = prefix + "x" * (MAX_REASON_CHARS + offset - len(prefix) - len("401 invalid_api_key: ")) + OPENAI_KEY
    raw = (json.dumps({"error": {"message": message, "code": "invalid_api_key"}}) if shape == "openai"
           else message).encode()
    error = parse_server_error(401, raw)
    assert _leaks(error.summary()) == [], error.summary()
    assert _leaks(error.message) == [] or shape == "openai"   # the JSON message is kept whole (and redacted later)


@settings(max_examples=150)
@given(before=st.text(max_size=700), after=st.text(max_size=50))
def test_any_model_error_text_around_a_key_never_leaks_a_piece_of_it(before: str, after: str) -> None:
    for raw in (f"{before}{OPENAI_KEY}{after}", json.dumps({"error": f"{before}{OPENAI_KEY}{after}"})):
        summary = parse_server_error(500, raw.encode("utf-8", errors="surrogatepass")).summary()
        assert _leaks(summary) == [], summary


@pytest.mark.parametrize("offset", [-20, -6, -3, 0])
def test_a_cloud_error_quoting_the_key_at_its_cut_never_leaks_a_piece(offset: int) -> None:
    text = "y" * (MAX_QUOTED_CHARS + offset) + RUNNER_KEY
    with StandIn(answer(503, {"error": text}), answer(200, b"\n" * 5000 + RUNNER_KEY.encode())) as server:
        client = JobClient(base_url=server.url, token=RUNNER_KEY, connect_timeout=2, read_timeout=5,
                           retry=RetryPolicy(max_attempts=1))
        with pytest.raises(TransientCloudError) as transient:
            client.heartbeat("ws-1")
        with pytest.raises(Exception) as malformed:   # a body that is not JSON is quoted, cut to 120
            client.heartbeat("ws-1")
    assert _leaks(str(transient.value)) == [], str(transient.value)
    assert _leaks(str(malformed.value)) == [], str(malformed.value)
