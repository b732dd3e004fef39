"""Adversarial review of subnet pools and address scopes (commit 3a77b81) on the real binary:
another project's pools and scopes, the reader role, races (two defaults, concurrent
allocations from one pool, default_quota under concurrency, If-Match), oversized and odd input,
list queries on the new collections, and the pool/scope/RBAC dependencies.

Expected behaviour is real Neutron's (neutron/db/db_base_plugin_v2.py, neutron/ipam/
subnet_alloc.py, neutron/db/address_scope_db.py, neutron/objects/subnetpool.py and rbac_db.py,
neutron-lib's api/definitions and validators), except where the module docstring of
tests/test_network_subnetpools.py names a deliberate difference.
"""

import ipaddress
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TestUser, random_password
from network_support import (  # noqa: F401  (fixtures are used by name)
    block4,
    block6,
    Net,
    admin_net,
    assert_error,
    net_user,
    unique,
)


# ---- helpers ----------------------------------------------------------------------------------

def new_pool(me, prefixes, **kw) -> dict:
    r = me.req("POST", "/subnetpools", json={"subnetpool": {"name": unique("pool"), "prefixes": prefixes, **kw}})
    assert r.status_code == 201, r.text
    return r.json()["subnetpool"]


def new_scope(me, ip_version=4, **kw) -> dict:
    return me.ok("POST", "/address-scopes", status=201,
                 json={"address_scope": {"name": unique("scope"), "ip_version": ip_version, **kw}})["address_scope"]


def from_pool(me, network_id, pool_id, ip_version=4, **kw):
    return me.req("POST", "/subnets", json={"subnet": {"network_id": network_id, "subnetpool_id": pool_id,
                                                       "ip_version": ip_version, **kw}})


def pool_of(admin, pool_id) -> dict:
    return admin.ok("GET", f"/subnetpools/{pool_id}")["subnetpool"]


def user_in(cloud, project_id: str, role: str) -> Net:
    """A second user with `role` in an existing project."""
    password = random_password()
    u = cloud.create_user(password=password, project_id=project_id)
    cloud.grant(role, u["id"], project_id)
    project = cloud.api("GET", f"/projects/{project_id}").json()["project"]
    return Net.login(cloud, TestUser(u["name"], password, u["id"], project["name"], project_id, role))


def parallel(n, fn):
    with ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(fn, range(n)))


# ---- isolation --------------------------------------------------------------------------------

def test_other_projects_private_pool_and_scope_are_invisible_to_every_verb(admin_net, net_user):
    """Bob against alice's private pool and scope: show, update, delete, add/remove_prefixes,
    tags, allocation, RBAC, list filters and markers, and naming the scope in his own pool.
    Neutron: the object is not found for him (model_query scopes it to the owner;
    SubnetPoolNotFound / AddressScopeNotFound are 404), and nothing of alice's changes."""
    alice, bob = net_user(), net_user()
    sc = new_scope(alice)
    prefix = block4(16)
    sp = new_pool(alice, [str(prefix)], address_scope_id=sc["id"])
    p, s = f"/subnetpools/{sp['id']}", f"/address-scopes/{sc['id']}"
    assert_error(bob.req("GET", p), 404, "SubnetPoolNotFound")
    assert_error(bob.req("PUT", p, json={"subnetpool": {"name": "stolen"}}), 404, "SubnetPoolNotFound")
    assert_error(bob.req("PUT", p, json={"subnetpool": {"prefixes": [str(prefix), str(block4(16))]}}), 404)
    assert_error(bob.req("DELETE", p), 404, "SubnetPoolNotFound")
    assert_error(bob.req("PUT", p + "/add_prefixes", json={"prefixes": [str(block4(24))]}), 404)
    assert_error(bob.req("PUT", p + "/remove_prefixes", json={"prefixes": [str(prefix)]}), 404)
    assert_error(bob.req("PUT", p + "/tags", json={"tags": ["x"]}), 404)
    assert_error(bob.req("PUT", p + "/tags/x"), 404)
    assert_error(bob.req("GET", s), 404, "AddressScopeNotFound")
    assert_error(bob.req("PUT", s, json={"address_scope": {"name": "stolen"}}), 404, "AddressScopeNotFound")
    assert_error(bob.req("DELETE", s), 404, "AddressScopeNotFound")
    net = bob.network()
    assert_error(from_pool(bob, net["id"], sp["id"], prefixlen=24), 404, "SubnetPoolNotFound")
    assert_error(from_pool(bob, net["id"], sp["id"], cidr=str(next(prefix.subnets(new_prefix=24)))), 404)
    for otype, oid in (("subnetpool", sp["id"]), ("address_scope", sc["id"])):
        r = bob.req("POST", "/rbac-policies", json={"rbac_policy": {"object_type": otype, "object_id": oid,
                                                                      "action": "access_as_shared", "target_tenant": bob.project_id}})
        assert_error(r, (400, 403, 404))
    assert bob.ok("GET", "/subnetpools", params={"id": sp["id"]})["subnetpools"] == []
    assert bob.ok("GET", "/subnetpools", params={"address_scope_id": sc["id"]})["subnetpools"] == []
    assert bob.ok("GET", "/address-scopes", params={"id": sc["id"]})["address_scopes"] == []
    assert_error(bob.req("GET", "/subnetpools", params={"marker": sp["id"], "limit": 1}), 404)
    mine = new_pool(bob, [str(block4(16))])
    assert_error(bob.req("POST", "/subnetpools", json={"subnetpool": {"name": "x", "prefixes": [str(block4(16))],
                                                                      "address_scope_id": sc["id"]}}), 404, "AddressScopeNotFound")
    assert_error(bob.req("PUT", f"/subnetpools/{mine['id']}", json={"subnetpool": {"address_scope_id": sc["id"]}}),
                 404, "AddressScopeNotFound")
    after = pool_of(admin_net, sp["id"])
    assert after["name"] == sp["name"] and after["prefixes"] == [str(prefix)] and after["revision_number"] == 1
    assert after["tags"] == [] and after["address_scope_id"] == sc["id"]
    assert admin_net.ok("GET", "/rbac-policies", params={"object_id": sp["id"]})["rbac_policies"] == []
    assert admin_net.ok("GET", s)["address_scope"]["name"] == sc["name"]


