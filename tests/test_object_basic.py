"""Object storage basics: /info, accounts, containers, objects, listings, metadata,
and round trips through `swift`, `openstack container|object`, openstacksdk and swiftclient.

Expected behaviour follows OpenStack Swift (proxy + middlewares); the file cited in a
comment is where Swift does it."""

import email.utils
import gzip
import json
import time
import xml.etree.ElementTree as ET

import requests

from object_support import (EMPTY_MD5, ISO_RE, X_TIMESTAMP_RE, anonymous, assert_swift_headers,
                            md5hex, swift_cli, swift_connection, swift_info, unique, wait_until)


# ---- /info -------------------------------------------------------------------

def test_info_is_public_json_with_swift_constraints(cloud):
    for url in (f"{cloud.base_url}/info", f"{cloud.base_url}/object/info"):
        r = requests.get(url, timeout=30)  # no token
        assert r.status_code == 200, (url, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        info = r.json()
        sw = info["swift"]
        # swift/common/constraints.py DEFAULT_CONSTRAINTS
        assert sw["max_object_name_length"] == 1024
        assert sw["container_listing_limit"] == 10000
        assert sw["account_listing_limit"] == 10000
        assert sw["max_container_name_length"] == 256
        assert sw["max_meta_name_length"] == 128
        assert sw["max_meta_value_length"] == 256
        assert sw["max_meta_count"] == 90
        assert sw["max_meta_overall_size"] == 4096
        assert isinstance(sw["max_file_size"], int) and sw["max_file_size"] > 0
        assert isinstance(sw["version"], str) and sw["version"]
        policies = sw["policies"]
        assert [p for p in policies if p.get("default")], policies
        for section in ("tempurl", "slo", "bulk_delete", "versioned_writes",
                        "container_quotas", "account_quotas", "formpost", "staticweb", "crossdomain"):
            assert section in info, (section, sorted(info))
        assert {"GET", "HEAD", "PUT"} <= set(info["tempurl"]["methods"])
        assert {"sha256", "sha512"} <= set(info["tempurl"]["allowed_digests"])
        assert info["slo"]["max_manifest_segments"] >= 1
        assert info["slo"]["min_segment_size"] == 1
        assert info["bulk_delete"]["max_deletes_per_request"] >= 1


def test_crossdomain_policy_is_public_xml(cloud):
    # swift/common/middleware/crossdomain.py with its default policy
    r = requests.get(f"{cloud.base_url}/object/crossdomain.xml", timeout=30)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/xml"), r.headers
    assert r.text == ('<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM '
                      '"http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n<cross-domain-policy>\n'
                      '<allow-access-from domain="*" secure="false" />\n</cross-domain-policy>'), r.text
    assert "crossdomain" in requests.get(f"{cloud.base_url}/info", timeout=30).json()


def test_catalog_points_at_auth_project_account(cloud, new_account):
    acct = new_account()
    assert acct.url == f"{cloud.base_url}/object/v1/AUTH_{acct.user.project_id}"


# ---- accounts ------------------------------------------------------------------

def test_fresh_account_head_and_empty_listings(new_account):
    acct = new_account()
    r = acct.req("HEAD")
    # A never-written account answers from a fake (autocreate) listing: 200 or 204
    # (swift/proxy/controllers/account.py GETorHEAD, account_listing_response).
    assert r.status_code in (200, 204), r.status_code
    assert_swift_headers(r, "Account", "HEAD")
    assert r.headers["X-Account-Container-Count"] == "0"
    assert r.headers["X-Account-Object-Count"] == "0"
    assert r.headers["X-Account-Bytes-Used"] == "0"

    r = acct.req("GET")  # text/plain by default; empty -> 204 (listing_formats.py)
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.content)
    r = acct.req("GET", params={"format": "json"})
    assert r.status_code == 200 and r.json() == [], r.text
    r = acct.req("GET", params={"format": "xml"})
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == "account" and root.get("name") == acct.name and list(root) == []


