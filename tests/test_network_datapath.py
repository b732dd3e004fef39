"""The network datapath on Linux, with real packets: QEMU guests (the project's test image, TCG)
on Nimbus' networks, reached with SSH from an "outside" namespace through floating IPs.

One `nimbus up` with the Linux datapath (`[network] datapath = linux`) and a namespace of its
own playing the outside of `public`; guests read their key and hostname from the metadata
service (no config drive). Packets only go between namespaces Nimbus or this test created.
The last test deletes everything and checks that no bridge, tap, namespace, dnsmasq or nftables
table of this cloud is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from compute_support import ComputeCloud, build_test_image, delete_all_servers
from nimbus_launcher import Nimbus, random_password
from object_support import write_config

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None or shutil.which("nft") is None,
                                reason="the Linux datapath needs dnsmasq and nft (scripts/install-deps.sh)")

SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=4",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    return {n["name"] for n in json.loads(out or "[]")}


def links() -> dict[str, dict]:
    out = subprocess.run(["ip", "-j", "-d", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {l["ifname"]: l for l in json.loads(out)}


@pytest.fixture(scope="module")
def net_cloud(tmp_path_factory):
    build_test_image()
    tmp = tmp_path_factory.mktemp("netdp")
    outside = "nimbus-t" + uuid.uuid4().hex[:6]
    data = Path(tempfile.mkdtemp(prefix="nd-", dir="/tmp"))
    cfg = write_config(tmp / "net.conf", {
        "compute_node": {"driver": "qemu", "accelerator": "tcg"},
        "compute": {"agent_interval_s": "2", "force_config_drive": "false"},
        "network": {"datapath": "linux", "outside_namespace": outside},
    })
    n = Nimbus(data, admin_password=random_password(), demo_password=random_password(), extra_args=["--config-file", str(cfg)],
               env={"NIMBUS_NETWORK_DATAPATH": "linux"})
    n.start(timeout=60)
    cloud = ComputeCloud(n)
    cloud.outside = outside
    cloud.data = data
    try:
        ready_for_guests(cloud, tmp)
        yield cloud
    finally:
        # Whatever a failed test left: servers, then nimbus, then the kernel objects this cloud's
        # datapath recorded as its own (runDir/owned), its dnsmasq and its nftables tables.
        delete_all_servers(cloud)
        n.stop(grace=15)
        subprocess.run(["pkill", "-9", "-f", f"qemu-system.*{data}"], check=False)
        scrub_datapath(data, outside)
        shutil.rmtree(data, ignore_errors=True)


def ready_for_guests(cloud, tmp: Path) -> None:
    """An SSH key for the guests (`cloud.key`), and the test image active."""
    cloud.key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(cloud.key)], check=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(r["Name"] == "nimbus-test" and r["Status"] == "active" for r in cloud.cli("image", "list", "-f", "json")):
            return
        time.sleep(1)


def run_dir(data: Path) -> str:
    return "/run/nimbus-network-" + hashlib.sha256(str(data).encode()).hexdigest()[:12]


def scrub_datapath(data: Path, outside: str) -> None:
    rd = run_dir(data)
    subprocess.run(["pkill", "-f", f"dnsmasq.*{rd}/"], check=False)
    owned = Path(rd, "owned").read_text().split() if Path(rd, "owned").exists() else []
    spaces = netns_list()
    for name in owned + [outside]:
        if name in spaces:
            subprocess.run(["ip", "netns", "del", name], check=False)
    present = links()
    for name in owned:
        if name in present:
            subprocess.run(["ip", "link", "del", name], check=False)
    digest = rd[-12:]
    for family, table in (("bridge", f"nimbus-ports-{digest}"), ("inet", f"nimbus-sg-{digest}")):
        subprocess.run(["nft", "delete", "table", family, table], check=False, capture_output=True)
    shutil.rmtree(rd, ignore_errors=True)


def ssh(cloud, ip: str, command: str, timeout: float = 25, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", "netns", "exec", cloud.outside, "ssh", *SSH_OPTS, "-i", str(cloud.key), f"root@{ip}", command]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"ssh {ip} {command!r}: {p.returncode} {p.stderr}"
    return p


def wait_ssh(cloud, ip: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = ssh(cloud, ip, "true", timeout=10, check=False)
            if last.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
    pytest.fail(f"no ssh to {ip} within {timeout} s: {last.stderr if last else ''}")


def wait_banner(cloud, server: str, cloud_name: str = "nimbus-demo", timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = cloud.cli("console", "log", "show", server, cloud=cloud_name, check=False).stdout
        if "=== nimbus-test ready" in log:
            return log
        time.sleep(1)
    pytest.fail(f"{server} did not reach its banner:\n{log[-2000:]}")


def boot(cloud, name: str, cloud_name: str = "nimbus-demo", extra: tuple = ()) -> dict:
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--key-name", "k", *extra, "--wait",
                  name, "-f", "json", cloud=cloud_name, timeout=240)
    assert s["status"] == "ACTIVE", s
    return s


def fixed_ip(cloud, server: str, cloud_name: str = "nimbus-demo") -> str:
    s = cloud.cli("server", "show", server, "-f", "json", cloud=cloud_name)
    return next(a for addrs in s["addresses"].values() for a in addrs if a.startswith("10."))


def test_ssh_through_a_floating_ip_with_the_key_from_the_metadata_service(net_cloud):
    """DHCP gives the guest its address, the metadata service its hostname and key, the router
    the floating IP's DNAT; the security group blocks SSH until a rule opens it, and again
    once the rule is gone."""
    c = net_cloud
    c.cli("keypair", "create", "--public-key", str(c.key) + ".pub", "k", cloud="nimbus-demo")
    c.cli("security", "group", "rule", "create", "default", "--protocol", "icmp", cloud="nimbus-demo")
    boot(c, "g1")
    log = wait_banner(c, "g1")
    assert "metadata service" in log and "hostname=g1" in log, log[-1500:]
    ip = fixed_ip(c, "g1")
    assert f"ip={ip}" in log
    fip = c.cli("floating", "ip", "create", "public", "-f", "json", cloud="nimbus-demo")["floating_ip_address"]
    c.cli("server", "add", "floating", "ip", "g1", fip, cloud="nimbus-demo")
    # Reachable (ICMP allowed), but SSH is not open yet.
    ping = subprocess.run(["ip", "netns", "exec", c.outside, "busybox", "ping", "-c", "3", "-W", "2", fip], capture_output=True, text=True)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ssh(c, fip, "true", timeout=15, check=False).returncode != 0
    rule = c.cli("security", "group", "rule", "create", "default", "--protocol", "tcp", "--dst-port", "22", "-f", "json", cloud="nimbus-demo")
    wait_ssh(c, fip, timeout=30)
    out = ssh(c, fip, "hostname; ip -4 -o addr show eth0; wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json").stdout
    assert out.splitlines()[0] == "g1"
    assert f"inet {ip}/" in out
    server_id = c.cli("server", "show", "g1", "-f", "json", cloud="nimbus-demo")["id"]
    assert json.loads(out.splitlines()[-1])["uuid"] == server_id
    c.cli("security", "group", "rule", "delete", rule["id"], cloud="nimbus-demo")
    time.sleep(2)
    assert ssh(c, fip, "true", timeout=15, check=False).returncode != 0
    c.cli("security", "group", "rule", "create", "default", "--protocol", "tcp", "--dst-port", "22", cloud="nimbus-demo")
    wait_ssh(c, fip, timeout=30)
    c.fip = fip
    # SNAT: the guest reaches the outside (the public subnet's gateway lives in the outside namespace).
    assert "0% packet loss" in ssh(c, fip, "ping -c 2 -W 2 172.24.4.1").stdout

    # The password a guest agent posts to the metadata service (nova/api/metadata/password.py):
    # set once (then 409), at most 1,020 bytes (400), read back by the guest and by
    # os-server-password (2.1), which clears it.
    url = "http://169.254.169.254/openstack/2013-04-04/password"
    code = "curl -s -o /dev/null -w '%{http_code}' "
    assert "password" in ssh(c, fip, "curl -s http://169.254.169.254/openstack/latest/").stdout.split()
    assert ssh(c, fip, code + f"-X POST --data-binary x{'y' * 1020} {url}").stdout == "400"
    assert ssh(c, fip, code + f"-X POST --data-binary s3cr3t-blob {url}").stdout == "200"
    assert ssh(c, fip, code + f"-X POST --data-binary other {url}").stdout == "409"
    assert ssh(c, fip, f"curl -s {url}").stdout == "s3cr3t-blob"
    assert ssh(c, fip, code + "-X POST --data-binary x http://169.254.169.254/openstack/2012-08-10/password").stdout == "404"
    demo = c.token("demo", c.nimbus.read_password("demo"), "demo")
    assert c.nova("GET", f"/servers/{server_id}/os-server-password", token=demo, version="2.1").json() == {"password": "s3cr3t-blob"}
    assert c.nova("DELETE", f"/servers/{server_id}/os-server-password", token=demo, version="2.1").status_code == 204
    assert c.nova("GET", f"/servers/{server_id}/os-server-password", token=demo, version="2.1").json() == {"password": ""}
    assert ssh(c, fip, code + f"-X POST --data-binary again {url}").stdout == "200"

    # kill -9 of Nimbus: the datapath stays (traffic keeps flowing), and the restarted agent
    # reconciles without duplicating a namespace or a rule.
    table = f"nimbus-sg-{run_dir(c.data)[-12:]}"

    def ruleset():
        return subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True).stdout

    before, spaces = ruleset(), netns_list()
    assert "ct state established,related" in before
    c.nimbus.kill()
    assert ssh(c, fip, "hostname").stdout.strip() == "g1"
    c.nimbus.start(timeout=60)

    def settles(want, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if want(ruleset()):
                return True
            time.sleep(0.2)
        return False

    # A change after the restart shows the new agent at work; taking it back must give exactly
    # the ruleset from before the kill (nothing added twice).
    extra = c.cli("security", "group", "rule", "create", "default", "--protocol", "udp", "--dst-port", "5353", "-f", "json",
                  cloud="nimbus-demo")
    assert settles(lambda r: "udp dport 5353" in r)
    c.cli("security", "group", "rule", "delete", extra["id"], cloud="nimbus-demo")
    assert settles(lambda r: r == before), ruleset()
    assert netns_list() == spaces
    wait_ssh(c, fip, timeout=30)


def test_guests_on_one_network_reach_each_other_and_other_projects_do_not(net_cloud):
    c = net_cloud
    boot(c, "g2")
    wait_banner(c, "g2")
    g2 = fixed_ip(c, "g2")
    # The default group lets its members in.
    assert "0% packet loss" in ssh(c, c.fip, f"ping -c 2 -W 2 {g2}").stdout
    # Another project, the same CIDR on its own network: not reachable, even at an address
    # that is free on the demo network.
    project = c.cli("project", "create", "other-" + uuid.uuid4().hex[:6], "-f", "json")
    user = c.cli("user", "create", "--project", project["id"], "--password", "pw-" + uuid.uuid4().hex, "u-" + uuid.uuid4().hex[:6], "-f", "json")
    c.cli("role", "add", "--project", project["id"], "--user", user["id"], "member")
    net = c.cli("network", "create", "--project", project["id"], "isolated", "-f", "json")
    c.cli("subnet", "create", "--project", project["id"], "--network", net["id"], "--subnet-range", "10.0.0.0/26", "iso-subnet", "-f", "json")
    c.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--nic", f"net-id={net['id']},v4-fixed-ip=10.0.0.50",
          "--wait", "g3", "-f", "json", timeout=240)
    # Its guest answers ping from anywhere: only the separate network keeps g1 out.
    admin_project = c.cli("project", "show", "admin", "-f", "json")["id"]
    group = next(g for g in c.cli("security", "group", "list", "--project", admin_project, "-f", "json") if g["Name"] == "default")
    c.cli("security", "group", "rule", "create", group["ID"], "--protocol", "icmp")
    wait_banner(c, "g3", cloud_name="nimbus")
    out = ssh(c, c.fip, "ping -c 2 -W 2 10.0.0.50", check=False).stdout
    assert "100% packet loss" in out, out
    c.cli("server", "delete", "--wait", "g3", timeout=180)
    c.cli("subnet", "delete", "iso-subnet")
    c.cli("network", "delete", net["id"])


def test_an_address_given_again_after_its_port_went_is_leased_to_the_new_port(net_cloud):
    """dnsmasq keeps leases in memory: once g5's port is deleted, the next port given g5's address
    (a new MAC) must still get it by DHCP (Tempest's volume scenarios delete a server and boot the
    next one at once, which Neutron gives the freed address)."""
    c = net_cloud
    boot(c, "g5")
    address = fixed_ip(c, "g5")
    network = next(iter(c.cli("server", "show", "g5", "-f", "json", cloud="nimbus-demo")["addresses"]))
    net_id = c.cli("network", "show", network, "-f", "json", cloud="nimbus-demo")["id"]
    wait_banner(c, "g5")   # g5 has its lease
    c.cli("server", "delete", "--wait", "g5", cloud="nimbus-demo", timeout=180)
    boot(c, "g4", extra=("--nic", f"net-id={net_id},v4-fixed-ip={address}"))
    log = wait_banner(c, "g4")
    assert f"ip={address} " in log, log[-1500:]
    c.cli("server", "delete", "--wait", "g4", cloud="nimbus-demo", timeout=180)


def test_interface_hot_plug_and_unplug(net_cloud):
    """os-interface on a running guest: QEMU hot-plugs a virtio NIC on its tap (the guest sees
    a new device, the port turns ACTIVE once the agent wired the tap) and unplugs it again."""
    c = net_cloud
    demo = lambda *a, **k: c.cli(*a, cloud="nimbus-demo", **k)  # noqa: E731

    def nics():
        return set(ssh(c, c.fip, "ls /sys/class/net").stdout.split())

    assert nics() == {"lo", "eth0"}
    port = demo("port", "create", "--network", "private", "hot", "-f", "json")
    demo("server", "add", "port", "g1", port["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ("eth1" in nics() and demo("port", "show", port["id"], "-f", "json")["status"] == "ACTIVE"):
        time.sleep(1)
    assert "eth1" in nics(), nics()
    assert demo("port", "show", port["id"], "-f", "json")["status"] == "ACTIVE"
    mac = ssh(c, c.fip, "cat /sys/class/net/eth1/address").stdout.strip()
    assert mac == port["mac_address"]
    demo("server", "remove", "port", "g1", port["id"])
    # The released port's tap leaves the host whether or not the guest ejected the NIC yet.
    tap = "tap" + port["id"][:11]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tap in links():
        time.sleep(0.2)
    assert tap not in links()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "eth1" in nics():
        time.sleep(1)
    assert nics() == {"lo", "eth0"}
    assert demo("port", "show", port["id"], "-f", "json")["device_id"] == ""
    demo("port", "delete", port["id"])


def test_ipv6_slaac_from_the_routers_advertisements(net_cloud):
    """A SLAAC subnet on a router interface: the router advertises the prefix (dnsmasq's RA in
    its namespace), the guest's kernel configures exactly the address Neutron computed for
    its port from the MAC, and reaches the router over IPv6."""
    c = net_cloud
    demo = lambda *a, **k: c.cli(*a, cloud="nimbus-demo", **k)  # noqa: E731
    demo("network", "create", "v6net")
    demo("subnet", "create", "--network", "v6net", "--subnet-range", "10.20.0.0/24", "v6net-v4")
    demo("subnet", "create", "--network", "v6net", "--ip-version", "6", "--subnet-range", "2001:db8:20::/64",
         "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac", "v6net-v6")
    demo("router", "add", "subnet", "router1", "v6net-v4")
    demo("router", "add", "subnet", "router1", "v6net-v6")
    boot(c, "g6", extra=("--network", "v6net"))
    wait_banner(c, "g6")
    v6 = next(a for addrs in demo("server", "show", "g6", "-f", "json")["addresses"].values() for a in addrs if ":" in a)
    fip = demo("floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    demo("server", "add", "floating", "ip", "g6", fip)
    wait_ssh(c, fip, timeout=60)
    deadline = time.monotonic() + 40
    out = ""
    while time.monotonic() < deadline:
        out = ssh(c, fip, "ip -6 addr show dev eth0").stdout
        if f"inet6 {v6}/64" in out and "tentative" not in out:
            break
        time.sleep(1)
    assert f"inet6 {v6}/64" in out, out
    ping = ssh(c, fip, "ping -6 -c 2 -W 2 2001:db8:20::1 || ping6 -c 2 -W 2 2001:db8:20::1", check=False).stdout
    assert " 0% packet loss" in ping, ping
    demo("server", "delete", "--wait", "g6", timeout=180)
    demo("floating", "ip", "delete", fip)
    demo("router", "remove", "subnet", "router1", "v6net-v6")
    demo("router", "remove", "subnet", "router1", "v6net-v4")
    demo("network", "delete", "v6net")


PROBE = Path(__file__).with_name("ipv6_probe.py")


@contextlib.contextmanager
def on_the_bridge(network_id: str, mac: str):
    """A namespace of the test's own with `eth0` (MAC `mac`) in the network's bridge: the link a
    guest's NIC would be on, for a client the test image lacks (busybox has no DHCPv6 client)."""
    tag = uuid.uuid4().hex[:8]
    ns, outer = f"nimbus-t6{tag}", f"t6o{tag}"
    bridge = "brq" + network_id[:11]
    deadline = time.monotonic() + 30
    while bridge not in links() and time.monotonic() < deadline:
        time.sleep(0.5)
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "address", mac], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0",
                        "net.ipv6.conf.eth0.accept_ra=0"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
        subprocess.run(["ip", "link", "set", outer, "master", bridge, "up"], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", outer], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def probe(ns: str, what: str) -> dict:
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(PROBE), "eth0", what],
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_dhcpv6_stateful_leases_the_ports_address_and_slaac_advertises_rdnss(net_cloud):
    """Neutron's IPv6 modes with real packets: on a `dhcpv6-stateful` subnet the router's
    advertisement sets the managed flag and not the autonomous one, and DHCPv6 (the network's
    dnsmasq) leases exactly the address Neutron shows for the port, found by its MAC (the client's
    DUID holds none), with the subnet's DNS servers, and nothing else answers; on a `slaac`
    subnet the advertisement carries the prefix for autoconfiguration and the subnet's DNS
    servers (RDNSS). A deleted port's lease goes with it."""
    c = net_cloud
    demo = lambda *a, **k: c.cli(*a, cloud="nimbus-demo", **k)  # noqa: E731
    net = demo("network", "create", "v6full", "-f", "json")["id"]
    demo("subnet", "create", "--network", "v6full", "--subnet-range", "10.21.0.0/24", "v6full-v4")
    demo("subnet", "create", "--network", "v6full", "--ip-version", "6", "--subnet-range", "2001:db8:21::/64",
         "--ipv6-ra-mode", "dhcpv6-stateful", "--ipv6-address-mode", "dhcpv6-stateful",
         "--dns-nameserver", "2001:db8::53", "--dns-nameserver", "2001:db8::54", "v6full-v6")
    slaac = demo("network", "create", "v6auto", "-f", "json")["id"]
    demo("subnet", "create", "--network", "v6auto", "--ip-version", "6", "--subnet-range", "2001:db8:22::/64",
         "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac", "--dns-nameserver", "2001:db8::35", "v6auto-v6")
    demo("router", "add", "subnet", "router1", "v6full-v6")
    demo("router", "add", "subnet", "router1", "v6auto-v6")
    port = demo("port", "create", "--network", "v6full", "p6", "-f", "json")
    v6 = next(ip["ip_address"] for ip in port["fixed_ips"] if ":" in ip["ip_address"])
    try:
        with on_the_bridge(net, port["mac_address"]) as ns:
            deadline = time.monotonic() + 90
            got = probe(ns, "both")
            while (got["ra"] is None or got["dhcp"].get("reply") is None) and time.monotonic() < deadline:
                time.sleep(2)
                got = probe(ns, "both")
            ra, dhcp = got["ra"], got["dhcp"]
            assert ra and ra["managed"], got
            assert {"prefix": "2001:db8:21::/64", "onlink": True, "autonomous": False} in ra["prefixes"], ra
            assert ra["rdnss"] == [], ra   # DNS by DHCPv6 on a stateful subnet, as radvd is configured
            assert dhcp["advertise"]["addresses"] == [v6] and dhcp["reply"]["addresses"] == [v6], dhcp
            assert dhcp["reply"]["dns"] == ["2001:db8::53", "2001:db8::54"], dhcp
            # The same MAC's IPv4 lease is still its IPv4 address (its IPv6 line is DHCPv6's only).
            v4 = next(ip["ip_address"] for ip in port["fixed_ips"] if "." in ip["ip_address"])
            udhcpc = subprocess.run(["ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-s", "/bin/true"],
                                    capture_output=True, text=True, timeout=60)
            assert f"lease of {v4} obtained" in udhcpc.stdout + udhcpc.stderr, udhcpc
            demo("port", "delete", port["id"])
            port = None
            hosts = Path(run_dir(c.data), "dhcp", net, "host")
            deadline = time.monotonic() + 30
            while v6 in hosts.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert v6 not in hosts.read_text()
            time.sleep(1)
            again = probe(ns, "dhcp")["dhcp"]
            assert again["advertise"] is None or again["advertise"]["addresses"] == [], again
        with on_the_bridge(slaac, "fa:16:3e:22:22:22") as ns:
            deadline = time.monotonic() + 60
            ra = probe(ns, "ra")["ra"]
            while (ra is None or not ra["rdnss"]) and time.monotonic() < deadline:
                time.sleep(2)
                ra = probe(ns, "ra")["ra"]
            assert ra and not ra["managed"] and not ra["other"], ra
            assert {"prefix": "2001:db8:22::/64", "onlink": True, "autonomous": True} in ra["prefixes"], ra
            assert ra["rdnss"] == ["2001:db8::35"], ra
    finally:
        if port:
            demo("port", "delete", port["id"])
        demo("router", "remove", "subnet", "router1", "v6auto-v6")
        demo("router", "remove", "subnet", "router1", "v6full-v6")
        demo("network", "delete", "v6auto")
        demo("network", "delete", "v6full")


