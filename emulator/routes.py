"""The cloud's 9 protocol routes (protocol §2) with their credential rules.

Instance management takes a Studio account ID token; job routes take a runner key
(``credentialId.secret``). The other credential, an unknown one, a revoked key or no
``Authorization: Bearer`` header at all is answered 401.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.errors import ApiError
from emulator.fields import optional_str, require_str
from emulator.records import GLOBAL, INSTANCE_KINDS, Account, Instance, StoredSummary
from emulator.routing import ApiRequest, Route
from emulator.state import EmulatorState
from emulator.stats import Stats

Validator = Callable[[Mapping[str, Any]], "list[str]"]

MAX_NAME_CHARS = 100
MAX_SUMMARY_CHARS = 200_000


def check_instance_kind(kind: Any) -> str:
    """``kind`` if it is a runner instance kind, else 400."""
    if kind not in INSTANCE_KINDS:
        raise ApiError(400, f"field 'kind' must be one of {', '.join(INSTANCE_KINDS)}, got {kind!r}")
    return str(kind)


class ProtocolRoutes:
    """Handlers of the 9 protocol routes over one ``EmulatorState``."""

    def __init__(self, *, state: EmulatorState, stats: Stats, validate: Validator) -> None:
        self._state = state
        self._stats = stats
        self._validate = validate

    def routes(self) -> list[Route]:
        handlers = {
            "/createRunnerInstance": self.create_instance,
            "/revokeRunnerInstance": self.revoke_instance,
            "/updateRunnerInstance": self.update_instance,
            "/leaseWorkspaceJob": self.lease,
            "/heartbeatWorkspaceJob": self.heartbeat,
            "/getWorkspaceRunnerContext": self.context,
            "/updateWorkspaceRunnerSummary": self.update_summary,
            "/completeWorkspaceJob": self.complete,
            "/failWorkspaceJob": self.fail,
        }
        return [Route(path=path, handlers={"POST": handler}, protocol=True) for path, handler in handlers.items()]

    # --- credentials ------------------------------------------------------------------------

    def _account(self, request: ApiRequest) -> Account:
        return self._state.account_for_id_token(_require_bearer(request))

    def _instance(self, request: ApiRequest) -> Instance:
        return self._state.instance_for_runner_key(_require_bearer(request))

    # --- instance management (ID token) -------------------------------------------------------

    def create_instance(self, request: ApiRequest) -> tuple[int, Any]:
        account = self._account(request)
        kind = check_instance_kind(request.body.get("kind"))
        name = optional_str(request.body, "name", max_chars=MAX_NAME_CHARS)
        if kind == GLOBAL and not account.admin:
            raise ApiError(403, "global runner instances need an admin account")
        return 201, self._state.create_instance(kind=kind, owner=account.uid, name=(name or "").strip() or None)

    def revoke_instance(self, request: ApiRequest) -> tuple[int, Any]:
        account = self._account(request)
        instance_id = require_str(request.body, "instanceId")
        self._state.revoke_instance(account=account, instance_id=instance_id)
        return 200, {"ok": True}

    def update_instance(self, request: ApiRequest) -> tuple[int, Any]:
        account = self._account(request)
        instance_id = require_str(request.body, "instanceId")
        name = require_str(request.body, "name", max_chars=MAX_NAME_CHARS).strip()
        return 200, {"ok": True, "name": self._state.rename_instance(account=account, instance_id=instance_id,
                                                                     name=name)}

    # --- job lifecycle (runner key) -----------------------------------------------------------

    def lease(self, request: ApiRequest) -> tuple[int, Any]:
        return 200, self._state.lease(self._instance(request))

    def heartbeat(self, request: ApiRequest) -> tuple[int, Any]:
        instance = self._instance(request)
        expires = self._state.heartbeat(instance, require_str(request.body, "workspaceId"))
        return 200, {"ok": True, "leaseExpiresAt": expires}

    def context(self, request: ApiRequest) -> tuple[int, Any]:
        instance = self._instance(request)
        return 200, self._state.context(instance, require_str(request.body, "workspaceId"))

    def update_summary(self, request: ApiRequest) -> tuple[int, Any]:
        instance = self._instance(request)
        body = request.body
        workspace_id = require_str(body, "workspaceId")
        summary = StoredSummary(text=require_str(body, "summaryText", max_chars=MAX_SUMMARY_CHARS),
                                from_message_id=require_str(body, "fromMessageId"),
                                through_message_id=require_str(body, "throughMessageId"))
        self._state.store_summary(instance, workspace_id, summary)
        return 200, {"ok": True}

    def complete(self, request: ApiRequest) -> tuple[int, Any]:
        """409 without a lease; 400 with every problem the validator finds; else store and finish."""
        instance = self._instance(request)
        workspace_id = require_str(request.body, "workspaceId")
        self._state.check_lease(instance, workspace_id)
        problems = self._validate(request.body)  # outside the state lock: payloads can be large
        if problems:
            self._stats.event("validationRejections")
            raise ApiError(400, "invalid completion payload", {"problems": problems})
        self._state.complete(instance, workspace_id, request.body)
        return 200, {"ok": True}

    def fail(self, request: ApiRequest) -> tuple[int, Any]:
        instance = self._instance(request)
        workspace_id = require_str(request.body, "workspaceId")
        error = require_str(request.body, "error", allow_empty=True)
        self._state.fail(instance, workspace_id, error)
        return 200, {"ok": True}


def _require_bearer(request: ApiRequest) -> str:
    if request.bearer is None:
        raise ApiError(401, "missing credentials: send 'Authorization: Bearer <token>'")
    return request.bearer
