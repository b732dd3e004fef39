import pytest
"""Who may touch which account: project isolation, roles, container ACLs, ResellerAdmin.

The rules are Swift's keystoneauth (swift/common/middleware/keystoneauth.py authorize /
authorize_anonymous) with operator roles admin and member, project reader role reader,
and reseller_admin_role ResellerAdmin.  A refused authenticated request is 403, a
refused anonymous one 401 (KeystoneAuth.denied_response)."""

from object_support import anonymous


def _owner_with_object(new_account, data=b"private data"):
    owner = new_account()
    c = owner.put_container("box")
    owner.put_object(c, "o", data)
    return owner, c


def test_other_project_is_forbidden_without_acl(new_account):
    owner, c = _owner_with_object(new_account)
    other = new_account().on(owner)
    for method, container, obj in (("HEAD", None, None), ("GET", None, None), ("POST", None, None),
                                   ("HEAD", c, None), ("GET", c, None), ("PUT", "new", None),
                                   ("DELETE", c, None), ("GET", c, "o"), ("HEAD", c, "o"),
                                   ("PUT", c, "o2"), ("POST", c, "o"), ("DELETE", c, "o")):
        r = other.req(method, container, obj, data=b"" if method in ("PUT", "POST") else None)
        assert r.status_code == 403, (method, container, obj, r.status_code, r.text)
    assert owner.get_body(c, "o") == b"private data"
    assert owner.req("HEAD", "new").status_code == 404
    assert owner.req("HEAD", c, "o2").status_code == 404


def test_admin_role_owns_only_its_own_project(new_account):
    owner, c = _owner_with_object(new_account)
    admin = new_account("admin")
    admin.put_container("mine")  # admin is an operator role on its own project
    theirs = admin.on(owner)
    assert theirs.req("GET", c, "o").status_code == 403
    assert theirs.req("HEAD").status_code == 403


def test_anonymous_without_acl_is_401(new_account):
    owner, c = _owner_with_object(new_account)
    for url in (owner.url, owner.url_for(c), owner.url_for(c, "o")):
        for method in ("GET", "HEAD"):
            assert anonymous(method, url).status_code == 401, (method, url)
    assert anonymous("PUT", owner.url_for(c, "x"), data=b"x").status_code == 401
    assert anonymous("DELETE", owner.url_for(c, "o")).status_code == 401
    assert owner.get_body(c, "o") == b"private data"


def test_reader_role_may_only_read(new_account):
    owner, c = _owner_with_object(new_account)
    owner.req("POST", c, headers={"X-Container-Read": "someone:else", "X-Container-Meta-Note": "hi"})
    reader = new_account("reader", project_of=owner)
    assert reader.url == owner.url
    assert reader.req("HEAD").status_code in (200, 204)
    assert reader.names() == [c]
    h = reader.req("HEAD", c)
    assert h.status_code == 204 and h.headers["X-Container-Meta-Note"] == "hi"
    # ACL headers are for owners only (proxy swift_owner_headers)
    assert "X-Container-Read" not in h.headers
    assert owner.req("HEAD", c).headers["X-Container-Read"] == "someone:else"
    assert reader.get_body(c, "o") == b"private data"
    for method, container, obj in (("PUT", c, "new"), ("POST", c, "o"), ("DELETE", c, "o"),
                                   ("PUT", "newc", None), ("POST", c, None), ("DELETE", c, None),
                                   ("POST", None, None)):
        r = reader.req(method, container, obj, data=b"x" if method == "PUT" and obj else None)
        assert r.status_code == 403, (method, container, obj, r.status_code, r.text)
    assert owner.get_body(c, "o") == b"private data"


def test_member_of_same_project_is_an_operator(new_account):
    owner, c = _owner_with_object(new_account)
    colleague = new_account("member", project_of=owner)
    colleague.put_object(c, "from-colleague", b"hi")
    assert owner.get_body(c, "from-colleague") == b"hi"
    assert colleague.req("POST", c, headers={"X-Container-Read": ".r:*"}).status_code == 204
    assert colleague.req("HEAD", c).headers["X-Container-Read"] == ".r:*"


def test_read_acl_for_one_user_of_another_project(new_account):
    owner, c = _owner_with_object(new_account)
    friend = new_account()
    stranger = new_account("member", project_of=friend)  # same project, other user
    r = owner.req("POST", c, headers={"X-Container-Read": f"{friend.user.project_id}:{friend.user.id}"})
    assert r.status_code == 204, (r.status_code, r.text)
    f = friend.on(owner)
    assert f.get_body(c, "o") == b"private data"
    assert f.req("HEAD", c, "o").status_code == 200
    assert f.names(c) == ["o"]                       # a user ACL allows listing too
    h = f.req("HEAD", c)
    assert h.status_code == 204 and "X-Container-Read" not in h.headers
    # read is not write, and not the account
    assert f.req("PUT", c, "o", data=b"overwrite").status_code == 403
    assert f.req("DELETE", c, "o").status_code == 403
    assert f.req("GET").status_code == 403
    assert stranger.on(owner).req("GET", c, "o").status_code == 403


def test_read_acl_wildcards_and_names(new_account):
    owner, c = _owner_with_object(new_account)
    friend = new_account()
    colleague = new_account("member", project_of=friend)
    cases = {
        f"{friend.user.project_id}:*": (True, True),           # any user of that project
        f"*:{friend.user.id}": (True, False),                  # that user, any project
        f"{friend.user.project}:{friend.user.name}": (True, False),  # names (default domain)
    }
    for acl, (friend_ok, colleague_ok) in cases.items():
        assert owner.req("POST", c, headers={"X-Container-Read": acl}).status_code == 204
        for who, ok in ((friend, friend_ok), (colleague, colleague_ok)):
            r = who.on(owner).req("GET", c, "o")
            assert r.status_code == (200 if ok else 403), (acl, who.user.name, r.status_code)


