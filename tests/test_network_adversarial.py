"""Adversarial: the Networking API (Neutron v2.0) against careless clients and attackers.

Malformed and mistyped bodies, wrong values for every field of network/subnet/port/security
group rule create, oversized and truncated bodies, huge subnets (a /8, IPv6 /64 and /48) that
must never be enumerated, a thousand ports paged five at a time, concurrent allocations, names
that differ only in Unicode normalisation, odd query strings and If-Match headers, and a small
fuzz of every field. Every answer to bad input is a 4xx in Neutron's format
`{"NeutronError": {"type", "message", "detail": ""}}`, never a 5xx.

Expected behaviour is real Neutron's (neutron master, neutron-lib): body parsing in
neutron/pecan_wsgi/hooks/body_validation.py and neutron/api/v2/base.py prepare_request_body
(HTTPBadRequest), attribute converters (neutron_lib/api/converters.py: InvalidInput) and
validators (neutron_lib/api/validators: HTTPBadRequest), names by validate_name_string (printable
BMP characters, no leading/trailing whitespace), queries by webob and
neutron/api/api_common.py. Where Neutron itself fails with a 500 (noted per case) Nimbus must
answer 400. Nimbus' own bound: a request body over 1 MiB is 413 (Neutron's paste pipeline has
no size limit; every other Nimbus service answers 413 there).
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adversarial_support import EQUIVALENT_PAIRS, PROPERTY, raw_request
from conftest import TestUser
from nimbus_launcher import random_password
from network_support import (  # noqa: F401  (fixtures are used by name)
    Net,
    admin_net,
    assert_error,
    eui64,
    host,
    in_pools,
    net_user,
    next_cidr4,
    next_cidr6,
    unique,
)

MIB = 1 << 20


def timed(fn, *args, **kwargs):
    t0 = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - t0


def assert_raw_error(r, statuses, type_=None):
    """assert_error for adversarial_support.RawResponse."""
    statuses = (statuses,) if isinstance(statuses, int) else tuple(statuses)
    assert r.status in statuses, (r.status, r.text[:500])
    assert r.headers.get("content-type", "").startswith("application/json"), (r.headers, r.text[:300])
    body = r.json()
    assert set(body) == {"NeutronError"} and set(body["NeutronError"]) == {"type", "message", "detail"}, body
    if type_ is not None:
        assert body["NeutronError"]["type"] == type_, body


def assert_4xx_neutron(r):
    """Any client error in Neutron's format (never a 5xx)."""
    assert 400 <= r.status_code < 500, (r.request.method, r.url, r.status_code, r.text[:500])
    assert_error(r, r.status_code)


def random_ula48() -> str:
    gid = random.getrandbits(40)
    return str(ipaddress.IPv6Network(f"{0xfd00 | (gid >> 32):x}:{(gid >> 16) & 0xffff:x}:{gid & 0xffff:x}::/48"))


# ---- bodies -------------------------------------------------------------------------------

MALFORMED = [
    b"{", b"[]", b"[1, 2]", b'"network"', b"null", b"123", b"true", b"\xff\xfe\xfd",
    b'{"network": {"name": "a"}} trailing', ("[" * 20000 + "]" * 20000).encode(),
    b'{"network": null}', b'{"network": "x"}', b'{"network": []}', b'{"network": 5}',
    b'{"networks": []}', b'{"networks": {}}', b"{}", b'{"subnet": {"cidr": "10.9.9.0/24"}}',
    b'{"network": {"name": "\\ud800"}}',
]


def test_malformed_bodies_are_400(net_user):
    """Not JSON, JSON that is not an object (body_validation.py: 'Body contains invalid data'),
    a resource key that is missing, null or not an object, an empty bulk list
    (prepare_request_body), nesting deep enough to break a recursive parser (Python's json raises
    RecursionError there and Neutron answers 500; Nimbus: 400), a lone surrogate in a name:
    400 in Neutron's format for POST and PUT; an empty body too; a router interface action with
    an empty object is 400 BadRequest ('Either subnet_id or port_id must be specified'); a DELETE
    with a body is 400 and deletes nothing."""
    me = net_user()
    net = me.network()
    for body in MALFORMED:
        for method, path in (("POST", "/networks"), ("PUT", f"/networks/{net['id']}")):
            r = me.req(method, path, data=body, headers={"Content-Type": "application/json"})
            assert_error(r, 400)
    assert_error(me.req("POST", "/networks"), 400, "HTTPBadRequest")
    assert_error(me.req("PUT", f"/networks/{net['id']}"), 400)
    router = me.router()
    for body in (b"[]", b"{", b"null"):
        r = me.req("PUT", f"/routers/{router['id']}/add_router_interface", data=body,
                   headers={"Content-Type": "application/json"})
        assert_error(r, 400)
    assert_error(me.req("PUT", f"/routers/{router['id']}/add_router_interface", json={}), 400, "BadRequest")
    # a DELETE with a body is refused (pecan ItemController.delete) and deletes nothing
    assert_error(me.req("DELETE", f"/networks/{net['id']}", json={"network": {}}), 400, "HTTPBadRequest")
    assert me.show("network", net["id"])["name"] == net["name"]


