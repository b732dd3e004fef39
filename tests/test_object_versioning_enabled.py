"""Object versioning with X-Versions-Enabled, as Swift's object_versioning middleware serves it
(swift/common/middleware/versioned_writes/object_versioning.py; its functional tests,
test/functional/test_object_versioning.py, are the model for most flows here).

A container PUT/POST with `X-Versions-Enabled: true` turns versioning on: every PUT, COPY or
form upload makes a new version (`X-Object-Version-Id`, the write's timestamp), a DELETE
writes a delete marker; `?version-id=<id>` reads (GET/HEAD), deletes or promotes (PUT, empty
body) one version, `null` naming a plain object written while versioning was off;
`GET <container>?versions` lists every version (JSON only) with `version_id` and `is_latest`.
Versions live in Swift's hidden `\\x00versions\\x00<container>` container, which the account
listing hides and no name can address; the container reports their bytes, the account its
totals with them."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from object_support import (DELETE_MARKER_CONTENT_TYPE, EMPTY_MD5, admin_account, md5hex, qpath, swift_connection,
                            swift_info, unique)

VERSION_ID_RE = re.compile(r"^\d{10}\.\d{5}$")


def enabled(acct, name: str | None = None) -> str:
    return acct.put_container(name or unique("vers"), headers={"X-Versions-Enabled": "true"})


def set_versioning(acct, c: str, on: bool) -> None:
    r = acct.req("POST", c, headers={"X-Versions-Enabled": "true" if on else "false"})
    assert r.status_code == 204, (r.status_code, r.text)


def put_version(acct, c: str, name: str, body: bytes, content_type: str = "text/plain", **headers) -> str | None:
    r = acct.put_object(c, name, body, headers={"Content-Type": content_type, "ETag": md5hex(body), **headers})
    return r.headers.get("X-Object-Version-Id")


def versions(acct, c: str, **params) -> list:
    return acct.listing(c, versions="", **params)


def triples(listing: list) -> list:
    return [(e["name"], e["version_id"], e["is_latest"]) for e in listing]


# ---- container settings ---------------------------------------------------------

def test_info_and_container_header(cloud, new_account):
    assert swift_info(cloud)["object_versioning"] == {}
    acct = new_account()
    c = enabled(acct)
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"] == "True"
    assert acct.req("GET", c, params={"format": "json"}).headers["X-Versions-Enabled"] == "True"
    set_versioning(acct, c, False)
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"] == "False"
    set_versioning(acct, c, True)
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"] == "True"
    # no system metadata shows, and the versions container is nowhere in the account listing
    assert not [k for k in acct.req("HEAD", c).headers if k.lower().startswith("x-container-sysmeta")]
    assert acct.names() == [c]
    # ...but it counts as a container of the account, as in Swift's account server
    assert acct.req("HEAD").headers["X-Account-Container-Count"] == "2"
    plain = acct.put_container(unique("plain"))
    assert "X-Versions-Enabled" not in acct.req("HEAD", plain).headers


def test_false_on_a_new_container_is_reported_but_versions_nothing(new_account):
    acct = new_account()
    c = acct.put_container(unique("off"), headers={"X-Versions-Enabled": "false"})
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"] == "False"
    r = acct.put_object(c, "obj", b"x")
    assert "X-Object-Version-Id" not in r.headers
    # never enabled: no versions container, so version ids other than null are refused
    r = acct.req("GET", c, "obj", params={"version-id": "1700000000.00000"})
    assert r.status_code == 400 and r.text == "version-aware operations require that the container is versioned"
    assert acct.req("HEAD").headers["X-Account-Container-Count"] == "1"


def test_legacy_and_new_versioning_do_not_mix(new_account):
    acct = new_account()
    archive = acct.put_container(unique("archive"))
    legacy = acct.put_container(unique("legacy"), headers={"X-Versions-Location": archive})
    for value in ("true", "false"):
        r = acct.req("POST", legacy, headers={"X-Versions-Enabled": value})
        assert r.status_code == 400, (r.status_code, r.text)
        assert r.text == "Cannot enable object versioning on a container that is already using the legacy versioned writes feature."
    c = enabled(acct)
    r = acct.req("POST", c, headers={"X-History-Location": archive})
    assert r.status_code == 400, (r.status_code, r.text)
    assert "X-History-Location" not in acct.req("HEAD", c).headers
    # the legacy headers' own checks answer with Swift's messages
    r = acct.req("PUT", unique("both"), headers={"X-Versions-Location": archive, "X-History-Location": archive})
    assert r.status_code == 400 and r.text == "Only one of x-versions-location or x-history-location may be specified"
    r = acct.req("PUT", unique("slash"), headers={"X-Versions-Location": "a/b"})
    assert r.status_code == 412 and r.text == "Container name cannot contain slashes"
    r = acct.req("PUT", unique("nul"), headers={"X-Versions-Location": "%00versions%00x"})
    assert r.status_code == 412, (r.status_code, r.text)


def test_hidden_container_is_not_addressable(new_account):
    acct = new_account()
    c = enabled(acct)
    put_version(acct, c, "obj", b"one")
    hidden = "\x00versions\x00" + c
    # a NUL anywhere in the URL is refused before any service sees it (NimbusResponder)
    for method in ("GET", "HEAD", "PUT", "DELETE"):
        assert acct.req(method, hidden).status_code == 400
        assert acct.req(method, hidden, "\x00obj\x00x").status_code == 400
    r = acct.req("PUT", c, "copy", headers={"X-Copy-From": f"%00versions%00{c}/obj"})
    assert r.status_code == 412, (r.status_code, r.text)
    r = acct.req("PUT", c, "link", headers={"X-Symlink-Target": f"%00versions%00{c}/x"}, data=b"")
    assert r.status_code == 412, (r.status_code, r.text)
    assert acct.req("GET", c, params={"versions": "", "prefix": "\x00"}).status_code == 400


# ---- versions of an object ------------------------------------------------------

def test_overwrites_keep_versions_with_their_own_metadata(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"aaaaa", "text/jibberish01", **{"Content-Language": "en",
                                                                       "Content-Disposition": "attachment; filename=x"})
    assert VERSION_ID_RE.match(v1), v1
    v2 = put_version(acct, c, "obj", b"bbbbb", "text/jibberish02", **{"X-Object-Meta-Foo": "Bar"})
    assert v2 > v1
    r = acct.req("GET", c, "obj")
    assert r.content == b"bbbbb" and r.headers["X-Object-Version-Id"] == v2
    assert r.headers["Content-Location"] == f"/v1/{acct.name}{qpath(c, 'obj')}?version-id={v2}"
    old = acct.req("GET", c, "obj", params={"version-id": v1})
    assert old.status_code == 200 and old.content == b"aaaaa", (old.status_code, old.text)
    assert old.headers["X-Object-Version-Id"] == v1 and old.headers["Content-Type"] == "text/jibberish01"
    assert old.headers["Content-Disposition"] == "attachment; filename=x" and "X-Object-Meta-Foo" not in old.headers
    # a POST changes the current version's metadata and makes no version
    assert acct.req("POST", c, "obj", headers={"X-Object-Meta-Fu": "baz", "Content-Type": "text/updated"}).status_code == 202
    listing = versions(acct, c)
    assert triples(listing) == [("obj", v2, True), ("obj", v1, False)]
    assert listing[0]["content_type"] == "text/updated"
    assert acct.req("HEAD", c, "obj", params={"version-id": v2}).headers["X-Object-Meta-Fu"] == "baz"
    assert "X-Object-Meta-Fu" not in acct.req("HEAD", c, "obj", params={"version-id": v1}).headers
    # the plain listing shows the current version, marked as a version
    [entry] = acct.listing(c)
    assert entry["name"] == "obj" and entry["bytes"] == 5 and entry["hash"] == md5hex(b"bbbbb")
    assert entry["version_symlink"] is True
    assert entry["symlink_path"] == f"/v1/{acct.name}{qpath(c, 'obj')}?version-id={v2}"


def test_delete_markers_and_delete_by_version(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"one")
    v2 = put_version(acct, c, "obj", b"two")
    r = acct.req("DELETE", c, "obj")
    assert r.status_code == 204, (r.status_code, r.text)
    marker = r.headers["X-Object-Version-Id"]
    assert marker > v2
    # later DELETEs are 404s that still write markers
    r = acct.req("DELETE", c, "obj")
    assert r.status_code == 404 and r.headers["X-Object-Version-Id"] > marker
    marker2 = r.headers["X-Object-Version-Id"]
    g = acct.req("GET", c, "obj")
    assert g.status_code == 404 and g.headers["X-Object-Version-Id"] == "null"
    listing = versions(acct, c)
    assert triples(listing) == [("obj", marker2, True), ("obj", marker, False), ("obj", v2, False), ("obj", v1, False)]
    assert listing[0]["content_type"] == DELETE_MARKER_CONTENT_TYPE and listing[0]["hash"] == EMPTY_MD5 and listing[0]["bytes"] == 0
    h = acct.req("HEAD", c, "obj", params={"version-id": marker})
    assert h.status_code == 404 and h.headers["X-Object-Version-Id"] == marker
    assert h.headers["Content-Type"] == DELETE_MARKER_CONTENT_TYPE
    # a version that is not current goes alone
    d = acct.req("DELETE", c, "obj", params={"version-id": v1})
    assert d.status_code == 204 and d.headers["X-Object-Version-Id"] == v1 and d.headers["X-Object-Current-Version-Id"] == "null"
    assert acct.req("GET", c, "obj", params={"version-id": v1}).status_code == 404
    d = acct.req("DELETE", c, "obj", params={"version-id": v1})
    assert d.status_code == 404 and d.headers["X-Object-Version-Id"] == v1
    # markers are versions too
    assert acct.req("DELETE", c, "obj", params={"version-id": marker2}).status_code == 204
    assert [e["version_id"] for e in versions(acct, c)] == [marker, v2]


def test_delete_current_version_leaves_no_current_object(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"one")
    v2 = put_version(acct, c, "obj", b"two")
    d = acct.req("DELETE", c, "obj", params={"version-id": v2})
    assert d.status_code == 204 and d.headers["X-Object-Current-Version-Id"] == "null"
    assert acct.req("GET", c, "obj").status_code == 404
    assert triples(versions(acct, c)) == [("obj", v1, False)]
    assert acct.names(c) == []
    # DELETE ?version-id=null removes the current object only: no marker, no version
    v3 = put_version(acct, c, "obj", b"three")
    d = acct.req("DELETE", c, "obj", params={"version-id": "null"})
    assert d.status_code == 204 and "X-Object-Version-Id" not in d.headers
    assert acct.req("GET", c, "obj").status_code == 404
    assert [e["version_id"] for e in versions(acct, c)] == [v3, v1]


def test_promote_an_old_version(new_account):
    acct = new_account()
    c = enabled(acct)
    ids = [put_version(acct, c, "obj", body, f"text/v{i}") for i, body in enumerate((b"aaaaa", b"bbbbbb", b"ccccccc"))]
    r = acct.req("PUT", c, "obj", params={"version-id": ids[1]}, data=b"")
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["X-Object-Version-Id"] == ids[1] and r.headers["Etag"] == md5hex(b"bbbbbb")
    assert acct.get_body(c, "obj") == b"bbbbbb"
    assert triples(versions(acct, c)) == [("obj", ids[2], False), ("obj", ids[1], True), ("obj", ids[0], False)]
    assert acct.req("HEAD", c, "obj").headers["Content-Type"] == "text/v1"
    # a body, an unknown version, null or a bad id are refused as Swift refuses them
    r = acct.req("PUT", c, "obj", params={"version-id": ids[0]}, data=b"x")
    assert r.status_code == 400 and r.text == "PUT version-id requests require a zero byte body"
    r = acct.req("PUT", c, "obj", params={"version-id": "1234567890.12345"}, data=b"")
    assert r.status_code == 404 and r.text == "The specified version does not exist"
    for bad in ("null", "bad"):
        r = acct.req("PUT", c, "obj", params={"version-id": bad}, data=b"")
        assert r.status_code == 400 and r.text == "Invalid version parameter", (bad, r.status_code, r.text)
    assert acct.get_body(c, "obj") == b"bbbbbb"


def test_copy_restores_a_version_as_a_new_one(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"version1", "text/jibberish32")
    v2 = put_version(acct, c, "obj", b"version2", "text/jibberish33")
    r = acct.req("COPY", c, "obj", params={"version-id": v1}, headers={"Destination": f"{c}/obj"})
    assert r.status_code == 201, (r.status_code, r.text)
    v3 = r.headers["X-Object-Version-Id"]
    assert v3 > v2 and r.headers["X-Copied-From-Version-Id"] == v1
    assert acct.get_body(c, "obj") == b"version1"
    assert acct.req("HEAD", c, "obj").headers["Content-Type"] == "text/jibberish32"
    assert triples(versions(acct, c)) == [("obj", v3, True), ("obj", v2, False), ("obj", v1, False)]
    # X-Copy-From with a version-id, into an unversioned container
    plain = acct.put_container(unique("plain"))
    r = acct.req("PUT", plain, "copy", params={"version-id": v2}, headers={"X-Copy-From": f"{c}/obj"}, data=b"")
    assert r.status_code == 201 and "X-Object-Version-Id" not in r.headers
    assert acct.get_body(plain, "copy") == b"version2"
    # a copy into the versioned container from elsewhere is a new version
    r = acct.req("COPY", plain, "copy", headers={"Destination": f"{c}/obj"})
    assert r.status_code == 201 and VERSION_ID_RE.match(r.headers["X-Object-Version-Id"])
    assert len(versions(acct, c)) == 4


def test_bad_version_ids_are_400s(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"one")
    for bad in ("bad", "-1", "10000000000", "1e20", "inf", "nan", "1_zz", "1_-1", "9" * 1000, "1.2.3", "null_"):
        for method in ("GET", "HEAD", "DELETE"):
            r = acct.req(method, c, "obj", params={"version-id": bad})
            assert r.status_code == 400, (bad, method, r.status_code, r.text)
            if method != "HEAD":
                assert r.text == "Invalid version parameter", (bad, r.text)
    r = acct.req("POST", c, "obj", params={"version-id": v1}, headers={"X-Object-Meta-A": "b"})
    assert r.status_code == 400 and r.text == "POST to a specific version is not allowed"
    # the same version, spelled as Swift's Timestamp reads it
    for spelling in (v1 + "0", " " + v1, v1 + "_0000000000000001", v1 + "_"):
        r = acct.req("GET", c, "obj", params={"version-id": spelling})
        assert r.status_code == 200 and r.content == b"one" and r.headers["X-Object-Version-Id"] == spelling.strip()
    # an empty version-id is no version-id
    assert acct.req("GET", c, "obj", params={"version-id": ""}).headers["X-Object-Version-Id"] == v1
    # a container that never had versioning
    plain = acct.put_container(unique("plain"))
    acct.put_object(plain, "obj", b"x")
    r = acct.req("GET", plain, "obj", params={"version-id": v1})
    assert r.status_code == 400 and r.text == "version-aware operations require that the container is versioned"
    r = acct.req("GET", plain, "obj", params={"version-id": "null"})
    assert r.status_code == 200 and r.headers["X-Object-Version-Id"] == "null"
    assert "X-Object-Version-Id" not in acct.req("GET", plain, "obj").headers


# ---- suspension -----------------------------------------------------------------

def test_suspended_writes_make_a_null_version(new_account):
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"version1", "text/jibberish18")
    set_versioning(acct, c, False)
    d = acct.req("DELETE", c, "obj")
    assert d.status_code == 204 and "X-Object-Version-Id" not in d.headers
    assert triples(versions(acct, c)) == [("obj", v1, False)]
    assert acct.get_body(c, "obj", params={"version-id": v1}) == b"version1"
    assert put_version(acct, c, "obj", b"version2") is None
    assert put_version(acct, c, "obj", b"version3") is None
    listing = versions(acct, c)
    assert triples(listing) == [("obj", "null", True), ("obj", v1, False)]
    assert listing[0]["bytes"] == 8 and listing[0]["hash"] == md5hex(b"version3")
    r = acct.req("GET", c, "obj", params={"version-id": "null"})
    assert r.content == b"version3" and r.headers["X-Object-Version-Id"] == "null"
    assert acct.req("GET", c, "obj").headers["X-Object-Version-Id"] == "null"
    # enabled again, the next write keeps the null object as a version (its id: its timestamp)
    set_versioning(acct, c, True)
    v4 = put_version(acct, c, "obj", b"version4")
    listing = versions(acct, c)
    assert [e["is_latest"] for e in listing] == [True, False, False] and listing[0]["version_id"] == v4
    kept = listing[1]["version_id"]
    assert VERSION_ID_RE.match(kept) and v1 < kept < v4
    assert acct.get_body(c, "obj", params={"version-id": kept}) == b"version3"
    # a version-id null GET of an object that shows a version is a 404
    assert acct.req("GET", c, "obj", params={"version-id": "null"}).status_code == 404


def test_container_with_versions_cannot_be_deleted(new_account):
    acct = new_account()
    c = enabled(acct)
    put_version(acct, c, "obj", b"foo")
    assert acct.req("DELETE", c, "obj").status_code == 204
    r = acct.req("DELETE", c)
    assert r.status_code == 409 and r.text == "Delete all versions before deleting container."
    set_versioning(acct, c, False)
    assert acct.req("DELETE", c).status_code == 409
    for e in versions(acct, c):
        assert acct.req("DELETE", c, e["name"], params={"version-id": e["version_id"]}).status_code == 204
    assert versions(acct, c) == []
    assert acct.req("DELETE", c).status_code == 204
    assert acct.req("HEAD").headers["X-Account-Container-Count"] == "0"


def test_counts_as_swift_reports_them(new_account):
    acct = new_account()
    c = enabled(acct)
    set_versioning(acct, c, False)
    acct.put_object(c, "plain", b"not-versioned")
    set_versioning(acct, c, True)
    for body in (b"version1", b"version2", b"version3"):
        put_version(acct, c, "c1", body)
    acct.req("DELETE", c, "c1")
    put_version(acct, c, "b1", b"version1")
    acct.req("DELETE", c, "a1")  # a marker for an object that never was
    h = acct.req("HEAD", c).headers
    # current objects: the plain one and b1; bytes: every version's and the plain object's
    assert h["X-Container-Object-Count"] == "2" and h["X-Container-Bytes-Used"] == str(32 + 13)
    assert len(versions(acct, c)) == 7
    [entry] = acct.listing()
    assert entry["count"] == 2 and entry["bytes"] == 45
    a = acct.req("HEAD").headers
    # the account counts the versions container's objects (6 versions and markers) too
    assert a["X-Account-Object-Count"] == str(1 + 1 + 6) and a["X-Account-Bytes-Used"] == "45"
    # the container quota counts the versions' bytes
    assert acct.req("POST", c, headers={"X-Container-Meta-Quota-Bytes": "50"}).status_code == 204
    r = acct.req("PUT", c, "b1", data=b"123456")
    assert r.status_code == 413, (r.status_code, r.text)


# ---- listings -------------------------------------------------------------------

def _prep(acct, c):
    """obj c* with three versions, deleted; b* with one; a* only a delete marker."""
    c1 = "c" + unique("o")
    ids = [put_version(acct, c, c1, f"version{i}".encode(), f"text/jibberish1{i}") for i in (1, 2, 3)]
    ids.append(acct.req("DELETE", c, c1).headers["X-Object-Version-Id"])
    b1 = "b" + unique("o")
    b = put_version(acct, c, b1, b"version1", "text/jibberish20")
    a1 = "a" + unique("o")
    r = acct.req("DELETE", c, a1)
    assert r.status_code == 404
    return a1, r.headers["X-Object-Version-Id"], b1, b, c1, ids


def test_list_all_versions_forward_and_reverse(new_account):
    acct = new_account()
    c = enabled(acct)
    a1, a, b1, b, c1, ids = _prep(acct, c)
    expected = [(a1, a, True), (b1, b, True), (c1, ids[3], True), (c1, ids[2], False), (c1, ids[1], False), (c1, ids[0], False)]
    listing = versions(acct, c)
    assert triples(listing) == expected
    assert listing[0]["content_type"] == DELETE_MARKER_CONTENT_TYPE
    assert listing[3] == {"name": c1, "bytes": 8, "content_type": "text/jibberish13", "hash": md5hex(b"version3"),
                          "is_latest": False, "version_id": ids[2], "last_modified": listing[3]["last_modified"]}
    assert triples(versions(acct, c, reverse="true")) == list(reversed(expected))
    assert triples(versions(acct, c, prefix=c1)) == expected[2:]
    assert triples(versions(acct, c, prefix=c1, reverse="on")) == list(reversed(expected[2:]))
    assert triples(versions(acct, c, limit=3)) == expected[:3]
    assert triples(versions(acct, c, marker=b1)) == expected[2:]
    assert triples(versions(acct, c, marker=b1, limit=2)) == expected[2:4]
    assert triples(versions(acct, c, marker=c1, version_marker=ids[2])) == expected[4:]
    assert triples(versions(acct, c, marker=c1, version_marker=ids[2], reverse="true")) == [expected[2], expected[1], expected[0]]
    assert triples(versions(acct, c, prefix=c1, marker=c1, version_marker=ids[2], reverse="true")) == [expected[2]]
    # version_marker=null: before all of the marker's versions
    assert triples(versions(acct, c, marker=b1, version_marker="null")) == expected[1:]
    # an unversioned container lists its objects as null versions
    plain = acct.put_container(unique("plain"))
    acct.put_object(plain, "in", b"first")
    acct.put_object(plain, "order", b"second")
    assert triples(versions(acct, plain)) == [("in", "null", True), ("order", "null", True)]
    assert versions(acct, plain, delimiter="r") == [versions(acct, plain)[0], {"subdir": "or"}]


def test_listing_paging_with_a_null_version(new_account):
    acct = new_account()
    c = enabled(acct)
    oa, ob, oc = "a" + unique("o"), "b" + unique("o"), "c" + unique("o")
    a1 = put_version(acct, c, oa, b"v1")
    b1 = put_version(acct, c, ob, b"v1")
    b2 = put_version(acct, c, ob, b"v2")
    set_versioning(acct, c, False)
    assert put_version(acct, c, ob, b"vnull") is None
    set_versioning(acct, c, True)
    c1 = put_version(acct, c, oc, b"v1")
    expected = [(oa, a1, True), (ob, "null", True), (ob, b2, False), (ob, b1, False), (oc, c1, True)]
    assert triples(versions(acct, c)) == expected
    pages, params = [], {"limit": 2}
    while True:
        page = versions(acct, c, **params)
        if not page:
            break
        pages += page
        params = {"limit": 2, "marker": page[-1]["name"], "version_marker": page[-1]["version_id"]}
    assert triples(pages) == expected


def test_listing_delimiter_formats_and_errors(new_account):
    acct = new_account()
    c = enabled(acct)
    for name in ("test", "test-bar", "test-foo"):
        put_version(acct, c, name, b"x")
    acct.req("DELETE", c, "del-baz")
    set_versioning(acct, c, False)
    acct.put_object(c, "off-xyz", b"unversioned")
    assert acct.names(c) == ["off-xyz", "test", "test-bar", "test-foo"]
    names = lambda listing: [e.get("name", e.get("subdir")) for e in listing]  # noqa: E731
    assert names(versions(acct, c)) == ["del-baz", "off-xyz", "test", "test-bar", "test-foo"]
    assert names(versions(acct, c, delimiter="-")) == ["del-", "off-", "test", "test-"]
    assert names(versions(acct, c, delimiter="-", reverse="yes")) == ["test-", "test", "off-", "del-"]
    # JSON only: other formats are 406s, JSON by Accept or no preference is fine
    for params, headers in (({"format": "xml"}, {}), ({"format": "plain"}, {}), ({}, {"Accept": "text/plain"}),
                            ({}, {"Accept": "application/xml"}), ({}, {"Accept": "foo/bar"})):
        r = acct.req("GET", c, params={"versions": "", **params}, headers=headers)
        assert r.status_code == 406, (params, headers, r.status_code)
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json;q=0.5, text/plain"}):
        r = acct.req("GET", c, params={"versions": ""}, headers=headers)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json; charset=utf-8", headers
        assert len(r.json()) == 5
    for params, message in (({"version_marker": "null"}, "version_marker param requires marker"),
                            ({"marker": "test", "version_marker": "bad"}, "invalid version_marker param"),
                            ({"delimiter": "1"}, "invalid delimiter param"), ({"delimiter": "."}, "invalid delimiter param")):
        r = acct.req("GET", c, params={"versions": "", "format": "json", **params})
        assert r.status_code == 400 and r.text == message, (params, r.status_code, r.text)


def test_many_versions_page_quickly_and_completely(new_account):
    acct = new_account()
    c = enabled(acct)
    def put(i):
        r = requests.put(acct.url_for(c, f"obj{i % 3}"), data=str(i).encode(), headers={"X-Auth-Token": acct.token}, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["X-Object-Version-Id"]

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(put, range(240)))
    assert len(set(ids)) == 240
    seen, params, pages = [], {"limit": 25}, 0
    while True:
        r = acct.req("GET", c, params={"versions": "", "format": "json", **params})
        assert r.status_code == 200 and r.elapsed.total_seconds() < 2, r.elapsed
        page = r.json()
        if not page:
            break
        pages += 1
        seen += page
        params = {"limit": 25, "marker": page[-1]["name"], "version_marker": page[-1]["version_id"]}
    assert pages == 10 and sorted(e["version_id"] for e in seen) == sorted(ids)
    for name in ("obj0", "obj1", "obj2"):
        mine = [e for e in seen if e["name"] == name]
        assert [e["version_id"] for e in mine] == sorted((e["version_id"] for e in mine), reverse=True)
        assert sum(e["is_latest"] for e in mine) == 1 and mine[0]["is_latest"]


# ---- names, large objects, symlinks ---------------------------------------------

@pytest.mark.parametrize("name", ["caf\u00e9", "cafe\u0301", "\ue000private/\U000f0000", "a/\u0301b"],
                         ids=["precomposed", "decomposed", "private-use", "slash-combining"])
def test_utf8_names_are_bytes(new_account, name):
    acct = new_account()
    c = enabled(acct, unique("vers-\u00e9"))
    other = "cafe\u0301" if name == "caf\u00e9" else "caf\u00e9"
    v1 = put_version(acct, c, name, b"one")
    v2 = put_version(acct, c, name, b"two")
    put_version(acct, c, other, b"other")
    assert acct.get_body(c, name, params={"version-id": v1}) == b"one"
    mine = versions(acct, c, prefix=name)
    assert triples(mine) == [(name, v2, True), (name, v1, False)]
    assert all(e["name"].encode() == name.encode() for e in mine)
    assert triples(versions(acct, c, marker=name, version_marker=v2)) == [
        t for t in triples(versions(acct, c)) if t[0].encode() > name.encode() or (t[0] == name and t[1] < v2)]
    assert acct.req("DELETE", c, name, params={"version-id": v2}).status_code == 204
    assert acct.req("GET", c, name).status_code == 404
    assert acct.get_body(c, other) == b"other"


def test_slo_manifests_are_versioned_not_their_segments(new_account):
    acct = new_account()
    c = enabled(acct)
    segs = acct.put_container(unique("segs"))
    info = {}
    for letter in "ab":
        data = letter.encode() * (1024 * 1024)
        acct.put_object(segs, letter, data)
        info[letter] = {"path": f"/{segs}/{letter}", "etag": md5hex(data), "size_bytes": len(data)}

    def manifest(*letters):
        r = acct.req("PUT", c, "slo", params={"multipart-manifest": "put"}, data=json.dumps([info[x] for x in letters]))
        assert r.status_code == 201, (r.status_code, r.text)
        return r.headers["X-Object-Version-Id"]

    v1, v2 = manifest("a"), manifest("b")
    assert len(versions(acct, c)) == 2 and acct.names(segs) == ["a", "b"]
    body = acct.get_body(c, "slo", params={"version-id": v1})
    assert len(body) == 1024 * 1024 and body[:1] == body[-1:] == b"a"
    assert acct.get_body(c, "slo")[:1] == b"b"
    r = acct.req("GET", c, "slo", params={"multipart-manifest": "get", "version-id": v1})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert [s["name"] for s in r.json()] == [f"/{segs}/a"] and "X-Static-Large-Object" in r.headers
    [entry] = acct.listing(c)
    assert entry["version_symlink"] is True and entry["bytes"] == 1024 * 1024 and "slo_etag" in entry
    # delete the old manifest version together with its segment
    r = acct.req("DELETE", c, "slo", params={"multipart-manifest": "delete", "version-id": v1},
                 headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["Response Status"] == "200 OK" and result["Number Deleted"] == 2 and result["Errors"] == []
    assert [e["version_id"] for e in versions(acct, c)] == [v2] and acct.names(segs) == ["b"]


def test_symlinks_in_versioned_containers(new_account):
    acct = new_account()
    c = enabled(acct)
    acct.put_object(c, "tgt-a", b"aaaaa", headers={"Content-Type": "text/jibberish01"})
    acct.put_object(c, "tgt-b", b"bbbbb")
    r = acct.req("PUT", c, "link", headers={"X-Symlink-Target": f"{c}/tgt-a"}, data=b"")
    assert r.status_code == 201
    v1 = r.headers["X-Object-Version-Id"]
    acct.req("PUT", c, "link", headers={"X-Symlink-Target": f"{c}/tgt-b"}, data=b"")
    assert acct.get_body(c, "link") == b"bbbbb"
    # the old version is still a link (to tgt-a)
    assert acct.get_body(c, "link", params={"version-id": v1}) == b"aaaaa"
    own = acct.req("HEAD", c, "link", params={"version-id": v1, "symlink": "get"})
    assert own.headers["Content-Type"] == "application/symlink" and own.headers["X-Symlink-Target"] == f"{c}/tgt-a"
    # restore it with COPY ?symlink=get: a new version that is a link again
    r = acct.req("COPY", c, "link", params={"version-id": v1, "symlink": "get"}, headers={"Destination": f"{c}/link"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "link") == b"aaaaa"
    # static and dynamic links from elsewhere reach the current version
    other = acct.put_container(unique("links"))
    etag = acct.req("HEAD", c, "tgt-a").headers["Etag"]
    assert acct.req("PUT", other, "static", data=b"",
                    headers={"X-Symlink-Target": f"{c}/tgt-a", "X-Symlink-Target-Etag": etag}).status_code == 201
    assert acct.get_body(other, "static") == b"aaaaa"
    put_version(acct, c, "tgt-a", b"changed")
    assert acct.req("GET", other, "static").status_code == 409


def test_dlo_manifest_versions(new_account):
    acct = new_account()
    c = enabled(acct)
    for i in "123":
        put_version(acct, c, f"segs/{i}", i.encode())
        put_version(acct, c, f"segs/{i}", (i + i).encode())
    v1 = put_version(acct, c, "man", b"old content")
    v2 = acct.put_object(c, "man", b"", headers={"X-Object-Manifest": f"{c}/segs/"}).headers["X-Object-Version-Id"]
    assert acct.get_body(c, "man") == b"112233"
    put_version(acct, c, "man", b"new content")
    assert acct.get_body(c, "man", params={"version-id": v2}) == b"112233"
    assert acct.get_body(c, "man", params={"version-id": v1}) == b"old content"
    assert acct.req("HEAD", c, "man", params={"version-id": v2}).headers["X-Object-Manifest"] == f"{c}/segs/"


def test_expiry_reaches_the_current_object_only(new_account):
    import time
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"aaaaa", "text/blah", **{"X-Delete-After": "1", "X-Object-Meta-Color": "blue"})
    v2 = put_version(acct, c, "other", b"bbbbb")
    assert acct.req("POST", c, "other", headers={"X-Object-Meta-Color": "red", "X-Delete-After": "1"}).status_code == 202
    time.sleep(1.5)
    assert acct.req("GET", c, "obj").status_code == 404 and acct.req("GET", c, "other").status_code == 404
    # the versions do not expire (Swift keeps X-Delete-At on the versions symlink only)
    h = acct.req("HEAD", c, "obj", params={"version-id": v1}).headers
    assert h["Content-Type"] == "text/blah" and h["X-Object-Meta-Color"] == "blue" and "X-Delete-At" not in h
    assert acct.req("HEAD", c, "other", params={"version-id": v2}).headers["X-Object-Meta-Color"] == "red"
    assert len(versions(acct, c)) == 2


def test_not_allowed_versioning_is_ignored(object_nimbus):
    n = object_nimbus(config={"object_storage": {"allow_object_versioning": "false"}})
    info = requests.get(f"{n.base_url}/info", timeout=30).json()
    assert "object_versioning" not in info and "versioned_writes" in info
    acct = admin_account(n)
    c = acct.put_container("c", headers={"X-Versions-Enabled": "true"})
    assert "X-Versions-Enabled" not in acct.req("HEAD", c).headers
    r = acct.put_object(c, "obj", b"one")
    assert "X-Object-Version-Id" not in r.headers
    acct.put_object(c, "obj", b"two")
    assert [e["name"] for e in acct.listing(c, versions="")] == ["obj"]
    assert "version_id" not in acct.listing(c, versions="")[0]


# ---- who may do what ------------------------------------------------------------

def test_other_projects_and_acl_users(new_account):
    owner = new_account()
    c = enabled(owner)
    v1 = put_version(owner, c, "obj", b"data")
    stranger = new_account().on(owner)
    for method, params in (("GET", {"version-id": v1}), ("HEAD", {"version-id": v1}), ("DELETE", {"version-id": v1}),
                           ("PUT", {"version-id": v1}), ("GET", {"versions": ""})):
        r = stranger.req(method, c, None if "versions" in params else "obj", params=params, data=b"" if method == "PUT" else None)
        assert r.status_code == 403, (method, params, r.status_code)
    assert owner.req("GET", c, "obj", params={"version-id": v1}, token=None).status_code == 401

    reader, writer = new_account(), new_account()
    owner.req("POST", c, headers={"X-Container-Read": f"{reader.user.project_id}:{reader.user.id}",
                                  "X-Container-Write": f"{writer.user.project_id}:{writer.user.id}"})
    reader, writer = reader.on(owner), writer.on(owner)
    # a reader of the container reads the object and lists versions, but no version by id
    assert reader.get_body(c, "obj") == b"data"
    assert len(versions(reader, c)) == 1
    assert reader.req("GET", c, "obj", params={"version-id": v1}).status_code == 403
    assert reader.req("GET", c, "obj", params={"version-id": "null"}).status_code == 404
    # a writer writes versions and delete markers, promotes, but deletes no version by id
    v2 = put_version(writer, c, "obj", b"written")
    assert VERSION_ID_RE.match(v2)
    assert writer.req("PUT", c, "obj", params={"version-id": v1}, data=b"").status_code == 201
    assert writer.req("DELETE", c, "obj", params={"version-id": v2}).status_code == 403
    assert writer.req("DELETE", c, "obj").status_code == 204
    assert len(versions(owner, c)) == 3
    # a project reader reads versions (keystoneauth's reader role reads the whole account)
    project_reader = new_account("reader", project_of=owner)
    assert project_reader.get_body(c, "obj", params={"version-id": v1}) == b"data"
    assert project_reader.req("DELETE", c, "obj", params={"version-id": v1}).status_code == 403


def test_temp_urls_ignore_version_id(new_account):
    import hashlib
    import hmac
    import time
    acct = new_account()
    c = enabled(acct)
    v1 = put_version(acct, c, "obj", b"one")
    put_version(acct, c, "obj", b"two")
    acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": "secret"})
    expires = int(time.time()) + 600
    path = f"{acct.path}{qpath(c, 'obj')}"
    sig = hmac.new(b"secret", f"GET\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
    r = requests.get(acct.url_for(c, "obj"), params={"temp_url_sig": sig, "temp_url_expires": expires, "version-id": v1}, timeout=30)
    assert r.status_code == 200 and r.content == b"two"


# ---- durability and races -------------------------------------------------------

def test_racing_puts_leave_one_latest(new_account):
    acct = new_account()
    c = acct.put_container(unique("race"))
    acct.put_object(c, "obj", b"plain before versioning")
    set_versioning(acct, c, True)
    set_versioning(acct, c, False)
    acct.put_object(c, "obj", b"null object")
    set_versioning(acct, c, True)
    barrier = threading.Barrier(8)

    def put(i):
        barrier.wait()
        return put_version(acct, c, "obj", f"racer {i}".encode())

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(put, range(8)))
    listing = versions(acct, c)
    # eight new versions and the null object, kept once; exactly one latest: the newest write
    assert len(listing) == 9 and len({e["version_id"] for e in listing}) == 9
    assert [e["is_latest"] for e in listing] == [True] + [False] * 8
    assert listing[0]["version_id"] == max(ids)
    assert acct.req("GET", c, "obj").headers["X-Object-Version-Id"] == max(ids)
    h = acct.req("HEAD", c).headers
    assert h["X-Container-Object-Count"] == "1"
    assert int(h["X-Container-Bytes-Used"]) == sum(e["bytes"] for e in listing)


def test_racing_puts_and_deletes_the_newest_decides(new_account):
    acct = new_account()
    c = enabled(acct)
    put_version(acct, c, "obj", b"first")
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        if i % 2:
            return put_version(acct, c, "obj", f"writer {i}".encode())
        r = acct.req("DELETE", c, "obj")
        assert r.status_code in (204, 404), (r.status_code, r.text)
        return r.headers["X-Object-Version-Id"]

    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(work, range(8)))
    listing = versions(acct, c)
    assert len(listing) == 9 and set(written) <= {e["version_id"] for e in listing}
    newest = listing[0]
    # whatever order the commits came in, the newest write decides: a PUT shows, a marker hides
    assert [e["is_latest"] for e in listing] == [True] + [False] * 8
    g = acct.req("GET", c, "obj")
    h = acct.req("HEAD", c).headers
    if newest["content_type"] == DELETE_MARKER_CONTENT_TYPE:
        assert g.status_code == 404 and h["X-Container-Object-Count"] == "0"
    else:
        assert g.headers["X-Object-Version-Id"] == newest["version_id"] and h["X-Container-Object-Count"] == "1"
    assert int(h["X-Container-Bytes-Used"]) == sum(e["bytes"] for e in listing)


def test_versions_survive_kill_9(object_nimbus):
    n = object_nimbus()
    acct = admin_account(n)
    c = enabled(acct, "durable")
    ids = [put_version(acct, c, "obj", f"version {i}".encode()) for i in range(5)]
    marker = acct.req("DELETE", c, "obj").headers["X-Object-Version-Id"]
    last = put_version(acct, c, "obj", b"after the marker")
    conn = swift_connection(n.auth_url, name="admin", password=n.read_password("admin"), project="admin")
    conn.put_object(c, "swiftclient", b"via swiftclient")
    assert n.kill() == -9

    again = object_nimbus(port=n.port)
    acct = admin_account(again)
    listing = versions(acct, c, prefix="obj")
    assert [e["version_id"] for e in listing] == [last, marker] + list(reversed(ids))
    assert [e["is_latest"] for e in listing] == [True] + [False] * 6
    for i, v in enumerate(ids):
        assert acct.get_body(c, "obj", params={"version-id": v}) == f"version {i}".encode()
    assert acct.get_body(c, "obj") == b"after the marker"
    headers, body = swift_connection(again.auth_url, name="admin", password=again.read_password("admin"),
                                     project="admin").get_object(c, "swiftclient")
    assert body == b"via swiftclient" and VERSION_ID_RE.match(headers["x-object-version-id"])
    h = acct.req("HEAD", c).headers
    assert h["X-Versions-Enabled"] == "True" and h["X-Container-Object-Count"] == "2"


def test_extract_archive_into_a_versioned_container_keeps_versions(new_account):
    """A bulk upload (streamed extract-archive) writes through the same versioned PUT: an
    object it overwrites keeps its old version (Swift's bulk middleware makes one PUT per member,
    which object_versioning versions)."""
    import io
    import tarfile

    acct = new_account()
    c = enabled(acct)
    first = put_version(acct, c, "doc.txt", b"one")

    def archive(members: dict) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()

    r = acct.req("PUT", c, params={"extract-archive": "tar.gz"}, data=archive({"doc.txt": b"two", "new.txt": b"fresh"}),
                 headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["Number Files Created"] == 2, r.text
    listed = versions(acct, c)
    docs = [e for e in listed if e["name"] == "doc.txt"]
    assert len(docs) == 2 and [e["is_latest"] for e in docs] == [True, False], docs
    assert docs[1]["version_id"] == first
    assert acct.req("GET", f"{c}/doc.txt").content == b"two"
    assert acct.req("GET", f"{c}/doc.txt", params={"version-id": first}).content == b"one"
