"""Unified limits: registered limits (defaults per service resource) and per-project limits."""

from conftest import assert_forbidden, unique


def test_registered_limit_and_project_limit(cloud, new_user, tmp_path):
    resource = unique("widgets")
    reg = cloud.cli("registered", "limit", "create", "--service", "identity", "--default-limit", "10",
                    resource, "-f", "json")
    assert reg["default_limit"] == 10 and reg["resource_name"] == resource
    assert any(r["ID"] == reg["id"] for r in cloud.cli("registered", "limit", "list", "-f", "json"))

    # a second registered limit for the same resource conflicts
    dup = cloud.api("POST", "/registered_limits", json={"registered_limits": [
        {"service_id": reg["service_id"], "resource_name": resource, "default_limit": 3}]})
    assert dup.status_code == 409, dup.text

    user = new_user("member")
    limit = cloud.cli("limit", "create", "--project", user.project_id, "--service", "identity",
                      "--resource-limit", "5", resource, "-f", "json")
    assert limit["resource_limit"] == 5 and limit["project_id"] == user.project_id

    # the member sees their own project's limit, but cannot create one
    as_user = cloud.user_cli(user, tmp_path)
    seen = as_user("limit", "list", "-f", "json")
    assert [row["ID"] for row in seen] == [limit["id"]]
    assert_forbidden(as_user("limit", "create", "--project", user.project_id, "--service", "identity",
                             "--resource-limit", "50", resource, check=False))

    # a registered limit that limits reference cannot be deleted
    r = cloud.api("DELETE", f"/registered_limits/{reg['id']}")
    assert r.status_code == 403, r.text
    cloud.cli("limit", "delete", limit["id"])
    cloud.cli("registered", "limit", "delete", reg["id"])


def test_limit_without_registered_limit_is_refused(cloud):
    project = cloud.create_project()
    svc = cloud.id_of("service", "keystone")
    r = cloud.api("POST", "/limits", json={"limits": [
        {"project_id": project["id"], "service_id": svc, "resource_name": unique("nothing"), "resource_limit": 1}]})
    assert r.status_code == 403, r.text
    r = cloud.api("POST", "/limits", json={"limits": []})
    assert r.status_code == 400, r.text
    r = cloud.api("GET", "/limits/model")
    assert r.json()["model"]["name"] == "flat"
