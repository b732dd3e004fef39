"""Servers and the network service together, on the fake driver and the fake datapath: a
server's addresses (`/ips`), Nova's add/remove security group actions and the server's
`os-security-groups`, interface attach/detach (`os-interface`), and Neutron's agents API.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid

import pytest

from compute_support import start_compute_cloud, stop_compute_cloud


@contextlib.contextmanager
def tiny_image_cloud(tmp_path_factory, name: str, extra: dict):
    """A fake-driver cloud with a public 1 MiB raw image, `tiny-raw` (its id as `c.image`)."""
    c, data = start_compute_cloud(tmp_path_factory.mktemp(name), "fake", extra)
    try:
        with tempfile.NamedTemporaryFile(suffix=".raw") as f:
            f.write(b"\0" * 1024 * 1024)
            f.flush()
            c.cli("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare", "--file", f.name, "tiny-raw")
        c.image = next(i["ID"] for i in c.cli("image", "list", "-f", "json") if i["Name"] == "tiny-raw")
        yield c
    finally:
        stop_compute_cloud(c, data)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with tiny_image_cloud(tmp_path_factory, "netcomp", {"compute": {"host": "nc-host", "agent_interval_s": "1"}}) as c:
        yield c


def demo(c, *args, **kw):
    return c.cli(*args, cloud="nimbus-demo", **kw)


def demo_token(c):
    return c.token(user="demo", password=c.nimbus.demo_password, project="demo")


def boot(c, name, nics=None, token=None, groups=None):
    """A server on `nics`; by default on the demo project's `private` network (admins: none)."""
    if nics is None:
        private = c.neutron("GET", "/networks?name=private").json()["networks"][0]["id"]
        nics = "none" if token else [{"uuid": private}]
    server = {"name": name, "imageRef": c.image, "flavorRef": "42", "networks": nics}
    if groups:
        server["security_groups"] = [{"name": g} for g in groups]
    r = c.nova("POST", "/servers", json={"server": server}, token=token or demo_token(c))
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    c.wait_server(sid, "ACTIVE", timeout=60, token=token or demo_token(c))
    return sid


def action(c, sid, body, token=None):
    return c.nova("POST", f"/servers/{sid}/action", json=body, token=token or demo_token(c))


def port_groups(c, sid):
    return [sorted(p["security_groups"]) for p in c.neutron("GET", f"/ports?device_id={sid}").json()["ports"]]


def test_ips_show_the_servers_addresses(cloud):
    c = cloud
    sid = boot(c, "ips-" + uuid.uuid4().hex[:6])
    r = c.nova("GET", f"/servers/{sid}/ips", token=demo_token(c))
    assert r.status_code == 200, r.text
    addrs = r.json()["addresses"]
    assert list(addrs) == ["private"]
    [a] = addrs["private"]
    assert set(a) == {"version", "addr"} and a["version"] == 4 and a["addr"].startswith("10.0.0.")
    r = c.nova("GET", f"/servers/{sid}/ips/private", token=demo_token(c))
    assert r.status_code == 200 and r.json() == {"private": addrs["private"]}
    r = c.nova("GET", f"/servers/{sid}/ips/public", token=demo_token(c))
    assert r.status_code == 404, r.text


def test_add_and_remove_security_group(cloud):
    c = cloud
    name = "web-" + uuid.uuid4().hex[:6]
    group = demo(c, "security", "group", "create", name, "-f", "json")
    demo(c, "security", "group", "rule", "create", name, "--protocol", "tcp", "--dst-port", "80")
    default = next(g for g in demo(c, "security", "group", "list", "-f", "json") if g["Name"] == "default")
    sid = boot(c, "sg-" + uuid.uuid4().hex[:6])
    assert port_groups(c, sid) == [[default["ID"]]]
    # By name with the CLI, then by id through the API; adding twice changes nothing.
    demo(c, "server", "add", "security", "group", sid, name)
    assert port_groups(c, sid) == [sorted([default["ID"], group["id"]])]
    r = action(c, sid, {"addSecurityGroup": {"name": group["id"]}})
    assert r.status_code == 202, r.text
    assert port_groups(c, sid) == [sorted([default["ID"], group["id"]])]
    shown = demo(c, "server", "show", sid, "-f", "json")
    assert sorted(g["name"] for g in shown["security_groups"]) == sorted(["default", name])
    r = c.nova("GET", f"/servers/{sid}/os-security-groups", token=demo_token(c))
    assert r.status_code == 200, r.text
    groups = {g["name"]: g for g in r.json()["security_groups"]}
    assert set(groups) == {"default", name}
    [rule] = groups[name]["rules"]
    assert rule["ip_protocol"] == "tcp" and rule["from_port"] == 80 and rule["to_port"] == 80
    assert rule["parent_group_id"] == group["id"] and rule["ip_range"] == {"cidr": "0.0.0.0/0"}
    demo(c, "server", "remove", "security", "group", sid, name)
    assert port_groups(c, sid) == [[default["ID"]]]
    # Removing what is not there: Nova's 404.
    r = action(c, sid, {"removeSecurityGroup": {"name": name}})
    assert r.status_code == 404 and "not associated" in r.json()["itemNotFound"]["message"], r.text


