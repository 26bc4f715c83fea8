"""``serve``: run the emulator in the foreground until SIGINT or SIGTERM (``xenon-runner emulator``)."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from emulator.server import EmulatorServer
from shared.config.sections import EmulatorConfig

log = logging.getLogger("xenon.emulator")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WAKE_INTERVAL = 0.5  # seconds between checks for a stop signal


def serve(*, config: EmulatorConfig, on_ready: Callable[[EmulatorServer], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly. Call from the main thread.

    ``on_ready`` runs once the emulator is listening (the CLI prints the URL and admin ID
    token from it); this function prints nothing and logs to ``xenon.emulator``.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()  # only flag it: the loop below does the work

    previous = {sig: signal.signal(sig, request_stop) for sig in _STOP_SIGNALS}
    try:
        with EmulatorServer(config=config) as server:
            if on_ready is not None:
                on_ready(server)
            while not stop.wait(_WAKE_INTERVAL):
                pass
            log.info("emulator stopping on signal")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
