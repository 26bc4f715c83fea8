"""The pure parts of the harness: rows, targets, the table, order statistics, call counting, burst figures,
the concurrency plot's points and the descriptor limit."""
from __future__ import annotations

import math
import resource
from pathlib import Path

import pytest

from bench.arrivals import window_rate
from bench.cli import selected_sections
from bench.cloud import calls_per_job
from bench.machine import raise_fd_limit
from bench.numbers import percentile
from bench.plot import concurrency_points
from bench.report import Row, SectionResult, Target, format_number, format_table, summary_line
from bench.sections.burst import burst_figures
from bench.settings import make_settings
from shared.cloud.jobs import COMPLETE, CONTEXT, HEARTBEAT, LEASE


def test_row_ratio_and_verdict() -> None:
    row = Row(metric="idle lease requests per poll interval", unit="req", ours=1.2, baseline=16.0,
              target=Target(op="<=", value=1.5))
    assert row.ratio == pytest.approx(0.075)
    assert row.passed is True
    assert Row(metric="m", unit="u", ours=2.0, target=Target(op="<=", value=1.5)).passed is False
    assert Row(metric="m", unit="u", ours=2.0, baseline=0.0).ratio is None
    assert Row(metric="m", unit="u", ours=None, target=Target(op=">=", value=7)).passed is None
    assert Row(metric="m", unit="u", ours=math.nan, target=Target(op=">=", value=7)).passed is None


def test_target_rejects_unknown_operator() -> None:
    with pytest.raises(ValueError, match="target operator must be one of"):
        Target(op="=>", value=1)


def test_table_shows_every_column_and_errors() -> None:
    good = SectionResult(key="b", title="idle", rows=[
        Row(metric="per interval", unit="req", ours=1.0, baseline=16.0, baseline_name="naive",
            target=Target(op="<=", value=1.5))], notes=["poll 1s"])
    broken = SectionResult(key="c", title="calls", error="TimeoutError: only 3 of 4 jobs finished")
    text = format_table([good, broken])
    assert "[b] idle" in text and "16 (naive)" in text and "0.0625" in text and "<= 1.5" in text
    assert "PASS" in text and "note: poll 1s" in text
    assert "[c] calls" in text and "ERROR: TimeoutError: only 3 of 4 jobs finished" in text
    assert summary_line([good, broken]) == "targets: 1 passed, 0 failed; sections with errors: c"


@pytest.mark.parametrize(("value", "text"), [(None, "-"), (0, "0"), (1234.5, "1,234"), (3.14159, "3.14"),
                                             (0.0078125, "0.0078")])
def test_number_format(value: float | None, text: str) -> None:
    assert format_number(value) == text


def test_percentile_interpolates() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0], 0.99) == pytest.approx(2.98)
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_calls_per_job_counts_granted_leases_not_empty_ones() -> None:
    by_route = {LEASE: 30, CONTEXT: 10, HEARTBEAT: 20, COMPLETE: 10}
    per_route = calls_per_job(by_route, leases_granted=10, jobs=10)
    assert per_route[LEASE] == 1 and per_route[HEARTBEAT] == 2
    assert sum(per_route.values()) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="jobs must be positive"):
        calls_per_job(by_route, leases_granted=0, jobs=0)


def test_section_selection() -> None:
    assert selected_sections(None) == list("abcdefghijl")
    assert selected_sections("h, a") == ["a", "h"]
    with pytest.raises(ValueError, match="got 'x'"):
        selected_sections("x")


def test_settings_overrides_are_checked(tmp_path: Path) -> None:
    assert make_settings(quick=True, workdir=tmp_path, soak_jobs=50).soak_jobs == 50
    assert make_settings(quick=False, workdir=tmp_path).model_seconds == pytest.approx(0.3)
    with pytest.raises(ValueError, match="--soak-jobs must be at least 1"):
        make_settings(quick=False, workdir=tmp_path, soak_jobs=0)
    with pytest.raises(ValueError, match="--poll-interval must be at least 0.05"):
        make_settings(quick=False, workdir=tmp_path, poll_interval=0.01)


def test_burst_figures_fill_time_and_share_of_the_model_bound_limit() -> None:
    """Fill = first -> N-th lease; throughput = jobs / (first lease -> last finish) against N / model seconds."""
    jobs = [{"leasedAtMs": 1000 + 10 * index, "finishedAtMs": 1000 + 10 * index + 2000, "state": "completed"}
            for index in range(4)]
    jobs += [{"leasedAtMs": 3100, "finishedAtMs": 5000, "state": "failed"}]
    figures = burst_figures(jobs, workers=4, model_seconds=2.0)
    assert figures["fill_ms"] == 30
    assert figures["jobs_per_second"] == pytest.approx(5 / 4.0)
    assert (figures["limit"], figures["failed"]) == (2.0, 1) and figures["share"] == pytest.approx(62.5)


def test_concurrency_points_from_bursts_and_in_flight_runs() -> None:
    """j's single-job and lane bursts and l's runs become points on one job-slots axis; errors are left out."""
    burst = SectionResult(key="j", title="burst", details={
        "model_seconds": 2.0, "bursts": [{"workers": 128, "ours": {"share": 81.5}}],
        "lane_bursts": [{"workers": 16, "jobs_per_worker": 8, "slots": 128, "ours": {"share": 90.0}}]})
    inflight = SectionResult(key="l", title="in flight", details={"model_seconds": 20.0, "runs": [
        {"workers": 50, "jobs_per_worker": 20, "slots": 1000, "share": 93.0, "pss_gib": 0.6}]})
    broken = SectionResult(key="l", title="in flight", error="TimeoutError", details={"runs": [{"slots": 1}]})
    points = concurrency_points([burst, inflight, broken, SectionResult(key="a", title="throughput")])
    assert [(p["slots"], p["workers"], p["jobs_per_worker"], p["share"], p["model_seconds"], p["pss_gib"])
            for p in points] == [(128, 128, 1, 81.5, 2.0, None), (128, 16, 8, 90.0, 2.0, None),
                                 (1000, 50, 20, 93.0, 20.0, 0.6)]


def test_raise_fd_limit_lifts_a_low_soft_limit_up_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = 2048 if hard == resource.RLIM_INFINITY else min(hard, 2048)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_fd_limit(ceiling) == ceiling
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (ceiling, hard)
        assert raise_fd_limit(300) == ceiling, "a limit already high enough is left alone"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_window_rate_counts_finishes_inside_the_window_only() -> None:
    stamps = [1_000, 1_500, 2_000, 2_999, 3_000, 9_000]
    assert window_rate(stamps, start_ms=1_500, end_ms=3_000) == pytest.approx(3 / 1.5)
    with pytest.raises(ValueError, match="the window must end after it starts"):
        window_rate(stamps, start_ms=3_000, end_ms=3_000)