def test_security_group_action_errors(cloud):
    c = cloud
    sid = boot(c, "sgerr-" + uuid.uuid4().hex[:6])
    for body, status in [({"addSecurityGroup": {"name": "no-such-group"}}, 404),
                         ({"addSecurityGroup": {"name": ""}}, 400),
                         ({"addSecurityGroup": {"name": "   "}}, 400),
                         ({"addSecurityGroup": {}}, 400),
                         ({"addSecurityGroup": "default"}, 400),
                         ({"addSecurityGroup": {"name": 5}}, 400),
                         ({"addSecurityGroup": {"name": "default", "x": 1}}, 400),
                         ({"removeSecurityGroup": {"name": "no-such-group"}}, 404)]:
        r = action(c, sid, body)
        assert r.status_code == status, (body, r.status_code, r.text)
    # Two groups with one name: ambiguous (409); another project's group, by name or id: not found.
    dup = "dup-" + uuid.uuid4().hex[:6]
    demo(c, "security", "group", "create", dup)
    demo(c, "security", "group", "create", dup)
    r = action(c, sid, {"addSecurityGroup": {"name": dup}})
    assert r.status_code == 409, r.text
    other = c.cli("security", "group", "create", "admins-" + uuid.uuid4().hex[:6], "-f", "json")
    for ref in (other["id"], other["name"]):
        r = action(c, sid, {"addSecurityGroup": {"name": ref}})
        assert r.status_code == 404, r.text
    # A server without ports.
    bare = boot(c, "bare-" + uuid.uuid4().hex[:6], nics="none")
    r = action(c, bare, {"addSecurityGroup": {"name": "default"}})
    assert r.status_code == 404, r.text
    # Port security off on the server's port: Nova's SecurityGroupCannotBeApplied (400).
    net = demo(c, "network", "create", "--disable-port-security", "nops-" + uuid.uuid4().hex[:6], "-f", "json")
    demo(c, "subnet", "create", "--network", net["id"], "--subnet-range", "10.77.0.0/24", "nops-sub")
    nops = boot(c, "nops-" + uuid.uuid4().hex[:6], nics=[{"uuid": net["id"]}])
    r = action(c, nops, {"addSecurityGroup": {"name": "default"}})
    assert r.status_code == 400 and "port_security_enabled" in r.text, r.text


def test_another_projects_server_is_not_found(cloud):
    c = cloud
    sid = boot(c, "mine-" + uuid.uuid4().hex[:6], token=c.token())
    token = demo_token(c)
    for method, path, body in [("POST", f"/servers/{sid}/action", {"addSecurityGroup": {"name": "default"}}),
                               ("GET", f"/servers/{sid}/os-security-groups", None), ("GET", f"/servers/{sid}/ips", None)]:
        r = c.nova(method, path, json=body, token=token)
        assert r.status_code == 404, (path, r.text)


