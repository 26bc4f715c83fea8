"""The machine a run happened on: CPU, memory, Python, kernel and the code's commit."""
from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import subprocess
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
WANTED_NOFILE = 16384   # descriptors: the emulator runs in the bench's process, ~2 per open connection


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def raise_fd_limit(wanted: int = WANTED_NOFILE) -> int:
    """Raise this process's soft RLIMIT_NOFILE to ``wanted`` (at most the hard limit); returns the soft limit.

    The emulators live in the bench process, one thread and socket per kept-alive connection:
    1,000 job lanes (section l) need more than the usual soft limit of 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def machine_details() -> dict[str, Any]:
    """Facts that make two runs comparable (or explain why they are not)."""
    uname = platform.uname()
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "kernel": f"{uname.system} {uname.release}",
        "machine": uname.machine,
        "default_start_method": multiprocessing.get_start_method(allow_none=True) or "not set",
        "commit": _commit(),
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def describe(details: dict[str, Any]) -> str:
    """One line for the report header."""
    memory_gib = details["memory_bytes"] / 2 ** 30
    return (f"machine: {details['cpu_model']}, {details['usable_cpus']} usable CPUs "
            f"({details['physical_cpus']} physical), {memory_gib:.1f} GiB; {details['python']}; "
            f"{details['kernel']} {details['machine']}; fd limit {details.get('fd_limit', '?')}; "
            f"commit {details['commit'] or 'unknown'}")
