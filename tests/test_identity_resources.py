"""Domain, project, user, group and role CRUD through the `openstack` CLI."""

from conftest import unique


def _names(rows, key="Name"):
    return {r[key] for r in rows}


def _gone(cloud, *show_args):
    proc = cloud.cli(*show_args, check=False)
    assert proc.returncode != 0, f"{show_args} still answers: {proc.stdout}"


# ---- domains -----------------------------------------------------------------
def test_domain_crud(cloud):
    name = unique("dom")
    d = cloud.cli("domain", "create", "--description", "first", name, "-f", "json")
    assert d["name"] == name and d["description"] == "first" and d["enabled"] is True
    assert cloud.cli("domain", "show", d["id"], "-f", "json")["name"] == name
    assert name in _names(cloud.cli("domain", "list", "-f", "json"))

    cloud.cli("domain", "set", "--description", "second", name)
    assert cloud.cli("domain", "show", name, "-f", "json")["description"] == "second"

    # an enabled domain cannot be deleted
    proc = cloud.cli("domain", "delete", name, check=False)
    assert proc.returncode != 0
    cloud.cli("domain", "set", "--disable", name)
    assert cloud.cli("domain", "show", name, "-f", "json")["enabled"] is False
    cloud.cli("domain", "delete", name)
    _gone(cloud, "domain", "show", d["id"])


def test_project_in_other_domain(cloud):
    dom = unique("dom")
    cloud.cli("domain", "create", dom)
    proj = cloud.cli("project", "create", "--domain", dom, unique("proj"), "-f", "json")
    dom_id = cloud.cli("domain", "show", dom, "-f", "json")["id"]
    assert proj["domain_id"] == dom_id
    listed = cloud.cli("project", "list", "--domain", dom, "-f", "json")
    assert _names(listed) == {proj["name"]}
    cloud.cli("project", "delete", proj["id"])
    cloud.cli("domain", "set", "--disable", dom)
    cloud.cli("domain", "delete", dom)


# ---- projects ----------------------------------------------------------------
def test_project_crud_with_parent_and_tags(cloud):
    parent_name, child_name = unique("parent"), unique("child")
    parent = cloud.cli("project", "create", "--description", "top", "--tag", "alpha",
                       "--tag", "beta", parent_name, "-f", "json")
    assert parent["description"] == "top"
    assert parent["domain_id"] == "default"
    assert parent["enabled"] is True
    assert sorted(parent["tags"]) == ["alpha", "beta"]

    child = cloud.cli("project", "create", "--parent", parent_name, child_name, "-f", "json")
    assert child["parent_id"] == parent["id"]
    shown = cloud.cli("project", "show", child["id"], "-f", "json")
    assert shown["parent_id"] == parent["id"]
    assert shown["name"] == child_name

    tagged = _names(cloud.cli("project", "list", "--tags", "alpha", "-f", "json"))
    assert parent_name in tagged and child_name not in tagged

    cloud.cli("project", "set", "--name", parent_name + "-x", "--description", "renamed",
              "--tag", "gamma", parent["id"])
    shown = cloud.cli("project", "show", parent["id"], "-f", "json")
    assert shown["name"] == parent_name + "-x"
    assert shown["description"] == "renamed"
    assert "gamma" in shown["tags"]

    cloud.cli("project", "set", "--disable", child["id"])
    assert cloud.cli("project", "show", child["id"], "-f", "json")["enabled"] is False

    # a project with children cannot be deleted
    proc = cloud.cli("project", "delete", parent["id"], check=False)
    assert proc.returncode != 0
    cloud.cli("project", "delete", child["id"])
    cloud.cli("project", "delete", parent["id"])
    _gone(cloud, "project", "show", parent["id"])


def test_project_duplicate_name_conflicts(cloud):
    name = unique("dup")
    cloud.cli("project", "create", name)
    proc = cloud.cli("project", "create", name, check=False)
    assert proc.returncode != 0
    assert "409" in proc.stderr or "Conflict" in proc.stderr or "Duplicate" in proc.stderr, proc.stderr
    cloud.cli("project", "delete", name)