def test_a_guest_gets_its_fixed_ipv6_address_by_dhcpv6(net_cloud):
    """A guest on a `dhcpv6-stateful` subnet: its DHCPv6 client (ISC dhclient in the test image)
    gets exactly the address Neutron shows for its port and the subnet's DNS server, no SLAAC
    address comes with it (the advertisement has no autonomous flag), and it reaches the router
    over IPv6."""
    c = net_cloud
    demo = lambda *a, **k: c.cli(*a, cloud="nimbus-demo", **k)  # noqa: E731
    demo("network", "create", "v6dhcp")
    demo("subnet", "create", "--network", "v6dhcp", "--subnet-range", "10.23.0.0/24", "v6dhcp-v4")
    demo("subnet", "create", "--network", "v6dhcp", "--ip-version", "6", "--subnet-range", "2001:db8:23::/64",
         "--ipv6-ra-mode", "dhcpv6-stateful", "--ipv6-address-mode", "dhcpv6-stateful",
         "--dns-nameserver", "2001:db8::53", "v6dhcp-v6")
    demo("router", "add", "subnet", "router1", "v6dhcp-v4")
    demo("router", "add", "subnet", "router1", "v6dhcp-v6")
    boot(c, "g7", extra=("--network", "v6dhcp"))
    wait_banner(c, "g7")
    v6 = next(a for addrs in demo("server", "show", "g7", "-f", "json")["addresses"].values() for a in addrs if ":" in a)
    fip = demo("floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    demo("server", "add", "floating", "ip", "g7", fip)
    wait_ssh(c, fip, timeout=60)
    got = ssh(c, fip, "timeout 50 dhclient -6 -1 -sf /usr/share/dhclient/dhclient6.script -lf /run/dhclient6.leases "
                      "-pf /run/dhclient6.pid -cf /dev/null eth0; echo rc=$?", timeout=60).stdout
    assert "rc=0" in got, got
    out = ssh(c, fip, "ip -6 addr show dev eth0; cat /etc/resolv.conf").stdout
    assert f"inet6 {v6}/" in out, out
    assert [line for line in out.splitlines() if "inet6 2001:db8:23:" in line] == [line for line in out.splitlines() if f"inet6 {v6}/" in line], out
    assert "nameserver 2001:db8::53" in out, out
    deadline = time.monotonic() + 30
    ping = ""
    while time.monotonic() < deadline and " 0% packet loss" not in ping:
        ping = ssh(c, fip, "ping -6 -c 2 -W 2 2001:db8:23::1 || ping6 -c 2 -W 2 2001:db8:23::1", check=False).stdout
    assert " 0% packet loss" in ping, ping
    demo("server", "delete", "--wait", "g7", timeout=180)
    demo("floating", "ip", "delete", fip)
    demo("router", "remove", "subnet", "router1", "v6dhcp-v6")
    demo("router", "remove", "subnet", "router1", "v6dhcp-v4")
    demo("network", "delete", "v6dhcp")


def test_deleting_everything_leaves_no_trace(net_cloud):
    c = net_cloud
    demo = lambda *a, **k: c.cli(*a, cloud="nimbus-demo", **k)  # noqa: E731
    rd = run_dir(c.data)
    digest = rd[-12:]
    router = demo("router", "show", "router1", "-f", "json")["id"]
    private = demo("network", "show", "private", "-f", "json")["id"]
    assert f"qrouter-{router}" in netns_list() and f"qdhcp-{private}" in netns_list()
    for s in ("g1", "g2"):
        demo("server", "delete", "--wait", s, timeout=180)
    for f in demo("floating", "ip", "list", "-f", "json"):
        demo("floating", "ip", "delete", f["ID"])
    demo("router", "remove", "subnet", "router1", "private-subnet")
    demo("router", "delete", "router1")
    demo("network", "delete", "private")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        spaces = netns_list()
        dnsmasq = subprocess.run(["pgrep", "-f", f"dnsmasq.*{rd}/"], capture_output=True, text=True).stdout.strip()
        if f"qrouter-{router}" not in spaces and f"qdhcp-{private}" not in spaces and not dnsmasq:
            break
        time.sleep(1)
    assert f"qrouter-{router}" not in netns_list()
    assert f"qdhcp-{private}" not in netns_list()
    assert not subprocess.run(["pgrep", "-f", f"dnsmasq.*{rd}/"], capture_output=True, text=True).stdout.strip()
    names = links()
    assert f"brq{private[:11]}" not in names
    # Nothing of ours is plugged into a bridge of this cloud's networks any more (the external
    # network has no port left either, so its bridge and the outside veth went too).
    public = c.cli("network", "show", "public", "-f", "json")["id"]
    assert f"brq{public[:11]}" not in names and f"ext{public[:11]}" not in names
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"nimbus-ports-{digest}" not in tables and f"nimbus-sg-{digest}" not in tables, tables


def test_a_new_cloud_takes_over_the_outside_a_removed_cloud_left(tmp_path):
    """A cloud whose data directory was removed leaves its kernel state (by design: traffic
    survives a restart), so the outside namespace may still hold `eth0` from it. A new cloud on
    the same machine (`rm -rf data; make run`) replaces that device with its own pair instead of
    failing every pass with "File exists"."""
    outside = "nimbus-t" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", outside], check=True)
    stale = "stl" + outside[-6:]   # the host end of the removed cloud's pair
    subprocess.run(["ip", "link", "add", stale, "type", "veth", "peer", "name", "eth0", "netns", outside], check=True)
    data = Path(tempfile.mkdtemp(prefix="nd-", dir="/tmp"))
    cfg = write_config(tmp_path / "net.conf", {"compute_node": {"driver": "fake"},
                                               "network": {"datapath": "linux", "outside_namespace": outside}})
    n = Nimbus(data, admin_password=random_password(), demo_password=random_password(), extra_args=["--config-file", str(cfg)],
               env={"NIMBUS_NETWORK_DATAPATH": "linux"})
    try:
        n.start(timeout=60)
        deadline = time.monotonic() + 60
        eth0: dict = {}
        while time.monotonic() < deadline:
            out = subprocess.run(["ip", "-n", outside, "-j", "-d", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout
            eth0 = (json.loads(out) or [{}])[0] if out.strip() else {}
            if eth0.get("linkinfo", {}).get("info_kind") == "veth" and any(a.get("local") == "172.24.4.1" for a in eth0.get("addr_info", [])):
                break
            time.sleep(0.5)
        assert eth0.get("linkinfo", {}).get("info_kind") == "veth", eth0
        assert any(a.get("local") == "172.24.4.1" and a.get("prefixlen") == 24 for a in eth0["addr_info"]), eth0
        assert "replacing it" in n.log_path.read_text()
        assert stale not in links(), "the old pair went with its inner end"
    finally:
        subprocess.run(["ip", "link", "del", stale], check=False, capture_output=True)
        n.stop(grace=15)
        scrub_datapath(data, outside)
        shutil.rmtree(data, ignore_errors=True)