def test_shared_pool_is_read_and_allocate_only_for_others(admin_net, net_user):
    """A pool shared with everyone (admin's `shared: true`): another project sees it and takes
    subnets from it, but update, delete, add/remove_prefixes, tags and RBAC on it are refused
    (policy update_subnetpool, delete_subnetpool, add_prefixes, remove_prefixes: admin or owner
    -> 403 for a visible object; rbac_db validate_rbac_policy_change: only the owner shares)."""
    bob = net_user()
    prefix = block4(20)
    sp = new_pool(admin_net, [str(prefix)], shared=True, default_prefixlen=26)
    p = f"/subnetpools/{sp['id']}"
    try:
        seen = bob.ok("GET", p)["subnetpool"]
        assert seen["shared"] is True
        assert_error(bob.req("PUT", p, json={"subnetpool": {"name": "mine"}}), 403, "PolicyNotAuthorized")
        assert_error(bob.req("PUT", p, json={"subnetpool": {"default_quota": 1}}), 403)
        assert_error(bob.req("DELETE", p), 403, "PolicyNotAuthorized")
        assert_error(bob.req("PUT", p + "/add_prefixes", json={"prefixes": [str(block4(24))]}), 403)
        assert_error(bob.req("PUT", p + "/remove_prefixes", json={"prefixes": [str(prefix)]}), 403)
        assert_error(bob.req("PUT", p + "/tags", json={"tags": ["x"]}), 403)
        r = bob.req("POST", "/rbac-policies", json={"rbac_policy": {"object_type": "subnetpool", "object_id": sp["id"],
                                                                      "action": "access_as_shared", "target_tenant": bob.project_id}})
        assert_error(r, (400, 403, 404))
        sub = from_pool(bob, bob.network()["id"], sp["id"])
        assert sub.status_code == 201, sub.text
        assert ipaddress.ip_network(sub.json()["subnet"]["cidr"]).subnet_of(prefix)
        after = pool_of(admin_net, sp["id"])
        assert after["name"] == sp["name"] and after["prefixes"] == [str(prefix)] and after["default_quota"] is None
        assert after["revision_number"] == sp["revision_number"] and after["tags"] == []
        # The owner may not pull a prefix out from under bob's subnet either.
        assert_error(admin_net.req("PUT", p + "/remove_prefixes", json={"prefixes": [sub.json()["subnet"]["cidr"]]}),
                     400, "IllegalSubnetPoolPrefixUpdate")
        bob.delete("subnet", sub.json()["subnet"]["id"])
    finally:
        admin_net.ok("DELETE", p, status=204)


