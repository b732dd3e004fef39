"""The domain configuration API (/v3/domains/{id}/config), driven by openstacksdk,
python-keystoneclient and raw requests.  Nimbus has only the SQL identity driver: the
configuration is stored and served, as Keystone stores and serves it."""

import requests

from conftest import unique

CUSTOM = {"identity": {"driver": "ldap"},
          "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=my_new_root,dc=org"}}


def new_domain(cloud) -> str:
    r = cloud.api("POST", "/domains", json={"domain": {"name": unique("cfgdom")}})
    assert r.status_code == 201, r.text
    return r.json()["domain"]["id"]


def drop_domain(cloud, domain_id: str) -> None:
    cloud.api("PATCH", f"/domains/{domain_id}", json={"domain": {"enabled": False}})
    assert cloud.api("DELETE", f"/domains/{domain_id}").status_code == 204


def test_sdk_create_show_update_delete(cloud):
    domain_id = new_domain(cloud)
    conn = cloud.sdk()
    created = conn.identity.create_domain_config(domain_id, **CUSTOM)
    assert created.ldap.url == "ldap://myldap.com:389/" and created.identity.driver == "ldap"
    conn.identity.update_domain_config(domain_id, ldap={"url": "ldap://other:389/"})
    shown = conn.identity.get_domain_config(domain_id)
    assert shown.ldap.url == "ldap://other:389/"
    assert shown.ldap.user_tree_dn == CUSTOM["ldap"]["user_tree_dn"]
    conn.identity.delete_domain_config(domain_id, ignore_missing=False)
    assert cloud.api("GET", f"/domains/{domain_id}/config").status_code == 404
    drop_domain(cloud, domain_id)


def test_keystoneclient_groups_options_and_defaults(cloud):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from keystoneclient.v3 import client as ksclient
    auth = v3.Password(auth_url=cloud.auth_url, username="admin", password=cloud.admin_password,
                       user_domain_id="default", project_name="admin", project_domain_id="default")
    ks = ksclient.Client(session=session.Session(auth=auth))
    domain_id = new_domain(cloud)
    created = ks.domain_configs.create(domain_id, CUSTOM)
    assert created.ldap == CUSTOM["ldap"]
    # replacing answers 200 rather than 201, and keeps only what was sent
    r = cloud.api("PUT", f"/domains/{domain_id}/config", json={"config": {"ldap": {"url": "ldap://x/"}}})
    assert r.status_code == 200 and r.json()["config"] == {"ldap": {"url": "ldap://x/"}}
    r = cloud.api("PATCH", f"/domains/{domain_id}/config/ldap/url", json={"config": {"url": "ldap://y/"}})
    assert r.status_code == 200 and r.json()["config"]["ldap"]["url"] == "ldap://y/"
    r = cloud.api("GET", f"/domains/{domain_id}/config/ldap/url")
    assert r.json() == {"config": {"url": "ldap://y/"}}
    defaults = cloud.api("GET", "/domains/config/default").json()["config"]
    assert defaults["identity"] == {"driver": "sql", "list_limit": None}
    assert "password" not in defaults["ldap"] and defaults["ldap"]["pool_size"] == 10
    assert cloud.api("GET", "/domains/config/ldap/url/default").json() == {"config": {"url": "ldap://localhost"}}
    ks.domain_configs.delete(domain_id)
    drop_domain(cloud, domain_id)


def test_sensitive_options_are_stored_but_never_shown(cloud):
    domain_id = new_domain(cloud)
    r = cloud.api("PUT", f"/domains/{domain_id}/config",
                  json={"config": {"ldap": {"url": "ldap://z/", "password": "hunter2"}}})
    assert r.status_code == 201 and "password" not in r.json()["config"]["ldap"]
    for path in ("", "/ldap", "/ldap/password"):
        got = cloud.api("GET", f"/domains/{domain_id}/config{path}")
        assert "hunter2" not in got.text
    assert cloud.api("GET", f"/domains/{domain_id}/config/ldap/password").status_code == 404
    assert cloud.api("GET", "/domains/config/ldap/password/default").status_code == 403
    # it exists, so it can be changed and deleted
    r = cloud.api("PATCH", f"/domains/{domain_id}/config/ldap/password", json={"config": {"password": "new"}})
    assert r.status_code == 200 and "new" not in r.text.replace("ldap://z/", "")
    assert cloud.api("DELETE", f"/domains/{domain_id}/config/ldap/password").status_code == 204
    assert cloud.api("DELETE", f"/domains/{domain_id}/config/ldap/password").status_code == 404
    drop_domain(cloud, domain_id)


def test_bad_input_and_policy(cloud, new_user):
    domain_id = new_domain(cloud)
    url = f"/domains/{domain_id}/config"
    for body, status in [({"config": {"nova": {"a": 1}}}, 403), ({"config": {"ldap": {"nope": 1}}}, 403),
                         ({"config": {}}, 403), ({}, 403), ({"config": {"ldap": {}}}, 403),
                         ({"config": {"ldap": ["url"]}}, 403), ({"config": "x"}, 400), ([1], 400)]:
        r = cloud.api("PUT", url, json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()["error"]) == {"code", "title", "message"}
    assert cloud.api("PUT", url, data=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    big = {"config": {"ldap": {"url": "x" * (2 << 20)}}}
    assert cloud.api("PUT", url, json=big).status_code == 413
    assert cloud.api("PUT", "/domains/nope/config", json={"config": CUSTOM}).status_code == 404
    assert cloud.api("GET", url, token=None).status_code == 401
    # a member of a project in another domain can touch none of it, and learns nothing of existence
    user = new_user("member")
    token, _ = cloud.token(user.name, user.password, user.project)
    assert cloud.api("PUT", url, token=token, json={"config": CUSTOM}).status_code == 403
    assert cloud.api("GET", url, token=token).status_code == 403
    assert cloud.api("GET", "/domains/nope/config", token=token).status_code == 403
    assert cloud.api("GET", "/domains/config/default", token=token).status_code == 403
    assert cloud.api("DELETE", url, token=token).status_code == 403
    # the password rules are readable by anyone, for the default domain only
    r = cloud.api("GET", "/domains/default/config/security_compliance", token=token)
    assert r.status_code == 200 and set(r.json()["config"]["security_compliance"]) == {
        "password_regex", "password_regex_description"}
    assert cloud.api("GET", f"{url}/security_compliance", token=token).status_code == 403
    drop_domain(cloud, domain_id)
    assert requests.get(f"{cloud.auth_url}{url}", headers={"X-Auth-Token": cloud.admin_token()},
                        timeout=30).status_code == 404
