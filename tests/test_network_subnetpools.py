"""Subnet pools and address scopes (Neutron's `subnet_allocation`, `default-subnetpools`,
`subnetpool-prefix-ops`, `address-scope`, `rbac-subnetpool`, `rbac-address-scope`) on the real
binary, through the `openstack` CLI, openstacksdk and plain requests.

Expected behaviour is real Neutron's: neutron/db/db_base_plugin_v2.py (subnet pool CRUD, address
scope association, prefix operations, `_get_subnetpool_id`), neutron/ipam/subnet_alloc.py
(SubnetPoolReader's defaults and bounds, the allocator: free space as CIDRs, smallest block that
fits first, `default_quota` in /32 or /64 units), neutron/ipam/requests.py (a gateway without a
CIDR asks for the gateway's network), neutron/db/ipam_backend_mixin.py (subnets of one network
and IP version from one pool or one address scope), neutron/db/address_scope_db.py and
neutron-lib's api/definitions and exceptions for attributes and messages.

Deliberate differences, each pinned below: Neutron raises SubnetAllocationError (no HTTP code:
a 500) when a pool has no room or a requested CIDR is taken; here that is a 409 of the same type.
`default_quota` is counted for the project asking (Neutron counts the pool owner's subnets).
"""

import ipaddress
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adversarial_support import PROPERTY

from network_support import (  # noqa: F401  (fixtures are used by name)
    block4,
    block6,
    TIMESTAMP,
    UUID_RE,
    admin_net,
    assert_error,
    assert_forbidden_cli,
    net_user,
    unique,
)

POOL_FIELDS = {"id", "name", "project_id", "tenant_id", "prefixes", "ip_version", "min_prefixlen",
               "max_prefixlen", "default_prefixlen", "default_quota", "is_default", "shared",
               "address_scope_id", "description", "tags", "revision_number", "created_at", "updated_at"}
SCOPE_FIELDS = {"id", "name", "project_id", "tenant_id", "ip_version", "shared"}


def pool(me, prefixes, status=201, **kw):
    r = me.req("POST", "/subnetpools", json={"subnetpool": {"name": unique("pool"), "prefixes": prefixes, **kw}})
    assert r.status_code == status, r.text
    return r.json()["subnetpool"] if status == 201 else r


def scope(me, ip_version=4, **kw):
    return me.ok("POST", "/address-scopes", status=201,
                 json={"address_scope": {"name": unique("scope"), "ip_version": ip_version, **kw}})["address_scope"]


def from_pool(me, network_id, pool_id, ip_version=4, **kw):
    return me.req("POST", "/subnets", json={"subnet": {"network_id": network_id, "subnetpool_id": pool_id,
                                                       "ip_version": ip_version, **kw}})


def test_extensions_listed(net_user):
    """The aliases clients look for (neutron-lib api/definitions ALIAS; neutron/extensions/
    subnetallocation.py `subnet_allocation`)."""
    aliases = {e["alias"] for e in net_user().ok("GET", "/extensions")["extensions"]}
    assert {"subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops", "address-scope",
            "rbac-subnetpool", "rbac-address-scope"} <= aliases