def test_reader_in_the_owning_project_cannot_write(cloud, admin_net, net_user):
    """A reader of the pool's own project reads the pool and scope but every write is a 403
    (neutron/conf/policies/subnetpool.py and address_scope.py: member for writes), and the pool
    keeps its revision."""
    alice = net_user()
    reader = user_in(cloud, alice.project_id, "reader")
    sc = new_scope(alice)
    sp = new_pool(alice, [str(block4(16))], address_scope_id=sc["id"])
    p, s = f"/subnetpools/{sp['id']}", f"/address-scopes/{sc['id']}"
    assert reader.ok("GET", p)["subnetpool"]["id"] == sp["id"]
    assert reader.ok("GET", s)["address_scope"]["id"] == sc["id"]
    assert_error(reader.req("PUT", p, json={"subnetpool": {"name": "r"}}), 403, "PolicyNotAuthorized")
    assert_error(reader.req("DELETE", p), 403, "PolicyNotAuthorized")
    assert_error(reader.req("PUT", p + "/add_prefixes", json={"prefixes": [str(block4(24))]}), 403)
    assert_error(reader.req("PUT", p + "/remove_prefixes", json={"prefixes": sp["prefixes"]}), 403)
    assert_error(reader.req("PUT", s, json={"address_scope": {"name": "r"}}), 403, "PolicyNotAuthorized")
    assert_error(reader.req("DELETE", s), 403, "PolicyNotAuthorized")
    assert_error(reader.req("POST", "/subnetpools", json={"subnetpool": {"name": "r", "prefixes": [str(block4(16))]}}), 403)
    assert_error(reader.req("POST", "/address-scopes", json={"address_scope": {"name": "r", "ip_version": 4}}), 403)
    net = alice.network()
    assert_error(from_pool(reader, net["id"], sp["id"], prefixlen=24), 403)
    r = reader.req("POST", "/rbac-policies", json={"rbac_policy": {"object_type": "subnetpool", "object_id": sp["id"],
                                                                     "action": "access_as_shared", "target_tenant": str(uuid.uuid4().hex)}})
    assert_error(r, 403)
    after = pool_of(admin_net, sp["id"])
    assert after["revision_number"] == 1 and after["prefixes"] == sp["prefixes"] and after["name"] == sp["name"]
    assert alice.ok("GET", "/subnets", params={"subnetpool_id": sp["id"]})["subnets"] == []


