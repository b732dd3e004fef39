"""Adversarial: names are bytes in object storage (the Swift API).

Swift keeps account, container and object names as the UTF-8 bytes of the decoded
path: the proxy unquotes PATH_INFO once (swift/common/swob.py Request.path_info,
swift/common/utils split_path), checks it is valid UTF-8 without NUL
(swift/common/constraints.py check_utf8; the proxy answers 412 "Invalid UTF8 or
contains NULL", swift/proxy/server.py), and every comparison after that -- ACLs in
swift/common/middleware/keystoneauth.py, tempurl's same-container check, the
container DB's `name` column (SQLite BINARY collation) -- is a plain str / byte
comparison.  Swift's String compares by canonical equivalence and iterates by grapheme
cluster, so Nimbus must not use String equality, hashing or Character iteration on names.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from urllib.parse import quote, urlparse

import pytest
import requests
from hypothesis import given

from adversarial_support import (PROPERTY, equivalent_names, name_text, raw_request, utf8_len)

SECRET = b"TOP-SECRET-BYTES-" * 4


def _q(name: str) -> str:
    return quote(name, safe="")


def _read_streamed(resp: requests.Response) -> bytes:
    """Everything the server sent before it finished or dropped the connection."""
    data = b""
    try:
        for chunk in resp.iter_content(65536):
            data += chunk
    except Exception:  # a large object response cut short by a failing segment
        pass
    return data


def _reader_acl(reader) -> str:
    return f"{reader.user.project_id}:{reader.user.id}"


@pytest.fixture
def equivalent_containers(new_account):
    """An owner with `café` (precomposed, readable by `reader` through X-Container-Read)
    and `cafe\\u0301` (decomposed, private, holding a secret) in one account."""
    owner, reader = new_account(), new_account()
    public, private = "caf\u00e9" + uuid.uuid4().hex[:6], None
    private = unicodedata.normalize("NFD", public)
    assert private != public
    owner.put_container(public, headers={"X-Container-Read": _reader_acl(reader)})
    owner.put_container(private)
    owner.put_object(private, "secret", SECRET)
    owner.put_object(public, "seg", b"public-segment")
    names = owner.names()
    assert public in names and private in names, names
    return owner, reader, public, private


def test_private_container_equivalent_to_readable_one_stays_private(equivalent_containers):
    """keystoneauth (swift/common/middleware/keystoneauth.py authorize) reads the ACL of the
    container named by the request's bytes; `cafe\\u0301` has none, so another user is
    refused (403; 401 anonymously) -- the readable `café` next to it changes nothing."""
    owner, reader, public, private = equivalent_containers
    r = reader.on(owner).req("GET", private, "secret")
    assert r.status_code in (401, 403), (r.status_code, r.content[:200])
    assert SECRET not in r.content
    r = reader.on(owner).req("GET", private)
    assert r.status_code in (401, 403), (r.status_code, r.content[:200])
    # and the readable container does not hold the private object
    assert reader.on(owner).req("GET", public, "secret").status_code == 404
    assert reader.on(owner).req("GET", public, "seg").content == b"public-segment"


@pytest.mark.parametrize("segments", ["private-only", "public-then-private"])
def test_slo_in_readable_container_does_not_serve_segment_of_equivalent_private_container(
        equivalent_containers, segments):
    """SLO fetches every segment with a subrequest that goes through the same authorization
    as the client's own request (swift/common/middleware/slo.py SegmentedIterable with
    make_subrequest, which copies `swift.authorize`; swift/common/wsgi.py make_env).  A
    segment in a container the reader may not read is refused: the GET is a 409 when it is
    the first segment (slo.py: validate_first_segment -> HTTPConflict), otherwise the body
    stops before that segment's bytes.  Either way the private bytes never reach the reader."""
    owner, reader, public, private = equivalent_containers
    manifest = [{"path": f"/{private}/secret"}]
    if segments == "public-then-private":
        manifest = [{"path": f"/{public}/seg"}] + manifest
    owner.put_object(public, "manifest", json.dumps(manifest).encode(),
                     params={"multipart-manifest": "put"})
    # the owner reads it whole
    assert owner.get_body(public, "manifest").endswith(SECRET)
    r = reader.on(owner).req("GET", public, "manifest", stream=True)
    got = _read_streamed(r)
    r.close()
    assert SECRET not in got, (r.status_code, got[:200])
    if segments == "private-only":
        assert r.status_code in (401, 403, 409), r.status_code


