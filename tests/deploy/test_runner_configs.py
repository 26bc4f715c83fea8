"""Every runner config the kit ships loads with `xenon-runner check-config`, takes its secrets from
the environment or, on Kubernetes, from the mounted Secret's files (never from the config
itself), and puts the metrics directory where the deployment makes it writable."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.support import DOCKER, KUBERNETES, SYSTEMD, check_config, load_yaml

SECRETS = {"RUNNER_TOKEN": "cred0123.deploykitsecret", "OPENAI_API_KEY": "sk-deploykit-test-key"}
SECRET_MOUNT = "/run/secrets/xenon-runner"   # where the Deployment mounts the Secret


def kubernetes_config(tmp_path: Path) -> Path:
    """The ConfigMap's config, with the Secret's mount point moved under ``tmp_path/secrets``."""
    path = tmp_path / "configmap-config.yaml"
    text = load_yaml(KUBERNETES / "configmap.yaml")["data"]["config.yaml"]
    path.write_text(text.replace(SECRET_MOUNT, str(tmp_path / "secrets")))
    return path


def mount_secrets(tmp_path: Path, **secrets: str) -> None:
    """Write the Secret's keys as files, as the kubelet does."""
    (tmp_path / "secrets").mkdir(exist_ok=True)
    for name, value in secrets.items():
        (tmp_path / "secrets" / name).write_text(value)


def shipped_configs(tmp_path: Path) -> dict[str, Path]:
    return {"docker": DOCKER / "config.yaml", "systemd": SYSTEMD / "config.yaml",
            "kubernetes": kubernetes_config(tmp_path)}


@pytest.mark.parametrize("deployment", ["docker", "systemd", "kubernetes"])
def test_config_loads_with_the_secrets_in_place(deployment: str, tmp_path: Path) -> None:
    if deployment == "kubernetes":
        mount_secrets(tmp_path, **SECRETS)
        result = check_config(shipped_configs(tmp_path)[deployment])
    else:
        result = check_config(shipped_configs(tmp_path)[deployment], **SECRETS)
    assert result.returncode == 0, result.stderr
    assert ": OK" in result.stdout
    for secret in SECRETS.values():
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("deployment", ["docker", "systemd", "kubernetes"])
def test_config_refuses_to_start_without_a_runner_key(deployment: str, tmp_path: Path) -> None:
    mount_secrets(tmp_path, OPENAI_API_KEY=SECRETS["OPENAI_API_KEY"])
    result = check_config(shipped_configs(tmp_path)[deployment], OPENAI_API_KEY=SECRETS["OPENAI_API_KEY"])
    assert result.returncode == 2
    assert "RUNNER_TOKEN" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("deployment", ["docker", "systemd", "kubernetes"])
def test_config_holds_no_secret_value(deployment: str, tmp_path: Path) -> None:
    config = yaml.safe_load(shipped_configs(tmp_path)[deployment].read_text())
    if deployment == "kubernetes":
        secrets = tmp_path / "secrets"
        assert config["cloud"]["token"] == f"${{file:{secrets}/RUNNER_TOKEN}}"
        assert config["model"]["api_key"] == f"${{file:{secrets}/OPENAI_API_KEY}}"
    else:
        assert config["cloud"]["token"] == "${RUNNER_TOKEN}"
        assert "api_key" not in config.get("model", {})


# Where each deployment gives uid 10001 a writable directory: the unit's RuntimeDirectory, the
# pod's emptyDir, and in compose the /tmp tmpfs (a tmpfs over /run/xenon-runner is root-owned).
WRITABLE_DIRECTORY = {"docker": "/tmp", "systemd": "/run/xenon-runner", "kubernetes": "/run/xenon-runner"}


@pytest.mark.parametrize("deployment", ["docker", "systemd", "kubernetes"])
def test_metrics_directory_lives_under_the_writable_run_directory(deployment: str, tmp_path: Path) -> None:
    config = yaml.safe_load(shipped_configs(tmp_path)[deployment].read_text())
    assert Path(WRITABLE_DIRECTORY[deployment]) in Path(config["metrics"]["multiproc_dir"]).parents
