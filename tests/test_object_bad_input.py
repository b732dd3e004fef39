"""Bad input gets Swift's 4xx (never a 5xx), with Swift's short plain-text/HTML bodies.

Limits and messages: swift/common/constraints.py (check_metadata, check_object_creation,
check_delete_headers), swift/proxy/controllers/container.py (name length), obj.py."""

import http.client
import json
from urllib.parse import urlparse

import pytest
import requests

from object_support import md5hex


@pytest.fixture
def acct(new_account):
    a = new_account()
    a.put_container("c")
    return a


def _no_5xx(r):
    assert r.status_code < 500, (r.request.method, r.url, r.status_code, r.text)
    return r


def test_object_name_length_limit(acct):
    acct.put_object("c", "a" * 1024, b"")
    too_long = acct.req("PUT", "c", "a" * 1025, data=b"")
    assert too_long.status_code == 400, (too_long.status_code, too_long.text)
    # the proxy measures the unquoted (native str) name: characters, not UTF-8 bytes
    # (swift/proxy/controllers/obj.py: self.object_name = unquote(...); constraints.py)
    acct.put_object("c", "é" * 1024, b"")            # 2048 bytes, 1024 characters
    r = acct.req("PUT", "c", "é" * 1025, data=b"")
    assert r.status_code == 400, (r.status_code, r.text)
    # a plain-text body, verbatim (constraints.check_object_creation)
    assert too_long.headers["Content-Type"].startswith("text/plain"), too_long.headers
    assert too_long.text == "Object name length of 1025 longer than 1024"


def test_container_name_length(acct):
    assert acct.req("PUT", "k" * 256).status_code == 201
    r = acct.req("PUT", "k" * 257)
    assert r.status_code == 400 and "Container name length of 257 longer than 256" in r.text, (r.status_code, r.text)
    assert acct.req("PUT", "ü" * 256).status_code == 201   # characters again
    r = acct.req("PUT", "ü" * 257)
    assert r.status_code == 400, (r.status_code, r.text)


def test_slash_in_container_name_is_an_object_path(acct):
    # /v1/AUTH_x/a%2Fb is unquoted to /v1/AUTH_x/a/b: object "b" in container "a" -> 404
    r = acct.req("PUT", "no-such/thing", data=b"")
    assert r.status_code == 404, (r.status_code, r.text)
    r = requests.put(acct.url + "/no-such%2Fthing", headers={"X-Auth-Token": acct.token}, data=b"", timeout=30)
    assert r.status_code == 404, (r.status_code, r.text)
    assert "no-such" not in acct.names()


@pytest.mark.parametrize("target", ["account", "container", "object"])
def test_metadata_limits(acct, target):
    prefix = {"account": "X-Account-Meta-", "container": "X-Container-Meta-", "object": "X-Object-Meta-"}[target]
    args = {"account": (), "container": ("c",), "object": ("c", "o")}[target]
    if target == "object":
        acct.put_object("c", "o", b"x")
    cases = [
        ({prefix + "n" * 129: "v"}, f"Metadata name too long: {prefix.lower()}{'n' * 129}"),
        ({prefix + "Name": "v" * 257}, "Metadata value longer than 256"),
        ({f"{prefix}K{i}": "v" for i in range(91)}, "Too many metadata items; max 90"),
        ({f"{prefix}K{i}": "v" * 250 for i in range(17)}, "Total metadata too large; max 4096"),
    ]
    for headers, message in cases:
        r = acct.req("POST", *args, headers=headers)
        assert r.status_code == 400, (target, message, r.status_code, r.text)
        assert message.lower() in r.text.lower(), (message, r.text)
    # at the limits is fine
    ok = {prefix + "n" * 128: "v" * 256}
    assert acct.req("POST", *args, headers=ok).status_code in (202, 204)
    if target == "object":
        r = acct.req("PUT", "c", "o2", data=b"x", headers={prefix + "n" * 129: "v"})
        assert r.status_code == 400, (r.status_code, r.text)
        assert acct.req("HEAD", "c", "o2").status_code == 404


def test_wrong_etag_is_422(acct):
    r = acct.req("PUT", "c", "o", data=b"abc", headers={"ETag": "0" * 32})
    assert r.status_code == 422, (r.status_code, r.text)
    r = acct.req("PUT", "c", "o", data=b"abc", headers={"ETag": "not-even-hex"})
    assert r.status_code == 422, (r.status_code, r.text)
    assert acct.req("PUT", "c", "o", data=b"abc", headers={"ETag": md5hex(b"abc")}).status_code == 201


