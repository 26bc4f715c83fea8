"""compose.yaml, checked statically: profiles, mounts, drain time, the trial runner's loopback path
to the emulator, and one scrape target for both profiles (run for real: test_image_compose.py)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.http.urls import insecure_url_problem
from tests.deploy.support import DOCKER, PROMETHEUS, drain_budget, load_yaml, parse_duration
from tests.harness import REPO

COMPOSE = DOCKER / "compose.yaml"
RUNNERS = ("runner", "runner-trial")
RUNNER_ALIAS = "xenon-runner"


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_yaml(COMPOSE)["services"]
    return found


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_profiles_split_the_real_cloud_from_the_trial() -> None:
    profiles = {name: tuple(service.get("profiles", ())) for name, service in services().items()}
    assert profiles["runner"] == ("cloud",)
    assert profiles["emulator"] == ("trial",) and profiles["runner-trial"] == ("trial",)
    assert profiles["prometheus"] == () and profiles["grafana"] == ()   # in both


def test_build_uses_the_repository_root_and_the_dockerfile() -> None:
    for name in (*RUNNERS, "emulator"):
        build = services()[name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", RUNNERS)
def test_runner_drains_before_docker_kills_it(name: str) -> None:
    runner = services()[name]
    baked = load_yaml(DOCKER / "config.yaml")
    assert parse_duration(runner["stop_grace_period"]) > drain_budget(baked)
    assert runner["restart"].startswith("on-failure")   # exit 0 (clean stop) is never restarted
    assert runner["read_only"] is True
    # The multiprocess directory is under /tmp, a tmpfs that keeps the image's mode 1777; a tmpfs
    # over an image directory is root-owned, so uid 10001 cannot write it (test_image_compose.py).
    assert runner["tmpfs"] == ["/tmp"]
    assert baked["metrics"]["multiproc_dir"].startswith("/tmp/")


def test_cloud_runner_takes_secrets_from_the_ignored_env_file() -> None:
    runner = services()["runner"]
    assert [entry["path"] for entry in runner["env_file"]] == ["runner.env"]
    assert "environment" not in runner, "secrets belong in runner.env, not in the compose file"


def test_trial_runner_reaches_the_emulator_on_loopback() -> None:
    emulator, trial = services()["emulator"], services()["runner-trial"]
    assert trial["network_mode"] == "service:emulator"
    assert trial["depends_on"]["emulator"]["condition"] == "service_healthy"
    base = trial["environment"]["RUNNER_API_BASE"]
    assert insecure_url_problem(base) is None, "the runner refuses plain http to non-loopback hosts"
    listen = option(emulator["command"], "--listen")
    assert urlsplit(base).port == int(listen.rsplit(":", 1)[1])
    assert str(urlsplit(base).port) in emulator["healthcheck"]["test"][-1]


def test_trial_runner_mints_its_key_then_runs_the_builtin_model() -> None:
    trial = services()["runner-trial"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in trial["volumes"]}
    bootstrap = trial["entrypoint"][trial["entrypoint"].index("python") + 1]
    assert (DOCKER / mounts[bootstrap]).resolve() == DOCKER / "trial_bootstrap.py"
    assert trial["entrypoint"][:2] == ["tini", "--"] and trial["entrypoint"][-1] == "xenon-runner"
    assert option(trial["command"], "--model") == "builtin"
    assert option(trial["command"], "--metrics-listen") == "0.0.0.0:9464"


def test_one_scrape_target_serves_both_profiles() -> None:
    targets = load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"{RUNNER_ALIAS}:9464"]
    # The trial runner has no network of its own: the emulator's namespace carries the alias.
    for name in ("runner", "emulator"):
        assert RUNNER_ALIAS in services()[name]["networks"]["default"]["aliases"]


def test_published_ports_are_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_every_bind_mount_source_exists() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_loads_our_config_and_rules_where_the_config_expects_them() -> None:
    prometheus = services()["prometheus"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    assert (DOCKER / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS / "prometheus.yml"
    assert (DOCKER / mounts["/etc/prometheus/rules"]).resolve() == PROMETHEUS / "rules"
    rule_files = load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"]
    assert rule_files == ["rules/*.rules.yml"]   # relative to /etc/prometheus/prometheus.yml
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
