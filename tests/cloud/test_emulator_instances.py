"""``xenon-runner instances`` end to end against the local cloud emulator over 127.0.0.1."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from shared.cloud import CredentialRejected, InstanceClient, JobClient
from shared.http.retry import RetryPolicy
from tests.cloud.cli import run
from tests.cloud.emulated import Cloud, running_cloud

EXPORT = re.compile(r"^export (RUNNER_TOKEN(?:_\d+)?)=(\S+)$", re.MULTILINE)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name in ("XENONFLARE_ID_TOKEN", "RUNNER_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    yield from running_cloud()


def job_client(cloud: Cloud, key: str) -> JobClient:
    return JobClient(base_url=cloud.url, token=key, connect_timeout=5, read_timeout=10, retry=RetryPolicy())


def test_create_count_3_mints_three_working_keys_for_a_pool(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    operator = cloud.account("operator-1")
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", operator)
    monkeypatch.setenv("RUNNER_API_BASE", cloud.url)
    assert run(["instances", "create", "--kind", "user", "--name", "gpu-box", "--count", "3"]) == 0
    out, err = capsys.readouterr()
    exports = EXPORT.findall(out)
    assert [variable for variable, _ in exports] == ["RUNNER_TOKEN_1", "RUNNER_TOKEN_2", "RUNNER_TOKEN_3"]
    for _, key in exports:
        assert out.count(key) == 1  # each key printed once
    for index in (1, 2, 3):
        assert re.search(rf"^  ri_\S+  name gpu-box-{index}  credential cred\w+$", out, re.MULTILINE)
    assert 'cloud:\n  tokens:\n    - "${RUNNER_TOKEN_1}"\n    - "${RUNNER_TOKEN_2}"\n    - "${RUNNER_TOKEN_3}"\n' in out
    assert "warning: store these runner keys now" in err
    assert operator not in out + err

    # Each key is a working user key of this account: each leases one of the account's jobs.
    jobs = {cloud.enqueue(target="user", owner="operator-1") for _ in range(3)}
    leased = set()
    for _, key in exports:
        with job_client(cloud, key) as client:
            lease = client.lease()
            assert lease is not None
            leased.add(lease.workspace_id)
    assert leased == jobs


def test_rename_then_revoke(cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XENONFLARE_ID_TOKEN", cloud.server.admin_id_token)
    with InstanceClient(base_url=cloud.url, id_token=cloud.server.admin_id_token, connect_timeout=5,
                        read_timeout=10, retry=RetryPolicy()) as instances:
        created = instances.create(kind="global", name="old-name")
    assert (created.kind, created.name) == ("global", "old-name")

    assert run(["instances", "rename", "--api-base", cloud.url, "--instance-id", created.instance_id,
                "--name", "new-name"]) == 0
    assert f"Renamed runner instance {created.instance_id} to 'new-name'." in capsys.readouterr().out

    with job_client(cloud, created.runner_token) as client:
        assert client.lease() is None  # the key works before the revoke
        assert run(["instances", "revoke", "--api-base", cloud.url, "--instance-id", created.instance_id]) == 0
        assert "its runner key no longer works" in capsys.readouterr().out
        with pytest.raises(CredentialRejected, match="runner key revoked"):
            client.lease()


def test_global_instances_need_an_admin_account(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    plain = cloud.account("not-admin")
    code = run(["instances", "create", "--kind", "global", "--api-base", cloud.url, "--id-token", plain])
    assert code == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert "HTTP 403 global runner instances need an admin account" in err
    assert plain not in err


def test_a_runner_key_is_refused_on_instance_routes(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    key = cloud.runner_key()
    assert run(["instances", "create", "--api-base", cloud.url, "--id-token", key]) == 3
    err = capsys.readouterr().err
    assert "runner keys cannot manage runner instances" in err
    assert key.split(".", 1)[1] not in err


def test_renaming_someone_elses_instance_is_refused(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    theirs = cloud.server.create_instance(kind="user", owner="someone-else")
    mine = cloud.account("me")
    code = run(["instances", "rename", "--api-base", cloud.url, "--id-token", mine,
                "--instance-id", theirs["instanceId"], "--name", "stolen"])
    assert code == 3
    assert "belongs to another account" in capsys.readouterr().err


def test_an_unknown_instance_is_a_plain_failure(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["instances", "revoke", "--api-base", cloud.url, "--id-token", cloud.server.admin_id_token,
                "--instance-id", "ri_missing"])
    assert code == 1
    err = capsys.readouterr().err
    assert "HTTP 404 no runner instance ri_missing" in err and "Traceback" not in err