def test_scope_shared_by_rbac_cannot_be_deleted_or_unshared_under_a_pool(net_user):
    """Alice shares her scope with bob by RBAC and bob puts his pool in it (Neutron's
    `_validate_address_scope_id`: an accessible scope). While that pool is there, alice's
    delete of the scope is AddressScopeInUse (409) and removing the RBAC entry is
    RbacPolicyInUse (409); after bob's pool is gone both succeed."""
    alice, bob = net_user(), net_user()
    sc = new_scope(alice)
    policy = alice.create("rbac_policy", object_type="address_scope", object_id=sc["id"],
                          action="access_as_shared", target_tenant=bob.project_id)
    bp = new_pool(bob, [str(block4(16))], address_scope_id=sc["id"])
    assert_error(alice.req("DELETE", f"/address-scopes/{sc['id']}"), 409, "AddressScopeInUse")
    assert_error(alice.req("DELETE", f"/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    assert_error(alice.req("PUT", f"/rbac-policies/{policy['id']}", json={"rbac_policy": {"target_tenant": alice.project_id}}),
                 409, "RbacPolicyInUse")
    # Bob may not rename the scope he only uses.
    assert_error(bob.req("PUT", f"/address-scopes/{sc['id']}", json={"address_scope": {"name": "b"}}), 403)
    bob.ok("DELETE", f"/subnetpools/{bp['id']}", status=204)
    alice.delete("rbac_policy", policy["id"])
    assert_error(bob.req("GET", f"/address-scopes/{sc['id']}"), 404)
    alice.ok("DELETE", f"/address-scopes/{sc['id']}", status=204)


# ---- races ------------------------------------------------------------------------------------

def test_concurrent_default_pools_leave_one_default(admin_net):
    """Eight admins create an IPv4 default pool at once: exactly one wins, the others get
    InvalidInput (Neutron `_check_default_subnetpool_exists`: one default per IP family)."""
    def make(i):
        return admin_net.req("POST", "/subnetpools", json={"subnetpool": {
            "name": unique("dflt"), "prefixes": [str(block4(16))], "is_default": True}})
    results = parallel(8, make)
    made = [r.json()["subnetpool"]["id"] for r in results if r.status_code == 201]
    try:
        assert len(made) == 1, [(r.status_code, r.text[:200]) for r in results]
        for r in results:
            if r.status_code != 201:
                assert_error(r, 400, "InvalidInput")
        defaults = admin_net.ok("GET", "/subnetpools", params={"is_default": "true", "ip_version": 4})["subnetpools"]
        assert [p["id"] for p in defaults] == made
    finally:
        for pid in made:
            admin_net.ok("DELETE", f"/subnetpools/{pid}", status=204)


def test_concurrent_allocations_never_overlap(net_user):
    """Twenty concurrent subnet requests for a /28 from one /24 pool on twenty networks: sixteen
    disjoint /28s that tile the pool, four SubnetAllocationError (the allocator runs under the
    pool's lock in Neutron: subnet_alloc.py `_lock_subnetpool`)."""
    me = net_user()
    prefix = block4(24)
    sp = new_pool(me, [str(prefix)], min_prefixlen=28, max_prefixlen=28, default_prefixlen=28)
    nets = [me.network()["id"] for _ in range(20)]
    results = parallel(20, lambda i: from_pool(me, nets[i], sp["id"]))
    ok = [ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in results if r.status_code == 201]
    assert len(ok) == 16, [(r.status_code, r.text[:200]) for r in results]
    assert sorted(ok) == list(prefix.subnets(new_prefix=28))
    for r in results:
        if r.status_code != 201:
            assert_error(r, 409, "SubnetAllocationError")


def test_default_quota_holds_under_concurrency_and_across_networks(net_user):
    """default_quota=64 (/32 units): concurrent /28 requests (16 units each) on separate
    networks give exactly four subnets; a specific CIDR or another network does not get round
    it (subnet_alloc.py `_check_subnetpool_project_quota`, SubnetPoolQuotaExceeded)."""
    me = net_user()
    prefix = block4(22)
    sp = new_pool(me, [str(prefix)], default_quota=64, default_prefixlen=28)
    nets = [me.network()["id"] for _ in range(10)]
    results = parallel(10, lambda i: from_pool(me, nets[i], sp["id"]))
    assert sum(r.status_code == 201 for r in results) == 4, [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code != 201:
            assert_error(r, 409, "SubnetPoolQuotaExceeded")
    last = ipaddress.IPv4Network((int(prefix.broadcast_address) - 7, 29))
    assert_error(from_pool(me, me.network()["id"], sp["id"], cidr=str(last)), 409, "SubnetPoolQuotaExceeded")
    assert_error(from_pool(me, me.network()["id"], sp["id"], prefixlen=32), 409, "SubnetPoolQuotaExceeded")


def test_default_quota_counts_tiny_ipv6_subnets(net_user):
    """An IPv6 pool with default_quota=1 (one /64): after a /64, a /128 is over the quota.
    Neutron sums float units (math.pow), where 1.0 + 2**-64 == 1.0, so there /128s past a full
    quota are never refused; here the count is exact (a deliberate difference)."""
    me = net_user()
    sp = new_pool(me, [str(block6(48))], min_prefixlen=48, default_quota=1)
    assert from_pool(me, me.network()["id"], sp["id"], 6, prefixlen=64).status_code == 201
    for length in (128, 127, 65):
        assert_error(from_pool(me, me.network()["id"], sp["id"], 6, prefixlen=length, enable_dhcp=False),
                     409, "SubnetPoolQuotaExceeded")


def test_if_match_on_pools_is_atomic(net_user):
    """Rounds of sixteen concurrent PUTs on one pool, each with If-Match naming the current
    revision: exactly one applies per round, the rest are 412 RevisionNumberConstraintFailed
    (neutron/services/revisions/revision_plugin.py checks the revision inside the update's
    transaction, so two writers can never both pass it); a stale If-Match on DELETE is a 412."""
    me = net_user()
    sp = new_pool(me, [str(block4(16))])
    rev = sp["revision_number"]
    assert rev == 1
    for rnd in range(5):
        def put(i):
            return me.req("PUT", f"/subnetpools/{sp['id']}", headers={"If-Match": f"revision_number={rev}"},
                          json={"subnetpool": {"name": f"writer-{rnd}-{i}"}})
        results = parallel(16, put)
        won = [r for r in results if r.status_code == 200]
        assert len(won) == 1, (rnd, [(r.status_code, r.text[:120]) for r in results])
        for r in results:
            if r.status_code != 200:
                assert_error(r, 412, "RevisionNumberConstraintFailed")
        now = me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]
        assert now["revision_number"] == rev + 1 and now["name"] == won[0].json()["subnetpool"]["name"]
        rev += 1
    assert_error(me.req("DELETE", f"/subnetpools/{sp['id']}", headers={"If-Match": f"revision_number={rev - 1}"}), 412)
    me.ok("DELETE", f"/subnetpools/{sp['id']}", headers={"If-Match": f"revision_number={rev}"}, status=204)


def test_concurrent_prefix_claims_in_one_scope(net_user):
    """Two pools of one address scope both add the same prefix at once: at most one succeeds
    (AddressScopePrefixConflict for the other), so the scope never holds a prefix twice."""
    me = net_user()
    sc = new_scope(me)
    a = new_pool(me, [str(block4(16))], address_scope_id=sc["id"])
    b = new_pool(me, [str(block4(16))], address_scope_id=sc["id"])
    contested = str(block4(20))
    if ipaddress.ip_network(contested).overlaps(ipaddress.ip_network(a["prefixes"][0])) or \
            ipaddress.ip_network(contested).overlaps(ipaddress.ip_network(b["prefixes"][0])):
        pytest.skip("random blocks met")
    results = parallel(2, lambda i: me.req("PUT", f"/subnetpools/{(a, b)[i]['id']}/add_prefixes", json={"prefixes": [contested]}))
    assert sorted(r.status_code for r in results) == [200, 409], [(r.status_code, r.text[:200]) for r in results]
    holders = [p for p in me.ok("GET", "/subnetpools", params={"address_scope_id": sc["id"]})["subnetpools"]
               if any(ipaddress.ip_network(x).overlaps(ipaddress.ip_network(contested)) for x in p["prefixes"])]
    assert len(holders) == 1


# ---- sizes and costs --------------------------------------------------------------------------

def test_prefix_list_size_is_bounded_and_cheap(net_user):
    """A request may name at most 1000 prefixes (the commit's bound; Neutron has none): 1000
    scattered /32s make a pool at once, 1001 are a 400, and the same on add_prefixes. Growing a
    pool by add_prefixes to thousands of ranges keeps each allocation and removal fast: work is
    linear in ranges, not quadratic. A multi-megabyte body is refused without a 5xx."""
    me = net_user()
    base = block4(12)
    scattered = [str(ipaddress.IPv4Address(int(base.network_address) + 4 * i)) + "/32" for i in range(1000)]
    t0 = time.monotonic()
    sp = new_pool(me, scattered, min_prefixlen=28, max_prefixlen=32, default_prefixlen=32)
    assert len(sp["prefixes"]) == 1000 and time.monotonic() - t0 < 5
    too_many = scattered + [str(ipaddress.IPv4Address(int(base.network_address) + 4 * 1000)) + "/32"]
    assert_error(me.req("POST", "/subnetpools", json={"subnetpool": {"name": "x", "prefixes": too_many}}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": too_many}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {"prefixes": too_many}}), 400)
    for k in range(1, 4):
        more = [str(ipaddress.IPv4Address(int(base.network_address) + 4 * (1000 * k + i))) + "/32" for i in range(1000)]
        t0 = time.monotonic()
        out = me.ok("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": more})
        assert len(out["prefixes"]) == 1000 * (k + 1) and time.monotonic() - t0 < 5
    t0 = time.monotonic()
    r = from_pool(me, me.network()["id"], sp["id"], enable_dhcp=False)
    assert r.status_code == 201, r.text
    assert r.json()["subnet"]["cidr"] == scattered[0]
    out = me.ok("PUT", f"/subnetpools/{sp['id']}/remove_prefixes", json={"prefixes": scattered[1:]})
    assert len(out["prefixes"]) == 3001 and time.monotonic() - t0 < 10
    huge = {"subnetpool": {"name": "x", "prefixes": [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32" for i in range(300_000)]}}
    r = me.req("POST", "/subnetpools", json=huge, timeout=60)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["id"] == sp["id"]


# ---- odd input --------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, expect", [
    ("100.64.1.7/16", "100.64.0.0/16"),        # host bits: netaddr keeps, IPSet drops them
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("::/0", "::/0"),
    ("::ffff:100.64.0.0/104", "::ffff:100.0.0.0/104"),   # IPv4-mapped IPv6 is IPv6 (netaddr prints it dotted)
    ("FD00:ABCD::/32", "fd00:abcd::/32"),
])
def test_prefix_forms_accepted(admin_net, prefix, expect):
    """Prefixes neutron-lib's validate_subnet accepts, stored compacted as netaddr's IPSet
    prints them. Made by the admin so /0 pools never meet another test's pools."""
    sp = new_pool(admin_net, [prefix], min_prefixlen=0 if prefix.endswith("/0") else 8)
    try:
        assert sp["prefixes"] == [expect]
        assert sp["ip_version"] == ipaddress.ip_network(expect).version
    finally:
        admin_net.ok("DELETE", f"/subnetpools/{sp['id']}", status=204)


@pytest.mark.parametrize("prefix", [
    "10.1/16", "010.0.0.0/8", "10.0.0.0/08", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/33", "10.0.0.0/-1",
    "10.0.0.0/", "/8", "10.0.0.0", "2001:db8::/129", "10.0.0.0/8/8", "10.0.0.0/0x8", "１０.0.0.0/8",
    "10.0.0.0/８", "10.0.0.0\x00/8", "fe80::1%eth0/64", "", "*", "10.0.0.0/+8",
])
def test_prefix_forms_refused(net_user, prefix):
    """What neutron-lib's validate_subnet refuses (no whitespace, a '/', IPv4 in netaddr's own
    spelling, lengths in range): a 400 NeutronError for create, PUT, add_ and remove_prefixes."""
    me = net_user()
    body = {"subnetpool": {"name": "x", "prefixes": [prefix]}}
    assert_error(me.req("POST", "/subnetpools", json=body), 400)
    sp = new_pool(me, [str(block4(16))])
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {"prefixes": sp["prefixes"] + [prefix]}}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": [prefix]}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/remove_prefixes", json={"prefixes": [prefix]}), 400)
    assert me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["revision_number"] == 1


