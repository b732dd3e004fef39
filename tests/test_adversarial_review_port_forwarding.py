"""Adversarial review of floating IP port forwardings (commit b8ed7de) on the real binary and
the fake datapath: another project's floating IPs, ports and shared networks, the reader
role, odd and hostile input (types, ranges, protocol spellings, text meant for nft), list
queries, immutable attributes, races for one external port and for the floating IP, and the
resources a forwarding depends on (router interface, gateway, router, port, fixed IPs).

Expected behaviour is real Neutron's: neutron/services/portforwarding/pf_plugin.py,
neutron/objects/port_forwarding.py (its unique constraints), neutron/db/l3_db.py
(`_check_router_interface_not_in_use` counts forwardings), neutron-lib's
api/definitions/floating_ip_port_forwarding*.py and validators, and
neutron/conf/policies/floatingip_port_forwarding.py. Deliberate differences are the ones
tests/test_network_port_forwarding.py names, plus one made here: a range shifted onto another
range (`1000:1999` -> `2000:2999`) is at most 1,024 ports wide, because nftables has no
iptables `--to-destination ip:a-b/base` and the datapath writes one map entry per port.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from network_support import (  # noqa: F401  (fixtures are used by name)
    forwarding_setup as setup,
    admin_net,
    assert_error,
    net_user,
    next_cidr6,
    public,
)


# ---- helpers ----------------------------------------------------------------------------------

def pf_path(fip_id: str, pf_id: str | None = None) -> str:
    return f"/floatingips/{fip_id}/port_forwardings" + (f"/{pf_id}" if pf_id else "")


def post_pf(me, fip_id: str, **attrs):
    return me.req("POST", pf_path(fip_id), json={"port_forwarding": attrs})


def make_pf(me, fip_id: str, **attrs) -> dict:
    r = post_pf(me, fip_id, **attrs)
    assert r.status_code == 201, r.text
    return r.json()["port_forwarding"]


def tcp(port: dict, ext: int | None, internal: int | None = 22, **kw) -> dict:
    body = {"internal_port_id": port["id"], "internal_ip_address": port["fixed_ips"][0]["ip_address"],
            "internal_port": internal, "external_port": ext, "protocol": "tcp", **kw}
    return {k: v for k, v in body.items() if not (v is None and k in ("external_port", "internal_port"))}


def assert_4xx(r) -> dict:
    """Any client error, in Neutron's error format (never a 500, never a success)."""
    return assert_error(r, tuple(range(400, 500)))


# ---- hostile and careless input ---------------------------------------------------------------

BAD_VALUES = [
    ("external_port", True), ("external_port", 1.5), ("external_port", "1e3"), ("external_port", [80]),
    ("external_port", {"a": 1}), ("external_port", ""), ("external_port", -1), ("external_port", 2**64),
    ("external_port", "80; flush ruleset"), ("internal_port", 0), ("internal_port", 65536),
    ("protocol", None), ("protocol", 6), ("protocol", "tcp\n"), ("protocol", "tcp dport 1 accept"),
    ("protocol", "Tcp"), ("protocol", ["tcp"]), ("internal_ip_address", None),
    ("internal_ip_address", "10.0.0.5; flush ruleset"), ("internal_ip_address", "10.0.0.5/24"),
    ("internal_ip_address", 167772165), ("internal_port_id", None), ("internal_port_id", 5),
    ("description", 5), ("description", "x" * 256), ("description", ["a"]),
]


@pytest.mark.parametrize("key,value", BAD_VALUES, ids=[f"{k}={v!r}"[:40] for k, v in BAD_VALUES])
def test_bad_values_are_4xx(net_user, public, key, value):
    """A value of the wrong type, out of range, or text meant for the nft ruleset in any
    attribute: Neutron's validators and converters refuse each with a 400 (never a 500, never a
    forwarding)."""
    me = net_user()
    e = setup(me, public)
    body = {**tcp(e["port"], 2222), key: value}
    assert_4xx(post_pf(me, e["fip"]["id"], **body))
    assert me.ok("GET", pf_path(e["fip"]["id"]))["port_forwardings"] == []


