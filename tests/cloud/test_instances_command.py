"""``xenon-runner instances``: flags, env defaults, output and exit codes (scripted loopback server)."""
from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.commands.instances import config_snippet, instance_names, key_variables
from supervisor.config.loader import load_config
from tests.cloud.cli import parser, run
from tests.cloud.conftest import ID_TOKEN
from tests.cloud.standin import StandIn, answer


def created(index: int, name: str | None = None) -> dict[str, object]:
    return {"instanceId": f"inst-{index}", "credentialId": f"cred-{index}", "runnerToken": f"cred-{index}.key-{index}",
            "kind": "user", "name": name}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XENONFLARE_ID_TOKEN", "RUNNER_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def test_missing_id_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["instances", "revoke", "--instance-id", "i", "--api-base", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no Studio ID token: set XENONFLARE_ID_TOKEN or pass --id-token" in err
    assert "Traceback" not in err


def test_insecure_api_base_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["instances", "--id-token", ID_TOKEN, "--api-base", "http://cloud.example.com",
                "revoke", "--instance-id", "i"])
    assert code == 2
    err = capsys.readouterr().err
    assert "plain http is allowed only for loopback hosts" in err
    assert ID_TOKEN not in err


@pytest.mark.parametrize("argv", [
    ["instances"], ["instances", "create", "--count", "0"], ["instances", "create", "--count", "x"],
    ["instances", "create", "--kind", "team"], ["instances", "rename", "--instance-id", "i"],
    ["instances", "create", "--name", "  "],
])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(argv)
    assert caught.value.code == 2
    assert "usage: xenon-runner instances" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["instances", "--help"], ["instances", "create", "--help"]])
def test_help_teaches_with_examples(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(argv)
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "XENONFLARE_ID_TOKEN" in out
    assert "xenon-runner instances create --kind user --name gpu-box --count 4" in out
    assert "exit codes: 0 success" in out


def test_flags_work_before_and_after_the_action_and_env_fills_the_rest(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    with StandIn(answer(200, {"ok": True}), answer(200, {"ok": True})) as server:
        monkeypatch.setenv("RUNNER_API_BASE", server.url)
        assert run(["instances", "revoke", "--instance-id", "inst-1"]) == 0
        assert run(["instances", "--id-token", "other.token-value", "revoke", "--instance-id", "inst-2"]) == 0
    assert [seen.headers["Authorization"] for seen in server.requests] == [f"Bearer {ID_TOKEN}",
                                                                          "Bearer other.token-value"]
    assert server.requests[0].body == {"instanceId": "inst-1"}
    assert "Revoked runner instance inst-1" in capsys.readouterr().out


def test_create_one_prints_the_key_once_with_export_and_yaml(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    with StandIn(answer(201, created(1, "box"))) as server:
        assert run(["instances", "create", "--name", "box", "--api-base", server.url]) == 0
    assert server.requests[0].body == {"kind": "user", "name": "box"}
    out, err = capsys.readouterr()
    assert out.count("cred-1.key-1") == 1
    assert "export RUNNER_TOKEN=cred-1.key-1\n" in out
    assert 'cloud:\n  token: "${RUNNER_TOKEN}"\n' in out
    assert "warning: store this runner key now" in err


def test_partial_failure_still_prints_the_keys_created(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    with StandIn(answer(201, created(1, "pool-1")), answer(503, {"error": "busy"})) as server:
        assert run(["instances", "create", "--name", "pool", "--count", "3", "--api-base", server.url]) == 1
    assert len(server.requests) == 2  # create is never retried; the third was not attempted
    out, err = capsys.readouterr()
    assert "export RUNNER_TOKEN_1=cred-1.key-1\n" in out
    assert "created 1 of 3 instances before the failure below" in err
    assert "HTTP 503 busy" in err
    assert "Traceback" not in err


def test_rejected_id_token_exits_3_without_echoing_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    with StandIn(answer(401, {"error": f"invalid token {ID_TOKEN}"})) as server:
        assert run(["instances", "rename", "--instance-id", "i", "--name", "n", "--api-base", server.url]) == 3
    err = capsys.readouterr().err
    assert "HTTP 401 invalid token ***" in err
    assert "fake-firebase-id-token" not in err


def test_unreachable_cloud_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", ID_TOKEN)
    with StandIn() as server:
        url = server.url
    # The server is closed: every try is refused. create is tried once, so no backoff sleeps happen.
    assert run(["instances", "create", "--api-base", url]) == 1
    err = capsys.readouterr().err
    assert "POST /createRunnerInstance: network error" in err and "Traceback" not in err


def test_pool_names_and_variables() -> None:
    assert instance_names("gpu", 3, hostname="h.example") == ["gpu-1", "gpu-2", "gpu-3"]
    assert instance_names(None, 2, hostname="h.example") == ["h-1", "h-2"]
    assert instance_names(None, 1, hostname="h") == [None]
    assert key_variables(1) == ["RUNNER_TOKEN"]
    assert key_variables(2) == ["RUNNER_TOKEN_1", "RUNNER_TOKEN_2"]


def test_the_yaml_snippet_loads_with_the_real_config_loader(tmp_path: Path) -> None:
    path = tmp_path / "runner.yaml"
    path.write_text(config_snippet(key_variables(3)))
    env = {"RUNNER_TOKEN_1": "c1.aaaa", "RUNNER_TOKEN_2": "c2.bbbb", "RUNNER_TOKEN_3": "c3.cccc",
           "OPENAI_API_KEY": "sk-test-key"}
    config = load_config(str(path), env=env)
    assert config.cloud.tokens == ("c1.aaaa", "c2.bbbb", "c3.cccc")
