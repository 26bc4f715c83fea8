"""Model refusals pause leasing (supervisor/pool_messages.py ``ModelPause``), on given times.

A 401/403 or ``insufficient_quota`` from the model endpoint makes the whole pool stop leasing for
30 s, doubling up to 10 minutes while it persists; a completed job or SIGHUP resumes at once.
"""
from __future__ import annotations

from supervisor.pool_messages import ModelPause


def test_the_pause_starts_at_30_s_and_doubles_up_to_10_minutes_while_refusals_persist() -> None:
    pause, now, lengths = ModelPause(), 0.0, []
    for _ in range(7):
        length = pause.refused(now=now)
        assert length is not None
        lengths.append(length)
        now += length                     # the next refusal comes from the first job after the pause
    assert lengths == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]


def test_refusals_from_jobs_already_running_do_not_double_the_pause() -> None:
    pause = ModelPause()
    assert pause.refused(now=0.0) == 30.0
    assert pause.refused(now=29.5) is None
    assert pause.refused(now=30.0) == 60.0


def test_a_model_that_answers_again_ends_the_doubling() -> None:
    pause = ModelPause()
    pause.refused(now=0.0)
    pause.refused(now=30.0)
    pause.clear()                         # a job completed, or the operator reloaded (SIGHUP)
    assert not pause.active
    assert pause.refused(now=31.0) == 30.0


def test_pauses_are_counted_and_their_time_left_is_known_for_the_metrics() -> None:
    pause = ModelPause()
    assert pause.count == 0 and pause.left(now=0.0) == 0.0
    pause.refused(now=0.0)
    assert pause.count == 1 and pause.left(now=10.0) == 20.0
    pause.refused(now=29.5)               # already paused: not a new pause
    assert pause.count == 1 and pause.left(now=31.0) == 0.0
