"""Floating IP port forwardings (`floating-ip-port-forwarding`, `-description`, `-port-ranges`,
`expose-port-forwarding-in-fip`): `/v2.0/floatingips/{id}/port_forwardings[/{pf}]`.

Expected behaviour is real Neutron's, read from its source: neutron-lib
api/definitions/floating_ip_port_forwarding.py, fip_pf_description.py, fip_pf_port_range.py,
expose_port_forwarding_in_fip.py; neutron/services/portforwarding/pf_plugin.py (the rules and
their messages), neutron/objects/port_forwarding.py (what a forwarding shows),
neutron/conf/policies/floatingip_port_forwarding.py (the parent floating IP's owner).

The API tests run on the session cloud (fake datapath); the last test boots one QEMU guest on
the Linux datapath (test_network_datapath's `net_cloud`) and SSHes to it from the outside
namespace through a forwarded port.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from network_support import (  # noqa: F401  (fixtures)
    forwarding_setup as setup,
    admin_net,
    assert_error,
    net_user,
    public,
    wait_for,
)

PF_FIELDS = {"id", "external_port", "internal_port", "external_port_range", "internal_port_range",
             "internal_ip_address", "internal_port_id", "protocol", "description"}
IN_FIP_FIELDS = {"id", "internal_ip_address", "protocol", "internal_port", "external_port", "internal_port_id"}


def pf_path(fip_id: str, pf_id: str | None = None) -> str:
    return f"/floatingips/{fip_id}/port_forwardings" + (f"/{pf_id}" if pf_id else "")


def create_pf(me, fip_id: str, status: int = 201, **attrs):
    r = me.req("POST", pf_path(fip_id), json={"port_forwarding": attrs})
    if status == 201:
        assert r.status_code == 201, r.text
        return r.json()["port_forwarding"]
    return r


def tcp(port: dict, ext: int, internal: int = 22, **kw) -> dict:
    return {"internal_port_id": port["id"], "internal_ip_address": port["fixed_ips"][0]["ip_address"],
            "internal_port": internal, "external_port": ext, "protocol": "tcp", **kw}


def test_extensions_are_listed(admin_net):
    aliases = {e["alias"] for e in admin_net.ok("GET", "/extensions")["extensions"]}
    for a in ("floating-ip-port-forwarding", "expose-port-forwarding-in-fip",
              "floating-ip-port-forwarding-description", "floating-ip-port-forwarding-port-ranges"):
        assert a in aliases
        assert admin_net.ok("GET", f"/extensions/{a}")["extension"]["alias"] == a
    assert "floating-ip-port-forwarding-detail" not in aliases


def test_lifecycle_through_the_cli(net_user, public):
    """`openstack floating ip port forwarding create/list/show/set/delete`: the forwarding shows
    both spellings of its ports (`external_port` and `external_port_range` "N:N", as Neutron's
    object), the floating IP its `port_forwardings` (expose-port-forwarding-in-fip) and the
    router that the first forwarding chose; the last one gone clears `router_id`."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    pf = me.cli("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", e["ip"], "--port", e["port"]["id"],
                "--internal-protocol-port", "22", "--external-protocol-port", "2222", "--protocol", "tcp",
                "--description", "ssh", fid, "-f", "json")
    assert pf["internal_port"] == 22 and pf["external_port"] == 2222 and pf["protocol"] == "tcp", pf
    assert pf["external_port_range"] == "2222:2222" and pf["internal_port_range"] == "22:22", pf
    assert pf["internal_port_id"] == e["port"]["id"] and pf["internal_ip_address"] == e["ip"] and pf["description"] == "ssh"

    raw = me.ok("GET", pf_path(fid, pf["id"]))["port_forwarding"]
    assert set(raw) == PF_FIELDS, raw
    f = me.show("floatingip", fid)
    assert f["router_id"] == e["router"]["id"] and f["port_id"] is None
    assert len(f["port_forwardings"]) == 1 and set(f["port_forwardings"][0]) == IN_FIP_FIELDS
    assert f["port_forwardings"][0]["external_port"] == 2222
    # The fake datapath wires the router's gateway: the floating IP is ACTIVE, as an associated one.
    wait_for(lambda: me.show("floatingip", fid)["status"] == "ACTIVE", what="the floating IP ACTIVE")

    udp = me.cli("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", e["ip"], "--port", e["port"]["id"],
                 "--internal-protocol-port", "53", "--external-protocol-port", "5353", "--protocol", "udp", fid, "-f", "json")
    listed = me.cli("floating", "ip", "port", "forwarding", "list", fid, "-f", "json")
    assert {p["ID"] for p in listed} == {pf["id"], udp["id"]}
    only_udp = me.cli("floating", "ip", "port", "forwarding", "list", "--protocol", "udp", fid, "-f", "json")
    assert [p["ID"] for p in only_udp] == [udp["id"]]
    by_port = me.cli("floating", "ip", "port", "forwarding", "list", "--external-protocol-port", "2222", fid, "-f", "json")
    assert [p["ID"] for p in by_port] == [pf["id"]]

    me.cli("floating", "ip", "port", "forwarding", "set", "--external-protocol-port", "2200", "--description", "moved", fid, pf["id"])
    shown = me.cli("floating", "ip", "port", "forwarding", "show", fid, pf["id"], "-f", "json")
    assert shown["external_port"] == 2200 and shown["external_port_range"] == "2200:2200" and shown["description"] == "moved"

    me.cli("floating", "ip", "port", "forwarding", "delete", fid, pf["id"])
    assert_error(me.req("GET", pf_path(fid, pf["id"])), 404, "PortForwardingNotFound")
    assert me.show("floatingip", fid)["router_id"] == e["router"]["id"]  # the udp one still routes it
    me.cli("floating", "ip", "port", "forwarding", "delete", fid, udp["id"])
    f = me.show("floatingip", fid)
    assert f["router_id"] is None and f["port_forwardings"] == []
    wait_for(lambda: me.show("floatingip", fid)["status"] == "DOWN", what="the floating IP DOWN")


