"""Networking (Neutron API v2.0) at <base>/network: networks, subnets, ports, security groups,
routers, floating IPs, the topology `nimbus up` creates, quotas, RBAC, tags, and the generic
list/filter/pagination/error machinery.

The main flows go through the real `openstack` CLI (what users run) and openstacksdk; exact
status codes and bodies through plain requests (network_support.Net). Every test works in fresh
projects (`net_user`), so no test sees another's resources.

Expected behaviour is real Neutron's (openstack/neutron master with ML2 and the L3 router
plugin, openstack/neutron-lib); each docstring names the source it pins. Error bodies are
`{"NeutronError": {"type": <exception class name>, "message": ..., "detail": ""}}`
(neutron/api/api_common.py). Validation failures of the attribute maps are `HTTPBadRequest`
(neutron/api/v2/base.py prepare_request_body), converter failures `InvalidInput`
(neutron_lib/api/converters.py), policy refusals of a POST or of a change to a resource the
caller can see are 403 `PolicyNotAuthorized`, and resources the caller cannot see are 404
`<Resource>NotFound` (neutron/pecan_wsgi/hooks/policy_enforcement.py).
"""

import ipaddress
import random
import uuid
from urllib.parse import parse_qs, urlparse

import openstack.exceptions
import pytest
import requests

from network_support import (  # noqa: F401  (fixtures are used by name)
    COLLECTIONS,
    GENERATED_MAC,
    TIMESTAMP,
    UUID_RE,
    Net,
    admin_net,
    assert_error,
    assert_forbidden_cli,
    eui64,
    host,
    in_pools,
    net_user,
    next_cidr4,
    next_cidr6,
    public,
    unique,
)

NETWORK_FIELDS = {"id", "name", "project_id", "tenant_id", "admin_state_up", "status", "subnets",
                  "shared", "mtu", "router:external", "port_security_enabled", "description", "tags",
                  "revision_number", "created_at", "updated_at", "availability_zones",
                  "availability_zone_hints"}
SUBNET_FIELDS = {"id", "name", "network_id", "project_id", "tenant_id", "ip_version", "cidr",
                 "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp",
                 "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "description", "tags",
                 "revision_number", "created_at", "updated_at"}
PORT_FIELDS = {"id", "name", "network_id", "project_id", "tenant_id", "mac_address", "fixed_ips",
               "admin_state_up", "status", "device_owner", "device_id", "security_groups",
               "port_security_enabled", "allowed_address_pairs", "extra_dhcp_opts",
               "binding:vnic_type", "description", "tags", "revision_number", "created_at",
               "updated_at"}
BINDING_ADMIN_ONLY = {"binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile"}
PROVIDER = {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}

# Neutron's default quotas (neutron/conf/quota.py DEFAULT_QUOTA_*).
DEFAULT_QUOTAS = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
                  "security_group": 10, "security_group_rule": 100, "rbac_policy": 10}

# Extension aliases Nimbus' first network step serves (neutron/extensions/*.py get_alias and
# neutron_lib/api/definitions/*.py ALIAS); clients (OSC, openstacksdk, Nova, Tempest) look for these.
REQUIRED_ALIASES = {
    "router", "external-net", "ext-gw-mode", "extraroute", "security-group", "quotas",
    "quota_details", "rbac-policies", "standard-attr-tag", "standard-attr-revisions",
    "standard-attr-timestamp", "standard-attr-description", "allowed-address-pairs",
    "extra_dhcp_opt", "port-security", "binding", "provider", "network-ip-availability",
    "project-id", "net-mtu", "revision-if-match", "filter-validation", "pagination", "sorting",
}


def random_mac() -> str:
    return "02:" + ":".join(f"{random.randrange(256):02x}" for _ in range(5))


def rule_key(rule: dict) -> tuple:
    return (rule["direction"], rule["ethertype"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"], rule["remote_group_id"])


# ---- service, versions, extensions --------------------------------------------------------

def test_catalog_version_document_and_auth(cloud, admin_net):
    """Catalog type `network`, name `neutron`, public URL <base>/network. GET <base>/network/
    needs no token and is Neutron's version list (neutron/pecan_wsgi/controllers/root.py
    RootController.index, neutron/api/views/versions.py: one v2.0 CURRENT version whose self link
    is <endpoint>/v2.0/), which openstacksdk's version discovery reads. /v2.0 needs a token."""
    _, body = cloud.token("admin", cloud.admin_password, "admin")
    services = [s for s in body["token"]["catalog"] if s["type"] == "network"]
    assert len(services) == 1 and services[0]["name"] == "neutron", services
    urls = {ep["interface"]: ep["url"].rstrip("/") for ep in services[0]["endpoints"]}
    assert urls.get("public") == f"{cloud.base_url}/network", urls
    r = requests.get(f"{cloud.base_url}/network/", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
        {"rel": "self", "href": f"{cloud.base_url}/network/v2.0/"}]}]}
    assert requests.get(f"{cloud.base_url}/network/v2.0/networks", timeout=30).status_code == 401
    bad = requests.get(f"{cloud.base_url}/network/v2.0/networks", timeout=30,
                       headers={"X-Auth-Token": "not-a-token"})
    assert bad.status_code == 401


def test_extensions(net_user):
    """GET /v2.0/extensions lists {name, alias, description, updated, links} per extension
    (neutron/pecan_wsgi/controllers/extensions.py); GET /v2.0/extensions/<alias> shows one and is
    404 for an unknown alias (OSC probes e.g. `external-gateway-multihoming` and
    `tag-ports-during-bulk-creation` that way and must get a 404 when they are absent)."""
    me = net_user()
    exts = me.ok("GET", "/extensions")["extensions"]
    for ext in exts:
        assert {"name", "alias", "description", "updated", "links"} <= set(ext), ext
    aliases = {e["alias"] for e in exts}
    assert not REQUIRED_ALIASES - aliases, sorted(REQUIRED_ALIASES - aliases)
    assert len(aliases) == len(exts), "aliases are unique"
    one = me.ok("GET", "/extensions/router")["extension"]
    assert one["alias"] == "router" and one["name"], one
    r = me.req("GET", "/extensions/no-such-extension-here")
    assert r.status_code == 404, r.text


# ---- networks -----------------------------------------------------------------------------

def test_network_lifecycle_cli(net_user):
    """`openstack network create/show/list/set/delete` as a member, and the network as the API
    shows it: Neutron's defaults for a self-service (VXLAN) network (ML2: mtu 1450 =
    global_physnet_mtu 1500 - 50 VXLAN overhead, status ACTIVE, admin_state_up, not shared,
    not external, port security on, no zone hints), timestamps in whole
    seconds with Z, a revision_number that grows by one per update, no provider attributes for
    a member (policy get_network:provider:* is admin-only). availability_zones is a list (empty
    with ML2/OVS and no DHCP agent, the gateway chassis' zone with OVN: not pinned)."""
    me = net_user()
    name = unique("net")
    created = me.cli("network", "create", "--description", "first", name, "-f", "json")
    nid = created["id"]
    assert UUID_RE.match(nid) and created["name"] == name and created["mtu"] == 1450, created

    net = me.show("network", nid)
    assert NETWORK_FIELDS <= set(net), NETWORK_FIELDS - set(net)
    assert not PROVIDER & set(net), net
    assert net["name"] == name and net["description"] == "first"
    assert net["project_id"] == net["tenant_id"] == me.project_id
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True
    assert net["shared"] is False and net["router:external"] is False
    assert net["port_security_enabled"] is True and net["mtu"] == 1450
    assert net["subnets"] == [] and net["tags"] == []
    assert isinstance(net["availability_zones"], list) and net["availability_zone_hints"] == []
    assert isinstance(net["revision_number"], int)
    assert TIMESTAMP.match(net["created_at"]) and TIMESTAMP.match(net["updated_at"]), net

    assert me.cli("network", "show", name, "-f", "json")["id"] == nid       # found by name
    assert nid in {n["ID"] for n in me.cli("network", "list", "-f", "json")}

    new_name = unique("renamed")
    me.cli("network", "set", "--name", new_name, "--description", "second", "--disable", nid)
    after = me.show("network", nid)
    assert after["name"] == new_name and after["description"] == "second"
    assert after["admin_state_up"] is False
    assert after["revision_number"] == net["revision_number"] + 1, (net, after)
    assert after["created_at"] == net["created_at"] and after["updated_at"] >= net["updated_at"]

    me.cli("network", "delete", nid)
    assert_error(me.req("GET", f"/networks/{nid}"), 404, "NetworkNotFound")
    assert nid not in me.ids("network")


def test_network_sdk_and_if_match(net_user):
    """openstacksdk create/get/update/delete, and compare-and-swap updates: `If-Match:
    revision_number=N` on a PUT or DELETE fails with 412 RevisionNumberConstraintFailed when the
    resource is at another revision (neutron/services/revisions/revision_plugin.py), a malformed
    revision etag is 400 BadRequest, a matching one succeeds (neutron/api/api_common.py
    check_request_for_revision_constraint)."""
    me = net_user()
    conn = me.sdk()
    try:
        net = conn.network.create_network(name=unique("sdk"), description="d")
        got = conn.network.get_network(net.id)
        assert got.name == net.name and got.mtu == 1450 and got.project_id == me.project_id
        rev = got.revision_number
        # (by id: openstacksdk does not resend an unchanged If-Match header on the same object)
        updated = conn.network.update_network(net.id, name=unique("sdk2"), if_revision=rev)
        assert updated.revision_number == rev + 1
        with pytest.raises(openstack.exceptions.HttpException) as stale:
            conn.network.update_network(net.id, description="stale", if_revision=rev)
        assert stale.value.status_code == 412

        path = f"/networks/{net.id}"
        r = me.req("PUT", path, json={"network": {"description": "x"}},
                   headers={"If-Match": f"revision_number={rev}"})
        assert_error(r, 412, "RevisionNumberConstraintFailed")
        r = me.req("PUT", path, json={"network": {"description": "x"}},
                   headers={"If-Match": "revision_number=abc"})
        assert_error(r, 400, "BadRequest")
        current = me.show("network", net.id)["revision_number"]
        ok = me.update("network", net.id, headers={"If-Match": f"revision_number={current}"},
                       description="cas")
        assert ok["description"] == "cas" and ok["revision_number"] == current + 1
        assert_error(me.req("DELETE", path, headers={"If-Match": f"revision_number={current}"}),
                     412, "RevisionNumberConstraintFailed")
        assert me.show("network", net.id)["description"] == "cas"
        me.ok("DELETE", path, status=204, headers={"If-Match": f"revision_number={current + 1}"})
        assert conn.network.find_network(net.id) is None
    finally:
        conn.close()