def test_dlo_in_readable_container_does_not_serve_segments_of_equivalent_private_container(
        equivalent_containers):
    """DLO (swift/common/middleware/dlo.py get_or_head_response) lists the segment container
    with the client's authorization and returns that listing's error: 403 for a user (401
    anonymous), never the segments of a container the reader cannot read.  The
    X-Object-Manifest value is unquoted by dlo.py, so it is sent percent-encoded."""
    owner, reader, public, private = equivalent_containers
    r = owner.req("PUT", public, "dlo", data=b"",
                  headers={"X-Object-Manifest": f"{_q(private)}/sec"})
    assert r.status_code == 201, (r.status_code, r.text)
    assert owner.get_body(public, "dlo") == SECRET
    r = reader.on(owner).req("GET", public, "dlo", stream=True)
    got = _read_streamed(r)
    assert SECRET not in got, (r.status_code, got[:200])
    assert r.status_code in (401, 403), r.status_code


def test_anonymous_referrer_acl_on_equivalent_container_does_not_open_the_private_one(new_account):
    """`.r:*` on `café` (keystoneauth's referrer ACL) opens that container only; an SLO in it
    pointing into `cafe\\u0301` gets 401 for the private segment (tempurl-free anonymous
    access, swift/common/middleware/keystoneauth.py _authorize_unconfirmed_identity)."""
    owner = new_account()
    public = "caf\u00e9" + uuid.uuid4().hex[:6]
    private = unicodedata.normalize("NFD", public)
    owner.put_container(public, headers={"X-Container-Read": ".r:*"})
    owner.put_container(private)
    owner.put_object(private, "secret", SECRET)
    owner.put_object(public, "seg", b"public-segment")
    owner.put_object(public, "m", json.dumps([{"path": f"/{public}/seg"}, {"path": f"/{private}/secret"}]).encode(),
                     params={"multipart-manifest": "put"})
    r = requests.get(owner.url_for(private, "secret"), timeout=30)
    assert r.status_code == 401 and SECRET not in r.content, r.status_code
    r = requests.get(owner.url_for(public, "m"), timeout=30, stream=True)
    got = _read_streamed(r)
    assert SECRET not in got, (r.status_code, got[:200])


def test_object_name_starting_with_combining_mark(new_account):
    """PUT /v1/AUTH_p/c/%CC%81data.bin: Swift splits the decoded path on '/' (split_path in
    swift/common/utils), so the container is `c` and the object `\\u0301data.bin`; a
    combining mark at the start of a segment does not join the '/' before it."""
    acct = new_account()
    c = acct.put_container()
    path = urlparse(acct.url).path + f"/{c}/%CC%81data.bin"
    r = raw_request(acct.cloud.base_url, "PUT", path, {"X-Auth-Token": acct.token}, b"combining body")
    assert r.status == 201, (r.status, r.text)
    assert acct.names(c) == ["\u0301data.bin"], acct.names(c)
    assert acct.get_body(c, "\u0301data.bin") == b"combining body"
    assert [n for n in acct.names() if n.startswith(c)] == [c], acct.names()
    # a name whose first segment starts with a mark, with more segments after it
    acct.put_object(c, "\u0301/\u0308x/\u0301", b"deep")
    assert acct.get_body(c, "\u0301/\u0308x/\u0301") == b"deep"
    assert sorted(acct.names(c)) == sorted(["\u0301data.bin", "\u0301/\u0308x/\u0301"])


def test_container_name_starting_with_u0901(new_account):
    """A container whose name starts with U+0901 (DEVANAGARI SIGN CANDRABINDU, a combining
    mark) is a valid UTF-8 name of 3+ bytes: created (201), listed, read (204), deleted (204)
    like any other (swift/proxy/controllers/container.py, constraints.check_utf8)."""
    acct = new_account()
    name = "\u0901" + uuid.uuid4().hex[:8]
    r = acct.req("PUT", name)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    assert name in acct.names(), acct.names()
    assert acct.req("HEAD", name).status_code == 204
    acct.put_object(name, "o", b"x")
    assert acct.names(name) == ["o"]
    assert acct.req("DELETE", name, "o").status_code == 204
    assert acct.req("DELETE", name).status_code == 204
    assert name not in acct.names()
    assert acct.req("HEAD", name).status_code == 404