def test_sdk_ranges_update_and_pagination(net_user, public):
    """openstacksdk's port forwarding calls; a range forwards N-N or N-1 (`_validate_ranges`),
    shows no single `external_port`/`internal_port` for a range; sorting, `limit`/`marker`
    and `fields` as on the other collections."""
    me = net_user()
    e = setup(me, public)
    conn = me.sdk()
    fip = conn.network.get_ip(e["fip"]["id"])
    a = conn.network.create_floating_ip_port_forwarding(fip, internal_port_id=e["port"]["id"], internal_ip_address=e["ip"],
                                                        internal_port=80, external_port=8080, protocol="tcp")
    assert a.external_port == 8080 and a.internal_port == 80
    b = conn.network.create_floating_ip_port_forwarding(fip, internal_port_id=e["port"]["id"], internal_ip_address=e["ip"],
                                                        internal_port_range="9000:9010", external_port_range="19000:19010",
                                                        protocol="tcp", description="n-n")
    raw = me.ok("GET", pf_path(fip.id, b.id))["port_forwarding"]
    assert raw["external_port_range"] == "19000:19010" and raw["internal_port_range"] == "9000:9010"
    assert "external_port" not in raw and "internal_port" not in raw, raw
    c = create_pf(me, fip.id, internal_port_id=e["port"]["id"], internal_ip_address=e["ip"], internal_port=7000,
                  external_port_range="17000:17005", protocol="tcp")
    assert c["internal_port"] == 7000 and c["internal_port_range"] == "7000:7000" and "external_port" not in c

    got = conn.network.get_floating_ip_port_forwarding(fip, a.id)
    assert got.internal_ip_address == e["ip"]
    upd = conn.network.update_floating_ip_port_forwarding(fip, a.id, internal_port_id=e["other"]["id"])
    # A new internal port without an address takes its first IPv4 address (pf_plugin).
    assert upd.internal_port_id == e["other"]["id"] and upd.internal_ip_address == e["other"]["fixed_ips"][0]["ip_address"]
    assert {p["id"] for p in conn.network.floating_ip_port_forwardings(fip)} == {a.id, b.id, c["id"]}

    page = me.ok("GET", pf_path(fip.id), params={"limit": 2, "sort_key": "id", "sort_dir": "asc"})
    ids = sorted([a.id, b.id, c["id"]])
    assert [p["id"] for p in page["port_forwardings"]] == ids[:2]
    assert any(link["rel"] == "next" for link in page["port_forwardings_links"])
    rest = me.ok("GET", pf_path(fip.id), params={"limit": 2, "sort_key": "id", "sort_dir": "asc", "marker": ids[1]})
    assert [p["id"] for p in rest["port_forwardings"]] == ids[2:]
    desc = me.ok("GET", pf_path(fip.id), params={"sort_key": "external_port_range", "sort_dir": "desc",
                                                  "fields": ["id", "external_port_range"]})["port_forwardings"]
    assert [p["id"] for p in desc] == [a.id, b.id, c["id"]] and set(desc[0]) == {"id", "external_port_range"}
    assert me.ok("GET", pf_path(fip.id), params={"external_port_range": "17000:17005"})["port_forwardings"][0]["id"] == c["id"]

    conn.network.delete_floating_ip_port_forwarding(fip, b.id)
    assert {p["id"] for p in conn.network.floating_ip_port_forwardings(fip)} == {a.id, c["id"]}


