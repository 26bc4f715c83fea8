"""A worker whose main thread is stuck is killed and its job recovered (issue 9, defect 2).

The chaos model's ``[[once:sleep:600]]`` blocks the main thread in a model round for ten
minutes and ignores the round's timeout, while the worker's link thread keeps sending signs
of life. The round declared ``min(job time left, model call bound)`` = 3 s (model: 1 try of
1 s connect + 2 s read), so the supervisor kills the worker 3 s + pool.hung_timeout after the
round began and re-runs the job on a fresh worker, where it completes.
"""
from __future__ import annotations

from emulator import EmulatorServer
from tests.harness import CHAOS_MODEL, enqueue, job_states, wait_final
from tests.integration.conftest import StartRunner

HUNG_TIMEOUT = 5.0   # seconds


def test_a_main_thread_stuck_in_a_model_round_is_killed_and_its_job_rerun(
        cloud: EmulatorServer, start_runner: StartRunner) -> None:
    runner = start_runner(workers=1, pool={"hung_timeout": HUNG_TIMEOUT, "job_timeout": 600},
                          model={"name": CHAOS_MODEL, "connect_timeout": 1, "read_timeout": 2, "max_attempts": 1})
    [job] = enqueue(cloud, "A table of costs. [[once:sleep:600]]")

    # Before: only the job deadline (600 s + 30 s) would have ended it; the link thread's Alive
    # messages kept the hung-worker watchdog quiet.
    final = wait_final(cloud, [job], timeout=45)
    assert final[job]["state"] == "completed"
    assert job_states(cloud)[job]["leaseCount"] == 1   # re-run under the same lease
    log = runner.log()
    assert "its main thread has not come back from model round 1" in log
    assert "killing it as stuck" in log
    assert "worker stuck (its main thread did not come back from a cloud or model call" in log
    assert "re-running it (attempt 2 of 2" in log
    assert runner.metric("xenon_runner_worker_restarts_total", reason="hung") == 1
    runner.expect_running()