def _write_routes(me: Net, admin: Net) -> list[tuple[str, str, dict]]:
    net, sub = me.network_with_subnet()
    port = me.port(net["id"])
    router = me.router()
    h = {"X-Auth-Token": me.token, "Content-Type": "application/json"}
    ah = {"X-Auth-Token": admin.token, "Content-Type": "application/json"}
    base = urlparse(me.url).path
    return [
        ("POST", f"{base}/networks", h), ("POST", f"{base}/subnets", h), ("POST", f"{base}/ports", h),
        ("POST", f"{base}/routers", h), ("POST", f"{base}/floatingips", h),
        ("POST", f"{base}/security-groups", h), ("POST", f"{base}/security-group-rules", h),
        ("POST", f"{base}/rbac-policies", h),
        ("PUT", f"{base}/networks/{net['id']}", h), ("PUT", f"{base}/subnets/{sub['id']}", h),
        ("PUT", f"{base}/ports/{port['id']}", h), ("PUT", f"{base}/routers/{router['id']}", h),
        ("PUT", f"{base}/routers/{router['id']}/add_router_interface", h),
        ("PUT", f"{base}/networks/{net['id']}/tags", h),
        ("PUT", f"{base}/quotas/{me.project_id}", ah),
    ]


def test_oversized_bodies_are_413(admin_net, net_user):
    """A body over 1 MiB on any write route is 413 in Neutron's format, whether it is one long
    name or valid JSON padded with whitespace, also when only the Content-Length announces it."""
    me = net_user()
    routes = _write_routes(me, admin_net)
    big = json.dumps({"network": {"name": "x" * (2 * MIB)}}).encode()
    padded = b" " * (MIB + 4096) + json.dumps({"network": {"name": unique("pad")}}).encode()
    for method, path, headers in routes:
        assert_raw_error(raw_request(me.cloud.base_url, method, path, headers, big, timeout=30), 413)
    method, path, headers = routes[0]
    assert_raw_error(raw_request(me.cloud.base_url, method, path, headers, padded, timeout=30), 413)
    r = raw_request(me.cloud.base_url, method, path, headers, b"{}", declared_length=64 * MIB, timeout=30)
    assert_raw_error(r, 413)
    assert not [n for n in me.list("network") if n["name"].startswith("pad-")]


@pytest.mark.parametrize("mode", ["truncated", "chunked-unfinished"])
def test_truncated_bodies_are_4xx(admin_net, net_user, mode):
    """A body shorter than its Content-Length, or a chunked body without its last chunk, on any
    write route: a 4xx, never a 5xx, and nothing is created."""
    me = net_user()
    body = json.dumps({"network": {"name": unique("trunc")}}).encode()
    for method, path, headers in _write_routes(me, admin_net):
        if mode == "truncated":
            r = raw_request(me.cloud.base_url, method, path, headers, body, declared_length=len(body) + 500)
        else:
            r = raw_request(me.cloud.base_url, method, path, headers, body, chunked=True, finish_chunks=False)
        assert 400 <= r.status < 500, (method, path, r.status, r.text[:300])
    assert not [n for n in me.list("network") if n["name"].startswith("trunc-")]


# ---- wrong values, field by field ---------------------------------------------------------

NETWORK_BAD = [
    ({"name": 123}, "HTTPBadRequest"), ({"name": None}, "HTTPBadRequest"), ({"name": ["a"]}, "HTTPBadRequest"),
    ({"name": {"a": 1}}, "HTTPBadRequest"), ({"name": "x" * 256}, "HTTPBadRequest"),
    ({"admin_state_up": "maybe"}, "InvalidInput"), ({"admin_state_up": 2}, "InvalidInput"),
    ({"admin_state_up": None}, "InvalidInput"), ({"admin_state_up": []}, "InvalidInput"),
    ({"description": 5}, "HTTPBadRequest"), ({"description": "d" * 256}, "HTTPBadRequest"),
    ({"port_security_enabled": "nope"}, "InvalidInput"), ({"shared": "maybe"}, "InvalidInput"),
    ({"mtu": "abc"}, None), ({"mtu": -1}, None), ({"mtu": 2 ** 64}, None), ({"mtu": 100000}, None),
    ({"bogus": 1}, "HTTPBadRequest"), ({"id": str(uuid.uuid4())}, "HTTPBadRequest"),
    ({"status": "DOWN"}, "HTTPBadRequest"), ({"subnets": []}, "HTTPBadRequest"),
    ({"project_id": uuid.uuid4().hex}, "HTTPBadRequest"),
    ({"tenant_id": uuid.uuid4().hex, "project_id": uuid.uuid4().hex}, "HTTPBadRequest"),
]


def test_network_wrong_values(net_user):
    """Each wrong field on network create is 400 (types per converter/validator; attributes the
    API does not know or that are read-only are 'Unrecognized attribute(s)' / 'not allowed in
    POST'; another project_id is refused for a member, and project_id must equal tenant_id)."""
    me = net_user()
    before = me.ids("network")
    for attrs, typ in NETWORK_BAD:
        assert_error(me.create_response("network", **attrs), 400, typ)
    assert me.ids("network") == before
    net = me.network()
    for attrs in ({"name": 5}, {"admin_state_up": "maybe"}, {"id": str(uuid.uuid4())}, {"status": "DOWN"},
                  {"project_id": uuid.uuid4().hex}, {"bogus": True}, {"name": "x" * 256}):
        assert_error(me.req("PUT", f"/networks/{net['id']}", json={"network": attrs}), 400)
    assert me.show("network", net["id"])["name"] == net["name"]