def test_collisions_and_conflicts(net_user, public):
    """pf_plugin's rules: the same external port and protocol twice on one floating IP, or the
    same internal socket twice, is 400 BadRequest (a port collision); the other protocol is
    fine. A floating IP associated with a port gets no forwardings (409
    FloatingIPPortAlreadyAssociated), a port with a floating IP none either (409
    PortHasBindingFloatingIP); a floating IP with forwardings is neither associated (409
    FipInUseByPortForwarding) nor deleted (409, the plugin's precommit check)."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    first = create_pf(me, fid, **tcp(e["port"], 2222))
    assert_error(create_pf(me, fid, 0, **tcp(e["other"], 2222)), 400, "BadRequest",
                 "There is a port collision with the external_port_range. The following ranges collide: 2222:2222 and 2222:2222")
    assert_error(create_pf(me, fid, 0, **tcp(e["port"], 2223)), 400, "BadRequest",
                 "There is a port collision with the internal_port_range")
    assert_error(create_pf(me, fid, 0, **tcp(e["other"], 2220, external_port=None, external_port_range="2200:2230")),
                 400, "BadRequest", "collision")
    create_pf(me, fid, **{**tcp(e["other"], 2222), "protocol": "udp"})
    # Updates keep the rules too.
    second = create_pf(me, fid, **tcp(e["other"], 3333))
    assert_error(me.req("PUT", pf_path(fid, second["id"]), json={"port_forwarding": {"external_port": 2222}}), 400, "BadRequest")

    assert_error(me.req("PUT", f"/floatingips/{fid}", json={"floatingip": {"port_id": e["other"]["id"]}}),
                 409, "FipInUseByPortForwarding", f"Floating IP {fid} in use by Port Forwarding resources.")
    assert_error(me.req("DELETE", f"/floatingips/{fid}"), 409, "FipInUseByPortForwarding")

    associated = me.create("floatingip", floating_network_id=public["id"], port_id=e["port"]["id"])
    fresh = me.port(e["net"]["id"])
    assert_error(create_pf(me, associated["id"], 0, **tcp(fresh, 80)), 409, "FloatingIPPortAlreadyAssociated")
    free = me.create("floatingip", floating_network_id=public["id"])
    assert_error(create_pf(me, free["id"], 0, **tcp(e["port"], 80, internal=8080)), 409, "PortHasBindingFloatingIP",
                 f"with port {e['port']['id']} using fixed IP {e['ip']}, as that port already has a binding floating IP.")
    assert me.ok("GET", pf_path(fid, first["id"]))["port_forwarding"]["id"] == first["id"]


def test_internal_port_rules(net_user, public):
    """The internal address is one of the port's IPv4 addresses (400 otherwise, with the port's
    fixed_ips as Python prints them), the port's subnet must reach the floating IP's network
    through a router (400), another project's port is 404; deleting the port deletes its
    forwardings, and taking the address off the port too (pf_plugin on port delete/update)."""
    me, other = net_user(), net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    bad = tcp(e["port"], 2222, internal_ip_address=e["other"]["fixed_ips"][0]["ip_address"])
    err = assert_error(create_pf(me, fid, 0, **bad), 400, "BadRequest", "is not suitable for internal neutron port")
    assert f"'ip_address': '{e['ip']}'" in err["message"], err
    lonely_net, _ = me.network_with_subnet()
    lonely = me.port(lonely_net["id"])
    assert_error(create_pf(me, fid, 0, **tcp(lonely, 2222)), 400, "BadRequest", "is not reachable from subnet")
    onet, _ = other.network_with_subnet()
    theirs = other.port(onet["id"])
    assert_error(create_pf(me, fid, 0, **tcp(theirs, 2222)), 404, "PortNotFound")

    pf = create_pf(me, fid, **tcp(e["port"], 2222))
    assert me.show("floatingip", fid)["router_id"] == e["router"]["id"]
    me.delete("port", e["port"]["id"])
    assert_error(me.req("GET", pf_path(fid, pf["id"])), 404, "PortForwardingNotFound")
    f = me.show("floatingip", fid)
    assert f["port_forwardings"] == [] and f["router_id"] is None

    pf = create_pf(me, fid, **tcp(e["other"], 2222))
    old = e["other"]["fixed_ips"][0]["ip_address"]
    new = old.rsplit(".", 1)[0] + ".200"
    me.update("port", e["other"]["id"], fixed_ips=[{"subnet_id": e["sub"]["id"], "ip_address": new}])  # the old address goes
    assert_error(me.req("GET", pf_path(fid, pf["id"])), 404, "PortForwardingNotFound")
    me.delete("floatingip", fid)


@pytest.mark.parametrize("attrs,status,type_,fragment", [
    ({"protocol": "icmp"}, 400, "BadRequest", "Port forwarding of protocol icmp is not supported"),
    ({"protocol": "TCP"}, 400, "HTTPBadRequest", "Invalid input for protocol. Reason: 'TCP' is not in"),
    ({"protocol": "bogus"}, 400, "InvalidInput", "IP protocol 'bogus' is not supported"),
    ({"external_port": 0}, 400, "HTTPBadRequest", "Invalid input for external_port. Reason: '0' is too small - must be at least '1'."),
    ({"external_port": 65536}, 400, "HTTPBadRequest", "must be no larger than '65535'"),
    ({"internal_port": "abc"}, 400, "InvalidInput", "'abc' is not an integer"),
    ({"external_port": None, "external_port_range": "10:5"}, 400, "HTTPBadRequest",
     "First port in a port range must be lower than the second port"),
    ({"external_port": None, "external_port_range": "1:2:3"}, 400, "HTTPBadRequest",
     "Port range must be two integers separated by a colon"),
    ({"external_port": None, "external_port_range": "0:5"}, 400, "HTTPBadRequest",
     "Invalid port: 0, the port must be in the range [1, 65535]"),
    ({"external_port_range": "80:81"}, 400, "BadRequest", "cannot be given together"),
    ({"external_port": None}, 400, "BadRequest", "Either external_port or external_port_range must be specified"),
    ({"external_port": None, "external_port_range": "80:90", "internal_port": None, "internal_port_range": "80:85"},
     400, "BadRequest", "The relation between internal and external ports must be N-N or 1-N"),
    ({"internal_port": None, "internal_port_range": "80:85"}, 400, "BadRequest", "must be N-N or 1-N"),
    ({"internal_port_id": "nope"}, 400, "HTTPBadRequest", "Invalid input for internal_port_id. Reason: 'nope' is not a valid UUID."),
    ({"internal_ip_address": "10.0.0.300"}, 400, "HTTPBadRequest", "is not a valid IP address"),
    ({"floatingip_id": "x"}, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'floatingip_id'"),
    ({"description": "d" * 256}, 400, "HTTPBadRequest", "exceeds maximum length of 255"),
])
def test_bad_input(net_user, public, attrs, status, type_, fragment):
    """Neutron's 400s for each attribute (neutron-lib validators and converters, pf_plugin's
    range rules), in Neutron's error format; `icmp`, which Neutron takes and its L3 agent then
    cannot program, is refused here."""
    me = net_user()
    e = setup(me, public)
    body = {**tcp(e["port"], 2222), **attrs}
    body = {k: v for k, v in body.items() if not (v is None and k in ("external_port", "internal_port"))}
    assert_error(create_pf(me, e["fip"]["id"], 0, **body), status, type_, fragment)


def test_requests_neutron_refuses(net_user, public):
    """A missing required attribute, a body without `port_forwarding`, read-only `id`, a filter
    Neutron cannot filter on, a bad sort key, a missing floating IP or forwarding."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    body = tcp(e["port"], 2222)
    del body["internal_ip_address"]
    assert_error(create_pf(me, fid, 0, **body), 400, "HTTPBadRequest",
                 "Failed to parse request. Required attribute 'internal_ip_address' not specified")
    assert_error(me.req("POST", pf_path(fid), json={"port": {}}), 400, "HTTPBadRequest", "Unable to find 'port_forwarding' in request body")
    assert_error(create_pf(me, fid, 0, **tcp(e["port"], 2222), id=str(uuid.uuid4())), 400, "HTTPBadRequest", "Attribute 'id' not allowed in POST")
    assert_error(me.req("GET", pf_path(fid), params={"internal_ip_address": e["ip"]}), 400, "HTTPBadRequest",
                 "internal_ip_address is invalid attribute for filtering")
    assert_error(me.req("GET", pf_path(fid), params={"sort_key": "description", "sort_dir": "asc"}), 400, "HTTPBadRequest")
    missing = str(uuid.uuid4())
    assert_error(me.req("GET", pf_path(missing)), 404, "FloatingIPNotFound")
    assert_error(me.req("GET", pf_path(fid, missing)), 404, "PortForwardingNotFound")
    assert_error(me.req("PUT", pf_path(fid, missing), json={"port_forwarding": {"description": "x"}}), 404, "PortForwardingNotFound")
    assert_error(me.req("DELETE", pf_path(fid, missing)), 404, "PortForwardingNotFound")
    pf = create_pf(me, fid, **body, internal_ip_address=e["ip"])
    # A forwarding is found only under its own floating IP.
    other_fip = me.create("floatingip", floating_network_id=public["id"])
    assert_error(me.req("GET", pf_path(other_fip["id"], pf["id"])), 404, "PortForwardingNotFound")
    assert me.req("GET", pf_path(fid), token=False).status_code == 401


