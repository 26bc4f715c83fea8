"""Checks against the machine: can the paths the configuration names be used as it says?

``run`` and a reload open the log file and prepare the metrics directory; a path they would
fail on is refused here, during validation, so that ``check-config`` (and a systemd
``ExecReload`` guarded by it) refuses what a reload would refuse. These checks create and
change nothing: ``stat``, ``access``, and opening an existing log file for append.
"""
from __future__ import annotations

import os
import stat

from shared.config.sections import LoggingConfig, MetricsConfig

from .errors import PATH_CHARS, Problem, quote


def path_problems(logging: LoggingConfig, metrics: MetricsConfig) -> list[Problem]:
    """What is wrong with ``logging.file`` and ``metrics.multiproc_dir`` on this machine."""
    problems = []
    if logging.file is not None:
        problem = log_file_problem(logging.file)
        if problem:
            problems.append(Problem("logging.file", problem))
    if metrics.multiproc_dir is not None:
        problem = directory_problem(metrics.multiproc_dir)
        if problem:
            problems.append(Problem("metrics.multiproc_dir", problem))
    return problems


def log_file_problem(path: str) -> str | None:
    """Why logs cannot be appended to ``path`` (an existing file, or one its directory can hold)."""
    if not path.strip() or "\0" in path:
        return f"expected a file path, got {_path(path)}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            return f"cannot create {_path(path)}: the directory {_path(parent)} does not exist"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot create {_path(path)}: the directory {_path(parent)} is not writable"
        return None
    except OSError as exc:
        return f"cannot use {_path(path)}: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return f"{_path(path)} is a directory; name a file in it"
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return f"{_path(path)} is a FIFO or socket (opening it could block); name a regular file"
    try:   # open it as the log handler will: append (nothing in it changes) and seek to its end
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot append to {_path(path)}: {exc.strerror}"
    return None


def directory_problem(path: str) -> str | None:
    """Why ``path`` cannot be used (or created) as a writable directory."""
    if not path.strip() or "\0" in path:
        return f"expected a directory path, got {_path(path)}"
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):   # the nearest part that exists must let us create the rest
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"cannot create {_path(path)}: {_path(existing)} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{_path(existing)} is not writable"
    return None


def _path(path: str) -> str:
    return quote(path, PATH_CHARS)
