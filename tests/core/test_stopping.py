"""The stop decision and the one exit code (supervisor/stopping.py ``Shutdown``), on a fake clock.

A drain gives jobs graceful_timeout seconds; an abort cuts it short and kills kill_timeout
seconds later; the run ends when a drain is over and the pool is empty; each abort sets the
exit code (the latest wins) and the graceful timeout keeps it; pool.max_runtime and
pool.max_empty_polls start a drain.
"""
from __future__ import annotations

from shared.config.sections import PoolConfig
from shared.pipe.messages import WorkerExit
from supervisor.exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED, EXIT_ERROR, EXIT_OK
from supervisor.stopping import FATAL_WORKER_EXITS, Shutdown, StopReason
from tests.core.fakes import FakeClock

GRACE, KILL = 30.0, 10.0   # seconds


def test_a_drain_ends_only_when_the_pool_is_empty_with_exit_0() -> None:
    clock = FakeClock()
    shutdown = Shutdown(clock=clock)
    assert not shutdown.settle(pool_empty=True)          # not draining: an empty pool is just starting
    assert shutdown.drain(StopReason.SIGTERM, graceful_timeout=GRACE)
    assert not shutdown.drain(StopReason.MAX_RUNTIME, graceful_timeout=GRACE)
    assert (shutdown.draining, shutdown.reason) == (True, "SIGTERM")   # the first reason stays
    assert not shutdown.settle(pool_empty=False)
    assert shutdown.settle(pool_empty=True) and (shutdown.ended, shutdown.exit_code) == (True, EXIT_OK)


def test_the_graceful_timeout_is_due_once_and_keeps_the_exit_code() -> None:
    clock = FakeClock()
    shutdown = Shutdown(clock=clock)
    shutdown.drain(StopReason.SIGTERM, graceful_timeout=GRACE)
    clock.advance(GRACE - 0.5)
    assert not shutdown.graceful_timeout_over()
    clock.advance(0.5)
    assert shutdown.graceful_timeout_over()
    assert shutdown.abort(exit_code=None, kill_timeout=KILL) and shutdown.exit_code == EXIT_OK
    assert not shutdown.graceful_timeout_over()          # the abort is under way: not twice


def test_an_abort_kills_after_kill_timeout_and_the_latest_exit_code_wins() -> None:
    clock = FakeClock()
    shutdown = Shutdown(clock=clock)
    assert shutdown.abort(exit_code=EXIT_CREDENTIAL_REJECTED, kill_timeout=KILL)
    assert not shutdown.kill_due()
    assert not shutdown.abort(exit_code=EXIT_CONFIG, kill_timeout=KILL)   # aborting already ...
    assert shutdown.exit_code == EXIT_CONFIG                              # ... but the code is the latest
    clock.advance(KILL - 0.5)
    assert not shutdown.kill_due()
    clock.advance(0.5)
    assert shutdown.kill_due()


def test_a_runner_that_cannot_start_or_whose_loop_fails_ends_at_once() -> None:
    shutdown = Shutdown(clock=FakeClock())
    shutdown.end(EXIT_ERROR)
    assert (shutdown.ended, shutdown.exit_code, shutdown.draining) == (True, EXIT_ERROR, False)


def test_max_runtime_and_max_empty_polls_start_a_drain_once() -> None:
    clock = FakeClock(start=100.0)
    limits = PoolConfig(max_runtime=60.0, max_empty_polls=3)
    shutdown = Shutdown(clock=clock)
    assert shutdown.limit_reached(started=100.0, limits=limits, empty_polls=2) is None
    assert shutdown.limit_reached(started=100.0, limits=limits, empty_polls=3) is StopReason.QUEUE_EMPTY
    clock.advance(60.0)
    assert shutdown.limit_reached(started=100.0, limits=limits, empty_polls=0) is StopReason.MAX_RUNTIME
    shutdown.drain(StopReason.MAX_RUNTIME, graceful_timeout=GRACE)
    assert shutdown.limit_reached(started=100.0, limits=limits, empty_polls=9) is None


def test_no_limit_configured_never_drains() -> None:
    clock = FakeClock()
    shutdown = Shutdown(clock=clock)
    clock.advance(10 ** 9)
    assert shutdown.limit_reached(started=0.0, limits=PoolConfig(max_runtime=0, max_empty_polls=0),
                                  empty_polls=10 ** 6) is None


def test_worker_exits_map_to_the_runner_exit_codes_in_one_table() -> None:
    assert FATAL_WORKER_EXITS == {WorkerExit.CREDENTIAL_REJECTED: (StopReason.KEY_REJECTED, EXIT_CREDENTIAL_REJECTED),
                                  WorkerExit.BOOT_FAILED: (StopReason.CANNOT_BOOT, EXIT_CONFIG)}


def test_stop_reasons_keep_their_exact_text() -> None:
    """/status shows the reason and aborted jobs fail with it: the strings are a contract."""
    assert [str(reason) for reason in StopReason] == [
        "SIGTERM", "max runtime reached", "queue empty", "runner shutting down",
        "runner stopping: the cloud rejected its runner key", "runner stopping: workers cannot boot"]
    assert f"{StopReason.SHUTTING_DOWN}: x" == "runner shutting down: x"