def test_projects_are_isolated(net_user, public, admin_net):
    """Another project's floating IP is a 404 for every call (its forwardings are not even
    listed); a reader of the owning project lists and shows but may not create, update or
    delete (the rules ask for a member: PolicyNotAuthorized, 403); the admin sees them."""
    me = net_user()
    e = setup(me, public)
    fid = e["fip"]["id"]
    pf = create_pf(me, fid, **tcp(e["port"], 2222))
    stranger = net_user()
    assert_error(stranger.req("GET", pf_path(fid)), 404, "FloatingIPNotFound")
    assert_error(stranger.req("GET", pf_path(fid, pf["id"])), 404, "FloatingIPNotFound")
    assert_error(stranger.req("PUT", pf_path(fid, pf["id"]), json={"port_forwarding": {"description": "x"}}), 404)
    assert_error(stranger.req("DELETE", pf_path(fid, pf["id"])), 404)
    assert_error(create_pf(stranger, fid, 0, **tcp(e["port"], 3333)), 404, "FloatingIPNotFound")

    assert [p["id"] for p in admin_net.ok("GET", pf_path(fid))["port_forwardings"]] == [pf["id"]]

    # A reader in the owning project (a second user of it).
    password = "Rr-" + uuid.uuid4().hex
    reader = me.cloud.create_user(password=password, project_id=me.project_id)
    try:
        me.cloud.grant("reader", reader["id"], me.project_id)
        hdr = {"X-Auth-Token": me.cloud.token(reader["name"], password, me.user.project)[0]}
        assert me.req("GET", pf_path(fid, pf["id"]), token=False, headers=hdr).status_code == 200
        assert_error(me.req("POST", pf_path(fid), token=False, headers=hdr, json={"port_forwarding": tcp(e["port"], 3333)}),
                     403, "PolicyNotAuthorized")
        assert_error(me.req("DELETE", pf_path(fid, pf["id"]), token=False, headers=hdr), 403, "PolicyNotAuthorized")
    finally:
        me.cloud.api("DELETE", f"/users/{reader['id']}")


