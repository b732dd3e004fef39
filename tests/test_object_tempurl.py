"""Temporary URLs (swift/common/middleware/tempurl.py, swift/common/digest.py).

The HMAC covers "<METHOD>\\n<expires>\\n<path>" where <path> is the (unquoted) URL path
the client uses.  Nimbus serves Swift under /object, so that is /object/v1/AUTH_<project>/<c>/<o>
-- exactly what Tempest (test_object_temp_url.py: urlparse(base_url).path + /c/o) and
`swift tempurl <full URL>` sign.  Prefix URLs sign "prefix:<path up to the prefix>"."""

import base64
import hashlib
import hmac
import time

import pytest
import requests

from object_support import anonymous, swift_cli, swift_info

KEY = "temp-url-secret"


def _sign(method, path, key=KEY, digest="sha256", expires=None, prefix=False):
    expires = int(time.time() + 300) if expires is None else expires
    body = f"{method}\n{expires}\n{'prefix:' if prefix else ''}{path}"
    mac = hmac.new(key.encode(), body.encode(), getattr(hashlib, digest))
    if digest == "sha512":  # sha512 must be "sha512:<base64>" (tempurl docs)
        sig = "sha512:" + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    else:
        sig = mac.hexdigest()
    return sig, expires


def _temp_url(acct, container, obj, method="GET", **kw):
    # the signed path is the unquoted one (tempurl.py signs the WSGI PATH_INFO parts)
    sig, expires = _sign(method, f"{acct.path}/{container}/{obj}", **kw)
    return acct.url_for(container, obj), {"temp_url_sig": sig, "temp_url_expires": str(expires)}


@pytest.fixture
def setup(new_account):
    acct = new_account()
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": KEY}).status_code == 204
    c = acct.put_container("tmp")
    acct.put_object(c, "file.txt", b"temp url data", headers={
        "X-Object-Meta-Secret": "hidden", "X-Object-Meta-Public-Note": "shown"})
    return acct, c


@pytest.mark.parametrize("digest", ["sha256", "sha512", "sha1"])
def test_get_with_each_digest(cloud, setup, digest):
    acct, c = setup
    allowed = swift_info(cloud)["tempurl"]["allowed_digests"]
    url, params = _temp_url(acct, c, "file.txt", digest=digest)
    r = anonymous("GET", url, params=params)
    if digest in allowed:  # sha1 is allowed by default but deprecated (digest.py)
        assert r.status_code == 200, (digest, r.status_code, r.text)
        assert r.content == b"temp url data"
    else:
        assert r.status_code == 401, (digest, r.status_code)


def test_get_response_headers(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "file.txt")
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200, (r.status_code, r.text)
    # x-object-meta-* is stripped except x-object-meta-public-* (outgoing_remove_headers)
    assert "X-Object-Meta-Secret" not in r.headers
    assert r.headers["X-Object-Meta-Public-Note"] == "shown"
    # attachment named after the object (tempurl.py disposition_format); Expires from the URL
    assert r.headers["Expires"]
    assert r.headers["Content-Disposition"] == "attachment; filename=\"file.txt\"; filename*=UTF-8''file.txt"
    r = anonymous("GET", url, params={**params, "filename": "other name.txt"})
    assert r.headers["Content-Disposition"].startswith('attachment; filename="other name.txt"')
    assert r.headers["Content-Disposition"] == "attachment; filename=\"other name.txt\"; filename*=UTF-8''other%20name.txt"
    r = anonymous("GET", url, params={**params, "inline": ""})
    assert r.headers["Content-Disposition"] == "inline"
    r = anonymous("GET", url, params={**params, "inline": "", "filename": "x.txt"})
    assert r.headers["Content-Disposition"] == "inline; filename=\"x.txt\"; filename*=UTF-8''x.txt"
    # HEAD gets the same headers
    r = anonymous("HEAD", url, params=params)
    assert r.headers["Expires"] and r.headers["Content-Disposition"].startswith("attachment"), r.headers


def test_head_is_allowed_by_a_get_signature(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "file.txt", method="GET")
    r = anonymous("HEAD", url, params=params)
    assert r.status_code == 200 and r.headers["Content-Length"] == "13"


def test_put_with_a_put_signature(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "uploaded", method="PUT")
    r = anonymous("PUT", url, params=params, data=b"anonymous upload")
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "uploaded") == b"anonymous upload"
    # a GET signature does not allow PUT, nor the other way round
    url, params = _temp_url(acct, c, "uploaded", method="GET")
    assert anonymous("PUT", url, params=params, data=b"x").status_code == 401
    url, params = _temp_url(acct, c, "file.txt", method="PUT")
    assert anonymous("GET", url, params=params).status_code == 401
    assert acct.get_body(c, "uploaded") == b"anonymous upload"


def test_delete_with_a_delete_signature(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "file.txt", method="DELETE")
    assert anonymous("DELETE", url, params=params).status_code == 204
    assert acct.req("HEAD", c, "file.txt").status_code == 404


