"""Liveness means main-thread progress (issue 9, defect 2, second half); fake clocks only.

The worker side (``shared.pipe.liveness``) declares each bounded wait of the main thread and
reports when back; the supervisor side (``supervisor.watchdog.MainThreadClock``) kills a worker
whose main thread is past its declared time plus ``pool.hung_timeout`` even while its link
thread keeps sending ``Alive``.
"""
from __future__ import annotations

import threading

from shared.config.sections import PoolConfig
from shared.pipe import liveness
from shared.pipe.messages import Alive, JobFinished, JobOutcome, LeaseOutcome, LeaseResult, Progress, WantWork
from supervisor.watchdog import MainThreadClock, Watchdog
from tests.core.fakes import PID, FakeSlot, live_slot

HUNG = 10.0   # seconds: pool.hung_timeout below


def _watchdog() -> Watchdog:
    return Watchdog(pool=PoolConfig(hung_timeout=HUNG), recycle=lambda *_: None)


def _check(watchdog: Watchdog, slot: FakeSlot, now: float) -> None:
    slot.last_seen = now   # the link thread's Alive keeps arriving: the old rule never fires
    watchdog.check([slot], now)


def test_a_main_thread_past_its_declared_wait_plus_hung_timeout_is_killed_as_stuck() -> None:
    watchdog, slot = _watchdog(), live_slot(now=0.0)
    watchdog.main_thread.heard(PID, Progress(within=60.0, what="POST /leaseWorkspaceJob"), 0.0)
    _check(watchdog, slot, 69.9)
    assert slot.term_sent_at is None
    _check(watchdog, slot, 70.1)
    assert slot.stop_reason == "stuck" and slot.term_sent_at == 70.1


def test_reporting_back_resets_the_clock_and_nothing_declared_means_hung_timeout() -> None:
    watchdog, slot = _watchdog(), live_slot(now=0.0)
    clock = watchdog.main_thread
    clock.heard(PID, Progress(within=60.0, what="model round 1"), 0.0)
    clock.heard(PID, Progress(within=0.0), 50.0)
    _check(watchdog, slot, 59.0)
    assert slot.term_sent_at is None
    _check(watchdog, slot, 60.5)   # back at 50, declared nothing since: 50 + 0 + 10
    assert slot.stop_reason == "stuck"


def test_signs_of_life_from_other_threads_are_no_progress() -> None:
    clock = MainThreadClock()
    clock.heard(PID, LeaseResult(LeaseOutcome.EMPTY), 0.0)
    clock.heard(PID, Alive(), 9.0)
    assert clock.overdue(PID, 10.5, grace=HUNG) is not None


def test_a_main_thread_waiting_for_the_supervisor_is_exempt_until_it_speaks_again() -> None:
    clock = MainThreadClock()
    clock.heard(PID, JobFinished("ws-1", JobOutcome.COMPLETED), 0.0)
    clock.heard(PID, WantWork(), 0.1)
    assert clock.overdue(PID, 10_000.0, grace=HUNG) is None   # the gate may pause leasing for minutes
    clock.heard(PID, Progress(within=5.0, what="POST /leaseWorkspaceJob"), 10_000.0)
    assert clock.overdue(PID, 10_016.0, grace=HUNG) is not None


def test_gone_workers_are_forgotten() -> None:
    watchdog = _watchdog()
    watchdog.main_thread.heard(PID, Progress(within=1.0), 0.0)
    watchdog.check([], 100.0)
    assert watchdog.main_thread.overdue(PID, 100.0, grace=HUNG) is None


def test_the_main_thread_declares_its_waits_and_nested_ones_restore_the_outer(sent: list[Progress]) -> None:
    with liveness.bounded_wait(600.0, what="model round 1"):
        with liveness.bounded_wait(70.0, what="POST /updateWorkspaceRunnerSummary"):
            pass
    assert [(m.within, m.what) for m in sent[:2]] == [(600.0, "model round 1"),
                                                      (70.0, "POST /updateWorkspaceRunnerSummary")]
    assert 599.0 < sent[2].within <= 600.0 and sent[2].what == "POST /updateWorkspaceRunnerSummary"
    assert (sent[3].within, sent[3].what) == (0.0, "")


def test_other_threads_declare_nothing(sent: list[Progress]) -> None:
    def heartbeat_thread() -> None:
        with liveness.bounded_wait(60.0, what="POST /heartbeatWorkspaceJob"):
            pass

    thread = threading.Thread(target=heartbeat_thread)
    thread.start()
    thread.join()
    assert sent == []
