"""The systemd unit: systemd itself accepts it (systemd-analyze verify and its security score),
and its stop, restart and hardening settings fit the runner's config and exit codes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from supervisor.exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED
from tests.deploy.support import SYSTEMD, drain_budget, load_yaml, run_tool

UNIT = SYSTEMD / "xenon-runner.service"
INSTALLED_BINARY = "/opt/xenon-runner/bin/xenon-runner"
INSTALLED_CONFIG = "/etc/xenon-runner/config.yaml"
MAX_EXPOSURE = 2.0   # systemd-analyze security: 0 = locked down, 10 = exposed; < 2 is rated "OK"
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
}


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; repeated keys (ExecReload=) are all kept.

    configparser(strict=False) would keep only the last of a repeated key, so this reads the
    simple subset of the unit file syntax the unit uses: sections, Key=value, comments.
    """
    entries, section = [], ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key: str, section: str = "Service") -> list[str]:
    return [value for entry_section, entry_key, value in unit_entries() if (entry_section, entry_key) == (section, key)]


def value(key: str, section: str = "Service") -> str:
    found = values(key, section)
    assert len(found) == 1, f"{section}.{key}: expected once, found {found}"
    return found[0]


def test_stop_sends_term_to_the_supervisor_only_and_waits_for_the_drain() -> None:
    assert value("KillMode") == "mixed"
    assert value("KillSignal") == "SIGTERM"
    config = load_yaml(SYSTEMD / "config.yaml")
    assert float(value("TimeoutStopSec")) > drain_budget(config)


def test_restarts_on_crashes_but_not_on_config_or_credential_errors() -> None:
    assert value("Restart") == "on-failure"
    assert {int(code) for code in value("RestartPreventExitStatus").split()} == {EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED}
    assert int(value("StartLimitBurst", "Unit")) >= 1


def test_runs_the_installed_runner_with_its_config_and_secrets() -> None:
    assert value("ExecStart") == f"{INSTALLED_BINARY} run --config {INSTALLED_CONFIG}"
    assert value("EnvironmentFile") == "/etc/xenon-runner/runner.env"
    assert value("User") == value("Group") == "xenon-runner"


def test_reload_checks_the_config_then_sends_sighup() -> None:
    assert values("ExecReload") == [f"{INSTALLED_BINARY} check-config --config {INSTALLED_CONFIG}",
                                    "/bin/kill -HUP $MAINPID"]


def test_the_metrics_directory_is_the_writable_runtime_directory() -> None:
    runtime = Path("/run") / value("RuntimeDirectory")
    multiproc = Path(load_yaml(SYSTEMD / "config.yaml")["metrics"]["multiproc_dir"])
    assert runtime in multiproc.parents


@pytest.mark.parametrize("key, expected", sorted(HARDENING.items()))
def test_hardening(key: str, expected: str) -> None:
    assert value(key) == expected


def test_install_target() -> None:
    assert value("WantedBy", "Install") == "multi-user.target"


def test_readme_installs_the_paths_the_unit_uses() -> None:
    readme = (SYSTEMD / "README.md").read_text()
    for path in (INSTALLED_BINARY.rsplit("/bin/", 1)[0], INSTALLED_CONFIG, value("EnvironmentFile"),
                 "/etc/systemd/system/xenon-runner.service"):
        assert path in readme, path
    assert "useradd --system" in readme and value("User") in readme


def verifiable_copy(tmp_path: Path) -> Path:
    """The unit with the runner's install path replaced by an existing binary: verify checks that
    every Exec*= command exists, and the runner is not installed in /opt on a test machine."""
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, "/bin/true"))
    return copy


def test_systemd_accepts_the_unit(systemd_analyze: str, tmp_path: Path) -> None:
    result = run_tool([systemd_analyze, "verify", str(verifiable_copy(tmp_path))])
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", f"systemd-analyze verify warns:\n{result.stderr}"


def test_systemd_rates_the_unit_well_hardened(systemd_analyze: str, tmp_path: Path) -> None:
    result = run_tool([systemd_analyze, "security", "--offline=true", str(verifiable_copy(tmp_path))])
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert overall, result.stdout + result.stderr
    assert float(overall.group(1)) <= MAX_EXPOSURE, result.stdout