def test_account_counts_follow_containers_and_objects(new_account):
    acct = new_account()
    c1, c2 = acct.put_container("one"), acct.put_container("two")
    acct.put_object(c1, "a", b"x")
    acct.put_object(c1, "b", b"y" * 10)
    acct.put_object(c2, "c", b"z" * 100)

    r = acct.req("HEAD", c1)
    assert r.status_code == 204, r.status_code
    assert_swift_headers(r, "Container", "HEAD")
    assert (r.headers["X-Container-Object-Count"], r.headers["X-Container-Bytes-Used"]) == ("2", "11")

    # Swift rolls container stats up into the account asynchronously (container
    # updater), so allow a short delay for the account totals.
    def totals():
        h = acct.req("HEAD").headers
        return (h["X-Account-Container-Count"], h["X-Account-Object-Count"], h["X-Account-Bytes-Used"])
    wait_until(lambda: totals() == ("2", "3", "111"), timeout=15, what="account totals 2/3/111")
    r = acct.req("HEAD")
    assert r.status_code == 204
    assert_swift_headers(r, "Account", "HEAD")

    listing = acct.listing()
    assert [c["name"] for c in listing] == ["one", "two"]
    one = listing[0]
    assert {"name", "count", "bytes", "last_modified"} <= set(one), one
    assert (one["count"], one["bytes"]) == (2, 11)
    assert ISO_RE.match(one["last_modified"]), one

    assert acct.req("DELETE", c1, "b").status_code == 204
    wait_until(lambda: totals() == ("2", "2", "101"), timeout=15, what="account totals 2/2/101")


def test_account_listing_formats_by_param_and_accept(new_account):
    acct = new_account()
    for name in ("alpha", "beta"):
        acct.put_container(name)
    cases = [
        ({"params": {"format": "json"}}, "application/json"),
        ({"params": {"format": "xml"}}, "application/xml"),
        ({"params": {"format": "plain"}}, "text/plain"),
        ({"headers": {"Accept": "application/json"}}, "application/json"),
        ({"headers": {"Accept": "application/xml"}}, "application/xml"),
        ({"headers": {"Accept": "text/xml"}}, "text/xml"),
        ({}, "text/plain"),
    ]
    for kw, ctype in cases:
        r = acct.req("GET", **kw)
        assert r.status_code == 200, (kw, r.status_code, r.text)
        assert r.headers["Content-Type"] == f"{ctype}; charset=utf-8", (kw, r.headers["Content-Type"])
        if ctype == "application/json":
            assert [c["name"] for c in r.json()] == ["alpha", "beta"]
        elif ctype.endswith("/xml"):
            root = ET.fromstring(r.content)
            assert root.tag == "account" and root.get("name") == acct.name
            conts = root.findall("container")
            assert [c.findtext("name") for c in conts] == ["alpha", "beta"]
            for field in ("count", "bytes", "last_modified"):
                assert conts[0].find(field) is not None, field
        else:
            assert r.text == "alpha\nbeta\n", r.text
    # format= wins over Accept (listing_formats.get_listing_content_type)
    r = acct.req("GET", params={"format": "json"}, headers={"Accept": "application/xml"})
    assert r.headers["Content-Type"].startswith("application/json")


def test_account_listing_paging_prefix_delimiter_reverse(new_account):
    acct = new_account()
    names = ["apple-1", "apple-2", "banana-1", "cherry"]
    for n in names:
        acct.put_container(n)
    assert acct.names() == names
    assert acct.names(limit=2) == names[:2]
    assert acct.names(marker="apple-2") == names[2:]
    assert acct.names(end_marker="banana-1") == names[:2]
    assert acct.names(marker="apple-1", end_marker="cherry") == ["apple-2", "banana-1"]
    assert acct.names(prefix="apple-") == names[:2]
    assert acct.names(reverse="true") == names[::-1]
    assert acct.names(reverse="true", limit=1) == ["cherry"]
    listing = acct.listing(delimiter="-")
    assert listing[0] == {"subdir": "apple-"} and listing[1] == {"subdir": "banana-"}, listing
    assert listing[2]["name"] == "cherry"
    r = acct.req("GET", params={"delimiter": "-"})  # plain: subdirs as lines
    assert r.text == "apple-\nbanana-\ncherry\n"