def test_subnet_wrong_values(net_user):
    """Each wrong subnet value is refused with Neutron's status and type: CIDRs (converter:
    InvalidInput), ip_version (values [4, 6]), prefixlen with a cidr (BadRequest), a gateway that
    is the network or broadcast address (InvalidInput), allocation pools outside the CIDR
    (OutOfBoundsAllocationPool), reversed (InvalidAllocationPool), overlapping each other (409
    OverlappingAllocationPools) or holding the gateway (409 GatewayConflictWithAllocationPools),
    more than 5 DNS servers (DNSNameServersExhausted) or 20 host routes (HostRoutesExhausted),
    duplicates, DHCP on a /31, multicast or loopback range (InvalidInput)."""
    me = net_user()
    net = me.network()

    def attempt(want_status, want_type, **attrs):
        body = {"network_id": net["id"], "ip_version": 4, "cidr": next_cidr4(), **attrs}
        body = {k: v for k, v in body.items() if v is not ...}
        assert_error(me.create_response("subnet", **body), want_status, want_type)

    c = next_cidr4()
    for cidr in ("abc", "10.0.0.0/33", "999.1.1.0/24", "", "10.0.0.0/-1", "::/129"):
        attempt(400, "InvalidInput", cidr=cidr)
    attempt(400, None, cidr="10.1.2.0/24/8")          # netaddr raises ValueError: a 500 in Neutron
    attempt(400, None, cidr=12345)                    # TypeError in the converter: a 500 in Neutron
    attempt(400, None, cidr=["10.1.0.0/24"])
    attempt(400, "HTTPBadRequest", ip_version=5)
    attempt(400, "InvalidInput", ip_version="four")
    attempt(400, "InvalidInput", ip_version=None)
    attempt(400, "HTTPBadRequest", ip_version=...)
    attempt(400, "InvalidInput", ip_version=6)
    attempt(400, "BadRequest", prefixlen=24)
    attempt(400, "BadRequest", cidr=..., prefixlen=33)
    attempt(400, "BadRequest", cidr=...)
    attempt(400, "HTTPBadRequest", network_id="not-a-uuid")
    attempt(400, "HTTPBadRequest", network_id=...)
    attempt(400, "HTTPBadRequest", gateway_ip="abc")
    attempt(400, "InvalidInput", cidr=c, gateway_ip=host(c, 0))
    attempt(400, "InvalidInput", cidr=c, gateway_ip=host(c, -1))
    attempt(400, "InvalidInput", cidr=c, gateway_ip="2001:db8::1")
    attempt(400, "InvalidInput", allocation_pools="x")
    attempt(400, "HTTPBadRequest", allocation_pools=[{"start": "abc", "end": host(c, 9)}])
    attempt(400, "HTTPBadRequest", allocation_pools=[{"start": host(c, 5)}])
    attempt(400, "HTTPBadRequest", allocation_pools=[{"start": host(c, 5), "end": host(c, 9), "x": 1}])
    attempt(400, "OutOfBoundsAllocationPool", cidr=c, allocation_pools=[{"start": host(c, 5), "end": "192.0.2.9"}])
    attempt(400, "OutOfBoundsAllocationPool", cidr=c, allocation_pools=[{"start": host(c, 0), "end": host(c, 9)}])
    attempt(400, "OutOfBoundsAllocationPool", cidr=c, allocation_pools=[{"start": host(c, 5), "end": host(c, -1)}])
    attempt(400, "InvalidAllocationPool", cidr=c, allocation_pools=[{"start": host(c, 20), "end": host(c, 10)}])
    attempt(400, "InvalidAllocationPool", cidr=c, allocation_pools=[{"start": "2001:db8::2", "end": "2001:db8::9"}])
    attempt(409, "OverlappingAllocationPools", cidr=c, allocation_pools=[
        {"start": host(c, 10), "end": host(c, 20)}, {"start": host(c, 15), "end": host(c, 30)}])
    attempt(409, "GatewayConflictWithAllocationPools", cidr=c, gateway_ip=host(c, 12),
            allocation_pools=[{"start": host(c, 10), "end": host(c, 20)}])
    attempt(400, "DNSNameServersExhausted", dns_nameservers=[f"192.0.2.{i}" for i in range(1, 7)])
    attempt(400, "HTTPBadRequest", dns_nameservers=["192.0.2.1", "192.0.2.1"])
    attempt(400, "HTTPBadRequest", dns_nameservers=["not-an-ip"])
    attempt(400, "HTTPBadRequest", dns_nameservers=5)
    attempt(400, "InvalidInput", dns_nameservers=["2001:db8::53"])
    attempt(400, "HostRoutesExhausted", host_routes=[
        {"destination": f"198.51.{i}.0/24", "nexthop": "192.0.2.1"} for i in range(21)])
    attempt(400, "HTTPBadRequest", host_routes=[{"destination": "198.51.100.0/24"}])
    attempt(400, "HTTPBadRequest", host_routes=[{"destination": "bogus", "nexthop": "192.0.2.1"}])
    attempt(400, "HTTPBadRequest", host_routes=[{"destination": "198.51.100.5/24", "nexthop": "192.0.2.1"}])
    attempt(400, "HTTPBadRequest", host_routes="x")
    attempt(400, "InvalidInput", enable_dhcp="maybe")
    attempt(400, "HTTPBadRequest", ipv6_ra_mode="bogus")
    attempt(400, "InvalidInput", cidr=f"{host(next_cidr4(), 0)}/31")
    attempt(400, "InvalidInput", cidr="224.0.0.0/24")
    attempt(400, "InvalidInput", cidr="127.0.0.0/24")
    attempt(400, "InvalidInput", cidr="0.0.0.0/0")
    attempt(400, "InvalidInput", ip_version=6, cidr="::/64")
    attempt(400, "HTTPBadRequest", bogus=1)
    attempt(400, "HTTPBadRequest", id=str(uuid.uuid4()))
    attempt(400, "HTTPBadRequest", name=7)
    assert me.show("network", net["id"])["subnets"] == []