def test_network_admin_only_attributes(admin_net, net_user):
    """Provider attributes, `shared` and `router:external` are admin-only to set
    (neutron/conf/policies/network.py create_network:provider:* / :shared / :router:external =
    admin): a member's POST gets 403 PolicyNotAuthorized, as does a member's PUT of them on its
    own network. The admin sees a member network's segment: VXLAN, no physical network, a VNI."""
    me = net_user()
    for attrs in ({"provider:network_type": "vxlan"}, {"provider:segmentation_id": 4242},
                  {"provider:physical_network": "physnet1"}, {"shared": True},
                  {"router:external": True}):
        assert_error(me.create_response("network", name=unique("x"), **attrs), 403, "PolicyNotAuthorized")
    net = me.network()
    assert not PROVIDER & set(net) and not PROVIDER & set(me.show("network", net["id"]))
    for attrs in ({"shared": True}, {"router:external": True}, {"provider:network_type": "vlan"}):
        r = me.req("PUT", f"/networks/{net['id']}", json={"network": attrs})
        assert_error(r, 403, "PolicyNotAuthorized")

    seen = admin_net.show("network", net["id"])
    assert seen["provider:network_type"] == "vxlan", seen
    assert seen["provider:physical_network"] is None
    assert isinstance(seen["provider:segmentation_id"], int) and 1 <= seen["provider:segmentation_id"] < 2 ** 24
    assert admin_net.update("network", net["id"], shared=True)["shared"] is True
    assert me.show("network", net["id"])["shared"] is True
    assert admin_net.update("network", net["id"], shared=False)["shared"] is False
    (listed,) = admin_net.list("network", project_id=me.project_id)
    assert listed["id"] == net["id"] and PROVIDER <= set(listed)


def test_network_delete_semantics(net_user):
    """A network with a user port cannot go (409 NetworkInUse), nor its subnet (409 SubnetInUse);
    DHCP ports do not count: deleting a network removes its `network:dhcp` ports and its subnets
    (neutron/db/db_base_plugin_v2.py delete_network, _ensure_network_not_in_use,
    AUTO_DELETE_PORT_OWNERS; delete_subnet / _ensure_no_user_ports_on_subnet)."""
    me = net_user()
    net, sub = me.network_with_subnet()
    port = me.port(net["id"])
    assert_error(me.req("DELETE", f"/networks/{net['id']}"), 409, "NetworkInUse")
    assert_error(me.req("DELETE", f"/subnets/{sub['id']}"), 409, "SubnetInUse")
    me.delete("port", port["id"])
    dhcp = me.port(net["id"], device_owner="network:dhcp", device_id=f"dhcp{uuid.uuid4()}")
    assert dhcp["port_security_enabled"] is False and dhcp["security_groups"] == []
    me.delete("network", net["id"])
    assert_error(me.req("GET", f"/subnets/{sub['id']}"), 404, "SubnetNotFound")
    assert_error(me.req("GET", f"/ports/{dhcp['id']}"), 404, "PortNotFound")
    assert_error(me.req("DELETE", f"/networks/{net['id']}"), 404, "NetworkNotFound")

    net2, sub2 = me.network_with_subnet()
    me.delete("subnet", sub2["id"])
    assert me.show("network", net2["id"])["subnets"] == []
    me.delete("network", net2["id"])


# ---- subnets ------------------------------------------------------------------------------

def test_subnet_ipv4_cli(net_user):
    """`openstack subnet create`: the default gateway is the first address and the default pool
    the rest but the broadcast address (.2-.254 of a /24; neutron/ipam/utils.py generate_pools);
    an explicit gateway, allocation pools, --no-dhcp, DNS servers (order kept) and host routes
    come back as given; the network's `subnets` lists both subnets."""
    me = net_user()
    net = me.network()
    cidr = next_cidr4()
    sid = me.cli("subnet", "create", "--network", net["id"], "--subnet-range", cidr,
                 unique("sub"), "-f", "json")["id"]
    s = me.show("subnet", sid)
    assert SUBNET_FIELDS <= set(s), SUBNET_FIELDS - set(s)
    assert s["network_id"] == net["id"] and s["project_id"] == me.project_id
    assert s["cidr"] == cidr and s["ip_version"] == 4 and s["gateway_ip"] == host(cidr, 1)
    assert s["allocation_pools"] == [{"start": host(cidr, 2), "end": host(cidr, -2)}]
    assert s["enable_dhcp"] is True and s["dns_nameservers"] == [] and s["host_routes"] == []
    assert s["ipv6_ra_mode"] is None and s["ipv6_address_mode"] is None and s["subnetpool_id"] is None
    assert TIMESTAMP.match(s["created_at"]) and s["tags"] == [] and s["description"] == ""

    cidr2 = next_cidr4()
    nexthop = host(cidr2, 5)
    sid2 = me.cli("subnet", "create", "--network", net["id"], "--subnet-range", cidr2,
                  "--gateway", host(cidr2, 254), "--no-dhcp",
                  "--allocation-pool", f"start={host(cidr2, 10)},end={host(cidr2, 20)}",
                  "--allocation-pool", f"start={host(cidr2, 30)},end={host(cidr2, 40)}",
                  "--dns-nameserver", "192.0.2.54", "--dns-nameserver", "192.0.2.53",
                  "--host-route", f"destination=198.51.100.0/24,gateway={nexthop}",
                  unique("sub"), "-f", "json")["id"]
    s2 = me.show("subnet", sid2)
    assert s2["gateway_ip"] == host(cidr2, 254) and s2["enable_dhcp"] is False
    assert sorted(s2["allocation_pools"], key=lambda p: ipaddress.ip_address(p["start"])) == [
        {"start": host(cidr2, 10), "end": host(cidr2, 20)},
        {"start": host(cidr2, 30), "end": host(cidr2, 40)}]
    assert s2["dns_nameservers"] == ["192.0.2.54", "192.0.2.53"]
    assert s2["host_routes"] == [{"destination": "198.51.100.0/24", "nexthop": nexthop}]
    assert sorted(me.show("network", net["id"])["subnets"]) == sorted([sid, sid2])
    assert me.ids("subnet", network_id=net["id"]) == {sid, sid2}
    assert me.ids("subnet", cidr=cidr2) == {sid2}


def test_subnet_update_defaults_and_read_only(net_user):
    """A CIDR given with host bits is stored as its network (db_base_plugin_v2
    _create_subnet_precommit); gateway_ip null means no gateway and the pool starts at .1;
    name, DNS servers, host routes, DHCP and pools can change, while cidr, ip_version and
    network_id are read-only (400 HTTPBadRequest 'Cannot update read-only attribute')."""
    me = net_user()
    net = me.network()
    cidr = next_cidr4()
    s = me.subnet(net["id"], cidr=f"{host(cidr, 77)}/24")
    assert s["cidr"] == cidr, s
    c2 = next_cidr4()
    nogw = me.subnet(net["id"], cidr=c2, gateway_ip=None)
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": host(c2, 1), "end": host(c2, -2)}]

    u = me.update("subnet", s["id"], name="renamed", dns_nameservers=["192.0.2.1"],
                  host_routes=[{"destination": "203.0.113.0/24", "nexthop": host(cidr, 9)}],
                  enable_dhcp=False,
                  allocation_pools=[{"start": host(cidr, 100), "end": host(cidr, 200)}])
    assert u["name"] == "renamed" and u["dns_nameservers"] == ["192.0.2.1"] and u["enable_dhcp"] is False
    assert u["host_routes"] == [{"destination": "203.0.113.0/24", "nexthop": host(cidr, 9)}]
    assert u["allocation_pools"] == [{"start": host(cidr, 100), "end": host(cidr, 200)}]
    assert u["revision_number"] > s["revision_number"]
    assert me.update("subnet", s["id"], dns_nameservers=[], host_routes=[])["dns_nameservers"] == []

    other = me.network()
    for attrs in ({"cidr": next_cidr4()}, {"ip_version": 6}, {"network_id": other["id"]},
                  {"ipv6_ra_mode": "slaac"}):
        assert_error(me.req("PUT", f"/subnets/{s['id']}", json={"subnet": attrs}), 400, "HTTPBadRequest")


def test_subnet_ipv6_slaac_and_dhcpv6_stateful(net_user):
    """IPv6 subnets: a SLAAC /64 (CLI) has gateway ::1 and pool ::2 to the last address (no
    broadcast in IPv6, generate_pools); a port on it gets the EUI-64 address of its MAC
    (ipam: auto-address subnets) and cannot ask for another address there (400
    AllocationOnAutoAddressSubnet). A DHCPv6-stateful subnet hands out pool addresses. RA and
    address modes must agree, SLAAC needs a /64, the modes need DHCP on and IPv6 (400
    InvalidInput, db_base_plugin_v2 _validate_ipv6_attributes). CIDRs come back canonical."""
    me = net_user()
    net = me.network()
    cidr = next_cidr6()
    sid = me.cli("subnet", "create", "--network", net["id"], "--ip-version", "6",
                 "--subnet-range", cidr, "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac",
                 unique("v6"), "-f", "json")["id"]
    s = me.show("subnet", sid)
    assert s["ip_version"] == 6 and s["cidr"] == cidr
    assert s["ipv6_ra_mode"] == "slaac" and s["ipv6_address_mode"] == "slaac"
    assert s["gateway_ip"] == host(cidr, 1)
    assert s["allocation_pools"] == [{"start": host(cidr, 2), "end": host(cidr, -1)}]
    port = me.port(net["id"])
    assert port["fixed_ips"] == [{"subnet_id": sid, "ip_address": eui64(cidr, port["mac_address"])}], port
    r = me.create_response("port", network_id=net["id"],
                           fixed_ips=[{"subnet_id": sid, "ip_address": host(cidr, 99)}])
    assert_error(r, 400, "AllocationOnAutoAddressSubnet")

    net2 = me.network()
    cidr2 = next_cidr6()
    exploded = ipaddress.IPv6Network(cidr2).exploded.upper()
    st = me.subnet(net2["id"], cidr=exploded, ip_version=6, ipv6_ra_mode="dhcpv6-stateful",
                   ipv6_address_mode="dhcpv6-stateful")
    assert st["cidr"] == cidr2, st
    p2 = me.port(net2["id"])
    (ip,) = [f["ip_address"] for f in p2["fixed_ips"]]
    assert in_pools(ip, st["allocation_pools"]) and ip != st["gateway_ip"], (ip, st)

    net3 = me.network()
    bad = [
        {"cidr": next_cidr6(), "ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"},
        {"cidr": next_cidr6().replace("/64", "/80"), "ip_version": 6, "ipv6_ra_mode": "slaac",
         "ipv6_address_mode": "slaac"},
        {"cidr": next_cidr6(), "ip_version": 6, "ipv6_address_mode": "slaac", "enable_dhcp": False},
        {"cidr": next_cidr4(), "ip_version": 4, "ipv6_address_mode": "slaac"},
    ]
    for attrs in bad:
        assert_error(me.create_response("subnet", network_id=net3["id"], **attrs), 400, "InvalidInput")