@pytest.mark.parametrize("field", ["min_prefixlen", "max_prefixlen", "default_prefixlen", "default_quota"])
@pytest.mark.parametrize("value", [True, False, None, "", "x", "24.0", 24.5, [24], {"a": 1}, -1, 2 ** 63, 2 ** 64, -(2 ** 63), "1e3", " "])
def test_pool_integer_fields_take_no_junk(net_user, field, value):
    """Integer pool attributes (neutron-lib: type:non_negative with convert_to_int): booleans,
    null, fractions, lists, objects, negatives and numbers past 64 bits are 400s on create and
    on update, never a 5xx; the pool is unchanged."""
    me = net_user()
    body = {"subnetpool": {"name": "x", "prefixes": [str(block4(16))], field: value}}
    r = me.req("POST", "/subnetpools", json=body)
    if r.status_code == 201:
        # Only huge numbers that still fail the bounds check may pass validation... they may not.
        pytest.fail(f"accepted {field}={value!r}: {r.text[:300]}")
    assert_error(r, 400)
    sp = new_pool(me, [str(block4(16))])
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {field: value}}), 400)
    assert me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["revision_number"] == 1


def test_pool_bool_and_id_fields_and_unknown_attributes(admin_net, net_user):
    """is_default/shared take neutron-lib's convert_to_boolean forms only; address_scope_id is a
    UUID or null; unknown attributes, a null or non-object body, and `ip_version` / `id` /
    `tenant_id` on update are 400s (api/v2/base.py `_verify_attributes`, allow_put)."""
    me = net_user()
    pfx = [str(block4(16))]
    for k, v in (("is_default", "maybe"), ("is_default", 2), ("is_default", None), ("shared", "yes"), ("shared", [True]),
                 ("address_scope_id", 5), ("address_scope_id", "x" * 40), ("address_scope_id", [str(uuid.uuid4())]),
                 ("bogus", 1), ("ip_version", 4), ("prefixes", None), ("prefixes", {"a": "10.0.0.0/8"}), ("name", None),
                 ("name", 5), ("name", "x" * 256), ("description", "x" * 256)):
        assert_error(admin_net.req("POST", "/subnetpools", json={"subnetpool": {"name": "x", "prefixes": pfx, k: v}}), 400)
    for body in (None, [], "x", {"subnetpool": None}, {"subnetpool": []}, {"subnetpools": {}}):
        r = me.req("POST", "/subnetpools", json=body)
        assert_error(r, 400)
    sp = new_pool(me, pfx)
    for k, v in (("ip_version", 6), ("id", str(uuid.uuid4())), ("tenant_id", "x"), ("project_id", me.project_id),
                 ("bogus", 1), ("prefixes", None), ("prefixes", []), ("address_scope_id", "nope"), ("created_at", "x")):
        assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {k: v}}), 400)
    for body in ({}, {"prefixes": None}, {"prefixes": "10.0.0.0/8"}, {"prefixes": [None]}, {"prefixes": [["10.0.0.0/8"]]}):
        assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json=body), 400)
        assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/remove_prefixes", json=body), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", data=b"{not json", headers={"Content-Type": "application/json"}), 400)
    assert me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["revision_number"] == 1
    sc = new_scope(me)
    for k, v in (("ip_version", "4x"), ("ip_version", True), ("ip_version", None), ("shared", "maybe"), ("bogus", 1)):
        assert_error(me.req("POST", "/address-scopes", json={"address_scope": {"name": "s", "ip_version": 4, k: v}}), 400)
    for k, v in (("ip_version", 6), ("id", str(uuid.uuid4())), ("project_id", me.project_id), ("name", None), ("bogus", 1), ("name", "x" * 256)):
        assert_error(me.req("PUT", f"/address-scopes/{sc['id']}", json={"address_scope": {k: v}}), 400)
    assert me.ok("GET", f"/address-scopes/{sc['id']}")["address_scope"]["name"] == sc["name"]


