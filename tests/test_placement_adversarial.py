"""Placement against careless clients and attackers: oversized and malformed bodies, huge
numbers, thousands of groups, traits and aggregates in one query, names that differ only by
Unicode normalisation, concurrent claims, other projects' consumers. Every answer is a 4xx in
Placement's format (never a 500) and the work any request causes is bounded."""

import concurrent.futures
import time
import urllib.parse

import pytest
import requests

from placement_support import PlacementClient, assert_error, new_uuid


@pytest.fixture(scope="module")
def admin(cloud):
    return PlacementClient.login(cloud, "admin", cloud.admin_password, "admin")


@pytest.fixture
def made(admin):
    providers = []
    yield providers
    admin.cleanup(providers)


def test_oversized_and_malformed_bodies(admin, made):
    big = b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    r = admin.req("POST", "/resource_providers", data=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413)
    deep = b"[" * 200 + b"]" * 200
    assert_error(admin.req("POST", "/resource_providers", data=deep, headers={"Content-Type": "application/json"}), 400, "Malformed JSON")
    assert_error(admin.req("POST", "/resource_providers", data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400)
    assert_error(admin.req("POST", "/resource_providers", json=["name"]), 400, "is not of type 'object'")
    assert_error(admin.req("POST", "/resource_providers", json={"name": "a\u0000b"}), 400, "contains a NUL character")
    rp = admin.provider()
    made.append(rp)
    for total in (2 ** 31, 2 ** 63, 2 ** 70, -1, 1.5, "8", None):
        r = admin.req("PUT", f"/resource_providers/{rp}/inventories",
                      json={"resource_provider_generation": 0, "inventories": {"VCPU": {"total": total}}})
        assert_error(r, 400, "JSON does not validate")
    for generation in (-1, 2 ** 62, 10 ** 30):
        r = admin.req("PUT", f"/resource_providers/{rp}/inventories",
                      json={"resource_provider_generation": generation, "inventories": {}})
        assert r.status_code in (400, 409), r.text
    admin.ok("PUT", f"/resource_providers/{rp}/inventories", json={"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4}}})
    for amount in (2 ** 40, 10 ** 30):
        r = admin.claim(new_uuid(), {rp: {"VCPU": amount}})
        assert r.status_code in (400, 409), r.text
    assert_error(admin.claim("not-a-uuid", {rp: {"VCPU": 1}}), 400, "Malformed consumer_uuid: not-a-uuid")


def test_query_bounds(admin, made):
    rp = admin.provider(inventory={"VCPU": {"total": 8}})
    made.append(rp)
    r = admin.req("GET", "/allocation_candidates?resources=VCPU:1&limit=" + "9" * 40)
    assert r.status_code == 200 and len(r.json()["allocation_requests"]) >= 1
    # A request line over 8 KiB: 414 in Placement's format before any parsing (as Apache or
    # uwsgi in front of real Placement answer).
    many = "&".join(f"resources{i}=VCPU:1" for i in range(1, 2001))
    t0 = time.monotonic()
    assert_error(admin.req("GET", f"/allocation_candidates?{many}&group_policy=none"), 414, "Request-URI Too Long")
    # Over 1,000 parameters within 8 KiB: refused at once.
    tiny = "&".join(["x="] * 1500)
    assert_error(admin.req("GET", f"/allocation_candidates?resources=VCPU:1&{tiny}"), 400, "too many parameters")
    assert time.monotonic() - t0 < 5
    # Hundreds of granular groups: answered within the work bound.
    groups = "&".join(f"resources{i}=VCPU:1" for i in range(1, 301))
    t0 = time.monotonic()
    r = admin.req("GET", f"/allocation_candidates?{groups}&group_policy=none")
    assert r.status_code == 200 and time.monotonic() - t0 < 10
    # Thousands of traits and aggregates in one value.
    traits = ",".join(f"CUSTOM_T{i}" for i in range(500))
    assert_error(admin.req("GET", f"/allocation_candidates?resources=VCPU:1&required={traits}"), 400, "No such trait(s)")
    aggs = ",".join(new_uuid() for _ in range(200))
    r = admin.req("GET", f"/allocation_candidates?resources=VCPU:1&member_of=in:{aggs}")
    assert r.status_code == 200 and r.json()["allocation_requests"] == []
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:1&in_tree=life-is-beautiful"), 400,
                 "Expected 'in_tree' parameter to be a format of uuid")
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:1,VCPU"), 400, "Badly formed resources parameter")
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:-1"), 400, "requires amount >= 1")
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:99999999999999999999999"), 400, "expected positive integer")


def test_names_are_bytes(admin, made):
    composed, decomposed = "caf\u00e9-" + new_uuid()[:8], None
    decomposed = composed.replace("\u00e9", "e\u0301")
    a = admin.ok("POST", "/resource_providers", json={"name": composed})
    made.append(a["uuid"])
    # Canonically equivalent, different bytes: another name, as in Placement (and MySQL's utf8mb4_bin).
    b = admin.ok("POST", "/resource_providers", json={"name": decomposed})
    made.append(b["uuid"])
    assert a["uuid"] != b["uuid"]
    assert_error(admin.req("POST", "/resource_providers", json={"name": composed}), 409, code="placement.duplicate_name")
    found = admin.ok("GET", "/resource_providers?name=" + urllib.parse.quote(composed))["resource_providers"]
    assert [p["uuid"] for p in found] == [a["uuid"]]
    found = admin.ok("GET", "/resource_providers?name=" + urllib.parse.quote(decomposed))["resource_providers"]
    assert [p["uuid"] for p in found] == [b["uuid"]]
    # Traits and classes are ASCII only; look-alikes (Kelvin sign, combining marks) are refused.
    for bad in ("CUSTOM_\u212a", "CUSTOM_E\u0301", "CUSTOM_é"):
        assert_error(admin.req("PUT", "/traits/" + urllib.parse.quote(bad)), 400, "The trait is invalid")
        assert_error(admin.req("PUT", "/resource_classes/" + urllib.parse.quote(bad)), 400, "does not match")
    assert_error(admin.req("GET", "/resource_providers/%ff"), 400)


def test_concurrent_claims_never_overcommit(admin, made):
    rp = admin.provider(inventory={"VCPU": {"total": 10}})
    made.append(rp)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: admin.claim(new_uuid(), {rp: {"VCPU": 1}}).status_code, range(30)))
    assert codes.count(204) == 10 and set(codes) == {204, 409}, codes
    assert admin.ok("GET", f"/resource_providers/{rp}/usages")["usages"] == {"VCPU": 10}


def test_other_projects_see_nothing(cloud, admin, made, new_user):
    cn = admin.provider(inventory={"VCPU": {"total": 4}})
    made.append(cn)
    consumer = new_uuid()
    victim = new_uuid()
    assert admin.claim(consumer, {cn: {"VCPU": 1}}, project=victim).status_code == 204
    for role in ("member", "reader"):
        u = new_user(role)
        c = PlacementClient.login(cloud, u.name, u.password, u.project)
        assert_error(c.req("GET", f"/allocations/{consumer}"), 403)
        assert_error(c.req("DELETE", f"/allocations/{consumer}"), 403)
        assert_error(c.claim(consumer, {cn: {"VCPU": 2}}, generation=1), 403)
        assert_error(c.req("GET", f"/usages?project_id={victim}"), 403)
        assert_error(c.req("GET", f"/resource_providers/{cn}/allocations"), 403)
    assert admin.ok("GET", f"/allocations/{consumer}")["allocations"][cn]["resources"] == {"VCPU": 1}