def test_subnet_overlap_invalid_cidr_and_ownership(net_user):
    """Subnets of one network may not overlap (400 InvalidInput, ipam_backend_mixin
    _validate_subnet_cidr); an unparsable CIDR is 400 InvalidInput (converters
    convert_cidr_to_canonical_format); a subnet on another project's private network is a POST
    refused by policy, 403 PolicyNotAuthorized (policies/subnet.py create_subnet: admin or
    network owner), and on a network that does not exist 404 NetworkNotFound."""
    me, other = net_user(), net_user()
    net, sub = me.network_with_subnet()
    cidr = sub["cidr"]
    wider = str(ipaddress.ip_network(cidr).supernet(new_prefix=22))
    for overlap in (cidr, wider, f"{host(cidr, 128)}/25"):
        r = me.create_response("subnet", network_id=net["id"], cidr=overlap, ip_version=4)
        assert_error(r, 400, "InvalidInput")
    for bad in ("abc", "10.0.0.0/33", "10.0.0.256/24", "::/129"):
        r = me.create_response("subnet", network_id=net["id"], cidr=bad, ip_version=4)
        assert_error(r, 400, "InvalidInput")
    assert_error(other.create_response("subnet", network_id=net["id"], cidr=next_cidr4(), ip_version=4),
                 403, "PolicyNotAuthorized")
    assert_error(me.create_response("subnet", network_id=str(uuid.uuid4()), cidr=next_cidr4(), ip_version=4),
                 404, "NetworkNotFound")
    assert me.show("network", net["id"])["subnets"] == [sub["id"]]


# ---- ports --------------------------------------------------------------------------------

def test_port_create_cli_and_addresses(net_user):
    """`openstack port create`: an automatic address from the subnet's pool (Neutron allocates
    from the pool; which one is not pinned), a fixed address by subnet+address, a given MAC
    (stored lower-case, converters.convert_to_sanitized_mac_address) or a generated one with
    base_mac's fa:16:3e prefix; status DOWN while unbound (ML2 _before_create_port); the default
    security group; the `fixed_ips=ip_address=...` filter Nova uses."""
    me = net_user()
    net, sub = me.network_with_subnet()
    cidr = sub["cidr"]
    pid = me.cli("port", "create", "--network", net["id"], unique("p"), "-f", "json")["id"]
    p = me.show("port", pid)
    assert PORT_FIELDS <= set(p), PORT_FIELDS - set(p)
    assert not BINDING_ADMIN_ONLY & set(p), p
    assert p["network_id"] == net["id"] and p["project_id"] == p["tenant_id"] == me.project_id
    assert p["status"] == "DOWN" and p["admin_state_up"] is True
    assert p["device_owner"] == "" and p["device_id"] == "" and p["binding:vnic_type"] == "normal"
    assert GENERATED_MAC.match(p["mac_address"]), p["mac_address"]
    (fip,) = p["fixed_ips"]
    assert fip["subnet_id"] == sub["id"] and in_pools(fip["ip_address"], sub["allocation_pools"])
    assert p["security_groups"] == [me.default_security_group()["id"]]
    assert p["port_security_enabled"] is True and p["allowed_address_pairs"] == [] and p["extra_dhcp_opts"] == []
    assert TIMESTAMP.match(p["created_at"])

    fixed = host(cidr, 100)
    pid2 = me.cli("port", "create", "--network", net["id"], "--mac-address", "02:00:00:AB:CD:EF",
                  "--fixed-ip", f"subnet={sub['id']},ip-address={fixed}", unique("p"), "-f", "json")["id"]
    p2 = me.show("port", pid2)
    assert p2["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": fixed}]
    assert p2["mac_address"] == "02:00:00:ab:cd:ef"

    by_subnet = me.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert in_pools(by_subnet["fixed_ips"][0]["ip_address"], sub["allocation_pools"])
    by_address = me.port(net["id"], fixed_ips=[{"ip_address": host(cidr, 101)}])
    assert by_address["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": host(cidr, 101)}]
    two = me.port(net["id"], fixed_ips=[{"subnet_id": sub["id"], "ip_address": host(cidr, 102)},
                                        {"subnet_id": sub["id"], "ip_address": host(cidr, 103)}])
    assert sorted(f["ip_address"] for f in two["fixed_ips"]) == [host(cidr, 102), host(cidr, 103)]
    addresses = {f["ip_address"] for q in (p, p2, by_subnet, by_address, two) for f in q["fixed_ips"]}
    assert len(addresses) == 6, "every address is allocated once"

    assert me.ids("port", **{"fixed_ips": f"ip_address={fixed}"}) == {pid2}
    assert me.ids("port", mac_address="02:00:00:ab:cd:ef") == {pid2}
    assert me.ids("port", network_id=net["id"]) - me.ids("port", network_id=net["id"], device_owner="network:dhcp") \
        == {pid, pid2, by_subnet["id"], by_address["id"], two["id"]}


def test_port_address_and_mac_conflicts(net_user):
    """A taken address is 409 IpAddressAlreadyAllocated (neutron/ipam/drivers/neutrondb_ipam
    _verify_ip); an address outside the given subnet 400 InvalidIpForSubnet, outside every subnet
    of the network 400 InvalidIpForNetwork, a subnet of another network 400 InvalidInput, fixed
    IPs on a network without subnets 400 InvalidInput (ipam_backend_mixin
    _get_subnet_for_fixed_ip); a MAC taken on the same network 409 MacAddressInUse (free on
    another network); a member may not change a MAC (policy update_port:mac_address needs the
    manager role: 403); a port on a missing network 404 NetworkNotFound."""
    me = net_user()
    net, sub = me.network_with_subnet()
    other_net, other_sub = me.network_with_subnet()
    ip = host(sub["cidr"], 20)
    me.port(net["id"], fixed_ips=[{"ip_address": ip}])
    assert_error(me.create_response("port", network_id=net["id"], fixed_ips=[{"ip_address": ip}]),
                 409, "IpAddressAlreadyAllocated")
    r = me.create_response("port", network_id=net["id"],
                           fixed_ips=[{"subnet_id": sub["id"], "ip_address": host(other_sub["cidr"], 5)}])
    assert_error(r, 400, "InvalidIpForSubnet")
    r = me.create_response("port", network_id=net["id"],
                           fixed_ips=[{"subnet_id": sub["id"], "ip_address": host(sub["cidr"], 0)}])
    assert_error(r, 400, "InvalidIpForSubnet")
    assert_error(me.create_response("port", network_id=net["id"], fixed_ips=[{"ip_address": "192.0.2.1"}]),
                 400, "InvalidIpForNetwork")
    assert_error(me.create_response("port", network_id=net["id"], fixed_ips=[{"subnet_id": other_sub["id"]}]),
                 400, "InvalidInput")
    bare = me.network()
    assert_error(me.create_response("port", network_id=bare["id"], fixed_ips=[{"ip_address": ip}]),
                 400, "InvalidInput")
    assert me.port(bare["id"])["fixed_ips"] == []

    mac = random_mac()
    first = me.port(net["id"], mac_address=mac)
    assert_error(me.create_response("port", network_id=net["id"], mac_address=mac), 409, "MacAddressInUse")
    assert me.port(other_net["id"], mac_address=mac)["mac_address"] == mac
    r = me.req("PUT", f"/ports/{first['id']}", json={"port": {"mac_address": random_mac()}})
    assert_error(r, 403, "PolicyNotAuthorized")
    assert_error(me.create_response("port", network_id=str(uuid.uuid4())), 404, "NetworkNotFound")


def test_port_device_address_pairs_and_dhcp_options(net_user):
    """device_owner/device_id are free-form for the network owner and filterable; an allowed
    address pair without a MAC takes the port's MAC (ML2 _process_create_allowed_address_pairs);
    extra DHCP options come back with ip_version 4 by default (extradhcpopt_db); name,
    description and admin_state_up update, and the pairs can be cleared."""
    me = net_user()
    net, _ = me.network_with_subnet()
    device = str(uuid.uuid4())
    p = me.port(net["id"], device_owner="compute:nova", device_id=device,
                allowed_address_pairs=[{"ip_address": "192.0.2.50"},
                                       {"ip_address": "198.51.100.0/24", "mac_address": "02:00:00:00:00:99"}],
                extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
                                 {"opt_name": "tftp-server", "opt_value": "192.0.2.10", "ip_version": 4}])
    assert p["device_owner"] == "compute:nova" and p["device_id"] == device
    assert sorted(p["allowed_address_pairs"], key=lambda a: a["ip_address"]) == [
        {"ip_address": "192.0.2.50", "mac_address": p["mac_address"]},
        {"ip_address": "198.51.100.0/24", "mac_address": "02:00:00:00:00:99"}]
    assert sorted(p["extra_dhcp_opts"], key=lambda o: o["opt_name"]) == [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
        {"opt_name": "tftp-server", "opt_value": "192.0.2.10", "ip_version": 4}]
    shown = me.show("port", p["id"])
    assert sorted(shown["extra_dhcp_opts"], key=lambda o: o["opt_name"]) == \
        sorted(p["extra_dhcp_opts"], key=lambda o: o["opt_name"])
    assert me.ids("port", device_id=device) == {p["id"]}
    assert me.ids("port", device_owner="compute:nova", network_id=net["id"]) == {p["id"]}

    u = me.update("port", p["id"], name="renamed", description="desc", admin_state_up=False,
                  allowed_address_pairs=[])
    assert u["name"] == "renamed" and u["description"] == "desc" and u["admin_state_up"] is False
    assert u["allowed_address_pairs"] == [] and u["revision_number"] > p["revision_number"]
    u = me.update("port", p["id"], device_id="", device_owner="")
    assert u["device_id"] == "" and u["device_owner"] == ""


