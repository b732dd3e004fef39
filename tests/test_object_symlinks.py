"""Symlinks, as Swift's symlink middleware (swift/common/middleware/symlink.py) serves them.

A symlink is a zero-byte object PUT with `X-Symlink-Target: <container>/<object>` (and
optionally `X-Symlink-Target-Account`, `X-Symlink-Target-Etag` for a static link).  GET and
HEAD answer with the target plus `Content-Location: /v1/<account>/<container>/<object>`;
`?symlink=get` answers with the link itself.  At most `symloop_max` (2) links are followed in a
row (then 409); the target is read with the caller's rights (ACLs, temp URL scope)."""

import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

from object_support import EMPTY_MD5, anonymous, md5hex, qpath, swift_connection, swift_info, unique


def link(acct, container, name, target, headers=None, **kw):
    h = {"X-Symlink-Target": target, **(headers or {})}
    return acct.req("PUT", container, name, headers=h, data=b"", **kw)


def location(acct, container, obj, account=None):
    return "/v1/" + (account or acct.name) + qpath(container, obj)


def test_info_advertises_symlinks(cloud):
    assert swift_info(cloud)["symlink"] == {"symloop_max": 2, "static_links": True}


def test_dynamic_link_get_head_and_symlink_get(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "target.txt", b"target data", headers={"Content-Type": "text/x-target",
                                                             "X-Object-Meta-Color": "red"})
    r = link(acct, c, "link", f"{c}/target.txt")
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["Etag"] == EMPTY_MD5

    g = acct.req("GET", c, "link")
    assert g.status_code == 200 and g.content == b"target data"
    assert g.headers["Content-Location"] == location(acct, c, "target.txt")
    assert g.headers["Etag"] == md5hex(b"target data")
    assert g.headers["Content-Type"] == "text/x-target" and g.headers["X-Object-Meta-Color"] == "red"
    h = acct.req("HEAD", c, "link")
    assert h.status_code == 200 and h.headers["Content-Length"] == "11"
    assert h.headers["Content-Location"] == location(acct, c, "target.txt")
    # a range is taken from the target
    r = acct.req("GET", c, "link", headers={"Range": "bytes=0-5"})
    assert r.status_code == 206 and r.content == b"target"

    own = acct.req("GET", c, "link", params={"symlink": "get"})
    assert own.status_code == 200 and own.content == b""
    assert own.headers["X-Symlink-Target"] == f"{c}/target.txt"
    assert "X-Symlink-Target-Account" not in own.headers and "Content-Location" not in own.headers
    assert own.headers["Content-Type"] == "application/symlink"
    assert own.headers["Etag"] == EMPTY_MD5
    assert acct.req("HEAD", c, "link", params={"symlink": "get"}).headers["X-Symlink-Target"] == f"{c}/target.txt"


def test_link_to_a_missing_object_is_created_and_reads_404(new_account):
    acct = new_account()
    c = acct.put_container()
    assert link(acct, c, "dangling", "elsewhere/nothing").status_code == 201
    r = acct.req("GET", c, "dangling")
    assert r.status_code == 404
    assert r.headers["Content-Location"] == location(acct, "elsewhere", "nothing")


def test_put_with_a_body_is_400_and_stores_nothing(new_account):
    acct = new_account()
    c = acct.put_container()
    r = acct.req("PUT", c, "l", headers={"X-Symlink-Target": f"{c}/t"}, data=b"body")
    assert r.status_code == 400 and r.text == "Symlink requests require a zero byte body", r.text
    assert r.headers["Content-Type"].startswith("text/plain")

    def chunks():
        yield b"x"
    r = acct.req("PUT", c, "l", headers={"X-Symlink-Target": f"{c}/t"}, data=chunks())
    assert r.status_code == 400 and r.text == "Symlink requests require a zero byte body"
    assert acct.req("HEAD", c, "l", params={"symlink": "get"}).status_code == 404

    def nothing():
        yield b""
    r = acct.req("PUT", c, "chunked", headers={"X-Symlink-Target": f"{c}/t"}, data=nothing())
    assert r.status_code == 201, (r.status_code, r.text)


