"""Adversarial review (second probe) of Object Storage: what the fixes of issues 13/14 left open.

Each test fails on the binary built from main after those fixes and states what Swift does,
with the file it comes from (openstack/swift, master).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import uuid

import pytest
import requests

from adversarial_support import raw_request
from object_support import admin_account, anonymous

KEY = "review-key"
# an object may legitimately carry 90 metadata items: let http.client read such answers
http.client._MAXHEADERS = max(http.client._MAXHEADERS, 1000)


def _temp_url(acct, method: str, container: str, obj: str, key: str = KEY):
    expires = int(time.time() + 300)
    path = f"{acct.path}/{container}/{obj}"
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
    return acct.url_for(container, obj), {"temp_url_sig": sig, "temp_url_expires": str(expires)}


@pytest.fixture
def keyed(new_account):
    """An account with an account-level temp URL key, an upload container and a private
    container holding a secret."""
    acct = new_account()
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": KEY}).status_code == 204
    tag = uuid.uuid4().hex[:6]
    uploads, secret = f"uploads{tag}", f"secret{tag}"
    acct.put_container(uploads)
    acct.put_container(secret)
    acct.put_object(secret, "payroll.csv", b"TOP SECRET")
    return acct, uploads, secret


# ---- temp URLs may not create manifests ------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_temp_url_cannot_set_x_object_manifest(keyed, method):
    """swift/common/middleware/tempurl.py: DISALLOWED_INCOMING_HEADERS = 'x-object-manifest
    x-symlink-target'; `_clean_disallowed_headers` answers 400 ("The header
    'X-Object-Manifest' is not allowed in this tempurl") to any temp URL request other than
    GET/HEAD/OPTIONS that carries one (the fix for CVE-2015-5223).  Otherwise whoever gets a
    PUT temp URL for one object makes it a DLO of any prefix in the account, and a GET temp
    URL of that object signed with the account key (the usual upload-then-download pattern)
    serves every object under that prefix: Nimbus takes the header (201/202) and the GET
    returns the private container's bytes."""
    acct, uploads, secret = keyed
    if method == "POST":
        acct.put_object(uploads, "upload", b"harmless")
    url, params = _temp_url(acct, method, uploads, "upload")
    r = requests.request(method, url, params=params, data=b"" if method == "PUT" else None, timeout=30,
                         headers={"X-Object-Manifest": f"{secret}/pay"}, allow_redirects=False)
    url, params = _temp_url(acct, "GET", uploads, "upload")
    leaked = anonymous("GET", url, params=params)
    assert b"TOP SECRET" not in leaked.content, "a temp URL upload turned into a DLO of a private container"
    assert r.status_code == 400, (r.status_code, r.text[:200])


# ---- server-side copies ---------------------------------------------------------------------

@pytest.mark.parametrize("how", ["COPY", "X-Copy-From"])
def test_copy_cannot_push_object_metadata_past_the_limits(new_account, how):
    """copy.py turns a COPY (or PUT with X-Copy-From) into a PUT whose headers are the
    source's user metadata plus the request's; the proxy's PUT runs check_object_creation ->
    constraints.check_metadata on them, so more than MAX_META_COUNT (90) items, or more than
    MAX_META_OVERALL_SIZE bytes, is a 400 ("Too many metadata items; max 90").  Nimbus
    checks only the request's own headers: a copy of a 90-item object adding 90 more stores
    180 items, and copies of copies grow without bound (answers with more than 100 headers
    break http.client-based clients, which is why the limit exists)."""
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "src", b"x", headers={f"X-Object-Meta-A{i:02d}": "v" for i in range(90)})
    extra = {f"X-Object-Meta-B{i:02d}": "v" for i in range(90)}
    if how == "COPY":
        r = acct.req("COPY", c, "src", headers={"Destination": f"{c}/dst", **extra})
    else:
        r = acct.req("PUT", c, "dst", headers={"X-Copy-From": f"{c}/src", **extra}, data=b"")
    head = acct.req("HEAD", c, "dst")
    stored = sum(1 for k in head.headers if k.lower().startswith("x-object-meta-"))
    assert r.status_code == 400, (r.status_code, f"{stored} metadata items stored")
    assert head.status_code == 404


def test_copy_of_a_large_object_over_max_file_size_is_refused_before_reading_it(object_nimbus):
    """copy.py `_get_source_object`: `if source_resp.content_length > MAX_FILE_SIZE: return
    HTTPRequestEntityTooLarge` -- the SLO/DLO GET answers its total length from the manifest
    (or one listing), so an oversized copy is a 413 before any segment is read.  Nimbus
    compares the *manifest's* size with max_file_size and then copies segment by segment
    until the stream passes the limit: with the default 5 GiB limit one COPY of a (cheaply
    nested) huge SLO reads and writes 5 GiB per replica before its 413.  Here max_file_size is
    1.5 MB and the SLO has 30 segments of 100 kB, so the rate limit after the tenth small
    segment (slo.py rate_limit_after_segment) makes that work visible as seconds."""
    n = object_nimbus(config={"object_storage": {"max_file_size": 1_500_000}})
    acct = admin_account(n)
    c = acct.put_container(f"big{uuid.uuid4().hex[:6]}")
    acct.put_object(c, "seg", b"x" * 100_000)
    acct.put_object(c, "slo", json.dumps([{"path": f"/{c}/seg"}] * 30).encode(),
                    params={"multipart-manifest": "put"})
    for i in range(30):
        acct.put_object(c, f"d/{i:02d}", b"y" * 100_000)
    acct.put_object(c, "dlo", b"", headers={"X-Object-Manifest": f"{c}/d/"})
    for obj in ("slo", "dlo"):
        assert acct.req("HEAD", c, obj).headers.get("Content-Length") == "3000000"
        started = time.monotonic()
        r = acct.req("COPY", c, obj, headers={"Destination": f"{c}/copy-{obj}"}, timeout=60)
        elapsed = time.monotonic() - started
        assert r.status_code == 413, (obj, r.status_code)
        assert elapsed < 1.5, f"COPY of the {obj} read segments for {elapsed:.1f} s before its 413"


