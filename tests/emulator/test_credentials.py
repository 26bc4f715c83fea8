"""Instance management and the credential rules: ID tokens vs runner keys, revocation, admin-only global."""
from __future__ import annotations

from tests.emulator.conftest import Cloud


def _account(cloud: Cloud, uid: str, *, admin: bool = False) -> str:
    reply = cloud.post("/admin/accounts", {"uid": uid, "admin": admin})
    assert reply.status_code == 201
    assert reply.json()["uid"] == uid
    token: str = reply.json()["idToken"]
    return token


def test_create_instance_with_id_token_returns_key_once(cloud: Cloud) -> None:
    token = _account(cloud, "alice")
    reply = cloud.post("/createRunnerInstance", {"kind": "user", "name": "laptop"}, token=token)
    assert reply.status_code == 201
    body = reply.json()
    assert set(body) == {"instanceId", "credentialId", "runnerToken", "kind", "name"}
    assert body["kind"] == "user" and body["name"] == "laptop"
    credential_id, dot, secret = body["runnerToken"].partition(".")
    assert dot and credential_id == body["credentialId"] and len(secret) >= 32
    assert cloud.lease(body["runnerToken"]) == {"leased": False}


def test_global_instance_needs_admin_account(cloud: Cloud) -> None:
    user_token = _account(cloud, "bob")
    refused = cloud.post("/createRunnerInstance", {"kind": "global"}, token=user_token)
    assert refused.status_code == 403
    assert "admin" in refused.json()["error"]
    allowed = cloud.post("/createRunnerInstance", {"kind": "global"}, token=cloud.server.admin_id_token)
    assert allowed.status_code == 201 and allowed.json()["kind"] == "global"


def test_default_instance_name_and_bad_kind(cloud: Cloud) -> None:
    token = _account(cloud, "carol")
    created = cloud.post("/createRunnerInstance", {"kind": "user"}, token=token).json()
    assert created["name"].startswith("runner-")
    bad = cloud.post("/createRunnerInstance", {"kind": "team"}, token=token)
    assert bad.status_code == 400 and "kind" in bad.json()["error"]


def test_runner_key_refused_on_instance_routes(cloud: Cloud, key: str) -> None:
    for path, body in (("/createRunnerInstance", {"kind": "user"}), ("/revokeRunnerInstance", {"instanceId": "x"}),
                       ("/updateRunnerInstance", {"instanceId": "x", "name": "y"})):
        reply = cloud.post(path, body, token=key)
        assert reply.status_code == 401, path
        assert "ID token" in reply.json()["error"]


def test_id_token_refused_on_job_routes(cloud: Cloud) -> None:
    token = cloud.server.admin_id_token
    for path in ("/leaseWorkspaceJob", "/heartbeatWorkspaceJob", "/getWorkspaceRunnerContext",
                 "/updateWorkspaceRunnerSummary", "/completeWorkspaceJob", "/failWorkspaceJob"):
        reply = cloud.post(path, {"workspaceId": "ws-000001"}, token=token)
        assert reply.status_code == 401, path
        assert "runner key" in reply.json()["error"]


def test_missing_unknown_and_forged_credentials(cloud: Cloud, key: str) -> None:
    assert cloud.post("/leaseWorkspaceJob", {}).status_code == 401
    assert cloud.post("/createRunnerInstance", {"kind": "user"}).status_code == 401
    credential_id = key.partition(".")[0]
    forged = cloud.post("/leaseWorkspaceJob", {}, token=f"{credential_id}.not-the-secret")
    assert forged.status_code == 401 and forged.json()["error"] == "unknown runner key"
    assert cloud.post("/createRunnerInstance", {"kind": "user"}, token="idt_nobody").status_code == 401
    basic = cloud.session.post(cloud.url + "/leaseWorkspaceJob", json={}, headers={"Authorization": f"Basic {key}"})
    assert basic.status_code == 401