# ---- real packets ---------------------------------------------------------------------------

from test_network_datapath import SSH_OPTS, boot, fixed_ip, net_cloud, wait_banner  # noqa: E402,F401  (net_cloud: fixture)


def ssh_port(cloud, ip: str, port: int, command: str = "hostname", timeout: float = 15) -> subprocess.CompletedProcess:
    """SSH from the outside namespace (which plays the outside of `public`) to ip:port."""
    argv = ["ip", "netns", "exec", cloud.outside, "ssh", *SSH_OPTS, "-p", str(port), "-i", str(cloud.key), f"root@{ip}", command]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(argv, 255, "", f"timeout: {e}")


def test_ssh_through_a_forwarded_port(net_cloud):
    """The Linux datapath: a forwarding of the floating IP's TCP 2222 to the guest's 22 is DNAT
    in the router's namespace (the floating address on its gateway): SSH from the outside
    reaches the guest on 2222 and not on 22 (nothing forwards that); the floating IP is ACTIVE.
    Once the forwarding is deleted, 2222 no longer answers (the address leaves the gateway)."""
    c = net_cloud
    demo = {"cloud": "nimbus-demo"}
    if not any(k["Name"] == "k" for k in c.cli("keypair", "list", "-f", "json", **demo)):
        c.cli("keypair", "create", "--public-key", str(c.key) + ".pub", "k", **demo)
    c.cli("security", "group", "rule", "create", "default", "--protocol", "tcp", "--dst-port", "22", **demo)
    boot(c, "pf1")
    wait_banner(c, "pf1")
    ip = fixed_ip(c, "pf1")
    (port,) = c.cli("port", "list", "--server", "pf1", "-f", "json", **demo)
    fip = c.cli("floating", "ip", "create", "public", "-f", "json", **demo)
    address = fip["floating_ip_address"]
    pf = c.cli("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", ip, "--port", port["ID"],
               "--internal-protocol-port", "22", "--external-protocol-port", "2222", "--protocol", "tcp", fip["id"], "-f", "json", **demo)
    wait_for(lambda: ssh_port(c, address, 2222).stdout.strip() == "pf1", timeout=60, interval=1, what="ssh through FIP:2222")
    assert ssh_port(c, address, 22, timeout=10).returncode != 0
    shown = wait_for(lambda: (f := c.cli("floating", "ip", "show", fip["id"], "-f", "json", **demo))["status"] == "ACTIVE" and f,
                     what="FIP ACTIVE")
    nat = subprocess.run(["ip", "netns", "exec", f"qrouter-{shown['router_id']}", "nft", "list", "table", "ip", "nimbus-nat"],
                         capture_output=True, text=True, check=True).stdout
    assert f"ip daddr {address} tcp dport 2222 dnat to {ip}:22" in nat, nat

    c.cli("floating", "ip", "port", "forwarding", "delete", fip["id"], pf["id"], **demo)
    wait_for(lambda: ssh_port(c, address, 2222, timeout=10).returncode != 0, timeout=30, interval=1, what="2222 closed")
    nat = subprocess.run(["ip", "netns", "exec", f"qrouter-{shown['router_id']}", "nft", "list", "table", "ip", "nimbus-nat"],
                         capture_output=True, text=True, check=True).stdout
    assert "dport 2222" not in nat, nat
    assert ssh_port(c, address, 2222, timeout=10).returncode != 0
    c.cli("server", "delete", "--wait", "pf1", **demo)
    c.cli("floating", "ip", "delete", fip["id"], **demo)
