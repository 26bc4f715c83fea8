"""The rolling restart after SIGHUP (supervisor/roller.py): one worker at a time, oldest config first,
the next only when the replacement in the rolled slot is READY."""
from __future__ import annotations

from supervisor.roller import Roller
from supervisor.slots import SlotState, WorkerSlot
from tests.core.fakes import live_slot


def _pool(count: int) -> dict[int, WorkerSlot]:
    return {index: live_slot(index, state=SlotState.IDLE, pid=100 + index) for index in range(count)}


def _replace(slots: dict[int, WorkerSlot], index: int, generation: int) -> None:
    """The rolled worker exited and its replacement (running ``generation``) started in the slot."""
    slots[index] = live_slot(index, state=SlotState.STARTING, pid=200 + index, config_generation=generation)


def test_a_roll_stops_one_worker_at_a_time_and_waits_for_its_replacement() -> None:
    roller, slots = Roller(), _pool(3)
    assert roller.start(slots) == 3 and roller.generation == 1
    first = roller.next_to_stop(slots)
    assert first is not None and first.slot == 0
    assert roller.next_to_stop(slots) is None      # never two workers short
    _replace(slots, 0, roller.generation)
    assert roller.next_to_stop(slots) is None      # the replacement is not READY yet
    roller.on_ready(1)                             # another slot's READY does not count
    assert roller.next_to_stop(slots) is None
    roller.on_ready(0)
    assert [roller.next_to_stop(slots).slot] == [1]   # type: ignore[union-attr]


def test_slots_already_on_the_new_config_or_empty_are_skipped() -> None:
    roller, slots = Roller(), _pool(4)
    roller.start(slots)
    slots[1].config_generation = roller.generation   # started after the reload
    slots[2].process = None                          # its worker is gone (waiting for a restart)
    assert roller.next_to_stop(slots).slot == 0      # type: ignore[union-attr]
    roller.on_ready(0)
    assert roller.next_to_stop(slots).slot == 3      # type: ignore[union-attr]
    roller.on_ready(3)
    assert roller.next_to_stop(slots) is None


def test_a_rolled_slot_that_parks_or_goes_away_does_not_stall_the_roll() -> None:
    roller, slots = Roller(), _pool(3)
    roller.start(slots)
    roller.next_to_stop(slots)
    slots[0].reaped(restart_at=0.0)                   # its replacement crashed too often
    slots[0].parked()
    assert roller.next_to_stop(slots).slot == 1       # type: ignore[union-attr]
    del slots[1]                                      # the pool shrank
    assert roller.next_to_stop(slots).slot == 2       # type: ignore[union-attr]


def test_a_second_reload_restarts_the_roll_with_the_newer_generation() -> None:
    roller, slots = Roller(), _pool(2)
    roller.start(slots)
    roller.next_to_stop(slots)
    assert roller.start(slots) == 2 and roller.generation == 2
    assert roller.next_to_stop(slots).slot == 0       # type: ignore[union-attr]