def test_scope_pool_and_subnets_cli(net_user):
    """OSC end to end: an address scope, a pool in it (prefixes merged as netaddr's IPSet
    compacts them, bounds defaulted), subnets by prefix length (the smallest free block that
    fits comes first, as subnet_alloc.py sorts the free CIDRs), the network's
    ipv4_address_scope, the in-use refusals, then everything deleted."""
    me = net_user()
    base = block4(16)
    low, high = list(base.subnets(new_prefix=17))
    sc = me.cli("address", "scope", "create", "--ip-version", "4", unique("scope"), "-f", "json")
    assert sc["ip_version"] == 4 and not sc["shared"]
    sp = me.cli("subnet", "pool", "create", "--pool-prefix", str(high), "--pool-prefix", str(low),
                "--default-prefix-length", "26", "--address-scope", sc["id"], unique("pool"), "-f", "json")
    assert sp["prefixes"] == [str(base)], sp
    assert (sp["ip_version"], sp["min_prefixlen"], sp["max_prefixlen"], sp["default_prefixlen"]) == (4, 8, 32, 26)
    assert sp["address_scope_id"] == sc["id"] and sp["is_default"] is False and sp["shared"] is False
    net = me.network()
    s1 = me.cli("subnet", "create", "--network", net["id"], "--subnet-pool", sp["id"], "--prefix-length", "28",
                unique("sub"), "-f", "json")
    first = ipaddress.IPv4Network((int(base.network_address), 28))
    assert s1["cidr"] == str(first) and s1["subnetpool_id"] == sp["id"]
    assert s1["gateway_ip"] == str(first[1])
    assert s1["allocation_pools"] == [{"start": str(first[2]), "end": str(first[-2])}]
    s2 = me.cli("subnet", "create", "--network", net["id"], "--subnet-pool", sp["id"], unique("sub"), "-f", "json")
    assert s2["cidr"] == str(ipaddress.IPv4Network((int(base.network_address) + 64, 26)))
    shown = me.show("network", net["id"])
    assert shown["ipv4_address_scope"] == sc["id"] and shown["ipv6_address_scope"] is None

    assert me.cli("subnet", "pool", "delete", sp["id"], check=False).returncode != 0
    assert_error(me.req("DELETE", f"/subnetpools/{sp['id']}"), 400, "SubnetPoolDeleteError", "existing allocations")
    assert_error(me.req("DELETE", f"/address-scopes/{sc['id']}"), 409, "AddressScopeInUse")
    me.cli("subnet", "pool", "set", "--pool-prefix", str(block4(24)), "--name", "renamed", sp["id"])
    again = me.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]
    assert again["name"] == "renamed" and len(again["prefixes"]) == 2 and again["revision_number"] > sp["revision_number"]
    me.cli("subnet", "delete", s1["id"], s2["id"])
    me.cli("subnet", "pool", "delete", sp["id"])
    me.cli("address", "scope", "delete", sc["id"])
    assert me.req("GET", f"/address-scopes/{sc['id']}").status_code == 404


def test_pool_document_and_sdk(net_user):
    """The pool document (neutron-lib subnetpool definition plus standard attributes), an IPv6
    pool through openstacksdk, a subnet by prefix length and one by explicit CIDR inside the
    pool (host bits dropped), a CIDR already taken and a pool with no room (409 here; Neutron's
    SubnetAllocationError has no HTTP code)."""
    me = net_user()
    conn = me.sdk()
    prefix = block6(48)
    sp = conn.network.create_subnet_pool(name=unique("pool6"), prefixes=[str(prefix)], min_prefixlen=56,
                                         max_prefixlen=64, default_prefixlen=60)
    doc = me.ok("GET", f"/subnetpools/{sp.id}")["subnetpool"]
    assert set(doc) == POOL_FIELDS, set(doc) ^ POOL_FIELDS
    assert UUID_RE.match(doc["id"]) and TIMESTAMP.match(doc["created_at"]) and doc["revision_number"] == 1
    assert doc["ip_version"] == 6 and doc["default_quota"] is None and doc["tags"] == [] and doc["project_id"] == me.project_id
    net = conn.network.create_network(name=unique("net"))
    s1 = conn.network.create_subnet(network_id=net.id, ip_version=6, subnet_pool_id=sp.id, prefix_length=64)
    assert s1.cidr == str(ipaddress.IPv6Network((int(prefix.network_address), 64))) and s1.subnet_pool_id == sp.id
    wanted = ipaddress.IPv6Network((int(prefix.network_address) + (5 << 72), 56))
    net2 = me.network()
    s2 = from_pool(me, net2["id"], sp.id, 6, cidr=str(wanted[7]) + "/56")
    assert s2.status_code == 201, s2.text
    assert s2.json()["subnet"]["cidr"] == str(wanted)
    net3 = me.network()
    assert_error(from_pool(me, net3["id"], sp.id, 6, cidr=str(wanted)), 409, "SubnetAllocationError")
    assert_error(from_pool(me, net3["id"], sp.id, 6, cidr=str(block6(56))), 409, "SubnetAllocationError")
    small = pool(me, [str(block4(28))], min_prefixlen=28)
    assert from_pool(me, me.network()["id"], small["id"]).status_code == 201
    assert_error(from_pool(me, me.network()["id"], small["id"]), 409, "SubnetAllocationError", "Insufficient prefix space")
    assert sp.id in {p.id for p in conn.network.subnet_pools()}


