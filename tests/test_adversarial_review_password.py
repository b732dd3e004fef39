"""Adversarial review of commit ce5c266: the server password a guest posts to the metadata service
(Sources/nimbus/MetadataServer.swift, Sources/Compute/Service/ComputeService+Password.swift) and
Nova's os-server-password, and the Linux datapath's `admin_state_up` for ports and routers
(Sources/NetworkNode/LinuxDatapath.swift `plug`, NetworkService+Topology.swift), probed as a
guest, as another project and as a careless client.

No QEMU: one cloud (fake compute driver, NIMBUS_NETWORK_DATAPATH=linux) runs inside a private
network AND mount namespace (`unshare --net --mount`, a tmpfs on /run), so its bridges, taps,
qdhcp-/qrouter- namespaces and dnsmasq never reach the host and the host's namespaces (another
cloud's, another test run's) are never seen, let alone touched. A guest is impersonated by a
network namespace made inside that private world, with a veth in the network's bridge carrying
the port's MAC and fixed IP, which talks to 169.254.169.254 through the DHCP namespace (the
metadata route, as dnsmasq's option 121 gives it). Everything the script starts (nimbus, and
dnsmasq by pid) is killed before the private namespace goes, which takes every namespace, veth
and bridge with it.

Expected behaviour is Nova's (nova/api/metadata/password.py, handler.py, base.py;
nova/api/openstack/compute/server_password.py; nova/policies/server_password.py) and Neutron's
(neutron/common/metadata.py: the haproxy in front of the metadata agent, `maxconn 1024`,
`timeout http-request 30s`; the Linux bridge agent's `ensure_port_admin_state`; the L3 agent
dropping an admin-down router), each named in the test's docstring.
"""

from __future__ import annotations

import pytest

from network_support import run_in_private_netns

