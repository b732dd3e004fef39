"""Token issue / validate / revoke through the CLI and the raw API."""

import datetime

import requests


def _validate(cloud, subject_token):
    return cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": subject_token})


def test_token_issue_cli(cloud):
    tok = cloud.cli("token", "issue", "-f", "json")
    admin_project = cloud.cli("project", "show", "admin", "-f", "json")
    admin_user = cloud.cli("user", "show", "admin", "-f", "json")
    assert tok["project_id"] == admin_project["id"]
    assert tok["user_id"] == admin_user["id"]
    expires = datetime.datetime.fromisoformat(tok["expires"].replace("Z", "+00:00"))
    assert expires > datetime.datetime.now(datetime.timezone.utc)

    r = _validate(cloud, tok["id"])
    assert r.status_code == 200, r.text
    body = r.json()["token"]
    assert body["user"]["name"] == "admin"
    assert body["project"]["id"] == admin_project["id"]
    assert "password" in body["methods"]


def test_token_body_via_requests(cloud):
    token, body = cloud.token("admin", cloud.admin_password, project="admin")
    assert token
    t = body["token"]
    assert t["methods"] == ["password"]
    assert t["user"]["domain"]["id"] == "default"
    assert t["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {r["name"] for r in t["roles"]}
    identity = [s for s in t["catalog"] if s["type"] == "identity"]
    assert identity, t["catalog"]
    urls = {e["interface"]: e["url"].rstrip("/") for e in identity[0]["endpoints"]}
    assert urls == {i: cloud.identity_url for i in ("public", "internal", "admin")}
    # the token works
    assert cloud.api("GET", "/projects", token=token).status_code == 200


def test_unscoped_token_has_no_project_roles(cloud):
    project = cloud.create_project()
    user = cloud.create_user(password="pw-unscoped-1")  # no default project
    cloud.grant("member", user["id"], project["id"])
    token, body = cloud.token(user["name"], "pw-unscoped-1")
    assert "project" not in body["token"]
    assert not body["token"].get("roles")
    assert not body["token"].get("catalog")
    assert cloud.api("DELETE", f"/users/{user['id']}").status_code == 204
    assert cloud.api("DELETE", f"/projects/{project['id']}").status_code == 204


def test_no_scope_uses_default_project(cloud, new_user):
    # Keystone scopes a token without "scope" to the user's default project
    u = new_user("member")  # created with default_project_id = its project
    _, body = cloud.token(u.name, u.password)
    assert body["token"]["project"]["id"] == u.project_id
    assert {r["name"] for r in body["token"]["roles"]} == {"member", "reader"}


def test_wrong_password_is_401(cloud):
    r = cloud.token_response("admin", "definitely-not-the-password", project="admin")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401
    assert "X-Subject-Token" not in r.headers


def test_unknown_user_is_401(cloud):
    r = cloud.token_response("no-such-user-xyz", "whatever")
    assert r.status_code == 401


def test_token_revoke(cloud):
    tok = cloud.cli("token", "issue", "-f", "json")["id"]
    assert cloud.api("GET", "/projects", token=tok).status_code == 200

    proc = cloud.cli("token", "revoke", tok)
    assert proc.returncode == 0

    r = requests.get(f"{cloud.auth_url}/projects", headers={"X-Auth-Token": tok}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401
    # validating a revoked token answers 404 (Keystone: "Could not find token")
    assert _validate(cloud, tok).status_code == 404
    # other tokens of the same user are unaffected
    assert cloud.api("GET", "/projects").status_code == 200


def test_token_check_head(cloud):
    token, _ = cloud.token("admin", cloud.admin_password, project="admin")
    r = cloud.api("HEAD", "/auth/tokens", headers={"X-Subject-Token": token})
    assert r.status_code == 200
    r = cloud.api("HEAD", "/auth/tokens", headers={"X-Subject-Token": "not-a-token"})
    assert r.status_code == 404