def test_default_pool(admin_net, net_user):
    """`is_default` is admin only (policy create_subnetpool:is_default), one per IP version
    (InvalidInput), and `use_default_subnetpool` takes the default pool the caller can see
    (`_get_subnetpool_id`; none: 400)."""
    me = net_user()
    prefix = block6(48)
    net = me.network()
    r = me.req("POST", "/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 6, "use_default_subnetpool": True}})
    assert_error(r, 400, "BadRequest", "No default subnetpool found for IPv6")
    assert_error(pool(me, [str(prefix)], 403, is_default=True), 403, "PolicyNotAuthorized")
    default = pool(admin_net, [str(prefix)], is_default=True, shared=True, default_prefixlen=64)
    try:
        assert_error(pool(admin_net, [str(block6(48))], 400, is_default=True), 400, "InvalidInput", "default subnetpool")
        sid = me.cli("subnet", "create", "--network", net["id"], "--ip-version", "6", "--use-default-subnet-pool",
                     unique("sub"), "-f", "json")
        assert sid["subnetpool_id"] == default["id"] and ipaddress.IPv6Network(sid["cidr"]).subnet_of(prefix)
        assert_error(me.req("POST", "/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 6, "use_default_subnetpool": True,
                                                                  "subnetpool_id": default["id"]}}), 400, "BadRequest", "cannot both be specified")
        seen = me.ok("GET", f"/subnetpools/{default['id']}")["subnetpool"]
        assert seen["shared"] is True and seen["is_default"] is True
        assert_error(me.req("PUT", f"/subnetpools/{default['id']}", json={"subnetpool": {"name": "mine"}}), 403, "PolicyNotAuthorized")
        assert_error(me.req("DELETE", f"/subnetpools/{default['id']}"), 403, "PolicyNotAuthorized")
        me.delete("subnet", sid["id"])
    finally:
        admin_net.ok("DELETE", f"/subnetpools/{default['id']}", status=204)


def test_project_isolation(admin_net, net_user):
    """Another project's pool or scope is a 404 and absent from lists; the admin sees it; a
    reader lists its project's pools but may not create one (get_/create_subnetpool)."""
    alice, bob = net_user(), net_user()
    sc = scope(alice)
    sp = pool(alice, [str(block4(16))], address_scope_id=sc["id"])
    for path, kind in ((f"/subnetpools/{sp['id']}", "SubnetPoolNotFound"), (f"/address-scopes/{sc['id']}", "AddressScopeNotFound")):
        assert_error(bob.req("GET", path), 404, kind)
        assert_error(bob.req("DELETE", path), 404, kind)
    assert sp["id"] not in {p["id"] for p in bob.ok("GET", "/subnetpools")["subnetpools"]}
    assert sc["id"] not in {p["id"] for p in bob.ok("GET", "/address-scopes")["address_scopes"]}
    assert_error(from_pool(bob, bob.network()["id"], sp["id"]), 404, "SubnetPoolNotFound")
    assert_error(pool(bob, [str(block4(16))], 404, address_scope_id=sc["id"]), 404, "AddressScopeNotFound")
    assert sp["id"] in {p["id"] for p in admin_net.ok("GET", "/subnetpools", params={"project_id": alice.project_id})["subnetpools"]}
    assert admin_net.ok("GET", f"/address-scopes/{sc['id']}")["address_scope"]["name"] == sc["name"]
    assert_error(alice.req("POST", "/address-scopes", json={"address_scope": {"name": "x", "ip_version": 4, "shared": True}}),
                 403, "PolicyNotAuthorized")
    reader = net_user("reader")
    mine = pool(admin_net, [str(block4(16))], project_id=reader.project_id)
    assert [p["id"] for p in reader.ok("GET", "/subnetpools")["subnetpools"]] == [mine["id"]]
    assert_error(pool(reader, [str(block4(16))], 403), 403, "PolicyNotAuthorized")
    assert_forbidden_cli(reader.cli("address", "scope", "create", "--ip-version", "4", unique("s"), check=False))


