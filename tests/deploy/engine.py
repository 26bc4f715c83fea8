"""Podman for the real-image tests, set up for the machines CI runs on, in a folder of the test run.

Why each setting (facts of a Firecracker VM with cgroup v1 plus a cgroup2 mount, root without
CAP_SYS_RESOURCE, no systemd):

- ``runtime = "runc"``: crun refuses the hybrid cgroup layout.
- ``default_ulimits`` no higher than this process's hard limits (``nofile``) and 32768 (``nproc``):
  rootful podman otherwise raises them to ~1M, and without CAP_SYS_RESOURCE every container then
  fails in setrlimit.
- ``cgroup_manager = "cgroupfs"`` and ``events_logger = "file"``: there is no systemd/journald.
- Config, storage, run state, networks and events all live under one folder given by the test run
  (``CONTAINERS_CONF``, ``CONTAINERS_STORAGE_CONF``), so nothing touches the machine's podman set-up
  and removing the folder (after :meth:`Podman.reset`) removes everything the tests made.
- No systemd means no healthcheck timers: tests run ``podman healthcheck run`` themselves.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

NPROC_CEILING = 32768   # processes: above this setrlimit fails on these machines
COMMAND_TIMEOUT = 120.0   # seconds for one podman command unless the caller says otherwise


def _ulimit(limit: int, ceiling: int) -> int:
    """The hard limit, capped at ``ceiling`` (RLIM_INFINITY counts as no limit)."""
    return ceiling if limit == resource.RLIM_INFINITY else min(limit, ceiling)


def containers_conf(folder: Path) -> str:
    """containers.conf text for the rules in the module docstring."""
    nofile = _ulimit(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
    nproc = _ulimit(resource.getrlimit(resource.RLIMIT_NPROC)[1], NPROC_CEILING)
    return "\n".join([
        "[containers]",
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]',
        "[engine]",
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        f'events_logfile_path = "{folder / "events.log"}"',
        f'tmp_dir = "{folder / "tmp"}"',
        f'volume_path = "{folder / "volumes"}"',
        "[network]",
        f'network_config_dir = "{folder / "networks"}"',
        "",
    ])


def storage_conf(folder: Path) -> str:
    return "\n".join([
        "[storage]",
        'driver = "overlay"',
        f'graphroot = "{folder / "storage"}"',
        f'runroot = "{folder / "runroot"}"',
        "",
    ])


class Podman:
    """Runs podman (and podman-compose) against the folder-local configuration."""

    def __init__(self, folder: Path, executable: str) -> None:
        self.folder = folder
        self.executable = executable
        for name in ("tmp", "volumes", "networks"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / "containers.conf").write_text(containers_conf(folder))
        (folder / "storage.conf").write_text(storage_conf(folder))

    def env(self) -> dict[str, str]:
        """The environment every podman (or podman-compose) call of the tests gets."""
        env = dict(os.environ)
        env["CONTAINERS_CONF"] = str(self.folder / "containers.conf")
        env["CONTAINERS_STORAGE_CONF"] = str(self.folder / "storage.conf")
        env["TMPDIR"] = str(self.folder / "tmp")
        return env

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``podman ARGS``; with ``check`` a non-zero exit fails the test quoting stderr."""
        completed = subprocess.run([self.executable, *args], env=self.env(), capture_output=True, text=True,
                                   errors="replace", timeout=timeout)
        if check and completed.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {completed.returncode}:\n"
                                 f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
        return completed

    def works(self) -> str | None:
        """Why podman cannot work here (``podman info`` fails with this set-up), or None."""
        info = self.run("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}", check=False)
        if info.returncode != 0:
            return f"podman info failed: {info.stderr.strip()[-500:]}"
        return None

    def reset(self) -> None:
        """Remove every container, pod, image, network and volume of this folder, then the folder."""
        self.run("system", "reset", "--force", check=False, timeout=300)
        shutil.rmtree(self.folder, ignore_errors=True)