def test_errors_never_echo_the_secret(cloud: Cloud, key: str) -> None:
    secret = key.partition(".")[2]
    for reply in (cloud.post("/createRunnerInstance", {"kind": "user"}, token=key),
                  cloud.post("/leaseWorkspaceJob", {}, token=key + "x")):
        assert reply.status_code == 401
        assert secret not in reply.text


def test_revoke_stops_key_at_once_and_releases_its_leases(cloud: Cloud) -> None:
    token = _account(cloud, "dave")
    created = cloud.post("/createRunnerInstance", {"kind": "user"}, token=token).json()
    workspace_id = cloud.enqueue(target="user", owner="dave", messages=[{"text": "hi"}])
    assert cloud.lease(created["runnerToken"])["workspaceId"] == workspace_id
    revoked = cloud.post("/revokeRunnerInstance", {"instanceId": created["instanceId"]}, token=token)
    assert revoked.status_code == 200 and revoked.json() == {"ok": True}
    again = cloud.post("/leaseWorkspaceJob", {}, token=created["runnerToken"])
    assert again.status_code == 401 and again.json()["error"] == "runner key revoked"
    assert cloud.job(workspace_id)["state"] == "pending"
    assert cloud.stats()["instancesRevoked"] == 1


def test_revoke_and_rename_only_own_instances(cloud: Cloud) -> None:
    owner = _account(cloud, "erin")
    stranger = _account(cloud, "frank")
    created = cloud.post("/createRunnerInstance", {"kind": "user"}, token=owner).json()
    body = {"instanceId": created["instanceId"], "name": "stolen"}
    assert cloud.post("/updateRunnerInstance", body, token=stranger).status_code == 403
    assert cloud.post("/revokeRunnerInstance", body, token=stranger).status_code == 403
    assert cloud.post("/revokeRunnerInstance", {"instanceId": "ri_missing"}, token=owner).status_code == 404
    # An admin account may manage anyone's instance.
    renamed = cloud.post("/updateRunnerInstance", {**body, "name": "by-admin"}, token=cloud.server.admin_id_token)
    assert renamed.json() == {"ok": True, "name": "by-admin"}


def test_rename_instance(cloud: Cloud) -> None:
    token = _account(cloud, "gina")
    created = cloud.post("/createRunnerInstance", {"kind": "user", "name": "old"}, token=token).json()
    reply = cloud.post("/updateRunnerInstance", {"instanceId": created["instanceId"], "name": "new"}, token=token)
    assert reply.status_code == 200 and reply.json() == {"ok": True, "name": "new"}
    blank = cloud.post("/updateRunnerInstance", {"instanceId": created["instanceId"], "name": "  "}, token=token)
    assert blank.status_code == 400 and "name" in blank.json()["error"]
    cloud.post("/revokeRunnerInstance", {"instanceId": created["instanceId"]}, token=token)
    late = cloud.post("/updateRunnerInstance", {"instanceId": created["instanceId"], "name": "x"}, token=token)
    assert late.status_code == 409


def test_revoke_is_idempotent(cloud: Cloud) -> None:
    token = _account(cloud, "hank")
    created = cloud.post("/createRunnerInstance", {"kind": "user"}, token=token).json()
    for _ in range(2):
        reply = cloud.post("/revokeRunnerInstance", {"instanceId": created["instanceId"]}, token=token)
        assert reply.status_code == 200
    assert cloud.stats()["instancesRevoked"] == 1


def test_embedded_create_instance_matches_route_shape(cloud: Cloud) -> None:
    minted = cloud.server.create_instance(kind="user", owner="ivy", name="embedded")
    assert set(minted) == {"instanceId", "credentialId", "runnerToken", "kind", "name"}
    workspace_id = cloud.enqueue(target="user", owner="ivy", messages=[{"text": "hi"}])
    assert cloud.lease(minted["runnerToken"])["workspaceId"] == workspace_id
