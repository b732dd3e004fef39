"""Cross-user, cross-project and cross-domain isolation: what a non-admin must not see or do."""

import requests

from conftest import unique
from nimbus_launcher import random_password


def _domain_user(cloud, role):
    """A new domain with a user holding `role` on it; returns (domain, user, domain-scoped token)."""
    domain = cloud.api("POST", "/domains", json={"domain": {"name": unique("dom")}}).json()["domain"]
    password = random_password()
    user = cloud.api("POST", "/users", json={"user": {"name": unique("duser"), "domain_id": domain["id"],
                                                      "password": password}}).json()["user"]
    role_id = cloud.id_of("role", role)
    r = cloud.api("PUT", f"/domains/{domain['id']}/users/{user['id']}/roles/{role_id}")
    assert r.status_code == 204, r.text
    r = requests.post(f"{cloud.auth_url}/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user["id"], "password": password}}},
        "scope": {"domain": {"id": domain["id"]}}}})
    assert r.status_code == 201, r.text
    return domain, user, r.headers["X-Subject-Token"]


def test_member_cannot_read_other_users_data(cloud, new_user):
    user = new_user("member")
    token, _ = cloud.token(user.name, user.password, user.project)
    admin_id = cloud.id_of("user", "admin")
    for path in (f"/users/{admin_id}/groups", f"/users/{admin_id}/projects", f"/users/{admin_id}",
                 f"/users/{admin_id}/application_credentials", f"/users/{admin_id}/credentials/OS-EC2"):
        r = cloud.api("GET", path, token=token)
        assert r.status_code == 403, (path, r.status_code, r.text)
    # their own data is fine
    assert cloud.api("GET", f"/users/{user.id}/groups", token=token).status_code == 200


def test_credential_cannot_be_given_to_another_user(cloud, new_user):
    user = new_user("member")
    token, _ = cloud.token(user.name, user.password, user.project)
    r = cloud.api("POST", "/credentials", token=token, json={"credential": {
        "user_id": user.id, "type": "totp", "blob": "secret"}})
    assert r.status_code == 201, r.text
    cred = r.json()["credential"]
    r = cloud.api("PATCH", f"/credentials/{cred['id']}", token=token,
                  json={"credential": {"user_id": cloud.id_of("user", "admin")}})
    assert r.status_code in (400, 403), r.text
    assert cloud.api("GET", f"/credentials/{cred['id']}", token=token).json()["credential"]["user_id"] == user.id
    # and a member lists only their own credentials
    r = cloud.api("GET", "/credentials", token=token)
    assert r.status_code == 200 and {c["user_id"] for c in r.json()["credentials"]} == {user.id}


def test_domain_manager_stays_in_its_domain(cloud):
    domain, _, token = _domain_user(cloud, "manager")
    demo = cloud.id_of("project", "demo")
    r = cloud.api("POST", "/projects", token=token, json={"project": {"name": unique("squat"), "parent_id": demo}})
    assert r.status_code == 403, r.text
    r = cloud.api("POST", "/projects", token=token, json={"project": {"name": unique("evil"), "is_domain": True}})
    assert r.status_code == 403, r.text
    r = cloud.api("POST", "/projects", token=token, json={"project": {"name": unique("own"), "domain_id": domain["id"]}})
    assert r.status_code == 201, r.text


def test_domain_reader_sees_only_its_domain(cloud):
    domain, user, token = _domain_user(cloud, "reader")
    r = cloud.api("GET", "/role_assignments", token=token)
    assert r.status_code == 200, r.text
    scopes = [a["scope"] for a in r.json()["role_assignments"]]
    assert scopes and all(s.get("domain", {}).get("id") == domain["id"] or "project" in s for s in scopes), scopes
    assert not any("system" in s for s in scopes)
    r = cloud.api("GET", "/domains", token=token)
    assert r.status_code == 200 and [d["id"] for d in r.json()["domains"]] == [domain["id"]]
    r = cloud.api("GET", "/groups", token=token)
    assert r.status_code == 200, r.text


def test_bad_dates_and_nul_bytes_are_400_not_crashes(cloud, new_user):
    user = new_user("member")
    token, _ = cloud.token(user.name, user.password, user.project)
    for bad in ("2030-01-01T.", "300000-01-01T00:00:00", "bad.123Z", "2030-01-01T10:00:00."):
        r = cloud.api("POST", f"/users/{user.id}/application_credentials", token=token,
                      json={"application_credential": {"name": unique("ac"), "expires_at": bad}})
        assert r.status_code == 400, (bad, r.status_code, r.text)
    r = cloud.api("POST", "/projects", json={"project": {"name": "nul\u0000name"}})
    assert r.status_code == 400, r.text
    r = cloud.api("GET", "/projects?name=a%00b")
    assert r.status_code == 400, r.text
    assert cloud.api("GET", "/projects").status_code == 200  # still alive