BAD_RANGES = ["0:5", "1:65536", "-1:5", "2:1", "1:2:3", ":", "1:", ":2", "", "a:b", "1.5:2", "٨٠:٩٠",
              " 80 : 90 ; flush ruleset", "80-90", 8080.5, [80, 90], {"a": 1}, True]


@pytest.mark.parametrize("value", BAD_RANGES, ids=[repr(v)[:30] for v in BAD_RANGES])
def test_bad_ranges_are_4xx(net_user, public, value):
    """External and internal port ranges that neutron-lib's `validate_port_range_or_none`
    refuses (0, 65536, negative, reversed, three parts, empty parts, non-digits, a list, a
    bool) are 400s, and none of them reaches the datapath."""
    me = net_user()
    e = setup(me, public)
    for key in ("external_port_range", "internal_port_range"):
        body = tcp(e["port"], None, None, external_port_range="3000:3009", internal_port_range="3000:3009")
        body[key] = value
        assert_4xx(post_pf(me, e["fip"]["id"], **body))
    assert me.ok("GET", pf_path(e["fip"]["id"]))["port_forwardings"] == []


def test_range_edges(net_user, public):
    """The legal extremes: `1:65535` onto the same range (one rule, the port kept) and onto one
    port (N-1), and a single-port range `N:N` shown with its `external_port`; `"TCP"` is not
    `tcp` (neutron-lib compares protocol names exactly)."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    whole = make_pf(me, fid, **tcp(e["port"], None, None, external_port_range="1:65535", internal_port_range="1:65535"))
    assert whole["external_port_range"] == "1:65535" and "external_port" not in whole
    assert_error(post_pf(me, fid, **tcp(e["other"], 80)), 400, "BadRequest", "port collision")
    n1 = make_pf(me, fid, **tcp(e["other"], None, 22, external_port_range="1:65535", protocol="udp"))
    assert n1["internal_port"] == 22 and n1["internal_port_range"] == "22:22"
    single = make_pf(me, fid, **tcp(e["other"], None, None, external_port_range="7:7", internal_port_range="7:7", protocol="sctp"))
    assert single["external_port"] == 7 and single["internal_port"] == 7
    assert_4xx(post_pf(me, fid, **tcp(e["other"], 9, protocol="TCP")))


def test_shifted_range_cost_is_bounded(net_user, public):
    """One request must not make the datapath write tens of thousands of nft map entries:
    Neutron's agent maps `1000:60999` onto `2000:61999` with one iptables rule
    (`--to-destination ip:2000-61999/1000`), nftables has no such offset and needs a map entry
    per port (60,000 here, over 1 MB of ruleset, and the router's whole NAT table is reloaded
    on every change). A shifted range wider than 1,024 ports is a 400; 1,024 is fine, and so
    are a same-numbered range and a range onto one port, whatever their width."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    r = post_pf(me, fid, **tcp(e["port"], None, None, external_port_range="1000:60999", internal_port_range="2000:61999"))
    assert_error(r, 400, "BadRequest", "1024")
    assert_4xx(post_pf(me, fid, **tcp(e["port"], None, None, external_port_range="1000:2024", internal_port_range="3000:4024")))
    ok = make_pf(me, fid, **tcp(e["port"], None, None, external_port_range="1000:2023", internal_port_range="3000:4023"))
    # Widening it by update is refused too, and leaves it as it was.
    assert_4xx(me.req("PUT", pf_path(fid, ok["id"]), json={"port_forwarding": {"external_port_range": "1000:3000", "internal_port_range": "3000:5000"}}))
    assert me.ok("GET", pf_path(fid, ok["id"]))["port_forwarding"]["external_port_range"] == "1000:2023"
    make_pf(me, fid, **tcp(e["port"], None, None, external_port_range="10000:60000", internal_port_range="10000:60000"))
    make_pf(me, fid, **tcp(e["other"], None, 443, external_port_range="60001:65535"))


# ---- list queries, immutable attributes, other verbs -------------------------------------------

