"""A real Prometheus server scrapes a running supervisor; its HTTP API must see our counters.

Prometheus comes from Debian's ``prometheus`` package (CI installs it); without the binary
the test is skipped with that reason. Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from emulator import EmulatorServer
from shared.config.sections import EmulatorConfig
from tests.harness import REPO, Runner, free_port, job_states, wait_for

PROMETHEUS = shutil.which("prometheus")
JOBS = 5

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package `prometheus`)")


@pytest.fixture
def cloud() -> Iterator[EmulatorServer]:
    with EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0)) as server:
        yield server


def start_prometheus(tmp_path: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    """Prometheus scraping ``target`` every second, with our alert and recording rules loaded."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "deploy" / "prometheus" / "rules", rules)
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(rules / "*.rules.yml")],
              "scrape_configs": [{"job_name": "xenon-runner", "static_configs": [{"targets": [target]}]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert PROMETHEUS is not None   # the module is skipped without it
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    process = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process, f"http://127.0.0.1:{port}"


def query(base: str, expression: str) -> list[dict[str, Any]]:
    try:
        answer = requests.get(f"{base}/api/v1/query", params={"query": expression}, timeout=5)
    except requests.RequestException:
        return []
    if answer.status_code != 200:
        return []
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_prometheus_scrapes_job_counters_from_a_running_pool(cloud: EmulatorServer, tmp_path: Path) -> None:
    token = cloud.create_instance(kind="global")["runnerToken"]
    for index in range(JOBS):
        cloud.enqueue_job({"target": "global", "messages": [{"text": f"Job {index}: a table of costs."}]})
    runner = Runner(tmp_path, cloud_url=cloud.url, token=token, workers=2, model={"name": "builtin"})
    prometheus, base = start_prometheus(tmp_path, f"127.0.0.1:{runner.port}")
    try:
        with runner:
            wait_for(lambda: sum(job["state"] == "completed" for job in job_states(cloud).values()) == JOBS,
                     what=f"{JOBS} completed jobs\n{runner.log()[-2000:]}")
            result = wait_for(lambda: [r for r in query(base, 'xenon_runner_jobs_total{outcome="completed"}')
                                       if float(r["value"][1]) == JOBS],
                              what="Prometheus to scrape 5 completed jobs\n"
                                   + (tmp_path / "prometheus.log").read_text()[-2000:])
            assert result[0]["metric"]["job"] == "xenon-runner"
            assert float(query(base, 'up{job="xenon-runner"}')[0]["value"][1]) == 1.0
            ready = wait_for(lambda: query(base, 'xenon_runner_workers{state=~"idle|busy"}'), what="worker gauges")
            assert sum(float(r["value"][1]) for r in ready) == 2.0
            deliverables = query(base, 'xenon_runner_deliverables_total{kind="table"}')
            assert float(deliverables[0]["value"][1]) >= JOBS
            rules = requests.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
            assert rules and all(rule["health"] != "err" for group in rules for rule in group["rules"])
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