def test_agents_api(cloud):
    c = cloud
    deadline = time.monotonic() + 20
    agents = []
    while time.monotonic() < deadline:
        agents = c.cli("network", "agent", "list", "-f", "json")
        if len(agents) == 4:
            break
        time.sleep(0.5)
    assert sorted(a["Agent Type"] for a in agents) == ["DHCP agent", "L3 agent", "Linux bridge agent", "Metadata agent"], agents
    assert all(a["Host"] == "nc-host" and a["Alive"] in (True, ":-)") and a["State"] in (True, "UP") for a in agents), agents
    l2 = next(a for a in agents if a["Agent Type"] == "Linux bridge agent")
    shown = c.cli("network", "agent", "show", l2["ID"], "-f", "json")
    assert shown["binary"] == "neutron-linuxbridge-agent" and shown["host"] == "nc-host"
    c.cli("network", "agent", "set", "--description", "the bridge agent", l2["ID"])
    assert c.cli("network", "agent", "show", l2["ID"], "-f", "json")["description"] == "the bridge agent"
    # Filters, and admin only: a member sees none and cannot show, change or delete one.
    assert [a["id"] for a in c.neutron("GET", "/agents?agent_type=L3%20agent").json()["agents"]] == \
        [a["ID"] for a in agents if a["Agent Type"] == "L3 agent"]
    token = demo_token(c)
    assert c.neutron("GET", "/agents", token=token).json() == {"agents": []}
    assert c.neutron("GET", f"/agents/{l2['ID']}", token=token).status_code == 404
    assert c.neutron("PUT", f"/agents/{l2['ID']}", json={"agent": {"description": "x"}}, token=token).status_code == 404
    assert c.neutron("DELETE", f"/agents/{l2['ID']}", token=token).status_code == 404
    for body in ({"agent": {"host": "elsewhere"}}, {"agent": {"admin_state_up": "maybe"}}, {"agent": {"description": "x" * 256}}, {"x": 1}):
        r = c.neutron("PUT", f"/agents/{l2['ID']}", json=body)
        assert r.status_code == 400 and "NeutronError" in r.json(), (body, r.text)
    r = c.neutron("GET", f"/agents/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    # A deleted agent's record comes back with its next report.
    c.cli("network", "agent", "delete", l2["ID"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        back = [a for a in c.cli("network", "agent", "list", "-f", "json") if a["Agent Type"] == "Linux bridge agent"]
        if back:
            break
        time.sleep(0.5)
    assert back and back[0]["ID"] != l2["ID"]


def interfaces(c, sid, token=None):
    r = c.nova("GET", f"/servers/{sid}/os-interface", token=token or demo_token(c))
    assert r.status_code == 200, r.text
    return r.json()["interfaceAttachments"]


def test_interface_attach_and_detach(cloud):
    c = cloud
    sid = boot(c, "if-" + uuid.uuid4().hex[:6])
    [first] = interfaces(c, sid)
    assert set(first) == {"port_state", "fixed_ips", "port_id", "net_id", "mac_addr", "tag"} and first["tag"] is None
    private = demo(c, "network", "show", "private", "-f", "json")["id"]
    assert first["net_id"] == private and first["fixed_ips"][0]["ip_address"].startswith("10.0.0.")
    r = c.nova("GET", f"/servers/{sid}/os-interface/{first['port_id']}", token=demo_token(c))
    assert r.status_code == 200 and r.json()["interfaceAttachment"]["port_id"] == first["port_id"]
    # A new port on a network, with an address; the node's guest gets it and the port turns ACTIVE.
    net = demo(c, "network", "create", "if-net-" + uuid.uuid4().hex[:6], "-f", "json")
    demo(c, "subnet", "create", "--network", net["id"], "--subnet-range", "10.88.0.0/24", "if-sub-" + uuid.uuid4().hex[:6])
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"net_id": net["id"], "fixed_ips": [{"ip_address": "10.88.0.50"}]}},
               token=demo_token(c), version="2.70")
    assert r.status_code == 200, r.text
    made = r.json()["interfaceAttachment"]
    assert made["net_id"] == net["id"] and made["fixed_ips"][0]["ip_address"] == "10.88.0.50" and made["tag"] is None
    port = c.neutron("GET", f"/ports/{made['port_id']}").json()["port"]
    assert port["device_id"] == sid and port["device_owner"].startswith("compute:") and port["binding:host_id"] == "nc-host"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and c.neutron("GET", f"/ports/{made['port_id']}").json()["port"]["status"] != "ACTIVE":
        time.sleep(0.3)
    assert c.neutron("GET", f"/ports/{made['port_id']}").json()["port"]["status"] == "ACTIVE"
    # A port of one's own, by id, with a device tag (2.49) that os-interface shows from 2.70.
    own = demo(c, "port", "create", "--network", "private", "own-" + uuid.uuid4().hex[:6], "-f", "json")
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"port_id": own["id"], "tag": "data-nic"}},
               token=demo_token(c), version="2.70")
    assert r.status_code == 200 and r.json()["interfaceAttachment"]["tag"] == "data-nic", r.text
    tagged = c.nova("GET", f"/servers/{sid}/os-interface", token=demo_token(c), version="2.70").json()["interfaceAttachments"]
    assert {i["port_id"]: i["tag"] for i in tagged} == {first["port_id"]: None, made["port_id"]: None, own["id"]: "data-nic"}
    assert c.nova("GET", f"/servers/{sid}/os-interface/{own['id']}", token=demo_token(c), version="2.70").json()["interfaceAttachment"]["tag"] == "data-nic"
    assert {i["port_id"] for i in interfaces(c, sid)} == {first["port_id"], made["port_id"], own["id"]}
    assert sorted(demo(c, "server", "show", sid, "-f", "json")["addresses"]) == sorted(["private", net["name"]])
    # Detach: the port the compute service made is deleted, the user's own port released.
    r = c.nova("DELETE", f"/servers/{sid}/os-interface/{made['port_id']}", token=demo_token(c))
    assert r.status_code == 202, r.text
    assert c.neutron("GET", f"/ports/{made['port_id']}").status_code == 404
    demo(c, "server", "remove", "port", sid, own["id"])
    released = c.neutron("GET", f"/ports/{own['id']}").json()["port"]
    assert released["device_id"] == "" and released["binding:host_id"] == ""
    assert [i["port_id"] for i in interfaces(c, sid)] == [first["port_id"]]
    # Deleting the server deletes the port it was booted with (and none of the others).
    c.cli("server", "delete", "--wait", sid, timeout=60)
    assert c.neutron("GET", f"/ports/{first['port_id']}").status_code == 404
    assert c.neutron("GET", f"/ports/{own['id']}").status_code == 200