def test_collection_queries_never_500(net_user, public):
    """`fields`, filters, sorting (on a key some forwardings lack: a range has no
    `external_port`), limit/marker/page_reverse, a marker from another floating IP or of no
    forwarding at all, and bad filter values: a 200 or a 400 NeutronError, never a 500."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    made = [make_pf(me, fid, **tcp(e["port"], 2000 + i, 2000 + i)) for i in range(3)]
    made.append(make_pf(me, fid, **tcp(e["other"], None, None, external_port_range="3000:3009", internal_port_range="3000:3009")))
    other_fip = me.create("floatingip", floating_network_id=public["id"])
    foreign = make_pf(me, other_fip["id"], **tcp(e["port"], 4000, 4000))
    queries = [
        {"fields": "id"}, {"fields": ["id", "project_id", "floatingip_id", "nonsense"]},
        {"sort_key": "external_port", "sort_dir": "asc"}, {"sort_key": "external_port", "sort_dir": "desc"},
        {"sort_key": "external_port_range"}, {"sort_key": "protocol"}, {"sort_key": "id", "sort_dir": "sideways"},
        {"limit": 1}, {"limit": 0}, {"limit": -1}, {"limit": "x"}, {"limit": 2, "marker": made[0]["id"]},
        {"limit": 2, "marker": made[1]["id"], "page_reverse": "true"}, {"limit": 2, "marker": foreign["id"]},
        {"limit": 2, "marker": str(uuid.uuid4())}, {"limit": 2, "marker": "not-a-uuid"},
        {"external_port": "abc"}, {"external_port": "70000"}, {"external_port": ["2000", "2001"]},
        {"protocol": "TCP"}, {"protocol": "tcp"}, {"external_port_range": "3000:3009"}, {"external_port_range": "9:1"},
        {"floatingip_id": other_fip["id"]}, {"id": foreign["id"]}, {"description": ""},
    ]
    for q in queries:
        r = me.req("GET", pf_path(fid), params=q)
        assert r.status_code < 500, (q, r.status_code, r.text[:500])
        if r.status_code >= 400:
            assert_4xx(r)
            continue
        body = r.json()["port_forwardings"]
        # Never another floating IP's forwarding, whatever the query says.
        assert foreign["id"] not in {p.get("id") for p in body}, (q, body)
        for p in body:
            assert "project_id" not in p and "floatingip_id" not in p, (q, p)
    page = me.ok("GET", pf_path(fid), params={"limit": 2, "sort_key": "id", "sort_dir": "asc"})
    assert len(page["port_forwardings"]) == 2 and page.get("port_forwardings_links"), page
    assert {p["id"] for p in me.ok("GET", pf_path(fid), params={"protocol": "tcp"})["port_forwardings"]} == {p["id"] for p in made}
    shown = me.ok("GET", pf_path(fid, made[0]["id"]), params={"fields": ["id", "project_id"]})["port_forwarding"]
    assert shown == {"id": made[0]["id"]}, shown


def test_immutable_and_unknown_attributes_on_update(net_user, public):
    """PUT takes the forwarding's own attributes only: `id`, `project_id`, `floatingip_id`
    (read-only or post-only in neutron-lib) and unknown keys are 400s, and the forwarding is
    unchanged; an If-Match on a resource without a revision is no 500; a body on DELETE is a
    400; a list where one forwarding goes (bulk create, not offered) is a 400."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    pf = make_pf(me, fid, **tcp(e["port"], 2222))
    other_fip = me.create("floatingip", floating_network_id=public["id"])
    for change in ({"id": str(uuid.uuid4())}, {"project_id": str(uuid.uuid4())}, {"tenant_id": str(uuid.uuid4())},
                   {"floatingip_id": other_fip["id"]}, {"bogus": 1}, {"external_port": "x"}, {"protocol": "icmp"}):
        r = me.req("PUT", pf_path(fid, pf["id"]), json={"port_forwarding": change})
        assert r.status_code >= 400, (change, r.text)
        assert_4xx(r)
    assert me.ok("GET", pf_path(fid, pf["id"]))["port_forwarding"] == pf
    assert me.ok("GET", pf_path(other_fip["id"]))["port_forwardings"] == []
    r = me.req("PUT", pf_path(fid, pf["id"]), json={"port_forwarding": {"description": "x"}}, headers={"If-Match": "revision_number=0"})
    assert r.status_code < 500, r.text
    r = me.req("PUT", pf_path(fid, pf["id"]), json={"port_forwarding": [{"description": "x"}]})
    assert_4xx(r)
    assert_4xx(me.req("POST", pf_path(fid), json={"port_forwardings": [tcp(e["other"], 1), tcp(e["other"], 2, 23)]}))
    assert_4xx(me.req("POST", pf_path(fid), json={"port_forwarding": [tcp(e["other"], 1)]}))
    assert_4xx(me.req("POST", pf_path(fid), data=b"{not json", headers={"Content-Type": "application/json"}))
    assert_4xx(me.req("DELETE", pf_path(fid, pf["id"]), data=b"{}"))
    assert [p["id"] for p in me.ok("GET", pf_path(fid))["port_forwardings"]] == [pf["id"]]


