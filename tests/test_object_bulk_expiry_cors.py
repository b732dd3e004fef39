"""Bulk delete (swift/common/middleware/bulk.py), object expiry (X-Delete-At /
X-Delete-After; swift/obj/server.py answers 404 for an expired object whether or not the
expirer has run) and CORS (swift/proxy/controllers/base.py OPTIONS, cors_validation)."""

import json
import time
import xml.etree.ElementTree as ET

import pytest

from object_support import admin_account, anonymous, wait_until


def _bulk(acct, lines, accept=None, method="POST", content_type="text/plain"):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    body = "".join(line + "\n" for line in lines)
    return acct.req(method, params={"bulk-delete": ""}, data=body.encode(), headers=headers)


def _fill(acct):
    c = acct.put_container("bulk")
    for name in ("a", "b", "with space", "dir/ü"):
        acct.put_object(c, name, name.encode())
    empty = acct.put_container("empty")
    return c, empty


# ---- bulk delete -----------------------------------------------------------------

def test_bulk_delete_json_report(new_account):
    acct = new_account()
    c, empty = _fill(acct)
    r = _bulk(acct, [f"/{c}/a", f"/{c}/b", f"/{c}/with%20space", f"/{c}/dir/%C3%BC",
                     f"/{c}/missing", f"/{empty}"], accept="application/json")
    # bulk requests always answer 200; the outcome is in the body
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = json.loads(r.content)
    assert body == {"Number Deleted": 5, "Number Not Found": 1, "Response Status": "200 OK",
                    "Response Body": "", "Errors": []}, body
    assert acct.listing(c) == []
    assert acct.req("HEAD", empty).status_code == 404


def test_bulk_delete_plain_text_report(new_account):
    acct = new_account()
    c, _ = _fill(acct)
    r = _bulk(acct, [f"/{c}/a", f"{c}/b"])  # the leading slash is optional
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("text/plain")
    # keys sorted, then "Errors:" (request_helpers.get_heartbeat_response_body)
    assert r.text.strip() == ("Number Deleted: 2\nNumber Not Found: 0\nResponse Body: \n"
                              "Response Status: 200 OK\nErrors:"), r.text
    assert sorted(acct.names(c)) == ["dir/ü", "with space"]


def test_bulk_delete_objects_before_their_container(new_account):
    acct = new_account()
    c, _ = _fill(acct)
    names = [f"/{c}"] + [f"/{c}/{n}" for n in ("a", "b", "with%20space", "dir/%C3%BC")]
    body = _bulk(acct, names, accept="application/json").json()
    assert body["Number Deleted"] == 5 and body["Errors"] == [], body
    assert acct.req("HEAD", c).status_code == 404


def test_bulk_delete_nonempty_container_is_an_error(new_account):
    acct = new_account()
    c, _ = _fill(acct)
    body = _bulk(acct, [f"/{c}", f"/{c}/a"], accept="application/json").json()
    assert body["Number Deleted"] == 1, body
    assert body["Errors"] == [[f"/{c}", "409 Conflict"]], body
    assert body["Response Status"] == "400 Bad Request", body
    assert acct.req("HEAD", c).status_code == 204


def test_bulk_delete_with_delete_method_and_xml(new_account):
    acct = new_account()
    c, _ = _fill(acct)
    r = _bulk(acct, [f"/{c}/a"], accept="application/xml", method="DELETE")
    assert r.status_code == 200, (r.status_code, r.text)
    # <delete><number_deleted>..</number_deleted>...<errors/></delete>; the XML declaration
    # only comes with a heartbeat (bulk.py handle_delete_iter)
    root = ET.fromstring(r.content.strip())
    assert root.tag == "delete", r.text
    assert root.findtext("number_deleted") == "1" and root.findtext("number_not_found") == "0"
    assert root.findtext("response_status") == "200 OK" and list(root.find("errors")) == []
    assert acct.req("HEAD", c, "a").status_code == 404


def test_bulk_delete_in_another_account_fails_per_object(new_account):
    # bulk runs left of auth in Swift's pipeline: each DELETE subrequest is refused on its
    # own, and the bulk request still answers 200 with the failures listed
    owner, other = new_account(), new_account()
    c, _ = _fill(owner)
    r = _bulk(other.on(owner), [f"/{c}/a"], accept="application/json")
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert body["Number Deleted"] == 0 and body["Errors"] == [[f"/{c}/a", "403 Forbidden"]], body
    assert body["Response Status"] == "400 Bad Request"
    assert owner.req("HEAD", c, "a").status_code == 200


def test_bulk_delete_with_nothing_to_delete(new_account):
    acct = new_account()
    body = _bulk(acct, [], accept="application/json").json()
    assert body["Response Status"] == "400 Bad Request" and body["Response Body"] == "Invalid bulk delete.", body


def test_bulk_delete_only_takes_text_plain(new_account):
    acct = new_account()
    c, _ = _fill(acct)
    body = _bulk(acct, [f"/{c}/a"], accept="application/json", content_type="application/json").json()
    assert body["Response Status"] == "406 Not Acceptable", body
    assert acct.req("HEAD", c, "a").status_code == 200


# ---- expiry ---------------------------------------------------------------------

