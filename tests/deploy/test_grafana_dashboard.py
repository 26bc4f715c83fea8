"""The Grafana dashboard: valid JSON, portable datasource, panels that query only contract metrics
(or our recording rules) with PromQL that Prometheus parses, and provisioning that finds it."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    CONTRACT_SERIES,
    DOCKER,
    GRAFANA,
    load_yaml,
    metric_names,
    recording_rule_names,
    run_tool,
)

DASHBOARD = GRAFANA / "dashboards" / "xenon-runner.json"
# Every topic issue 6 asks the dashboard to show, as the series that show it.
REQUIRED_SERIES = {
    "xenon_runner_jobs_total",                          # throughput, outcomes
    "xenon_runner_job_duration_seconds_bucket",         # p50/p95
    "xenon_runner_workers",                             # busy vs idle
    "xenon_runner_worker_restarts_total",               # restarts by reason
    "xenon_runner_lease_requests_total",                # lease rate by result
    "xenon_runner_api_requests_total",                  # API errors by route
    "xenon_runner_worker_rss_bytes",                    # RSS per worker
    "xenon_runner_supervisor_rss_bytes",                # RSS of the supervisor
    "xenon_runner_model_requests_total",                # model request errors
}
# Grafana's variables, replaced by something Prometheus parses.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$job": ".*", "$instance": ".*"}


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_dashboard_identity() -> None:
    board = dashboard()
    assert board["uid"] == "xenon-runner" and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_queries_through_the_datasource_variable() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"


def test_panels_use_only_contract_metrics_and_recording_rules() -> None:
    allowed = CONTRACT_SERIES | recording_rule_names()
    for panel in panels():
        for target in panel["targets"]:
            used = metric_names(target["expr"])
            assert used, f"{panel['title']}: {target['expr']} selects no metric"
            assert used <= allowed, f"{panel['title']} uses unknown {used - allowed}"


def test_template_variables_use_contract_metrics() -> None:
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            selector = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert selector, query
            assert metric_names(selector.group(1)) <= CONTRACT_SERIES


def test_every_topic_of_the_issue_has_a_panel() -> None:
    used = set().union(*(metric_names(expr) for expr in expressions()))
    assert REQUIRED_SERIES <= used, f"missing {REQUIRED_SERIES - used}"


def test_every_query_filters_by_the_selected_job_and_runner() -> None:
    for expr in expressions():
        for selector in re.findall(r"xenon_runner_\w+\{([^}]*)\}", expr):
            assert 'job=~"$job"' in selector and 'instance=~"$instance"' in selector, expr


def test_prometheus_parses_every_panel_query(promtool: str, tmp_path: Path) -> None:
    """promtool checks PromQL syntax of rule expressions, so each query becomes a rule."""
    rules = []
    for index, expr in enumerate(expressions()):
        for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda item: -len(item[0])):
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{index}:check", "expr": expr})
    rule_file = tmp_path / "dashboard.rules.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_tool([promtool, "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def compose_mounts(service: str) -> dict[str, str]:
    """Container path -> repository path of a compose service's bind mounts."""
    mounts = {}
    for volume in load_yaml(DOCKER / "compose.yaml")["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = str((DOCKER / source).resolve())
    return mounts


def test_provisioning_finds_the_dashboard_and_prometheus() -> None:
    mounts = compose_mounts("grafana")
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "xenon-runner.yml")["providers"][0]
    assert Path(mounts[provider["options"]["path"]]) == DASHBOARD.parent
    assert Path(mounts["/etc/grafana/provisioning"]) == GRAFANA / "provisioning"
    datasource = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in load_yaml(DOCKER / "compose.yaml")["services"]


@pytest.mark.parametrize("expr, expected", [
    ('sum by (le) (rate(xenon_runner_job_duration_seconds_bucket{job=~"$job"}[$__rate_interval]))',
     {"xenon_runner_job_duration_seconds_bucket"}),
    ('max(xenon_runner_worker_memory_limit_bytes{job="x"} > 0) or on (job) vector(0)',
     {"xenon_runner_worker_memory_limit_bytes"}),
])
def test_metric_name_extraction(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected
