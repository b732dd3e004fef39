"""Several compute nodes: the node inside `nimbus up` and a `nimbus compute` process on the
same machine, which talks to the controller only over the agent API (HTTP, shared key). The
scheduler spreads servers (Nova's RAM/CPU/disk weighers), honours `different_host` /
`same_host` hints and an admin's `zone:host`, the console of a server on the other node is read
through that node's API, a node that was killed picks its work up again when it comes back,
and the agent API refuses callers without the key.

Expected behaviour: nova/scheduler/weights/ram.py (spreading), nova/scheduler/filters/affinity_filter.py
(SameHostFilter, DifferentHostFilter), nova/compute/api.py (parse_availability_zone, forced_host policy)."""

import time

import pytest
import requests

from compute_support import two_node_cloud


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    with two_node_cloud(tmp_path_factory, "nodes") as cloud:
        yield cloud


def image_id(cloud):
    from test_compute_servers import image_id as tiny
    return tiny(cloud)


def boot(cloud, name, hints=None, az=None, token=None, expect=202):
    body = {"server": {"name": name, "imageRef": image_id(cloud), "flavorRef": "42", "networks": "none"}}
    if az:
        body["server"]["availability_zone"] = az
    if hints:
        body["os:scheduler_hints"] = hints
    r = cloud.nova("POST", "/servers", json=body, token=token)
    assert r.status_code == expect, r.text
    return r.json()["server"]["id"] if expect == 202 else r


def host_of(cloud, sid):
    return cloud.wait_server(sid, "ACTIVE", timeout=60)["OS-EXT-SRV-ATTR:host"]


def test_servers_spread_over_both_nodes_and_hints_are_honoured(two_nodes):
    cloud = two_nodes
    first = boot(cloud, "spread-1")
    h1 = host_of(cloud, first)
    second = boot(cloud, "spread-2")
    h2 = host_of(cloud, second)
    assert {h1, h2} == {"node-a", "node-b"}, (h1, h2)
    apart = boot(cloud, "apart", hints={"different_host": [first]})
    assert host_of(cloud, apart) != h1
    together = boot(cloud, "together", hints={"same_host": first})
    assert host_of(cloud, together) == h1
    for sid in (first, second, apart, together):
        cloud.cli("server", "delete", "--wait", sid)


def test_server_groups_place_members_by_policy(two_nodes):
    """affinity: every member where the first went; anti-affinity: one per host, then no valid
    host; max_server_per_host (2.64) allows more; soft-anti-affinity spreads but never refuses;
    membership, its quota and the 2.71 server_groups field; another project's group is not found."""
    cloud = two_nodes

    def group(name, policy, rules=None):
        body = {"server_group": {"name": name, "policy": policy, **({"rules": rules} if rules else {})}}
        r = cloud.nova("POST", "/os-server-groups", json=body, version="2.64")
        assert r.status_code == 200, r.text
        return r.json()["server_group"]["id"]

    made = []
    together = group("together", "affinity")
    project = cloud.nova("GET", f"/os-server-groups/{together}").json()["server_group"]["project_id"]
    assert cloud.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": -1}}).status_code == 200
    first = boot(cloud, "aff-1", hints={"group": together})
    h = host_of(cloud, first)
    for n in range(2, 4):
        sid = boot(cloud, f"aff-{n}", hints={"group": together})
        assert host_of(cloud, sid) == h
        made.append(sid)
    made.append(first)
    shown = cloud.nova("GET", f"/servers/{first}", version="2.71").json()["server"]
    assert shown["server_groups"] == [together], shown
    assert "server_groups" not in cloud.nova("GET", f"/servers/{first}", version="2.70").json()["server"]
    members = cloud.nova("GET", f"/os-server-groups/{together}").json()["server_group"]["members"]
    assert sorted(members) == sorted(made), members

    apart = group("apart", "anti-affinity")
    a1, a2 = boot(cloud, "anti-1", hints={"group": apart}), boot(cloud, "anti-2", hints={"group": apart})
    assert {host_of(cloud, a1), host_of(cloud, a2)} == {"node-a", "node-b"}
    a3 = boot(cloud, "anti-3", hints={"group": apart})
    failed = cloud.wait_server(a3, "ERROR", timeout=60)
    assert failed["fault"]["message"].startswith("No valid host"), failed
    made += [a1, a2, a3]

    two_each = group("two-each", "anti-affinity", {"max_server_per_host": 2})
    hosts = [host_of(cloud, boot(cloud, f"two-{n}", hints={"group": two_each})) for n in range(4)]
    assert sorted(hosts) == ["node-a", "node-a", "node-b", "node-b"], hosts

    soft = group("soft", "soft-anti-affinity")
    # a preference weighed with RAM, CPU and disk (multipliers 1.0 as in Nova), never a refusal
    soft_hosts = [host_of(cloud, boot(cloud, f"soft-{n}", hints={"group": soft})) for n in range(3)]
    assert set(soft_hosts) <= {"node-a", "node-b"}, soft_hosts

    # another project's group is not found (400, as Nova's InstanceGroupNotFound on create)
    demo = cloud.token("demo", cloud.nimbus.demo_password, "demo")
    r = boot(cloud, "intruder", hints={"group": together}, token=demo, expect=400)
    assert "could not be found" in r.json()["badRequest"]["message"], r.text
    # server_group_members quota: the admin's members of "together" are 3
    assert cloud.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 3}}).status_code == 200
    r = boot(cloud, "aff-4", hints={"group": together}, expect=403)
    assert r.json()["forbidden"]["message"] == "Quota exceeded, too many servers in group", r.text
    for s in cloud.cli("server", "list", "-f", "json"):
        cloud.cli("server", "delete", "--wait", s["ID"])
    # the defaults again (Nova refuses a limit below what is in use, so after the deletes)
    r = cloud.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 10, "instances": 10}})
    assert r.status_code == 200, r.text


