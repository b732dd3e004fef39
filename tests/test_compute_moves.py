"""Moves between compute nodes, with the fake driver on two nodes (the node inside `nimbus up`,
`node-a`, and a `nimbus compute` process, `node-b`): cold migration with confirm and revert, a
resize that does not fit on its host, live migration, evacuation of a node that is down, and
the checks and errors of those APIs. The fake's root "disk" carries the guest's boot count and
is copied by the destination from the source node's API like a real disk, so the console
after a cold move shows the count carried on.

Expected behaviour: nova/api/openstack/compute/migrate_server.py, evacuate.py,
server_migrations.py; nova/compute/api.py (resize, live_migrate, evacuate); the migration
statuses of nova/compute/manager.py and nova/conductor/tasks/live_migrate.py."""

import time

import pytest

from compute_support import two_node_cloud
from test_compute_servers import allocations, image_id


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    # node-a is small (2 vCPUs, 8 with Nova's 4.0 ratio), so a big resize must move to node-b
    with two_node_cloud(tmp_path_factory, "moves", {"compute_node": {"vcpus": "2"}}) as cloud:
        yield cloud


def boot(cloud, name, host, flavor="42"):
    body = {"server": {"name": name, "imageRef": image_id(cloud), "flavorRef": flavor, "networks": "none",
                       "availability_zone": f"nova:{host}"}}
    r = cloud.nova("POST", "/servers", json=body)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    shown = cloud.wait_server(sid, "ACTIVE", timeout=60)
    assert shown["OS-EXT-SRV-ATTR:host"] == host, shown
    return sid


def action(cloud, sid, body, version="2.96", token=None):
    return cloud.nova("POST", f"/servers/{sid}/action", json=body, version=version, token=token)


def migrations_of(cloud, sid):
    r = cloud.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80")
    assert r.status_code == 200, r.text
    return r.json()["migrations"]