def test_interface_errors(cloud):
    c = cloud
    sid = boot(c, "iferr-" + uuid.uuid4().hex[:6])
    private = demo(c, "network", "show", "private", "-f", "json")["id"]
    port = demo(c, "port", "create", "--network", "private", "p-" + uuid.uuid4().hex[:6], "-f", "json")
    for body, status in [({"interfaceAttachment": {"net_id": private, "port_id": port["id"]}}, 400),
                         ({"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.0.0.9"}]}}, 400),
                         ({"interfaceAttachment": {"net_id": "not-a-uuid"}}, 400),
                         ({"interfaceAttachment": {"net_id": private, "fixed_ips": [{"ip_address": "999.1.1.1"}]}}, 400),
                         ({"interfaceAttachment": {"net_id": private, "fixed_ips": []}}, 400),
                         ({"interfaceAttachment": {"net_id": private, "bogus": 1}}, 400),
                         ({"interfaceAttachment": "x"}, 400),
                         ({"interfaceAttachment": {"net_id": str(uuid.uuid4())}}, 404),
                         ({"interfaceAttachment": {"port_id": str(uuid.uuid4())}}, 404)]:
        r = c.nova("POST", f"/servers/{sid}/os-interface", json=body, token=demo_token(c))
        assert r.status_code == status, (body, r.status_code, r.text)
    # Another project's port, a port in use, an address taken.
    admins = c.cli("port", "create", "--network", "public", "adm-" + uuid.uuid4().hex[:6], "-f", "json")
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"port_id": admins["id"]}}, token=demo_token(c))
    assert r.status_code == 404, r.text
    # Not even an admin makes another project's port a server's interface (Nova's PortNotUsable),
    # and the port is left as it was.
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"port_id": admins["id"]}})
    assert r.status_code == 400 and "not usable" in r.text, r.text
    assert c.neutron("GET", f"/ports/{admins['id']}").json()["port"]["device_id"] == ""
    # An admin attaching with no network chooses among the server's project's networks (the
    # admin project has none of its own; the demo project has several by now: Nova's 400).
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={})
    assert r.status_code == 400 and "Multiple possible networks" in r.text, r.text
    other = boot(c, "iferr2-" + uuid.uuid4().hex[:6])
    used = interfaces(c, other)[0]["port_id"]
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"port_id": used}}, token=demo_token(c))
    assert r.status_code == 409, r.text
    taken = interfaces(c, other)[0]["fixed_ips"][0]["ip_address"]
    r = c.nova("POST", f"/servers/{sid}/os-interface",
               json={"interfaceAttachment": {"net_id": private, "fixed_ips": [{"ip_address": taken}]}}, token=demo_token(c))
    assert r.status_code == 409, r.text
    # Detach of a port that is not the server's (another server's): 404, and it stays put.
    r = c.nova("DELETE", f"/servers/{sid}/os-interface/{used}", token=demo_token(c))
    assert r.status_code == 404, r.text
    assert c.neutron("GET", f"/ports/{used}").json()["port"]["device_id"] == other
    r = c.nova("GET", f"/servers/{sid}/os-interface/{used}", token=demo_token(c))
    assert r.status_code == 404, r.text
    # Another project's server.
    mine = boot(c, "ifadm-" + uuid.uuid4().hex[:6], token=c.token())
    for method, path in [("GET", f"/servers/{mine}/os-interface"), ("POST", f"/servers/{mine}/os-interface")]:
        r = c.nova(method, path, json={} if method == "POST" else None, token=demo_token(c))
        assert r.status_code == 404, (path, r.text)
    # A locked server (by its owner) and a suspended one refuse both.
    demo(c, "server", "lock", sid)
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={}, token=demo_token(c))
    assert r.status_code == 409, r.text
    demo(c, "server", "unlock", sid)
    demo(c, "server", "suspend", sid)
    c.wait_server(sid, "SUSPENDED", timeout=30, token=demo_token(c))
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={}, token=demo_token(c))
    assert r.status_code == 409 and "vm_state suspended" in r.text, r.text