# ---- property: equivalent names are different resources --------------------------------

@PROPERTY(20)
@given(pair=equivalent_names())
def test_equivalent_container_and_object_names_are_separate(new_account, pair):
    """Two canonically equivalent, byte-different names are two containers (the second PUT is
    201, not 202) and, inside one container, two objects: separate contents, both listed,
    deleting one keeps the other (Swift stores and compares the names as bytes:
    swift/container/backend.py, swift/account/backend.py)."""
    acct = _account(new_account)
    a, b = pair
    tag = "-" + uuid.uuid4().hex[:8]
    ca, cb = a + tag, b + tag
    assert acct.req("PUT", ca).status_code == 201
    r = acct.req("PUT", cb)
    assert r.status_code == 201, f"second container {cb!r} after {ca!r}: {r.status_code}"
    acct.put_object(ca, a, b"in-a/a")
    acct.put_object(ca, b, b"in-a/b")
    acct.put_object(cb, a, b"in-b/a")
    assert acct.get_body(ca, a) == b"in-a/a"
    assert acct.get_body(ca, b) == b"in-a/b"
    assert acct.get_body(cb, a) == b"in-b/a"
    assert acct.req("GET", cb, b).status_code == 404
    assert sorted(acct.names(ca)) == sorted([a, b])
    listed = acct.names()
    assert ca in listed and cb in listed, listed
    # delete one of each: the equivalent one stays
    assert acct.req("DELETE", ca, a).status_code == 204
    assert acct.get_body(ca, b) == b"in-a/b"
    assert acct.names(ca) == [b]
    assert acct.req("DELETE", ca, b).status_code == 204
    assert acct.req("DELETE", ca).status_code == 204
    assert acct.req("HEAD", cb).status_code == 204
    assert acct.get_body(cb, a) == b"in-b/a"
    assert acct.req("DELETE", cb, a).status_code == 204
    assert acct.req("DELETE", cb).status_code == 204


@PROPERTY(20)
@given(pair=equivalent_names(prefix_required=True))
def test_listing_prefix_marker_delimiter_compare_bytes(new_account, pair):
    """Container listings filter and order by the bytes of the names
    (swift/container/backend.py list_objects_iter: `name >= ?`, `name > ?`, `LIKE`-free
    prefix ranges over the BINARY-collated column).  With objects `a` and `b` equivalent but
    byte-different: prefix=a lists a (and not b unless b starts with a's bytes), marker=a
    lists what sorts after a's bytes, delimiter groups by the bytes before it."""
    acct = _account(new_account)
    a, b = pair
    c = acct.put_container()
    names = [a, b, a + "/x", b + "/y"]
    for n in names:
        acct.put_object(c, n, n.encode())
    everything = acct.names(c)
    assert everything == sorted(names, key=lambda s: s.encode()), everything
    for p in (a, b):
        assert acct.names(c, prefix=p) == sorted([n for n in names if n.startswith(p)],
                                                 key=lambda s: s.encode()), p
        assert acct.names(c, marker=p) == [n for n in sorted(names, key=lambda s: s.encode())
                                           if n.encode() > p.encode()], p
        assert acct.names(c, end_marker=p) == [n for n in sorted(names, key=lambda s: s.encode())
                                               if n.encode() < p.encode()], p
    grouped = acct.names(c, delimiter="/")
    assert grouped == sorted({a, b, a + "/", b + "/"}, key=lambda s: s.encode()), grouped
    for n in names:
        assert acct.req("DELETE", c, n).status_code == 204


