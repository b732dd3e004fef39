"""Interface attach waits for the host's hot-plug, as Nova's attach (an RPC call to the compute
host) does, and a hot-plug that fails is undone: the port made for the attach is deleted, a
port of the user's own is released, and the answer is Nova's InterfaceAttachFailed (500,
"Failed to attach network adapter device to <server>"). The host here is the fake driver with
`[compute_node] fake_failing_operations = plugInterface`: every hot-plug of a new interface into a
running guest fails; a stopped guest takes the port at its next start, so its attach succeeds.
"""

from __future__ import annotations

import uuid

import pytest

from test_network_compute import tiny_image_cloud, action, boot, demo, demo_token, interfaces


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with tiny_image_cloud(tmp_path_factory, "ifplug", {"compute": {"agent_interval_s": "1"}, "compute_node": {"fake_failing_operations": "plugInterface"}}) as c:
        yield c


def attach(c, sid, body):
    return c.nova("POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": body}, token=demo_token(c), version="2.70")


def test_a_failed_hot_plug_is_undone_and_answers_500(cloud):
    c = cloud
    sid = boot(c, "plug-" + uuid.uuid4().hex[:6])
    [first] = interfaces(c, sid)
    net = demo(c, "network", "create", "plug-net-" + uuid.uuid4().hex[:6], "-f", "json")
    demo(c, "subnet", "create", "--network", net["id"], "--subnet-range", "10.89.0.0/24", "plug-sub-" + uuid.uuid4().hex[:6])
    # A port made for the attach: deleted again.
    r = attach(c, sid, {"net_id": net["id"]})
    assert r.status_code == 500, r.text
    assert r.json() == {"computeFault": {"code": 500, "message": f"Failed to attach network adapter device to {sid}"}}
    assert c.neutron("GET", f"/ports?network_id={net['id']}&device_owner=compute:nova").json()["ports"] == []
    assert [i["port_id"] for i in interfaces(c, sid)] == [first["port_id"]]
    # The user's own port: released, not deleted.
    own = demo(c, "port", "create", "--network", net["id"], "own-" + uuid.uuid4().hex[:6], "-f", "json")
    r = attach(c, sid, {"port_id": own["id"], "tag": "t1"})
    assert r.status_code == 500, r.text
    port = c.neutron("GET", f"/ports/{own['id']}").json()["port"]
    assert port["device_id"] == "" and port["device_owner"] == "" and port["binding:host_id"] == ""
    assert [i["port_id"] for i in interfaces(c, sid)] == [first["port_id"]]
    tags = c.nova("GET", f"/servers/{sid}/os-interface", token=demo_token(c), version="2.70").json()["interfaceAttachments"]
    assert [i["tag"] for i in tags] == [None]
    # The server is unharmed: still ACTIVE, and a detach of its own interface works.
    s = c.nova("GET", f"/servers/{sid}", token=demo_token(c)).json()["server"]
    assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None
    # A stopped guest is not hot-plugged: the port is recorded for its next start.
    assert action(c, sid, {"os-stop": None}).status_code == 202
    c.wait_server(sid, "SHUTOFF", timeout=60, token=demo_token(c))
    r = attach(c, sid, {"port_id": own["id"]})
    assert r.status_code == 200, r.text
    assert sorted(i["port_id"] for i in interfaces(c, sid)) == sorted([first["port_id"], own["id"]])
