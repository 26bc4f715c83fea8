"""The Prometheus kit: scrape configs and rules pass promtool, the rule unit tests pass, and every
alert is complete (severity, summary, description, runbook link) and uses only contract metrics."""
from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.support import (
    CONTRACT_SERIES,
    PROMETHEUS,
    RULES_FILE,
    RUNBOOK_BASE,
    alert_rules,
    load_yaml,
    metric_names,
    recording_rule_names,
    run_tool,
)

SCRAPE_CONFIGS = ("prometheus.yml", "prometheus.host.yml")
REQUIRED_ALERTS = {
    "XenonRunnerDown", "XenonRunnerNoReadyWorkers", "XenonRunnerWorkerCrashLooping", "XenonRunnerWorkerSlotParked",
    "XenonRunnerLeaseErrors", "XenonRunnerJobFailureRatioHigh", "XenonRunnerLeaseLost",
    "XenonRunnerWorkerMemoryNearLimit",
}


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run_tool([promtool, "check", "rules", str(RULES_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("name", SCRAPE_CONFIGS)
def test_promtool_accepts_the_scrape_config_and_finds_the_rules(promtool: str, name: str) -> None:
    result = run_tool([promtool, "check", "config", name], cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    # rule_files is relative to the config file: promtool checked our rules through it.
    assert str(RULES_FILE.relative_to(PROMETHEUS)) in result.stdout


def test_rule_unit_tests_pass(promtool: str) -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests, "no rule unit tests in deploy/prometheus/tests"
    result = run_tool([promtool, "test", "rules", *[str(path.relative_to(PROMETHEUS)) for path in tests]],
                      cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested = {case["alertname"]
              for path in (PROMETHEUS / "tests").glob("*.yml")
              for test in load_yaml(path)["tests"]
              for case in test.get("alert_rule_test", [])}
    assert {rule["alert"] for rule in alert_rules()} <= tested


def test_the_required_alerts_exist() -> None:
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in alert_rules()}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_complete(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#{rule['alert'].lower()}"


def test_rules_use_only_contract_metrics_and_recording_rules() -> None:
    allowed = CONTRACT_SERIES | recording_rule_names() | {"up"}
    for group in load_yaml(RULES_FILE)["groups"]:
        for rule in group["rules"]:
            used = metric_names(rule["expr"])
            assert used, f"{rule.get('alert') or rule.get('record')} selects no metric"
            assert used <= allowed, f"{rule.get('alert') or rule.get('record')} uses unknown {used - allowed}"


def test_recording_rule_names_follow_the_level_metric_operation_convention() -> None:
    for name in recording_rule_names():
        level, metric, operation = name.split(":")
        assert level in ("instance", "job") and metric.startswith("xenon_runner_") and operation, name


def test_scrape_configs_use_the_job_name_the_alerts_select() -> None:
    for name in SCRAPE_CONFIGS:
        jobs = {job["job_name"] for job in load_yaml(PROMETHEUS / name)["scrape_configs"]}
        assert jobs == {"xenon-runner"}, name
    assert 'up{job="xenon-runner"}' in next(r["expr"] for r in alert_rules() if r["alert"] == "XenonRunnerDown")