def test_rbac_sharing(net_user):
    """RBAC `access_as_shared` on a pool and a scope (rbac-subnetpool, rbac-address-scope): the
    target project sees and uses them; taking the sharing away while it has a subnet from the
    pool is RbacPolicyInUse; other actions are InvalidActionForType."""
    alice, bob = net_user(), net_user()
    sc = scope(alice)
    sp = pool(alice, [str(block4(16))], address_scope_id=sc["id"])
    rbac = {"object_type": "subnetpool", "object_id": sp["id"], "action": "access_as_shared", "target_tenant": bob.project_id}
    assert_error(alice.req("POST", "/rbac-policies", json={"rbac_policy": rbac}), 400, "RbacPolicyInitError")
    alice.create("rbac_policy", object_type="address_scope", object_id=sc["id"], action="access_as_shared", target_tenant=bob.project_id)
    assert bob.ok("GET", f"/address-scopes/{sc['id']}")["address_scope"]["shared"] is True
    policy = alice.create("rbac_policy", **rbac)
    assert bob.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["shared"] is True
    assert alice.ok("GET", f"/subnetpools/{sp['id']}")["subnetpool"]["shared"] is False
    r = from_pool(bob, bob.network()["id"], sp["id"], prefixlen=24)
    assert r.status_code == 201, r.text
    assert_error(alice.req("DELETE", f"/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    bad = dict(rbac, action="access_as_external", target_tenant="*")
    assert_error(alice.req("POST", "/rbac-policies", json={"rbac_policy": bad}), (400, 403), ("InvalidActionForType", "PolicyNotAuthorized"))
    bob.delete("subnet", r.json()["subnet"]["id"])
    alice.delete("rbac_policy", policy["id"])
    assert_error(bob.req("GET", f"/subnetpools/{sp['id']}"), 404, "SubnetPoolNotFound")


def test_prefix_operations(net_user):
    """add_prefixes / remove_prefixes (subnetpool-prefix-ops): the answer is {"prefixes": [...]}
    compacted; removing a prefix a subnet uses is IllegalSubnetPoolPrefixUpdate, as is a PUT
    whose prefixes do not contain the old ones; an empty body list is a 400."""
    me = net_user()
    base = block4(22)
    halves = [str(n) for n in base.subnets(new_prefix=23)]
    sp = pool(me, [halves[0]])
    out = me.ok("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": [halves[1]]})
    assert out == {"prefixes": [str(base)]}
    sub = from_pool(me, me.network()["id"], sp["id"], prefixlen=24)
    assert sub.status_code == 201 and sub.json()["subnet"]["cidr"] == str(next(base.subnets(new_prefix=24)))
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/remove_prefixes", json={"prefixes": [halves[0]]}),
                 400, "IllegalSubnetPoolPrefixUpdate", "in use")
    out = me.ok("PUT", f"/subnetpools/{sp['id']}/remove_prefixes", json={"prefixes": [halves[1]]})
    assert out == {"prefixes": [halves[0]]}
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {"prefixes": [str(block4(24))]}}),
                 400, "IllegalSubnetPoolPrefixUpdate", "subset")
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": []}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}/add_prefixes", json={"prefixes": ["nope"]}), 400)
    tags = me.ok("PUT", f"/subnetpools/{sp['id']}/tags", json={"tags": ["a", "b"]})["tags"]
    assert sorted(tags) == ["a", "b"]
    assert [p["id"] for p in me.ok("GET", "/subnetpools", params={"tags": "a"})["subnetpools"]] == [sp["id"]]


