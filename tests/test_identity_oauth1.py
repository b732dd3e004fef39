"""OS-OAUTH1: consumers, request tokens, authorizing, access tokens and tokens from an access
token, driven by python-keystoneclient's oauth1 managers, keystoneauth1's OAuth1 plugin and
oauthlib-signed raw requests for what a careless or hostile client would send."""

import os
import time

import pytest
import requests

from conftest import unique

oauth1 = pytest.importorskip("oauthlib.oauth1")


def admin_client(cloud):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from keystoneclient.v3 import client as ksclient
    auth = v3.Password(auth_url=cloud.auth_url, username="admin", password=cloud.admin_password,
                       user_domain_id="default", project_name="admin", project_domain_id="default")
    return ksclient.Client(session=session.Session(auth=auth))


def signed(url, key, secret, method="POST", headers=None, **kw):
    client = oauth1.Client(key, client_secret=secret, signature_method=oauth1.SIGNATURE_HMAC, **kw)
    _, h, _ = client.sign(url, http_method=method, headers=headers or {})
    return h


def request_token(cloud, key, secret, project_id, **kw):
    url = f"{cloud.auth_url}/OS-OAUTH1/request_token"
    h = signed(url, key, secret, headers={"Requested-Project-Id": project_id}, callback_uri="oob", **kw)
    return requests.post(url, headers=h, timeout=30)


def form(text):
    return dict(p.split("=", 1) for p in text.split("&"))


def full_flow(cloud, ks, project_id, roles):
    consumer = ks.oauth1.consumers.create(description=unique("consumer"))
    req = ks.oauth1.request_tokens.create(consumer.id, consumer.secret, project_id)
    verifier = ks.oauth1.request_tokens.authorize(req.key, roles).oauth_verifier
    access = ks.oauth1.access_tokens.create(consumer.id, consumer.secret, req.key, req.secret, verifier)
    return consumer, req, access


def oauth_session(cloud, consumer, access):
    from keystoneauth1 import session
    from keystoneauth1.extras.oauth1 import v3 as oauth_v3
    auth = oauth_v3.OAuth1(cloud.auth_url, consumer_key=consumer.id, consumer_secret=consumer.secret,
                           access_key=access.key, access_secret=access.secret)
    return session.Session(auth=auth)


def test_consumers_crud_secret_only_at_create(cloud):
    ks = admin_client(cloud)
    c = ks.oauth1.consumers.create(description="mine")
    assert len(c.secret) == 32
    shown = cloud.api("GET", f"/OS-OAUTH1/consumers/{c.id}").json()["consumer"]
    assert shown["description"] == "mine" and "secret" not in shown
    assert all("secret" not in x for x in cloud.api("GET", "/OS-OAUTH1/consumers").json()["consumers"])
    ks.oauth1.consumers.update(c.id, description="theirs")
    assert cloud.api("GET", f"/OS-OAUTH1/consumers/{c.id}").json()["consumer"]["description"] == "theirs"
    r = cloud.api("PATCH", f"/OS-OAUTH1/consumers/{c.id}", json={"consumer": {"secret": "x"}})
    assert r.status_code == 400, r.text
    r = cloud.api("PATCH", f"/OS-OAUTH1/consumers/{c.id}", json={"consumer": {"description": 5}})
    assert r.status_code == 400, r.text
    ks.oauth1.consumers.delete(c.id)
    assert cloud.api("GET", f"/OS-OAUTH1/consumers/{c.id}").status_code == 404