def test_port_security(net_user):
    """Port security and security groups (ML2 _portsec_ext_port_create_processing /
    _portsec_ext_port_update_processing): groups on a port without port security are 400
    PortSecurityAndIPRequiredForSecurityGroups; address pairs need port security (409
    AddressPairAndPortSecurityRequired); turning it off while groups remain is 409
    PortSecurityPortHasSecurityGroup; ports on a network without port security default to none
    and no groups; an explicit empty group list is kept."""
    me = net_user()
    net, _ = me.network_with_subnet()
    sg = me.security_group()
    r = me.create_response("port", network_id=net["id"], port_security_enabled=False, security_groups=[sg["id"]])
    assert_error(r, 400, "PortSecurityAndIPRequiredForSecurityGroups")
    bare = me.port(net["id"], port_security_enabled=False)
    assert bare["port_security_enabled"] is False and bare["security_groups"] == []
    r = me.create_response("port", network_id=net["id"], port_security_enabled=False,
                           allowed_address_pairs=[{"ip_address": "192.0.2.9"}])
    assert_error(r, 409, "AddressPairAndPortSecurityRequired")

    guarded = me.port(net["id"])
    default = me.default_security_group()["id"]
    assert guarded["port_security_enabled"] is True and guarded["security_groups"] == [default]
    r = me.req("PUT", f"/ports/{guarded['id']}", json={"port": {"port_security_enabled": False}})
    assert_error(r, 409, "PortSecurityPortHasSecurityGroup")
    off = me.update("port", guarded["id"], port_security_enabled=False, security_groups=[])
    assert off["port_security_enabled"] is False and off["security_groups"] == []
    r = me.req("PUT", f"/ports/{guarded['id']}", json={"port": {"security_groups": [sg["id"]]}})
    assert_error(r, 400, "PortSecurityAndIPRequiredForSecurityGroups")
    on = me.update("port", guarded["id"], port_security_enabled=True, security_groups=[sg["id"], default])
    assert on["port_security_enabled"] is True and sorted(on["security_groups"]) == sorted([sg["id"], default])

    insecure = me.network(port_security_enabled=False)
    assert insecure["port_security_enabled"] is False
    p = me.port(insecure["id"])
    assert p["port_security_enabled"] is False and p["security_groups"] == []
    empty = me.port(net["id"], security_groups=[])
    assert empty["port_security_enabled"] is True and empty["security_groups"] == []


def test_port_binding_attributes_are_admin_only(admin_net, net_user):
    """binding:host_id/vif_type/vif_details/profile are hidden from members and admin-only (or
    service-only) to set (policies/port.py get_port:binding:* / create_port:binding:host_id,
    :profile): 403 for a member's POST or PUT. binding:vnic_type is the member's ("normal").
    An unbound port, as the admin sees it: host_id "", vif_type "unbound", vif_details {},
    profile {} (ML2 port binding defaults)."""
    me = net_user()
    net, _ = me.network_with_subnet()
    port = me.port(net["id"])
    assert not BINDING_ADMIN_ONLY & set(port) and port["binding:vnic_type"] == "normal"
    seen = admin_net.show("port", port["id"])
    assert seen["binding:host_id"] == "" and seen["binding:vif_type"] == "unbound", seen
    assert seen["binding:vif_details"] == {} and seen["binding:profile"] == {}
    assert seen["binding:vnic_type"] == "normal" and seen["status"] == "DOWN"
    for attrs in ({"binding:host_id": "node-1"}, {"binding:profile": {"a": "b"}}):
        assert_error(me.create_response("port", network_id=net["id"], **attrs), 403, "PolicyNotAuthorized")
        assert_error(me.req("PUT", f"/ports/{port['id']}", json={"port": attrs}), 403, "PolicyNotAuthorized")
    assert not BINDING_ADMIN_ONLY & set(me.list("port", network_id=net["id"])[0])


def test_port_fixed_ip_update_and_address_reuse(net_user):
    """Updating fixed_ips moves the port to the new address and frees the old one; an address in
    use is 409 IpAddressAlreadyAllocated on update too; deleting a port frees its address for
    the next port; network_id is read-only (400); a deleted port is 404 PortNotFound."""
    me = net_user()
    net, sub = me.network_with_subnet()
    a, b = host(sub["cidr"], 30), host(sub["cidr"], 31)
    p = me.port(net["id"], fixed_ips=[{"ip_address": a}])
    u = me.update("port", p["id"], fixed_ips=[{"subnet_id": sub["id"], "ip_address": b}])
    assert u["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": b}]
    q = me.port(net["id"], fixed_ips=[{"ip_address": a}])
    r = me.req("PUT", f"/ports/{p['id']}", json={"port": {"fixed_ips": [{"ip_address": a}]}})
    assert_error(r, 409, "IpAddressAlreadyAllocated")
    me.delete("port", q["id"])
    again = me.port(net["id"], fixed_ips=[{"ip_address": a}])
    assert again["fixed_ips"][0]["ip_address"] == a
    other = me.network()
    r = me.req("PUT", f"/ports/{p['id']}", json={"port": {"network_id": other["id"]}})
    assert_error(r, 400, "HTTPBadRequest")
    me.delete("port", again["id"])
    assert_error(me.req("DELETE", f"/ports/{again['id']}"), 404, "PortNotFound")
    assert_error(me.req("GET", f"/ports/{again['id']}"), 404, "PortNotFound")


def test_allocation_pool_exhaustion(net_user):
    """A /29 has the pool .2-.6; the network's DHCP port takes .2 (as Neutron's DHCP agent does),
    four ports take the rest and the next is 409 IpAddressGenerationFailure
    (neutron/db/ipam_pluggable_backend.py _ipam_allocate_ips)."""
    me = net_user()
    net = me.network()
    cidr = f"{host(next_cidr4(), 0)}/29"
    sub = me.subnet(net["id"], cidr=cidr)
    assert sub["allocation_pools"] == [{"start": host(cidr, 2), "end": host(cidr, 6)}]
    dhcp = me.list("port", network_id=net["id"], device_owner="network:dhcp")
    assert [p["fixed_ips"][0]["ip_address"] for p in dhcp] == [host(cidr, 2)]
    got = {me.port(net["id"])["fixed_ips"][0]["ip_address"] for _ in range(4)}
    assert got == {host(cidr, i) for i in range(3, 7)}
    assert_error(me.create_response("port", network_id=net["id"]), 409, "IpAddressGenerationFailure")


# ---- security groups ----------------------------------------------------------------------

def test_default_security_group(net_user):
    """Every project gets one `default` group on first use (listing groups creates it;
    securitygroups_db get_security_groups / _ensure_default_security_group), described "Default
    security group", with the four template rules (migration c33da356b165): egress IPv4 and IPv6
    to anywhere, ingress IPv4 and IPv6 from members of the group itself. A new group starts with
    the two egress rules. `default` is reserved: creating another is 409
    SecurityGroupDefaultAlreadyExists (any case), renaming it 409
    SecurityGroupCannotUpdateDefault, a member deleting it 409 SecurityGroupCannotRemoveDefault,
    and a group in use by a port 409 SecurityGroupInUse."""
    me = net_user()
    groups = me.list("security_group")
    defaults = [g for g in groups if g["name"] == "default"]
    assert len(defaults) == 1, groups
    sg = defaults[0]
    assert sg["description"] == "Default security group" and sg["project_id"] == me.project_id
    assert sorted(map(rule_key, sg["security_group_rules"]), key=repr) == sorted([
        ("egress", "IPv4", None, None, None, None, None),
        ("egress", "IPv6", None, None, None, None, None),
        ("ingress", "IPv4", None, None, None, None, sg["id"]),
        ("ingress", "IPv6", None, None, None, None, sg["id"])], key=repr)
    for rule in sg["security_group_rules"]:
        assert rule["security_group_id"] == sg["id"] and rule["project_id"] == me.project_id
    assert len(me.list("security_group", name="default")) == 1
    assert len(me.list("security_group_rule", security_group_id=sg["id"])) == 4

    new = me.security_group(description="web")
    assert new["description"] == "web"
    assert sorted(map(rule_key, new["security_group_rules"]), key=repr) == sorted([
        ("egress", "IPv4", None, None, None, None, None),
        ("egress", "IPv6", None, None, None, None, None)], key=repr)
    for name in ("default", "Default"):
        assert_error(me.create_response("security_group", name=name), 409, "SecurityGroupDefaultAlreadyExists")
    r = me.req("PUT", f"/security-groups/{sg['id']}", json={"security_group": {"name": "renamed"}})
    assert_error(r, 409, "SecurityGroupCannotUpdateDefault")
    assert me.update("security_group", sg["id"], description="changed")["description"] == "changed"
    assert_error(me.req("DELETE", f"/security-groups/{sg['id']}"), 409, "SecurityGroupCannotRemoveDefault")

    net = me.network()
    port = me.port(net["id"], security_groups=[new["id"]])
    assert_error(me.req("DELETE", f"/security-groups/{new['id']}"), 409, "SecurityGroupInUse")
    me.update("port", port["id"], security_groups=[])
    me.delete("security_group", new["id"])
    assert_error(me.req("GET", f"/security-groups/{new['id']}"), 404, "SecurityGroupNotFound")
    assert me.list("security_group_rule", security_group_id=new["id"]) == []


def test_security_group_rules_cli(net_user):
    """`openstack security group create` and `security group rule create` for a TCP port range
    from a CIDR, ICMP type/code from a remote group, and IPv6 (OSC sends ::/0); the same rule
    again is 409 SecurityGroupRuleExists, also when spelled differently (0.0.0.0/0 = no prefix,
    protocol 17 = udp; securitygroups_db _rule_to_key). The full 1-65535 range is stored as no
    range, `any` protocol as null, a host address gets /32 while a prefix with host bits is kept,
    ethertype is case-insensitive (securitygroups_db _make_canonical_port_range,
    securitygroup.py convert_*). A deleted rule is gone from the group."""
    me = net_user()
    sgid = me.cli("security", "group", "create", "--description", "web tier", unique("web"), "-f", "json")["id"]
    peer = me.security_group()
    ssh = me.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22:23",
                 "--remote-ip", "192.0.2.0/24", sgid, "-f", "json")["id"]
    ping = me.cli("security", "group", "rule", "create", "--protocol", "icmp", "--icmp-type", "8",
                  "--icmp-code", "0", "--remote-group", peer["id"], sgid, "-f", "json")["id"]
    https6 = me.cli("security", "group", "rule", "create", "--ethertype", "IPv6", "--protocol", "tcp",
                    "--dst-port", "443", sgid, "-f", "json")["id"]
    rules = {r["id"]: r for r in me.list("security_group_rule", security_group_id=sgid)}
    assert len(rules) == 5 and {ssh, ping, https6} <= set(rules), rules
    assert rule_key(rules[ssh]) == ("ingress", "IPv4", "tcp", 22, 23, "192.0.2.0/24", None)
    assert rule_key(rules[ping]) == ("ingress", "IPv4", "icmp", 8, 0, None, peer["id"])
    assert rule_key(rules[https6]) == ("ingress", "IPv6", "tcp", 443, 443, "::/0", None)
    assert me.show("security_group", sgid)["description"] == "web tier"

    dup = me.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22:23",
                 "--remote-ip", "192.0.2.0/24", sgid, check=False)
    assert dup.returncode != 0 and "409" in dup.stderr, dup.stderr
    base = {"security_group_id": sgid, "direction": "ingress", "protocol": "udp",
            "port_range_min": 53, "port_range_max": 53}
    me.create("security_group_rule", **base)
    for variant in ({**base, "remote_ip_prefix": "0.0.0.0/0"}, {**base, "protocol": "17"}):
        assert_error(me.create_response("security_group_rule", **variant), 409, "SecurityGroupRuleExists")

    full = me.create("security_group_rule", security_group_id=sgid, direction="ingress", protocol="tcp",
                     port_range_min=1, port_range_max=65535)
    assert full["port_range_min"] is None and full["port_range_max"] is None
    anyp = me.create("security_group_rule", security_group_id=sgid, direction="egress", protocol="any",
                     remote_ip_prefix="198.51.100.0/24")
    assert anyp["protocol"] is None
    h = me.create("security_group_rule", security_group_id=sgid, direction="ingress", ethertype="ipv4",
                  protocol="tcp", port_range_min=8080, port_range_max=8080, remote_ip_prefix="203.0.113.7")
    assert h["ethertype"] == "IPv4" and h["remote_ip_prefix"] == "203.0.113.7/32"
    hb = me.create("security_group_rule", security_group_id=sgid, direction="ingress", protocol="tcp",
                   port_range_min=9090, port_range_max=9090, remote_ip_prefix="192.0.2.5/24")
    assert hb["remote_ip_prefix"] == "192.0.2.5/24"

    me.delete("security_group_rule", ssh)
    assert_error(me.req("GET", f"/security-group-rules/{ssh}"), 404, "SecurityGroupRuleNotFound")
    assert ssh not in {r["id"] for r in me.show("security_group", sgid)["security_group_rules"]}