def test_names_are_bytes(net_user):
    """Names up to 255 characters (multi-byte ones too), 256 refused; a name is matched byte
    for byte in filters: NFC "café" and NFD "café" are two names (Neutron compares in SQL)."""
    me = net_user()
    nfc, nfd = "caf\u00e9-" + uuid.uuid4().hex[:6], None
    nfd = nfc.replace("\u00e9", "e\u0301")
    a = new_pool(me, [str(block4(16))], name=nfc)
    b = new_pool(me, [str(block4(16))], name=nfd)
    assert [p["id"] for p in me.ok("GET", "/subnetpools", params={"name": nfc})["subnetpools"]] == [a["id"]]
    assert [p["id"] for p in me.ok("GET", "/subnetpools", params={"name": nfd})["subnetpools"]] == [b["id"]]
    assert me.ok("GET", f"/subnetpools/{b['id']}")["subnetpool"]["name"] == nfd
    long = new_pool(me, [str(block4(16))], name="\u00e9" * 255)
    assert long["name"] == "\u00e9" * 255
    assert_error(me.req("POST", "/subnetpools", json={"subnetpool": {"name": "\u00e9" * 256, "prefixes": [str(block4(16))]}}), 400)
    s1 = new_scope(me, name=nfc)
    s2 = new_scope(me, name=nfd)
    assert [s["id"] for s in me.ok("GET", "/address-scopes", params={"name": nfd})["address_scopes"]] == [s2["id"]]
    assert s1["id"] != s2["id"]


# ---- list queries -----------------------------------------------------------------------------