def test_account_metadata_set_overwrite_remove(new_account):
    acct = new_account()
    r = acct.req("POST", headers={"X-Account-Meta-Color": "red", "X-Account-Meta-Size": "big"})
    assert r.status_code == 204, (r.status_code, r.text)
    h = acct.req("HEAD").headers
    assert h["X-Account-Meta-Color"] == "red" and h["X-Account-Meta-Size"] == "big"
    # account POST merges: unnamed metadata stays
    assert acct.req("POST", headers={"X-Account-Meta-Color": "blue"}).status_code == 204
    h = acct.req("HEAD").headers
    assert h["X-Account-Meta-Color"] == "blue" and h["X-Account-Meta-Size"] == "big"
    assert acct.req("POST", headers={"X-Remove-Account-Meta-Size": "x"}).status_code == 204
    assert "X-Account-Meta-Size" not in acct.req("HEAD").headers
    # an empty value removes too (account server drops '' values)
    assert acct.req("POST", headers={"X-Account-Meta-Color": ""}).status_code == 204
    assert "X-Account-Meta-Color" not in acct.req("HEAD").headers


# ---- containers --------------------------------------------------------------

def test_container_put_201_then_202(new_account):
    acct = new_account()
    r = acct.req("PUT", "box")
    assert r.status_code == 201, (r.status_code, r.text)
    assert "X-Trans-Id" in r.headers
    r = acct.req("PUT", "box", headers={"X-Container-Meta-Again": "yes"})
    assert r.status_code == 202, (r.status_code, r.text)
    r = acct.req("HEAD", "box")
    assert r.status_code == 204
    assert_swift_headers(r, "Container", "HEAD")
    assert r.headers["X-Container-Meta-Again"] == "yes"
    assert (r.headers["X-Container-Object-Count"], r.headers["X-Container-Bytes-Used"]) == ("0", "0")


def test_container_delete_empty_nonempty_missing(new_account):
    acct = new_account()
    full = acct.put_container("full")
    acct.put_object(full, "o", b"data")
    r = acct.req("DELETE", full)
    assert r.status_code == 409, (r.status_code, r.text)
    assert acct.req("HEAD", full).status_code == 204
    assert acct.req("DELETE", full, "o").status_code == 204
    assert acct.req("DELETE", full).status_code == 204
    assert acct.req("DELETE", full).status_code == 404
    assert acct.req("HEAD", full).status_code == 404
    assert acct.req("GET", full).status_code == 404
    assert acct.req("DELETE", "never-existed").status_code == 404


def test_container_metadata_set_overwrite_remove(new_account):
    acct = new_account()
    c = acct.put_container("meta", headers={"X-Container-Meta-A": "1"})
    r = acct.req("POST", c, headers={"X-Container-Meta-B": "2"})
    assert r.status_code == 204, (r.status_code, r.text)
    h = acct.req("HEAD", c).headers
    assert (h["X-Container-Meta-A"], h["X-Container-Meta-B"]) == ("1", "2")
    assert acct.req("POST", c, headers={"X-Container-Meta-A": "one"}).status_code == 204
    assert acct.req("HEAD", c).headers["X-Container-Meta-A"] == "one"
    assert acct.req("POST", c, headers={"X-Remove-Container-Meta-A": "x"}).status_code == 204
    h = acct.req("HEAD", c).headers
    assert "X-Container-Meta-A" not in h and h["X-Container-Meta-B"] == "2"
    # metadata also comes back on GET (listing) responses
    assert acct.req("GET", c).headers["X-Container-Meta-B"] == "2"
    assert acct.req("POST", "no-such-container", headers={"X-Container-Meta-A": "1"}).status_code == 404


