"""What `nimbus up` bootstraps on first start, seen through the CLI."""

import stat

import yaml

from conftest import assert_forbidden


def test_clouds_yaml_written(cloud):
    doc = yaml.safe_load(cloud.clouds_yaml.read_text())
    for name, user, project, password in (
        ("nimbus", "admin", "admin", cloud.admin_password),
        ("nimbus-demo", "demo", "demo", cloud.demo_password),
    ):
        entry = doc["clouds"][name]
        auth = entry["auth"]
        assert auth["auth_url"] == cloud.auth_url
        assert auth["username"] == user
        assert auth["project_name"] == project
        assert auth["password"] == password
        assert auth["user_domain_name"] == "Default"
        assert auth["project_domain_name"] == "Default"
        assert entry["region_name"] == "RegionOne"
        assert str(entry["identity_api_version"]) == "3"


def test_version_document(cloud):
    r = cloud.api("GET", "", token=None)
    assert r.status_code == 200
    version = r.json()["version"]
    assert version["id"].startswith("v3.")
    assert version["status"] == "stable"
    assert any(link["rel"] == "self" and link["href"].rstrip("/") == cloud.auth_url
               for link in version["links"])


def test_default_domain(cloud):
    d = cloud.cli("domain", "show", "default", "-f", "json")
    assert d["id"] == "default"
    assert d["name"] == "Default"
    assert d["enabled"] is True


def test_bootstrap_projects_users_roles(cloud):
    projects = {p["Name"] for p in cloud.cli("project", "list", "-f", "json")}
    assert {"admin", "demo"} <= projects
    users = {u["Name"] for u in cloud.cli("user", "list", "-f", "json")}
    assert {"admin", "demo"} <= users
    roles = {r["Name"] for r in cloud.cli("role", "list", "-f", "json")}
    assert {"admin", "member", "reader", "service"} <= roles


def test_implied_roles(cloud):
    rows = cloud.cli("implied", "role", "list", "-f", "json")
    implies = {}
    for r in rows:
        implies.setdefault(r["Prior Role Name"], set()).add(r["Implied Role Name"])

    def closure(role):
        seen, todo = set(), [role]
        while todo:
            for nxt in implies.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen
    # direct or through an intermediate role (Keystone: admin -> manager -> member)
    assert {"member", "reader"} <= closure("admin")
    assert "reader" in closure("member")
    assert "admin" not in closure("member")


def test_bootstrap_assignments(cloud):
    rows = cloud.cli("role", "assignment", "list", "--names", "-f", "json")
    got = {(r["Role"], r["User"], r["Project"], r["System"]) for r in rows}
    assert ("admin", "admin@Default", "admin@Default", "") in got
    assert ("admin", "admin@Default", "", "all") in got
    assert ("member", "demo@Default", "demo@Default", "") in got


def test_region_and_identity_endpoints(cloud):
    regions = {r["Region"] for r in cloud.cli("region", "list", "-f", "json")}
    assert "RegionOne" in regions
    eps = cloud.cli("endpoint", "list", "--service", "identity", "-f", "json")
    assert {e["Interface"] for e in eps} == {"public", "internal", "admin"}
    for e in eps:
        assert e["URL"].rstrip("/") == cloud.identity_url
        assert e["Region"] == "RegionOne"
        assert e["Enabled"] is True


def test_demo_cloud_token(cloud):
    tok = cloud.cli("token", "issue", "-f", "json", cloud="nimbus-demo")
    demo_project = cloud.cli("project", "show", "demo", "-f", "json")
    assert tok["project_id"] == demo_project["id"]
    assert tok["user_id"] == cloud.cli("user", "show", "demo", "-f", "json")["id"]


def test_demo_is_not_admin(cloud):
    assert_forbidden(cloud.cli("user", "create", "should-not-exist", cloud="nimbus-demo",
                               check=False))


def test_generated_password_files_absent_or_private(cloud):
    # The session cloud got its passwords on the command line; if the binary
    # still writes the files they must not be readable by others.
    for who in ("admin", "demo"):
        f = cloud.data_dir / f"{who}-password"
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0