def test_port_wrong_values(net_user):
    """Each wrong port value: MACs that are not MACs or are all-zero/broadcast
    (validate_mac_address), fixed_ips that are not a list of dicts of an address and/or subnet
    UUID, or repeat an address (validate_fixed_ips), a dict without either (InvalidInput), a
    security group list that is not UUIDs (400) or names a group that is not the caller's (404
    SecurityGroupNotFound), over-long device fields, address pairs without an IP
    (AllowedAddressPairsMissingIP), malformed DHCP options, a bad vnic_type."""
    me, other = net_user(), net_user()
    net, sub = me.network_with_subnet()
    theirs = other.security_group()

    def attempt(want_status, want_type, **attrs):
        body = {"network_id": net["id"], **attrs}
        body = {k: v for k, v in body.items() if v is not ...}
        assert_error(me.create_response("port", **body), want_status, want_type)

    for mac in ("zz:zz:zz:zz:zz:zz", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:00:00:00:00", "",
                "02:00:00:00:00:01:02", " 02:00:00:00:00:01"):
        attempt(400, "HTTPBadRequest", mac_address=mac)
    attempt(400, None, mac_address=None)              # netaddr.EUI(None) is a TypeError: a 500 in Neutron
    attempt(400, None, mac_address=["02:00:00:00:00:01"])
    for ips in ("abc", [1], [{"ip_address": "abc"}], [{"subnet_id": "not-a-uuid"}], {"ip_address": "10.0.0.1"},
                [{"ip_address": host(sub["cidr"], 9)}, {"ip_address": host(sub["cidr"], 9)}]):
        attempt(400, "HTTPBadRequest", fixed_ips=ips)
    attempt(400, "InvalidInput", fixed_ips=[{}])
    attempt(404, "SubnetNotFound", fixed_ips=[{"subnet_id": str(uuid.uuid4())}])
    for groups in ("abc", ["not-a-uuid"], [1], {"a": 1}):
        attempt(400, "HTTPBadRequest", security_groups=groups)
    attempt(404, "SecurityGroupNotFound", security_groups=[theirs["id"]])
    attempt(404, "SecurityGroupNotFound", security_groups=[str(uuid.uuid4())])
    attempt(400, "HTTPBadRequest", network_id=...)
    attempt(400, "HTTPBadRequest", network_id="not-a-uuid")
    attempt(400, "InvalidInput", admin_state_up="maybe")
    attempt(400, "HTTPBadRequest", device_owner="o" * 256)
    attempt(400, "HTTPBadRequest", device_id="d" * 256)
    attempt(400, "HTTPBadRequest", name=1.5)
    attempt(400, "AllowedAddressPairsMissingIP", allowed_address_pairs=[{"mac_address": "02:00:00:00:00:01"}])
    attempt(400, None, allowed_address_pairs="x")
    attempt(400, None, allowed_address_pairs=[{"ip_address": "not-an-ip"}])
    attempt(400, None, extra_dhcp_opts=[{"opt_name": "bootfile-name"}])
    attempt(400, None, extra_dhcp_opts="x")
    attempt(400, None, extra_dhcp_opts=[{"opt_name": "x", "opt_value": "y", "ip_version": 5}])
    attempt(400, "InvalidInput", port_security_enabled="maybe")
    attempt(400, "HTTPBadRequest", **{"binding:vnic_type": "bogus"})
    attempt(400, "HTTPBadRequest", status="ACTIVE")
    attempt(400, "HTTPBadRequest", bogus=1)
    # Nothing but the network's own DHCP port.
    assert [p for p in me.list("port", network_id=net["id"]) if p["device_owner"] != "network:dhcp"] == []