def test_delete_at_and_delete_after_hide_the_object_once_due(object_nimbus):
    # an expirer that never runs during the test: the 404s come from the read path
    n = object_nimbus(config={"object_storage": {"expirer_interval": 3600}})
    acct = admin_account(n)
    c = acct.put_container("expiring")
    now = int(time.time())
    acct.put_object(c, "at", b"x", headers={"X-Delete-At": str(now + 3)})
    acct.put_object(c, "after", b"y", headers={"X-Delete-After": "3"})
    acct.put_object(c, "stays", b"z")
    assert acct.req("HEAD", c, "at").headers["X-Delete-At"] == str(now + 3)
    delete_at = int(acct.req("HEAD", c, "after").headers["X-Delete-At"])
    assert now + 2 <= delete_at <= int(time.time()) + 4, delete_at
    assert acct.get_body(c, "at") == b"x"

    time.sleep(max(0.0, max(now + 3, delete_at) + 1.2 - time.time()))  # until both are due
    for name in ("at", "after"):
        assert acct.req("GET", c, name).status_code == 404, name
        assert acct.req("HEAD", c, name).status_code == 404, name
        assert acct.req("POST", c, name, headers={"X-Object-Meta-A": "b"}).status_code == 404, name
    assert acct.get_body(c, "stays") == b"z"


def test_post_sets_and_clears_delete_at(new_account):
    acct = new_account()
    c = acct.put_container("exp")
    acct.put_object(c, "o", b"x")
    at = str(int(time.time()) + 3600)
    assert acct.req("POST", c, "o", headers={"X-Delete-At": at}).status_code == 202
    assert acct.req("HEAD", c, "o").headers["X-Delete-At"] == at
    # an object POST replaces metadata; without X-Delete-At the expiry is gone
    assert acct.req("POST", c, "o", headers={"X-Object-Meta-A": "b"}).status_code == 202
    assert "X-Delete-At" not in acct.req("HEAD", c, "o").headers


def test_expirer_removes_expired_objects_from_listings(object_nimbus):
    n = object_nimbus(config={"object_storage": {"expirer_interval": 1}})
    acct = admin_account(n)
    c = acct.put_container("reaped")
    acct.put_object(c, "short", b"bye", headers={"X-Delete-After": "1"})
    acct.put_object(c, "long", b"hi")
    wait_until(lambda: acct.names(c) == ["long"], timeout=30, what="the expirer to reap 'short'")
    h = acct.req("HEAD", c).headers
    assert (h["X-Container-Object-Count"], h["X-Container-Bytes-Used"]) == ("1", "2")


# ---- CORS ----------------------------------------------------------------------

@pytest.fixture
def cors(new_account):
    acct = new_account()
    c = acct.put_container("cors", headers={
        "X-Container-Meta-Access-Control-Allow-Origin": "http://good.example http://also.example",
        "X-Container-Meta-Access-Control-Max-Age": "600",
        "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom-Thing"})
    acct.put_object(c, "o", b"cors data", headers={"X-Object-Meta-Color": "red"})
    return acct, c


def _preflight(url, origin, method="GET", request_headers=None):
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    return anonymous("OPTIONS", url, headers=headers)  # preflights carry no token


def test_cors_preflight_allowed(cors):
    acct, c = cors
    for url in (acct.url_for(c, "o"), acct.url_for(c)):
        r = _preflight(url, "http://good.example", "PUT", "x-auth-token, content-type")
        assert r.status_code == 200, (url, r.status_code, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == "http://good.example"
        methods = {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "HEAD", "PUT", "POST", "DELETE"} <= methods, methods
        assert r.headers["Access-Control-Max-Age"] == "600"
        allow_headers = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"x-auth-token", "content-type"} <= allow_headers
    r = _preflight(acct.url_for(c, "o"), "http://also.example")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "http://also.example"


def test_cors_preflight_refused(cors):
    acct, c = cors
    url = acct.url_for(c, "o")
    r = _preflight(url, "http://evil.example")
    assert r.status_code == 401, (r.status_code, r.text)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = _preflight(url, "http://good.example", method="PATCH")  # not a method the object allows
    assert r.status_code == 401, (r.status_code, r.text)
    plain = acct.put_container("no-cors")
    assert _preflight(acct.url_for(plain, "o"), "http://good.example").status_code == 401


def test_options_without_origin_lists_allowed_methods(cors):
    acct, c = cors
    r = anonymous("OPTIONS", acct.url_for(c, "o"))
    assert r.status_code == 200, (r.status_code, r.text)
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "COPY"} <= allow, allow


def test_cors_headers_on_actual_requests(cors):
    acct, c = cors
    r = acct.req("GET", c, "o", headers={"Origin": "http://good.example"})
    assert r.status_code == 200 and r.content == b"cors data"
    assert r.headers["Access-Control-Allow-Origin"] == "http://good.example"
    expose = {h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "x-timestamp", "x-trans-id", "x-object-meta-color", "x-custom-thing",
            "content-type", "last-modified"} <= expose, expose
    # strict CORS mode: an origin that is not allowed gets no CORS headers
    r = acct.req("GET", c, "o", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_cors_wildcard_origin(new_account):
    acct = new_account()
    c = acct.put_container("star", headers={"X-Container-Meta-Access-Control-Allow-Origin": "*"})
    r = _preflight(acct.url_for(c, "o"), "http://anywhere.example")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    acct.put_object(c, "o", b"x")
    r = acct.req("GET", c, "o", headers={"Origin": "http://anywhere.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
