"""The loop's selector (supervisor/waiter.py) on real pipes: what is ready, and whose it is.

A turn finds the slots to read or reap from the ready fds' owners, so its cost follows
what is ready, not the number of workers.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from supervisor.waiter import Waiter


@pytest.fixture
def pipes() -> Iterator[list[tuple[int, int]]]:
    made = [os.pipe() for _ in range(3)]
    yield made
    for read_end, write_end in made:
        os.close(read_end)
        os.close(write_end)


def test_owners_are_those_of_the_ready_fds_each_once(pipes: list[tuple[int, int]]) -> None:
    waiter = Waiter()
    (wake_r, wake_w), (a_r, a_w), (b_r, b_w) = pipes
    owner_a, owner_b = object(), object()
    waiter.watch(wake_r)                        # no owner: the loop's own wakeup fd
    waiter.watch(a_r, owner=owner_a)
    waiter.watch(b_r, owner=owner_b)
    assert waiter.wait(0) == set()
    os.write(a_w, b"x")
    os.write(wake_w, b"\0")
    ready = waiter.wait(1.0)
    assert ready == {a_r, wake_r}
    assert waiter.owners(ready) == [owner_a]
    assert waiter.owners([a_r, a_r, b_r]) == [owner_a, owner_b]
    waiter.unwatch(a_r)
    assert waiter.owners(ready) == []          # gone from the selector: nobody's any more
    waiter.close()