def test_nova_security_group_proxy(cloud):
    c = cloud
    token = demo_token(c)

    def nova(method, path, version="2.1", **kw):
        return c.nova(method, path, token=token, version=version, **kw)

    name = "proxy-" + uuid.uuid4().hex[:6]
    r = nova("POST", "/os-security-groups", json={"security_group": {"name": name, "description": "via nova"}})
    assert r.status_code == 200, r.text
    g = r.json()["security_group"]
    assert set(g) == {"id", "name", "description", "tenant_id", "rules"} and g["rules"] == [] and g["description"] == "via nova"
    # The network service has it, with Neutron's default egress rules (Nova shows ingress only).
    assert c.neutron("GET", f"/security-groups/{g['id']}", token=token).json()["security_group"]["name"] == name
    listed = nova("GET", "/os-security-groups").json()["security_groups"]
    assert name in [x["name"] for x in listed] and "default" in [x["name"] for x in listed]
    assert [(x["tenant_id"], x["name"]) for x in listed] == sorted((x["tenant_id"], x["name"]) for x in listed)
    assert len(nova("GET", "/os-security-groups?limit=1").json()["security_groups"]) == 1
    r = nova("PUT", f"/os-security-groups/{g['id']}", json={"security_group": {"name": name + "-2", "description": "d2"}})
    assert r.status_code == 200 and r.json()["security_group"]["name"] == name + "-2", r.text
    # Rules: a CIDR rule, a group rule (all TCP ports when none given), the same rule twice.
    rule = {"parent_group_id": g["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"}
    r = nova("POST", "/os-security-group-rules", json={"security_group_rule": rule})
    assert r.status_code == 200, r.text
    made = r.json()["security_group_rule"]
    assert made["ip_range"] == {"cidr": "10.0.0.0/8"} and made["group"] == {} and (made["from_port"], made["to_port"]) == (22, 22)
    assert nova("POST", "/os-security-group-rules", json={"security_group_rule": rule}).status_code == 400
    r = nova("POST", "/os-security-group-rules", json={"security_group_rule": {"parent_group_id": g["id"], "group_id": g["id"], "ip_protocol": "tcp"}})
    assert r.status_code == 200, r.text
    by_group = r.json()["security_group_rule"]
    assert by_group["group"]["name"] == name + "-2" and (by_group["from_port"], by_group["to_port"]) == (1, 65535)
    # A group rule without both ports is any protocol (Nova's `_new_ingress_rule`).
    r = nova("POST", "/os-security-group-rules", json={"security_group_rule": {"parent_group_id": g["id"], "group_id": g["id"],
                                                                              "ip_protocol": "gre", "from_port": 5}})
    assert r.status_code == 200 and r.json()["security_group_rule"]["ip_protocol"] is None, r.text
    assert nova("DELETE", f"/os-security-group-rules/{r.json()['security_group_rule']['id']}").status_code == 202
    shown = nova("GET", f"/os-security-groups/{g['id']}").json()["security_group"]
    assert {x["id"] for x in shown["rules"]} == {made["id"], by_group["id"]}
    for bad in [{"ip_protocol": "tcp", "from_port": 30, "to_port": 20}, {"ip_protocol": "tcp", "from_port": 0, "to_port": 20},
                {"ip_protocol": "gre", "from_port": 1, "to_port": 2}, {"ip_protocol": "icmp", "from_port": 256, "to_port": 0},
                {"ip_protocol": "tcp", "from_port": "a", "to_port": 2}, {"cidr": "10.0.0.0/8"},
                {"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "not-a-cidr"},
                {"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.0/0"},
                {"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.1"}]:
        r = nova("POST", "/os-security-group-rules", json={"security_group_rule": {"parent_group_id": g["id"], **bad}})
        assert r.status_code == 400 and "badRequest" in r.json(), (bad, r.text)
    for bad_body in [{}, {"security_group_rule": {}}, {"security_group_rule": {"parent_group_id": "x"}}]:
        assert nova("POST", "/os-security-group-rules", json=bad_body).status_code == 400
    assert nova("POST", "/os-security-group-rules",
                json={"security_group_rule": {**rule, "parent_group_id": str(uuid.uuid4())}}).status_code == 404
    assert nova("DELETE", f"/os-security-group-rules/{made['id']}").status_code == 202
    assert nova("DELETE", f"/os-security-group-rules/{made['id']}").status_code == 404
    assert nova("DELETE", "/os-security-group-rules/not-a-uuid").status_code == 400
    # Errors: not a uuid, not found, another project's group, the default group, gone at 2.36.
    assert nova("GET", "/os-security-groups/not-a-uuid").status_code == 400
    assert nova("GET", f"/os-security-groups/{uuid.uuid4()}").status_code == 404
    other = c.cli("security", "group", "create", "adm-" + uuid.uuid4().hex[:6], "-f", "json")
    assert nova("GET", f"/os-security-groups/{other['id']}").status_code == 404
    assert nova("DELETE", f"/os-security-groups/{other['id']}").status_code == 404
    assert nova("POST", "/os-security-group-rules", json={"security_group_rule": {**rule, "parent_group_id": other["id"]}}).status_code == 404
    default = next(x for x in listed if x["name"] == "default")
    assert nova("DELETE", f"/os-security-groups/{default['id']}").status_code == 400
    for bad_body in [{}, {"security_group": {"name": "x"}}, {"security_group": {"name": 1, "description": ""}},
                     {"security_group": {"name": "x" * 256, "description": ""}}]:
        assert nova("POST", "/os-security-groups", json=bad_body).status_code == 400, bad_body
    assert nova("GET", "/os-security-groups", version="2.36").status_code == 404
    assert nova("DELETE", f"/os-security-groups/{g['id']}").status_code == 202
    assert nova("GET", f"/os-security-groups/{g['id']}").status_code == 404


def test_server_external_events(cloud):
    c = cloud
    sid = boot(c, "ev-" + uuid.uuid4().hex[:6])
    missing = str(uuid.uuid4())
    r = c.nova("POST", "/os-server-external-events", json={"events": [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "p"}]})
    assert r.status_code == 200, r.text
    assert r.json()["events"] == [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "p", "status": "completed", "code": 200}]
    r = c.nova("POST", "/os-server-external-events", json={"events": [
        {"name": "network-changed", "server_uuid": sid}, {"name": "network-changed", "server_uuid": missing},
        {"name": "power-update", "server_uuid": sid}]})
    assert r.status_code == 207, r.text
    assert [(e["code"], e["status"]) for e in r.json()["events"]] == [(200, "completed"), (404, "failed"), (400, "failed")]
    for body in [{}, {"events": []}, {"events": [{"name": "bogus", "server_uuid": sid}]}, {"events": [{"name": "network-changed"}]},
                 {"events": [{"name": "network-changed", "server_uuid": "x"}]},
                 {"events": [{"name": "network-changed", "server_uuid": sid, "extra": 1}]},
                 {"events": [{"name": "network-changed", "server_uuid": sid, "status": "done"}]}]:
        assert c.nova("POST", "/os-server-external-events", json=body).status_code == 400, body
    # power-update exists from 2.76 only; members may not send events.
    assert c.nova("POST", "/os-server-external-events", version="2.75",
                  json={"events": [{"name": "power-update", "server_uuid": sid, "tag": "POWER_ON"}]}).status_code == 400
    r = c.nova("POST", "/os-server-external-events", token=demo_token(c), json={"events": [{"name": "network-changed", "server_uuid": sid}]})
    assert r.status_code == 403, r.text


