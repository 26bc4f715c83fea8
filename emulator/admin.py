"""The admin API: enqueue jobs, read their final state, mint accounts and keys, set faults.

It has no authentication: the emulator listens on loopback (127.0.0.1) by default, and
anyone who can reach the admin routes can read every stored payload. Do not expose an
emulator on a shared network. Admin routes never get fault injection.

Routes: ``POST /admin/jobs`` (a job spec, see ``jobspec``, or ``{"sample": true}`` with
optional ``target``/``owner`` overrides), ``POST /admin/jobs/batch {"count"}``,
``GET /admin/jobs[?state=…]``, ``GET /admin/jobs/<id>``, ``GET /admin/stats``,
``POST /admin/instances``, ``POST /admin/accounts``, ``GET|POST /admin/faults``,
``POST /admin/reset`` (drops jobs, stats and runtime fault settings; accounts and runner
keys stay valid).
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

from emulator.errors import ApiError
from emulator.faults import FaultInjector, parse_fault_request
from emulator.fields import optional_bool, optional_str, reject_unknown, require_str
from emulator.jobspec import parse_job_spec
from emulator.records import JOB_STATES
from emulator.routes import MAX_NAME_CHARS, check_instance_kind
from emulator.routing import PROTOCOL_ROUTES, ApiRequest, Route
from emulator.samples import sample_job
from emulator.state import EmulatorState
from emulator.stats import Stats

DEFAULT_OWNER = "local-admin"
MAX_BATCH = 10_000


class AdminRoutes:
    """Handlers of the admin API, plus the enqueue logic ``EmulatorServer`` shares."""

    def __init__(self, *, state: EmulatorState, stats: Stats, faults: FaultInjector, sample_seed: int) -> None:
        self._state = state
        self._stats = stats
        self._faults = faults
        self._sample_seed = sample_seed
        self._sample_lock = threading.Lock()
        self._sample_index = itertools.count()

    def routes(self) -> list[Route]:
        return [
            Route(path="/admin/jobs", handlers={"GET": self.list_jobs, "POST": self.add_job}),
            Route(path="/admin/jobs/batch", handlers={"POST": self.add_batch}),
            Route(path="/admin/jobs/", handlers={"GET": self.get_job}, prefix=True),
            Route(path="/admin/stats", handlers={"GET": self.stats}),
            Route(path="/admin/instances", handlers={"POST": self.add_instance}),
            Route(path="/admin/accounts", handlers={"POST": self.add_account}),
            Route(path="/admin/faults", handlers={"GET": self.get_faults, "POST": self.set_faults}),
            Route(path="/admin/reset", handlers={"POST": self.reset}),
        ]

    # --- enqueueing (shared with EmulatorServer) ------------------------------------------------

    def enqueue(self, raw: Mapping[str, Any]) -> str:
        """Enqueue a job spec or ``{"sample": true, "target"?, "owner"?}``; raises JobSpecError."""
        if raw.get("sample") is True:
            reject_unknown(raw, ("sample", "target", "owner"))
            overrides = {key: raw[key] for key in ("target", "owner") if key in raw}
            raw = {**self._next_sample(), **overrides}
        return self._state.enqueue(parse_job_spec(raw))

    def enqueue_samples(self, count: int) -> list[str]:
        return [self._state.enqueue(parse_job_spec(self._next_sample())) for _ in range(count)]

    def _next_sample(self) -> dict[str, Any]:
        with self._sample_lock:
            index = next(self._sample_index)
        return sample_job(index, seed=self._sample_seed)

    # --- handlers --------------------------------------------------------------------------------

    def add_job(self, request: ApiRequest) -> tuple[int, Any]:
        return 201, {"workspaceId": self.enqueue(request.body)}

    def add_batch(self, request: ApiRequest) -> tuple[int, Any]:
        reject_unknown(request.body, ("count",))
        count = request.body.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
            raise ApiError(400, f"field 'count' must be an integer from 1 to {MAX_BATCH}, got {count!r}")
        return 201, {"workspaceIds": self.enqueue_samples(count)}

    def list_jobs(self, request: ApiRequest) -> tuple[int, Any]:
        state = request.query.get("state")
        if state is not None and state not in JOB_STATES:
            raise ApiError(400, f"query 'state' must be one of {', '.join(JOB_STATES)}, got {state!r}")
        return 200, {"jobs": self._state.job_snapshots(state=state)}

    def get_job(self, request: ApiRequest) -> tuple[int, Any]:
        snapshot = self._state.job_snapshot(request.tail)
        if snapshot is None:
            raise ApiError(404, f"no job {request.tail}")
        return 200, snapshot

    def stats(self, request: ApiRequest) -> tuple[int, Any]:
        return 200, {"jobs": self._state.job_counts(), **self._stats.snapshot()}

    def add_instance(self, request: ApiRequest) -> tuple[int, Any]:
        reject_unknown(request.body, ("kind", "owner", "name"))
        kind = check_instance_kind(request.body.get("kind"))
        owner = optional_str(request.body, "owner", max_chars=MAX_NAME_CHARS) or DEFAULT_OWNER
        name = optional_str(request.body, "name", max_chars=MAX_NAME_CHARS)
        return 201, self._state.create_instance(kind=kind, owner=owner, name=name)

    def add_account(self, request: ApiRequest) -> tuple[int, Any]:
        reject_unknown(request.body, ("uid", "admin"))
        uid = require_str(request.body, "uid", max_chars=MAX_NAME_CHARS)
        admin = optional_bool(request.body, "admin", default=False)
        return 201, {"uid": uid, "idToken": self._state.add_account(uid=uid, admin=admin)}

    def get_faults(self, request: ApiRequest) -> tuple[int, Any]:
        return 200, self._faults.snapshot()

    def set_faults(self, request: ApiRequest) -> tuple[int, Any]:
        route, settings = parse_fault_request(request.body, PROTOCOL_ROUTES)
        if settings is not None:
            self._faults.configure(route=route, settings=settings)
        elif route is not None:
            self._faults.remove_route(route)
        return 200, self._faults.snapshot()

    def reset(self, request: ApiRequest) -> tuple[int, Any]:
        reject_unknown(request.body, ())
        self._state.clear_jobs()
        self._stats.reset()
        self._faults.reset()
        return 200, {"ok": True}