def test_protocol_change_cannot_overlap_a_range(net_user, public):
    """Changing a forwarding's protocol onto another forwarding's external range of that
    protocol would leave two DNATs for one port (the first wins, silently). Neutron's unique
    constraint (floatingip_id, external_port, protocol) catches the single-port case only;
    here the collision check runs whenever the protocol changes: a 400, and the forwarding
    keeps its protocol."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    make_pf(me, fid, **tcp(e["port"], None, 22, external_port_range="100:200"))
    moving = make_pf(me, fid, **tcp(e["other"], 150, 22, protocol="udp"))
    r = me.req("PUT", pf_path(fid, moving["id"]), json={"port_forwarding": {"protocol": "tcp"}})
    assert_error(r, 400, "BadRequest", "collision")
    assert me.ok("GET", pf_path(fid, moving["id"]))["port_forwarding"]["protocol"] == "udp"


# ---- isolation ---------------------------------------------------------------------------------

def test_other_projects_ports_and_shared_networks(net_user, public, admin_net):
    """Your floating IP to another project's port (create and update, also when that port is on
    a network shared with you through RBAC and your router joins its subnet) is a 404; to
    another port's address on your own port a 400; another project's floating IP to your port
    a 404 (its floating IP is invisible to you)."""
    me, them = net_user(), net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    # A network of theirs shared with me; my router joins its subnet.
    snet, ssub = them.network_with_subnet()
    them.ok("POST", "/rbac-policies", status=201, json={"rbac_policy": {
        "object_type": "network", "object_id": snet["id"], "action": "access_as_shared", "target_tenant": me.project_id}})
    their_port = them.port(snet["id"])
    my_port_there = me.port(snet["id"])
    router_port = me.create("port", network_id=snet["id"])
    me.add_interface(e["router"]["id"], port_id=router_port["id"])
    assert_error(post_pf(me, fid, **tcp(their_port, 2222)), 404, "PortNotFound")
    ok = make_pf(me, fid, **tcp(my_port_there, 2222))
    assert_error(me.req("PUT", pf_path(fid, ok["id"]), json={"port_forwarding": {"internal_port_id": their_port["id"]}}), 404)
    assert_error(me.req("PUT", pf_path(fid, ok["id"]), json={"port_forwarding": {
        "internal_port_id": their_port["id"], "internal_ip_address": their_port["fixed_ips"][0]["ip_address"]}}), 404)
    r = me.req("PUT", pf_path(fid, ok["id"]), json={"port_forwarding": {"internal_ip_address": their_port["fixed_ips"][0]["ip_address"]}})
    assert_error(r, 400, "BadRequest")
    got = me.ok("GET", pf_path(fid, ok["id"]))["port_forwarding"]
    assert got["internal_port_id"] == my_port_there["id"] and got["internal_ip_address"] == my_port_there["fixed_ips"][0]["ip_address"]

    # Their floating IP, my port.
    tnet, tsub = them.network_with_subnet()
    trouter = them.router(external_gateway_info={"network_id": public["id"]})
    them.add_interface(trouter["id"], subnet_id=tsub["id"])
    their_fip = them.create("floatingip", floating_network_id=public["id"])
    assert_error(post_pf(me, their_fip["id"], **tcp(e["port"], 2222)), 404, "FloatingIPNotFound")
    assert them.ok("GET", pf_path(their_fip["id"]))["port_forwardings"] == []
    # Their forwardings never show in mine, even to the admin's eye they stay theirs.
    assert {p["id"] for p in admin_net.ok("GET", pf_path(fid))["port_forwardings"]} == {ok["id"]}


def test_reader_cannot_write(net_user, public):
    """A reader of the owning project reads the forwardings but PUT, POST and DELETE are 403
    PolicyNotAuthorized (ADMIN_OR_PARENT_OWNER_MEMBER), and nothing changes."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    pf = make_pf(me, fid, **tcp(e["port"], 2222))
    password = "Rr-" + uuid.uuid4().hex
    reader = me.cloud.create_user(password=password, project_id=me.project_id)
    try:
        me.cloud.grant("reader", reader["id"], me.project_id)
        hdr = {"X-Auth-Token": me.cloud.token(reader["name"], password, me.user.project)[0]}
        assert me.req("GET", pf_path(fid), token=False, headers=hdr).status_code == 200
        for change in ({"description": "mine"}, {"external_port": 1}, {"internal_port_id": e["other"]["id"]}):
            r = me.req("PUT", pf_path(fid, pf["id"]), token=False, headers=hdr, json={"port_forwarding": change})
            assert_error(r, 403, "PolicyNotAuthorized")
        assert_error(me.req("POST", pf_path(fid), token=False, headers=hdr, json={"port_forwarding": tcp(e["other"], 1)}), 403)
        assert_error(me.req("DELETE", pf_path(fid, pf["id"]), token=False, headers=hdr), 403)
        assert me.ok("GET", pf_path(fid, pf["id"]))["port_forwarding"] == pf
    finally:
        me.cloud.api("DELETE", f"/users/{reader['id']}")


