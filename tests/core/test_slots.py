"""A worker slot's state machine (supervisor/slots.py): every named transition, from every state.

The table is the rule: each transition moves exactly the states ``TRANSITIONS`` lists and
raises ``InvalidTransition`` from any other, leaving the slot as it was. No module but
slots.py assigns a slot's state.
"""
from __future__ import annotations

import ast
import pathlib
from collections.abc import Callable

import pytest

from shared.jobs import LeasedJob
from supervisor.slots import TRANSITIONS, InFlightJob, InvalidTransition, SlotState, WorkerSlot, WorkerStop
from tests.core.fakes import walk_to

S = SlotState
EXPECTED = {   # transition → {from: to}; every (transition, state) pair not here must raise
    "started": {S.WAITING: S.STARTING},
    "booted": {S.STARTING: S.IDLE, S.STOPPING: S.STOPPING},
    "wants_work": {S.STARTING: S.IDLE, S.IDLE: S.IDLE, S.BUSY: S.IDLE, S.STOPPING: S.STOPPING},
    "wants_more": {S.BUSY: S.BUSY, S.STOPPING: S.STOPPING},   # a free job lane while others hold jobs
    "assigned": {S.IDLE: S.BUSY, S.BUSY: S.BUSY, S.STOPPING: S.BUSY},   # BUSY: one more job (jobs_per_worker)
    "finished": {S.BUSY: S.IDLE, S.IDLE: S.IDLE, S.STOPPING: S.STOPPING},
    "finished_one": {S.BUSY: S.BUSY, S.STOPPING: S.STOPPING},   # one job of several ended
    "stopping": {S.STARTING: S.STOPPING, S.IDLE: S.STOPPING, S.BUSY: S.STOPPING, S.STOPPING: S.STOPPING},
    "reaped": {S.STARTING: S.WAITING, S.IDLE: S.WAITING, S.BUSY: S.WAITING, S.STOPPING: S.WAITING},
    "parked": {S.WAITING: S.PARKED},
    "unparked": {S.PARKED: S.WAITING},
}
SUPERVISOR = pathlib.Path(__file__).resolve().parents[2] / "supervisor"


def _job() -> InFlightJob:
    return InFlightJob(lease=LeasedJob(workspace_id="ws-1", lease_expires_at_ms=0), key="k.s", started_at=5.0)


def _other_jobs(slot: WorkerSlot, *workspace_ids: str) -> WorkerSlot:
    """Put jobs in the slot without a transition: the worker holds other jobs on other lanes. Returns the slot."""
    for workspace_id in workspace_ids:
        slot.jobs[workspace_id] = InFlightJob(lease=LeasedJob(workspace_id=workspace_id, lease_expires_at_ms=0),
                                              key="k.s", started_at=5.0)
    return slot


def _fire(slot: WorkerSlot, transition: str) -> None:
    """Make ``transition`` through its public method (the arguments do not matter to the table)."""
    calls: dict[str, Callable[[], None]] = {
        "started": lambda: slot.started(now=1.0), "booted": slot.booted, "wants_work": slot.wants_work,
        "wants_more": lambda: _other_jobs(slot, "ws-2").wants_work(),
        "assigned": lambda: slot.assigned(_job()), "finished": lambda: slot.finished("ws-1"),
        "finished_one": lambda: _other_jobs(slot, "ws-1", "ws-2").finished("ws-1"),
        "stopping": lambda: slot.terminate(now=1.0, reason=WorkerStop.HUNG),
        "reaped": lambda: slot.reaped(restart_at=2.0), "parked": slot.parked,
        "unparked": lambda: slot.unparked(now=3.0)}
    calls[transition]()


def test_the_table_is_the_one_the_pool_relies_on() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("transition", sorted(EXPECTED))
@pytest.mark.parametrize("state", list(SlotState))
def test_each_transition_moves_its_states_and_refuses_the_others(transition: str, state: SlotState) -> None:
    slot = WorkerSlot(slot=0, key="k.s")
    slot.signal_group = lambda signum: None   # type: ignore[method-assign]
    walk_to(slot, state)
    allowed = EXPECTED[transition]
    if state in allowed:
        _fire(slot, transition)
        assert slot.state == allowed[state]
    else:
        with pytest.raises(InvalidTransition, match=f"slot w0: {transition} is not allowed in state {state.value}"):
            _fire(slot, transition)
        assert slot.state == state


def test_a_worker_asked_to_stop_with_a_job_stays_busy_until_the_job_ends() -> None:
    slot = WorkerSlot(slot=0, key="k.s")
    slot.started(now=0.0)
    slot.booted()
    slot.assigned(_job())
    slot.stopping(WorkerStop.DRAIN)
    assert (slot.state, slot.stop_reason) == (S.BUSY, "drain")
    slot.finished(_job().lease.workspace_id)
    assert (slot.state, slot.jobs, slot.jobs_done, slot.jobs_total) == (S.IDLE, {}, 1, 1)
    slot.stopping(WorkerStop.SCALE)
    assert (slot.state, slot.stop_reason) == (S.STOPPING, "drain")   # the first reason stays
    slot.wants_work()
    assert slot.state == S.STOPPING


def test_start_reap_backoff_park_and_unpark_set_the_restart_time() -> None:
    slot = WorkerSlot(slot=0, key="k.s", restart_at=0.0)
    slot.started(now=10.0)
    assert (slot.started_at, slot.last_seen, slot.restart_at) == (10.0, 10.0, None)
    slot.reaped(restart_at=20.0)
    assert (slot.state, slot.restart_at) == (S.WAITING, 20.0)
    slot.backing_off(until=25.0)
    assert (slot.state, slot.restart_at) == (S.WAITING, 25.0)
    slot.parked()
    assert (slot.state, slot.restart_at) == (S.PARKED, None)
    with pytest.raises(InvalidTransition):
        slot.backing_off(until=30.0)
    slot.unparked(now=40.0)
    assert (slot.state, slot.restart_at) == (S.WAITING, 40.0)


def test_state_is_read_only_outside_the_slot() -> None:
    slot = WorkerSlot(slot=0, key="k.s")
    with pytest.raises(AttributeError):
        slot.state = S.BUSY   # type: ignore[misc]


def test_no_supervisor_module_but_slots_assigns_a_slot_state() -> None:
    offenders = []
    for path in SUPERVISOR.rglob("*.py"):
        if path.name == "slots.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                offenders += [f"{path.name}:{element.lineno}" for element in elements
                              if isinstance(element, ast.Attribute) and element.attr in ("state", "_state")]
    assert offenders == []


def test_worker_stop_reasons_keep_their_words() -> None:
    """The death causes, restart labels and logs are keyed by these exact words."""
    assert [str(reason) for reason in WorkerStop] == ["drain", "scale", "roll", "recycle", "memory", "hung", "stuck",
                                                      "boot", "deadline", "shutdown"]
