"""role add / remove and role assignment list (filters, --names, --effective)."""

from conftest import unique


def _assignments(cloud, *filters, effective=False):
    args = ["role", "assignment", "list", "--names", *filters]
    if effective:
        args.append("--effective")
    rows = cloud.cli(*args, "-f", "json")
    return {(r["Role"], r["User"], r["Group"], r["Project"]) for r in rows}


def test_role_add_list_remove(cloud):
    project, user = unique("proj"), unique("user")
    cloud.cli("project", "create", project)
    cloud.cli("user", "create", "--password", "pw-abcdef", user)
    me, proj = f"{user}@Default", f"{project}@Default"

    assert _assignments(cloud, "--user", user) == set()

    cloud.cli("role", "add", "--user", user, "--project", project, "member")
    assert _assignments(cloud, "--user", user) == {("member", me, "", proj)}
    assert ("member", me, "", proj) in _assignments(cloud, "--project", project)
    assert _assignments(cloud, "--user", user, "--project", project) == {("member", me, "", proj)}
    # --effective expands implied roles: member implies reader
    assert _assignments(cloud, "--user", user, effective=True) == {
        ("member", me, "", proj), ("reader", me, "", proj)}

    # the user can now get a project-scoped token carrying both roles
    _, body = cloud.token(user, "pw-abcdef", project=project)
    assert {r["name"] for r in body["token"]["roles"]} == {"member", "reader"}

    cloud.cli("role", "remove", "--user", user, "--project", project, "member")
    assert _assignments(cloud, "--user", user) == set()
    assert cloud.token_response(user, "pw-abcdef", project=project).status_code == 401

    cloud.cli("user", "delete", user)
    cloud.cli("project", "delete", project)


def test_effective_assignments_include_groups(cloud):
    project, user, group = unique("proj"), unique("user"), unique("grp")
    cloud.cli("project", "create", project)
    cloud.cli("user", "create", "--password", "pw-abcdef", user)
    cloud.cli("group", "create", group)
    cloud.cli("group", "add", "user", group, user)
    cloud.cli("role", "add", "--group", group, "--project", project, "reader")
    me, grp, proj = f"{user}@Default", f"{group}@Default", f"{project}@Default"

    # not effective: the assignment belongs to the group, not the user
    assert _assignments(cloud, "--user", user) == set()
    assert _assignments(cloud, "--group", group) == {("reader", "", grp, proj)}
    # effective: expanded to the group's members
    assert _assignments(cloud, "--user", user, effective=True) == {("reader", me, "", proj)}
    assert ("reader", me, "", proj) in _assignments(cloud, "--project", project, effective=True)

    # and it is honoured when issuing tokens
    _, body = cloud.token(user, "pw-abcdef", project=project)
    assert {r["name"] for r in body["token"]["roles"]} == {"reader"}

    cloud.cli("group", "remove", "user", group, user)
    assert _assignments(cloud, "--user", user, effective=True) == set()

    cloud.cli("role", "remove", "--group", group, "--project", project, "reader")
    assert _assignments(cloud, "--group", group) == set()
    for kind, name in (("user", user), ("group", group), ("project", project)):
        cloud.cli(kind, "delete", name)


def test_role_add_unknown_role_fails(cloud, new_user):
    u = new_user("member")
    proc = cloud.cli("role", "add", "--user", u.id, "--project", u.project_id,
                     "no-such-role-" + unique("r"), check=False)
    assert proc.returncode != 0
    assert _assignments(cloud, "--user", u.id) == {("member", f"{u.name}@Default", "",
                                                    f"{u.project}@Default")}
