"""Application credentials: create with the CLI, then authenticate with them."""

import re

import requests

from conftest import unique


def _field(d, name):
    """OSC prints `ID`/`Secret` in newer releases and `id`/`secret` in older ones."""
    for key in (name, name.lower(), name.lower().replace(" ", "_")):
        if key in d:
            return d[key]
    raise KeyError(f"{name} not in {sorted(d)}")


def test_application_credential_lifecycle(cloud, new_user, tmp_path):
    u = new_user("member")
    as_user = cloud.user_cli(u, tmp_path)
    name = unique("appcred")
    ac = as_user("application", "credential", "create", "--description", "ci", name, "-f", "json")
    ac_id, secret = _field(ac, "ID"), _field(ac, "Secret")
    assert _field(ac, "Name") == name
    assert _field(ac, "Project ID") == u.project_id
    assert secret

    listed = as_user("application", "credential", "list", "-f", "json")
    assert [_field(x, "ID") for x in listed] == [ac_id]
    shown = as_user("application", "credential", "show", name, "-f", "json")
    assert _field(shown, "ID") == ac_id
    assert "secret" not in {k.lower() for k in shown}  # the secret is shown once only

    # 1. through a clouds.yaml with auth_type v3applicationcredential
    ac_yaml = cloud.write_clouds_yaml(tmp_path / "clouds-ac.yaml", "ac",
                                      auth_type="v3applicationcredential",
                                      application_credential_id=ac_id,
                                      application_credential_secret=secret)
    tok = cloud.cli("token", "issue", "-f", "json", cloud="ac", clouds_yaml=ac_yaml)
    assert tok["user_id"] == u.id
    assert tok["project_id"] == u.project_id
    projects = cloud.cli("project", "list", "--my-projects", "-f", "json",
                         cloud="ac", clouds_yaml=ac_yaml)
    assert [p["ID"] for p in projects] == [u.project_id]

    # 2. through keystoneauth directly
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3
    auth = v3.ApplicationCredential(auth_url=cloud.auth_url, application_credential_id=ac_id,
                                    application_credential_secret=secret)
    sess = ks_session.Session(auth=auth)
    token = sess.get_token()
    assert sess.get_project_id() == u.project_id
    r = cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token})
    assert r.status_code == 200
    body = r.json()["token"]
    assert body["methods"] == ["application_credential"]
    assert body["application_credential"]["id"] == ac_id
    assert {x["name"] for x in body["roles"]} >= {"member"}

    # a restricted application credential cannot create another one
    r = requests.post(f"{cloud.auth_url}/users/{u.id}/application_credentials",
                      headers={"X-Auth-Token": token},
                      json={"application_credential": {"name": unique("nested")}}, timeout=30)
    assert r.status_code == 403

    # a wrong secret is rejected
    bad = cloud.write_clouds_yaml(tmp_path / "clouds-bad.yaml", "bad",
                                  auth_type="v3applicationcredential",
                                  application_credential_id=ac_id,
                                  # change the first character: bcrypt ignores bytes past 72
                                  application_credential_secret=("y" if secret[0] == "x" else "x") + secret[1:])
    proc = cloud.cli("token", "issue", cloud="bad", clouds_yaml=bad, check=False)
    assert proc.returncode != 0 and "401" in proc.stderr, proc.stderr

    # once deleted it no longer authenticates
    as_user("application", "credential", "delete", ac_id)
    assert as_user("application", "credential", "list", "-f", "json") == []
    proc = cloud.cli("token", "issue", cloud="ac", clouds_yaml=ac_yaml, check=False)
    # Keystone answers 404 (no such application credential) here; 401 is fine too
    assert proc.returncode != 0 and re.search(r"\b40[14]\b", proc.stderr), proc.stderr
