"""Policy: reader < member < admin, and projects are isolated from each other."""

import re

import requests

from conftest import assert_forbidden as _forbidden
from conftest import unique


def test_reader_cannot_add_roles(cloud, new_user, tmp_path):
    reader = new_user("reader")
    as_reader = cloud.user_cli(reader, tmp_path)
    # positive control: a reader can read its own project
    assert as_reader("project", "show", reader.project_id, "-f", "json")["id"] == reader.project_id
    # NOTE: `openstack role add` exits 0 even when the server answers 403
    # (openstacksdk's assign_project_role_to_user ignores the status), so the
    # CLI run is checked by its effect and the 403 through the API.
    as_reader("role", "add", "--user", reader.id, "--project", reader.project_id,
              cloud.id_of("role", "member"), check=False)
    rows = cloud.cli("role", "assignment", "list", "--user", reader.id, "--names", "-f", "json")
    assert {r["Role"] for r in rows} == {"reader"}
    r = cloud.api("PUT", f"/projects/{reader.project_id}/users/{reader.id}/roles/"
                         f"{cloud.id_of('role', 'admin')}",
                  token=cloud.token(reader.name, reader.password, reader.project)[0])
    assert r.status_code == 403
    assert r.json()["error"]["code"] == 403
    assert r.json()["error"]["title"] == "Forbidden"


def test_member_cannot_create_users_or_projects(cloud, new_user, tmp_path):
    member = new_user("member")
    as_member = cloud.user_cli(member, tmp_path)
    name = unique("nope")
    _forbidden(as_member("user", "create", "--password", "x-123456", name, check=False))
    _forbidden(as_member("project", "create", name, check=False))
    assert cloud.api("GET", "/users", params={"name": name}).json()["users"] == []


def test_member_can_use_own_project(cloud, new_user, tmp_path):
    member = new_user("member")
    as_member = cloud.user_cli(member, tmp_path)
    tok = as_member("token", "issue", "-f", "json")
    assert tok["project_id"] == member.project_id
    shown = as_member("project", "show", member.project_id, "-f", "json")
    assert shown["name"] == member.project
    mine = as_member("project", "list", "--my-projects", "-f", "json")
    assert [p["ID"] for p in mine] == [member.project_id]
    # listing every project is admin-only: the API says 403 and the CLI then
    # falls back to the user's own projects
    token = cloud.token(member.name, member.password, member.project)[0]
    assert cloud.api("GET", "/projects", token=token).status_code == 403
    assert [p["ID"] for p in as_member("project", "list", "-f", "json")] == [member.project_id]


def test_projects_are_isolated(cloud, new_user, tmp_path):
    a, b = new_user("member"), new_user("member")
    as_b = cloud.user_cli(b, tmp_path)

    proc = as_b("project", "show", a.project_id, check=False)
    assert proc.returncode != 0
    assert re.search(r"\b40[34]\b|No project", proc.stderr), proc.stderr

    proc = as_b("role", "assignment", "list", "--project", a.project_id, check=False)
    assert proc.returncode != 0
    assert re.search(r"\b40[34]\b|No project", proc.stderr), proc.stderr

    b_token = cloud.token(b.name, b.password, b.project)[0]
    h = {"X-Auth-Token": b_token}
    r = requests.get(f"{cloud.auth_url}/projects/{a.project_id}", headers=h, timeout=30)
    assert r.status_code in (403, 404), r.text
    r = requests.get(f"{cloud.auth_url}/role_assignments",
                     params={"scope.project.id": a.project_id}, headers=h, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.get(f"{cloud.auth_url}/users/{a.id}", headers=h, timeout=30)
    assert r.status_code in (403, 404), r.text
    # B cannot scope a token to A's project either
    assert cloud.token_response(b.name, b.password, project=a.project).status_code == 401


def test_user_sees_own_user_record_only(cloud, new_user):
    a, b = new_user("member"), new_user("member")
    a_token = cloud.token(a.name, a.password, a.project)[0]
    assert cloud.api("GET", f"/users/{a.id}", token=a_token).json()["user"]["name"] == a.name
    assert cloud.api("GET", "/users", token=a_token).status_code == 403
