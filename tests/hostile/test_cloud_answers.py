"""Property tests (issue 9, deliver 9): whatever a cloud answers, the clients raise only typed errors.

Arbitrary bytes, arbitrary JSON and protocol-shaped JSON with arbitrary field values are served
on loopback as the answer to every job and instance route, with any status. Each call must end
in a clean result or a ``CloudError`` subclass (the context, in ``ContextError`` once parsed)
and no error text may hold 6 or more consecutive characters of a registered secret, wherever
the answer put it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.cloud import CloudError, InstanceClient, JobClient
from shared.http.redact import register_secret
from shared.http.retry import RetryPolicy
from tests.cloud.standin import StandIn, answer
from workers.context import ContextError, parse_context

RUNNER_KEY = "cred-hostile.Zq8vK3pW9xL2mN7rT4yB"
ID_TOKEN = "eyJhbGciOi.hostile-id-token.Gx5Hc2Jv8Qw"
OPENAI_KEY = "sk-proj-Hostile0123456789abcdefXYZ"   # registered as a worker registers model.api_key
SECRETS = (RUNNER_KEY, ID_TOKEN, OPENAI_KEY)
STATUSES = st.sampled_from([200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 504]) | st.integers(
    200, 599)
EXAMPLES = 120   # per test: each example is one loopback HTTP call per route


def _leaky_text() -> st.SearchStrategy[str]:
    """Text that may carry a secret anywhere: alone, padded, or around whitespace runs."""
    pad = st.text(max_size=400)
    return st.one_of(pad, st.builds(lambda a, s, b: a + s + b, pad, st.sampled_from(SECRETS), pad))


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10 ** 500, 10 ** 500),
                         st.floats(allow_nan=True, allow_infinity=True), _leaky_text())
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
FIELDS = ["leased", "workspaceId", "leaseExpiresAt", "workspace", "ok", "error", "detail", "title", "legacyIdea",
          "messageCount", "priorMessages", "recentMessages", "recentText", "priorTextVerbatim", "priorTokenEstimate",
          "priorNeedsSummarization", "storedSummaryCoversPrior", "storedPriorSummary", "instanceId", "credentialId",
          "runnerToken", "kind", "name"]
SHAPED = st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8)
GOOD_LEASE = {"leased": True, "workspaceId": "ws-1", "leaseExpiresAt": 1_700_000_000_000}


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value).encode()
    except ValueError:   # an integer too long for str(): send it as text all the same
        return repr(value).encode(errors="replace")


BODIES = st.one_of(st.binary(max_size=300), JSON_VALUES.map(_encode), SHAPED.map(_encode),
                   SHAPED.map(lambda extra: _encode({**GOOD_LEASE, **extra})),
                   _leaky_text().map(lambda text: text.encode("utf-8", errors="surrogatepass")))


@pytest.fixture(scope="module")
def server() -> Iterator[StandIn]:
    for secret in SECRETS:
        register_secret(secret)
    with StandIn() as standin:
        yield standin


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        for start in range(len(secret) - 5):
            assert secret[start:start + 6] not in text, f"{secret[start:start + 6]!r} of a secret in {text!r}"


def _call(server: StandIn, status: int, body: bytes, call: Callable[[], Any]) -> Any:
    """Serve (status, body) to ``call``; return its result or its CloudError; nothing else may escape."""
    server.script(answer(status, body))
    try:
        return call()
    except CloudError as exc:
        _no_secret_in(str(exc))
        _no_secret_in(repr(exc))
        return exc


def _job_client(server: StandIn) -> JobClient:
    return JobClient(base_url=server.url, token=RUNNER_KEY, connect_timeout=5, read_timeout=5, call_timeout=10,
                     max_answer_bytes=4096, retry=RetryPolicy(max_attempts=1))


JOB_CALLS: dict[str, Callable[[JobClient], Any]] = {
    "lease": lambda client: client.lease(),
    "heartbeat": lambda client: client.heartbeat("ws-1"),
    "summary": lambda client: client.update_summary(workspace_id="ws-1", summary_text="S", from_message_id="m1",
                                                    through_message_id="m2"),
    "complete": lambda client: client.complete({"workspaceId": "ws-1", "assistantMessage": "done"}),
    "fail": lambda client: client.fail("ws-1", "boom"),
}


@pytest.mark.parametrize("route", sorted(JOB_CALLS))
@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(status=STATUSES, body=BODIES)
def test_any_answer_to_a_job_route_is_a_result_or_a_typed_error(
        server: StandIn, route: str, status: int, body: bytes) -> None:
    with _job_client(server) as client:
        _call(server, status, body, lambda: JOB_CALLS[route](client))


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(status=STATUSES, body=BODIES)
def test_any_context_answer_is_a_context_or_a_typed_error(server: StandIn, status: int, body: bytes) -> None:
    with _job_client(server) as client:
        data = _call(server, status, body, lambda: client.get_context("ws-1"))
    if isinstance(data, dict):
        try:
            parse_context(data, workspace_id="ws-1")
        except ContextError as exc:
            _no_secret_in(str(exc))


INSTANCE_CALLS: dict[str, Callable[[InstanceClient], Any]] = {
    "create": lambda client: client.create(kind="user", name="n"),
    "rename": lambda client: client.rename(instance_id="i-1", name="n"),
    "revoke": lambda client: client.revoke(instance_id="i-1"),
}


@pytest.mark.parametrize("route", sorted(INSTANCE_CALLS))
@settings(max_examples=EXAMPLES // 2,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(status=STATUSES, body=BODIES)
def test_any_answer_to_an_instance_route_is_a_result_or_a_typed_error(
        server: StandIn, route: str, status: int, body: bytes) -> None:
    with InstanceClient(base_url=server.url, id_token=ID_TOKEN, connect_timeout=5, read_timeout=5, call_timeout=10,
                        max_answer_bytes=4096, retry=RetryPolicy(max_attempts=1)) as client:
        _call(server, status, body, lambda: INSTANCE_CALLS[route](client))
