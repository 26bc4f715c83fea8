"""The instance client: create, rename and revoke runner instances with a Studio ID token.

Kept apart from ``JobClient`` so the Studio account token (a Firebase ID token) can only
ever reach the three instance routes, and a runner key never reaches them.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.cloud.errors import MalformedResponse
from shared.cloud.fields import MAX_NAME_CHARS, json_object, optional_str, require_id, require_str
from shared.cloud.transport import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MAX_ANSWER_BYTES,
    JsonTransport,
    RequestObserver,
    TransportClient,
    check_credential,
)
from shared.http.bounded import BoundedSession
from shared.http.redact import register_secret
from shared.http.retry import RetryPolicy

CREATE = "/createRunnerInstance"
RENAME = "/updateRunnerInstance"
REVOKE = "/revokeRunnerInstance"
INSTANCE_ROUTES = frozenset({CREATE, RENAME, REVOKE})
INSTANCE_KINDS = ("user", "global")


@dataclass(frozen=True, kw_only=True)
class CreatedInstance:
    """A new runner instance. ``runner_token`` is its runner key, shown only this once."""

    instance_id: str
    credential_id: str
    runner_token: str
    kind: str
    name: str | None

    def __repr__(self) -> str:
        # The key must not leak through a debug print or a log of this object.
        return (f"CreatedInstance(instance_id={self.instance_id!r}, credential_id={self.credential_id!r}, "
                f"runner_token='***', kind={self.kind!r}, name={self.name!r})")


class InstanceClient(TransportClient):
    """Calls ``createRunnerInstance``, ``updateRunnerInstance`` and ``revokeRunnerInstance``."""

    def __init__(self, *, base_url: str, id_token: str, connect_timeout: float, read_timeout: float,
                 retry: RetryPolicy, call_timeout: float = DEFAULT_CALL_TIMEOUT,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES, session: BoundedSession | None = None,
                 on_request: RequestObserver | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(JsonTransport(base_url=base_url, credential=id_token, credential_name="Studio ID token",
                                       routes=INSTANCE_ROUTES, connect_timeout=connect_timeout,
                                       read_timeout=read_timeout, retry=retry, call_timeout=call_timeout,
                                       max_answer_bytes=max_answer_bytes, session=session,
                                       on_request=on_request, sleep=sleep))

    def create(self, *, kind: str, name: str | None) -> CreatedInstance:
        """Create an instance of ``kind`` (``user``, or ``global`` with an admin account).

        Tried once, never retried: a retry after a lost answer could mint a second
        instance whose key nobody ever sees. The cloud answers 201; any 2xx carrying a
        complete body is accepted, because refusing it would throw away a key that is
        shown only once.
        """
        if kind not in INSTANCE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(INSTANCE_KINDS)}, got {kind!r}")
        body: dict[str, str] = {"kind": kind}
        if name is not None:
            body["name"] = _non_empty(name, "name")
        reply = self._transport.post(CREATE, body, max_attempts=1)
        answer = json_object(reply)
        runner_token = require_str(reply, answer, "runnerToken")
        register_secret(runner_token)
        try:
            check_credential(runner_token, name="field 'runnerToken'")
        except ValueError as exc:
            raise MalformedResponse(f"POST {CREATE}: HTTP {reply.status} answer unusable: {exc}", route=CREATE,
                                    status=reply.status) from None
        returned_kind = require_str(reply, answer, "kind")
        if returned_kind not in INSTANCE_KINDS:
            raise MalformedResponse(f"POST {CREATE}: HTTP {reply.status} answer unusable: field 'kind' should be "
                                    f"one of {', '.join(INSTANCE_KINDS)}", route=CREATE, status=reply.status)
        return CreatedInstance(instance_id=require_id(reply, answer, "instanceId"),
                               credential_id=require_id(reply, answer, "credentialId"),
                               runner_token=runner_token, kind=returned_kind,
                               name=optional_str(reply, answer, "name", max_chars=MAX_NAME_CHARS))

    def rename(self, *, instance_id: str, name: str) -> str:
        """Rename the instance; return the name the cloud stored."""
        reply = self._transport.post(RENAME, {"instanceId": _non_empty(instance_id, "instance_id"),
                                              "name": _non_empty(name, "name")})
        return optional_str(reply, json_object(reply), "name", max_chars=MAX_NAME_CHARS) or name

    def revoke(self, *, instance_id: str) -> None:
        """Revoke the instance: its runner key stops working at once."""
        self._transport.post(REVOKE, {"instanceId": _non_empty(instance_id, "instance_id")})


def _non_empty(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value