def test_scopes_conflicts_and_affinity(net_user):
    """Pools of one address scope may not share prefixes (AddressScopePrefixConflict, 409); a
    pool's scope has its IP version; a network's subnets of one version come from one pool, or
    pools of one scope (NetworkSubnetPoolAffinityError, NetworkAddressScopeAffinityError)."""
    me = net_user()
    sc = scope(me)
    base = block4(16)
    a, b = [str(n) for n in base.subnets(new_prefix=17)]
    p1 = pool(me, [a], address_scope_id=sc["id"])
    assert_error(pool(me, [str(base)], 409, address_scope_id=sc["id"]), 409, "AddressScopePrefixConflict")
    p2 = pool(me, [b], address_scope_id=sc["id"])
    assert_error(me.req("PUT", f"/subnetpools/{p2['id']}", json={"subnetpool": {"prefixes": [a, b]}}), 409, "AddressScopePrefixConflict")
    assert_error(pool(me, [str(block6())], 400, address_scope_id=sc["id"]), 400, "IllegalSubnetPoolIpVersionAssociationToAddressScope")
    net = me.network()
    assert from_pool(me, net["id"], p1["id"], prefixlen=24).status_code == 201
    assert from_pool(me, net["id"], p2["id"], prefixlen=24).status_code == 201   # same scope: allowed
    assert_error(me.create_response("subnet", network_id=net["id"], ip_version=4, cidr=str(block4(24))), 400, "NetworkAddressScopeAffinityError")
    plain = pool(me, [str(block4(16))])
    other = pool(me, [str(block4(16))])
    net2 = me.network()
    assert from_pool(me, net2["id"], plain["id"], prefixlen=24).status_code == 201
    assert_error(from_pool(me, net2["id"], other["id"], prefixlen=24), 400, "NetworkSubnetPoolAffinityError")
    assert_error(me.create_response("subnet", network_id=net2["id"], ip_version=4, cidr=str(block4(24))), 400, "NetworkSubnetPoolAffinityError")
    # Moving p2 (with a subnet) to another scope would split net's subnets across scopes.
    sc2 = scope(me)
    assert_error(me.req("PUT", f"/subnetpools/{p2['id']}", json={"subnetpool": {"address_scope_id": sc2["id"]}}), 400, "NetworkAddressScopeAffinityError")
    assert me.show("network", net["id"])["ipv4_address_scope"] == sc["id"]
    assert me.show("network", net2["id"])["ipv4_address_scope"] is None


def test_quotas(admin_net, net_user):
    """`default_quota` in /32 units per project (subnet_alloc.py, SubnetPoolQuotaExceeded is
    OverQuota: 409) and the `subnetpool` resource quota."""
    me = net_user()
    sp = pool(me, [str(block4(16))], default_quota=64)
    assert from_pool(me, me.network()["id"], sp["id"], prefixlen=26).status_code == 201
    assert_error(from_pool(me, me.network()["id"], sp["id"], prefixlen=30), 409, "SubnetPoolQuotaExceeded")
    admin_net.ok("PUT", f"/quotas/{me.project_id}", json={"quota": {"subnetpool": 1}})
    assert_error(pool(me, [str(block4(16))], 409), 409, "OverQuota")
    used = me.ok("GET", f"/quotas/{me.project_id}/details")["quota"]["subnetpool"]
    assert used["used"] == 1 and used["limit"] == 1