def test_security_group_rule_wrong_types(net_user):
    """Rule fields of the wrong type: ports that are not integers (convert_validate_port_value:
    SecurityGroupInvalidPortValue), an ethertype that is not a string
    (SecurityGroupRuleInvalidEtherType), a direction of the wrong type, a protocol that is a
    list or a dict (Neutron's convert_protocol fails with AttributeError there and answers 500;
    Nimbus: 400), a group id that does not exist (404)."""
    me = net_user()
    sg = me.security_group()
    base = {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp"}
    for attrs, status, typ in (
            ({"port_range_min": "abc", "port_range_max": 80}, 400, "SecurityGroupInvalidPortValue"),
            ({"port_range_min": -1, "port_range_max": 80}, 400, "SecurityGroupInvalidPortValue"),
            ({"port_range_min": [1], "port_range_max": 80}, 400, "SecurityGroupInvalidPortValue"),
            ({"port_range_min": 2 ** 70, "port_range_max": 2 ** 70}, 400, "SecurityGroupInvalidPortValue"),
            ({"ethertype": 4}, 400, "SecurityGroupRuleInvalidEtherType"),
            ({"ethertype": None}, 400, "SecurityGroupRuleInvalidEtherType"),
            ({"direction": 1}, 400, "HTTPBadRequest"),
            ({"direction": None}, 400, "HTTPBadRequest"),
            ({"protocol": ["tcp"]}, 400, None),
            ({"protocol": {"tcp": 1}}, 400, None),
            ({"protocol": -1}, 400, "SecurityGroupRuleInvalidProtocol"),
            ({"remote_ip_prefix": "10.0.0.0/99"}, 400, "InvalidCIDR"),
            ({"remote_ip_prefix": ["10.0.0.0/8"]}, 400, "InvalidCIDR"),
            ({"security_group_id": str(uuid.uuid4())}, 404, "SecurityGroupNotFound")):
        assert_error(me.create_response("security_group_rule", **{**base, **attrs}), status, typ)
    assert len(me.list("security_group_rule", security_group_id=sg["id"])) == 2


# ---- huge subnets -------------------------------------------------------------------------

def test_huge_subnets_are_never_enumerated(admin_net, net_user):
    """A /8, an IPv6 /64 (SLAAC and DHCPv6-stateful) and an IPv6 /48: creating the subnet,
    allocating a port (automatic, and an explicit address at the far end), and counting IP
    availability each take under 2 s, so nothing walks the address space. The counts are
    exact: 2^24 - 3 for the /8 pool, 2^64 - 2 and 2^80 - 2 for the IPv6 pools
    (network_ip_availability_db sums IPRange sizes; JSON integers beyond 64 bits included)."""
    me = net_user()
    net = me.network()
    sub, dt = timed(me.subnet, net["id"], cidr="11.0.0.0/8")
    assert dt < 2 and sub["allocation_pools"] == [{"start": "11.0.0.2", "end": "11.255.255.254"}], (dt, sub)
    port, dt = timed(me.port, net["id"])
    assert dt < 2 and in_pools(port["fixed_ips"][0]["ip_address"], sub["allocation_pools"]), dt
    for address in ("11.255.255.254", "11.128.0.0"):
        p, dt = timed(me.port, net["id"], fixed_ips=[{"ip_address": address}])
        assert dt < 2 and p["fixed_ips"][0]["ip_address"] == address
    avail, dt = timed(admin_net.ok, "GET", f"/network-ip-availabilities/{net['id']}")
    avail = avail["network_ip_availability"]
    # Three ports and the network's DHCP port.
    assert dt < 2 and avail["total_ips"] == 2 ** 24 - 3 and avail["used_ips"] == 4, (dt, avail)
    _, dt = timed(me.update, "subnet", sub["id"], allocation_pools=[{"start": "11.0.0.10", "end": "11.255.255.250"}])
    assert dt < 2

    net6 = me.network()
    c6 = next_cidr6()
    s6, dt = timed(me.subnet, net6["id"], cidr=c6, ip_version=6,
                   ipv6_ra_mode="dhcpv6-stateful", ipv6_address_mode="dhcpv6-stateful")
    assert dt < 2
    p6, dt = timed(me.port, net6["id"])
    assert dt < 2 and in_pools(p6["fixed_ips"][0]["ip_address"], s6["allocation_pools"])
    far, dt = timed(me.port, net6["id"], fixed_ips=[{"ip_address": host(c6, -1)}])
    assert dt < 2 and far["fixed_ips"][0]["ip_address"] == host(c6, -1)
    a6 = admin_net.ok("GET", f"/network-ip-availabilities/{net6['id']}")["network_ip_availability"]
    # Two ports and the network's DHCP port, which has an address on a subnet DHCPv6 serves.
    assert a6["total_ips"] == 2 ** 64 - 2 and a6["used_ips"] == 3, a6

    slaac_net = me.network()
    c7 = next_cidr6()
    me.subnet(slaac_net["id"], cidr=c7, ip_version=6, ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    p7, dt = timed(me.port, slaac_net["id"])
    assert dt < 2 and p7["fixed_ips"][0]["ip_address"] == eui64(c7, p7["mac_address"])

    wide_net = me.network()
    c48 = random_ula48()
    s48, dt = timed(me.subnet, wide_net["id"], cidr=c48, ip_version=6,
                    ipv6_ra_mode="dhcpv6-stateful", ipv6_address_mode="dhcpv6-stateful")
    assert dt < 2 and s48["allocation_pools"] == [{"start": host(c48, 2), "end": host(c48, -1)}]
    p48, dt = timed(me.port, wide_net["id"])
    assert dt < 2 and in_pools(p48["fixed_ips"][0]["ip_address"], s48["allocation_pools"])
    r, dt = timed(admin_net.req, "GET", f"/network-ip-availabilities/{wide_net['id']}")
    assert r.status_code == 200 and dt < 2
    assert r.json()["network_ip_availability"]["total_ips"] == 2 ** 80 - 2, r.text


# ---- many ports, concurrency --------------------------------------------------------------

def test_thousand_ports_paginate_consistently(admin_net, net_user):
    """1000 ports (made concurrently; the admin raises the port quota) paged with limit=5 by
    following `ports_links` next: 200 pages of at most 5, every port exactly once, in id order
    (native pagination sorts by id), `fields` kept in the links; paged 50 at a time sorted by name
    descending, the names come in exactly that order."""
    me = net_user()
    admin_net.ok("PUT", f"/quotas/{me.project_id}", json={"quota": {"port": 1100}})
    net = me.network()

    def make(i):
        r = me.req("POST", "/ports", json={"port": {"network_id": net["id"], "name": f"p{i:04d}"}})
        assert r.status_code == 201, r.text
        return r.json()["port"]["id"]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(make, range(1000)))
    assert len(set(ids)) == 1000

    t0 = time.monotonic()
    seen: list[str] = []
    pages = 0
    url = f"/ports?network_id={net['id']}&limit=5&fields=id&fields=name"
    while url:
        body = me.ok("GET", url)
        items = body["ports"]
        assert len(items) <= 5 and all(set(i) == {"id", "name"} for i in items), items
        seen += [i["id"] for i in items]
        pages += bool(items)
        assert pages <= 200, "more pages than ports / 5"
        nxt = [link["href"] for link in body.get("ports_links", []) if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert pages == 200 and seen == sorted(ids)
    assert time.monotonic() - t0 < 30, "200 pages of 5 must not each cost a scan of all ports"

    names: list[str] = []
    url = f"/ports?network_id={net['id']}&limit=50&sort_key=name&sort_dir=desc&fields=name"
    while url:
        body = me.ok("GET", url)
        names += [i["name"] for i in body["ports"]]
        nxt = [link["href"] for link in body.get("ports_links", []) if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        assert len(names) <= 1000
    assert names == [f"p{i:04d}" for i in range(999, -1, -1)]


def test_concurrent_allocations_never_share_an_address(net_user):
    """40 concurrent ports on a /27 (pool of 29, one taken by the DHCP port): exactly 28 succeed with distinct pool
    addresses, the rest are 409 IpAddressGenerationFailure; 10 concurrent requests for one fixed
    address: one 201, nine 409 IpAddressAlreadyAllocated. Never a 5xx."""
    me = net_user()
    net = me.network()
    cidr = f"{host(next_cidr4(), 0)}/27"
    sub = me.subnet(net["id"], cidr=cidr)
    assert sub["allocation_pools"] == [{"start": host(cidr, 2), "end": host(cidr, 30)}]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: me.req("POST", "/ports", json={"port": {"network_id": net["id"]}}),
                                range(40)))
    ok = [r for r in results if r.status_code == 201]
    for r in results:
        if r.status_code != 201:
            assert_error(r, 409, "IpAddressGenerationFailure")
    addresses = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in ok]
    assert len(ok) == 28 and sorted(addresses, key=ipaddress.ip_address) == [host(cidr, i) for i in range(3, 31)]

    net2 = me.network()
    sub2 = me.subnet(net2["id"])
    wanted = host(sub2["cidr"], 77)
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: me.req("POST", "/ports", json={"port": {
            "network_id": net2["id"], "fixed_ips": [{"ip_address": wanted}]}}), range(10)))
    assert sorted(r.status_code for r in results) == [201] + [409] * 9, [r.status_code for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "IpAddressAlreadyAllocated")