def test_ipv6_internal_address_is_refused(net_user, public):
    """Forwardings are IPv4 (Neutron's object has an IPv4 address field and the plugin needs an
    IPv4 address on the port): an IPv6 internal address, on create or update, is a 400."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    me.subnet(e["net"]["id"], cidr=next_cidr6(), ip_version=6)
    dual = me.port(e["net"]["id"])
    v6 = next(ip["ip_address"] for ip in dual["fixed_ips"] if ":" in ip["ip_address"])
    v4 = next(ip["ip_address"] for ip in dual["fixed_ips"] if ":" not in ip["ip_address"])
    assert_error(post_pf(me, fid, **tcp(dual, 2222, internal_ip_address=v6)), 400)
    pf = make_pf(me, fid, **tcp(dual, 2222, internal_ip_address=v4))
    assert_error(me.req("PUT", pf_path(fid, pf["id"]), json={"port_forwarding": {"internal_ip_address": v6}}), 400)
    assert me.ok("GET", pf_path(fid, pf["id"]))["port_forwarding"]["internal_ip_address"] == v4


# ---- what a forwarding depends on ---------------------------------------------------------------

def test_router_interface_gateway_and_router_in_use(net_user, public):
    """Neutron's `_check_router_interface_not_in_use` counts port forwardings: the interface on
    the subnet a forwarding's address is on is not removed (409
    RouterInterfaceInUseByFloatingIP), nor the router's gateway (409
    RouterExternalGatewayInUseByFloatingIp) nor the router (409 RouterInUse) while its
    floating IP forwards through it; once the forwarding is gone all three go."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    rid = e["router"]["id"]
    pf = make_pf(me, fid, **tcp(e["port"], 2222))
    r = me.req("PUT", f"/routers/{rid}/remove_router_interface", json={"subnet_id": e["sub"]["id"]})
    assert_error(r, 409, "RouterInterfaceInUseByFloatingIP")
    assert me.show("floatingip", fid)["router_id"] == rid
    assert_error(me.req("PUT", f"/routers/{rid}", json={"router": {"external_gateway_info": {}}}), 409)
    assert_error(me.req("DELETE", f"/routers/{rid}"), 409)
    assert_error(me.req("DELETE", f"/subnets/{e['sub']['id']}"), 409)
    # An interface the forwarding does not use still goes.
    net2, sub2 = me.network_with_subnet()
    me.add_interface(rid, subnet_id=sub2["id"])
    me.remove_interface(rid, subnet_id=sub2["id"])
    me.ok("DELETE", pf_path(fid, pf["id"]), status=204)
    me.remove_interface(rid, subnet_id=e["sub"]["id"])
    assert me.show("floatingip", fid)["router_id"] is None


