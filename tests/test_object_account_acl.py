"""Account ACLs: `X-Account-Access-Control`, a version-2 Swift ACL (JSON, acl.py) with the
lists `admin`, `read-write` and `read-only`, checked and applied by tempauth's rules
(swift/common/middleware/tempauth.py `extract_acl_and_report_errors`, `authorize`).

Swift's keystoneauth does not read account ACLs; Nimbus applies tempauth's rules and names
users as keystoneauth names them in container ACLs (`<project_id>:<user_id>`, names in the
default domain, `*` forms)."""

import json

from object_support import swift_connection


def grantee(acct):
    return f"{acct.user.project_id}:{acct.user.id}"


def set_acl(owner, acl):
    value = acl if isinstance(acl, str) else json.dumps(acl)
    return owner.req("POST", headers={"X-Account-Access-Control": value})


def test_owner_sets_and_reads_the_acl(new_account):
    owner = new_account()
    other = new_account()
    r = set_acl(owner, {"read-only": [grantee(other), "zed:*"], "admin": []})
    assert r.status_code == 204, (r.status_code, r.text)
    # acl.py format_acl_v2: sorted keys, no spaces
    expected = json.dumps({"admin": [], "read-only": [grantee(other), "zed:*"]}, separators=(",", ":"), sort_keys=True)
    assert owner.req("HEAD").headers["X-Account-Access-Control"] == expected
    assert owner.req("GET").headers["X-Account-Access-Control"] == expected
    # only the account's owners see it
    h = other.on(owner).req("HEAD")
    assert h.status_code == 204 and "X-Account-Access-Control" not in h.headers
    # an empty value removes it
    assert set_acl(owner, "").status_code == 204
    assert "X-Account-Access-Control" not in owner.req("HEAD").headers
    assert other.on(owner).req("HEAD").status_code == 403


def test_invalid_acls_are_400_with_tempauths_message(new_account):
    owner = new_account()
    for value, reason in (("not json", "Syntax error in input ('not json')"),
                          ('{"owners": []}', 'Key "owners" not recognized'),
                          ('{"admin": "a:b"}', 'Value for key "admin" must be a list'),
                          ('{"read-only": [7]}', 'Elements of "read-only" list must be strings')):
        r = set_acl(owner, value)
        assert r.status_code == 400, (value, r.status_code, r.text)
        assert r.text == f"X-Account-Access-Control invalid: {reason}\n\nInput: {value}\n", r.text
        assert r.headers["Content-Type"].startswith("text/plain")
    assert "X-Account-Access-Control" not in owner.req("HEAD").headers


def test_read_only(new_account):
    owner = new_account()
    reader = new_account()
    c = owner.put_container()
    owner.put_object(c, "o", b"data")
    guest = reader.on(owner)
    assert guest.req("GET", c, "o").status_code == 403
    assert set_acl(owner, {"read-only": [grantee(reader)]}).status_code == 204
    assert guest.req("HEAD").status_code == 204
    assert [e["name"] for e in guest.listing()] == [c]
    assert guest.names(c) == ["o"]
    assert guest.get_body(c, "o") == b"data"
    assert guest.req("PUT", c, "new", data=b"x").status_code == 403
    assert guest.req("DELETE", c, "o").status_code == 403
    assert guest.req("PUT", "another").status_code == 403
    assert guest.req("POST", headers={"X-Account-Meta-A": "1"}).status_code == 403
    assert set_acl(guest, {"admin": [grantee(reader)]}).status_code == 403


def test_read_write(new_account):
    owner = new_account()
    writer = new_account()
    assert set_acl(owner, {"read-write": [grantee(writer)]}).status_code == 204
    guest = writer.on(owner)
    r = guest.req("PUT", "made-by-guest", headers={"X-Container-Read": ".r:*", "X-Container-Meta-Note": "n"})
    assert r.status_code == 201, (r.status_code, r.text)
    # owner-only settings are dropped from a request that does not own the account
    h = owner.req("HEAD", "made-by-guest").headers
    assert h["X-Container-Meta-Note"] == "n" and "X-Container-Read" not in h
    assert guest.req("PUT", "made-by-guest", "o", data=b"w").status_code == 201
    assert owner.get_body("made-by-guest", "o") == b"w"
    assert guest.req("POST", "made-by-guest", headers={"X-Container-Meta-Other": "1"}).status_code == 204
    assert guest.req("DELETE", "made-by-guest", "o").status_code == 204
    assert guest.req("DELETE", "made-by-guest").status_code == 204
    assert guest.req("GET").status_code in (200, 204)
    # the account itself is read-only to them
    assert guest.req("POST", headers={"X-Account-Meta-A": "1"}).status_code == 403
    assert "X-Account-Access-Control" not in guest.req("HEAD").headers


def test_admin(new_account):
    owner = new_account()
    admin = new_account()
    other = new_account()
    assert set_acl(owner, {"admin": [grantee(admin)]}).status_code == 204
    guest = admin.on(owner)
    assert guest.req("POST", headers={"X-Account-Meta-Temp-URL-Key": "k"}).status_code == 204
    h = guest.req("HEAD").headers
    assert h["X-Account-Meta-Temp-Url-Key"] == "k" and "X-Account-Access-Control" in h
    # an admin may change the ACL itself
    assert set_acl(guest, {"admin": [grantee(admin)], "read-only": [grantee(other)]}).status_code == 204
    assert other.on(owner).req("HEAD").status_code == 204
    c = guest.put_container(headers={"X-Container-Read": grantee(other)})
    assert owner.req("HEAD", c).headers["X-Container-Read"] == grantee(other)


def test_acl_reaches_across_accounts_in_copies(new_account):
    owner = new_account()
    reader = new_account()
    c = owner.put_container()
    owner.put_object(c, "o", b"shared")
    set_acl(owner, {"read-only": [grantee(reader)]})
    mine = reader.put_container()
    r = reader.req("PUT", mine, "copy", headers={"X-Copy-From": f"{c}/o", "X-Copy-From-Account": owner.name})
    assert r.status_code == 201, (r.status_code, r.text)
    assert reader.get_body(mine, "copy") == b"shared"


def test_swiftclient_sees_the_acl(cloud, new_user, new_account):
    user = new_user()
    conn = swift_connection(cloud, user)
    other = new_account()
    conn.post_account({"X-Account-Access-Control": json.dumps({"read-only": [grantee(other)]})})
    assert json.loads(conn.head_account()["x-account-access-control"]) == {"read-only": [grantee(other)]}