# ---- names --------------------------------------------------------------------------------

def test_names_are_code_points_not_normalised(net_user):
    """Names are stored and compared as given (Python str / SQL bytes): a precomposed and a
    decomposed spelling are two names, each found only by its own spelling in `?name=`, and the
    same code points come back; CJK, RTL, a leading combining mark, inner spaces and 255
    two-byte characters are valid names."""
    me = net_user()
    u = uuid.uuid4().hex[:8]
    for i, (a, b) in enumerate(EQUIVALENT_PAIRS):
        na, nb = f"n{u}-{i}-{a}", f"n{u}-{i}-{b}"
        assert unicodedata.normalize("NFC", na) == unicodedata.normalize("NFC", nb) and na != nb
        x, y = me.network(name=na), me.network(name=nb)
        assert x["name"] == na and y["name"] == nb
        assert me.show("network", x["id"])["name"].encode() == na.encode()
        assert me.ids("network", name=na) == {x["id"]}, (a, b)
        assert me.ids("network", name=nb) == {y["id"]}, (a, b)
    for name in ("\u4e2d\u6587\u7f51\u7edc" + u, "\u05e9\u05dc\u05d5\u05dd" + u, "\u0301lead" + u,
                 f"inner  spaces {u}", f"nb\u00a0sp{u}", "\u00e9" * 247 + u, f"a/b%20c?d#{u}"):
        net = me.network(name=name)
        assert net["name"] == name and me.ids("network", name=name) == {net["id"]}
    raw = me.req("GET", f"/networks?name={quote('a/b%20c?d#' + u, safe='')}")
    assert [n["name"] for n in raw.json()["networks"]] == [f"a/b%20c?d#{u}"]


