"""Defect 6 (status table, commands) and URL passwords: what `status`, `instances`, /status and check-config show.

A workspaceId comes from the cloud; before the fix the status table printed it raw, so a
``\\n`` in it forged table rows and ANSI escapes reached the operator's terminal; the
``instances`` command printed the cloud's ids, names and error texts raw too. A password in
the cloud URL (``https://user:pass@host``) showed in /status and in check-config's output.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http.escape import UNSAFE
from supervisor.commands.status import CELL_LIMIT, render
from supervisor.observability.http_server import StatusServer
from supervisor.observability.snapshot import PoolSnapshot
from tests.cloud.cli import run as run_instances
from tests.cloud.conftest import ID_TOKEN
from tests.cloud.standin import StandIn, answer
from tests.harness import REPO, runner_env
from tests.hostile.logs_support import ANSI, FORGED

URL_PASSWORD = "pa55-in-the-url-0xZ"


def worker(workspace_id: Any, **fields: Any) -> dict[str, Any]:
    base = {"slot": 0, "pid": 41, "state": "busy", "workspaceId": workspace_id, "attempt": 1, "jobs_done": 3,
            "restarts": 0, "rss_bytes": 2 ** 20, "cpu_percent": 1.5, "uptime_seconds": 9.0}
    return {**base, **fields}


def document(*workers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"version": "1.0", "pid": 7, "uptime_seconds": 60, "states": {"busy": len(workers)}, "draining": False,
            "model": "builtin", "cloud": "http://127.0.0.1:8080", "workers": list(workers)}
    return {**base, **fields}


def test_a_forged_row_or_terminal_escape_in_a_workspace_id_stays_in_its_cell() -> None:
    table = render(document(worker(f"ws-1{FORGED}{ANSI}"), worker("w" * 100_000, slot=1),
                            model=f"m{ANSI}", cloud=f"https://runner:{URL_PASSWORD}@cloud.example/"))
    lines = table.split("\n")
    assert len(lines) == 4 and len(table.splitlines()) == 4, lines
    assert UNSAFE.search(table.replace("\n", "")) is None
    assert "ws-1\\n2026-12-01 00:00:00,000 ERROR" in lines[2] and "model m\\x1b[2J" in lines[0]
    assert "w" * (CELL_LIMIT + 1) not in table and "…[+" in lines[3]
    assert URL_PASSWORD not in table and "https://runner:***@cloud.example/" in lines[0]


CELL = st.one_of(st.text(st.characters(blacklist_categories=()), max_size=30), st.none(), st.integers())


JOBS = st.one_of(st.lists(st.dictionaries(st.text(max_size=5), CELL, max_size=2), max_size=3), CELL)


@settings(max_examples=60)
@given(workspace_ids=st.lists(CELL, max_size=4), state=CELL, version=CELL, model=CELL, reason=CELL, jobs=JOBS,
       job_slots=st.one_of(CELL, st.booleans()))
def test_the_table_is_one_safe_line_per_worker_whatever_the_document_holds(
        workspace_ids: list[Any], state: Any, version: Any, model: Any, reason: Any, jobs: Any,
        job_slots: Any) -> None:
    workers = [worker(workspace_id, slot=index, state=state, jobs=jobs, job_slots=job_slots)
               for index, workspace_id in enumerate(workspace_ids)]
    table = render(document(*workers, version=version, model=model, draining=True, stop_reason=reason))
    assert len(table.splitlines()) == len(table.split("\n")) == 2 + len(workers)
    assert UNSAFE.search(table.replace("\n", "")) is None
    table.encode("utf-8")


@pytest.fixture
def hostile_status() -> Iterator[tuple[str, list[Any]]]:
    """A loopback HTTP server answering /status with whatever the test puts in the list."""
    answers: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's naming
            body = json.dumps(answers[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()


def status_command(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", "status", "--url", url], cwd=REPO, env=runner_env(),
                          capture_output=True, text=True, timeout=60)


def test_the_status_command_prints_a_hostile_document_safely(hostile_status: tuple[str, list[Any]]) -> None:
    url, answers = hostile_status
    answers.append(document(worker(f"ws-1{FORGED}{ANSI}")))
    done = status_command(url)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3 and "\x1b" not in done.stdout
    answers[0] = document(worker("ws-2", cpu_percent="lots"), uptime_seconds="forever")
    done = status_command(url)
    assert done.returncode == 1 and "unexpected document" in done.stderr and "Traceback" not in done.stderr


def test_status_masks_a_password_in_the_cloud_url() -> None:
    snapshot = PoolSnapshot(loop_heartbeat=time.monotonic(), cloud_url=f"https://runner:{URL_PASSWORD}@cloud.example")
    server = StatusServer(listen="127.0.0.1:0", metrics_dir="/nonexistent", snapshot=lambda: snapshot)
    server.start()
    try:
        status = requests.get(server.url + "/status", timeout=10).json()
    finally:
        server.stop()
    assert status["cloud"] == "https://runner:***@cloud.example"


def test_check_config_masks_a_password_in_the_cloud_url(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"cloud: {{base_url: 'https://runner:{URL_PASSWORD}@cloud.example', token: cred-1.secret1234}}\n"
                      "model: {name: builtin}\n")
    done = subprocess.run([sys.executable, "-m", "supervisor", "check-config", "--config", str(config)], cwd=REPO,
                          env=runner_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "https://runner:***@cloud.example" in done.stdout and URL_PASSWORD not in done.stdout + done.stderr


def test_the_instances_command_refuses_or_escapes_what_the_cloud_answers(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Ids and names with control characters are refused at the boundary (naming the field);
    # the cloud's error texts, which may say anything, are shown escaped.
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    made = {"instanceId": f"inst-1{FORGED}", "credentialId": f"cred-1{ANSI}", "runnerToken": "cred-1.key-1",
            "kind": "user", "name": "box\x1b]0;window title\x07"}
    with StandIn(answer(201, made), answer(404, {"error": f"no such instance{ANSI}"})) as server:
        assert run_instances(["instances", "create", "--name", "box", "--api-base", server.url]) == 1
        assert run_instances(["instances", "revoke", "--instance-id", "i", "--api-base", server.url]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out + err and "\n2026" not in out + err
    assert "field 'instanceId' contains the control character U+000A" in err
    assert "no such instance\\x1b[2J" in err


def test_the_jobs_column_shows_busy_over_slots_and_a_dash_for_what_is_not_a_count() -> None:
    rows = render(document(worker("ws-1", jobs=[{"workspaceId": "ws-1"}, {"workspaceId": "ws-2"}], job_slots=4),
                           worker(None, slot=1, jobs="many", job_slots=4),
                           worker(None, slot=2, jobs=[], job_slots=True),
                           worker(None, slot=3))).splitlines()
    assert rows[1].split()[:4] == ["slot", "pid", "state", "jobs"]
    assert [row.split()[3] for row in rows[2:]] == ["2/4", "-", "-", "-"]