# ---- users -------------------------------------------------------------------
def test_user_crud(cloud):
    project = cloud.cli("project", "create", unique("proj"), "-f", "json")
    name = unique("user")
    user = cloud.cli("user", "create", "--password", "s3cret-pw", "--project", project["id"],
                     "--email", f"{name}@example.org", "--description", "a user", name, "-f", "json")
    assert user["name"] == name
    assert user["domain_id"] == "default"
    assert user["default_project_id"] == project["id"]
    assert user["email"] == f"{name}@example.org"
    assert user["enabled"] is True
    assert "password" not in user

    assert name in _names(cloud.cli("user", "list", "-f", "json"))
    assert cloud.cli("user", "show", user["id"], "-f", "json")["name"] == name

    # the new user can authenticate (unscoped: it has no role yet)
    cloud.token(name, "s3cret-pw")

    cloud.cli("user", "set", "--disable", "--email", "new@example.org", name)
    shown = cloud.cli("user", "show", name, "-f", "json")
    assert shown["enabled"] is False and shown["email"] == "new@example.org"
    assert cloud.token_response(name, "s3cret-pw").status_code == 401

    cloud.cli("user", "set", "--enable", name)
    cloud.token(name, "s3cret-pw")

    cloud.cli("user", "delete", name)
    _gone(cloud, "user", "show", user["id"])
    assert cloud.token_response(name, "s3cret-pw").status_code == 401
    cloud.cli("project", "delete", project["id"])


# ---- groups ------------------------------------------------------------------
def test_group_membership(cloud):
    group, user = unique("grp"), unique("user")
    g = cloud.cli("group", "create", "--description", "team", group, "-f", "json")
    assert g["name"] == group and g["description"] == "team" and g["domain_id"] == "default"
    cloud.cli("user", "create", "--password", "pw-123456", user)

    proc = cloud.cli("group", "contains", "user", group, user)
    assert "not in group" in proc.stderr

    cloud.cli("group", "add", "user", group, user)
    proc = cloud.cli("group", "contains", "user", group, user)
    assert f"{user} in group {group}" in proc.stdout
    assert user in _names(cloud.cli("user", "list", "--group", group, "-f", "json"))
    assert group in _names(cloud.cli("group", "list", "--user", user, "-f", "json"))

    cloud.cli("group", "remove", "user", group, user)
    proc = cloud.cli("group", "contains", "user", group, user)
    assert "not in group" in proc.stderr
    assert cloud.cli("user", "list", "--group", group, "-f", "json") == []

    cloud.cli("group", "set", "--name", group + "-x", group)
    assert cloud.cli("group", "show", g["id"], "-f", "json")["name"] == group + "-x"
    cloud.cli("group", "delete", g["id"])
    _gone(cloud, "group", "show", g["id"])
    cloud.cli("user", "delete", user)


# ---- roles -------------------------------------------------------------------
def test_role_crud(cloud):
    name = unique("role")
    r = cloud.cli("role", "create", "--description", "custom", name, "-f", "json")
    assert r["name"] == name and r["description"] == "custom"
    assert name in _names(cloud.cli("role", "list", "-f", "json"))
    assert cloud.cli("role", "show", r["id"], "-f", "json")["name"] == name

    cloud.cli("role", "set", "--name", name + "-x", "--description", "changed", name)
    shown = cloud.cli("role", "show", r["id"], "-f", "json")
    assert shown["name"] == name + "-x" and shown["description"] == "changed"

    proc = cloud.cli("role", "create", name + "-x", check=False)
    assert proc.returncode != 0  # duplicate name

    cloud.cli("role", "delete", name + "-x")
    _gone(cloud, "role", "show", r["id"])
    assert name + "-x" not in _names(cloud.cli("role", "list", "-f", "json"))