@pytest.mark.parametrize("body, status, kind", [
    ({"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}, 400, "PrefixVersionMismatch"),
    ({"prefixes": []}, 400, "EmptySubnetPoolPrefixList"),
    ({"prefixes": ["10.0.0.0"]}, 400, "HTTPBadRequest"),
    ({"prefixes": "10.0.0.0/8"}, 400, "HTTPBadRequest"),
    ({"prefixes": [5]}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8", "10.0.0.0/8"]}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "max_prefixlen": 16}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "max_prefixlen": 33}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "default_prefixlen": 4}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": -1}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "default_quota": "lots"}, 400, "InvalidInput"),
    ({"prefixes": ["10.0.0.0/8"], "address_scope_id": "not-a-uuid"}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "ip_version": 4}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "name": "  "}, 400, "HTTPBadRequest"),
])
def test_bad_pool_input(net_user, body, status, kind):
    me = net_user()
    r = me.req("POST", "/subnetpools", json={"subnetpool": {"name": unique("bad"), **body}})
    assert_error(r, status, kind)


def test_bad_subnet_and_scope_input(net_user):
    """Subnet requests against a pool (db_base_plugin_v2 `_create_subnet_precommit`,
    ipam_backend_mixin, subnet_alloc.py bounds) and address scope input."""
    me = net_user()
    sp = pool(me, [str(block4(16))], min_prefixlen=20, max_prefixlen=28)
    net = me.network()["id"]
    cases = [
        ({"prefixlen": 29}, "MaxPrefixSubnetAllocationError"),
        ({"prefixlen": 16}, "MinPrefixSubnetAllocationError"),
        ({"prefixlen": 24, "cidr": str(block4(24))}, "BadRequest"),
        ({"ip_version": 6, "prefixlen": 64}, "BadRequest"),
        ({"allocation_pools": [{"start": "1.1.1.1", "end": "1.1.1.2"}]}, "BadRequest"),
        ({"prefixlen": "x"}, None),
    ]
    for extra, kind in cases:
        body = {"network_id": net, "subnetpool_id": sp["id"], "ip_version": 4, **extra}
        assert_error(me.req("POST", "/subnets", json={"subnet": body}), 400, kind)
    assert_error(me.req("POST", "/subnets", json={"subnet": {"network_id": net, "ip_version": 4, "subnetpool_id": "nope"}}), 400)
    assert_error(me.req("POST", "/subnets", json={"subnet": {"network_id": net, "ip_version": 4}}), 400, "BadRequest", "subnetpool")
    assert_error(me.req("POST", "/address-scopes", json={"address_scope": {"name": "x", "ip_version": 5}}), 400)
    assert_error(me.req("POST", "/address-scopes", json={"address_scope": {"name": "x"}}), 400)
    sc = scope(me, 6)
    assert_error(me.req("PUT", f"/address-scopes/{sc['id']}", json={"address_scope": {"ip_version": 4}}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {"shared": True}}), 400)
    assert_error(me.req("PUT", f"/subnetpools/{sp['id']}", json={"subnetpool": {"min_prefixlen": 30}}), 400, "IllegalSubnetPoolPrefixBounds")


def test_shared_scope_cannot_be_unshared(admin_net):
    """address_scope_db.update_address_scope: AddressScopeUpdateError."""
    sc = scope(admin_net, 4, shared=True)
    assert_error(admin_net.req("PUT", f"/address-scopes/{sc['id']}", json={"address_scope": {"shared": False}}), 400, "AddressScopeUpdateError")
    renamed = admin_net.ok("PUT", f"/address-scopes/{sc['id']}", json={"address_scope": {"name": "renamed"}})["address_scope"]
    assert set(renamed) == SCOPE_FIELDS and renamed["name"] == "renamed" and renamed["shared"] is True
    admin_net.ok("DELETE", f"/address-scopes/{sc['id']}", status=204)