def test_malformed_targets(new_account):
    acct = new_account()
    c = acct.put_container()
    form = "X-Symlink-Target header must be of the form <container name>/<object name>"
    for bad in ("/c/o", "justcontainer", "c/", "/"):
        r = link(acct, c, "l", bad)
        assert r.status_code == 412 and form in r.text, (bad, r.status_code, r.text)
    r = link(acct, c, "self", f"{c}/self")
    assert r.status_code == 400 and r.text == "Symlink cannot target itself"
    # the same name in another account is not itself
    assert link(acct, c, "self", f"{c}/self", headers={"X-Symlink-Target-Account": "AUTH_other"}).status_code == 201
    r = link(acct, c, "l", f"{c}/o", headers={"X-Symlink-Target-Account": ""})
    assert r.status_code == 412 and "Account name cannot be empty" in r.text
    r = link(acct, c, "l", f"{c}/o", headers={"X-Symlink-Target-Account": "a%2Fb"})
    assert r.status_code == 412 and "Account name cannot contain slashes" in r.text
    r = link(acct, c, "l", f"{c}/o", headers={"X-Symlink-Target-Etag": "abc;def"})
    assert r.status_code == 400 and r.text == "Bad X-Symlink-Target-Etag format"
    # a quoted target is unquoted once: %2F is a slash inside the object name
    acct.put_object(c, "dir/obj", b"nested")
    assert link(acct, c, "q", f"{c}/dir%2Fobj").status_code == 201
    assert acct.get_body(c, "q") == b"nested"


def test_chains_follow_two_links_and_the_third_is_409(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "obj", b"end")
    link(acct, c, "l1", f"{c}/obj")
    link(acct, c, "l2", f"{c}/l1")
    r = acct.req("GET", c, "l2")
    assert r.status_code == 200 and r.content == b"end"
    assert r.headers["Content-Location"] == location(acct, c, "obj")
    link(acct, c, "l3", f"{c}/l2")
    r = acct.req("GET", c, "l3")
    assert r.status_code == 409
    assert r.text == "Too many levels of symbolic links, maximum allowed is 2"
    assert acct.req("HEAD", c, "l3").status_code == 409
    # a loop ends the same way
    link(acct, c, "a", f"{c}/b")
    link(acct, c, "b", f"{c}/a")
    assert acct.req("GET", c, "a").status_code == 409


def test_static_links(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "t", b"static target", headers={"Content-Type": "text/x-static"})
    etag = md5hex(b"static target")
    r = link(acct, c, "s", f"{c}/t", headers={"X-Symlink-Target-Etag": f'"{etag}"'})
    assert r.status_code == 201, r.text
    own = acct.req("HEAD", c, "s", params={"symlink": "get"}).headers
    assert own["X-Symlink-Target-Etag"] == etag and own["X-Symlink-Target-Bytes"] == "13"
    assert own["Content-Type"] == "text/x-static"  # the target's, when none is sent
    assert acct.get_body(c, "s") == b"static target"
    entry = {e["name"]: e for e in acct.listing(c)}["s"]
    assert entry["symlink_path"] == location(acct, c, "t")
    assert entry["symlink_etag"] == etag and entry["symlink_bytes"] == 13
    assert entry["bytes"] == 0 and entry["hash"] == EMPTY_MD5

    # the target changes: the static link no longer resolves
    acct.put_object(c, "t", b"changed")
    r = acct.req("GET", c, "s")
    assert r.status_code == 409
    assert r.text == f"Object Etag '{md5hex(b'changed')}' does not match X-Symlink-Target-Etag header '{etag}'"
    assert r.headers["Content-Location"] == location(acct, c, "t")

    r = link(acct, c, "s2", f"{c}/t", headers={"X-Symlink-Target-Etag": etag})
    assert r.status_code == 409 and "does not match X-Symlink-Target-Etag header" in r.text
    r = link(acct, c, "s3", f"{c}/missing", headers={"X-Symlink-Target-Etag": etag})
    assert r.status_code == 409 and r.text == "X-Symlink-Target does not exist"
    assert r.headers["Content-Location"] == location(acct, c, "missing")
    # a static link to a dynamic link is checked against the link itself (the empty ETag)
    link(acct, c, "dyn", f"{c}/t")
    r = link(acct, c, "s4", f"{c}/dyn", headers={"X-Symlink-Target-Etag": md5hex(b"changed")})
    assert r.status_code == 409, r.text
    r = link(acct, c, "s5", f"{c}/dyn", headers={"X-Symlink-Target-Etag": EMPTY_MD5})
    assert r.status_code == 201, r.text
    # ... and on GET: the static link's ETag must be the dynamic link's
    assert acct.get_body(c, "s5") == b"changed"


