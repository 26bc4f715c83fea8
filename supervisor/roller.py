"""Rolling restart after SIGHUP: replace every worker, one at a time.

Each worker runs the config of the generation it was started with. After a reload the
roller asks the oldest-config workers to stop one by one (each finishes its job first) and
moves on only when the replacement in that slot has reported READY, so the pool never has
more than one worker fewer than usual while it rolls.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from .slots import SlotState, WorkerSlot


class Roller:
    """Which worker to stop next while a SIGHUP roll is under way (see the module docstring)."""

    def __init__(self) -> None:
        self.generation = 0                 # config generation new workers start with
        self._queue: deque[int] = deque()   # slots still to roll, in order
        self._current: int | None = None    # the slot whose replacement we wait for

    def start(self, slots: Mapping[int, WorkerSlot]) -> int:
        """A new config generation: queue every slot that has a worker; returns how many."""
        self.generation += 1
        self._queue = deque(sorted(index for index, slot in slots.items() if slot.process is not None))
        self._current = None
        return len(self._queue)

    def on_ready(self, slot: int) -> None:
        """A worker reported READY: if it replaced the one being rolled, roll the next."""
        if self._current == slot:
            self._current = None

    def next_to_stop(self, slots: Mapping[int, WorkerSlot]) -> WorkerSlot | None:
        """The next worker to stop now, or None while a replacement is still on its way."""
        if self._current is not None:
            current = slots.get(self._current)
            if current is not None and current.state != SlotState.PARKED:
                return None
            self._current = None   # the slot was removed or parked: its replacement is not coming
        while self._queue:
            slot = slots.get(self._queue.popleft())
            if slot is not None and slot.process is not None and slot.config_generation < self.generation:
                self._current = slot.slot
                return slot
        return None
