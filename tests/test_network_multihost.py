"""Three hosts on one machine, joined by VXLAN: a network node (the controller, `nimbus up`
without a compute node of its own) and two `nimbus compute` nodes, each host's network stack a
namespace this test creates (`[network] host_namespace`), their underlay a bridge in a fourth
namespace. Guests on different hosts get DHCP and metadata from the network node across the
tunnels and reach each other; a guest is reached with SSH through its floating IP from the
outside namespace. A provider VLAN network (`physical_interface_mappings = physnet1:ph0`, each
host's ph0 on a fifth bridge playing the physical switch) joins guests on two hosts without
tunnels. Packets only go between namespaces this test or Nimbus created.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from compute_support import ComputeCloud, ComputeNodeProcess, build_test_image, delete_all_servers, wait_registered
from nimbus_launcher import Nimbus, random_password
from object_support import write_config
from test_network_datapath import ready_for_guests, run_dir, scrub_datapath, ssh, wait_ssh

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None or shutil.which("nft") is None,
                                reason="the Linux datapath needs dnsmasq and nft (scripts/install-deps.sh)")

HOSTS = {"net": "192.0.2.1", "a": "192.0.2.2", "b": "192.0.2.3"}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def host_links(ns: str) -> dict[str, dict]:
    return {l["ifname"]: l for l in json.loads(sh("ip", "-n", ns, "-j", "-d", "link", "show").stdout)}


def make_underlay(tag: str) -> dict[str, str]:
    """The hosts' namespaces, each with eth0 on one underlay bridge; returns role → namespace."""
    under = f"nmh{tag}-u"
    spaces = {role: f"nmh{tag}-{role}" for role in HOSTS}
    sh("ip", "netns", "add", under)
    sh("ip", "-n", under, "link", "add", "ul", "type", "bridge")
    sh("ip", "-n", under, "link", "set", "ul", "up")
    sh("ip", "-n", under, "link", "add", "pn", "type", "bridge")
    sh("ip", "-n", under, "link", "set", "pn", "up")
    for role, ns in spaces.items():
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", under, "link", "add", f"v{role}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", under, "link", "set", f"v{role}", "master", "ul", "up")
        sh("ip", "-n", ns, "addr", "add", HOSTS[role] + "/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        # The host's provider network interface (`physnet1`): a veth to the physical switch, a
        # second bridge in the underlay namespace that passes tagged frames as they are.
        sh("ip", "-n", under, "link", "add", f"p{role}", "type", "veth", "peer", "name", "ph0", "netns", ns)
        sh("ip", "-n", under, "link", "set", f"p{role}", "master", "pn", "up")
        sh("ip", "-n", ns, "link", "set", "ph0", "up")
    spaces["under"] = under
    return spaces


@pytest.fixture(scope="module")
def hosts_cloud(tmp_path_factory):
    build_test_image()
    tmp = tmp_path_factory.mktemp("netmh")
    tag = uuid.uuid4().hex[:5]
    spaces = make_underlay(tag)
    outside = "nimbus-m" + tag
    data = Path(tempfile.mkdtemp(prefix="nm-", dir="/tmp"))
    cfg = write_config(tmp / "net.conf", {
        "compute": {"local_node": "false", "host": "netnode", "agent_interval_s": "2", "force_config_drive": "false"},
        "network": {"datapath": "linux", "outside_namespace": outside, "host_namespace": spaces["net"], "tunnel_ip": HOSTS["net"],
                    "physical_interface_mappings": "physnet1:ph0"},
    })
    n = Nimbus(data, admin_password=random_password(), demo_password=random_password(), extra_args=["--config-file", str(cfg)],
               env={"NIMBUS_NETWORK_DATAPATH": "linux"})
    nodes: list[ComputeNodeProcess] = []
    cloud = None
    try:
        n.start(timeout=60)
        cloud = ComputeCloud(n)
        cloud.outside, cloud.data, cloud.spaces = outside, data, spaces
        for role in ("a", "b"):
            node = ComputeNodeProcess(cloud, f"host-{role}", data / f"node-{role}", driver="qemu",
                                      network={"datapath": "linux", "host_namespace": spaces[role], "tunnel_ip": HOSTS[role],
                                               "physical_interface_mappings": "physnet1:ph0"})
            node.start()
            nodes.append(node)
        wait_registered(cloud, nodes[-1], ["host-a", "host-b"])
        ready_for_guests(cloud, tmp)
        yield cloud
    finally:
        if cloud is not None:
            delete_all_servers(cloud)
        for node in nodes:
            node.stop()
        n.stop(grace=15)
        subprocess.run(["pkill", "-9", "-f", f"qemu-system.*{data}"], check=False)
        scrub_datapath(data, outside)
        for role in ("a", "b"):
            shutil.rmtree(run_dir(data / f"node-{role}"), ignore_errors=True)
        # Deleting a host's namespace deletes every device in it (bridges, taps, VXLAN).
        for ns in spaces.values():
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(data, ignore_errors=True)


def wait_banner(cloud, server: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = cloud.cli("console", "log", "show", server, check=False).stdout
        if "=== nimbus-test ready" in log:
            return log
        time.sleep(1)
    pytest.fail(f"{server} did not reach its banner:\n{log[-2000:]}")


def test_guests_on_two_hosts_reach_each_other_over_vxlan(hosts_cloud):
    c = hosts_cloud
    c.cli("keypair", "create", "--public-key", str(c.key) + ".pub", "k")
    net = c.cli("network", "create", "mh-net", "-f", "json")
    assert net["provider:network_type"] == "vxlan"
    vni = net["provider:segmentation_id"]
    c.cli("subnet", "create", "--network", "mh-net", "--subnet-range", "10.9.0.0/24", "mh-subnet")
    c.cli("router", "create", "mh-router", "--external-gateway", "public")
    c.cli("router", "add", "subnet", "mh-router", "mh-subnet")
    admin_project = c.cli("project", "show", "admin", "-f", "json")["id"]
    group = next(g for g in c.cli("security", "group", "list", "--project", admin_project, "-f", "json") if g["Name"] == "default")
    c.cli("security", "group", "rule", "create", group["ID"], "--protocol", "icmp")
    c.cli("security", "group", "rule", "create", group["ID"], "--protocol", "tcp", "--dst-port", "22")
    servers = {}
    for role in ("a", "b"):
        # Admins place servers on a host with the zone's host form (`nova:<host>`).
        s = c.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--key-name", "k", "--network", "mh-net",
                  "--availability-zone", f"nova:host-{role}", f"g-{role}", "-f", "json", timeout=120)
        servers[role] = s["id"]
    for role, sid in servers.items():
        s = c.wait_server(sid, "ACTIVE", timeout=240)
        assert s["OS-EXT-SRV-ATTR:host"] == f"host-{role}", s
    # DHCP and the metadata service live on the network node: the guests' leases and their
    # hostnames crossed the tunnels.
    ips = {}
    for role in ("a", "b"):
        log = wait_banner(c, f"g-{role}")
        assert "metadata service" in log and f"hostname=g-{role}" in log, log[-1500:]
        ips[role] = next(a for addrs in c.cli("server", "show", f"g-{role}", "-f", "json")["addresses"].values() for a in addrs)
        assert f"ip={ips[role]}" in log, log[-1500:]
    # Each compute host tunnels to the network node and to the other compute host; the
    # network node to both.
    want = {"net": {HOSTS["a"], HOSTS["b"]}, "a": {HOSTS["net"], HOSTS["b"]}, "b": {HOSTS["net"], HOSTS["a"]}}
    for role, peers in want.items():
        fdb = json.loads(sh("bridge", "-n", c.spaces[role], "-j", "fdb", "show", "dev", f"vxlan-{vni}").stdout)
        assert {e["dst"] for e in fdb if e["mac"] == "00:00:00:00:00:00"} == peers, (role, fdb)
        assert host_links(c.spaces[role])[f"vxlan-{vni}"]["master"].startswith("brq")
    fip = c.cli("floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    c.cli("server", "add", "floating", "ip", "g-a", fip)
    wait_ssh(c, fip)
    assert ssh(c, fip, "hostname").stdout.strip() == "g-a"
    out = ssh(c, fip, f"ping -c 3 -W 2 {ips['b']}").stdout
    assert " 0% packet loss" in out, out
    # The agents API shows each host's L2 agent with its tunnel address, and the network node's.
    agents = c.cli("network", "agent", "list", "--long", "-f", "json")
    l2 = {a["Host"]: a for a in agents if a["Agent Type"] == "Linux bridge agent"}
    assert set(l2) == {"netnode", "host-a", "host-b"} and all(a["Alive"] in (True, ":-)") for a in l2.values()), agents
    assert {a["Agent Type"] for a in agents if a["Host"] == "netnode"} >= {"DHCP agent", "L3 agent", "Metadata agent"}

    # The last guest of a host gone: its tap, bridge and VXLAN device go too, and the others
    # stop flooding to it.
    c.cli("server", "delete", "--wait", "g-b", timeout=180)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [n for n in host_links(c.spaces["b"]) if n.startswith(("tap", "brq", "vxlan-"))]
        fdb = json.loads(sh("bridge", "-n", c.spaces["a"], "-j", "fdb", "show", "dev", f"vxlan-{vni}").stdout)
        if not left and {e["dst"] for e in fdb if e["mac"] == "00:00:00:00:00:00"} == {HOSTS["net"]}:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"host b keeps {left}; host a floods to {fdb}")
    assert ssh(c, fip, "hostname").stdout.strip() == "g-a"


def kernel_has_8021q() -> bool:
    """Whether this kernel makes VLAN devices (the test machines' kernel has no 802.1Q)."""
    ns = "nmh-vlanprobe-" + uuid.uuid4().hex[:4]
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
        return sh("ip", "-n", ns, "link", "add", "link", "p0", "name", "p0.5", "type", "vlan", "id", "5", check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", ns, check=False)


@pytest.mark.parametrize("kind", ["flat", "vlan"])
def test_guests_on_two_hosts_share_a_provider_network(hosts_cloud, kind):
    """An admin's provider network on physnet1 (flat: each host's ph0 itself in the network's
    bridge; vlan: the tagged subinterface ph0.<vlan>) on every host with a port on it (the network
    node for DHCP and the router, the two compute hosts for their guests): the guests get DHCP
    from the network node across the physical network, no tunnel, and reach each other; a host's
    device leaves the bridge (a VLAN subinterface is deleted) with the host's last port."""
    if kind == "vlan" and not kernel_has_8021q():
        pytest.skip("this kernel has no 802.1Q VLAN devices (CONFIG_VLAN_8021Q)")
    c = hosts_cloud
    key = f"k-{kind}"
    c.cli("keypair", "create", "--public-key", str(c.key) + ".pub", key)
    args = ["--provider-network-type", kind, "--provider-physical-network", "physnet1"] + (["--provider-segment", "123"] if kind == "vlan" else [])
    net = c.cli("network", "create", *args, f"mh-{kind}", "-f", "json")
    assert net["provider:network_type"] == kind and net["provider:physical_network"] == "physnet1", net
    c.cli("subnet", "create", "--network", f"mh-{kind}", "--subnet-range", "10.12.0.0/24" if kind == "vlan" else "10.13.0.0/24", f"mh-{kind}-subnet")
    c.cli("router", "create", f"mh-{kind}-router", "--external-gateway", "public")
    c.cli("router", "add", "subnet", f"mh-{kind}-router", f"mh-{kind}-subnet")
    admin_project = c.cli("project", "show", "admin", "-f", "json")["id"]
    group = next(g for g in c.cli("security", "group", "list", "--project", admin_project, "-f", "json") if g["Name"] == "default")
    for rule in (["--protocol", "icmp"], ["--protocol", "tcp", "--dst-port", "22"]):
        c.cli("security", "group", "rule", "create", group["ID"], *rule, check=False)
    servers = {}
    for role in ("a", "b"):
        servers[role] = c.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--key-name", key, "--network", f"mh-{kind}",
                              "--availability-zone", f"nova:host-{role}", f"{kind}-{role}", "-f", "json", timeout=120)["id"]
    ips = {}
    for role in ("a", "b"):
        s = c.wait_server(servers[role], "ACTIVE", timeout=240)
        assert s["OS-EXT-SRV-ATTR:host"] == f"host-{role}", s
        log = wait_banner(c, f"{kind}-{role}")
        ips[role] = next(a for addrs in c.cli("server", "show", servers[role], "-f", "json")["addresses"].values() for a in addrs)
        assert f"ip={ips[role]}" in log, log[-1500:]
    device = "ph0.123" if kind == "vlan" else "ph0"
    bridge = "brq" + net["id"][:11]
    for role in ("net", "a", "b"):
        link = host_links(c.spaces[role]).get(device)
        assert link and link.get("master") == bridge, (role, link)
        if kind == "vlan":
            assert link["linkinfo"]["info_kind"] == "vlan" and link["linkinfo"]["info_data"]["id"] == 123, link
    fip = c.cli("floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    c.cli("server", "add", "floating", "ip", servers["a"], fip)
    wait_ssh(c, fip)
    out = ssh(c, fip, f"ping -c 3 -W 2 {ips['b']}").stdout
    assert " 0% packet loss" in out, out
    c.cli("server", "delete", "--wait", servers["b"], timeout=180)
    c.cli("server", "remove", "floating", "ip", servers["a"], fip)
    c.cli("floating", "ip", "delete", fip)
    deadline = time.monotonic() + 30
    while host_links(c.spaces["b"]).get(device, {}).get("master") == bridge and time.monotonic() < deadline:
        time.sleep(0.5)
    gone = host_links(c.spaces["b"]).get(device)
    assert gone is None if kind == "vlan" else gone.get("master") is None, gone
    assert host_links(c.spaces["a"])[device]["master"] == bridge
    c.cli("server", "delete", "--wait", servers["a"], timeout=180)