SCRIPT = r'''
import ctypes, json, os, random, re, signal, socket, subprocess, sys, tempfile, threading, time, uuid
sys.path.insert(0, os.environ["ADV_TESTS_DIR"])
from pathlib import Path
from nimbus_launcher import Nimbus, random_password
from netns_support import sh, spaces, wait
import requests

out = {}
libc = ctypes.CDLL(None, use_errno=True)


def ns_socket(ns, timeout=15.0):
    """A TCP socket made inside namespace `ns` (this thread enters it and comes back)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        assert libc.setns(target, 0x40000000) == 0, ctypes.get_errno()
        try:
            s = socket.socket()
        finally:
            assert libc.setns(home, 0x40000000) == 0
    finally:
        os.close(target)
        os.close(home)
    s.settimeout(timeout)
    return s


def exchange(ns, raw, timeout=15.0):
    """Sends `raw` to 169.254.169.254:80 from `ns`; returns (status, body, seconds)."""
    t0 = time.monotonic()
    s = ns_socket(ns, timeout)
    try:
        s.connect(("169.254.169.254", 80))
        s.sendall(raw)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else None
    return status, body, time.monotonic() - t0, data.count(b"HTTP/1.1 ")


def req(ns, method, path, body=b"", headers=None, timeout=15.0):
    lines = [f"{method} {path} HTTP/1.1", "Host: 169.254.169.254"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if method in ("POST", "PUT") and not any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    st, b, _, _ = exchange(ns, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, timeout)
    return st, b


data = Path(tempfile.mkdtemp(prefix="adv-pw-"))
n = Nimbus(data, admin_password=random_password(), demo_password=random_password(),
           env={"NIMBUS_NETWORK_DATAPATH": "linux", "NIMBUS_COMPUTE_NODE_DRIVER": "fake",
                "NIMBUS_NETWORK_OUTSIDE_NAMESPACE": "nimbus-advpw-" + uuid.uuid4().hex[:6]})
guests = []


def guest(name, network_id, mac, ip, prefix, via):
    """A namespace posing as the guest of a port: a veth in the network's bridge with the
    port's MAC and address, and the metadata route through the DHCP port."""
    ns = "advpw-" + name
    tag = uuid.uuid4().hex[:8]
    outer, inner = "vo" + tag, "vi" + tag
    sh("ip", "netns", "add", ns)
    guests.append(ns)
    sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
    sh("ip", "link", "set", inner, "netns", ns)
    sh("ip", "link", "set", outer, "master", "brq" + network_id[:11])
    sh("ip", "link", "set", outer, "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "link", "set", inner, "address", mac)
    sh("ip", "-n", ns, "addr", "add", f"{ip}/{prefix}", "dev", inner)
    sh("ip", "-n", ns, "link", "set", inner, "up")
    sh("ip", "-n", ns, "route", "add", "169.254.169.254/32", "via", via)
    return ns


try:
    n.start(timeout=60)
    kid = n.auth_url

    def token(user, pw, project):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "password": pw, "domain": {"name": "Default"}}}},
                         "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
        return requests.post(kid + "/auth/tokens", json=body, timeout=30).headers["X-Subject-Token"]

    adm, demo = token("admin", n.admin_password, "admin"), token("demo", n.demo_password, "demo")

    def call(tok, method, url, version=None, **kw):
        h = {"X-Auth-Token": tok}
        if version:
            h["OpenStack-API-Version"] = "compute " + version
        r = requests.request(method, n.base_url + url, headers=h, timeout=30, **kw)
        return r.status_code, (r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else r.text)

    net = lambda tok, m, p, **kw: call(tok, m, "/network/v2.0" + p, **kw)
    nova = lambda tok, m, p, v="2.96", **kw: call(tok, m, "/compute/v2.1" + p, version=v, **kw)

    def user(project_name, role):
        _, p = call(adm, "POST", "/identity/v3/projects", json={"project": {"name": project_name, "domain_id": "default"}})
        pw = random_password()
        _, u = call(adm, "POST", "/identity/v3/users", json={"user": {"name": project_name + "-" + role, "password": pw, "domain_id": "default"}})
        _, roles = call(adm, "GET", "/identity/v3/roles?name=" + role)
        call(adm, "PUT", f"/identity/v3/projects/{p['project']['id']}/users/{u['user']['id']}/roles/{roles['roles'][0]['id']}")
        return token(u["user"]["name"], pw, project_name), p["project"]["id"]

    def demo_user(role):
        pw = random_password()
        _, u = call(adm, "POST", "/identity/v3/users", json={"user": {"name": "demo-" + role, "password": pw, "domain_id": "default"}})
        _, roles = call(adm, "GET", "/identity/v3/roles?name=" + role)
        _, ps = call(adm, "GET", "/identity/v3/projects?name=demo")
        call(adm, "PUT", f"/identity/v3/projects/{ps['projects'][0]['id']}/users/{u['user']['id']}/roles/{roles['roles'][0]['id']}")
        return token("demo-" + role, pw, "demo")

    # an image to boot (fake driver)
    _, img = call(adm, "POST", "/image/v2/images", json={"name": "advpw", "disk_format": "raw", "container_format": "bare", "visibility": "public"})
    requests.put(n.base_url + f"/image/v2/images/{img['id']}/file", data=b"\0" * 65536, timeout=30,
                 headers={"X-Auth-Token": adm, "Content-Type": "application/octet-stream"})
    _, nets = net(demo, "GET", "/networks?name=private")
    private = nets["networks"][0]
    _, subs = net(demo, "GET", f"/subnets?network_id={private['id']}&ip_version=4")
    psub = subs["subnets"][0]
    prefix = psub["cidr"].split("/")[1]

    def boot(tok, name, networks):
        st, s = nova(tok, "POST", "/servers", json={"server": {"name": name, "imageRef": img["id"], "flavorRef": "42", "networks": networks}})
        assert st == 202, s
        sid = s["server"]["id"]
        assert wait(lambda: nova(tok, "GET", f"/servers/{sid}")[1]["server"]["status"] == "ACTIVE", 60), nova(tok, "GET", f"/servers/{sid}")
        return sid

    def port_of(tok, sid):
        assert wait(lambda: net(tok, "GET", f"/ports?device_id={sid}")[1]["ports"], 30)
        return net(tok, "GET", f"/ports?device_id={sid}")[1]["ports"][0]

    def dhcp_ip(network_id):
        assert wait(lambda: net(adm, "GET", f"/ports?network_id={network_id}&device_owner=network:dhcp")[1]["ports"], 30)
        p = net(adm, "GET", f"/ports?network_id={network_id}&device_owner=network:dhcp")[1]["ports"][0]
        return [f["ip_address"] for f in p["fixed_ips"] if ":" not in f["ip_address"]][0]

    s1 = boot(demo, "advpw-1", [{"uuid": private["id"]}])
    s2 = boot(demo, "advpw-2", [{"uuid": private["id"]}])
    p1, p2 = port_of(demo, s1), port_of(demo, s2)
    out["p1_binding"] = p1.get("binding:host_id")
    via = dhcp_ip(private["id"])
    assert wait(lambda: "qdhcp-" + private["id"] in spaces(), 30)
    ip1, ip2 = p1["fixed_ips"][0]["ip_address"], p2["fixed_ips"][0]["ip_address"]
    g1 = guest("g1", private["id"], p1["mac_address"], ip1, prefix, via)
    g2 = guest("g2", private["id"], p2["mac_address"], ip2, prefix, via)
    assert wait(lambda: req(g1, "GET", "/openstack/latest/meta_data.json")[0] == 200, 30), req(g1, "GET", "/openstack/latest/meta_data.json")
    out["g1_uuid"] = json.loads(req(g1, "GET", "/openstack/latest/meta_data.json")[1])["uuid"] == s1
    out["listing"] = req(g1, "GET", "/openstack/latest/")[1].decode().split("\n")
    out["get_before"] = req(g1, "GET", "/openstack/2013-04-04/password")

    # --- bodies: too large, chunked, lies ---
    out["too_large"] = req(g1, "POST", "/openstack/latest/password", b"x" * 1021)[0]
    t0 = time.monotonic()
    # 20 MB announced and sent: answered without reading it all? (time bounded either way)
    big = b"y" * (20 << 20)
    st, _, secs, _ = exchange(g1, b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big, timeout=60)
    out["huge"] = [st, round(secs, 1)]
    chunked = b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + \
        b"".join(b"%x\r\n%s\r\n" % (300, b"z" * 300) for _ in range(4)) + b"0\r\n\r\n"
    out["chunked_too_large"] = exchange(g1, chunked)[0]
    out["not_utf8"] = req(g1, "POST", "/openstack/latest/password", b"\xff\xfe\xc3")[0]
    out["put"] = req(g1, "PUT", "/openstack/latest/password", b"p")[0]
    out["delete"] = req(g1, "DELETE", "/openstack/latest/password")[0]
    out["post_elsewhere"] = {p: req(g1, "POST", p, b"q")[0] for p in (
        "/openstack/latest/meta_data.json", "/latest/meta-data/", "/openstack/2013-04-04/../latest/password",
        "/openstack/latest%2fpassword", "/openstack/2012-08-10/password", "/openstack/2013-04-04/password/../password",
        "http://169.254.169.254/openstack/latest/password", "/openstack/\u212blatest/password".encode().decode("latin-1"))}
    out["still_empty"] = req(g1, "GET", "/openstack/latest/password")
    # an empty body sets an empty password, which does not count as set (Nova: `if meta_data.password`)
    out["empty_post"] = req(g1, "POST", "/openstack/latest/password", b"")[0]

    # --- one connection, two requests (a GET with a body, then a POST): the second must not
    # see the first's body, nor be answered on a closed connection
    pipelined = (b"GET /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nAAAAA"
                 b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nBBB")
    st, body, _, responses = exchange(g2, pipelined)
    time.sleep(1)
    out["pipelined"] = [st, responses, req(g2, "GET", "/openstack/latest/password")[1].decode(errors="replace")]
    # Content-Length shorter than the body: the rest is a second request on the connection
    lie = b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nCCCPOST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nDDD"
    exchange(g2, lie)
    time.sleep(1)
    out["short_length"] = req(g2, "GET", "/openstack/latest/password")[1].decode(errors="replace")

    # --- concurrent posts: exactly one wins ---
    results = []
    values = ["p\u00e4ss-%d-\u03a9-<\u65e5>" % i for i in range(8)]
    def post(v):
        results.append((v, req(g1, "POST", "/openstack/latest/password", v.encode())[0]))
    ts = [threading.Thread(target=post, args=(v,)) for v in values]
    [t.start() for t in ts]
    [t.join() for t in ts]
    out["concurrent"] = sorted(st for _, st in results)
    winner = [v for v, st in results if st == 200]
    out["winner_kept"] = bool(winner) and req(g1, "GET", "/openstack/latest/password")[1].decode() == winner[0]
    out["conflict_after"] = req(g1, "POST", "/openstack/latest/password", b"x" * 2000)[0]

    # --- os-server-password ---
    reader = demo_user("reader")
    other, other_project = user("advpw-other", "member")
    out["api"] = {
        "member_show": nova(demo, "GET", f"/servers/{s1}/os-server-password", "2.1"),
        "member_show_latest": nova(demo, "GET", f"/servers/{s1}/os-server-password"),
        "reader_show": nova(reader, "GET", f"/servers/{s1}/os-server-password")[0],
        "reader_clear": nova(reader, "DELETE", f"/servers/{s1}/os-server-password")[0],
        "other_show": nova(other, "GET", f"/servers/{s1}/os-server-password")[0],
        "other_clear": nova(other, "DELETE", f"/servers/{s1}/os-server-password")[0],
        "admin_show": nova(adm, "GET", f"/servers/{s1}/os-server-password")[1],
        "missing": nova(demo, "GET", f"/servers/{uuid.uuid4()}/os-server-password")[0],
        "server_show_has_no_password": "s3cr" not in json.dumps(nova(demo, "GET", f"/servers/{s1}")[1]),
    }
    out["api"]["member_show"] = [out["api"]["member_show"][0], out["api"]["member_show"][1]]
    out["winner"] = winner[0] if winner else None

    # --- another project's port with s1's address and s1 as device, on its own network ---
    _, onet = net(other, "POST", "/networks", json={"network": {"name": "advpw-other"}})
    onet_id = onet["network"]["id"]
    net(other, "POST", "/subnets", json={"subnet": {"network_id": onet_id, "cidr": psub["cidr"], "ip_version": 4}})
    st, oport = net(other, "POST", "/ports", json={"port": {"network_id": onet_id, "fixed_ips": [{"ip_address": ip1}],
                                                            "device_owner": "compute:nova", "device_id": s1}})
    out["other_port"] = st
    if st == 201:
        assert wait(lambda: "qdhcp-" + onet_id in spaces(), 30)
        go = guest("go", onet_id, oport["port"]["mac_address"], ip1, prefix, dhcp_ip(onet_id))
        time.sleep(3)
        out["other_get"] = req(go, "GET", "/openstack/latest/password")[0]
        out["other_meta"] = req(go, "GET", "/openstack/latest/meta_data.json")[0]
        out["other_post"] = req(go, "POST", "/openstack/latest/password", b"pwned")[0]
    # an address on no port
    used = {ip["ip_address"] for p in net(adm, "GET", f"/ports?network_id={private['id']}")[1]["ports"] for ip in p["fixed_ips"]}
    base = ip1.rsplit(".", 1)[0]
    free = next(f"{base}.{i}" for i in range(40, 60) if f"{base}.{i}" not in used)
    gx = guest("gx", private["id"], "fa:16:3e:00:aa:01", free, prefix, via)
    out["no_port"] = [req(gx, "GET", "/openstack/latest/password")[0], req(gx, "POST", "/openstack/latest/password", b"x")[0]]
    # a port naming a deleted server of the same project
    s3 = boot(demo, "advpw-3", [{"uuid": private["id"]}])
    nova(demo, "DELETE", f"/servers/{s3}")
    assert wait(lambda: nova(demo, "GET", f"/servers/{s3}")[0] == 404, 60)
    st, p3 = net(demo, "POST", "/ports", json={"port": {"network_id": private["id"], "device_owner": "compute:nova", "device_id": s3}})
    g3 = guest("g3", private["id"], p3["port"]["mac_address"], p3["port"]["fixed_ips"][0]["ip_address"], prefix, via)
    out["deleted_server"] = [req(g3, "GET", "/openstack/latest/password")[0], req(g3, "POST", "/openstack/latest/password", b"x")[0]]
    st, s3_admin = nova(adm, "GET", f"/servers/{s3}/os-server-password")
    out["deleted_server_api"] = st

    # --- slow and many connections ---
    pid = n.proc.pid
    fds = lambda: len(os.listdir(f"/proc/{pid}/fd"))
    before = fds()
    socks = []
    for _ in range(1500):
        s = ns_socket(g2, 5)
        try:
            s.connect(("169.254.169.254", 80))
            s.sendall(b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            socks.append(s)
        except OSError:
            s.close()
            break
    time.sleep(2)
    out["many"] = {"opened": len(socks), "nimbus_fds_added": fds() - before,
                   "api_ok": requests.get(n.auth_url, timeout=10).status_code}
    for s in socks:
        s.close()
    time.sleep(1)
    out["many"]["after"] = req(g2, "GET", "/openstack/latest/meta_data.json")[0]
    # one connection trickling a byte every 4 s: how long is it kept?
    s = ns_socket(g2, 5)
    s.connect(("169.254.169.254", 80))
    s.sendall(b"POST /openstack/latest/password HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    t0 = time.monotonic()
    kept = None
    while time.monotonic() - t0 < 50:
        try:
            s.sendall(b"a")
            s.settimeout(4)
            if s.recv(4096) == b"":
                kept = time.monotonic() - t0
                break
            kept = time.monotonic() - t0
            break
        except socket.timeout:
            continue
        except OSError:
            kept = time.monotonic() - t0
            break
    s.close()
    out["slowloris_closed_after"] = None if kept is None else round(kept)
    time.sleep(1)
    out["fds_back"] = fds() - before < 20

    # --- admin state of a port: tap down, DOWN; toggled; then deleted ---
    tap = "tap" + p2["id"][:11]
    def link_up(dev):
        r = sh("ip", "-j", "link", "show", dev, check=False)
        return None if r.returncode else "UP" in json.loads(r.stdout)[0]["flags"]
    out["tap_exists"] = link_up(tap)
    toggles = []
    for state in (False, True, False, True, False):
        net(demo, "PUT", f"/ports/{p2['id']}", json={"port": {"admin_state_up": state}})
        want = "ACTIVE" if state else "DOWN"
        ok = wait(lambda: link_up(tap) == state and net(demo, "GET", f"/ports/{p2['id']}")[1]["port"]["status"] == want, 25)
        toggles.append([state, link_up(tap), net(demo, "GET", f"/ports/{p2['id']}")[1]["port"]["status"], ok])
    out["port_toggles"] = toggles
    nova(demo, "DELETE", f"/servers/{s2}")
    out["tap_gone_after_delete"] = wait(lambda: link_up(tap) is None, 30)

    # --- admin state of a router: namespace dropped, its ports and floating IP DOWN ---
    _, pub = net(adm, "GET", "/networks?name=public")
    pub_id = pub["networks"][0]["id"]
    _, rn = net(demo, "POST", "/networks", json={"network": {"name": "advpw-rnet"}})
    rn_id = rn["network"]["id"]
    _, rs = net(demo, "POST", "/subnets", json={"subnet": {"network_id": rn_id, "cidr": "10.77.%d.0/24" % random.randrange(0, 250), "ip_version": 4}})
    _, r = net(demo, "POST", "/routers", json={"router": {"name": "advpw-r", "external_gateway_info": {"network_id": pub_id}}})
    rid = r["router"]["id"]
    net(demo, "PUT", f"/routers/{rid}/add_router_interface", json={"subnet_id": rs["subnet"]["id"]})
    s4 = boot(demo, "advpw-4", [{"uuid": rn_id}])
    p4 = port_of(demo, s4)
    _, fip = net(demo, "POST", "/floatingips", json={"floatingip": {"floating_network_id": pub_id, "port_id": p4["id"]}})
    fid = fip["floatingip"]["id"]
    rports = lambda: {p["device_owner"]: p["status"] for p in net(adm, "GET", f"/ports?device_id={rid}")[1]["ports"]}
    fstatus = lambda: net(demo, "GET", f"/floatingips/{fid}")[1]["floatingip"]["status"]
    def nat_rules():
        r = sh("ip", "netns", "exec", "qrouter-" + rid, "nft", "list", "table", "ip", "nimbus-nat", check=False)
        return r.stdout if r.returncode == 0 else None
    out["router_up"] = [wait(lambda: "qrouter-" + rid in spaces() and fstatus() == "ACTIVE", 30), rports(), fstatus(),
                        wait(lambda: fip["floatingip"]["floating_ip_address"] in (nat_rules() or ""), 10)]
    out["nat_rules"] = nat_rules()
    rtoggles = []
    # the bridge ends of the router's interfaces and gateway (tap + the port id's first 11)
    ends_up = lambda: {owner: bool(re.search(r"<[^>]*\bUP\b", sh("ip", "link", "show", "dev", "tap" + pid[:11], check=False).stdout))
                       for pid, owner in ((p["id"], p["device_owner"]) for p in net(adm, "GET", f"/ports?device_id={rid}")[1]["ports"])}
    for state in (False, True, False):
        net(demo, "PUT", f"/routers/{rid}", json={"router": {"admin_state_up": state}})
        ok = wait(lambda: set(ends_up().values()) == {state}, 30)
        rtoggles.append([state, "qrouter-" + rid in spaces(), rports(), fstatus(), ends_up(), ok])
    out["router_toggles"] = rtoggles
    # a router interface port set administratively down (the router up)
    net(demo, "PUT", f"/routers/{rid}", json={"router": {"admin_state_up": True}})
    wait(lambda: set(rports().values()) == {"ACTIVE"}, 30)
    qr = [p for p in net(adm, "GET", f"/ports?device_id={rid}")[1]["ports"] if p["device_owner"] == "network:router_interface"][0]
    out["qr_admin_down_put"] = net(adm, "PUT", f"/ports/{qr['id']}", json={"port": {"admin_state_up": False}})[0]
    wait(lambda: rports()["network:router_interface"] == "DOWN", 15)
    out["qr_admin_down_status"] = rports()["network:router_interface"]
    net(adm, "PUT", f"/ports/{qr['id']}", json={"port": {"admin_state_up": True}})
    net(demo, "PUT", f"/routers/{rid}", json={"router": {"admin_state_up": False}})
    wait(lambda: set(ends_up().values()) == {False}, 30)
    # down, then deleted: nothing of it left
    net(demo, "DELETE", f"/floatingips/{fid}")
    nova(demo, "DELETE", f"/servers/{s4}")
    net(demo, "PUT", f"/routers/{rid}/remove_router_interface", json={"subnet_id": rs["subnet"]["id"]})
    out["router_delete"] = net(demo, "DELETE", f"/routers/{rid}")[0]
    time.sleep(3)
    owned = "".join(open(f).read() for f in Path("/run").glob("nimbus-network-*/owned"))
    out["router_gone"] = ["qrouter-" + rid in spaces(), rid in owned]

    # --- restart: the password is in the instance document ---
    n.kill()
    for ns in spaces():
        if ns.startswith("qdhcp-") or ns.startswith("qrouter-"):
            for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                pass  # dnsmasq stays across a kill -9, as in production
    n.start(timeout=60)
    demo = token("demo", n.demo_password, "demo")
    out["after_restart"] = [nova(demo, "GET", f"/servers/{s1}/os-server-password")[1],
                            wait(lambda: req(g1, "GET", "/openstack/latest/password")[0] == 200, 30) and req(g1, "GET", "/openstack/latest/password")[1].decode(),
                            req(g1, "POST", "/openstack/latest/password", b"again")[0]]
    out["clear"] = [nova(demo, "DELETE", f"/servers/{s1}/os-server-password", "2.1")[0],
                    nova(demo, "GET", f"/servers/{s1}/os-server-password")[1],
                    req(g1, "GET", "/openstack/latest/password")[1].decode(),
                    req(g1, "POST", "/openstack/latest/password", b"again")[0],
                    req(g1, "GET", "/openstack/latest/password")[1].decode()]
finally:
    try:
        n.stop(grace=10)
    except Exception:
        n.kill()
    # what nimbus started in the namespaces (dnsmasq daemonizes): by pid
    for ns in spaces():
        for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(p), 9)
            except OSError:
                pass
    for ns in guests:
        sh("ip", "netns", "del", ns, check=False)
    subprocess.run(["rm", "-rf", str(data)])
print("RESULT " + json.dumps(out, default=lambda b: b.decode(errors="replace")))
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Runs SCRIPT once in a private network and mount namespace; returns its findings."""
    found = run_in_private_netns(SCRIPT, tmp_path_factory.mktemp("adv-pw"), timeout=280)
    print(found)
    return found


# ---- the password through the metadata service -------------------------------------------

def test_password_is_set_once_bounded_and_read_back_by_the_guest(run):
    """Attacks the POST path as a careless guest agent: 1,021 bytes, a 20 MB body, a chunked body
    of 1,200 bytes, bytes that are not UTF-8, an empty body, eight posts at once. Nova
    (nova/api/metadata/password.py `handle_password`): 409 once a non-empty password is set
    (`if meta_data.password`, so an empty one does not count), 400 "Request is too large." over
    MAX_SIZE = 4 * 255 bytes, the body decoded as UTF-8 (Nova
    500s on bytes that are not: Nimbus answers 400); base.py lists `password` from GRIZZLY
    (2013-04-04) on; GET returns it. The eight concurrent posts: exactly one 200.
    FINDING (LOW, fixed in ComputeService+Password.swift): a body over 1,020 bytes once the
    password was set was a 400; Nova checks the conflict first, so it is a 409."""
    assert "password" in run["listing"]
    assert run["get_before"] == [200, ""]
    assert run["too_large"] == 400 and run["chunked_too_large"] == 400 and run["not_utf8"] == 400
    assert run["huge"][0] == 400 and run["huge"][1] < 20, run["huge"]
    assert run["still_empty"] == [200, ""] and run["empty_post"] == 200
    assert run["concurrent"] == [200] + [409] * 7 and run["winner_kept"]
    assert run["conflict_after"] == 409, run["conflict_after"]


def test_other_methods_and_paths_never_set_the_password(run):
    """PUT and DELETE on the password (Nova: 400 "GET and POST only are supported."; Nimbus 405),
    POST to other documents, to `2013-04-04/../latest/password` (no `..` resolution), to a
    percent-encoded slash, to a version before 2013-04-04 (404, as Nova's `_password` KeyError),
    to an absolute URI, to a path with a non-ASCII letter: none sets the password (it stays
    empty, read back afterwards)."""
    assert run["put"] in (400, 405) and run["delete"] in (400, 405)
    assert all(st in (400, 404, 405) for st in run["post_elsewhere"].values()), run["post_elsewhere"]
    assert run["post_elsewhere"]["/openstack/2012-08-10/password"] == 404
    assert run["still_empty"] == [200, ""]


def test_a_second_request_on_a_connection_is_not_read_into_the_first(run):
    """FINDING (LOW, fixed in MetadataServer.swift). The handler kept the body of one request and
    appended the next one's on the same connection: a GET carrying a 5-byte body followed by a
    pipelined POST of 3 bytes set the password to the 8 bytes "AAAAABBB" (and the POST's answer
    was lost, the connection being closed after the first); a Content-Length shorter than the
    body did the same with the body's tail. The service answers one request per connection
    (`Connection: close`): now the body starts empty at each request head and nothing after the
    first request is read as another, so the password stays unset by the GET's connection and
    is the declared 3 bytes "CCC" of the short POST."""
    st, responses, password = run["pipelined"]
    assert st == 200 and responses == 1 and password == "", run["pipelined"]
    assert run["short_length"] == "CCC", run["short_length"]


def test_a_guest_cannot_hold_the_metadata_service_open(run):
    """FINDING (MEDIUM, fixed in MetadataServer.swift). A guest opened 1,500 connections to
    169.254.169.254 and sent each a request head announcing a body: every one stayed open in the
    nimbus process (1,498 more file descriptors: the same process serves the whole cloud's API,
    and its descriptors are finite), and one trickling a byte every 4 s (never idle for the 10 s
    read timeout) was still open after 50 s. Neutron's haproxy in front of the metadata agent
    (neutron/common/metadata.py) takes `maxconn 1024` per network and `timeout http-request 30s`:
    now each network's listener holds at most 1,024 connections (the rest are closed at once)
    and a request must be whole within 30 s. Afterwards the descriptors are back and the
    service answers."""
    many = run["many"]
    assert many["nimbus_fds_added"] <= 1024 + 16, many
    assert many["api_ok"] == 200 and many["after"] == 200, many
    assert run["slowloris_closed_after"] is not None and run["slowloris_closed_after"] <= 36, run["slowloris_closed_after"]
    assert run["fds_back"]


def test_the_caller_is_the_instances_own_port(run):
    """Another project's port with the same address and the server as its device, on that
    project's network with the same CIDR (Neutron lets the port be made: device_id is free
    text); an address on no port; a port naming a deleted server of the same project: the
    metadata service answers 404 to GET and POST (Nova's handler: no instance, 404; the Neutron
    metadata agent checks the port's project against the instance's, Nova checks the signed
    X-Tenant-ID), and the victim's password is untouched."""
    assert run["other_port"] == 201
    assert [run["other_get"], run["other_meta"], run["other_post"]] == [404, 404, 404]
    assert run["no_port"] == [404, 404] and run["deleted_server"] == [404, 404]
    assert run["api"]["member_show"][1] == {"password": run["winner"]}


def test_os_server_password_policy_and_projects(run):
    """nova/policies/server_password.py: show is PROJECT_READER_OR_ADMIN, clear is
    PROJECT_MEMBER_OR_ADMIN; another project's server is 404 (common.get_instance before
    context.can); the same answer at 2.1 and 2.96; the server's own representation never
    carries it. A deleted server's is 404."""
    api = run["api"]
    assert api["member_show"] == [200, {"password": run["winner"]}] and api["member_show_latest"][0] == 200
    assert api["reader_show"] == 200 and api["reader_clear"] == 403
    assert api["other_show"] == 404 and api["other_clear"] == 404 and api["missing"] == 404
    assert api["admin_show"] == {"password": run["winner"]} and api["server_show_has_no_password"]
    assert run["deleted_server_api"] == 404


def test_password_survives_kill_and_clear_lets_the_guest_post_again(run):
    """kill -9 and restart: the password is in the instance document (os-server-password and the
    guest read it; a new POST is 409). DELETE os-server-password (204) empties it for both, and
    the guest may post again (Nova's clear writes empty password_N items, which
    `extract_password` reads as None)."""
    assert run["after_restart"] == [{"password": run["winner"]}, run["winner"], 409]
    assert run["clear"] == [204, {"password": ""}, "", 200, "again"]


# ---- admin_state_up on the Linux datapath ---------------------------------------------------

def test_port_admin_state_toggles_its_tap_and_status(run):
    """A guest port set down, up, down, up, down: its tap's UP flag follows and the port is DOWN
    / ACTIVE (the Linux bridge agent's `ensure_port_admin_state` and `update_device_down`);
    deleted while down, its tap goes."""
    assert run["tap_exists"] is True
    for state, up, status, ok in run["port_toggles"]:
        assert ok and up is state and status == ("ACTIVE" if state else "DOWN"), run["port_toggles"]
    assert run["tap_gone_after_delete"]


def test_router_admin_state_cuts_its_interfaces_off(run):
    """A router with a gateway, an interface and an associated floating IP, set down, up, down:
    the bridge ends of its interface and gateway go down and come back up (no traffic through
    it), while its namespace, its ports' ACTIVE status and the floating IP's stay, as when OVN
    disables a logical router (Tempest waits for an admin-down router's interfaces to be
    ACTIVE). Deleted while down: no namespace, not in the datapath's `owned`."""
    ok, ports, fip, nat = run["router_up"]
    assert ok and set(ports.values()) == {"ACTIVE"} and fip == "ACTIVE" and nat, run["router_up"]
    for state, present, ports, fip, ends, ok in run["router_toggles"]:
        assert ok and present and set(ports.values()) == {"ACTIVE"} and fip == "ACTIVE" and set(ends.values()) == {state}, run["router_toggles"]
    assert run["router_delete"] == 204 and run["router_gone"] == [False, False]


def test_router_interface_port_admin_down_is_down(run):
    """FINDING (LOW, fixed: router interfaces and gateways carry `adminUp` to the datapath). A
    router interface port set `admin_state_up` false stayed ACTIVE and its veth kept forwarding:
    the datapath applied the flag to guest taps only. Neutron's L2 agent treats every port it binds
    alike (linuxbridge `treat_devices_added_updated`: `ensure_port_admin_state` then
    `update_device_down` when it is false), router ports included."""
    assert run["qr_admin_down_put"] == 200
    assert run["qr_admin_down_status"] == "DOWN"
