"""The benchmark harness end to end in its tiny mode, so it cannot rot.

This runs the real thing (``python -m bench --quick``: real runner process trees, naive
pollers, emulators on 127.0.0.1) and checks that every section ran and reported figures.
It asserts nothing about speed: quick figures are too small to mean anything.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pool import REPO, clean_env
from bench.sections import SECTIONS

SMOKE_TIMEOUT = 600   # seconds: safety net; the quick run takes well under a minute


@pytest.mark.timeout(SMOKE_TIMEOUT)
def test_quick_run_prints_and_writes_every_section(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          env=clean_env(), capture_output=True, text=True, timeout=SMOKE_TIMEOUT)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-5000:]}"
    out = done.stdout
    for key, module in SECTIONS.items():
        assert f"[{key}] {module.TITLE}" in out, f"section {key} missing from the report:\n{out}"
    assert "ERROR" not in out
    assert "machine: " in out and "usable CPUs" in out and "Linux" in out
    assert "sections with errors: none" in out

    document = json.loads((tmp_path / "latest.json").read_text())
    assert [section["key"] for section in document["sections"]] == list(SECTIONS)
    for section in document["sections"]:
        assert section["error"] is None, section
        assert section["rows"], f"section {section['key']} reported no figures"
        assert any(row["ours"] is not None for row in section["rows"])
    assert document["machine"]["logical_cpus"] >= 1
    assert document["machine"]["python"] and document["machine"]["kernel"]
    assert document["settings"]["quick"] is True

    calls = next(section for section in document["sections"] if section["key"] == "c")
    per_job = calls["rows"][0]
    assert per_job["baseline"] == pytest.approx(5.0), "the naive pool must make 5 calls per short job"

    for plot in (tmp_path / "throughput.png", tmp_path / "concurrency.png"):
        if f"plot written to {plot}" in out:
            assert plot.read_bytes().startswith(b"\x89PNG")
        else:
            assert "plot skipped: matplotlib is not installed" in out
            assert not plot.exists()


def test_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "a,z", "--out", str(tmp_path)], cwd=REPO,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--only takes section letters from a,b,c,d,e,f,g,h,i,j,l, got 'a,z'" in done.stderr
    assert not (tmp_path / "latest.json").exists()