# ---- names that do not decode ---------------------------------------------------------------

def test_bulk_delete_line_that_is_not_utf8_deletes_nothing_else(new_account):
    """bulk.py handle_delete_iter: each line is unquoted (wsgi_unquote) and the resulting
    path checked with constraints.check_utf8; `/c/%FF` decodes to a byte that is not UTF-8,
    so that line is reported as "412 Precondition Failed" and nothing is deleted.  Nimbus
    falls back to the undecoded text and deletes the object literally named `%FF` (which the
    client would have spelt `/c/%25FF`)."""
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "%FF", b"keep me")   # quoted by the client: PUT .../%25FF
    r = requests.post(acct.url, params={"bulk-delete": ""}, data=f"/{c}/%FF\n".encode(), timeout=30,
                      headers={"X-Auth-Token": acct.token, "Content-Type": "text/plain",
                               "Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert acct.names(c) == ["%FF"], "the object named '%FF' was deleted by the line /c/%FF"
    report = r.json()
    assert report["Number Deleted"] == 0, report
    assert [e[1] for e in report["Errors"]] == ["412 Precondition Failed"], report


def test_x_copy_from_that_is_not_utf8_copies_nothing(new_account):
    """copy.py check_path_header unquotes X-Copy-From once; the source GET subrequest for a
    path that is not UTF-8 is refused by the proxy (proxy/server.py: "Invalid UTF8 or
    contains NULL", 412), and copy returns that status.  Nimbus copies the object literally
    named `%FF` instead."""
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "%FF", b"other object")
    r = acct.req("PUT", c, "dst", headers={"X-Copy-From": f"{c}/%FF"}, data=b"")
    assert r.status_code == 412, r.status_code
    assert "dst" not in acct.names(c)


# ---- header values that are not UTF-8 ---------------------------------------------------------

def _raw(acct, method: str, path: str, headers: dict, body: bytes = b""):
    return raw_request(acct.cloud.base_url, method, acct.path + path, {"X-Auth-Token": acct.token, **headers}, body)


def test_container_metadata_that_is_not_utf8_is_refused(new_account):
    """constraints.check_metadata: for accounts and containers `bad_value = value and not
    check_utf8(wsgi_to_str(value))` -> 400 "Metadata must be valid UTF-8".  Nimbus answers
    204 and stores U+FFFD in place of each bad byte."""
    acct = new_account()
    c = acct.put_container()
    r = _raw(acct, "POST", f"/{c}", {"X-Container-Meta-Bad": "\xff\xfe"})   # two raw bytes
    head = _raw(acct, "HEAD", f"/{c}", {})
    assert r.status == 400, (r.status, head.headers.get("x-container-meta-bad", "").encode("latin-1"))


def test_object_metadata_that_is_not_utf8_is_refused_not_mangled(new_account):
    """Swift keeps any bytes in object metadata and gives them back.  Nimbus cannot: NIO's
    HTTP/1 parser turns each byte that is not UTF-8 into U+FFFD before Nimbus sees the header,
    so storing the value would answer 201 and give back other bytes.  Nimbus refuses such a
    value with Swift's 400 "Metadata must be valid UTF-8" (a deviation, stated in README)
    and stores nothing; UTF-8 values up to 256 bytes are kept exactly."""
    acct = new_account()
    c = acct.put_container()
    value = "caf\xe9-\xff"                       # Latin-1 bytes, as some clients send them
    r = _raw(acct, "PUT", f"/{c}/o", {"X-Object-Meta-Name": value}, b"x")
    assert r.status == 400, r.status
    assert b"Metadata must be valid UTF-8" in r.body
    assert "o" not in acct.names(c)
    utf8 = "caf\u00e9-\u00ff" * 32                  # 256 bytes of UTF-8
    r = _raw(acct, "PUT", f"/{c}/o2", {"X-Object-Meta-Name": utf8.encode("utf-8").decode("latin-1")}, b"x")
    assert r.status == 201, r.status
    head = _raw(acct, "HEAD", f"/{c}/o2", {})
    assert head.headers.get("x-object-meta-name", "").encode("latin-1") == utf8.encode("utf-8")


# ---- request line length ---------------------------------------------------------------------

def test_request_line_over_8192_bytes_is_414(new_account):
    """swift/common/wsgi.py run_server passes `url_length_limit = constraints.MAX_REQUEST_LINE`
    (8192) to eventlet, which answers 414 (Request-URI Too Long) before any middleware runs.
    Nimbus takes request lines up to ~80 KB and parses the query string again for every
    parameter it looks up: a container listing with 10,000 junk parameters (79 KB) costs
    about 200 ms of server CPU against about 2 ms without them."""
    acct = new_account()
    c = acct.put_container()
    junk = "&".join(f"k{i}=v" for i in range(2000))      # ~16 KB
    started = time.monotonic()
    r = raw_request(acct.cloud.base_url, "GET", f"{acct.path}/{c}?format=json&{junk}", {"X-Auth-Token": acct.token})
    assert r.status == 414, (r.status, f"{time.monotonic() - started:.3f} s")
