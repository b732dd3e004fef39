"""Object storage response headers and object POST semantics, as Swift's proxy answers.

* Answers without a body carry `Content-Length: 0` (swob sets `content_length = 0` on
  conditional answers, 304 and 412, which keep the object's headers; eventlet's wsgi sends
  the length of the empty body on the rest), and a
  202 without a body of its own gets swob's explanation page (`RESPONSE_REASONS[202]`).
* An object POST replaces the metadata the object server lets clients set
  (`allowed_headers` in swift/obj/server.py: Content-Disposition, Content-Encoding,
  X-Delete-At, X-Object-Manifest, Cache-Control, Content-Language, Expires, X-Robots-Tag, plus
  X-Object-Meta-*): what the POST does not send is gone; Content-Type changes only when sent.
"""

import time

from swiftclient.client import Connection

from object_support import swift_connection

ACCEPTED_BODY = b"<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>"


def assert_empty(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.content == b""
    assert resp.headers.get("Content-Length") == "0", dict(resp.headers)
    assert "Transfer-Encoding" not in resp.headers, dict(resp.headers)


def test_empty_account_answers_carry_content_length_zero(new_account):
    acct = new_account()
    assert_empty(acct.req("HEAD"), 204)
    assert_empty(acct.req("GET"), 204)  # no containers, plain listing
    assert_empty(acct.req("POST", headers={"X-Account-Meta-Color": "blue"}), 204)
    r = acct.req("GET", params={"format": "json"})  # a JSON listing is a body: []
    assert r.status_code == 200 and r.json() == [] and r.headers["Content-Length"] == "2"


def test_empty_container_and_object_answers_carry_content_length_zero(new_account):
    acct = new_account()
    r = acct.req("PUT", "c")
    assert_empty(r, 201)
    # PUT of a container that exists: 202 with swob's explanation page
    r = acct.req("PUT", "c")
    assert r.status_code == 202 and r.content == ACCEPTED_BODY, (r.status_code, r.content)
    assert r.headers["Content-Length"] == str(len(ACCEPTED_BODY))
    assert_empty(acct.req("HEAD", "c"), 204)
    assert_empty(acct.req("GET", "c"), 204)  # empty container, plain listing
    assert_empty(acct.req("POST", "c", headers={"X-Container-Meta-A": "1"}), 204)

    r = acct.req("PUT", "c", "o", data=b"data")
    assert_empty(r, 201)
    etag = r.headers["Etag"]
    r = acct.req("GET", "c", "o", headers={"If-None-Match": etag})
    assert_empty(r, 304)
    assert r.headers["Etag"] == etag
    r = acct.req("HEAD", "c", "o", headers={"If-None-Match": etag})
    assert_empty(r, 304)
    r = acct.req("POST", "c", "o", headers={"X-Object-Meta-A": "1"})
    assert r.status_code == 202 and r.content == ACCEPTED_BODY
    assert r.headers["Content-Length"] == str(len(ACCEPTED_BODY))
    # HEAD answers the object's length, with no body
    r = acct.req("HEAD", "c", "o")
    assert r.status_code == 200 and r.headers["Content-Length"] == "4" and r.content == b""
    assert_empty(acct.req("DELETE", "c", "o"), 204)
    assert_empty(acct.req("DELETE", "c"), 204)


def test_conditional_answers_are_empty_with_the_objects_headers(new_account):
    # swob's conditional response (_response_iter): the status becomes 304/412, the body
    # empty, Content-Length 0; the object's headers stay.
    acct = new_account()
    c = acct.put_container()
    etag = acct.put_object(c, "o", b"data", headers={"X-Object-Meta-Color": "red",
                                                      "Content-Type": "text/x-c"}).headers["Etag"]
    for status, headers in ((412, {"If-Match": "nope"}), (304, {"If-None-Match": etag})):
        for method in ("GET", "HEAD"):
            r = acct.req(method, c, "o", headers=headers)
            assert_empty(r, status)
            assert r.headers["Etag"] == etag and r.headers["X-Object-Meta-Color"] == "red"
            assert r.headers["Content-Type"] == "text/x-c" and r.headers["Last-Modified"]
    # swob's order: a matching If-None-Match comes before a failing If-Match ...
    assert acct.req("GET", c, "o", headers={"If-None-Match": etag, "If-Match": "nope"}).status_code == 304
    # ... and If-Modified-Since is read even beside an If-None-Match that does not match
    last_modified = acct.req("HEAD", c, "o").headers["Last-Modified"]
    r = acct.req("GET", c, "o", headers={"If-None-Match": "other", "If-Modified-Since": last_modified})
    assert r.status_code == 304


def test_errors_and_empty_objects_carry_their_length(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "empty", b"")
    r = acct.req("GET", c, "empty")
    assert r.status_code == 200 and r.headers["Content-Length"] == "0" and r.content == b""
    r = acct.req("GET", c, "missing")
    assert r.status_code == 404 and r.headers["Content-Length"] == str(len(r.content)) and r.content


SETTABLE = {
    "Content-Disposition": "attachment; filename=report.txt",
    "Content-Encoding": "gzip",
    "Content-Language": "en-GB",
    "Cache-Control": "max-age=60",
    "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
    "X-Robots-Tag": "noindex",
}


def test_object_post_replaces_every_settable_header(new_account):
    acct = new_account()
    c = acct.put_container()
    delete_at = str(int(time.time()) + 3600)
    acct.put_object(c, "o", b"body", headers={"Content-Type": "text/plain", "X-Object-Meta-Old": "1",
                                              "X-Delete-At": delete_at, **SETTABLE})
    h = acct.req("HEAD", c, "o").headers
    for k, v in SETTABLE.items():
        assert h.get(k) == v, (k, dict(h))
    assert h["X-Delete-At"] == delete_at and h["X-Object-Meta-Old"] == "1"

    # A POST that sends none of them removes all of them; Content-Type stays.
    r = acct.req("POST", c, "o", headers={"X-Object-Meta-New": "2"})
    assert r.status_code == 202, (r.status_code, r.text)
    h = acct.req("HEAD", c, "o").headers
    for k in [*SETTABLE, "X-Delete-At", "X-Object-Meta-Old"]:
        assert k not in h, (k, dict(h))
    assert h["X-Object-Meta-New"] == "2"
    assert h["Content-Type"] == "text/plain"
    # The object's data, size and ETag are untouched.
    g = acct.req("GET", c, "o")
    assert g.content == b"body" and g.headers["Content-Length"] == "4"

    # A POST may set them again, one by one, and change Content-Type.
    r = acct.req("POST", c, "o", headers={"Content-Language": "fr", "X-Robots-Tag": "none",
                                          "Content-Type": "application/x-changed"})
    assert r.status_code == 202
    h = acct.req("HEAD", c, "o").headers
    assert h["Content-Language"] == "fr" and h["X-Robots-Tag"] == "none"
    assert h["Content-Type"] == "application/x-changed"
    assert "X-Object-Meta-New" not in h and "Cache-Control" not in h
    entry = [e for e in acct.listing(c) if e["name"] == "o"][0]
    assert entry["content_type"] == "application/x-changed" and entry["bytes"] == 4


def test_object_post_through_swiftclient(cloud, new_user):
    user = new_user()
    conn: Connection = swift_connection(cloud, user)
    conn.put_container("c")
    conn.put_object("c", "o", b"x", headers={"Cache-Control": "no-cache", "X-Object-Meta-A": "1"},
                    content_type="text/plain")
    conn.post_object("c", "o", headers={"X-Object-Meta-B": "2", "Content-Disposition": "inline"})
    h = conn.head_object("c", "o")
    assert h.get("x-object-meta-b") == "2" and h.get("content-disposition") == "inline"
    assert "x-object-meta-a" not in h and "cache-control" not in h
    assert h["content-type"] == "text/plain"