def test_listings_name_the_target(new_account):
    acct = new_account()
    c = acct.put_container()
    link(acct, c, "l", "other/obj", headers={"X-Symlink-Target-Account": "AUTH_elsewhere"})
    acct.put_object(c, "plain", b"p")
    entries = {e["name"]: e for e in acct.listing(c)}
    assert entries["l"]["symlink_path"] == "/v1/AUTH_elsewhere/other/obj"
    assert entries["l"]["content_type"] == "application/symlink"
    assert "symlink_etag" not in entries["l"] and "symlink_path" not in entries["plain"]
    # only JSON listings say so
    xml = acct.req("GET", c, params={"format": "xml"})
    assert "symlink_path" not in xml.text and "/v1/AUTH_elsewhere" not in xml.text
    assert ET.fromstring(xml.content).tag == "container"


def test_target_is_read_with_the_callers_rights(new_account):
    owner = new_account()
    other = new_account()
    c = owner.put_container(headers={"X-Container-Read": f"{other.user.project_id}:{other.user.id}"})
    private = owner.put_container()
    owner.put_object(private, "secret", b"secret")
    owner.put_object(c, "open", b"open")
    link(owner, c, "to-secret", f"{private}/secret")
    link(owner, c, "to-open", f"{c}/open")
    guest = other.on(owner)
    assert guest.get_body(c, "to-open") == b"open"
    r = guest.req("GET", c, "to-secret")
    assert r.status_code == 403
    assert r.headers["Content-Location"] == location(owner, private, "secret")
    # the link itself is readable
    assert guest.req("GET", c, "to-secret", params={"symlink": "get"}).status_code == 200
    # once the target's container lets the guest read, the link works
    owner.req("POST", private, headers={"X-Container-Read": f"{other.user.project_id}:{other.user.id}"})
    assert guest.get_body(c, "to-secret") == b"secret"


def test_cross_account_link(new_account):
    a = new_account()
    b = new_account()
    bc = b.put_container()
    b.put_object(bc, "obj", b"from b")
    ac = a.put_container()
    r = link(a, ac, "to-b", f"{bc}/obj", headers={"X-Symlink-Target-Account": b.name})
    assert r.status_code == 201
    assert a.req("GET", ac, "to-b").status_code == 403
    b.req("POST", bc, headers={"X-Container-Read": f"{a.user.project_id}:*"})
    g = a.req("GET", ac, "to-b")
    assert g.status_code == 200 and g.content == b"from b"
    assert g.headers["Content-Location"] == location(b, bc, "obj")
    own = a.req("HEAD", ac, "to-b", params={"symlink": "get"})
    assert own.headers["X-Symlink-Target-Account"] == b.name