@PROPERTY(8)
@given(pair=equivalent_names())
def test_acl_user_name_equivalent_to_granted_one_is_refused(cloud, new_account, pair):
    """X-Container-Read `<project name>:<user name>` (keystoneauth `_authorize_cross_tenant`,
    swift/common/middleware/keystoneauth.py) matches the token's names with `==` on str: a
    user whose name is canonically equivalent but byte-different is a different user and gets
    403; the granted one reads."""
    owner = _account(new_account)
    a, b = pair
    tag = uuid.uuid4().hex[:8]
    home = new_account()          # a fresh project the two readers are members of
    made = []
    try:
        granted = _named_member(cloud, home, a + tag, made)
        other = _named_member(cloud, home, b + tag, made)
        # header values are UTF-8 bytes on the wire (Swift reads them as WSGI strings)
        acl = f"{home.user.project}:{a + tag}".encode("utf-8")
        c = owner.put_container(headers={"X-Container-Read": acl})
        owner.put_object(c, "o", SECRET)
        r = granted.on(owner).req("GET", c, "o")
        assert r.status_code == 200 and r.content == SECRET, (a + tag, r.status_code)
        r = other.on(owner).req("GET", c, "o")
        assert r.status_code == 403, f"user {b + tag!r} read a container granted to {a + tag!r}: {r.status_code}"
        assert SECRET not in r.content
    finally:
        for ident in made:
            cloud.api("DELETE", f"/users/{ident}")


def _named_member(cloud, home, name: str, made: list):
    """A user called exactly `name`, member of `home`'s project, logged in."""
    from conftest import TestUser
    from nimbus_launcher import random_password
    from object_support import Account
    password = random_password()
    user = cloud.create_user(name=name, password=password, project_id=home.user.project_id)
    made.append(user["id"])
    assert user["name"] == name, (user["name"], name)
    cloud.grant("member", user["id"], home.user.project_id)
    return Account.login(cloud, TestUser(name, password, user["id"], home.user.project,
                                         home.user.project_id, "member"))


# ---- property: any valid name round-trips -----------------------------------------------

@PROPERTY(25)
@given(container=name_text(1, 24, exclude="/").filter(lambda s: s not in (".", "..") and utf8_len(s) <= 200),
       obj=name_text(1, 24).filter(lambda s: s not in (".", "..") and utf8_len(s) <= 900))
def test_random_valid_names_round_trip(new_account, container, obj):
    """Any valid UTF-8 container name without '/' and any valid object name can be created,
    listed, read and deleted, byte for byte (swift/common/constraints.py: names must be valid
    UTF-8 without NUL, containers at most 256 bytes, objects at most 1024)."""
    acct = _account(new_account)
    c = container + "-" + uuid.uuid4().hex[:6]
    r = acct.req("PUT", c)
    assert r.status_code == 201, (c, r.status_code, r.text[:200])
    assert c in acct.names(prefix=c), (c, acct.names(prefix=c))
    r = acct.req("PUT", c, obj, data=b"payload")
    assert r.status_code == 201, (obj, r.status_code, r.text[:200])
    assert acct.names(c) == [obj], (obj, acct.names(c))
    assert acct.get_body(c, obj) == b"payload"
    assert acct.req("HEAD", c, obj).status_code == 200
    assert acct.req("DELETE", c, obj).status_code == 204
    assert acct.names(c) == []
    assert acct.req("DELETE", c).status_code == 204
    assert c not in acct.names(prefix=c)


_ACCOUNT: dict = {}


def _account(new_account):
    """One account per test function, shared by its hypothesis examples (keyed on that
    test's new_account factory, which is kept referenced so its id cannot be reused)."""
    if _ACCOUNT.get("factory") is not new_account:
        _ACCOUNT.update(factory=new_account, account=new_account())
    return _ACCOUNT["account"]


# ---- bad bytes in paths and queries --------------------------------------------------------

BAD_SEGMENTS = ["%FF", "%ED%A0%80", "a%C3", "%C0%AF", "%F4%90%80%80", "a%00b"]


@pytest.mark.parametrize("bad", BAD_SEGMENTS)
def test_invalid_utf8_surrogates_and_nul_in_paths_are_refused_with_4xx(new_account, bad):
    """Invalid UTF-8 (a lone 0xFF, an encoded surrogate U+D800, a truncated sequence, an
    overlong '/', a code point past U+10FFFF) or NUL in a container or object name: Swift's
    proxy answers 412 (check_utf8, swift/proxy/server.py).  Never a 5xx, never a resource."""
    acct = _account(new_account)
    c = acct.put_container()
    base = urlparse(acct.url).path
    h = {"X-Auth-Token": acct.token}
    answers = []
    for method in ("PUT", "GET", "HEAD", "POST", "DELETE"):
        for path in (f"{base}/{bad}", f"{base}/{c}/{bad}", f"{base}/{c}/x/{bad}"):
            r = raw_request(acct.cloud.base_url, method, path, h, b"x" if method == "PUT" else b"")
            if not 400 <= r.status < 500:
                answers.append(f"{method} {path}: {r.status}")
    assert not answers, "\n".join(answers)
    assert acct.names(c) == []


