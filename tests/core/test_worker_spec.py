"""The worker's spec is narrow: its own runner key, one resolved cloud URL and the settings it reads.

Every worker process gets its spec pickled through ``multiprocessing``; whatever the spec holds,
a worker (and anything it runs: a model plugin, a crash dump) can read. So no other slot's
key may travel in it, and no section the worker does not use.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import pickle
import textwrap
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cloud.jobs import JobClient
from shared.config.sections import (
    CloudConfig,
    EmulatorConfig,
    LoggingConfig,
    MetricsConfig,
    ModelConfig,
    PoolConfig,
    RunnerConfig,
)
from shared.pipe.spec import WorkerSpec
from workers import main as worker_main

EMULATOR_URL = "http://127.0.0.1:40123"   # what `cloud.base_url: embedded` resolved to


def _keys(count: int) -> tuple[str, ...]:
    """``count`` runner keys, none a substring of another (so a byte search cannot confuse them)."""
    return tuple(f"cred-{index}.secret-{index}-of-the-pool-end" for index in range(count))


def _config(keys: tuple[str, ...]) -> RunnerConfig:
    """A multi-key config whose other sections carry values a byte search can find."""
    return RunnerConfig(cloud=CloudConfig(base_url="embedded", tokens=keys, connect_timeout=3.5),
                        pool=PoolConfig(job_timeout=77.0),
                        model=ModelConfig(name="builtin", api_key="sk-model-key-marker"),
                        metrics=MetricsConfig(listen="127.0.0.1:19464", multiproc_dir="/tmp/metrics-dir-marker"),
                        logging=LoggingConfig(level="debug", file="/tmp/log-file-marker"),
                        emulator=EmulatorConfig(listen="127.0.0.1:17777"))


def _spec(config: RunnerConfig, slot: int) -> WorkerSpec:
    keys = config.cloud.tokens
    return WorkerSpec.for_slot(config, slot=slot, token=keys[slot % len(keys)], cloud_url=EMULATOR_URL,
                               metrics_dir="/run/metrics", supervisor_pid=4242, alive_interval=15.0)


def _dataclasses_in(value: Any) -> Iterator[type]:
    """The type of every dataclass instance reachable from ``value`` (``value``'s own included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield type(value)
        for item in dataclasses.fields(value):
            yield from _dataclasses_in(getattr(value, item.name))


@settings(max_examples=30)
@given(count=st.integers(min_value=1, max_value=6), slot=st.integers(min_value=0, max_value=40))
def test_a_worker_spec_carries_its_own_key_and_no_other(count: int, slot: int) -> None:
    keys = _keys(count)
    pickled = pickle.dumps(_spec(_config(keys), slot))
    own = keys[slot % count]
    assert pickled.count(own.encode()) == 1
    assert [key for key in keys if key != own and key.encode() in pickled] == []


def test_a_worker_spec_holds_one_resolved_url_and_only_the_sections_the_worker_reads() -> None:
    config = _config(_keys(3))
    spec = _spec(config, slot=1)
    pickled = pickle.dumps(spec)
    assert spec.cloud.base_url == EMULATOR_URL and pickled.count(EMULATOR_URL.encode()) == 1
    assert b"embedded" not in pickled
    assert (spec.cloud.token, spec.cloud.tokens) == (None, ())     # the key travels once, as spec.token
    assert spec.cloud.connect_timeout == 3.5 and spec.model == config.model
    assert (spec.job_timeout, spec.log_level) == (77.0, "debug")
    for marker in (b"metrics-dir-marker", b"log-file-marker", b"19464", b"17777"):
        assert marker not in pickled, marker
    assert set(_dataclasses_in(spec)) == {WorkerSpec, CloudConfig, ModelConfig}


def _attributes_read(function: Any, name: str) -> set[str]:
    """The attributes ``function``'s source reads of the variable ``name`` (``name.attr``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name}


def test_the_worker_reads_every_field_of_its_spec() -> None:
    """No field the worker does not use: ``run_worker`` reads each one, and of the cloud section
    the client reads everything but the keys, which ``for_slot`` blanks (checked above)."""
    fields = {item.name for item in dataclasses.fields(WorkerSpec)}
    assert fields - _attributes_read(worker_main.run_worker, "spec") == set()
    cloud_fields = {item.name for item in dataclasses.fields(CloudConfig)}
    read_by_client = _attributes_read(JobClient.from_config, "cfg")
    assert cloud_fields - read_by_client == {"token", "tokens"}