def test_full_flow_token_carries_oauth_and_is_revoked_with_its_access_token(cloud, new_user):
    ks = admin_client(cloud)
    project_id = cloud.id_of("project", "admin")
    member = cloud.id_of("role", "member")
    consumer, req, access = full_flow(cloud, ks, project_id, [member])
    sess = oauth_session(cloud, consumer, access)
    token = sess.get_token()
    body = cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]
    assert body["methods"] == ["oauth1"]
    assert body["OS-OAUTH1"] == {"access_token_id": access.key, "consumer_id": consumer.id}
    assert body["project"]["id"] == project_id
    # only the authorized role (and what it implies), not the admin's admin role
    names = {r["name"] for r in body["roles"]}
    assert "member" in names and "admin" not in names
    # the token cannot be rescoped nor manage access tokens
    r = cloud.api("POST", "/auth/tokens", token=None, json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": token}}, "scope": {"project": {"id": project_id}}}})
    assert r.status_code == 403, r.text
    admin_id = body["user"]["id"]
    listed = cloud.api("GET", f"/users/{admin_id}/OS-OAUTH1/access_tokens").json()["access_tokens"]
    assert access.key in [a["id"] for a in listed] and all("secret" not in str(a) for a in listed)
    roles = cloud.api("GET", f"/users/{admin_id}/OS-OAUTH1/access_tokens/{access.key}/roles").json()["roles"]
    assert [r["id"] for r in roles] == [member]
    # the request token was spent
    again = ks.oauth1.access_tokens  # replaying the exchange fails
    with pytest.raises(Exception):
        again.create(consumer.id, consumer.secret, req.key, req.secret, "abcdefgh")
    # deleting the access token ends the token made from it
    assert cloud.api("DELETE", f"/users/{admin_id}/OS-OAUTH1/access_tokens/{access.key}").status_code == 204
    assert cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404


def test_deleting_the_consumer_revokes_derived_tokens(cloud):
    ks = admin_client(cloud)
    project_id = cloud.id_of("project", "admin")
    consumer, _, access = full_flow(cloud, ks, project_id, [cloud.id_of("role", "reader")])
    token = oauth_session(cloud, consumer, access).get_token()
    assert cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200
    ks.oauth1.consumers.delete(consumer.id)
    assert cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404


def test_bad_signatures_replays_and_bad_input(cloud):
    ks = admin_client(cloud)
    project_id = cloud.id_of("project", "admin")
    c = ks.oauth1.consumers.create(description="attacked")
    url = f"{cloud.auth_url}/OS-OAUTH1/request_token"
    # wrong secret
    assert request_token(cloud, c.id, "0" * 32, project_id).status_code == 401
    # replayed nonce: the same signed request twice
    h = signed(url, c.id, c.secret, headers={"Requested-Project-Id": project_id}, callback_uri="oob")
    assert requests.post(url, headers=h, timeout=30).status_code == 201
    r = requests.post(url, headers=h, timeout=30)
    assert r.status_code == 400 and "Nonce" in r.json()["error"]["message"]
    # stale timestamp
    r = request_token(cloud, c.id, c.secret, project_id, timestamp=str(int(time.time()) - 3600))
    assert r.status_code == 400 and "600 seconds" in r.text
    # missing header, missing project, unknown project, unknown consumer, garbage header
    assert requests.post(url, timeout=30).status_code == 400
    h = signed(url, c.id, c.secret, callback_uri="oob")
    assert requests.post(url, headers=h, timeout=30).status_code == 400
    assert request_token(cloud, c.id, c.secret, "nope").status_code == 404
    assert request_token(cloud, "f" * 32, c.secret, project_id).status_code == 404
    for junk in ["OAuth ", "OAuth oauth_consumer_key", "OAuth =\"x\"", "OAuth " + "a" * 10000, 'OAuth oauth_nonce="%ZZ"']:
        r = requests.post(url, headers={"Authorization": junk, "Requested-Project-Id": project_id}, timeout=30)
        assert 400 <= r.status_code < 500, (junk[:40], r.status_code, r.text)
    # GET is not allowed
    assert requests.get(url, timeout=30).status_code == 405

    rt = form(request_token(cloud, c.id, c.secret, project_id).text)
    assert set(rt) == {"oauth_token", "oauth_token_secret", "oauth_expires_at"}
    # a role the admin does not hold on the project
    other = cloud.api("POST", "/roles", json={"role": {"name": unique("unheld")}}).json()["role"]
    r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", json={"roles": [{"id": other["id"]}]})
    assert r.status_code == 401, r.text
    r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", json={"roles": [{"id": "x", "name": "y"}]})
    assert r.status_code == 400, r.text
    r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", json={"roles": "member"})
    assert r.status_code == 400, r.text
    # an access token needs the verifier, and a signature with the request token's secret
    access_url = f"{cloud.auth_url}/OS-OAUTH1/access_token"
    h = signed(access_url, c.id, c.secret, resource_owner_key=rt["oauth_token"],
               resource_owner_secret=rt["oauth_token_secret"], verifier="abcdefgh")
    assert requests.post(access_url, headers=h, timeout=30).status_code == 401
    verifier = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}",
                         json={"roles": [{"name": "member"}]}).json()["token"]["oauth_verifier"]
    h = signed(access_url, c.id, c.secret, resource_owner_key=rt["oauth_token"],
               resource_owner_secret="0" * 32, verifier=verifier)
    assert requests.post(access_url, headers=h, timeout=30).status_code == 401
    h = signed(access_url, c.id, c.secret, resource_owner_key=rt["oauth_token"],
               resource_owner_secret=rt["oauth_token_secret"], verifier=verifier)
    r = requests.post(access_url, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    assert requests.post(access_url, headers=h, timeout=30).status_code in (400, 401, 404)
    ks.oauth1.consumers.delete(c.id)
    cloud.api("DELETE", f"/roles/{other['id']}")


def test_non_admins_cannot_manage_or_authorize(cloud, new_user):
    ks = admin_client(cloud)
    c = ks.oauth1.consumers.create(description="x")
    user = new_user("member")
    token, body = cloud.token(user.name, user.password, user.project)
    assert cloud.api("GET", "/OS-OAUTH1/consumers", token=token).status_code == 403
    assert cloud.api("POST", "/OS-OAUTH1/consumers", token=token, json={"consumer": {}}).status_code == 403
    assert cloud.api("DELETE", f"/OS-OAUTH1/consumers/{c.id}", token=token).status_code == 403
    rt = form(request_token(cloud, c.id, c.secret, user.project_id).text)
    r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", token=token,
                  json={"roles": [{"name": "member"}]})
    assert r.status_code == 403, r.text
    assert cloud.api("GET", f"/users/{user.id}/OS-OAUTH1/access_tokens", token=token).status_code == 403
    assert cloud.api("GET", "/OS-OAUTH1/consumers", token=None).status_code == 401
    ks.oauth1.consumers.delete(c.id)