def test_huge_pools_are_cheap(net_user):
    """A /8 of IPv4 carved into /30s and a /8 of IPv6 into /128s: allocation works on ranges, so
    each answer is immediate, and the next block follows the last."""
    me = net_user()
    v6 = pool(me, ["fd00::/8"], min_prefixlen=8, max_prefixlen=128, default_prefixlen=128)
    net = me.network()["id"]
    r = from_pool(me, net, v6["id"], 6, prefixlen=127, enable_dhcp=False)
    assert r.status_code == 201, r.text
    assert r.json()["subnet"]["cidr"] == "fd00::/127"
    v4 = pool(me, [str(block4(10))], max_prefixlen=30)
    n = me.network()["id"]
    got = [from_pool(me, n, v4["id"], prefixlen=30).json()["subnet"]["cidr"] for _ in range(3)]
    starts = [int(ipaddress.IPv4Network(c).network_address) for c in got]
    assert starts == [starts[0], starts[0] + 4, starts[0] + 8]


# ---- never a 5xx ------------------------------------------------------------------------------

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
    | st.sampled_from(["", "10.0.0.0/8", "10.0.0.1", "::/0", "fd00::/8", "0.0.0.0/0", "128", "x" * 300, str(uuid.uuid4())]),
    lambda children: st.lists(children, max_size=4), max_leaves=6)
POOL_KEYS = ["prefixes", "min_prefixlen", "max_prefixlen", "default_prefixlen", "default_quota", "is_default",
             "shared", "address_scope_id", "name", "description", "ip_version", "tags"]
FROM_POOL_KEYS = ["prefixlen", "cidr", "gateway_ip", "allocation_pools", "use_default_subnetpool", "ip_version", "enable_dhcp"]


@pytest.fixture(scope="module")
def fuzzer(cloud, admin_net, tmp_path_factory):
    from conftest import TestUser, random_password
    from network_support import Net
    project = cloud.create_project()
    password = random_password()
    user = cloud.create_user(password=password, project_id=project["id"])
    cloud.grant("member", user["id"], project["id"])
    me = Net.login(cloud, TestUser(user["name"], password, user["id"], project["name"], project["id"], "member"),
                   workdir=tmp_path_factory.mktemp("pool-fuzz"))
    admin_net.ok("PUT", f"/quotas/{project['id']}", json={"quota": {"network": -1, "subnet": -1}})
    me.base = {"pool": pool(me, ["10.0.0.0/8"], max_prefixlen=30), "network": me.network()}
    yield me
    cloud.api("DELETE", f"/users/{user['id']}")
    cloud.api("DELETE", f"/projects/{project['id']}")


def no_5xx(me, r, collection):
    assert r.status_code < 500, (r.request.body[:300] if r.request.body else b"", r.status_code, r.text[:500])
    if r.status_code == 201:
        me.req("DELETE", f"/{collection}/{r.json()[collection[:-1]]['id']}")
    else:
        assert_error(r, r.status_code)


@PROPERTY(40)
@given(fields=st.dictionaries(st.sampled_from(POOL_KEYS), VALUES, min_size=1, max_size=4))
def test_fuzz_pool_create_and_update(fuzzer, fields):
    """Random values for pool fields on create and update: 201/200 or a 4xx in Neutron's format."""
    no_5xx(fuzzer, fuzzer.req("POST", "/subnetpools", json={"subnetpool": {"name": "f", "prefixes": ["100.64.0.0/10"], **fields}}), "subnetpools")
    r = fuzzer.req("PUT", f"/subnetpools/{fuzzer.base['pool']['id']}", json={"subnetpool": fields})
    assert r.status_code < 500, (fields, r.status_code, r.text[:500])


@PROPERTY(40)
@given(fields=st.dictionaries(st.sampled_from(FROM_POOL_KEYS), VALUES, min_size=1, max_size=3))
def test_fuzz_subnet_from_pool(fuzzer, fields):
    body = {"network_id": fuzzer.base["network"]["id"], "ip_version": 4, "subnetpool_id": fuzzer.base["pool"]["id"], **fields}
    no_5xx(fuzzer, fuzzer.req("POST", "/subnets", json={"subnet": body}), "subnets")
