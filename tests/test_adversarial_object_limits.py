"""Adversarial: form POST paths, amplification (nested SLOs, many ranges), metadata totals,
and temp URLs of large objects (the Swift API).
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
from object_support import anonymous

KEY = "adversarial-key"
# 90 metadata items plus the usual headers pass http.client's default limit of 100 headers
http.client._MAXHEADERS = max(http.client._MAXHEADERS, 1000)


# ---- form POST -----------------------------------------------------------------------------

def _form_body(files, signed_path: str, key: str = KEY, redirect: str = "", max_file_size: int = 1 << 20,
               max_file_count: int = 10, boundary: str = "adv-boundary"):
    expires = int(time.time() + 300)
    message = f"{signed_path}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"
    sig = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    fields = {"redirect": redirect, "max_file_size": str(max_file_size),
              "max_file_count": str(max_file_count), "expires": str(expires), "signature": sig}
    out = b""
    for k, v in fields.items():
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
    for i, (name, data) in enumerate(files):
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file{i}\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def keyed(new_account):
    acct = new_account()
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": KEY}).status_code == 204
    return acct


def test_formpost_filename_with_query_is_a_literal_object_name(keyed):
    """formpost builds the subrequest's PATH_INFO as the (decoded) form path plus the file's
    filename and drops the QUERY_STRING (swift/common/middleware/formpost.py
    _perform_subrequest: `subenv['PATH_INFO'] += str_to_wsgi(attributes['filename'])`,
    `del subenv['QUERY_STRING']`): a filename `inj?multipart-manifest=put` is the literal
    object name; it is never parsed as a query, so the upload is an ordinary object, not an
    SLO manifest PUT."""
    acct = keyed
    c = acct.put_container()
    acct.put_object(c, "seg", b"segment-bytes")
    manifest = json.dumps([{"path": f"/{c}/seg"}]).encode()
    name = "inj?multipart-manifest=put"
    body, headers = _form_body([(name, manifest)], f"{acct.path}/{c}/")
    r = anonymous("POST", acct.cloud.base_url + f"{acct.path}/{c}/", data=body, headers=headers)
    assert r.status_code == 201, (r.status_code, r.text)
    assert sorted(acct.names(c)) == sorted(["seg", name]), acct.names(c)
    got = acct.req("GET", c, name)
    assert got.status_code == 200 and got.content == manifest, (got.status_code, got.content[:200])
    assert "X-Static-Large-Object" not in got.headers, dict(got.headers)
    assert acct.req("GET", c, name, params={"multipart-manifest": "get"}).content == manifest


def test_formpost_signed_for_encoded_slash_container_cannot_write_elsewhere(keyed):
    """formpost signs the *decoded* path (`wsgi_to_str(orig_env['PATH_INFO'])`, formpost.py):
    a form whose signature covers `/…/ck%2Fother` (literally, as a container named `ck%2Fother`)
    does not match a POST to the URL path `/…/ck%2Fother`, which decodes to `/…/ck/other`
    (container `ck`, prefix `other`): 401, and nothing is written into `ck`.  The same
    signature is good for the container `ck%2Fother` itself (URL `/…/ck%252Fother`)."""
    acct = keyed
    tag = uuid.uuid4().hex[:6]
    ck, literal = f"ck{tag}", f"ck{tag}%2Fother"
    acct.put_container(ck)
    r = raw_request(acct.cloud.base_url, "PUT", f"{acct.path}/{ck}%252Fother", {"X-Auth-Token": acct.token})
    assert r.status == 201, (r.status, r.text)
    assert literal in acct.names(), acct.names()
    signed = f"{acct.path}/{literal}"
    body, headers = _form_body([("f.txt", b"form-data")], signed)
    r = raw_request(acct.cloud.base_url, "POST", f"{acct.path}/{ck}%2Fother", headers, body)
    assert r.status == 401, (r.status, r.text[:300])
    assert acct.names(ck) == [], f"form signed for {literal!r} wrote into {ck!r}: {acct.names(ck)}"
    # the form's own container
    body, headers = _form_body([("f.txt", b"form-data")], signed)
    r = raw_request(acct.cloud.base_url, "POST", f"{acct.path}/{ck}%252Fother", headers, body)
    assert r.status == 201, (r.status, r.text[:300])
    assert acct.names(ck) == [], f"form for {literal!r} wrote into {ck!r}: {acct.names(ck)}"
    assert acct.names(literal) == ["f.txt"], acct.names(literal)


# ---- amplification -------------------------------------------------------------------------

SEG = b"0123456789abcdef"


@pytest.fixture
def nested_slo(new_account):
    """One 16-byte segment referenced 1000 times by a sub-manifest, and a top manifest that
    references the sub-manifest 1000 times: 1,000,000 segment reads, 16,000,000 bytes."""
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "seg", SEG)
    acct.put_object(c, "sub", json.dumps([{"path": f"/{c}/seg"}] * 1000).encode(),
                    params={"multipart-manifest": "put"})
    acct.put_object(c, "top", json.dumps([{"path": f"/{c}/sub"}] * 1000).encode(),
                    params={"multipart-manifest": "put"})
    return acct, c


def test_head_of_nested_slo_answers_from_the_manifest(nested_slo):
    """HEAD of an SLO answers from the manifest's own metadata: Content-Length is the total
    the PUT recorded (X-Object-Sysmeta-Slo-Size, swift/common/middleware/slo.py
    handle_slo_get_or_head / _manifest_head_response); no segment, no sub-manifest is read.
    So it is fast whatever the nesting."""
    acct, c = nested_slo
    started = time.monotonic()
    r = acct.req("HEAD", c, "top", timeout=5)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, (r.status_code, elapsed)
    assert r.headers["Content-Length"] == str(1000 * 1000 * len(SEG)), dict(r.headers)
    assert r.headers.get("X-Static-Large-Object") == "True"
    assert elapsed < 2.0, f"HEAD took {elapsed:.1f} s"


def test_get_of_nested_slo_starts_streaming_at_once(nested_slo):
    """GET of an SLO validates the first segment and then streams
    (slo.py: SegmentedIterable.validate_first_segment, then the body as it is read, rate
    limited after rate_limit_after_segment): the status and headers come within a couple of
    seconds with the full Content-Length, however many segments follow."""
    acct, c = nested_slo
    started = time.monotonic()
    try:
        r = acct.req("GET", c, "top", stream=True, timeout=5)
    except requests.exceptions.ReadTimeout:
        pytest.fail("no response headers within 5 s")
    elapsed = time.monotonic() - started
    try:
        assert r.status_code == 200, (r.status_code, elapsed)
        assert r.headers.get("Content-Length") == str(1000 * 1000 * len(SEG)), dict(r.headers)
        assert elapsed < 2.0, f"time to first byte {elapsed:.1f} s"
        # a little of the body only: Swift rate-limits small segments after the tenth
        # (slo.py rate_limit_after_segment = 10, rate_limit_segments_per_sec = 1)
        first = r.raw.read(len(SEG) * 8)
        assert first == SEG * 8
    finally:
        r.close()


@pytest.fixture
def ten_kb(new_account):
    acct = new_account()
    c = acct.put_container()
    data = bytes(range(256)) * 40
    acct.put_object(c, "o", data)
    return acct, c, data


@pytest.mark.parametrize("ranges, status", [
    (",".join(["0-"] * 100), 416),                                        # > MAX_RANGES (50)
    (",".join(f"{i * 100}-{i * 100 + 9}" for i in range(51)), 416),       # 51 ascending: > 50
    ("0-99,50-149,60-199,70-299", 416),                                   # > MAX_RANGE_OVERLAPS (2)
    (",".join(f"{i * 1000}-{i * 1000 + 99}" for i in range(8, 0, -1)), 416),  # 8 non-ascending
    (",".join(f"{i * 1000}-{i * 1000 + 99}" for i in range(7, 0, -1)), 206),  # 7 non-ascending: ok
    ("0-99,50-149", 206),                                                 # one overlap: ok
    (",".join(f"{i * 100}-{i * 100 + 9}" for i in range(50)), 206),       # exactly 50: ok
], ids=["100x0-", "51-ranges", "3-overlaps", "8-descending", "7-descending", "1-overlap", "50-ranges"])
def test_egregious_multi_ranges_are_refused(ten_kb, ranges, status):
    """swob refuses "egregious" range sets with 416 (swift/common/swob.py
    Range.ranges_for_length, RFC 7233 §6.1): more than MAX_RANGES = 50 ranges, more than
    MAX_RANGE_OVERLAPS = 2 overlapping pairs, or MAX_NONASCENDING_RANGES = 8 or more ranges
    out of order.  Below those limits the multipart/byteranges 206 is served."""
    acct, c, data = ten_kb
    r = acct.req("GET", c, "o", headers={"Range": f"bytes={ranges}"})
    assert r.status_code == status, (r.status_code, len(r.content))
    if status == 416:
        assert len(r.content) < 2048, len(r.content)
        assert r.headers.get("Content-Range") == f"bytes */{len(data)}", dict(r.headers)


# ---- metadata totals ----------------------------------------------------------------------

def _meta_headers(prefix: str, start: int, count: int, value: str = "v") -> dict:
    return {f"{prefix}k{start + i:04d}": value for i in range(count)}


def _count(headers, prefix: str) -> int:
    return sum(1 for k in headers if k.lower().startswith(prefix.lower()))


@pytest.mark.parametrize("target", ["account", "container"])
def test_metadata_count_total_is_enforced_across_posts(new_account, target):
    """The account and container servers validate the *merged* metadata on every POST
    (swift/common/db.py DatabaseBroker.validate_metadata via update_metadata(...,
    validate_metadata=True) in swift/account/server.py and swift/container/server.py):
    once the total would pass max_meta_count (90) the POST is a 400 and nothing is added."""
    acct = new_account()
    c = acct.put_container() if target == "container" else None
    prefix = "X-Container-Meta-" if target == "container" else "X-Account-Meta-"
    statuses = []
    for i in range(10):
        r = acct.req("POST", c, headers=_meta_headers(prefix, i * 90, 90))
        statuses.append(r.status_code)
    assert statuses[0] == 204, statuses
    assert statuses[1:] == [400] * 9, statuses
    head = acct.req("HEAD", c)
    assert _count(head.headers, prefix) <= 90, _count(head.headers, prefix)


@pytest.mark.parametrize("target", ["account", "container"])
def test_metadata_size_total_is_enforced_across_posts(new_account, target):
    """Same merge check for max_meta_overall_size (4096 bytes of names + values): two POSTs
    of 30 items of ~110 bytes each cannot both stick."""
    acct = new_account()
    c = acct.put_container() if target == "container" else None
    prefix = "X-Container-Meta-" if target == "container" else "X-Account-Meta-"
    value = "x" * 100
    r1 = acct.req("POST", c, headers=_meta_headers(prefix, 0, 30, value))
    r2 = acct.req("POST", c, headers=_meta_headers(prefix, 30, 30, value))
    assert r1.status_code == 204, r1.text
    assert r2.status_code == 400, r2.status_code
    head = acct.req("HEAD", c)
    total = sum(len(k) - len(prefix) + len(v) for k, v in head.headers.items()
                if k.lower().startswith(prefix.lower()))
    assert total <= 4096, total


def test_object_post_replaces_metadata_so_totals_never_accumulate(new_account):
    """An object POST replaces all user metadata (swift/obj/server.py POST writes a new
    .meta with only the request's X-Object-Meta-*; swift/proxy/controllers/obj.py), and each
    request is checked against max_meta_count (swift/common/constraints.py check_metadata):
    after ten POSTs of 90 items the object has exactly the last 90."""
    acct = new_account()
    c = acct.put_container()
    acct.put_object(c, "o", b"x")
    prefix = "X-Object-Meta-"
    for i in range(10):
        r = acct.req("POST", c, "o", headers=_meta_headers(prefix, i * 90, 90))
        assert r.status_code == 202, (i, r.status_code, r.text[:200])
    head = acct.req("HEAD", c, "o")
    assert _count(head.headers, prefix) == 90, _count(head.headers, prefix)
    assert "X-Object-Meta-K0810" in head.headers or "x-object-meta-k0810" in head.headers
    assert "X-Object-Meta-K0000" not in head.headers
    r = acct.req("POST", c, "o", headers=_meta_headers(prefix, 0, 91))
    assert r.status_code == 400, r.status_code


# ---- temp URLs of large objects --------------------------------------------------------------

def _temp_url(acct, container, obj, key=KEY):
    expires = int(time.time() + 300)
    path = f"{acct.path}/{container}/{obj}"
    sig = hmac.new(key.encode(), f"GET\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
    return acct.url_for(container, obj), {"temp_url_sig": sig, "temp_url_expires": str(expires)}


@pytest.fixture
def large_objects(keyed):
    """An SLO and a DLO in container `big` whose segments are in container `segs`, and an SLO
    and a DLO in `same` whose segments are in `same` itself."""
    acct = keyed
    tag = uuid.uuid4().hex[:6]
    big, segs, same = f"big{tag}", f"segs{tag}", f"same{tag}"
    for c in (big, segs, same):
        acct.put_container(c)
    parts = [b"part-one|", b"part-two|", b"part-three"]
    for i, p in enumerate(parts):
        acct.put_object(segs, f"s/{i}", p)
        acct.put_object(same, f"s/{i}", p)
    for c, sc in ((big, segs), (same, same)):
        acct.put_object(c, "slo", json.dumps([{"path": f"/{sc}/s/{i}"} for i in range(3)]).encode(),
                        params={"multipart-manifest": "put"})
        acct.put_object(c, "dlo", b"", headers={"X-Object-Manifest": f"{sc}/s/"})
    return acct, big, same, b"".join(parts)


@pytest.mark.parametrize("obj", ["slo", "dlo"])
def test_temp_url_with_account_key_serves_large_object(large_objects, obj):
    """A temp URL signed with the account key authorizes every subrequest in the same
    account (swift/common/middleware/tempurl.py: `env['swift.authorize'] =
    authorize_same_account(account)`, inherited by the SLO/DLO segment subrequests through
    make_env), so GET serves the whole large object: 200 and the concatenated bytes."""
    acct, big, _, whole = large_objects
    url, params = _temp_url(acct, big, obj)
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.content == whole
    r = anonymous("HEAD", url, params=params)
    assert r.status_code == 200 and r.headers.get("Content-Length") == str(len(whole)), r.status_code


@pytest.mark.parametrize("obj", ["slo", "dlo"])
def test_temp_url_with_container_key_serves_large_object_in_that_container(large_objects, obj):
    """With a container key the subrequests are authorized for the same container
    (tempurl.py authorize_same_container): segments in that container are served."""
    acct, _, same, whole = large_objects
    assert acct.req("POST", same, headers={"X-Container-Meta-Temp-URL-Key": "ckey"}).status_code == 204
    url, params = _temp_url(acct, same, obj, key="ckey")
    r = anonymous("GET", url, params=params)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.content == whole
