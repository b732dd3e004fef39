import pytest
"""Server-side copy: COPY + Destination, PUT + X-Copy-From, across accounts, metadata.

Behaviour from swift/common/middleware/copy.py (ServerSideCopyMiddleware)."""

from object_support import md5hex


def _source(acct, container="src", name="orig.txt", data=b"copy me please"):
    c = acct.put_container(container)
    acct.put_object(c, name, data, headers={"Content-Type": "text/x-source",
                                           "X-Object-Meta-Color": "red",
                                           "X-Object-Meta-Shape": "round",
                                           "Content-Disposition": "inline"})
    return c, name, data


def test_copy_verb_with_destination(new_account):
    acct = new_account()
    c, name, data = _source(acct)
    dest = acct.put_container("dst")
    r = acct.req("COPY", c, name, headers={"Destination": f"/{dest}/copied.txt",
                                           "X-Object-Meta-Shape": "square"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["X-Copied-From"] == f"{c}/{name}"
    assert r.headers["X-Copied-From-Account"] == acct.name
    assert r.headers["X-Copied-From-Last-Modified"] == acct.req("HEAD", c, name).headers["Last-Modified"]
    assert r.headers["Etag"] == md5hex(data) and r.headers.get("Last-Modified")
    h = acct.req("HEAD", dest, "copied.txt").headers
    assert h["Content-Type"] == "text/x-source"
    assert h["X-Object-Meta-Color"] == "red"          # carried over
    assert h["X-Object-Meta-Shape"] == "square"       # request metadata wins
    assert h["Content-Disposition"] == "inline"
    assert acct.get_body(dest, "copied.txt") == data
    assert acct.get_body(c, name) == data             # the source is untouched
    # Destination without a leading slash is fine too
    r = acct.req("COPY", c, name, headers={"Destination": f"{dest}/second"})
    assert r.status_code == 201 and acct.get_body(dest, "second") == data


def test_put_with_x_copy_from(new_account):
    acct = new_account()
    c, name, data = _source(acct)
    r = acct.req("PUT", c, "dup", data=b"", headers={"X-Copy-From": f"/{c}/{name}",
                                                     "Content-Type": "text/x-changed"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["X-Copied-From"] == f"{c}/{name}"
    h = acct.req("HEAD", c, "dup").headers
    assert h["Content-Type"] == "text/x-changed"      # explicit Content-Type overrides
    assert h["X-Object-Meta-Color"] == "red" and h["Etag"] == md5hex(data)
    assert acct.get_body(c, "dup") == data


def test_fresh_metadata_drops_source_user_metadata(new_account):
    acct = new_account()
    c, name, data = _source(acct)
    r = acct.req("PUT", c, "fresh", data=b"", headers={"X-Copy-From": f"{c}/{name}",
                                                       "X-Fresh-Metadata": "true",
                                                       "X-Object-Meta-New": "only"})
    assert r.status_code == 201, (r.status_code, r.text)
    h = acct.req("HEAD", c, "fresh").headers
    assert h["X-Object-Meta-New"] == "only"
    assert "X-Object-Meta-Color" not in h and "X-Object-Meta-Shape" not in h
    assert h["Content-Type"] == "text/x-source"       # content type still comes from the source
    assert acct.get_body(c, "fresh") == data


def test_copy_with_range_makes_a_partial_copy(new_account):
    acct = new_account()
    c, name, data = _source(acct, data=b"0123456789")
    r = acct.req("PUT", c, "part", data=b"", headers={"X-Copy-From": f"{c}/{name}", "Range": "bytes=2-5"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "part") == b"2345"
    r = acct.req("COPY", c, name, headers={"Destination": f"{c}/tail", "Range": "bytes=-3"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "tail") == b"789"
    r = acct.req("PUT", c, "none", data=b"", headers={"X-Copy-From": f"{c}/{name}", "Range": "bytes=20-30"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10", (r.status_code, r.headers)
    assert acct.req("HEAD", c, "none").status_code == 404


def test_copy_errors(new_account):
    acct = new_account()
    c, name, _ = _source(acct)
    # swift/common/middleware/copy.py: missing/malformed Destination -> 412
    no_destination = acct.req("COPY", c, name)
    assert no_destination.status_code == 412, (no_destination.status_code, no_destination.text)
    r = acct.req("COPY", c, name, headers={"Destination": "no-slash"})
    assert r.status_code == 412, (r.status_code, r.text)
    r = acct.req("PUT", c, "x", data=b"", headers={"X-Copy-From": "no-slash"})
    assert r.status_code == 412, (r.status_code, r.text)
    # a copy request must not carry a body
    r = acct.req("PUT", c, "x", data=b"body", headers={"X-Copy-From": f"{c}/{name}"})
    assert r.status_code == 400, (r.status_code, r.text)
    # missing source, missing destination container
    assert acct.req("COPY", c, "nope", headers={"Destination": f"{c}/x"}).status_code == 404
    assert acct.req("COPY", c, name, headers={"Destination": "no-such-container/x"}).status_code == 404
    assert acct.req("HEAD", c, "x").status_code == 404
    assert no_destination.text == "Destination header required"


def test_copy_from_other_account_needs_read_acl(new_account):
    owner, other = new_account(), new_account()
    c, name, data = _source(owner)
    mine = other.put_container("mine")
    headers = {"X-Copy-From": f"{c}/{name}", "X-Copy-From-Account": owner.name}
    r = other.req("PUT", mine, "stolen", data=b"", headers=headers)
    assert r.status_code == 403, (r.status_code, r.text)
    assert other.req("HEAD", mine, "stolen").status_code == 404

    r = owner.req("POST", c, headers={"X-Container-Read": f"{other.user.project_id}:{other.user.id}"})
    assert r.status_code == 204
    r = other.req("PUT", mine, "shared", data=b"", headers=headers)
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["X-Copied-From-Account"] == owner.name
    assert other.get_body(mine, "shared") == data
    assert other.req("HEAD", mine, "shared").headers["X-Object-Meta-Color"] == "red"


def test_copy_to_other_account_needs_write_acl(new_account):
    owner, other = new_account(), new_account()
    c, name, data = _source(owner)
    inbox = other.put_container("inbox")
    headers = {"Destination": f"{inbox}/gift", "Destination-Account": other.name}
    r = owner.req("COPY", c, name, headers=headers)
    assert r.status_code == 403, (r.status_code, r.text)

    r = other.req("POST", inbox, headers={"X-Container-Write": f"{owner.user.project_id}:*"})
    assert r.status_code == 204
    r = owner.req("COPY", c, name, headers=headers)
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["X-Copied-From-Account"] == owner.name
    assert other.get_body(inbox, "gift") == data


def test_copy_of_manifest_copies_the_whole_object(new_account):
    acct = new_account()
    c = acct.put_container("dlo")
    acct.put_object(c, "seg/1", b"aaa")
    acct.put_object(c, "seg/2", b"bbb")
    acct.put_object(c, "manifest", b"", headers={"X-Object-Manifest": f"{c}/seg/"})
    r = acct.req("COPY", c, "manifest", headers={"Destination": f"{c}/flat"})
    assert r.status_code == 201, (r.status_code, r.text)
    h = acct.req("HEAD", c, "flat").headers
    assert "X-Object-Manifest" not in h and h["Content-Length"] == "6"
    assert acct.get_body(c, "flat") == b"aaabbb"
    # ...unless multipart-manifest=get: then the manifest itself is copied
    r = acct.req("COPY", c, "manifest", params={"multipart-manifest": "get"},
                 headers={"Destination": f"{c}/manifest2"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.req("HEAD", c, "manifest2").headers["X-Object-Manifest"] == f"{c}/seg/"
    assert acct.get_body(c, "manifest2") == b"aaabbb"