def test_list_queries_on_pools_and_scopes(net_user):
    """fields=, filters, sort and pagination on /subnetpools and /address-scopes: the caller's
    own objects only, in order, pages linked by marker; bad sort keys or directions are 400s."""
    me, other = net_user(), net_user()
    new_pool(other, [str(block4(16))], default_quota=5)
    pools = [new_pool(me, [str(block4(16))], **({} if q is None else {"default_quota": q})) for q in (None, 3, 1, None, 2)]
    listed = me.ok("GET", "/subnetpools", params={"fields": ["id", "default_quota"]})["subnetpools"]
    assert all(set(p) == {"id", "default_quota"} for p in listed), listed
    assert {p["id"] for p in listed} == {p["id"] for p in pools}
    by_quota = me.ok("GET", "/subnetpools", params={"sort_key": "default_quota", "sort_dir": "desc"})["subnetpools"]
    assert [p["default_quota"] for p in by_quota][:3] == [3, 2, 1]
    assert [p["default_quota"] for p in by_quota][3:] == [None, None]
    assert [p["id"] for p in me.ok("GET", "/subnetpools", params={"default_quota": 3})["subnetpools"]] == [pools[1]["id"]]
    seen, marker = [], None
    for _ in range(6):
        params = {"limit": 2, "sort_key": "name", "sort_dir": "asc"}
        if marker:
            params["marker"] = marker
        page = me.ok("GET", "/subnetpools", params=params)["subnetpools"]
        if not page:
            break
        seen += [p["id"] for p in page]
        marker = page[-1]["id"]
    assert sorted(seen) == sorted(p["id"] for p in pools) and len(seen) == 5
    assert seen == [p["id"] for p in sorted(pools, key=lambda p: p["name"].encode())]
    for params in ({"sort_key": "prefixes", "sort_dir": "asc"}, {"sort_key": "name", "sort_dir": "up"},
                   {"sort_key": "bogus", "sort_dir": "asc"}, {"prefixes": "10.0.0.0/8"}, {"bogus": "1"},
                   {"limit": "-1"}, {"limit": "x"}, {"min_prefixlen": "x"}):
        assert_error(me.req("GET", "/subnetpools", params=params), 400)
    scopes = [new_scope(me, 6 if i % 2 else 4) for i in range(3)]
    got = me.ok("GET", "/address-scopes", params={"ip_version": 6, "fields": "name"})["address_scopes"]
    assert got == [{"name": scopes[1]["name"]}]
    got = me.ok("GET", "/address-scopes", params={"sort_key": "name", "sort_dir": "desc", "limit": 10})["address_scopes"]
    assert [s["id"] for s in got] == [s["id"] for s in sorted(scopes, key=lambda s: s["name"].encode(), reverse=True)]
    assert_error(me.req("GET", "/address-scopes", params={"sort_key": "bogus", "sort_dir": "asc"}), 400)


# ---- subnets from pools -----------------------------------------------------------------------