def test_unsatisfiable_range_is_416(acct):
    acct.put_object("c", "o", b"12345")
    r = acct.req("GET", "c", "o", headers={"Range": "bytes=10-20"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */5"


def test_object_in_missing_container_is_404(acct):
    r = acct.req("PUT", "nope", "o", data=b"x")
    assert r.status_code == 404, (r.status_code, r.text)
    for method in ("GET", "HEAD", "DELETE", "POST"):
        assert acct.req(method, "nope", "o").status_code == 404, method
    assert acct.req("GET", "c", "missing").status_code == 404


@pytest.mark.parametrize("headers, message", [
    ({"X-Delete-At": "soon"}, "Non-integer X-Delete-At"),
    ({"X-Delete-At": "1000000000"}, "X-Delete-At in past"),
    ({"X-Delete-After": "later"}, "Non-integer X-Delete-After"),
    ({"X-Delete-After": "-5"}, "X-Delete-After in past"),
])
def test_invalid_expiry_headers_are_400(acct, headers, message):
    r = acct.req("PUT", "c", "o", data=b"x", headers=headers)
    assert r.status_code == 400 and message in r.text, (r.status_code, r.text)
    assert acct.req("HEAD", "c", "o").status_code == 404
    acct.put_object("c", "o", b"x")
    r = acct.req("POST", "c", "o", headers=headers)
    assert r.status_code == 400 and message in r.text, (r.status_code, r.text)


def test_bad_manifests_are_400(acct):
    r = acct.req("PUT", "c", "dlo", data=b"", headers={"X-Object-Manifest": "no-prefix"})
    assert r.status_code == 400, (r.status_code, r.text)
    for body in ("{not json", "null", '"a string"', json.dumps([{"path": "/c/missing"}]),
                 json.dumps([{"path": "/c/x", "size_bytes": "big"}]), json.dumps([{"data": "@@@"}])):
        r = acct.req("PUT", "c", "slo", params={"multipart-manifest": "put"}, data=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
    r = acct.req("PUT", "c", "slo", params={"multipart-manifest": "put"}, data="{not json")
    assert r.text.strip() == "Manifest must be valid JSON."


def test_missing_content_length_is_411(acct):
    u = urlparse(acct.url_for("c", "o"))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("PUT", u.path)
        conn.putheader("X-Auth-Token", acct.token)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 411, (resp.status, body)
    assert b"Missing Content-Length header." in body


def test_bad_query_and_listing_parameters(acct):
    # swift/common/request_helpers.py constrain_req_limit: a limit above the maximum is 412,
    # one that is not a plain number is ignored
    r = acct.req("GET", "c", params={"limit": "10001"})
    assert r.status_code == 412 and "Maximum limit is 10000" in r.text, (r.status_code, r.text)
    r = acct.req("GET", None, params={"limit": "10001"})
    assert r.status_code == 412, (r.status_code, r.text)
    for bad in ("-1", "abc"):
        r = acct.req("GET", "c", params={"limit": bad, "format": "json"})
        assert r.status_code == 200, (bad, r.status_code, r.text)
    r = acct.req("GET", "c", params={"format": "json"}, headers={"Accept": "application/x-nope"})
    assert r.status_code == 200  # format= wins over Accept
    r = acct.req("GET", "c", headers={"Accept": "image/png"})
    assert r.status_code == 406, (r.status_code, r.text)
    assert "Not Acceptable" in r.text, r.text
    assert acct.req("HEAD", None, headers={"Accept": "image/png"}).status_code == 406
    r = acct.req("GET", "c", headers={"Accept": "application/json;q=0.5, text/plain"})
    assert r.status_code in (200, 204) and r.headers["Content-Type"].startswith("text/plain"), r.headers
    r = acct.req("GET", "c", headers={"Accept": "*/*;q=0.1, application/json"})
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert acct.req("GET", "c", headers={"Accept": "garbage"}).status_code == 400
    r = acct.req("GET", "c", params={"format": "foo"}, headers={"Accept": "application/json"})
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers  # an unknown format is plain


def test_empty_metadata_name_is_400(acct):
    acct.put_object("c", "o", b"x")
    r = acct.req("POST", "c", "o", headers={"X-Object-Meta-": "v"})
    assert r.status_code == 400 and "Metadata name cannot be empty" in r.text, (r.status_code, r.text)


def test_garbage_never_causes_5xx(acct):
    acct.put_object("c", "o", b"0123456789")
    odd = [
        ("GET", ("c", "o"), {"headers": {"Range": "bytes=" + "0-1," * 100}}),
        ("GET", ("c", "o"), {"headers": {"If-Modified-Since": "\x01garbage"}}),
        ("GET", ("c", "o"), {"headers": {"If-Match": '"' * 10}}),
        ("PUT", ("c", "o"), {"data": b"x", "headers": {"Content-Type": "text/plain; swift_bytes=5"}}),
        ("PUT", ("c", "o"), {"data": b"x", "headers": {"X-Copy-From": "%%%"}}),
        ("COPY", ("c", "o"), {"headers": {"Destination": "/"}}),
        ("POST", (), {"params": {"bulk-delete": ""}, "data": b"\xff\xfe/c/o\n",
                      "headers": {"Content-Type": "text/plain"}}),
        # (real Swift 500s on this one: json.loads' RecursionError escapes slo.py)
        ("PUT", ("c", "slo"), {"params": {"multipart-manifest": "put"}, "data": b"[" * 5000}),
        ("GET", ("c",), {"params": {"delimiter": "\x00"}}),
        ("GET", ("c", "o"), {"params": {"multipart-manifest": "get", "format": "raw"}}),
        ("PUT", ("c", "o"), {"data": b"x", "headers": {"X-Object-Manifest": "c/%zz"}}),
        ("PUT", ("c",), {"headers": {"X-Container-Read": ",,,:::"}}),
        ("PUT", ("c", "\u0000nul"), {"data": b"x"}),
        ("GET", ("c", "o"), {"params": {"temp_url_sig": "x", "temp_url_expires": "y"}}),
        ("DELETE", ("c", "o"), {"params": {"multipart-manifest": "delete"}}),
        ("FOO", ("c", "o"), {}),
    ]
    for method, args, kw in odd:
        _no_5xx(acct.req(method, *args, **kw))
    assert acct.req("HEAD", "c").status_code == 204  # still alive


# Exact bodies, as a reference Swift 2.38 returns them: swob's default
# '<html><h1>{title}</h1><p>{explanation}</p></html>' (swift/common/swob.py RESPONSE_REASONS)
# unless the code gives its own short message, which then is the whole body.
HTML = "<html><h1>{}</h1><p>{}</p></html>".format
ERROR_BODIES = {
    "404-object": (404, HTML("Not Found", "The resource could not be found.")),
    "409-container-delete": (409, HTML("Conflict", "There was a conflict when trying to complete your request.")),
    "401-anonymous": (401, HTML("Unauthorized", "This server could not verify that you are authorized "
                                                "to access the document you requested.")),
    "403-other-project": (403, HTML("Forbidden", "Access was denied to this resource.")),
    "416-range": (416, HTML("Requested Range Not Satisfiable", "The Range requested is not available.")),
    "422-etag": (422, HTML("Unprocessable Entity", "Unable to process the contained instructions")),
    "405-method": (405, HTML("Method Not Allowed", "The method is not allowed for this resource.")),
    "400-container-name": (400, "Container name length of 257 longer than 256"),
    "400-delete-at": (400, "Non-integer X-Delete-At"),
    "413-quota": (413, "Upload exceeds quota."),
    "412-copy": (412, "Destination header required"),
}


@pytest.mark.parametrize("case", sorted(ERROR_BODIES))
def test_error_bodies_are_swifts(acct, new_account, case):
    acct.put_object("c", "o", b"12345")
    if case == "404-object":
        r = acct.req("GET", "c", "missing")
    elif case == "409-container-delete":
        r = acct.req("DELETE", "c")
    elif case == "401-anonymous":
        r = acct.req("GET", "c", "o", token=None)
    elif case == "403-other-project":
        r = new_account().on(acct).req("GET", "c", "o")
    elif case == "416-range":
        r = acct.req("GET", "c", "o", headers={"Range": "bytes=10-"})
    elif case == "422-etag":
        r = acct.req("PUT", "c", "x", data=b"1", headers={"ETag": "0" * 32})
    elif case == "405-method":
        r = acct.req("PATCH", "c", "o")  # a method HTTP parsers know, that Swift has no handler for
    elif case == "400-container-name":
        r = acct.req("PUT", "k" * 257)
    elif case == "400-delete-at":
        r = acct.req("PUT", "c", "o", data=b"", headers={"X-Delete-At": "soon"})
    elif case == "413-quota":
        acct.put_container("q", headers={"X-Container-Meta-Quota-Bytes": "1"})
        r = acct.req("PUT", "q", "o", data=b"12")
    else:
        r = acct.req("COPY", "c", "o")
    status, body = ERROR_BODIES[case]
    assert (r.status_code, r.text) == (status, body)