def test_container_listing_fields_and_formats(new_account):
    acct = new_account()
    c = acct.put_container("list")
    acct.put_object(c, "a.txt", b"hello", headers={"Content-Type": "text/plain"})
    acct.put_object(c, "b.bin", b"\x00\x01", headers={"Content-Type": "application/x-thing"})
    r = acct.req("GET", c, params={"format": "json"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert_swift_headers(r, "Container", "GET")
    a, b = r.json()
    assert set(a) >= {"name", "hash", "bytes", "content_type", "last_modified"}, a
    assert (a["name"], a["hash"], a["bytes"], a["content_type"]) == ("a.txt", md5hex(b"hello"), 5, "text/plain")
    assert (b["name"], b["bytes"], b["content_type"]) == ("b.bin", 2, "application/x-thing")
    assert ISO_RE.match(a["last_modified"]), a

    r = acct.req("GET", c, headers={"Accept": "application/xml"})
    root = ET.fromstring(r.content)
    assert root.tag == "container" and root.get("name") == c
    objs = root.findall("object")
    assert [o.findtext("name") for o in objs] == ["a.txt", "b.bin"]
    assert objs[0].findtext("hash") == md5hex(b"hello") and objs[0].findtext("bytes") == "5"
    assert objs[0].findtext("content_type") == "text/plain" and objs[0].findtext("last_modified")

    r = acct.req("GET", c)
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8" and r.text == "a.txt\nb.bin\n"


def test_container_listing_prefix_delimiter_paging(new_account):
    acct = new_account()
    c = acct.put_container("tree")
    names = ["a.txt", "dir/b.txt", "dir/c.txt", "dir/sub/d.txt", "e.txt"]
    for n in names:
        acct.put_object(c, n, n.encode())
    assert acct.names(c) == names
    listing = acct.listing(c, delimiter="/")
    assert [e.get("name") or e.get("subdir") for e in listing] == ["a.txt", "dir/", "e.txt"]
    assert listing[1] == {"subdir": "dir/"}, listing[1]
    assert acct.names(c, prefix="dir/", delimiter="/") == ["dir/b.txt", "dir/c.txt", "dir/sub/"]
    assert acct.names(c, prefix="dir/") == names[1:4]
    assert acct.names(c, limit=2) == names[:2]
    assert acct.names(c, marker="dir/c.txt") == names[3:]
    assert acct.names(c, end_marker="dir/c.txt") == names[:2]
    assert acct.names(c, reverse="1") == names[::-1]
    assert acct.names(c, reverse="1", marker="dir/b.txt") == ["a.txt"]
    # XML subdir entries carry the name twice (listing_formats.container_to_xml)
    r = acct.req("GET", c, params={"format": "xml", "delimiter": "/"})
    sub = ET.fromstring(r.content).find("subdir")
    assert sub.get("name") == "dir/" and sub.findtext("name") == "dir/"
    # empty plain listing is 204, empty json is []
    r = acct.req("GET", c, params={"prefix": "zzz"})
    assert r.status_code == 204 and r.content == b""
    assert acct.listing(c, prefix="zzz") == []


# ---- objects -------------------------------------------------------------------

def test_object_put_get_head_delete_with_headers(new_account):
    acct = new_account()
    c = acct.put_container("objs")
    plain = b"the quick brown fox " * 50
    data = gzip.compress(plain)
    before = time.time()
    r = acct.req("PUT", c, "report.txt", data=data, headers={
        "Content-Type": "text/x-report", "Content-Encoding": "gzip",
        "Content-Disposition": 'attachment; filename="report.txt"',
        "X-Object-Meta-Color": "Blue", "ETag": md5hex(data)})
    assert r.status_code == 201, (r.status_code, r.text)
    assert_swift_headers(r, "Object", "PUT")
    assert r.headers["Etag"] == md5hex(data)

    h = acct.req("HEAD", c, "report.txt")
    assert h.status_code == 200 and h.content == b""
    assert_swift_headers(h, "Object", "HEAD")
    hd = h.headers
    assert hd["Content-Length"] == str(len(data))
    assert hd["Content-Type"] == "text/x-report"
    assert hd["Content-Encoding"] == "gzip"
    assert hd["Content-Disposition"] == 'attachment; filename="report.txt"'
    assert hd["X-Object-Meta-Color"] == "Blue"
    assert hd["Etag"] == md5hex(data)
    assert hd["Accept-Ranges"] == "bytes"
    ts = float(hd["X-Timestamp"])
    assert before - 60 < ts < time.time() + 60
    last_modified = email.utils.parsedate_to_datetime(hd["Last-Modified"]).timestamp()
    assert abs(last_modified - ts) <= 1.5, (hd["Last-Modified"], hd["X-Timestamp"])

    g = acct.req("GET", c, "report.txt", stream=True)
    assert g.status_code == 200
    assert_swift_headers(g, "Object", "GET")
    assert g.raw.read(decode_content=False) == data
    assert g.headers["X-Object-Meta-Color"] == "Blue"

    r = acct.req("DELETE", c, "report.txt")
    assert r.status_code == 204, (r.status_code, r.text)
    assert acct.req("GET", c, "report.txt").status_code == 404
    assert acct.req("HEAD", c, "report.txt").status_code == 404
    assert acct.req("DELETE", c, "report.txt").status_code == 404


def test_wrong_etag_is_422_and_nothing_is_stored(new_account):
    acct = new_account()
    c = acct.put_container("etag")
    r = acct.req("PUT", c, "o", data=b"actual", headers={"ETag": md5hex(b"expected")})
    assert r.status_code == 422, (r.status_code, r.text)
    assert acct.req("HEAD", c, "o").status_code == 404
    assert acct.listing(c) == []


def test_chunked_upload(new_account):
    acct = new_account()
    c = acct.put_container("chunked")
    chunks = [b"a" * 1000, b"b" * 70000, b"c" * 5]
    r = acct.req("PUT", c, "streamed", data=iter(chunks))  # no length: Transfer-Encoding: chunked
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, (r.status_code, r.text)
    whole = b"".join(chunks)
    assert r.headers["Etag"] == md5hex(whole)
    h = acct.req("HEAD", c, "streamed").headers
    assert h["Content-Length"] == str(len(whole)) and h["Etag"] == md5hex(whole)
    assert acct.get_body(c, "streamed") == whole
    # chunked with a wrong ETag is refused too
    r = acct.req("PUT", c, "bad", data=iter([b"x", b"y"]), headers={"ETag": md5hex(b"z")})
    assert r.status_code == 422, (r.status_code, r.text)


def test_zero_byte_object(new_account):
    acct = new_account()
    c = acct.put_container("zero")
    r = acct.put_object(c, "empty", b"")
    assert r.headers["Etag"] == EMPTY_MD5
    g = acct.req("GET", c, "empty")
    assert g.status_code == 200 and g.content == b"" and g.headers["Content-Length"] == "0"
    assert g.headers["Etag"] == EMPTY_MD5
    (entry,) = acct.listing(c)
    assert (entry["bytes"], entry["hash"]) == (0, EMPTY_MD5)


def test_overwrite_replaces_content_and_listing_entry(new_account):
    acct = new_account()
    c = acct.put_container("over")
    acct.put_object(c, "o", b"first")
    acct.put_object(c, "o", b"second version")
    assert acct.get_body(c, "o") == b"second version"
    (entry,) = acct.listing(c)
    assert (entry["bytes"], entry["hash"]) == (14, md5hex(b"second version"))
    assert acct.req("HEAD", c).headers["X-Container-Object-Count"] == "1"


def test_object_post_replaces_user_metadata(new_account):
    acct = new_account()
    c = acct.put_container("post")
    acct.put_object(c, "o", b"x", headers={"Content-Type": "text/plain",
                                          "X-Object-Meta-A": "1", "X-Object-Meta-B": "2"})
    r = acct.req("POST", c, "o", headers={"X-Object-Meta-A": "new", "X-Object-Meta-C": "3"})
    assert r.status_code == 202, (r.status_code, r.text)
    h = acct.req("HEAD", c, "o").headers
    # an object POST replaces all user metadata (swift/obj/server.py POST)
    assert h["X-Object-Meta-A"] == "new" and h["X-Object-Meta-C"] == "3"
    assert "X-Object-Meta-B" not in h
    assert h["Content-Type"] == "text/plain"  # kept when not given
    assert acct.req("POST", c, "o", headers={"Content-Type": "application/x-new"}).status_code == 202
    assert acct.req("HEAD", c, "o").headers["Content-Type"] == "application/x-new"
    assert acct.get_body(c, "o") == b"x"
    assert acct.req("POST", c, "missing", headers={"X-Object-Meta-A": "1"}).status_code == 404


def test_content_type_is_guessed_from_the_name(new_account):
    acct = new_account()
    c = acct.put_container("types")
    acct.put_object(c, "notes.txt", b"text")  # no Content-Type header
    acct.put_object(c, "blob", b"bytes")
    assert acct.req("HEAD", c, "notes.txt").headers["Content-Type"].startswith("text/plain")
    assert acct.req("HEAD", c, "blob").headers["Content-Type"] == "application/octet-stream"


def test_unicode_and_slashes_in_names(new_account):
    acct = new_account()
    c = acct.put_container("contäiner ☃")
    names = ["dir/sub/ünïcødé ☃ file.txt", "odd?name#with%25&chars", "plain"]
    for n in names:
        acct.put_object(c, n, n.encode("utf-8"))
    for n in names:
        assert acct.get_body(c, n) == n.encode("utf-8"), n
    assert sorted(acct.names(c)) == sorted(names)
    assert acct.names(c, prefix="dir/sub/") == ["dir/sub/ünïcødé ☃ file.txt"]
    assert "contäiner ☃" in acct.names()
    r = acct.req("GET", c)
    assert r.content.decode("utf-8").splitlines() == sorted(names, key=lambda s: s.encode())


def test_request_ids_on_object_responses(new_account):
    acct = new_account()
    c = acct.put_container("ids")
    for r in (acct.req("HEAD", c), acct.req("GET", c, "missing"), acct.req("HEAD")):
        # swift/common/middleware/catch_errors.py sets both to the transaction id
        assert r.headers.get("X-Trans-Id"), dict(r.headers)
        assert r.headers.get("X-Openstack-Request-Id") == r.headers["X-Trans-Id"], dict(r.headers)


def test_object_endpoint_without_token_is_401(cloud, new_account):
    acct = new_account()
    c = acct.put_container("private")
    acct.put_object(c, "o", b"secret")
    for url in (acct.url, acct.url_for(c), acct.url_for(c, "o")):
        r = anonymous("GET", url)
        assert r.status_code == 401, (url, r.status_code, r.text)
    r = anonymous("GET", acct.url_for(c, "o"), headers={"X-Auth-Token": "not-a-token"})
    assert r.status_code == 401, (r.status_code, r.text)


# ---- clients -------------------------------------------------------------------

def test_swift_cli_upload_list_stat_download_delete(cloud, new_account, tmp_path):
    acct = new_account()
    user = acct.user
    payload = b"swift cli payload\n" * 100
    (tmp_path / "local.txt").write_bytes(payload)
    swift_cli(cloud, user, "upload", "--object-name", "remote/name.txt", "clic", "local.txt", cwd=tmp_path)
    assert swift_cli(cloud, user, "list").stdout.split() == ["clic"]
    assert swift_cli(cloud, user, "list", "clic").stdout.split() == ["remote/name.txt"]
    stat = swift_cli(cloud, user, "stat", "clic", "remote/name.txt").stdout
    assert md5hex(payload) in stat and f"Content Length: {len(payload)}" in stat, stat
    account_stat = swift_cli(cloud, user, "stat").stdout
    assert "Containers: 1" in account_stat and acct.name in account_stat, account_stat
    swift_cli(cloud, user, "download", "-o", str(tmp_path / "back.txt"), "clic", "remote/name.txt")
    assert (tmp_path / "back.txt").read_bytes() == payload
    swift_cli(cloud, user, "post", "-m", "color:green", "clic")
    assert acct.req("HEAD", "clic").headers["X-Container-Meta-Color"] == "green"
    swift_cli(cloud, user, "delete", "clic", "remote/name.txt")
    assert acct.req("HEAD", "clic", "remote/name.txt").status_code == 404
    swift_cli(cloud, user, "delete", "clic")
    assert acct.req("HEAD", "clic").status_code == 404


def test_openstack_cli_container_and_object_round_trip(cloud, new_account, tmp_path):
    acct = new_account()
    cli = cloud.user_cli(acct.user, tmp_path)
    name = unique("osc")
    made = cli("container", "create", name, "-f", "json")
    assert made[0]["container"] == name and made[0]["account"] == acct.name, made
    assert {"Name": name} in cli("container", "list", "-f", "json")

    src = tmp_path / "upload.bin"
    src.write_bytes(b"\x00openstack object\xff" * 64)
    created = cli("object", "create", name, str(src), "--name", "dir/obj.bin", "-f", "json")
    assert created[0]["object"] == "dir/obj.bin" and created[0]["etag"] == md5hex(src.read_bytes()), created
    assert [o["Name"] for o in cli("object", "list", name, "-f", "json")] == ["dir/obj.bin"]
    shown = cli("object", "show", name, "dir/obj.bin", "-f", "json")
    assert shown["etag"] == md5hex(src.read_bytes()) and shown["content-length"] == str(src.stat().st_size)
    cont = cli("container", "show", name, "-f", "json")
    assert str(cont["object_count"]) == "1" and str(cont["bytes_used"]) == str(src.stat().st_size), cont

    out = tmp_path / "saved.bin"
    cli("object", "save", name, "dir/obj.bin", "--file", str(out))
    assert out.read_bytes() == src.read_bytes()

    cli("object", "delete", name, "dir/obj.bin")
    assert cli("object", "list", name, "-f", "json") == []
    cli("container", "delete", name)
    assert {"Name": name} not in (cli("container", "list", "-f", "json") or [])


def test_openstacksdk_object_store(cloud, new_account, tmp_path):
    acct = new_account()
    conn = cloud.sdk(cloud="test", clouds_yaml=cloud.clouds_yaml_for(acct.user, tmp_path))
    try:
        conn.object_store.create_container(name="sdk")
        conn.object_store.upload_object(container="sdk", name="a/b.txt", data=b"via sdk",
                                        content_type="text/plain")
        assert [o.name for o in conn.object_store.objects("sdk")] == ["a/b.txt"]
        meta = conn.object_store.get_object_metadata("a/b.txt", container="sdk")
        assert meta.content_length == 7 and meta.etag == md5hex(b"via sdk")
        assert conn.object_store.download_object("a/b.txt", container="sdk") == b"via sdk"
        assert "sdk" in [c.name for c in conn.object_store.containers()]
        conn.object_store.delete_object("a/b.txt", container="sdk")
        conn.object_store.delete_container("sdk")
        assert acct.req("HEAD", "sdk").status_code == 404
    finally:
        conn.close()


def test_swiftclient_connection_keystone_v3_and_preauth(cloud, new_account):
    acct = new_account()
    conn = swift_connection(cloud, acct.user)
    try:
        conn.put_container("sc", headers={"X-Container-Meta-Kind": "swiftclient"})
        etag = conn.put_object("sc", "x/y", contents=b"swiftclient body", content_type="text/plain")
        assert etag == md5hex(b"swiftclient body")
        headers, body = conn.get_object("sc", "x/y")
        assert body == b"swiftclient body" and headers["content-type"] == "text/plain"
        assert conn.url == acct.url
        head = conn.head_account()
        assert head["x-account-container-count"] == "1"
        _, containers = conn.get_account()
        assert [c["name"] for c in containers] == ["sc"]
        _, objs = conn.get_container("sc")
        assert [(o["name"], o["bytes"], o["hash"]) for o in objs] == [("x/y", 16, etag)]
    finally:
        conn.close()

    from swiftclient.client import Connection
    pre = Connection(preauthurl=acct.url, preauthtoken=acct.token, retries=0)
    try:
        assert pre.head_container("sc")["x-container-meta-kind"] == "swiftclient"
        pre.delete_object("sc", "x/y")
        pre.delete_container("sc")
    finally:
        pre.close()
    assert acct.req("HEAD", "sc").status_code == 404


def test_listing_sorts_names_by_utf8_bytes(new_account):
    """Names sort by their UTF-8 bytes (Swift's sqlite listings), not by code point case rules."""
    acct = new_account()
    c = acct.put_container("order")
    names = ["B", "a", "Z", "é", "_", "0", "ä/x", "zz"]
    for n in names:
        acct.put_object(c, n, b"")
    assert acct.names(c) == sorted(names, key=lambda s: s.encode("utf-8"))
    body = acct.req("GET", c, params={"format": "json"}).content
    assert json.loads(body)[0]["name"] == "0"
