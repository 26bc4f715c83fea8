"""What the supervisor shows: /healthz, /readyz, /status, /metrics (promtool-clean), logs, and no secret anywhere.

One pool (JSON logs, a log file, an OpenAI key in its config) goes through boot (held back
by a boot gate), a completed job, a failed job and a worker crash; every endpoint and the
log are checked along the way.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from emulator import EmulatorServer
from tests.harness import Runner, enqueue, installed_tool, wait_final
from tests.integration.conftest import StartRunner

OPENAI_KEY = "sk-test-observability-secret-0123456789abcdef"
CONTRACT_LABELS = {
    "xenon_runner_jobs_total": ("outcome", {"completed", "failed", "lease_lost", "retried"}),
    "xenon_runner_lease_requests_total": ("result", {"leased", "empty", "error"}),
    "xenon_runner_workers": ("state", {"starting", "idle", "busy", "stopping", "parked"}),
    "xenon_runner_worker_restarts_total": ("reason", {"crash", "recycle", "memory", "hung"}),
    "xenon_runner_heartbeats_total": ("result", {"ok", "lease_lost", "error"}),
    "xenon_runner_deliverables_total": ("kind", {"file", "chart", "table", "list", "checklist", "svg"}),
}
CONTRACT_SAMPLES = ("xenon_runner_job_duration_seconds_bucket", "xenon_runner_api_requests_total",
                    "xenon_runner_api_request_duration_seconds_bucket")
WORKER_FIELDS = {"slot", "pid", "state", "workspaceId", "jobs_done", "restarts", "rss_bytes"}


def secrets_of(runner: Runner) -> list[str]:
    token = runner.config["cloud"]["token"]
    return [token, token.split(".", 1)[1], OPENAI_KEY]


def samples(metrics_text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def test_health_readiness_status_metrics_and_logs_of_a_working_pool(
        cloud: EmulatorServer, start_runner: StartRunner, tmp_path: Path) -> None:
    stale = tmp_path / "runner0" / "metrics" / "counter_from_an_earlier_run.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not a metrics file")   # would break every scrape if it were not wiped
    gate = tmp_path / "boot-gate"
    runner = start_runner(workers=2, ready=False, env={"CHAOS_BOOT_GATE": str(gate)},
                          model={"name": "tests.fakes.chaos_model:make_handle", "api_key": OPENAI_KEY},
                          logging={"format": "json", "file": str(tmp_path / "file.log")})
    booting = runner.wait_status(lambda s: s["states"]["starting"] == 2, what="2 workers starting")
    assert runner.answer("/healthz").status_code == 200
    not_ready = runner.answer("/readyz")
    assert (not_ready.status_code, not_ready.json()["ready_workers"]) == (503, 0)
    assert booting["ready_workers"] == 0 and booting["draining"] is False

    assert not stale.exists(), "the metrics directory is wiped at start"
    gate.touch()
    status = runner.wait_ready()
    assert runner.answer("/readyz").status_code == 200
    assert {"version", "pid", "uptime_seconds", "draining", "desired_workers", "ready_workers", "states",
            "workers"} <= set(status)
    assert [w["slot"] for w in status["workers"]] == [0, 1]
    for worker in status["workers"]:
        assert WORKER_FIELDS <= set(worker)
        assert worker["state"] == "idle" and worker["pid"] > 0 and worker["workspaceId"] is None

    done, empty, crashed = enqueue(cloud, "A launch plan with a chart and a table.", "", "Crash once. [[crash-once]]")
    jobs = wait_final(cloud, [done, empty, crashed])
    assert [jobs[w]["state"] for w in (done, empty, crashed)] == ["completed", "failed", "completed"]
    assert jobs[empty]["error"].startswith("empty_context")
    runner.wait_ready()

    metrics_text = runner.metrics()
    found = samples(metrics_text)
    for name, (label, values) in CONTRACT_LABELS.items():
        assert {s.labels[label] for s in found[name]} >= values, name
    for name in CONTRACT_SAMPLES:
        assert found[name], name
    assert runner.metric("xenon_runner_jobs_total", outcome="completed") == 2
    assert runner.metric("xenon_runner_jobs_total", outcome="failed") == 1
    assert runner.metric("xenon_runner_jobs_total", outcome="retried") == 1
    assert runner.metric("xenon_runner_worker_restarts_total", reason="crash") == 1

    log_lines = [json.loads(line) for line in runner.log().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "slot", "workspace_id", "message"} <= set(e) for e in log_lines)
    assert any(e["slot"] in ("w0", "w1") and e["workspace_id"] == done for e in log_lines), "tagged worker records"
    assert (tmp_path / "file.log").read_text().count("\n") >= len(log_lines) - 1

    exposed = {"/status": runner.answer("/status").text, "/metrics": metrics_text, "log": runner.log(),
               "log file": (tmp_path / "file.log").read_text()}
    for where, text in exposed.items():
        for secret in secrets_of(runner):
            assert secret not in text, f"a secret in {where}"


def test_metrics_pass_promtool_check(cloud: EmulatorServer, start_runner: StartRunner) -> None:
    promtool = installed_tool("promtool",
                              missing="promtool not installed (Debian package 'prometheus'; CI installs it)")
    runner = start_runner(workers=2)
    jobs = enqueue(cloud, "A launch plan with every kind of deliverable.", "Crash once. [[crash-once]]", "")
    wait_final(cloud, jobs)

    checked = subprocess.run([promtool, "check", "metrics"], input=runner.metrics().encode(), capture_output=True,
                             timeout=30)

    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
