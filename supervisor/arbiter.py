"""The supervisor's loop: keep the pool running and answer for every job its workers hold.

    wait for an event → read worker messages → handle signals → reap dead workers
    → hand out lease permits → enforce timeouts → start, stop and scale workers → publish

Signal handlers do nothing at all: Python's C-level handler writes each signal's number to
the wakeup fd, which ends the loop's wait and is read as the queue of signals (one byte per
delivery; Python-level handlers would merge deliveries that arrive between two checks).
Everything else runs in the loop, on monotonic clocks. Worker messages and deaths are handled
by ``PoolManager`` (``pool.py``, with ``pool_messages.py``, ``deaths.py``, ``watchdog.py``,
``roller.py``, ``spawner.py`` and ``waiter.py``); when and how the run stops, and its exit
code, are decided by ``Shutdown`` (``stopping.py``) alone. This module holds the lifecycle:
start, signals, reload and the loop.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from shared.config.sections import RunnerConfig
from shared.http.redact import redact
from supervisor import __version__
from supervisor.config import ConfigError, Problem, load_config
from supervisor.config.errors import PATH_CHARS, quote

from .cloud_target import CloudTarget, configured_keys, connect_cloud
from .exitcodes import EXIT_CONFIG, EXIT_ERROR, EXIT_OK
from .logs import build_log_handlers, install_log_handlers, setup_logging
from .metrics_dir import MetricsDirectory
from .observability.http_server import StatusServer
from .observability.pool_collector import CONFIG_RELOADS
from .observability.snapshot import PoolSnapshot
from .pool import PoolManager
from .stopping import Shutdown, StopReason
from .waiter import Waiter

log = logging.getLogger("xenon.supervisor")

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
LOOP_TICK = 0.5   # seconds: the longest the loop sleeps, which bounds every timer's lateness
RELOAD_PROBLEMS_SHOWN = 10   # problems quoted in a refused reload's one log record (check-config lists all)
# Settings a reload cannot apply (the running value is kept): key path → how to read it from a config.
RESTART_ONLY: tuple[tuple[str, Callable[[RunnerConfig], Any]], ...] = (
    ("metrics.listen", lambda c: c.metrics.listen), ("metrics.multiproc_dir", lambda c: c.metrics.multiproc_dir),
    ("cloud.base_url", lambda c: c.cloud.base_url), ("pool.start_method", lambda c: c.pool.start_method))


class Arbiter:
    """The supervisor process: logging, metrics directory, cloud, HTTP endpoint, signals and the loop."""

    def __init__(self, *, config: RunnerConfig, config_path: str | None = None,
                 overrides: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self._config_path = config_path
        self._overrides = dict(overrides or {})
        self._signals: deque[int] = deque()
        self._wakeup_r, self._wakeup_w = os.pipe()
        self._waiter = Waiter()
        self._waiter.watch(self._wakeup_r)
        self.shutdown = Shutdown(clock=time.monotonic)   # the stop decision and the exit code
        self.pool: PoolManager | None = None
        self._cloud: CloudTarget | None = None
        self._metrics_dir: MetricsDirectory | None = None
        self._http: StatusServer | None = None
        self._started = time.monotonic()
        self._reloads: dict[str, int] = {"ok": 0, "error": 0}   # SIGHUPs by result, replaced whole on change

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Run the pool until it stops; returns the process exit code."""
        try:
            self.start()
            pool = self.pool
            while not self.shutdown.ended and pool is not None:
                ready = self.wait_for_events(pool.next_wakeup(LOOP_TICK))
                pool.read_messages(ready)
                self.handle_signals()
                pool.reap_workers(ready)
                pool.grant_leases()
                pool.enforce_timeouts()
                pool.manage_workers()
                pool.check_stop_conditions()
                pool.publish_snapshot()
        except Exception:  # a bug must still stop the workers and fail their jobs
            log.exception("the supervisor's loop failed; stopping the pool")
            self.shutdown.end(EXIT_ERROR)
        finally:
            self.stop()
        code = self.shutdown.exit_code
        jobs = f": jobs {self.pool.outcome_summary()}" if self.pool is not None else ""
        log.info("stopped (exit %d)%s", code, jobs)
        return code

    def wait_for_events(self, timeout: float) -> set[Any]:
        """What woke the loop: worker pipes and sentinels, and signals (queued for ``handle_signals``)."""
        ready = self._waiter.wait(timeout)
        if self._wakeup_r in ready:
            try:
                woken_by = os.read(self._wakeup_r, 4096)
            except BlockingIOError:
                woken_by = b""
            # Signal numbers, and zeros from wake() (another thread's news).
            self._signals.extend(signum for signum in woken_by if signum in HANDLED_SIGNALS)
        return ready

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Set everything up and start the first workers; a metrics address already taken sets exit 2."""
        try:
            setup_logging(self.config.logging)
        except OSError as exc:   # validated, so it went away since: still a config problem, not a crash
            log.error("logging.file: cannot open %s: %s", quote(self.config.logging.file, PATH_CHARS),
                      exc.strerror or exc)
            self.shutdown.end(EXIT_CONFIG)
            return
        self._metrics_dir = MetricsDirectory.prepare(self.config.metrics.multiproc_dir)
        self._cloud = connect_cloud(self.config)
        self.pool = PoolManager(config=self.config, cloud=self._cloud, metrics_dir=self._metrics_dir.path,
                                waiter=self._waiter, wake=self.wake, started=self._started, shutdown=self.shutdown)
        self._http = StatusServer(listen=self.config.metrics.listen, metrics_dir=self._metrics_dir.path,
                                  snapshot=self.snapshot)
        try:
            self._http.start()
        except OSError as exc:
            log.error("cannot listen on metrics.listen %s: %s; pick a free HOST:PORT (or port 0)",
                      self.config.metrics.listen, exc.strerror)
            self.shutdown.end(EXIT_CONFIG)
            return
        self.install_signal_handlers()
        log.info("xenon-runner %s: %d workers, model %s, cloud %s, metrics and status on %s "
                 "(/metrics /healthz /readyz /status)", __version__, self.config.pool.workers,
                 self.config.model.name, "embedded emulator at " + self._cloud.url if self._cloud.emulator
                 else self._cloud.url, self._http.url)
        self.pool.start_workers()

    def stop(self) -> None:
        """Release everything the run holds; safe to call when start stopped halfway."""
        if self.pool is not None:
            self.pool.kill_all()
            self.pool.close()
        if self._http is not None:
            self._http.stop()
        if self._cloud is not None:
            self._cloud.close()
        if self._metrics_dir is not None:
            self._metrics_dir.cleanup()
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        self._waiter.close()

    def wake(self) -> None:
        """Make the loop's wait return (safe from any thread)."""
        try:
            os.write(self._wakeup_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the loop is waking anyway

    # --- signals -----------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """Route every handled signal to the wakeup fd (see the module docstring)."""
        os.set_blocking(self._wakeup_w, False)
        os.set_blocking(self._wakeup_r, False)
        signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, _ignore_in_python)   # the C handler still feeds the wakeup fd

    def handle_signals(self) -> None:
        """Act on the signals queued since the last turn, in the order they arrived."""
        pool = self.pool
        assert pool is not None
        while self._signals:
            signum = self._signals.popleft()
            name = signal.Signals(signum).name
            if signum == signal.SIGTERM and not self.shutdown.draining:
                log.info("SIGTERM: draining; in-flight jobs have %gs to finish (send SIGTERM again or SIGINT "
                         "to fail them now)", self.config.pool.graceful_timeout)
                pool.drain(StopReason.SIGTERM, graceful_timeout=self.config.pool.graceful_timeout)
            elif signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                log.warning("%s: failing in-flight jobs now and exiting", name)
                pool.abort(StopReason.SHUTTING_DOWN, exit_code=EXIT_OK)
            elif signum == signal.SIGHUP:
                self.reload()
            elif signum == signal.SIGTTIN:
                pool.scale(+1)
            elif signum == signal.SIGTTOU:
                pool.scale(-1)

    def reload(self) -> None:
        """SIGHUP: reload the config, all or nothing.

        Everything that can fail — reading and validating the file (the same ``load_config``
        as ``check-config``), opening the new log file, the new cloud keys — happens before
        anything is swapped; a failure at any step logs one error naming the key, counts
        ``xenon_runner_config_reloads_total{result="error"}`` and leaves the running config,
        workers and log handlers exactly as they were.
        """
        assert self.pool is not None
        try:
            config, handlers, cloud = self._prepare_reload()
        except ConfigError as exc:
            shown = [str(problem) for problem in exc.problems[:RELOAD_PROBLEMS_SHOWN]]
            more = len(exc.problems) - len(shown)
            self._reload_failed("; ".join(shown) + (f"; and {more} more (run check-config)" if more > 0 else ""))
            return
        except Exception as exc:  # no reload failure may stop the pool
            self._reload_failed(f"{type(exc).__name__}: {redact(exc)}")
            return
        install_log_handlers(handlers, config.logging)
        self._warn_restart_only(config)
        self._cloud = cloud
        self.config = self._keep_restart_only_settings(config)
        # None only under a test's stand-in pool: run() connects the cloud before it builds the pool.
        self.pool.reload(self.config, cloud)  # type: ignore[arg-type]
        self._count_reload("ok")

    def _prepare_reload(self) -> tuple[RunnerConfig, list[logging.Handler], CloudTarget | None]:
        """The new config, its log handlers and cloud target; ConfigError naming the key on failure."""
        config = load_config(self._config_path, overrides=self._overrides)
        cloud = self._cloud
        if cloud is not None and cloud.emulator is None:
            cloud = CloudTarget(url=cloud.url, tokens=configured_keys(config))
        try:   # last: nothing after it can fail and leave its file open
            handlers = build_log_handlers(config.logging)
        except OSError as exc:
            shown = quote(config.logging.file, PATH_CHARS)
            raise ConfigError([Problem("logging.file", f"cannot open {shown}: {exc.strerror or exc}")]) from None
        return config, handlers, cloud

    def _reload_failed(self, reason: str) -> None:
        log.error("SIGHUP: the new configuration is invalid, keeping the running one: %s", reason)
        self._count_reload("error")

    def _count_reload(self, result: str) -> None:
        # A new dict, never mutated: the HTTP thread may be reading the old one.
        self._reloads = {**self._reloads, result: self._reloads[result] + 1}

    def snapshot(self) -> PoolSnapshot:
        """The pool's latest snapshot with the reload counts (for the HTTP thread: reference reads only)."""
        assert self.pool is not None
        snap = self.pool.snapshot()
        return replace(snap, extra={**snap.extra, CONFIG_RELOADS: self._reloads})

    def _warn_restart_only(self, config: RunnerConfig) -> None:
        changed = [name for name, value in RESTART_ONLY if value(config) != value(self.config)]
        if changed:
            log.warning("SIGHUP: %s cannot change without a restart; keeping the running value(s)", ", ".join(changed))

    def _keep_restart_only_settings(self, config: RunnerConfig) -> RunnerConfig:
        """``config`` with the settings a reload cannot apply put back to their running values."""
        running = self.config
        return replace(config, metrics=running.metrics,
                       cloud=replace(config.cloud, base_url=running.cloud.base_url),
                       pool=replace(config.pool, start_method=running.pool.start_method))


def _ignore_in_python(signum: int, frame: object) -> None:
    """Installed for each handled signal so that Python's C handler runs and writes the wakeup fd."""