def test_public_read_referrer_acl_and_rlistings(new_account):
    owner, c = _owner_with_object(new_account, b"public data")
    other = new_account().on(owner)
    assert owner.req("POST", c, headers={"X-Container-Read": ".r:*"}).status_code == 204
    r = anonymous("GET", owner.url_for(c, "o"))
    assert r.status_code == 200 and r.content == b"public data"
    assert anonymous("HEAD", owner.url_for(c, "o")).status_code == 200
    assert other.get_body(c, "o") == b"public data"
    # .r:* alone does not allow listing (keystoneauth _authorize_unconfirmed_identity)
    assert anonymous("GET", owner.url_for(c)).status_code == 401
    assert other.req("GET", c).status_code == 403
    assert anonymous("PUT", owner.url_for(c, "x"), data=b"x").status_code == 401

    assert owner.req("POST", c, headers={"X-Container-Read": ".r:*,.rlistings"}).status_code == 204
    r = anonymous("GET", owner.url_for(c), params={"format": "json"})
    assert r.status_code == 200 and [e["name"] for e in r.json()] == ["o"]
    assert other.names(c) == ["o"]
    assert anonymous("GET", owner.url).status_code == 401  # never the account


def test_referrer_acl_for_one_host(new_account):
    owner, c = _owner_with_object(new_account)
    assert owner.req("POST", c, headers={"X-Container-Read": ".r:.example.com,.r:-bad.example.com"}).status_code == 204
    url = owner.url_for(c, "o")
    assert anonymous("GET", url, headers={"Referer": "http://www.example.com/page"}).status_code == 200
    assert anonymous("GET", url, headers={"Referer": "http://bad.example.com/"}).status_code == 401
    assert anonymous("GET", url, headers={"Referer": "http://example.org/"}).status_code == 401
    assert anonymous("GET", url).status_code == 401


def test_write_acl_for_another_project(new_account):
    owner, c = _owner_with_object(new_account)
    writer = new_account()
    w = writer.on(owner)
    assert w.req("PUT", c, "drop", data=b"x").status_code == 403
    r = owner.req("POST", c, headers={"X-Container-Write": f"{writer.user.project_id}:*"})
    assert r.status_code == 204
    r = w.req("PUT", c, "drop", data=b"dropped")
    assert r.status_code == 201, (r.status_code, r.text)
    assert owner.get_body(c, "drop") == b"dropped"
    assert w.req("POST", c, "drop", headers={"X-Object-Meta-By": "writer"}).status_code == 202
    # write without read: no GET, no listing; and no container metadata changes
    assert w.req("GET", c, "drop").status_code == 403
    assert w.req("GET", c).status_code == 403
    assert w.req("POST", c, headers={"X-Container-Read": ".r:*"}).status_code == 403
    assert w.req("DELETE", c, "drop").status_code == 204
    assert owner.req("HEAD", c, "drop").status_code == 404


def test_acl_values_are_validated(new_account):
    owner = new_account()
    c = owner.put_container("acl")
    # swift/common/middleware/acl.py clean_acl: referrers only in read ACLs, host required
    for headers in ({"X-Container-Write": ".r:*"}, {"X-Container-Read": ".r:"},
                    {"X-Container-Read": ".r:-"}, {"X-Container-Read": ".bogus:x"}):
        r = owner.req("POST", c, headers=headers)
        assert r.status_code == 400, (headers, r.status_code, r.text)
    # messy-but-valid ACLs are normalised
    assert owner.req("POST", c, headers={"X-Container-Read": ".referrer : * , .rlistings"}).status_code == 204
    assert owner.req("HEAD", c).headers["X-Container-Read"] == ".r:*,.rlistings"


def test_reseller_admin_may_act_on_every_account(new_account):
    owner, c = _owner_with_object(new_account)
    owner.req("POST", c, headers={"X-Container-Read": "p:u"})
    reseller = new_account("ResellerAdmin").on(owner)
    assert reseller.req("HEAD").status_code == 204
    assert reseller.names() == [c]
    assert reseller.get_body(c, "o") == b"private data"
    assert reseller.req("HEAD", c).headers["X-Container-Read"] == "p:u"  # an owner view
    reseller.put_container("by-reseller")
    reseller.put_object("by-reseller", "x", b"from reseller")
    assert owner.get_body("by-reseller", "x") == b"from reseller"
    assert reseller.req("DELETE", c, "o").status_code == 204
    assert owner.req("HEAD", c, "o").status_code == 404
    # and on an account nobody wrote to yet
    fresh = new_account()
    r = new_account("ResellerAdmin").on(fresh).req("PUT", "made-for-you")
    assert r.status_code == 201, (r.status_code, r.text)
    assert fresh.names() == ["made-for-you"]


def test_temp_url_key_is_hidden_from_non_owners(new_account):
    owner = new_account()
    assert owner.req("POST", headers={"X-Account-Meta-Temp-URL-Key": "s3cret",
                                      "X-Account-Meta-Public": "yes"}).status_code == 204
    assert owner.req("HEAD").headers["X-Account-Meta-Temp-URL-Key"] == "s3cret"
    reader = new_account("reader", project_of=owner)
    h = reader.req("HEAD").headers
    assert h["X-Account-Meta-Public"] == "yes"
    assert "X-Account-Meta-Temp-URL-Key" not in h  # swift_owner_headers


def test_bad_token_is_401(new_account):
    owner, c = _owner_with_object(new_account)
    r = owner.req("GET", c, "o", token="gAAAAA-definitely-not-a-token")
    assert r.status_code == 401, (r.status_code, r.text)