def test_subnet_requests_against_a_pool(admin_net, net_user):
    """A CIDR outside the pool, straddling its edge, of the other IP version or IPv4-mapped; a
    gateway outside it; `use_default_subnetpool` with no default the caller can see (Neutron:
    'No default subnetpool found'); subnetpool_id may not be changed on a subnet (allow_put
    False); an IPv6 SLAAC subnet from a pool must be a /64. All 4xx, nothing allocated."""
    me = net_user()
    prefix = block4(24)
    sp = new_pool(me, [str(prefix)], min_prefixlen=24, max_prefixlen=30)
    net = me.network()["id"]
    outside = ipaddress.IPv4Network((int(prefix.network_address) + 256, 26))
    straddle = ipaddress.IPv4Network((int(prefix.network_address), 23), strict=False)
    for extra in ({"cidr": str(outside)}, {"cidr": str(straddle)}, {"cidr": "::ffff:" + str(prefix.network_address) + "/120"},
                  {"cidr": "fd00::/64"}, {"gateway_ip": str(outside[1]), "prefixlen": 26}, {"gateway_ip": "fd00::1"},
                  {"prefixlen": 2 ** 63 - 1}, {"prefixlen": -1}, {"prefixlen": True}, {"prefixlen": None, "cidr": None},
                  {"subnetpool_id": None, "use_default_subnetpool": "yes"}, {"use_default_subnetpool": True}):
        r = from_pool(me, net, sp["id"], **extra) if "subnetpool_id" not in extra and "use_default_subnetpool" not in extra else \
            me.req("POST", "/subnets", json={"subnet": {"network_id": net, "ip_version": 4, **extra}})
        assert 400 <= r.status_code < 500, (extra, r.status_code, r.text[:300])
        assert_error(r, r.status_code)
    # An admin default pool that is not shared is no default for this project.
    hidden = new_pool(admin_net, [str(block4(16))], is_default=True)
    try:
        r = me.req("POST", "/subnets", json={"subnet": {"network_id": net, "ip_version": 4, "use_default_subnetpool": True}})
        assert_error(r, 400, "BadRequest", "No default subnetpool")
    finally:
        admin_net.ok("DELETE", f"/subnetpools/{hidden['id']}", status=204)
    assert me.ok("GET", "/subnets", params={"network_id": net})["subnets"] == []
    ok = from_pool(me, net, sp["id"], prefixlen=28)
    assert ok.status_code == 201, ok.text
    sub = ok.json()["subnet"]
    other = new_pool(me, [str(block4(16))])
    assert_error(me.req("PUT", f"/subnets/{sub['id']}", json={"subnet": {"subnetpool_id": other["id"]}}), 400)
    assert_error(me.req("PUT", f"/subnets/{sub['id']}", json={"subnet": {"subnetpool_id": None}}), 400)
    assert me.show("subnet", sub["id"])["subnetpool_id"] == sp["id"]
    v6 = new_pool(me, [str(block6(48))], min_prefixlen=56, max_prefixlen=64, default_prefixlen=60)
    n6 = me.network()["id"]
    assert_error(from_pool(me, n6, v6["id"], 6, ipv6_address_mode="slaac", ipv6_ra_mode="slaac"), 400, "InvalidInput")
    r = from_pool(me, n6, v6["id"], 6, prefixlen=64, ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    assert r.status_code == 201, r.text
    assert ipaddress.ip_network(r.json()["subnet"]["cidr"]).prefixlen == 64


def test_ip_version_flip_keeps_one_default(admin_net):
    """A default IPv4 pool emptied by remove_prefixes and refilled with IPv6 prefixes would
    become a second IPv6 default beside an existing one: the one-default-per-family rule
    (`_check_default_subnetpool_exists`) must hold whatever route the pool takes there."""
    v6 = new_pool(admin_net, [str(block6(48))], is_default=True)
    v4 = None
    try:
        v4 = new_pool(admin_net, [str(block4(16))], is_default=True)
        out = admin_net.ok("PUT", f"/subnetpools/{v4['id']}/remove_prefixes", json={"prefixes": v4["prefixes"]})
        assert out == {"prefixes": []}
        r = admin_net.req("PUT", f"/subnetpools/{v4['id']}/add_prefixes", json={"prefixes": [str(block6(48))]})
        assert_error(r, 400)
        r = admin_net.req("PUT", f"/subnetpools/{v4['id']}", json={"subnetpool": {"prefixes": [str(block6(48))]}})
        assert_error(r, 400)
        defaults6 = admin_net.ok("GET", "/subnetpools", params={"is_default": "true", "ip_version": 6})["subnetpools"]
        assert [p["id"] for p in defaults6] == [v6["id"]]
    finally:
        admin_net.ok("DELETE", f"/subnetpools/{v6['id']}", status=204)
        if v4:
            admin_net.ok("DELETE", f"/subnetpools/{v4['id']}", status=204)


def test_odd_bodies_and_headers_on_pool_actions(net_user):
    """Non-object bodies on add/remove_prefixes, an unparsable or repeated If-Match, and If-Match
    on an address scope (no revision_number: Neutron's revision plugin only knows standard-attr
    resources, here a scope counts as revision 0): 4xx NeutronErrors, nothing changed."""
    me = net_user()
    sp = new_pool(me, [str(block4(16))])
    for body in ([], None, "x", 5, [{"prefixes": ["10.0.0.0/8"]}]):
        for action in ("add_prefixes", "remove_prefixes"):
            assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/{action}", json=body), 400)
    for header in ("revision_number=x", "revision_number=1, revision_number=1", "revision_number=99999999999999999999"):
        r = me.req("PUT", f"/subnetpools/{sp['id']}", headers={"If-Match": header}, json={"subnetpool": {"name": "n"}})
        assert_error(r, (400, 412))
    assert me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["revision_number"] == 1
    sc = new_scope(me)
    assert_error(me.req("PUT", f"/address-scopes/{sc['id']}", headers={"If-Match": "revision_number=3"},
                        json={"address_scope": {"name": "n"}}), 412, "RevisionNumberConstraintFailed")
    assert me.ok("GET", f"/address-scopes/{sc['id']}")["address_scope"]["name"] == sc["name"]


def test_retargeting_a_pool_policy_onto_an_existing_one(net_user):
    """Two RBAC entries share alice's pool with bob and carol; moving carol's entry to bob
    would duplicate bob's (Neutron: the rbac table's unique (target, object, action) key, and
    rbac_db_mixin.update_rbac_policy lets NeutronDbObjectDuplicateEntry through: a 409). Moving
    an entry onto its own target is no change."""
    alice, bob, carol = net_user(), net_user(), net_user()
    sp = new_pool(alice, [str(block4(16))])
    base = {"object_type": "subnetpool", "object_id": sp["id"], "action": "access_as_shared"}
    alice.create("rbac_policy", **base, target_tenant=bob.project_id)
    to_carol = alice.create("rbac_policy", **base, target_tenant=carol.project_id)
    r = alice.req("PUT", f"/rbac-policies/{to_carol['id']}", json={"rbac_policy": {"target_tenant": bob.project_id}})
    assert_error(r, 409, ("DuplicateRbacPolicy", "NeutronDbObjectDuplicateEntry"))
    same = alice.ok("PUT", f"/rbac-policies/{to_carol['id']}", json={"rbac_policy": {"target_tenant": carol.project_id}})
    assert same["rbac_policy"]["target_tenant"] == carol.project_id
    targets = sorted(p["target_tenant"] for p in alice.ok("GET", "/rbac-policies", params={"object_id": sp["id"]})["rbac_policies"])
    assert targets == sorted([bob.project_id, carol.project_id])
