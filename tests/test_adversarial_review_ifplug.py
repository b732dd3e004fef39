"""Adversarial review of interface attach with hot-plug reports, Nova's addFixedIp/removeFixedIp
(2.1 to 2.43), on a fake-driver cloud: other projects, the reader role, locked servers, odd
bodies, exhausted subnets, the last address of a port, and concurrent attaches against the
16-interface bound.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import pytest

from test_network_compute import tiny_image_cloud, boot, demo, demo_token, interfaces


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with tiny_image_cloud(tmp_path_factory, "rvifplug", {"compute": {"agent_interval_s": "1"}}) as c:
        yield c


def multinic(c, sid, body, token=None):
    return c.nova("POST", f"/servers/{sid}/action", json=body, token=token or demo_token(c), version="2.43")


def attach(c, sid, body, token=None):
    return c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": body}, token=token or demo_token(c), version="2.70")


def fresh_net(c, cidr):
    net = demo(c, "network", "create", "rv-" + uuid.uuid4().hex[:6], "-f", "json")["id"]
    demo(c, "subnet", "create", "--network", net, "--subnet-range", cidr, "rv-sub-" + uuid.uuid4().hex[:6])
    return net


def addresses_of(c, sid):
    return sorted(ip["ip_address"] for i in interfaces(c, sid) for ip in i["fixed_ips"])


def test_concurrent_attaches_stay_within_sixteen(cloud):
    """FINDING: the 16-interface bound is checked before the awaits of the attach (resolve,
    allocate, bind, the hot-plug wait), so attaches sent together all pass the check and the
    server ends with more than 16 NICs, the bound meant to keep hot-plug from failing."""
    c = cloud
    net = fresh_net(c, "10.71.0.0/24")
    sid = boot(c, "rv-many-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}])
    token = demo_token(c)
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(lambda _: attach(c, sid, {"net_id": net}, token=token).status_code, range(24)))
    assert set(codes) <= {200, 400}, codes
    assert 500 not in codes
    n = len(interfaces(c, sid))
    assert n <= 16, (n, codes)
    assert codes.count(200) == n - 1, (n, codes)


def test_held_multinic_other_project_reader_locked(cloud):
    """Held: another project's server is 404, a reader 403, a locked server 409 (Nova's order:
    schema, then lock), and nothing changes on the port."""
    c = cloud
    admin_sid = boot(c, "rv-adm-" + uuid.uuid4().hex[:6], token=c.token(),
                     nics=[{"uuid": c.neutron("GET", "/networks?name=private").json()["networks"][0]["id"]}])
    [adm_if] = interfaces(c, admin_sid, token=c.token())
    adm_addr = adm_if["fixed_ips"][0]["ip_address"]
    assert multinic(c, admin_sid, {"addFixedIp": {"networkId": adm_if["net_id"]}}).status_code == 404
    assert multinic(c, admin_sid, {"removeFixedIp": {"address": adm_addr}}).status_code == 404
    # The demo user's own server: removing the admin server's address changes nothing there.
    sid = boot(c, "rv-mn-" + uuid.uuid4().hex[:6])
    assert multinic(c, sid, {"removeFixedIp": {"address": adm_addr}}).status_code == 202
    assert [ip["ip_address"] for ip in interfaces(c, admin_sid, token=c.token())[0]["fixed_ips"]] == [adm_addr]
    # addFixedIp naming a network of another project the server is not on: nothing.
    other = c.neutron("POST", "/networks", json={"network": {"name": "rv-adm-net"}}).json()["network"]["id"]
    c.neutron("POST", "/subnets", json={"subnet": {"network_id": other, "cidr": "10.72.0.0/24", "ip_version": 4}})
    before = addresses_of(c, sid)
    assert multinic(c, sid, {"addFixedIp": {"networkId": other}}).status_code == 202
    assert addresses_of(c, sid) == before
    assert c.neutron("GET", f"/ports?network_id={other}").json()["ports"] == [] or all(
        p["device_id"] != sid for p in c.neutron("GET", f"/ports?network_id={other}").json()["ports"])
    # Reader: 403.
    name = "rv-rdr-" + uuid.uuid4().hex[:6]
    pw = "Rv-" + uuid.uuid4().hex
    c.cli("user", "create", "--password", pw, "--project", "demo", name)
    c.cli("role", "add", "--user", name, "--project", "demo", "reader")
    reader = c.token(user=name, password=pw, project="demo")
    net_id = interfaces(c, sid)[0]["net_id"]
    assert multinic(c, sid, {"addFixedIp": {"networkId": net_id}}, token=reader).status_code == 403
    assert multinic(c, sid, {"removeFixedIp": {"address": before[0]}}, token=reader).status_code == 403
    assert attach(c, sid, {"net_id": net_id}, token=reader).status_code == 403
    # Locked: 409 for its owner.
    assert c.nova("POST", f"/servers/{sid}/action", json={"lock": None}, token=c.token()).status_code == 202
    r = multinic(c, sid, {"addFixedIp": {"networkId": net_id}})
    assert r.status_code == 409, r.text
    assert multinic(c, sid, {"removeFixedIp": {"address": before[0]}}).status_code == 409
    assert addresses_of(c, sid) == before
    # Odd bodies: 400, never 500.
    for body in ({"addFixedIp": {"networkId": None}}, {"addFixedIp": {"networkId": ["x"]}}, {"addFixedIp": None},
                 {"removeFixedIp": {"address": None}}, {"removeFixedIp": {"address": "1" * 100000}},
                 {"removeFixedIp": {"address": "１０.０.０.１"}}, {"addFixedIp": {"networkId": "ｘ" * 37}}):
        r = multinic(c, sid, body)
        assert r.status_code == 400, (body, r.text)


def test_held_add_fixed_ip_until_exhausted_and_remove_the_last(cloud):
    """Held: addFixedIp past the subnet's last free address stays 202 and changes nothing; a
    number networkId is taken as Nova's str(); removing every address of the port leaves the
    server readable."""
    c = cloud
    net = fresh_net(c, "10.73.0.0/29")  # .2 to .6 for hosts, one taken by DHCP maybe
    sid = boot(c, "rv-ex-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}])
    codes = [multinic(c, sid, {"addFixedIp": {"networkId": net}}).status_code for _ in range(8)]
    assert set(codes) == {202}, codes
    n = len(addresses_of(c, sid))
    assert 1 < n <= 6
    assert multinic(c, sid, {"addFixedIp": {"networkId": 12345}}).status_code == 202
    assert len(addresses_of(c, sid)) == n
    for a in addresses_of(c, sid):
        assert multinic(c, sid, {"removeFixedIp": {"address": a}}).status_code == 202
    assert addresses_of(c, sid) == []
    r = c.nova("GET", f"/servers/{sid}/ips", token=demo_token(c))
    assert r.status_code == 200, r.text
    r = c.nova("GET", f"/servers/{sid}", token=demo_token(c))
    assert r.status_code == 200 and r.json()["server"]["status"] == "ACTIVE", r.text
    # And an address can come back.
    assert multinic(c, sid, {"addFixedIp": {"networkId": net}}).status_code == 202
    assert len(addresses_of(c, sid)) == 1


def test_held_attach_racing_delete_leaks_no_port(cloud):
    """Held (or not): an attach sent with the server's delete leaves no port behind."""
    c = cloud
    net = fresh_net(c, "10.74.0.0/24")
    token = demo_token(c)
    sids = [boot(c, "rv-del-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}]) for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futs = []
        for sid in sids:
            futs.append(pool.submit(attach, c, sid, {"net_id": net}, token))
            futs.append(pool.submit(attach, c, sid, {"net_id": net}, token))
            futs.append(pool.submit(c.nova, "DELETE", f"/servers/{sid}", token))
        results = [f.result() for f in futs]
    assert all(r.status_code < 500 for r in results), [(r.status_code, r.text) for r in results]
    deadline = time.time() + 60
    while time.time() < deadline:
        if all(c.nova("GET", f"/servers/{s}", token=token).status_code == 404 for s in sids):
            break
        time.sleep(1)
    time.sleep(3)
    left = [p for p in c.neutron("GET", f"/ports?network_id={net}").json()["ports"] if p["device_owner"].startswith("compute:")]
    assert left == [], left


def test_held_detach_during_attach_wait_does_not_hold_the_attach_30s(cloud):
    """Held: a detach of the port sent while its attach waits for the hot-plug report does not
    leave the attach waiting out the 30 s (the node's report comes first on the fake driver)."""
    c = cloud
    net = fresh_net(c, "10.75.0.0/24")
    sid = boot(c, "rv-det-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}])
    token = demo_token(c)
    own = demo(c, "port", "create", "--network", net, "rv-own-" + uuid.uuid4().hex[:6], "-f", "json")["id"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        t0 = time.time()
        fut = pool.submit(attach, c, sid, {"port_id": own}, token)
        deadline = time.time() + 10
        while time.time() < deadline:
            if any(i["port_id"] == own for i in interfaces(c, sid, token=token)):
                break
            time.sleep(0.01)
        r = c.nova("DELETE", f"/servers/{sid}/os-interface/{own}", token=token)
        assert r.status_code == 202, r.text
        res = fut.result()
        elapsed = time.time() - t0
    assert elapsed < 15, (elapsed, res.status_code, res.text)


@pytest.fixture(scope="module")
def failing_cloud(tmp_path_factory):
    with tiny_image_cloud(tmp_path_factory, "rvifplugfail", {"compute": {"agent_interval_s": "1"}, "compute_node": {"fake_failing_operations": "plugInterface"}}) as c:
        yield c


def test_held_concurrent_failing_attaches_are_all_undone(failing_cloud):
    """Held: attaches sent together whose hot-plugs all fail answer 500 each (or 409 for the
    same own port twice), every port made for them is deleted, the user's own ports released,
    and the server keeps its one interface."""
    c = failing_cloud
    net = fresh_net(c, "10.76.0.0/24")
    sid = boot(c, "rv-fail-" + uuid.uuid4().hex[:6], nics=[{"uuid": net}])
    [first] = interfaces(c, sid)
    token = demo_token(c)
    own = demo(c, "port", "create", "--network", net, "rv-own-" + uuid.uuid4().hex[:6], "-f", "json")["id"]
    bodies = [{"net_id": net}] * 6 + [{"port_id": own, "tag": "x"}] * 2
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda b: attach(c, sid, b, token=token), bodies))
    codes = [r.status_code for r in rs]
    assert codes[:6] == [500] * 6, [(r.status_code, r.text) for r in rs]
    assert sorted(codes[6:]) in ([409, 500], [500, 500]), [(r.status_code, r.text) for r in rs]
    time.sleep(2)
    assert [i["port_id"] for i in interfaces(c, sid)] == [first["port_id"]]
    ports = c.neutron("GET", f"/ports?network_id={net}").json()["ports"]
    assert sorted(p["id"] for p in ports if p["device_owner"].startswith("compute:")) == [first["port_id"]]
    port = c.neutron("GET", f"/ports/{own}").json()["port"]
    assert port["device_id"] == "" and port["binding:host_id"] == ""
    s = c.nova("GET", f"/servers/{sid}", token=token).json()["server"]
    assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None


def test_held_attach_of_another_projects_port_or_network(cloud):
    """Held: another project's port or (unshared) network is 404 to an attach, and nothing of
    theirs changes; unicode look-alikes and wrong types of ids are 400/404, never 500."""
    c = cloud
    sid = boot(c, "rv-oth-" + uuid.uuid4().hex[:6])
    net = c.neutron("POST", "/networks", json={"network": {"name": "rv-oth-net"}}).json()["network"]["id"]
    c.neutron("POST", "/subnets", json={"subnet": {"network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4}})
    port = c.neutron("POST", "/ports", json={"port": {"network_id": net}}).json()["port"]
    assert attach(c, sid, {"port_id": port["id"]}).status_code == 404
    assert attach(c, sid, {"net_id": net}).status_code == 404
    after = c.neutron("GET", f"/ports/{port['id']}").json()["port"]
    assert after["device_id"] == "" and after["fixed_ips"] == port["fixed_ips"]
    assert [p for p in c.neutron("GET", f"/ports?network_id={net}").json()["ports"] if not p["device_owner"].startswith("network:")] == [after]
    for body in ({"port_id": port["id"].replace("-", "\u2010")}, {"net_id": 5}, {"port_id": None}, {"net_id": "a" * 10000},
                 {"fixed_ips": [{"ip_address": "10.77.0.9"}]}):
        r = attach(c, sid, body)
        assert r.status_code in (400, 404), (body, r.status_code, r.text)
    assert len(interfaces(c, sid)) == 1