def test_security_group_rule_errors(net_user):
    """Rule validation (securitygroups_db _validate_port_range, _validate_ip_prefix,
    _validate_ethertype_and_protocol, _validate_multiple_remote_entites and the converters of
    neutron/extensions/securitygroup.py): each bad rule is 400 with Neutron's exception name;
    a missing group (as the rule's group or as remote group) is 404 SecurityGroupNotFound."""
    me = net_user()
    sg = me.security_group()
    base = {"security_group_id": sg["id"], "direction": "ingress"}
    cases = [
        ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "tcp", "port_range_min": 80}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 10}, "SecurityGroupInvalidPortValue"),
        ({"protocol": "tcp", "port_range_min": 1, "port_range_max": 70000}, "SecurityGroupInvalidPortValue"),
        ({"port_range_min": 22, "port_range_max": 22}, "SecurityGroupProtocolRequiredWithPorts"),
        ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue"),
        ({"protocol": "icmp", "port_range_max": 0}, "SecurityGroupMissingIcmpType"),
        ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, "SecurityGroupInvalidProtocolForPort"),
        ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
        ({"protocol": "256"}, "SecurityGroupRuleInvalidProtocol"),
        ({"ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/64"}, "SecurityGroupRuleParameterConflict"),
        ({"ethertype": "IPv6", "remote_ip_prefix": "192.0.2.0/24"}, "SecurityGroupRuleParameterConflict"),
        ({"ethertype": "IPv4", "protocol": "ipv6-icmp"}, "SecurityGroupEthertypeConflictWithProtocol"),
        ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
        ({"remote_ip_prefix": "not-a-cidr"}, "InvalidCIDR"),
        ({"remote_ip_prefix": "192.0.2.0/24", "remote_group_id": sg["id"]}, "SecurityGroupMultipleRemoteEntites"),
        ({"direction": "sideways"}, "HTTPBadRequest"),
    ]
    for extra, typ in cases:
        assert_error(me.create_response("security_group_rule", **{**base, **extra}), 400, typ)
    assert_error(me.create_response("security_group_rule", security_group_id=sg["id"]), 400, "HTTPBadRequest")
    assert_error(me.create_response("security_group_rule", **base, remote_group_id=str(uuid.uuid4())),
                 404, "SecurityGroupNotFound")
    assert_error(me.create_response("security_group_rule", security_group_id=str(uuid.uuid4()),
                                    direction="ingress"), 404, "SecurityGroupNotFound")
    assert len(me.list("security_group_rule", security_group_id=sg["id"])) == 2


def test_security_group_isolation(net_user):
    """Another project's group and its rules are invisible (404 SecurityGroupNotFound /
    SecurityGroupRuleNotFound, empty filtered lists); adding a rule to it is a POST refused by
    policy (403, policies/security_group.py create_security_group_rule: admin or group owner);
    using it as a remote group or on a port is 404 SecurityGroupNotFound
    (securitygroups_db _check_security_group / _get_security_groups_on_port)."""
    a, b = net_user(), net_user()
    sg = a.security_group()
    rule = a.create("security_group_rule", security_group_id=sg["id"], direction="ingress", protocol="tcp",
                    port_range_min=22, port_range_max=22)
    assert_error(b.req("GET", f"/security-groups/{sg['id']}"), 404, "SecurityGroupNotFound")
    assert_error(b.req("GET", f"/security-group-rules/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    assert_error(b.req("DELETE", f"/security-group-rules/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    assert_error(b.req("DELETE", f"/security-groups/{sg['id']}"), 404, "SecurityGroupNotFound")
    assert b.list("security_group_rule", security_group_id=sg["id"]) == []
    assert sg["id"] not in b.ids("security_group")
    r = b.create_response("security_group_rule", security_group_id=sg["id"], direction="ingress")
    assert_error(r, 403, "PolicyNotAuthorized")
    mine = b.security_group()
    r = b.create_response("security_group_rule", security_group_id=mine["id"], direction="ingress",
                          remote_group_id=sg["id"])
    assert_error(r, 404, "SecurityGroupNotFound")
    net = b.network()
    assert_error(b.create_response("port", network_id=net["id"], security_groups=[sg["id"]]),
                 404, "SecurityGroupNotFound")
    assert a.show("security_group_rule", rule["id"])["id"] == rule["id"]


# ---- routers ------------------------------------------------------------------------------

def test_router_lifecycle_cli(admin_net, net_user, public):
    """`openstack router create / set --external-gateway public / add subnet / add port / set
    --route`: a new router is ACTIVE without gateway or routes; the gateway takes an address of
    public-subnet with SNAT on by default (ext-gw-mode) on a `network:router_gateway` port that
    belongs to no project (l3_db _create_router_gw_port), which only the admin sees; a subnet
    interface is a `network:router_interface` port on the subnet's gateway IP, without port
    security; add/remove_router_interface answer {id, project_id, port_id, network_id, subnet_id,
    subnet_ids}. Routes need a nexthop on a connected subnet that is not the router's own address
    (400 InvalidRoutes, extraroute_db). In use: deleting the router (409 RouterInUse), the
    subnet (409 SubnetInUse) or the interface port (409 ServicePortInUse), removing an interface
    a route depends on (409 RouterInterfaceInUseByRoute); the same subnet twice is 400
    BadRequest; removing a missing interface 404 RouterInterfaceNotFoundForSubnet; removing a
    port interface deletes that port; a router with only a gateway deletes."""
    me = net_user()
    net, sub = me.network_with_subnet()
    rid = me.cli("router", "create", unique("router"), "-f", "json")["id"]
    r0 = me.show("router", rid)
    assert r0["status"] == "ACTIVE" and r0["admin_state_up"] is True and r0["project_id"] == me.project_id
    assert r0["external_gateway_info"] is None and r0["routes"] == []
    assert "distributed" not in r0 and "ha" not in r0

    me.cli("router", "set", "--external-gateway", "public", rid)
    gw = me.show("router", rid)["external_gateway_info"]
    assert gw["network_id"] == public["id"] and gw["enable_snat"] is True, gw
    (ext_ip,) = [ip for ip in gw["external_fixed_ips"] if ip["subnet_id"] == public["subnet"]["id"]]
    assert in_pools(ext_ip["ip_address"], public["subnet"]["allocation_pools"])
    gw_ports = admin_net.list("port", device_id=rid, device_owner="network:router_gateway")
    assert len(gw_ports) == 1 and gw_ports[0]["project_id"] == "" and gw_ports[0]["network_id"] == public["id"]
    assert sorted(gw_ports[0]["fixed_ips"], key=repr) == sorted(gw["external_fixed_ips"], key=repr)

    me.cli("router", "add", "subnet", rid, sub["id"])
    (iface,) = me.list("port", device_id=rid)
    assert iface["device_owner"] == "network:router_interface"
    assert iface["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": sub["gateway_ip"]}]
    assert iface["port_security_enabled"] is False and iface["security_groups"] == []

    net2, sub2 = me.network_with_subnet()
    plain = me.port(net2["id"])
    added = me.add_interface(rid, port_id=plain["id"])
    assert added["id"] == rid and added["port_id"] == plain["id"] and added["network_id"] == net2["id"]
    assert added["subnet_id"] == sub2["id"] and added["subnet_ids"] == [sub2["id"]]
    assert added["project_id"] == me.project_id
    moved = me.show("port", plain["id"])
    assert moved["device_id"] == rid and moved["device_owner"] == "network:router_interface"

    nexthop = host(sub["cidr"], 50)
    me.cli("router", "set", "--route", f"destination=192.0.2.0/24,gateway={nexthop}", rid)
    assert me.show("router", rid)["routes"] == [{"destination": "192.0.2.0/24", "nexthop": nexthop}]
    for hop in ("203.0.113.9", sub["gateway_ip"]):
        r = me.req("PUT", f"/routers/{rid}", json={"router": {"routes": [
            {"destination": "198.51.100.0/24", "nexthop": hop}]}})
        assert_error(r, 400, "InvalidRoutes")

    assert_error(me.req("DELETE", f"/routers/{rid}"), 409, "RouterInUse")
    assert_error(me.req("DELETE", f"/subnets/{sub['id']}"), 409, "SubnetInUse")
    assert_error(me.req("DELETE", f"/ports/{iface['id']}"), 409, "ServicePortInUse")
    assert_error(me.req("PUT", f"/routers/{rid}/remove_router_interface", json={"subnet_id": sub["id"]}),
                 409, "RouterInterfaceInUseByRoute")
    assert_error(me.req("PUT", f"/routers/{rid}/add_router_interface", json={"subnet_id": sub["id"]}),
                 400, "BadRequest")

    assert me.update("router", rid, routes=[])["routes"] == []
    out = me.remove_interface(rid, subnet_id=sub["id"])
    assert out["id"] == rid and out["port_id"] == iface["id"] and out["subnet_id"] == sub["id"]
    assert_error(me.req("PUT", f"/routers/{rid}/remove_router_interface", json={"subnet_id": sub["id"]}),
                 404, "RouterInterfaceNotFoundForSubnet")
    me.remove_interface(rid, port_id=plain["id"])
    assert_error(me.req("GET", f"/ports/{plain['id']}"), 404, "PortNotFound")
    me.delete("subnet", sub["id"])
    me.delete("router", rid)
    assert_error(me.req("GET", f"/routers/{rid}"), 404, "RouterNotFound")
    assert admin_net.list("port", device_id=rid) == []


def test_router_gateway_snat_and_fixed_ips_are_admin_only(admin_net, net_user, public):
    """enable_snat and external_fixed_ips of a gateway are admin-only (policies/router.py
    create_/update_router:external_gateway_info:enable_snat / :external_fixed_ips): 403 for a
    member. A member's gateway has SNAT on; the admin turns it off with `openstack router set
    --external-gateway public --disable-snat`; an empty external_gateway_info clears the
    gateway (null)."""
    me = net_user()
    router = me.router()
    for info in ({"network_id": public["id"], "enable_snat": False},
                 {"network_id": public["id"], "external_fixed_ips": [{"subnet_id": public["subnet"]["id"]}]}):
        r = me.req("PUT", f"/routers/{router['id']}", json={"router": {"external_gateway_info": info}})
        assert_error(r, 403, "PolicyNotAuthorized")
        assert_error(me.create_response("router", name=unique("r"), external_gateway_info=info),
                     403, "PolicyNotAuthorized")
    gw = me.update("router", router["id"], external_gateway_info={"network_id": public["id"]})
    assert gw["external_gateway_info"]["enable_snat"] is True
    admin_net.cli("router", "set", "--external-gateway", "public", "--disable-snat", router["id"])
    assert me.show("router", router["id"])["external_gateway_info"]["enable_snat"] is False
    cleared = me.update("router", router["id"], external_gateway_info={})
    assert cleared["external_gateway_info"] is None
    me.delete("router", router["id"])


# ---- floating IPs -------------------------------------------------------------------------

def test_floating_ip_lifecycle_cli(net_user, public):
    """`openstack floating ip create public / set --port / unset --port / delete`: a new floating
    IP takes an address of public-subnet, status DOWN (the L3 router plugin creates floating
    IPs DOWN; nothing brings them up without a datapath), no port/router; associating it to a
    port whose subnet a router connects to `public` fills port_id, fixed_ip_address and
    router_id (l3_db get_router_for_floatingip). While associated, removing that router
    interface is 409 RouterInterfaceInUseByFloatingIP and clearing the gateway 409
    RouterExternalGatewayInUseByFloatingIp. Disassociating clears all three; deleting the port
    disassociates too; a deleted floating IP is 404 FloatingIPNotFound."""
    me = net_user()
    net, sub = me.network_with_subnet()
    router = me.router(external_gateway_info={"network_id": public["id"]})
    me.add_interface(router["id"], subnet_id=sub["id"])
    port = me.port(net["id"])
    fid = me.cli("floating", "ip", "create", "public", "-f", "json")["id"]
    f = me.show("floatingip", fid)
    assert f["floating_network_id"] == public["id"] and f["project_id"] == me.project_id
    assert in_pools(f["floating_ip_address"], public["subnet"]["allocation_pools"])
    assert f["port_id"] is None and f["fixed_ip_address"] is None and f["router_id"] is None
    assert f["status"] == "DOWN" and TIMESTAMP.match(f["created_at"])

    me.cli("floating", "ip", "set", "--port", port["id"], fid)
    f = me.show("floatingip", fid)
    assert f["port_id"] == port["id"] and f["router_id"] == router["id"]
    assert f["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert f["status"] in ("DOWN", "ACTIVE")
    assert me.ids("floatingip", port_id=port["id"]) == {fid}
    assert me.ids("floatingip", floating_ip_address=f["floating_ip_address"]) == {fid}

    assert_error(me.req("PUT", f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]}),
                 409, "RouterInterfaceInUseByFloatingIP")
    assert_error(me.req("PUT", f"/routers/{router['id']}", json={"router": {"external_gateway_info": {}}}),
                 409, "RouterExternalGatewayInUseByFloatingIp")

    me.cli("floating", "ip", "unset", "--port", fid)
    f = me.show("floatingip", fid)
    assert f["port_id"] is None and f["fixed_ip_address"] is None and f["router_id"] is None

    me.update("floatingip", fid, port_id=port["id"])
    me.delete("port", port["id"])
    f = me.show("floatingip", fid)
    assert f["port_id"] is None and f["fixed_ip_address"] is None and f["router_id"] is None
    me.cli("floating", "ip", "delete", fid)
    assert_error(me.req("GET", f"/floatingips/{fid}"), 404, "FloatingIPNotFound")
    assert fid not in me.ids("floatingip")