def test_post_to_a_link_is_307_and_applies_to_the_link(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "t", b"t")
    link(acct, c, "l", f"{c}/t")
    r = acct.req("POST", c, "l", headers={"X-Object-Meta-Note": "on the link"})
    assert r.status_code == 307, (r.status_code, r.text)
    assert r.headers["Location"] == location(acct, c, "t")
    assert "POST directly to the target" in r.text
    own = acct.req("HEAD", c, "l", params={"symlink": "get"}).headers
    assert own["X-Object-Meta-Note"] == "on the link" and own["X-Symlink-Target"] == f"{c}/t"
    assert "X-Object-Meta-Note" not in acct.req("HEAD", c, "t").headers
    r = acct.req("POST", c, "t", headers={"X-Symlink-Target": f"{c}/x"})
    assert r.status_code == 400 and r.text == "A PUT request is required to set a symlink target"


def test_delete_and_copy(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "t", b"copy me")
    link(acct, c, "l", f"{c}/t")
    # COPY of a link copies the target's data
    r = acct.req("COPY", c, "l", headers={"Destination": f"{c}/copied"})
    assert r.status_code == 201, r.text
    assert acct.get_body(c, "copied") == b"copy me"
    assert "X-Symlink-Target" not in acct.req("HEAD", c, "copied", params={"symlink": "get"}).headers
    # with ?symlink=get, the link itself
    r = acct.req("PUT", c, "l-copy", headers={"X-Copy-From": f"{c}/l"}, params={"symlink": "get"})
    assert r.status_code == 201, r.text
    own = acct.req("HEAD", c, "l-copy", params={"symlink": "get"}).headers
    assert own["X-Symlink-Target"] == f"{c}/t"
    assert acct.get_body(c, "l-copy") == b"copy me"
    # DELETE removes the link only
    assert acct.req("DELETE", c, "l").status_code == 204
    assert acct.req("HEAD", c, "l", params={"symlink": "get"}).status_code == 404
    assert acct.get_body(c, "t") == b"copy me"


def test_copy_a_link_into_another_account(new_account):
    a = new_account()
    b = new_account()
    ac = a.put_container(headers={"X-Container-Read": f"{b.user.project_id}:*"})
    a.put_object(ac, "t", b"in a")
    link(a, ac, "l", f"{ac}/t")
    bc = b.put_container()
    source = {"X-Copy-From": f"{ac}/l", "X-Copy-From-Account": a.name}
    # the copied link names no account: its target is in the account it now lives in
    r = b.req("PUT", bc, "l", headers=source, params={"symlink": "get"})
    assert r.status_code == 201, r.text
    r = b.req("GET", bc, "l")
    assert r.status_code == 404 and r.headers["Content-Location"] == location(b, ac, "t")
    # X-Symlink-Target-Account on the copy names it
    r = b.req("PUT", bc, "l2", headers={**source, "X-Symlink-Target-Account": a.name}, params={"symlink": "get"})
    assert r.status_code == 201, r.text
    assert b.get_body(bc, "l2") == b"in a"


def test_an_overwritten_link_is_versioned_as_a_link(new_account):
    acct = new_account()
    history = acct.put_container()
    c = acct.put_container(headers={"X-History-Location": history})
    acct.put_object(c, "t", b"target")
    link(acct, c, "l", f"{c}/t")
    acct.put_object(c, "l", b"now a plain object")
    versions = acct.names(history)
    assert len(versions) == 1, versions
    # the archived version is the link itself, still pointing at the target
    own = acct.req("HEAD", history, versions[0], params={"symlink": "get"})
    assert own.headers["X-Symlink-Target"] == f"{c}/t"
    assert acct.get_body(history, versions[0]) == b"target"