def test_admin_forced_host_and_its_policy(two_nodes):
    cloud = two_nodes
    sid = boot(cloud, "forced", az="nova:node-b")
    assert host_of(cloud, sid) == "node-b"
    # the console of a server on the other node comes through that node's API
    text = cloud.cli("console", "log", "show", sid).stdout
    assert "=== nimbus-test ready: hostname=forced " in text, text
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    r = boot(cloud, "not-allowed", az="nova:node-b", token=demo, expect=403)
    assert "os_compute_api:servers:create:forced_host" in r.text, r.text
    r = boot(cloud, "no-such-host", az="nova:node-x", expect=400)
    assert r.json()["badRequest"]["message"] == "Compute host node-x could not be found.", r.text
    cloud.cli("server", "delete", "--wait", sid)


def test_a_killed_node_resumes_its_work_when_it_returns(two_nodes):
    cloud = two_nodes
    node = cloud.node_b
    node.kill()
    sid = boot(cloud, "waits", az="nova:node-b")
    time.sleep(3)
    shown = cloud.nova("GET", f"/servers/{sid}").json()["server"]
    assert shown["status"] == "BUILD" and shown["OS-EXT-STS:task_state"] == "spawning", shown
    node.start()
    assert host_of(cloud, sid) == "node-b"
    cloud.cli("server", "delete", "--wait", sid)


def test_agent_api_needs_the_key(two_nodes):
    cloud = two_nodes
    base = cloud.base_url + "/compute-agent/v1"
    assert requests.get(f"{base}/desired?host=node-b", timeout=10).status_code == 401
    assert requests.get(f"{base}/desired?host=node-b", headers={"X-Compute-Key": "x" * 64}, timeout=10).status_code == 401
    r = requests.post(f"{base}/nodes", data=b"{}", headers={"X-Compute-Key": "wrong"}, timeout=10)
    assert r.status_code == 401
    # a node's own API too
    node = cloud.node_b
    assert requests.post(f"http://127.0.0.1:{node.port}/compute-node/v1/poke", timeout=10).status_code == 401


def test_delete_while_the_host_is_down_is_local_and_the_host_reaps_the_guest(two_nodes):
    """Nova's local delete: a server whose host is down (here forced down) is deleted at once,
    its allocation freed; the host destroys the guest when it acts again (the deleted row keeps
    task `deleting` until then)."""
    cloud = two_nodes
    sid = boot(cloud, "down-delete", az="nova:node-b")
    assert host_of(cloud, sid) == "node-b"
    services = cloud.nova("GET", "/os-services?binary=nova-compute", version="2.53").json()["services"]
    svc = next(s["id"] for s in services if s["host"] == "node-b")
    # the node does not act while forced down in this test: stopped first, so the row is seen
    cloud.node_b.stop()
    assert cloud.nova("PUT", f"/os-services/{svc}", json={"forced_down": True}, version="2.53").status_code == 200
    try:
        assert cloud.nova("DELETE", f"/servers/{sid}").status_code == 204
        assert cloud.nova("GET", f"/servers/{sid}").status_code == 404, "deleted at once, not waiting for the host"
        allocs = requests.get(f"{cloud.base_url}/placement/allocations/{sid}",
                              headers={"X-Auth-Token": cloud.token(), "OpenStack-API-Version": "placement 1.28"}, timeout=10).json()
        assert allocs["allocations"] == {}, allocs
        gone = cloud.nova("GET", f"/servers/detail?deleted=true&uuid={sid}").json()["servers"]
        assert gone and gone[0]["OS-EXT-STS:task_state"] == "deleting", gone
    finally:
        assert cloud.nova("PUT", f"/os-services/{svc}", json={"forced_down": False}, version="2.53").status_code == 200
        cloud.node_b.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gone = cloud.nova("GET", f"/servers/detail?deleted=true&uuid={sid}").json()["servers"]
        if gone and gone[0]["OS-EXT-STS:task_state"] is None:
            break
        time.sleep(0.5)
    assert gone and gone[0]["OS-EXT-STS:task_state"] is None, ("the host reaped the guest", gone)