def test_association_and_forwarding_exclude_each_other(net_user, public):
    """A floating IP is either associated with a port or forwards ports: associating one with
    forwardings is a 409 (and a disassociation leaves its forwardings and router); forwarding
    an associated one is a 409; once the forwardings are gone it associates, and once
    disassociated it forwards again."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    pf = make_pf(me, fid, **tcp(e["port"], 2222))
    assert_error(me.req("PUT", f"/floatingips/{fid}", json={"floatingip": {"port_id": e["other"]["id"]}}), 409, "FipInUseByPortForwarding")
    me.update("floatingip", fid, port_id=None)
    f = me.show("floatingip", fid)
    assert f["router_id"] == e["router"]["id"] and [p["id"] for p in f["port_forwardings"]] == [pf["id"]]
    me.ok("DELETE", pf_path(fid, pf["id"]), status=204)
    me.update("floatingip", fid, port_id=e["other"]["id"])
    third = me.port(e["net"]["id"])
    assert_error(post_pf(me, fid, **tcp(third, 2222)), 409, "FloatingIPPortAlreadyAssociated")
    me.update("floatingip", fid, port_id=None)
    make_pf(me, fid, **tcp(third, 2222))


# ---- races ---------------------------------------------------------------------------------------

def test_race_for_one_external_port(net_user, public):
    """Twelve requests for the same floating IP, external port and protocol at once (each to a
    different internal port): exactly one 201, the rest 400 collisions; and twelve for
    overlapping ranges likewise."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    ports = [me.port(e["net"]["id"]) for _ in range(12)]
    barrier = threading.Barrier(12)

    def go(body):
        barrier.wait()
        return post_pf(me, fid, **body)
    with ThreadPoolExecutor(12) as ex:
        results = list(ex.map(go, [tcp(p, 5000) for p in ports]))
    assert sorted(r.status_code for r in results) == [201] + [400] * 11, [r.text for r in results]
    with ThreadPoolExecutor(12) as ex:
        results = list(ex.map(go, [tcp(p, None, 6000 + i, external_port_range=f"{6000 + i}:{6011 + i}", protocol="udp")
                                   for i, p in enumerate(ports)]))
    assert sorted(r.status_code for r in results) == [201] + [400] * 11, [r.text for r in results]
    assert len(me.ok("GET", pf_path(fid))["port_forwardings"]) == 2


def test_race_forwarding_against_association(net_user, public):
    """A forwarding and an association of the same free floating IP at once, many times: never
    both (the floating IP ends either associated without forwardings or forwarding without a
    port)."""
    me = net_user()
    e = setup(me, public)
    for i in range(8):
        fip = me.create("floatingip", floating_network_id=public["id"])
        target = me.port(e["net"]["id"])
        barrier = threading.Barrier(2)

        def forward():
            barrier.wait()
            return post_pf(me, fip["id"], **tcp(e["port"], 7000 + i))

        def associate():
            barrier.wait()
            return me.req("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": target["id"]}})
        with ThreadPoolExecutor(2) as ex:
            a, b = ex.submit(forward), ex.submit(associate)
            ra, rb = a.result(), b.result()
        assert (ra.status_code == 201) != (rb.status_code == 200), (ra.text, rb.text)
        f = me.show("floatingip", fip["id"])
        assert not (f["port_id"] and f["port_forwardings"]), f
        if ra.status_code == 201:
            me.ok("DELETE", pf_path(fip["id"], ra.json()["port_forwarding"]["id"]), status=204)


def test_many_forwardings_on_one_floating_ip_stay_cheap(net_user, public):
    """Each forwarding rebuilds the router's NAT table; 300 on one floating IP (Neutron has no
    limit) must keep a create, a list and a show fast, and the floating IP shows them all."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    start = time.monotonic()
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: post_pf(me, fid, **tcp(e["port"], 10000 + i, 10000 + i)), range(300)))
    assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201][:3]
    assert time.monotonic() - start < 120
    t0 = time.monotonic()
    make_pf(me, fid, **tcp(e["other"], 20000))
    assert len(me.ok("GET", pf_path(fid))["port_forwardings"]) == 301
    assert len(me.show("floatingip", fid)["port_forwardings"]) == 301
    assert time.monotonic() - t0 < 10
