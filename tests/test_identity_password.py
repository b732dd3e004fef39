"""A user changes its own password with `openstack user password set`."""


def test_user_changes_own_password(cloud, new_user, tmp_path):
    u = new_user("member")
    old, new = u.password, u.password + "-new"
    as_user = cloud.user_cli(u, tmp_path)

    as_user("user", "password", "set", "--original-password", old, "--password", new)

    assert cloud.token_response(u.name, old, project=u.project).status_code == 401
    _, body = cloud.token(u.name, new, project=u.project)
    assert body["token"]["user"]["id"] == u.id


def test_wrong_original_password_is_rejected(cloud, new_user, tmp_path):
    u = new_user("member")
    as_user = cloud.user_cli(u, tmp_path)
    proc = as_user("user", "password", "set", "--original-password", "wrong-" + u.password,
                   "--password", "whatever-new-pw", check=False)
    assert proc.returncode != 0
    assert "401" in proc.stderr, proc.stderr
    cloud.token(u.name, u.password, project=u.project)  # unchanged


def test_admin_resets_password(cloud, new_user):
    u = new_user("member")
    cloud.cli("user", "set", "--password", "reset-by-admin-pw", u.id)
    assert cloud.token_response(u.name, u.password).status_code == 401
    cloud.token(u.name, "reset-by-admin-pw", project=u.project)