@pytest.mark.skipif(bool(os.environ.get("NIMBUS_DEFAULT_DATABASE")), reason="ages the request token in the SQLite file")
def test_expired_request_token_and_mixed_methods(cloud):
    import sqlite3
    ks = admin_client(cloud)
    project_id = cloud.id_of("project", "admin")
    c = ks.oauth1.consumers.create(description="expiring")
    rt = form(request_token(cloud, c.id, c.secret, project_id).text)
    db = sqlite3.connect(str(cloud.data_dir / "nimbus.sqlite"), timeout=30)
    with db:
        db.execute("UPDATE identity_oauth_request_tokens SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
                   (rt["oauth_token"],))
    db.close()
    r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", json={"roles": [{"name": "member"}]})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"], r.text
    # oauth1 is not combined with another method
    r = cloud.api("POST", "/auth/tokens", token=None, json={"auth": {"identity": {
        "methods": ["password", "oauth1"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": cloud.admin_password}}}}})
    assert r.status_code == 401, r.text
    r = cloud.api("POST", "/auth/tokens", token=None, json={"auth": {"identity": {"methods": ["oauth1"]}}})
    assert r.status_code == 400, r.text
    ks.oauth1.consumers.delete(c.id)


def test_token_durations_are_configurable(tmp_path):
    """Keystone's `[oauth1] request_token_duration` and `access_token_duration`: a request token
    that lives 1 s cannot be authorized after it; 0 means forever, and then the response carries
    no `oauth_expires_at` (keystone/api/os_oauth1.py)."""
    import tempfile
    from pathlib import Path

    from conftest import Cloud
    from nimbus_launcher import Nimbus, random_password
    from object_support import write_config

    data = Path(tempfile.mkdtemp(prefix="oa-", dir="/tmp"))
    cfg = write_config(tmp_path / "oauth.conf", {"oauth1": {"request_token_duration": "1", "access_token_duration": "0"},
                                                 "network": {"datapath": "fake"}, "compute_node": {"driver": "fake"}})
    n = Nimbus(data, admin_password=random_password(), demo_password=random_password(), extra_args=["--config-file", str(cfg)])
    try:
        n.start(timeout=60)
        cloud = Cloud(n)
        ks = admin_client(cloud)
        project_id = cloud.id_of("project", "admin")
        c = ks.oauth1.consumers.create(description="durations")
        rt = form(request_token(cloud, c.id, c.secret, project_id).text)
        assert "oauth_expires_at" in rt, rt
        time.sleep(1.5)
        r = cloud.api("PUT", f"/OS-OAUTH1/authorize/{rt['oauth_token']}", json={"roles": [{"name": "member"}]})
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"], r.text
        # A fresh request token is authorized at once; its access token never expires.
        req = ks.oauth1.request_tokens.create(c.id, c.secret, project_id)
        verifier = ks.oauth1.request_tokens.authorize(req.key, [cloud.id_of("role", "member")]).oauth_verifier
        url = f"{cloud.auth_url}/OS-OAUTH1/access_token"
        h = signed(url, c.id, c.secret, resource_owner_key=req.key, resource_owner_secret=req.secret, verifier=verifier)
        at = form(requests.post(url, headers=h, timeout=30).text)
        assert set(at) == {"oauth_token", "oauth_token_secret"}, at
        shown = cloud.api("GET", f"/users/{cloud.id_of('user', 'admin')}/OS-OAUTH1/access_tokens/{at['oauth_token']}").json()
        assert shown["access_token"]["expires_at"] is None, shown
    finally:
        n.stop(grace=10)
        import shutil
        shutil.rmtree(data, ignore_errors=True)