def test_invalid_names_are_400(net_user):
    """validate_name_string (neutron_lib/api/validators): a name is at most 255 printable BMP
    characters (no control, format, private-use or surrogate characters, no line/paragraph
    separators, nothing outside the BMP) and neither starts nor ends with whitespace; anything
    else is 400 HTTPBadRequest, on create and update, for networks, subnets, ports and routers.
    Security group names are plain strings (validate_string) and take all of these but
    over-long ones."""
    me = net_user()
    net, _ = me.network_with_subnet()
    router = me.router()
    bad = [" lead", "trail ", "\u00a0lead", "trail\u00a0", "a\u200bb", "a\u200db", "\U0001F600",
           "a\x00b", "a\nb", "a\tb", "\ue000", "a\u2028b", "\ufeffbom", "x" * 256]
    for name in bad:
        assert_error(me.create_response("network", name=name), 400, "HTTPBadRequest")
        assert_error(me.create_response("port", network_id=net["id"], name=name), 400, "HTTPBadRequest")
        assert_error(me.create_response("subnet", network_id=net["id"], cidr=next_cidr4(), ip_version=4,
                                        name=name), 400, "HTTPBadRequest")
        assert_error(me.create_response("router", name=name), 400, "HTTPBadRequest")
        assert_error(me.req("PUT", f"/networks/{net['id']}", json={"network": {"name": name}}), 400, "HTTPBadRequest")
        assert_error(me.req("PUT", f"/routers/{router['id']}", json={"router": {"name": name}}), 400, "HTTPBadRequest")
    for name in (" lead", "\U0001F600 smile", "a\u200db"):
        sg = me.security_group(name=name)
        assert sg["name"] == name and me.show("security_group", sg["id"])["name"] == name
    assert_error(me.create_response("security_group", name="x" * 256), 400, "HTTPBadRequest")


# ---- query strings and headers ------------------------------------------------------------

def test_query_edge_cases(net_user):
    """webob/Neutron query handling: `+` is a space and `%2B` a plus; unknown filters are 400
    HTTPBadRequest even next to valid ones; typed filters with bad values are 400 InvalidInput
    (converted by the attribute's convert_to); a non-UUID id filter matches nothing; a huge
    limit is answered (200) or refused (400) but never a 5xx, a bad one 400 BadRequest, a marker that does not exist 404 NetworkNotFound;
    hundreds of repeated filter values are answered quickly; a query string of 64 KiB is a 4xx,
    not a 5xx."""
    me = net_user()
    u = uuid.uuid4().hex[:8]
    spaced = me.network(name=f"q {u}")
    plus = me.network(name=f"q+{u}")
    assert [n["id"] for n in me.ok("GET", f"/networks?name=q+{u}")["networks"]] == [spaced["id"]]
    assert [n["id"] for n in me.ok("GET", f"/networks?name=q%2B{u}")["networks"]] == [plus["id"]]
    assert [n["id"] for n in me.ok("GET", f"/networks?name=q%20{u}")["networks"]] == [spaced["id"]]
    for query in ("bogus=1", f"name=q+{u}&bogus=1", "bogus=1&other=2", "fields=id&nosuch=x"):
        assert_error(me.req("GET", f"/networks?{query}"), 400, "HTTPBadRequest")
    for query in ("admin_state_up=maybe", "shared=2", "router%3Aexternal=perhaps"):
        assert_error(me.req("GET", f"/networks?{query}"), 400, "InvalidInput")
    assert me.ok("GET", "/networks?id=not-a-uuid")["networks"] == []
    # a limit beyond any integer type: Neutron's int() takes it (and the database may not); Nimbus
    # may answer every network or refuse the limit, but not fail
    r = me.req("GET", "/networks?limit=99999999999999999999")
    if r.status_code == 200:
        assert r.json()["networks"]
    else:
        assert_error(r, 400)
    for limit in ("-1", "abc", "1.5", ""):
        assert_error(me.req("GET", f"/networks?limit={limit}"), 400, "BadRequest")
    assert_error(me.req("GET", "/networks?limit=2&marker=not-a-uuid"), 404, "NetworkNotFound")
    many = "&".join(f"name=x{i}" for i in range(500))
    r, dt = timed(me.req, "GET", f"/networks?{many}&name=q+{u}")
    assert r.status_code == 200 and [n["id"] for n in r.json()["networks"]] == [spaced["id"]] and dt < 5
    r = me.req("GET", "/networks?name=" + "x" * (64 * 1024))
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


def test_if_match_edge_cases(net_user):
    """If-Match (api_common.check_request_for_revision_constraint): any other revision, also a
    negative or a 25-digit one, is 412 RevisionNumberConstraintFailed; a malformed or repeated
    revision etag 400 BadRequest; an etag that is not a revision constraint is ignored; a
    matching one passes."""
    me = net_user()
    net = me.network()
    path = f"/networks/{net['id']}"
    for etag in ("revision_number=999999", "revision_number=-1", "revision_number=" + "9" * 25):
        r = me.req("PUT", path, json={"network": {"description": "x"}}, headers={"If-Match": etag})
        assert_error(r, 412, "RevisionNumberConstraintFailed")
    for etag in ("revision_number=", "revision_number=1.5", "revision_number=1, revision_number=2"):
        r = me.req("PUT", path, json={"network": {"description": "x"}}, headers={"If-Match": etag})
        assert_error(r, 400, "BadRequest")
    r = me.req("PUT", path, json={"network": {"description": "ignored-etag"}}, headers={"If-Match": '"abc"'})
    assert r.status_code == 200, r.text
    rev = me.show("network", net["id"])["revision_number"]
    r = me.req("PUT", path, json={"network": {"description": "ok"}}, headers={"If-Match": f"revision_number={rev}"})
    assert r.status_code == 200 and r.json()["network"]["revision_number"] == rev + 1