def test_names_are_bytes(new_account):
    acct = new_account()
    c = acct.put_container()
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    acct.put_object(c, composed, b"composed")
    acct.put_object(c, decomposed, b"decomposed")
    # header values are quoted (Swift unquotes X-Symlink-Target once)
    link(acct, c, "to-decomposed", quote(f"{c}/{decomposed}"))
    assert acct.get_body(c, "to-decomposed") == b"decomposed"
    # a link whose name is equivalent to its target's (but other bytes) is not "itself"
    r = link(acct, c, composed + "-l", quote(f"{c}/{decomposed}-l"))
    assert r.status_code == 201, r.text


def test_a_link_as_an_slo_segment_stands_for_its_target(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "seg1", b"a" * 5)
    acct.put_object(c, "real2", b"b" * 7)
    link(acct, c, "seg2", f"{c}/real2")
    # slo.py checks each segment with a HEAD that the symlink middleware follows
    manifest = [{"path": f"/{c}/seg1", "etag": md5hex(b"a" * 5), "size_bytes": 5},
                {"path": f"/{c}/seg2", "etag": md5hex(b"b" * 7), "size_bytes": 7}]
    r = acct.req("PUT", c, "slo", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
    assert r.status_code == 201, r.text
    r = acct.req("GET", c, "slo")
    assert r.status_code == 200 and r.content == b"a" * 5 + b"b" * 7
    # a segment link whose target is gone is a missing segment
    bad = [{"path": f"/{c}/dangling", "etag": None, "size_bytes": None}]
    link(acct, c, "dangling", f"{c}/nowhere")
    r = acct.req("PUT", c, "slo2", params={"multipart-manifest": "put"}, data=json.dumps(bad))
    assert r.status_code == 400 and "404 Not Found" in r.text, r.text


def test_temp_url_disposition_names_the_link(new_account):
    acct = new_account()
    c = acct.put_container(headers={"X-Container-Meta-Temp-URL-Key": "ckey"})
    acct.put_object(c, "target.bin", b"x")
    link(acct, c, "pretty-name.txt", f"{c}/target.bin")
    url, params = _temp_url(acct, c, "pretty-name.txt", "ckey")
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200 and r.content == b"x"
    assert 'filename="pretty-name.txt"' in r.headers["Content-Disposition"], r.headers


def _temp_url(acct, container, obj, key):
    expires = int(time.time() + 300)
    path = f"{acct.path}/{container}/{obj}"
    sig = hmac.new(key.encode(), f"GET\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
    return acct.url_for(container, obj), {"temp_url_sig": sig, "temp_url_expires": str(expires)}


def test_temp_urls_stay_in_their_scope(new_account):
    acct = new_account()
    c = acct.put_container(headers={"X-Container-Meta-Temp-URL-Key": "ckey"})
    other = acct.put_container()
    acct.put_object(c, "here", b"here")
    acct.put_object(other, "there", b"there")
    link(acct, c, "to-here", f"{c}/here")
    link(acct, c, "to-there", f"{other}/there")
    url, params = _temp_url(acct, c, "to-here", "ckey")
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200 and r.content == b"here"
    # a container key does not reach another container through a link
    url, params = _temp_url(acct, c, "to-there", "ckey")
    assert anonymous("GET", url, params=params).status_code == 401
    # an account key does
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": "akey"}).status_code == 204
    url, params = _temp_url(acct, c, "to-there", "akey")
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200 and r.content == b"there"


def test_swiftclient_round_trip(cloud, new_user):
    conn = swift_connection(cloud, new_user())
    conn.put_container("c")
    conn.put_object("c", "target", b"via swiftclient")
    conn.put_object("c", "link", b"", headers={"X-Symlink-Target": "c/target"})
    headers, body = conn.get_object("c", "link")
    assert body == b"via swiftclient"
    assert headers["content-location"].endswith("/c/target")
    headers, body = conn.get_object("c", "link", query_string="symlink=get")
    assert body == b"" and headers["x-symlink-target"] == "c/target"
    _, listing = conn.get_container("c")
    by_name = {e["name"]: e for e in listing}
    assert by_name["link"]["symlink_path"].endswith("/c/target")