def test_expired_and_wrong_signatures_are_401(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "file.txt", expires=int(time.time()) - 10)
    expired = anonymous("GET", url, params=params)
    assert expired.status_code == 401, (expired.status_code, expired.text)
    url, params = _temp_url(acct, c, "file.txt", key="not-the-key")
    assert anonymous("GET", url, params=params).status_code == 401
    url, params = _temp_url(acct, c, "file.txt")
    for bad in ({**params, "temp_url_sig": "0" * 64}, {**params, "temp_url_sig": "zz"},
                {"temp_url_sig": params["temp_url_sig"]},
                {**params, "temp_url_expires": str(int(params["temp_url_expires"]) + 1)}):
        assert anonymous("GET", url, params=bad).status_code == 401, bad
    # a signature for one object does not open another
    other = acct.url_for(c, "other")
    assert anonymous("GET", other, params=params).status_code == 401
    assert expired.text == "401 Unauthorized: Temp URL invalid\n"  # tempurl.py _invalid


def test_iso8601_expiry(setup):
    acct, c = setup
    url, params = _temp_url(acct, c, "file.txt")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(params["temp_url_expires"])))
    r = anonymous("GET", url, params={**params, "temp_url_expires": iso})
    assert r.status_code == 200, (r.status_code, r.text)


def test_no_key_no_access(new_account):
    acct = new_account()
    c = acct.put_container("nokey")
    acct.put_object(c, "o", b"x")
    url, params = _temp_url(acct, c, "o")
    assert anonymous("GET", url, params=params).status_code == 401


def test_second_key_and_container_key(setup):
    acct, c = setup
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key-2": "key-two"}).status_code == 204
    url, params = _temp_url(acct, c, "file.txt", key="key-two")
    assert anonymous("GET", url, params=params).status_code == 200
    assert acct.req("POST", c, headers={"X-Container-Meta-Temp-URL-Key": "cont-key"}).status_code == 204
    url, params = _temp_url(acct, c, "file.txt", key="cont-key")
    assert anonymous("GET", url, params=params).status_code == 200
    # a container key only opens its own container
    other = acct.put_container("other")
    acct.put_object(other, "o", b"y")
    url, params = _temp_url(acct, other, "o", key="cont-key")
    assert anonymous("GET", url, params=params).status_code == 401


def test_prefix_based_temp_url(setup):
    acct, c = setup
    for name in ("pre/a", "pre/b/c", "prefixed", "other"):
        acct.put_object(c, name, name.encode())
    sig, expires = _sign("GET", f"{acct.path}/{c}/pre", prefix=True)
    params = {"temp_url_sig": sig, "temp_url_expires": str(expires), "temp_url_prefix": "pre"}
    for name in ("pre/a", "pre/b/c", "prefixed"):
        r = anonymous("GET", acct.url_for(c, name), params=params)
        assert r.status_code == 200 and r.content == name.encode(), (name, r.status_code)
    assert anonymous("GET", acct.url_for(c, "other"), params=params).status_code == 401
    # the prefix is part of what is signed
    assert anonymous("GET", acct.url_for(c, "other"), params={**params, "temp_url_prefix": "oth"}).status_code == 401


def test_temp_url_key_is_only_set_by_the_owner(new_account):
    owner = new_account()
    reader = new_account("reader", project_of=owner)
    assert reader.req("POST", headers={"X-Account-Meta-Temp-URL-Key": "mine"}).status_code == 403


def test_swift_tempurl_cli(cloud, setup):
    acct, c = setup
    url = acct.url_for(c, "file.txt")
    for digest in ("sha256", "sha512"):
        out = swift_cli(cloud, acct.user, "tempurl", "--digest", digest, "GET", "60", url, KEY).stdout.strip()
        assert out.startswith(url + "?temp_url_sig="), out
        r = requests.get(out, timeout=30)
        assert r.status_code == 200 and r.content == b"temp url data", (digest, r.status_code, r.text)
    out = swift_cli(cloud, acct.user, "tempurl", "PUT", "60", acct.url_for(c, "via-cli"), KEY).stdout.strip()
    assert requests.put(out, data=b"cli put", timeout=30).status_code == 201
    assert acct.get_body(c, "via-cli") == b"cli put"
    prefix_url = acct.url_for(c, "pre")
    acct.put_object(c, "pre-x", b"px")
    out = swift_cli(cloud, acct.user, "tempurl", "--prefix-based", "GET", "60", prefix_url, KEY).stdout.strip()
    # swiftclient takes the prefix as everything after /v1/<account>/ ... assuming the path
    # starts with /v1: under /object it reports temp_url_prefix=<container>/pre.  The
    # signature itself ("prefix:/object/v1/AUTH_x/<container>/pre") is right; fix the param.
    query = out.split("?", 1)[1].replace(f"temp_url_prefix={c}/pre", "temp_url_prefix=pre")
    assert query.endswith("temp_url_prefix=pre"), out
    r = requests.get(acct.url_for(c, "pre-x") + "?" + query, timeout=30)
    assert r.status_code == 200 and r.content == b"px", (r.status_code, r.text)


def test_unicode_object_name(setup):
    acct, c = setup
    name = "dir/ünï code.txt"
    acct.put_object(c, name, b"unicode")
    url, params = _temp_url(acct, c, name)  # signs the unquoted UTF-8 path, requests the quoted URL
    assert "%C3%BC" in url
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200 and r.content == b"unicode", (r.status_code, r.text)
