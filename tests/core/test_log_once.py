"""Worker notices relayed once per pool (supervisor/log_once.py ``OncePerPool``), and the relay
in ``WorkerMessages`` that applies it to the records of every worker's pipe."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pipe.messages import FIELD_LIMIT, ONCE_PER_POOL, LogRecordMessage
from supervisor.log_once import MAX_KEYS, OncePerPool
from tests.core.fakes import MessagesRig


def record(message: str, key: Any = None, *, slot: int = 0) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": "xenon.worker.model", "levelno": logging.WARNING, "levelname": "WARNING",
                              "msg": message, "slot": slot, "workspace_id": "ws"}
    if key is not None:
        fields[ONCE_PER_POOL] = key
    return fields


def test_the_first_record_with_a_key_is_relayed_and_its_repeats_are_dropped() -> None:
    once = OncePerPool()
    assert once.admits(record("tools ignored", "model-ignores-tools", slot=0))
    assert not once.admits(record("tools ignored", "model-ignores-tools", slot=1))
    assert once.admits(record("another notice", "other-key"))   # keys are independent
    assert not once.admits(record("tools ignored, other words", "model-ignores-tools"))   # the key decides


@pytest.mark.parametrize("key", [None, "", 7, ["model-ignores-tools"], {"k": 1}])
def test_records_without_a_text_key_are_always_relayed(key: Any) -> None:
    once = OncePerPool()
    fields = record("plain", key)
    assert once.admits(fields) and once.admits(fields) and once.admits(fields)


def test_a_record_that_is_not_a_mapping_is_left_to_the_relay() -> None:
    assert OncePerPool().admits(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_keys_are_cut_at_the_field_limit() -> None:
    once = OncePerPool()
    assert once.admits(record("x", "k" * FIELD_LIMIT + "first"))
    assert not once.admits(record("x", "k" * FIELD_LIMIT + "second"))


def test_at_most_max_keys_are_remembered_and_the_oldest_is_forgotten_first() -> None:
    once = OncePerPool()
    for n in range(MAX_KEYS + 1):   # one fresh key more than the cap
        assert once.admits(record("flood", f"key-{n}"))
    assert once.admits(record("flood", "key-0")), "the oldest key was forgotten"
    # key-1 went out to make room for key-0 again; the newest MAX_KEYS - 1 are still remembered.
    assert not any(once.admits(record("flood", f"key-{n}")) for n in range(2, MAX_KEYS + 1))


@settings(max_examples=60)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=40), st.integers(min_value=1, max_value=6))
def test_with_room_for_every_key_exactly_the_first_of_each_is_relayed(keys: list[str], cap: int) -> None:
    once = OncePerPool(max_keys=max(cap, 5))
    relayed = [n for n, key in enumerate(keys) if once.admits(record("m", key))]
    assert relayed == [keys.index(key) for key in dict.fromkeys(keys)]


@settings(max_examples=60)
@given(st.lists(st.text(max_size=3), max_size=60), st.integers(min_value=1, max_value=4))
def test_a_key_is_dropped_only_when_it_was_relayed_within_the_last_cap_fresh_keys(keys: list[str],
                                                                                  cap: int) -> None:
    once = OncePerPool(max_keys=cap)
    remembered: list[str] = []   # a model of the rule: fresh keys, oldest first, at most ``cap``
    for key in keys:
        expected = not key or key not in remembered
        assert once.admits(record("m", key)) == expected
        if key and expected:
            remembered = (remembered + [key])[-cap:]


def test_the_pool_relays_a_once_per_pool_notice_from_two_workers_once(caplog: pytest.LogCaptureFixture) -> None:
    rig = MessagesRig()
    caplog.set_level(logging.INFO, logger="xenon.worker.model")
    for slot in (0, 1):   # one worker's pipe, then (after a recycle or in another slot) the next one's
        worker, _ = rig.worker(LogRecordMessage(record("tools ignored", "model-ignores-tools", slot=slot)),
                               LogRecordMessage(record("job done", slot=slot)))
        rig.deliver(worker)
    relayed = [r.getMessage() for r in caplog.records if r.name == "xenon.worker.model"]
    assert relayed == ["tools ignored", "job done", "job done"]