def wait_migration(cloud, sid, status, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = migrations_of(cloud, sid)
        if last and last[0]["status"] == status:
            return last[0]
        time.sleep(0.3)
    raise AssertionError(f"migration of {sid} not {status}: {last}")


def providers_of(cloud, consumer):
    names = {p["uuid"]: p["name"] for p in cloud.cli("resource", "provider", "list", "-f", "json")}
    return sorted(names.get(a["resource_provider"], a["resource_provider"]) for a in allocations(cloud, consumer))


def boots_in_console(cloud, sid):
    text = cloud.cli("console", "log", "show", sid).stdout
    return text.count("=== nimbus-test ready")


def test_cold_migration_confirm_moves_the_disk_and_frees_the_source(nodes):
    cloud = nodes
    sid = boot(cloud, "cold-1", "node-a")
    assert boots_in_console(cloud, sid) == 1
    cloud.cli("server", "migrate", sid)
    shown = cloud.wait_server(sid, "VERIFY_RESIZE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-b" and shown["OS-EXT-STS:vm_state"] == "resized", shown
    # the disk came from node-a: the boot count goes on (1 on node-a, +1 on node-b)
    assert boots_in_console(cloud, sid) == 2
    m = wait_migration(cloud, sid, "finished")
    assert m["migration_type"] == "migration" and m["source_compute"] == "node-a" and m["dest_compute"] == "node-b", m
    # both hosts hold it until confirm: the instance on node-b, the migration on node-a
    assert providers_of(cloud, sid) == ["node-b"]
    assert providers_of(cloud, m["uuid"]) == ["node-a"]
    r = action(cloud, sid, {"confirmResize": None})
    assert r.status_code == 204, r.text
    cloud.wait_server(sid, "ACTIVE")
    wait_migration(cloud, sid, "confirmed")
    assert providers_of(cloud, m["uuid"]) == []
    assert providers_of(cloud, sid) == ["node-b"]
    actions = [a["action"] for a in cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert "migrate" in actions and "confirmResize" in actions, actions
    cloud.cli("server", "delete", "--wait", sid)


def test_cold_migration_revert_starts_the_source_copy_again(nodes):
    cloud = nodes
    sid = boot(cloud, "cold-2", "node-a")
    r = action(cloud, sid, {"migrate": {"host": "node-b"}}, version="2.56")
    assert r.status_code == 202, r.text
    cloud.wait_server(sid, "VERIFY_RESIZE")
    m = wait_migration(cloud, sid, "finished")
    r = action(cloud, sid, {"revertResize": None})
    assert r.status_code == 202, r.text
    shown = cloud.wait_server(sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-a", shown
    wait_migration(cloud, sid, "reverted")
    assert providers_of(cloud, sid) == ["node-a"] and providers_of(cloud, m["uuid"]) == []
    # the source's own copy runs again (its count: the first boot and the restart)
    assert boots_in_console(cloud, sid) == 2
    cloud.cli("server", "delete", "--wait", sid)


def test_a_stopped_server_migrates_stopped_and_delete_cleans_the_source(nodes):
    cloud = nodes
    sid = boot(cloud, "cold-3", "node-a")
    cloud.cli("server", "stop", sid)
    cloud.wait_server(sid, "SHUTOFF")
    assert action(cloud, sid, {"migrate": None}).status_code == 202
    shown = cloud.wait_server(sid, "VERIFY_RESIZE")
    assert shown["OS-EXT-STS:power_state"] == 4, shown
    m = wait_migration(cloud, sid, "finished")
    # deleting an unconfirmed move confirms it: node-a removes its copy, both claims go
    cloud.cli("server", "delete", "--wait", sid)
    wait_migration(cloud, sid, "confirmed")
    assert providers_of(cloud, m["uuid"]) == [] and providers_of(cloud, sid) == []


def test_migrate_checks_and_errors(nodes):
    cloud = nodes
    sid = boot(cloud, "cold-4", "node-a")
    r = action(cloud, sid, {"migrate": {"host": "node-a"}}, version="2.56")
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Cannot migrate to the same host", r.text
    r = action(cloud, sid, {"migrate": {"host": "node-x"}}, version="2.56")
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Compute host node-x could not be found.", r.text
    r = action(cloud, sid, {"migrate": {"host": "node-b", "extra": 1}}, version="2.56")
    assert r.status_code == 400, r.text
    # before 2.56 the body is not read for a host
    r = action(cloud, sid, {"migrate": {"host": "node-a"}}, version="2.55")
    assert r.status_code == 202, r.text
    cloud.wait_server(sid, "VERIFY_RESIZE")
    r = action(cloud, sid, {"migrate": None})
    assert r.status_code == 409, r.text
    assert action(cloud, sid, {"confirmResize": None}).status_code == 204
    cloud.wait_server(sid, "ACTIVE")
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    r = action(cloud, sid, {"migrate": None}, token=demo)
    assert r.status_code in (403, 404), r.text
    r = action(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": False}}, version="2.33")
    assert r.status_code == 400 and "shared storage" in r.json()["badRequest"]["message"], r.text
    # from 2.34 the conductor's checks are asynchronous: 202, the migration record in error
    r = action(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": False}})
    assert r.status_code == 202, r.text
    assert migrations_of(cloud, sid)[0]["status"] == "error"
    assert cloud.wait_server(sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "node-b"   # where the migrate above left it
    r = action(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": "sometimes"}})
    assert r.status_code == 400, r.text
    r = action(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": "auto", "force": True}}, version="2.30")
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Can't force to a non-provided destination", r.text
    r = action(cloud, sid, {"evacuate": {}})
    assert r.status_code == 400 and "still in use" in r.json()["badRequest"]["message"], r.text
    r = action(cloud, sid, {"evacuate": {"host": "node-x"}})
    assert r.status_code == 404, r.text
    cloud.cli("server", "delete", "--wait", sid)


def test_resize_that_does_not_fit_its_host_moves(nodes):
    cloud = nodes
    cloud.cli("flavor", "create", "--vcpus", "8", "--ram", "64", "--disk", "1", "--id", "880", "moves.big")
    sid = boot(cloud, "grows", "node-a")
    cloud.cli("server", "resize", "--flavor", "moves.big", sid)
    shown = cloud.wait_server(sid, "VERIFY_RESIZE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-b" and shown["flavor"]["vcpus"] == 8, shown
    m = wait_migration(cloud, sid, "finished")
    assert m["migration_type"] == "resize", m
    assert action(cloud, sid, {"revertResize": None}).status_code == 202
    shown = cloud.wait_server(sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-a" and shown["flavor"]["vcpus"] == 1, shown
    cloud.cli("server", "delete", "--wait", sid)
    cloud.cli("flavor", "delete", "880")


def test_live_migration_moves_a_running_guest(nodes):
    cloud = nodes
    sid = boot(cloud, "live-1", "node-b")
    cloud.cli("server", "migrate", "--live-migration", "--host", "node-a", "--os-compute-api-version", "2.30", sid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = cloud.nova("GET", f"/servers/{sid}").json()["server"]
        if shown["OS-EXT-SRV-ATTR:host"] == "node-a" and shown["OS-EXT-STS:task_state"] is None:
            break
        time.sleep(0.3)
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:power_state"] == 1, shown
    m = wait_migration(cloud, sid, "completed")
    assert m["migration_type"] == "live-migration" and m["source_compute"] == "node-b" and m["dest_compute"] == "node-a", m
    assert providers_of(cloud, sid) == ["node-a"] and providers_of(cloud, m["uuid"]) == []
    # no migration left in progress
    r = cloud.nova("GET", f"/servers/{sid}/migrations", version="2.80")
    assert r.status_code == 200 and r.json()["migrations"] == [], r.text
    r = cloud.nova("GET", f"/servers/{sid}/migrations", version="2.22")
    assert r.status_code == 404
    # the scheduler picks the destination when none is named
    r = action(cloud, sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = cloud.nova("GET", f"/servers/{sid}").json()["server"]
        if shown["OS-EXT-SRV-ATTR:host"] == "node-b" and shown["OS-EXT-STS:task_state"] is None:
            break
        time.sleep(0.3)
    assert shown["status"] == "ACTIVE", shown
    # a live-migrating server is not deleted half-way; once moved it is
    cloud.cli("server", "delete", "--wait", sid)


def test_evacuation_rebuilds_elsewhere_and_the_source_cleans_up_when_back(nodes):
    cloud = nodes
    sid = boot(cloud, "evac-1", "node-b")
    node = cloud.node_b
    node.kill()
    r = cloud.nova("PUT", "/os-services/force-down", json={"host": "node-b", "binary": "nova-compute", "forced_down": True}, version="2.11")
    if r.status_code == 404:
        services = cloud.nova("GET", "/os-services?binary=nova-compute", version="2.53").json()["services"]
        sid_b = next(s["id"] for s in services if s["host"] == "node-b")
        r = cloud.nova("PUT", f"/os-services/{sid_b}", json={"forced_down": True}, version="2.53")
    assert r.status_code == 200, r.text
    try:
        r = action(cloud, sid, {"evacuate": {}}, version="2.94")
        assert r.status_code == 200, r.text
        shown = cloud.wait_server(sid, "ACTIVE")
        assert shown["OS-EXT-SRV-ATTR:host"] == "node-a", shown
        m = wait_migration(cloud, sid, "done")
        assert m["migration_type"] == "evacuation" and m["source_compute"] == "node-b", m
        # node-b still holds its allocation under the migration until it is back and cleans up
        assert providers_of(cloud, m["uuid"]) == ["node-b"]
    finally:
        node.start()
    # back, node-b removes its copy; only then may its service be forced up again (Nova's rule)
    wait_migration(cloud, sid, "completed", timeout=60)
    assert providers_of(cloud, m["uuid"]) == []
    services = cloud.nova("GET", "/os-services?binary=nova-compute", version="2.53").json()["services"]
    sid_b = next(s["id"] for s in services if s["host"] == "node-b")
    r = cloud.nova("PUT", f"/os-services/{sid_b}", json={"forced_down": False}, version="2.53")
    assert r.status_code == 200, r.text
    cloud.cli("server", "delete", "--wait", sid)