def test_floating_ip_errors(net_user, public):
    """Floating IP errors (l3_db _create_floatingip / _internal_fip_assoc_data /
    get_router_for_floatingip / _check_and_get_fip_assoc): on a non-external network 400
    BadRequest; to a port no router connects to the external network 404
    ExternalGatewayForFloatingIPNotFound (also when given at create time); to another project's
    port 404 PortNotFound; a fixed_ip_address the port lacks 400 BadRequest, one without a
    port_id 400 BadRequest; a second floating IP for the same fixed IP 409
    FloatingIPPortAlreadyAssociated; a missing floating network 404 NetworkNotFound."""
    me, other = net_user(), net_user()
    net, sub = me.network_with_subnet()
    assert_error(me.create_response("floatingip", floating_network_id=net["id"]), 400, "BadRequest")
    assert_error(me.create_response("floatingip", floating_network_id=str(uuid.uuid4())), 404, "NetworkNotFound")

    lonely = me.port(net["id"])
    fip = me.create("floatingip", floating_network_id=public["id"])
    r = me.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": lonely["id"]}})
    assert_error(r, 404, "ExternalGatewayForFloatingIPNotFound")
    assert_error(me.create_response("floatingip", floating_network_id=public["id"], port_id=lonely["id"]),
                 404, "ExternalGatewayForFloatingIPNotFound")
    router = me.router(external_gateway_info={"network_id": public["id"]})
    me.add_interface(router["id"], subnet_id=sub["id"])

    onet, _ = other.network_with_subnet()
    theirs = other.port(onet["id"])
    r = me.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": theirs["id"]}})
    assert_error(r, 404, "PortNotFound")
    r = me.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {
        "port_id": lonely["id"], "fixed_ip_address": host(sub["cidr"], 250)}})
    assert_error(r, 400, "BadRequest")
    r = me.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"fixed_ip_address": host(sub["cidr"], 250)}})
    assert_error(r, 400, "BadRequest")
    assert me.update("floatingip", fip["id"], port_id=lonely["id"])["router_id"] == router["id"]
    assert_error(me.create_response("floatingip", floating_network_id=public["id"], port_id=lonely["id"]),
                 409, "FloatingIPPortAlreadyAssociated")
    assert fip["id"] not in other.ids("floatingip")
    assert_error(other.req("GET", f"/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    assert_error(other.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}}),
                 404, "FloatingIPNotFound")


# ---- what `nimbus up` creates -------------------------------------------------------------

def test_nimbus_up_topology(cloud, admin_net, public):
    """As DevStack does: the admin project owns the external network `public` (router:external,
    not shared; external_net_db makes it visible to all with an access_as_external RBAC entry
    for '*') with subnet `public-subnet` (no DHCP); the `demo` project has network `private`
    with `private-subnet` and router `router1` whose gateway is on `public` and which has an
    interface on private-subnet's gateway address. Checked as the admin and, through the CLI,
    as `nimbus-demo`."""
    assert public["router:external"] is True and public["shared"] is False
    assert public["project_id"] == admin_net.project_id and public["status"] == "ACTIVE"
    ps = public["subnet"]
    assert ps["network_id"] == public["id"] and ps["ip_version"] == 4 and ps["id"] in public["subnets"]
    assert ps["enable_dhcp"] is False and ps["gateway_ip"] and ps["allocation_pools"]
    assert PROVIDER <= set(public)
    policies = admin_net.list("rbac_policy", object_id=public["id"])
    assert any(p["action"] == "access_as_external" and p["target_tenant"] == "*" and
               p["object_type"] == "network" for p in policies), policies

    demo = Net.demo(cloud)
    listed = {n["Name"]: n["ID"] for n in demo.cli("network", "list", "-f", "json")}
    assert listed.get("public") == public["id"] and "private" in listed, listed
    (private,) = demo.list("network", name="private")
    assert private["id"] == listed["private"] and private["project_id"] == demo.project_id
    assert private["router:external"] is False and private["shared"] is False
    (psub,) = demo.list("subnet", name="private-subnet")
    assert psub["network_id"] == private["id"] and psub["ip_version"] == 4 and psub["project_id"] == demo.project_id
    rid = demo.cli("router", "show", "router1", "-f", "json")["id"]
    router1 = demo.show("router", rid)
    assert router1["project_id"] == demo.project_id and router1["status"] == "ACTIVE"
    assert router1["external_gateway_info"]["network_id"] == public["id"]
    ips = [ip for p in demo.list("port", device_id=rid, device_owner="network:router_interface")
           for ip in p["fixed_ips"]]
    assert {"subnet_id": psub["id"], "ip_address": psub["gateway_ip"]} in ips, ips
    seen_by_demo = demo.show("network", public["id"])
    assert not PROVIDER & set(seen_by_demo) and seen_by_demo["router:external"] is True


# ---- quotas -------------------------------------------------------------------------------

def test_quotas(admin_net, net_user):
    """GET /v2.0/quotas/{project} has Neutron's defaults (neutron/conf/quota.py); a member reads
    its own project's quota but not another's (403) and cannot set it (403; quotasv2.py
    QuotaSetsController.show/update with policy get_quota/update_quota). `openstack quota set
    --networks/--ports` (which sends check_limit: true along) and `quota show --network` work;
    /details gives limit/used/reserved (quotasv2_detail.py), also to the member for its own
    project. A limit below usage is 400 unless `force` is given; bad limits and unknown
    resources are 400; DELETE restores the defaults."""
    me = net_user()
    pid = me.project_id
    q = admin_net.ok("GET", f"/quotas/{pid}")["quota"]
    for key, value in DEFAULT_QUOTAS.items():
        assert q[key] == value, (key, q)
    assert me.ok("GET", f"/quotas/{pid}")["quota"]["network"] == 100
    assert_error(me.req("GET", f"/quotas/{admin_net.project_id}"), 403, "PolicyNotAuthorized")
    assert_error(me.req("PUT", f"/quotas/{pid}", json={"quota": {"network": 5}}), 403, "PolicyNotAuthorized")

    admin_net.cli("quota", "set", "--networks", "7", "--ports", "40", pid)
    shown = {row["Resource"]: row["Limit"] for row in admin_net.cli("quota", "show", "--network", pid, "-f", "json")}
    assert shown.get("networks") == 7 and shown.get("ports") == 40, shown

    me.network()
    me.network()
    details = me.ok("GET", f"/quotas/{pid}/details")["quota"]
    assert details["network"] == {"limit": 7, "used": 2, "reserved": 0}, details
    assert details["port"] == {"limit": 40, "used": 0, "reserved": 0}
    assert details["router"]["limit"] == 10
    assert_error(me.req("GET", f"/quotas/{admin_net.project_id}/details"), 403)

    body = admin_net.ok("PUT", f"/quotas/{pid}", json={"quota": {"router": 3}})["quota"]
    assert body["router"] == 3 and body["network"] == 7 and body["subnet"] == 100
    assert_error(admin_net.req("PUT", f"/quotas/{pid}", json={"quota": {"network": 1}}), 400, "HTTPBadRequest")
    assert admin_net.ok("PUT", f"/quotas/{pid}", json={"quota": {"network": 1, "force": True}})["quota"]["network"] == 1
    for bad in (-2, "abc", None):
        assert_error(admin_net.req("PUT", f"/quotas/{pid}", json={"quota": {"network": bad}}), 400)
    assert_error(admin_net.req("PUT", f"/quotas/{pid}", json={"quota": {"bogus": 1}}), 400, "HTTPBadRequest")
    admin_net.ok("DELETE", f"/quotas/{pid}", status=204)
    assert admin_net.ok("GET", f"/quotas/{pid}")["quota"]["network"] == 100


def test_over_quota(admin_net, net_user):
    """Creating beyond a limit is 409 OverQuota (neutron/pecan_wsgi/hooks/quota_enforcement.py,
    neutron_lib OverQuota) for networks, ports and security groups (the automatic default group
    counts); -1 means unlimited."""
    me = net_user()
    pid = me.project_id
    admin_net.ok("PUT", f"/quotas/{pid}", json={"quota": {"network": 2, "port": 1, "security_group": 2}})
    net = me.network()
    me.network()
    assert_error(me.create_response("network", name=unique("x")), 409, "OverQuota")
    me.port(net["id"])
    assert_error(me.create_response("port", network_id=net["id"]), 409, "OverQuota")
    me.list("security_group")                   # creates `default`
    me.security_group()
    assert_error(me.create_response("security_group", name=unique("sg")), 409, "OverQuota")
    admin_net.ok("PUT", f"/quotas/{pid}", json={"quota": {"network": -1}})
    me.network()
    assert len(me.list("network", project_id=pid)) == 3


# ---- RBAC ---------------------------------------------------------------------------------

def test_rbac_access_as_shared(net_user):
    """`openstack network rbac create --action access_as_shared --type network` shares a network
    with one project (rbac_db_mixin, db_base_plugin_v2 _validate_network_rbac_policy_change):
    the target lists it and its subnet, sees `shared` true (shared reflects sharing with the
    caller, _is_network_shared) while the owner sees false, and creates a port there that the
    owner sees; a third project sees nothing (404) and cannot create a port there (404
    NetworkNotFound). The same policy twice is 409 DuplicateRbacPolicy, a member sharing with
    '*' 403, the target re-sharing 400 InvalidInput, revoking while the target has a port 409
    RbacPolicyInUse; the target does not see the policy; after revoking, the network is gone
    for the target."""
    owner, target, third = net_user(), net_user(), net_user()
    net, sub = owner.network_with_subnet()
    pid = owner.cli("network", "rbac", "create", "--target-project", target.project_id,
                    "--action", "access_as_shared", "--type", "network", net["id"], "-f", "json")["id"]
    pol = owner.show("rbac_policy", pid)
    assert pol["object_type"] == "network" and pol["object_id"] == net["id"]
    assert pol["action"] == "access_as_shared" and pol["target_tenant"] == target.project_id
    assert pol["project_id"] == owner.project_id
    assert pid in owner.ids("rbac_policy", object_id=net["id"])
    assert pid not in target.ids("rbac_policy")

    assert net["id"] in target.ids("network")
    assert target.show("network", net["id"])["shared"] is True
    assert owner.show("network", net["id"])["shared"] is False
    assert target.show("subnet", sub["id"])["cidr"] == sub["cidr"]
    port = target.port(net["id"])
    assert port["project_id"] == target.project_id
    assert in_pools(port["fixed_ips"][0]["ip_address"], sub["allocation_pools"])
    assert port["id"] in owner.ids("port", network_id=net["id"])

    assert net["id"] not in third.ids("network")
    assert_error(third.req("GET", f"/networks/{net['id']}"), 404, "NetworkNotFound")
    assert_error(third.create_response("port", network_id=net["id"]), 404, "NetworkNotFound")

    spec = {"object_type": "network", "object_id": net["id"], "action": "access_as_shared"}
    assert_error(owner.create_response("rbac_policy", **spec, target_tenant=target.project_id),
                 409, "DuplicateRbacPolicy")
    assert_error(owner.create_response("rbac_policy", **spec, target_tenant="*"), 403, "PolicyNotAuthorized")
    assert_error(target.create_response("rbac_policy", **spec, target_tenant=third.project_id),
                 400, "InvalidInput")
    assert_error(owner.req("DELETE", f"/rbac-policies/{pid}"), 409, "RbacPolicyInUse")
    target.delete("port", port["id"])
    owner.delete("rbac_policy", pid)
    assert_error(target.req("GET", f"/networks/{net['id']}"), 404, "NetworkNotFound")
    assert_error(owner.req("GET", f"/rbac-policies/{pid}"), 404, "RbacPolicyNotFound")


def test_rbac_access_as_external(admin_net, net_user):
    """An access_as_external policy for one project turns the network external
    (external_net_db _process_ext_policy_create) and lets that project see it and put a router
    gateway on it; others do not see it; the policy cannot go while that router depends on it
    (409 RbacPolicyInUse); once it goes the network is internal again."""
    target, other = net_user(), net_user()
    net, _ = admin_net.network_with_subnet()
    assert net["router:external"] is False
    pol = admin_net.create("rbac_policy", object_type="network", object_id=net["id"],
                           action="access_as_external", target_tenant=target.project_id)
    assert pol["action"] == "access_as_external"
    assert admin_net.show("network", net["id"])["router:external"] is True
    seen = target.show("network", net["id"])
    assert seen["router:external"] is True and seen["shared"] is False
    assert net["id"] in target.ids("network", **{"router:external": "true"})
    assert_error(other.req("GET", f"/networks/{net['id']}"), 404, "NetworkNotFound")

    router = target.router(external_gateway_info={"network_id": net["id"]})
    assert router["external_gateway_info"]["network_id"] == net["id"]
    assert_error(admin_net.req("DELETE", f"/rbac-policies/{pol['id']}"), 409, "RbacPolicyInUse")
    target.update("router", router["id"], external_gateway_info={})
    admin_net.delete("rbac_policy", pol["id"])
    assert admin_net.show("network", net["id"])["router:external"] is False
    assert_error(target.req("GET", f"/networks/{net['id']}"), 404, "NetworkNotFound")


# ---- tags ---------------------------------------------------------------------------------

def test_tags(net_user):
    """Tags (neutron/extensions/tagging.py, services/tag/tag_plugin.py): `openstack network set
    --tag` and `network list --tags` (all of), `tags-any`, `not-tags`, `not-tags-any` filters;
    PUT /tags/{tag} 201, GET /tags/{tag} 204 or 404 TagNotFound, GET /tags, PUT /tags replaces
    all (200 with the body), DELETE /tags/{tag} 204 (404 when absent), DELETE /tags 204; other
    resources carry tags too; a tag over 255 characters is 400 InvalidInput."""
    me = net_user()
    a, b, c = me.network(), me.network(), me.network()
    red, blue = unique("red"), unique("blue")
    me.cli("network", "set", "--tag", red, "--tag", blue, a["id"])
    assert sorted(me.show("network", a["id"])["tags"]) == sorted([red, blue])

    r = me.req("PUT", f"/networks/{b['id']}/tags/{red}")
    assert r.status_code == 201, r.text
    assert me.req("GET", f"/networks/{b['id']}/tags/{red}").status_code == 204
    assert_error(me.req("GET", f"/networks/{b['id']}/tags/{blue}"), 404, "TagNotFound")
    assert me.ok("GET", f"/networks/{b['id']}/tags") == {"tags": [red]}
    assert me.ok("PUT", f"/networks/{c['id']}/tags", json={"tags": [blue]}) == {"tags": [blue]}

    listed = me.cli("network", "list", "--tags", f"{red},{blue}", "-f", "json")
    assert {n["ID"] for n in listed} == {a["id"]}
    mine = {"project_id": me.project_id}
    assert me.ids("network", tags=red, **mine) == {a["id"], b["id"]}
    assert me.ids("network", **{"tags-any": f"{red},{blue}"}, **mine) == {a["id"], b["id"], c["id"]}
    assert me.ids("network", **{"not-tags": red}, **mine) == {c["id"]}
    assert me.ids("network", **{"not-tags-any": f"{red},{blue}"}, **mine) == set()

    me.ok("DELETE", f"/networks/{b['id']}/tags/{red}", status=204)
    assert_error(me.req("DELETE", f"/networks/{b['id']}/tags/{red}"), 404, "TagNotFound")
    me.ok("DELETE", f"/networks/{a['id']}/tags", status=204)
    assert me.show("network", a["id"])["tags"] == []
    assert_error(me.req("PUT", f"/networks/{a['id']}/tags/{'x' * 256}"), 400, "InvalidInput")

    sub = me.subnet(c["id"])
    port = me.port(c["id"])
    router = me.router()
    sg = me.security_group()
    for resource, obj in (("subnet", sub), ("port", port), ("router", router), ("security_group", sg)):
        assert me.req("PUT", f"/{COLLECTIONS[resource]}/{obj['id']}/tags/{red}").status_code == 201
        assert me.show(resource, obj["id"])["tags"] == [red]
        assert me.ids(resource, tags=red) == {obj["id"]}


# ---- generic list machinery and errors ----------------------------------------------------

def test_fields_filters_and_sorting(net_user, public):
    """`fields=` returns exactly the asked fields (neutron/pecan_wsgi/hooks/userfilters.py);
    filters match exactly, several values of one filter match any of them, booleans and
    router:external filter, `+` in a query is a space; sort_key/sort_dir with one or two keys
    (neutron/api/api_common.py get_sorts): an unknown sort key, a bad direction or unpaired keys
    are 400 HTTPBadRequest; an unknown filter is 400 HTTPBadRequest (filter-validation, on by
    default: get_filters_from_dict)."""
    me = net_user()
    u = uuid.uuid4().hex[:8]
    names = [f"s-{u}-b", f"s-{u}-a", f"s-{u}-c"]
    nets = {n: me.network(name=n, admin_state_up=(n != names[2])) for n in names}
    nid = nets[names[0]]["id"]

    assert me.ok("GET", f"/networks/{nid}", params=[("fields", "name"), ("fields", "mtu")]) == {
        "network": {"name": names[0], "mtu": 1450}}
    assert me.ok("GET", "/networks", params=[("fields", "id"), ("name", names[0])]) == {"networks": [{"id": nid}]}

    assert me.ids("network", name=names[1]) == {nets[names[1]]["id"]}
    assert me.list("network", name=f"s-{u}") == []
    multi = [("name", n) for n in names]
    desc = me.ok("GET", "/networks", params=multi + [("sort_key", "name"), ("sort_dir", "desc")])["networks"]
    assert [n["name"] for n in desc] == sorted(names, reverse=True)
    asc = me.ok("GET", "/networks", params=multi + [("sort_key", "name"), ("sort_dir", "asc")])["networks"]
    assert [n["name"] for n in asc] == sorted(names)
    two = me.ok("GET", "/networks", params=multi + [("sort_key", "admin_state_up"), ("sort_dir", "asc"),
                                                     ("sort_key", "name"), ("sort_dir", "asc")])["networks"]
    assert [n["name"] for n in two] == [names[2], names[1], names[0]]
    assert me.ids("network", admin_state_up="false", project_id=me.project_id) == {nets[names[2]]["id"]}
    external = me.ids("network", **{"router:external": "true"})
    assert public["id"] in external and not external & {n["id"] for n in nets.values()}
    assert public["id"] not in me.ids("network", **{"router:external": "false"})

    spaced = me.network(name=f"two words {u}")
    r = me.req("GET", f"/networks?name=two+words+{u}")
    assert r.status_code == 200 and [n["id"] for n in r.json()["networks"]] == [spaced["id"]]
    plus = me.network(name=f"a+b{u}")
    r = me.req("GET", f"/networks?name=a%2Bb{u}")
    assert [n["id"] for n in r.json()["networks"]] == [plus["id"]]

    for params in ({"sort_key": "bogus", "sort_dir": "asc"}, {"sort_key": "name", "sort_dir": "up"},
                   {"sort_key": "name"}, {"bogus": "1"}, {"provider:bogus": "x"}):
        assert_error(me.req("GET", "/networks", params=params), 400, "HTTPBadRequest")


def test_pagination(net_user):
    """limit/marker pagination (neutron/api/api_common.py, native pagination sorted by id):
    pages in id order, `networks_links` with rel next (marker = last id, the other parameters
    kept, an absolute URL under the endpoint) and previous; no next link on a short last page;
    limit=0 means no paging and no links; an unknown marker is 404 NetworkNotFound; a negative
    or non-numeric limit 400 BadRequest."""
    me = net_user()
    made = sorted(me.network()["id"] for _ in range(7))
    first = me.ok("GET", "/networks", params={"project_id": me.project_id, "limit": 3})
    assert [n["id"] for n in first["networks"]] == made[:3]
    links = {link["rel"]: link["href"] for link in first["networks_links"]}
    assert set(links) == {"next", "previous"}, links
    assert links["next"].startswith(me.url + "/networks?"), links
    query = parse_qs(urlparse(links["next"]).query)
    assert query["marker"] == [made[2]] and query["limit"] == ["3"] and query["project_id"] == [me.project_id]
    second = me.ok("GET", links["next"])
    assert [n["id"] for n in second["networks"]] == made[3:6]
    nxt = {link["rel"]: link["href"] for link in second["networks_links"]}["next"]
    third = me.ok("GET", nxt)
    assert [n["id"] for n in third["networks"]] == made[6:]
    assert "next" not in {link["rel"] for link in third.get("networks_links", [])}

    everything = me.ok("GET", "/networks", params={"project_id": me.project_id, "limit": 0})
    assert sorted(n["id"] for n in everything["networks"]) == made and "networks_links" not in everything
    plain = me.ok("GET", "/networks", params={"project_id": me.project_id})
    assert "networks_links" not in plain
    assert_error(me.req("GET", "/networks", params={"limit": 2, "marker": str(uuid.uuid4())}), 404, "NetworkNotFound")
    for bad in ("-1", "abc"):
        assert_error(me.req("GET", "/networks", params={"limit": bad}), 400, "BadRequest")


def test_not_found_and_error_format(net_user):
    """Unknown IDs are 404 with the resource's NotFound type for GET, PUT and DELETE (also a
    non-UUID ID, which OSC's find-by-name relies on); an unknown collection is 404 and a wrong
    method 405, both in NeutronError format."""
    me = net_user()
    missing = str(uuid.uuid4())
    cases = [("network", "NetworkNotFound"), ("subnet", "SubnetNotFound"), ("port", "PortNotFound"),
             ("router", "RouterNotFound"), ("floatingip", "FloatingIPNotFound"),
             ("security_group", "SecurityGroupNotFound"), ("security_group_rule", "SecurityGroupRuleNotFound"),
             ("rbac_policy", "RbacPolicyNotFound")]
    for resource, typ in cases:
        path = f"/{COLLECTIONS[resource]}/{missing}"
        assert_error(me.req("GET", path), 404, typ)
        assert_error(me.req("DELETE", path), 404, typ)
    for resource, typ in cases[:4] + [cases[5]]:
        r = me.req("PUT", f"/{COLLECTIONS[resource]}/{missing}", json={resource: {"name": "x"}})
        assert_error(r, 404, typ)
    assert_error(me.req("GET", "/networks/not-a-uuid"), 404, "NetworkNotFound")
    assert_error(me.req("GET", "/no-such-collection"), 404)
    assert_error(me.req("DELETE", "/networks"), 405)
    net = me.network()
    assert_error(me.req("POST", f"/networks/{net['id']}", json={"network": {}}), 405)


def test_project_isolation(net_user, public):
    """One project's network, subnet, port, router, security group (and rule) and floating IP
    are invisible to another: absent from its lists (also when filtering by the owner's
    project_id) and 404 <Resource>NotFound for GET, PUT and DELETE (the prefetch in
    policy_enforcement.py looks them up as the caller). Using them is refused: a port on the
    network 404 NetworkNotFound, a subnet on it 403 (create_subnet is a POST judged by policy),
    a router interface on the subnet 404 SubnetNotFound."""
    a, b = net_user(), net_user()
    net, sub = a.network_with_subnet()
    port = a.port(net["id"])
    router = a.router()
    sg = a.security_group()
    rule = a.create("security_group_rule", security_group_id=sg["id"], direction="ingress", protocol="tcp",
                    port_range_min=80, port_range_max=80)
    fip = a.create("floatingip", floating_network_id=public["id"])
    cases = [("network", net, "NetworkNotFound"), ("subnet", sub, "SubnetNotFound"),
             ("port", port, "PortNotFound"), ("router", router, "RouterNotFound"),
             ("security_group", sg, "SecurityGroupNotFound"), ("floatingip", fip, "FloatingIPNotFound"),
             ("security_group_rule", rule, "SecurityGroupRuleNotFound")]
    for resource, obj, typ in cases:
        assert obj["id"] not in b.ids(resource), resource
        path = f"/{COLLECTIONS[resource]}/{obj['id']}"
        assert_error(b.req("GET", path), 404, typ)
        assert_error(b.req("DELETE", path), 404, typ)
        if resource in ("network", "subnet", "port", "router", "security_group"):
            assert_error(b.req("PUT", path, json={resource: {"name": "stolen"}}), 404, typ)
        a.show(resource, obj["id"])
    assert b.list("network", project_id=a.project_id) == []
    assert b.list("port", network_id=net["id"]) == []
    assert_error(b.create_response("port", network_id=net["id"]), 404, "NetworkNotFound")
    assert_error(b.create_response("subnet", network_id=net["id"], cidr=next_cidr4(), ip_version=4),
                 403, "PolicyNotAuthorized")
    mine = b.router()
    assert_error(b.req("PUT", f"/routers/{mine['id']}/add_router_interface", json={"subnet_id": sub["id"]}),
                 404, "SubnetNotFound")
    assert a.show("network", net["id"])["name"] == net["name"]


def test_reader_lists_but_cannot_write(admin_net, net_user):
    """A user with only the reader role on a project lists and shows its networks but every
    write is 403 PolicyNotAuthorized (policies: create_*/update_*/delete_* need member; the
    reader can see the resource, so a PUT/DELETE is 403 rather than 404); the CLI reports 403."""
    reader = net_user("reader")
    net = admin_net.network(project_id=reader.project_id)
    assert net["project_id"] == reader.project_id
    assert net["id"] in reader.ids("network")
    assert reader.show("network", net["id"])["name"] == net["name"]
    for resource, attrs in (("network", {"name": unique("r")}), ("router", {"name": unique("r")}),
                            ("security_group", {"name": unique("r")}), ("port", {"network_id": net["id"]}),
                            ("subnet", {"network_id": net["id"], "cidr": next_cidr4(), "ip_version": 4})):
        assert_error(reader.create_response(resource, **attrs), 403, "PolicyNotAuthorized")
    assert_error(reader.req("PUT", f"/networks/{net['id']}", json={"network": {"name": "x"}}), 403, "PolicyNotAuthorized")
    assert_error(reader.req("DELETE", f"/networks/{net['id']}"), 403, "PolicyNotAuthorized")
    assert_forbidden_cli(reader.cli("network", "create", unique("r"), check=False))
    assert admin_net.show("network", net["id"])["name"] == net["name"]


def test_network_ip_availability(admin_net, net_user):
    """GET /v2.0/network-ip-availabilities/{network} (admin only,
    neutron/db/network_ip_availability_db.py): totals are the allocation pools' sizes (253 for a
    /24), used counts allocated addresses, per subnet and per network; a member gets no answer
    (403/404)."""
    me = net_user()
    net, sub = me.network_with_subnet()
    me.port(net["id"])
    me.port(net["id"])
    body = admin_net.ok("GET", f"/network-ip-availabilities/{net['id']}")["network_ip_availability"]
    assert body["network_id"] == net["id"] and body["network_name"] == net["name"]
    assert body["project_id"] == me.project_id
    # Two ports and the network's DHCP port.
    assert body["total_ips"] == 253 and body["used_ips"] == 3
    assert body["subnet_ip_availability"] == [{"subnet_id": sub["id"], "subnet_name": sub["name"],
                                               "cidr": sub["cidr"], "ip_version": 4,
                                               "total_ips": 253, "used_ips": 3}]
    listed = admin_net.ok("GET", "/network-ip-availabilities", params={"network_id": net["id"]})
    assert [x["network_id"] for x in listed["network_ip_availabilities"]] == [net["id"]]
    assert me.req("GET", f"/network-ip-availabilities/{net['id']}").status_code in (403, 404)