@pytest.mark.parametrize("bad", [b for b in BAD_SEGMENTS if "%00" not in b])
def test_invalid_utf8_and_surrogates_in_listing_queries_are_refused_with_4xx(new_account, bad):
    """The same bytes in a listing's prefix / marker / end_marker / delimiter: the container
    and account servers decode each parameter as strict UTF-8 and answer 400 (get_param /
    validate_container_params, swift/common/request_helpers.py; Python's UTF-8 codec refuses
    surrogates and overlong forms).  Never a 5xx.  (A NUL there is valid UTF-8: Swift lists
    nothing for it.)"""
    acct = _account(new_account)
    c = acct.put_container()
    acct.put_object(c, "o", b"x")
    base = urlparse(acct.url).path
    h = {"X-Auth-Token": acct.token}
    answers = []
    for target in (f"{base}/{c}", base):
        for param in ("prefix", "marker", "end_marker", "delimiter"):
            r = raw_request(acct.cloud.base_url, "GET", f"{target}?format=json&{param}={bad}", h)
            if not 400 <= r.status < 500:
                answers.append(f"GET {target}?{param}={bad}: {r.status} {r.text[:80]!r}")
    assert not answers, "\n".join(answers)


def test_plus_in_listing_query_is_a_space(new_account):
    """Swift parses the query string with urllib's parse_qsl (swob.Request.params), where '+'
    is a space: ?prefix=a+b lists `a b...`, ?marker=a+b starts after `a b`."""
    acct = new_account()
    c = acct.put_container()
    for n in ("a b1", "a b2", "a+b3", "ab"):
        acct.put_object(c, n, b"x")
    h = {"X-Auth-Token": acct.token}
    base = urlparse(acct.url).path
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}?format=json&prefix=a+b", h)
    assert r.status == 200 and [o["name"] for o in r.json()] == ["a b1", "a b2"], r.text
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}?format=json&marker=a+b1", h)
    assert r.status == 200 and [o["name"] for o in r.json()] == ["a b2", "a+b3", "ab"], r.text
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}?format=json&prefix=a%2Bb", h)
    assert r.status == 200 and [o["name"] for o in r.json()] == ["a+b3"], r.text
    # the account listing too
    space = "sp ace-" + uuid.uuid4().hex[:6]
    acct.put_container(space)
    r = raw_request(acct.cloud.base_url, "GET", f"{base}?format=json&prefix={space.replace(' ', '+')}", h)
    assert r.status == 200 and [x["name"] for x in r.json()] == [space], r.text


def test_double_encoded_path_is_decoded_once(new_account):
    """Swift unquotes the path once: `%252F` is the three characters `%2F` in the name, not a
    '/' (swob.Request.path_info = unquote(raw path) once).  So PUT c/a%252Fb makes the object
    `a%2Fb`, which GET c/a%252Fb reads and GET c/a%2Fb (object `a/b`) does not; a container
    `x%252Fy` is the container `x%2Fy`."""
    acct = new_account()
    c = acct.put_container()
    base = urlparse(acct.url).path
    h = {"X-Auth-Token": acct.token}
    r = raw_request(acct.cloud.base_url, "PUT", f"{base}/{c}/a%252Fb", h, b"double")
    assert r.status == 201, (r.status, r.text)
    assert acct.names(c) == ["a%2Fb"], acct.names(c)
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}/a%252Fb", h)
    assert r.status == 200 and r.body == b"double", (r.status, r.body[:100])
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}/a%2Fb", h)
    assert r.status == 404, (r.status, r.body[:100])
    r = raw_request(acct.cloud.base_url, "GET", f"{base}/{c}/a%25252Fb", h)
    assert r.status == 404, (r.status, r.body[:100])
    cname = "x%2Fy" + uuid.uuid4().hex[:6]
    r = raw_request(acct.cloud.base_url, "PUT", f"{base}/{cname.replace('%', '%25')}", h)
    assert r.status == 201, (r.status, r.text)
    assert cname in acct.names(), acct.names()
    assert acct.req("HEAD", cname).status_code == 204
