"""Object storage response headers and object POST semantics, as Swift's proxy answers.

* Answers without a body carry `Content-Length: 0` (swob sets `content_length = 0` on
  conditional answers; eventlet's wsgi sends the length of the empty body on the rest), and a
  202 without a body of its own gets swob's explanation page (`RESPONSE_REASONS[202]`).
"""

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


def test_errors_and_empty_objects_carry_their_length(new_account):
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "empty", b"")
    r = acct.req("GET", c, "empty")
    assert r.status_code == 200 and r.headers["Content-Length"] == "0" and r.content == b""
    r = acct.req("GET", c, "missing")
    assert r.status_code == 404 and r.headers["Content-Length"] == str(len(r.content)) and r.content