def test_methods_and_paths(net_user):
    """Wrong methods are 405 and unknown paths 404, in Neutron's format; a path with a NUL or
    dot segments is a 4xx."""
    me = net_user()
    net = me.network()
    for method, path, status in (("DELETE", "/networks", 405), ("PUT", "/networks", 405),
                                 ("PATCH", f"/networks/{net['id']}", 405),
                                 ("POST", f"/networks/{net['id']}", 405),
                                 ("GET", "/no-such-thing", 404),
                                 ("GET", f"/networks/{net['id']}/no-such-thing", 404)):
        r = me.req(method, path, json={"network": {}} if method in ("PUT", "POST", "PATCH") else None)
        assert_error(r, status)
    base = urlparse(me.url).path
    for path in (f"{base}/networks/%00", f"{base}/networks/..%2F..%2Fidentity", f"{base}/../../identity/v3/users"):
        r = raw_request(me.cloud.base_url, "GET", path, {"X-Auth-Token": me.token})
        assert 400 <= r.status < 500, (path, r.status, r.text[:200])


# ---- fuzz ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz(cloud, admin_net, tmp_path_factory):
    """One member in its own project with unlimited network quotas, shared by the fuzz examples,
    with a network and subnet to hang ports on."""
    project = cloud.create_project()
    password = random_password()
    user = cloud.create_user(password=password, project_id=project["id"])
    cloud.grant("member", user["id"], project["id"])
    me = Net.login(cloud, TestUser(user["name"], password, user["id"], project["name"], project["id"], "member"),
                   workdir=tmp_path_factory.mktemp("net-fuzz"))
    admin_net.ok("PUT", f"/quotas/{project['id']}", json={"quota": {
        "network": -1, "subnet": -1, "port": -1, "security_group": -1, "security_group_rule": -1}})
    net, sub = me.network_with_subnet()
    me.base = {"network": net, "subnet": sub}
    yield me
    cloud.api("DELETE", f"/users/{user['id']}")
    cloud.api("DELETE", f"/projects/{project['id']}")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["", "0", "true", "10.0.0.1", "::1", "10.0.0.0/8", "*",
                                             "fa:16:3e:00:00:01", str(uuid.uuid4()), "x" * 300]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["ip_address", "subnet_id", "start", "end", "destination", "nexthop", "mac_address",
                         "opt_name", "opt_value", "x"]), children, max_size=3),
    max_leaves=6)

NETWORK_KEYS = ["name", "admin_state_up", "shared", "description", "mtu", "port_security_enabled",
                "router:external", "availability_zone_hints", "dns_domain", "qos_policy_id", "tags",
                "provider:network_type", "segments", "is_default", "bogus"]
SUBNET_KEYS = ["name", "cidr", "ip_version", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes",
               "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode", "prefixlen", "subnetpool_id", "description",
               "service_types", "segment_id", "use_default_subnetpool", "bogus"]
PORT_KEYS = ["name", "mac_address", "fixed_ips", "admin_state_up", "device_id", "device_owner", "security_groups",
             "allowed_address_pairs", "extra_dhcp_opts", "port_security_enabled", "binding:vnic_type",
             "binding:host_id", "binding:profile", "description", "dns_name", "qos_policy_id", "propagate_uplink_status",
             "bogus"]


def _check_fuzz(me: Net, resource: str, r):
    assert r.status_code < 500, (resource, r.request.body[:500] if r.request.body else b"", r.status_code, r.text[:500])
    if r.status_code == 201:
        me.req("DELETE", f"/{resource}s/{r.json()[resource]['id']}")
    else:
        assert_4xx_neutron(r)


@PROPERTY(40)
@given(fields=st.dictionaries(st.sampled_from(NETWORK_KEYS), JSON_VALUES, min_size=1, max_size=3))
def test_fuzz_network_create_never_5xx(fuzz, fields):
    """Random JSON values for network fields: 201 or a 4xx in Neutron's format."""
    _check_fuzz(fuzz, "network", fuzz.create_response("network", **fields))


@PROPERTY(40)
@given(fields=st.dictionaries(st.sampled_from(SUBNET_KEYS), JSON_VALUES, min_size=1, max_size=3))
def test_fuzz_subnet_create_never_5xx(fuzz, fields):
    """Random JSON values for subnet fields (over a valid base): 201 or a 4xx in Neutron's format."""
    body = {"network_id": fuzz.base["network"]["id"], "ip_version": 4, "cidr": next_cidr4(), **fields}
    _check_fuzz(fuzz, "subnet", fuzz.create_response("subnet", **body))


@PROPERTY(40)
@given(fields=st.dictionaries(st.sampled_from(PORT_KEYS), JSON_VALUES, min_size=1, max_size=3))
def test_fuzz_port_create_never_5xx(fuzz, fields):
    """Random JSON values for port fields (over a valid base): 201 or a 4xx in Neutron's format."""
    body = {"network_id": fuzz.base["network"]["id"], **fields}
    _check_fuzz(fuzz, "port", fuzz.create_response("port", **body))
