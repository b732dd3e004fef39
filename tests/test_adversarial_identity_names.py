"""Adversarial: names are bytes in Identity (Keystone v3).

Keystone keeps names as the str it decoded from the JSON body and compares them in SQL
(`name` columns with unique constraints per domain, e.g. keystone/resource/backends/
sql_model.py Project `UniqueConstraint('domain_id', 'name')`, keystone/identity/backends/
sql_model.py User/Group, keystone/assignment/role_backends/sql_model.py Role) and in
Python with `==`: two canonically equivalent but byte-different names are two names.
Query strings are parsed by werkzeug (flask `request.args`): '+' is a space, invalid
UTF-8 is replaced (U+FFFD) and so matches nothing.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given

from adversarial_support import PROPERTY, equivalent_names, name_text, raw_request

KINDS = {  # collection, member key, body maker, Keystone's name maxLength
    "project": ("projects", lambda n: {"name": n, "domain_id": "default"}, 64),
    "user": ("users", lambda n: {"name": n, "domain_id": "default"}, 255),
    "group": ("groups", lambda n: {"name": n, "domain_id": "default"}, 255),
    "role": ("roles", lambda n: {"name": n}, 255),
    "domain": ("domains", lambda n: {"name": n}, 64),
}


def _create(cloud, kind: str, name: str):
    coll, body, _ = KINDS[kind]
    return cloud.api("POST", f"/{coll}", json={kind: body(name)})


def _delete(cloud, kind: str, ident: str) -> None:
    coll = KINDS[kind][0]
    if kind in ("domain", "project"):
        cloud.api("PATCH", f"/{coll}/{ident}", json={kind: {"enabled": False}})
    cloud.api("DELETE", f"/{coll}/{ident}")


def _by_name(cloud, kind: str, name: str) -> list[dict]:
    coll = KINDS[kind][0]
    r = cloud.api("GET", f"/{coll}", params={"name": name})
    assert r.status_code == 200, (kind, name, r.status_code, r.text[:300])
    return r.json()[coll]


@pytest.mark.parametrize("kind", list(KINDS))
@PROPERTY(10)
@given(pair=equivalent_names())
def test_equivalent_names_are_two_resources(cloud, kind, pair):
    """`café` and `cafe\\u0301` (and every other canonically equivalent pair) are two
    projects / users / groups / roles / domains: the second create is 201, not 409
    (Keystone's unique constraints compare the stored bytes), `?name=` returns exactly the
    one with those bytes, and each keeps its own name."""
    a, b = pair
    tag = uuid.uuid4().hex[:8]
    na, nb = a + tag, b + tag
    made = []
    try:
        ra = _create(cloud, kind, na)
        assert ra.status_code == 201, (kind, na, ra.status_code, ra.text[:300])
        made.append(ra.json()[kind]["id"])
        rb = _create(cloud, kind, nb)
        assert rb.status_code == 201, f"{kind} {nb!r} after {na!r}: {rb.status_code} {rb.text[:300]}"
        made.append(rb.json()[kind]["id"])
        assert ra.json()[kind]["name"] == na and rb.json()[kind]["name"] == nb
        assert [x["id"] for x in _by_name(cloud, kind, na)] == [made[0]], kind
        assert [x["id"] for x in _by_name(cloud, kind, nb)] == [made[1]], kind
    finally:
        for ident in made:
            _delete(cloud, kind, ident)


@PROPERTY(25)
@given(name=name_text(1, 40).filter(lambda s: s.strip() != ""))
def test_random_project_names_round_trip(cloud, name):
    """Any valid Unicode name (Keystone's schema: a string of 1..64 characters with a
    non-space, keystone/resource/schema.py _name_properties) is stored and returned as
    given: create, show, `?name=` filter, delete."""
    name = name[:55] + uuid.uuid4().hex[:8]
    r = _create(cloud, "project", name)
    assert r.status_code == 201, (name, r.status_code, r.text[:300])
    pid = r.json()["project"]["id"]
    try:
        assert r.json()["project"]["name"] == name
        got = cloud.api("GET", f"/projects/{pid}")
        assert got.status_code == 200 and got.json()["project"]["name"] == name
        assert [p["id"] for p in _by_name(cloud, "project", name)] == [pid], name
    finally:
        _delete(cloud, "project", pid)
    assert cloud.api("GET", f"/projects/{pid}").status_code == 404


BAD = ["%FF", "%ED%A0%80", "a%C3", "%C0%AF", "%F4%90%80%80"]


COLLECTIONS = ["projects", "users", "domains", "roles", "groups", "services", "regions", "credentials"]


@pytest.mark.parametrize("bad", BAD + ["a%00b"])
def test_invalid_utf8_in_path_is_a_4xx(cloud, bad):
    """An id that is not valid UTF-8 (or holds NUL) in the path: werkzeug decodes the path
    with errors="replace", so Keystone looks up an id that does not exist: 404 (a 4xx,
    never a 5xx), for GET, PATCH and DELETE on every collection."""
    h = {"X-Auth-Token": cloud.admin_token(), "Content-Type": "application/json"}
    bad_answers = []
    for coll in COLLECTIONS:
        path = f"/identity/v3/{coll}/{bad}"
        for method, body in (("GET", b""), ("PATCH", b'{"x": {}}'), ("DELETE", b"")):
            r = raw_request(cloud.base_url, method, path, h, body)
            if not 400 <= r.status < 500:
                bad_answers.append(f"{method} {path}: {r.status} {r.text[:100]!r}")
    assert not bad_answers, "\n".join(bad_answers)


@pytest.mark.parametrize("bad", BAD + ["a%00b"])
def test_invalid_utf8_in_query_matches_nothing(cloud, bad):
    """`?name=<invalid UTF-8>`: werkzeug replaces the bad bytes (U+FFFD), so Keystone filters
    on a name no resource has: 200 with an empty list -- or a clean 400; never a 5xx and
    never a resource."""
    h = {"X-Auth-Token": cloud.admin_token()}
    bad_answers = []
    for coll in ("projects", "users", "domains", "roles", "groups"):
        r = raw_request(cloud.base_url, "GET", f"/identity/v3/{coll}?name={bad}", h)
        if r.status == 200 and r.json()[coll] == []:
            continue
        if r.status == 400:
            continue
        bad_answers.append(f"GET /v3/{coll}?name={bad}: {r.status} {r.text[:100]!r}")
    assert not bad_answers, "\n".join(bad_answers)


def test_plus_in_query_is_a_space(cloud):
    """werkzeug's query parsing (flask request.args) reads '+' as a space:
    GET /v3/domains?name=updated+name finds the domain "updated name"; %2B is a '+'."""
    tag = uuid.uuid4().hex[:8]
    spaced, plus = f"updated name {tag}", f"updated+name+{tag}"
    made = []
    try:
        for kind, n in (("domain", spaced), ("domain", plus), ("project", spaced)):
            r = _create(cloud, kind, n)
            assert r.status_code == 201, r.text
            made.append((kind, r.json()[kind]["id"]))
        h = {"X-Auth-Token": cloud.admin_token()}
        r = raw_request(cloud.base_url, "GET", f"/identity/v3/domains?name=updated+name+{tag}", h)
        assert r.status == 200 and [d["name"] for d in r.json()["domains"]] == [spaced], r.text[:500]
        r = raw_request(cloud.base_url, "GET", f"/identity/v3/domains?name=updated%2Bname%2B{tag}", h)
        assert r.status == 200 and [d["name"] for d in r.json()["domains"]] == [plus], r.text[:500]
        r = raw_request(cloud.base_url, "GET", f"/identity/v3/projects?name=updated+name+{tag}", h)
        assert r.status == 200 and [p["name"] for p in r.json()["projects"]] == [spaced], r.text[:500]
    finally:
        for kind, ident in reversed(made):
            _delete(cloud, kind, ident)


def test_double_encoded_id_is_decoded_once(cloud):
    """`%252F` in a Keystone path is the id `%2F` (decoded once), which does not exist: 404,
    and never the collection or another resource."""
    h = {"X-Auth-Token": cloud.admin_token()}
    pid = cloud.create_project()["id"]
    try:
        for path in (f"/identity/v3/projects/{pid}%252F", f"/identity/v3/projects%252F{pid}",
                     f"/identity/v3/projects/%252E%252E/{pid}"):
            r = raw_request(cloud.base_url, "GET", path, h)
            assert r.status == 404, (path, r.status, r.text[:300])
    finally:
        _delete(cloud, "project", pid)
