"""Range requests and conditional requests on objects.

Swift's rules live in swift/common/swob.py: Range.ranges_for_length (which ranges are
satisfiable), Response._response_iter (206 / multipart/byteranges / 416) and
Response._get_conditional_response_status (304 / 412)."""

import email.utils

import pytest

from object_support import md5hex, parse_byteranges

DATA = b"0123456789abcdef"  # 16 bytes


@pytest.fixture
def obj(new_account):
    acct = new_account()
    c = acct.put_container("ranges")
    acct.put_object(c, "o", DATA, headers={"Content-Type": "text/x-digits"})
    return acct, c, "o"


def _get(obj, **headers):
    acct, c, o = obj
    return acct.req("GET", c, o, headers=headers)


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=0-4", 0, 4),
    ("bytes=5-", 5, 15),
    ("bytes=-3", 13, 15),
    ("bytes=10-100", 10, 15),     # end past the object: clamped
    ("bytes=-100", 0, 15),        # suffix longer than the object: all of it, still 206
    ("bytes=15-15", 15, 15),
])
def test_single_range(obj, spec, start, end):
    r = _get(obj, Range=spec)
    assert r.status_code == 206, (spec, r.status_code, r.text)
    assert r.content == DATA[start:end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/16"
    assert r.headers["Content-Length"] == str(end - start + 1)
    assert r.headers["Etag"] == md5hex(DATA)  # the whole object's etag
    assert r.headers["Content-Type"] == "text/x-digits"


def test_multiple_ranges_are_multipart_byteranges(obj):
    r = _get(obj, Range="bytes=0-1,4-5,-2")
    assert r.status_code == 206, (r.status_code, r.text)
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("multipart/byteranges;") and "boundary=" in ctype, ctype
    assert "Content-Range" not in r.headers
    assert r.headers["Content-Length"] == str(len(r.content))
    parts = parse_byteranges(ctype, r.content)
    assert [p[1] for p in parts] == [b"01", b"45", b"ef"]
    assert [p[0]["content-range"] for p in parts] == ["bytes 0-1/16", "bytes 4-5/16", "bytes 14-15/16"]
    assert all(p[0]["content-type"] == "text/x-digits" for p in parts)


def test_multiple_ranges_with_one_satisfiable_is_a_plain_206(obj):
    # unsatisfiable ranges are dropped; one left -> a single-part answer (swob ranges_for_length)
    r = _get(obj, Range="bytes=2-3,100-200")
    assert r.status_code == 206, (r.status_code, r.text)
    assert r.content == b"23" and r.headers["Content-Range"] == "bytes 2-3/16"
    assert not r.headers["Content-Type"].startswith("multipart/")


@pytest.mark.parametrize("spec", ["bytes=16-20", "bytes=100-", "bytes=-0", "bytes=16-,20-30"])
def test_unsatisfiable_range_is_416(obj, spec):
    r = _get(obj, Range=spec)
    assert r.status_code == 416, (spec, r.status_code, r.text)
    assert r.headers["Content-Range"] == "bytes */16"


@pytest.mark.parametrize("spec", ["bytes=5-3", "bytes=abc", "items=0-1", "bytes=-", "bytes=1"])
def test_syntactically_invalid_range_is_ignored(obj, spec):
    # RFC 7233: an invalid Range header is ignored -> the whole object, 200
    r = _get(obj, Range=spec)
    assert r.status_code == 200, (spec, r.status_code)
    assert r.content == DATA and "Content-Range" not in r.headers


def test_ranges_on_an_empty_object(new_account):
    acct = new_account()
    c = acct.put_container("empty")
    acct.put_object(c, "e", b"")
    r = acct.req("GET", c, "e", headers={"Range": "bytes=-5"})
    assert r.status_code == 200 and r.content == b""  # swob: suffix range on 0 bytes -> 200
    r = acct.req("GET", c, "e", headers={"Range": "bytes=0-0"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */0"


def test_if_match(obj):
    etag = md5hex(DATA)
    for value in (etag, f'"{etag}"', "*", f'"nope", "{etag}"'):
        r = _get(obj, **{"If-Match": value})
        assert r.status_code == 200 and r.content == DATA, (value, r.status_code)
    r = _get(obj, **{"If-Match": md5hex(b"other")})
    assert r.status_code == 412, (r.status_code, r.text)
    acct, c, o = obj
    r = acct.req("HEAD", c, o, headers={"If-Match": "nope"})
    assert r.status_code == 412


def test_if_none_match(obj):
    etag = md5hex(DATA)
    for value in (etag, f'"{etag}"', "*"):
        r = _get(obj, **{"If-None-Match": value})
        assert r.status_code == 304, (value, r.status_code)
        assert r.content == b""
    r = _get(obj, **{"If-None-Match": md5hex(b"other")})
    assert r.status_code == 200 and r.content == DATA
    acct, c, o = obj
    assert acct.req("HEAD", c, o, headers={"If-None-Match": etag}).status_code == 304


def test_if_modified_since_and_if_unmodified_since(obj):
    acct, c, o = obj
    last_modified = acct.req("HEAD", c, o).headers["Last-Modified"]
    lm = email.utils.parsedate_to_datetime(last_modified).timestamp()

    def http_date(ts):
        return email.utils.formatdate(ts, usegmt=True)

    # Last-Modified <= If-Modified-Since -> 304
    assert _get(obj, **{"If-Modified-Since": last_modified}).status_code == 304
    assert _get(obj, **{"If-Modified-Since": http_date(lm + 3600)}).status_code == 304
    r = _get(obj, **{"If-Modified-Since": http_date(lm - 3600)})
    assert r.status_code == 200 and r.content == DATA
    # Last-Modified > If-Unmodified-Since -> 412
    assert _get(obj, **{"If-Unmodified-Since": http_date(lm - 3600)}).status_code == 412
    assert _get(obj, **{"If-Unmodified-Since": last_modified}).status_code == 200
    # an unparseable date is ignored
    assert _get(obj, **{"If-Modified-Since": "not a date"}).status_code == 200


def test_conditional_and_range_together(obj):
    etag = md5hex(DATA)
    r = _get(obj, Range="bytes=0-1", **{"If-Match": etag})
    assert r.status_code == 206 and r.content == b"01"
    r = _get(obj, Range="bytes=0-1", **{"If-None-Match": etag})
    assert r.status_code == 304


def test_put_if_none_match_star(new_account):
    acct = new_account()
    c = acct.put_container("cond")
    r = acct.req("PUT", c, "o", data=b"first", headers={"If-None-Match": "*"})
    assert r.status_code == 201, (r.status_code, r.text)
    r = acct.req("PUT", c, "o", data=b"second", headers={"If-None-Match": "*"})
    assert r.status_code == 412, (r.status_code, r.text)
    assert acct.get_body(c, "o") == b"first"
    # only '*' is supported on PUT (swift/proxy/controllers/obj.py PUT)
    r = acct.req("PUT", c, "o", data=b"third", headers={"If-None-Match": md5hex(b"first")})
    assert r.status_code == 400 and "If-None-Match only supports *" in r.text, (r.status_code, r.text)