def test_dhcp_option_values_are_bounded_in_bytes(cloud):
    """dnsmasq splits a file line after 1,024 bytes: 255 characters of four-byte UTF-8 would end
    in an option without the port's tag, served to every guest of the network."""
    c = cloud
    net = c.neutron("GET", "/networks?name=private").json()["networks"][0]["id"]
    long = "\U0001F600" * 100
    r = c.neutron("POST", "/ports", json={"port": {"network_id": net, "extra_dhcp_opts": [{"opt_name": "domain-search", "opt_value": long}]}})
    assert r.status_code == 400 and "bytes" in r.json()["NeutronError"]["message"], r.text
    r = c.neutron("POST", "/ports", json={"port": {"network_id": net, "extra_dhcp_opts": [{"opt_name": "domain-search", "opt_value": "a" * 255}]}})
    assert r.status_code == 201, r.text
    c.neutron("DELETE", f"/ports/{r.json()['port']['id']}")


def test_at_most_sixteen_interfaces(cloud):
    """The `pc` machine's bus has room for about 28 devices: attach stops at 16 NICs (a bound Nova lacks)."""
    c = cloud
    net = demo(c, "network", "create", "many-" + uuid.uuid4().hex[:6], "-f", "json")["id"]
    demo(c, "subnet", "create", "--network", net, "--subnet-range", "10.66.0.0/24", "many-sub-" + uuid.uuid4().hex[:6])
    sid = boot(c, "many-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}])
    for _ in range(15):
        r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"net_id": net}}, token=demo_token(c))
        assert r.status_code == 200, r.text
    assert len(interfaces(c, sid)) == 16
    r = c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"net_id": net}}, token=demo_token(c))
    assert r.status_code == 400 and "at most 16" in r.text, r.text
    assert len(interfaces(c, sid)) == 16


