"""The loop's one wait: a selector kept for the supervisor's life over every fd that can wake it.

``multiprocessing.connection.wait`` builds a fresh selector over all its objects on every
call, and reading ``Process.exitcode`` under forkserver builds one more per worker. With N
workers each loop turn cost O(N) selector set-up, and an idle pool turns the loop about
N/5 times a second (each worker's sign of life), so the idle supervisor's CPU grew with N².
Here each fd is registered once, when its worker starts, and removed when the worker is
reaped, with its owner (the worker's slot), so a turn finds the slots to read or reap from
what is ready instead of walking every slot: a turn costs only what is ready.
"""
from __future__ import annotations

import selectors
from collections.abc import Iterable
from typing import Any


class Waiter:
    """The loop's selector over the wakeup fd and every live worker's sentinel and pipe."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def watch(self, *objects: Any, owner: Any = None) -> None:
        """Wake the loop when any of ``objects`` (fds or objects with ``fileno()``) is readable;
        ``owner`` is what ``owners`` answers for them."""
        for obj in objects:
            self._selector.register(obj, selectors.EVENT_READ, owner)

    def unwatch(self, *objects: Any) -> None:
        """Stop watching ``objects``; call before closing them."""
        for obj in objects:
            try:
                self._selector.unregister(obj)
            except (KeyError, ValueError):
                pass   # never watched, or already closed

    def wait(self, timeout: float) -> set[Any]:
        """The watched objects that are readable, after at most ``timeout`` seconds."""
        return {key.fileobj for key, _ in self._selector.select(timeout)}

    def owners(self, ready: Iterable[Any]) -> list[Any]:
        """The owners of the watched objects in ``ready``, each once, in no particular order."""
        found: dict[int, Any] = {}
        for obj in ready:
            try:
                owner = self._selector.get_key(obj).data
            except (KeyError, ValueError):
                continue   # unwatched since, or closed
            if owner is not None:
                found[id(owner)] = owner
        return list(found.values())

    def close(self) -> None:
        self._selector.close()