def test_add_and_remove_fixed_ip_up_to_2_43(cloud):
    """Nova's multinic actions: addFixedIp puts one more address of the network on the server's
    port there, removeFixedIp takes one off; both answer 202 (the work is a cast to the host, so
    a request that changes nothing is 202 too); from 2.44 they are gone (404); bad bodies 400."""
    c = cloud

    def multinic(c, sid, body):
        return c.nova("POST", f"/servers/{sid}/action", json=body, token=demo_token(c), version="2.43")

    sid = boot(c, "mn-" + uuid.uuid4().hex[:6])
    [first] = interfaces(c, sid)
    before = {ip["ip_address"] for ip in first["fixed_ips"]}
    r = multinic(c, sid, {"addFixedIp": {"networkId": first["net_id"]}})
    assert r.status_code == 202, r.text
    [now] = interfaces(c, sid)
    added = {ip["ip_address"] for ip in now["fixed_ips"]} - before
    assert len(added) == 1 and now["port_id"] == first["port_id"]
    addresses = c.nova("GET", f"/servers/{sid}/ips", token=demo_token(c)).json()["addresses"]
    assert added <= {a["addr"] for a in addresses["private"]}
    r = multinic(c, sid, {"removeFixedIp": {"address": added.pop()}})
    assert r.status_code == 202, r.text
    assert {ip["ip_address"] for ip in interfaces(c, sid)[0]["fixed_ips"]} == before
    # Nothing to do: still 202 (Nova's cast); a network the server is not on changes nothing.
    assert multinic(c, sid, {"removeFixedIp": {"address": "192.0.2.77"}}).status_code == 202
    assert multinic(c, sid, {"addFixedIp": {"networkId": str(uuid.uuid4())}}).status_code == 202
    assert {ip["ip_address"] for ip in interfaces(c, sid)[0]["fixed_ips"]} == before
    for body in ({"addFixedIp": {}}, {"addFixedIp": {"networkId": ""}}, {"addFixedIp": {"networkId": "x" * 37}},
                 {"addFixedIp": {"networkId": first["net_id"], "extra": 1}}, {"removeFixedIp": {"address": "not-an-ip"}},
                 {"removeFixedIp": {}}):
        r = multinic(c, sid, body)
        assert r.status_code == 400, (body, r.text)
        assert "badRequest" in r.json()
    r = c.nova("POST", f"/servers/{sid}/action", json={"addFixedIp": {"networkId": first["net_id"]}}, token=demo_token(c), version="2.44")
    assert r.status_code == 404, r.text
