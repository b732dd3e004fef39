"""Servers (Nova v2.1) through the openstack CLI and plain requests, on a cloud whose compute
node runs the fake driver (instant guests): create/list/show/update/delete, the BUILD→ACTIVE
path through the scheduler and Placement, power actions and their state checks, locks, instance
actions, quotas, isolation between projects, and Nova's error bodies.

Expected behaviour: nova/api/openstack/compute/servers.py, views/servers.py, nova/compute/api.py
(check_instance_state), nova/api/openstack/common.py (_STATE_MAP)."""

import json
import time

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud


@pytest.fixture(scope="module")
def fake_cloud(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("fake"), "fake")
    try:
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)


def image_id(cloud):
    images = cloud.cli("image", "list", "-f", "json")
    if not any(i["Name"] == "tiny-raw" for i in images):
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".raw") as f:
            f.write(b"\0" * 1024 * 1024)
            f.flush()
            cloud.cli("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare", "--file", f.name, "tiny-raw")
    return next(i["ID"] for i in cloud.cli("image", "list", "-f", "json") if i["Name"] == "tiny-raw")


def boot(cloud, name, **kw):
    body = {"server": {"name": name, "imageRef": image_id(cloud), "flavorRef": "42", "networks": "none", **kw}}
    r = cloud.nova("POST", "/servers", json=body)
    assert r.status_code == 202, r.text
    return r.json()["server"]["id"]


def test_hypervisor_registered_and_server_goes_active(fake_cloud):
    sid = boot(fake_cloud, "s1")
    server = fake_cloud.wait_server(sid, "ACTIVE", timeout=60)
    assert server["OS-EXT-STS:vm_state"] == "active" and server["OS-EXT-STS:power_state"] == 1, server
    assert server["flavor"]["original_name"] == "m1.nano" and server["flavor"]["ram"] == 128, server
    assert server["OS-EXT-SRV-ATTR:host"], server
    assert len(server["hostId"]) == 56, server          # sha224 hex
    assert server["OS-SRV-USG:launched_at"], server
    actions = fake_cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions] == ["create"], actions
    detail = fake_cloud.nova("GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}").json()["instanceAction"]
    events = {e["event"]: e["result"] for e in detail["events"]}
    assert events.get("compute__do_build_and_run_instance") == "Success", detail
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_cli_server_lifecycle(fake_cloud):
    img = image_id(fake_cloud)
    s = fake_cloud.cli("server", "create", "--image", img, "--flavor", "m1.nano", "--no-network", "--wait", "cli-one", "-f", "json", timeout=120)
    assert s["status"] == "ACTIVE", s
    listed = fake_cloud.cli("server", "list", "-f", "json")
    assert [x["Name"] for x in listed if x["ID"] == s["id"]] == ["cli-one"]
    fake_cloud.cli("server", "set", "--name", "cli-renamed", "--description", "d", s["id"])
    shown = fake_cloud.cli("server", "show", s["id"], "-f", "json")
    assert shown["name"] == "cli-renamed" and shown["description"] == "d", shown
    fake_cloud.cli("server", "stop", s["id"])
    assert fake_cloud.wait_server(s["id"], "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    # stop again: 409 (check_instance_state)
    r = fake_cloud.nova("POST", f"/servers/{s['id']}/action", json={"os-stop": None})
    assert r.status_code == 409 and "conflictingRequest" in r.json(), r.text
    fake_cloud.cli("server", "start", s["id"])
    fake_cloud.wait_server(s["id"], "ACTIVE")
    fake_cloud.cli("server", "reboot", "--hard", s["id"])
    fake_cloud.wait_server(s["id"], "ACTIVE")
    fake_cloud.cli("server", "pause", s["id"])
    assert fake_cloud.wait_server(s["id"], "PAUSED")["OS-EXT-STS:power_state"] == 3
    fake_cloud.cli("server", "unpause", s["id"])
    fake_cloud.wait_server(s["id"], "ACTIVE")
    fake_cloud.cli("server", "suspend", s["id"])
    fake_cloud.wait_server(s["id"], "SUSPENDED")
    fake_cloud.cli("server", "resume", s["id"])
    fake_cloud.wait_server(s["id"], "ACTIVE")
    actions = [a["Action"] for a in fake_cloud.cli("server", "event", "list", s["id"], "-f", "json")]
    for a in ("create", "stop", "start", "reboot", "pause", "unpause", "suspend", "resume"):
        assert a in actions, actions
    fake_cloud.cli("server", "delete", "--wait", s["id"], timeout=120)
    assert fake_cloud.nova("GET", f"/servers/{s['id']}").status_code == 404


def test_locked_server_refuses_changes(fake_cloud):
    sid = boot(fake_cloud, "locked")
    fake_cloud.wait_server(sid, "ACTIVE")
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"lock": {"locked_reason": "maintenance"}}, version="2.73")
    assert r.status_code == 202, r.text
    shown = fake_cloud.nova("GET", f"/servers/{sid}", version="2.73").json()["server"]
    assert shown["locked"] is True and shown["locked_reason"] == "maintenance", shown
    fake_cloud.cli("server", "unlock", sid)
    assert fake_cloud.nova("GET", f"/servers/{sid}").json()["server"]["locked"] is False
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_bad_requests_are_novas_400s(fake_cloud):
    img = image_id(fake_cloud)
    cases = [
        ({"server": {"name": "x", "imageRef": img, "flavorRef": "no-such", "networks": "none"}}, "Flavor no-such could not be found."),
        ({"server": {"name": "x", "imageRef": "00000000-0000-0000-0000-000000000000", "flavorRef": "42", "networks": "none"}},
         "Image 00000000-0000-0000-0000-000000000000 could not be found."),
        ({"server": {"name": "x", "imageRef": img, "flavorRef": "42", "networks": "none", "key_name": "nope"}}, "Invalid key_name provided."),
        ({"server": {"name": "x", "imageRef": img, "flavorRef": "42"}}, "'networks' is a required property"),
        ({"server": {"name": "x", "imageRef": img, "flavorRef": "42", "networks": "none", "min_count": 2, "max_count": 1}},
         "min_count must be <= max_count"),
        ({"server": {"name": "", "imageRef": img, "flavorRef": "42", "networks": "none"}}, "is too short"),
    ]
    for body, message in cases:
        r = fake_cloud.nova("POST", "/servers", json=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert message in r.json()["badRequest"]["message"], (body, r.text)


def test_quota_and_multi_create(fake_cloud):
    ids = []
    r = fake_cloud.nova("POST", "/servers", json={"server": {"name": "many", "imageRef": image_id(fake_cloud), "flavorRef": "42",
                                                             "networks": "none", "min_count": 3, "max_count": 3}})
    assert r.status_code == 202, r.text
    servers = [s for s in fake_cloud.nova("GET", "/servers?name=^many-").json()["servers"]]
    assert sorted(s["name"] for s in servers) == ["many-1", "many-2", "many-3"], servers
    ids = [s["id"] for s in servers]
    # Nova's default quota: 10 instances per project
    r = fake_cloud.nova("POST", "/servers", json={"server": {"name": "toomany", "imageRef": image_id(fake_cloud), "flavorRef": "42",
                                                             "networks": "none", "min_count": 11}})
    assert r.status_code == 403 and "Quota exceeded for instances" in r.json()["forbidden"]["message"], r.text
    for sid in ids:
        fake_cloud.cli("server", "delete", "--wait", sid)


def test_projects_do_not_see_each_others_servers(fake_cloud):
    sid = boot(fake_cloud, "private")
    demo = fake_cloud.token("demo", fake_cloud.nimbus.read_password("demo"), "demo")
    assert fake_cloud.nova("GET", f"/servers/{sid}", token=demo).status_code == 404
    assert sid not in [s["id"] for s in fake_cloud.nova("GET", "/servers", token=demo).json()["servers"]]
    assert fake_cloud.nova("DELETE", f"/servers/{sid}", token=demo).status_code == 404
    r = fake_cloud.nova("GET", "/servers?all_tenants=1", token=demo)
    assert r.status_code == 403, r.text
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_create_image_snapshots_the_server(fake_cloud):
    """createImage: a private image owned by the project with Nova's snapshot properties, filled
    by the compute node; the server is ACTIVE again with no task; a server booted from it."""
    sid = boot(fake_cloud, "snapme")
    fake_cloud.wait_server(sid, "ACTIVE")
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"createImage": {"name": "snap-1", "metadata": {"purpose": "test"}}})
    assert r.status_code == 202 and "image_id" in r.json(), r.text
    image_id = r.json()["image_id"]
    deadline = time.time() + 60
    while time.time() < deadline:
        image = fake_cloud.cli("image", "show", image_id, "-f", "json")
        if image["status"] == "active":
            break
        time.sleep(0.5)
    assert image["status"] == "active", image
    props = image["properties"]
    assert props["image_type"] == "snapshot" and props["instance_uuid"] == sid and props["purpose"] == "test", props
    assert props["base_image_ref"] == image_id_of(fake_cloud), props
    assert image["visibility"] == "private" and image["disk_format"] == "raw", image
    shown = fake_cloud.wait_server(sid, "ACTIVE")
    assert shown["OS-EXT-STS:task_state"] is None
    actions = [a["action"] for a in fake_cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert "createImage" in actions, actions
    # before 2.45: Location header, no body
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"createImage": {"name": "snap-2"}}, version="2.44")
    assert r.status_code == 202 and r.headers["Location"].endswith("/image/images/" + r.headers["Location"].rsplit("/", 1)[1]), r.headers
    fake_cloud.wait_server(sid, "ACTIVE")
    # a second snapshot while one runs: 409
    r1 = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"createImage": {"name": "snap-3"}})
    r2 = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"createImage": {"name": "snap-4"}})
    assert r1.status_code == 202 and r2.status_code in (202, 409), (r1.text, r2.text)
    fake_cloud.wait_server(sid, "ACTIVE")
    # boot from the snapshot
    child = fake_cloud.nova("POST", "/servers", json={"server": {"name": "from-snap", "imageRef": image_id, "flavorRef": "42", "networks": "none"}})
    assert child.status_code == 202, child.text
    fake_cloud.wait_server(child.json()["server"]["id"], "ACTIVE")
    # another project cannot snapshot this server
    demo = fake_cloud.token("demo", fake_cloud.nimbus.read_password("demo"), "demo")
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"createImage": {"name": "x"}}, token=demo).status_code == 404
    for s in (sid, child.json()["server"]["id"]):
        fake_cloud.cli("server", "delete", "--wait", s)


def image_id_of(cloud):
    return image_id(cloud)


def allocations(cloud, consumer):
    r = cloud.cli("resource", "provider", "allocation", "show", consumer, "-f", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def test_resize_confirm_and_revert(fake_cloud):
    """resize → VERIFY_RESIZE with the new flavor; the old flavor held by the migration in
    Placement until confirm (dropped) or revert (the instance gets it back)."""
    sid = boot(fake_cloud, "resizable")
    fake_cloud.wait_server(sid, "ACTIVE")
    fake_cloud.cli("server", "resize", "--flavor", "m1.micro", sid)
    shown = fake_cloud.wait_server(sid, "VERIFY_RESIZE")
    assert shown["flavor"]["original_name"] == "m1.micro" and shown["OS-EXT-STS:vm_state"] == "resized", shown
    mine = allocations(fake_cloud, sid)
    assert [a["resources"]["MEMORY_MB"] for a in mine] == [192], mine
    fake_cloud.cli("server", "resize", "confirm", sid)
    shown = fake_cloud.wait_server(sid, "ACTIVE")
    assert shown["flavor"]["original_name"] == "m1.micro", shown
    # revert: back to m1.micro after a resize to cirros256
    fake_cloud.cli("server", "resize", "--flavor", "cirros256", sid)
    fake_cloud.wait_server(sid, "VERIFY_RESIZE")
    fake_cloud.cli("server", "resize", "revert", sid)
    shown = fake_cloud.wait_server(sid, "ACTIVE")
    assert shown["flavor"]["original_name"] == "m1.micro", shown
    assert [a["resources"]["MEMORY_MB"] for a in allocations(fake_cloud, sid)] == [192]
    # Nova's refusals
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "84"}})
    assert r.status_code == 400 and "must change flavor" in r.text, r.text
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"confirmResize": None})
    assert r.status_code == 409, r.text
    actions = [a["action"] for a in fake_cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    for a in ("resize", "confirmResize", "revertResize"):
        assert a in actions, actions
    # os-migrations: one record per resize, newest first, by the microversion's view
    migs = fake_cloud.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.59").json()["migrations"]
    assert [(m["migration_type"], m["status"], m["old_instance_type_id"], m["new_instance_type_id"]) for m in migs] == \
        [("resize", "reverted", 84, None), ("resize", "confirmed", 42, 84)], migs   # cirros256's id "c1" is not a number
    assert all(m["source_compute"] == m["dest_compute"] == shown["OS-EXT-SRV-ATTR:host"] for m in migs), migs
    fake_cloud.cli("server", "delete", "--wait", sid)
    assert allocations(fake_cloud, sid) == []


def test_rebuild_with_a_new_image_and_name(fake_cloud):
    sid = boot(fake_cloud, "rebuildable")
    fake_cloud.wait_server(sid, "ACTIVE")
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"rebuild": {"imageRef": image_id(fake_cloud), "name": "rebuilt",
                                                                            "metadata": {"k": "v"}}})
    assert r.status_code == 202 and r.json()["server"]["adminPass"], r.text
    shown = fake_cloud.wait_server(sid, "ACTIVE")
    assert shown["name"] == "rebuilt" and shown["metadata"] == {"k": "v"}, shown
    # a stopped server stays stopped after a rebuild (Nova)
    fake_cloud.cli("server", "stop", sid)
    fake_cloud.wait_server(sid, "SHUTOFF")
    fake_cloud.cli("server", "rebuild", "--image", image_id(fake_cloud), sid)
    assert fake_cloud.wait_server(sid, "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_list_filters_sort_and_paging(fake_cloud):
    """Nova's list: regex name filter, sort_key/sort_dir, limit/marker links in SQL and in
    memory, invalid sort keys and filters refused (2.75), admin-only filters dropped for others."""
    ids = [boot(fake_cloud, n, tags=["t"]) if n == "list-b" else boot(fake_cloud, n) for n in ("list-c", "list-a", "list-b")]
    for sid in ids:
        fake_cloud.wait_server(sid, "ACTIVE")
    names = lambda r: [s["name"] for s in r.json()["servers"]]
    r = fake_cloud.nova("GET", "/servers?name=^list-&sort_key=display_name&sort_dir=asc")
    assert names(r) == ["list-a", "list-b", "list-c"], r.text
    r = fake_cloud.nova("GET", "/servers?name=^list-[ab]$&sort_key=display_name&sort_dir=desc")
    assert names(r) == ["list-b", "list-a"], r.text
    assert names(fake_cloud.nova("GET", "/servers?tags=t")) == ["list-b"]
    assert "list-b" not in names(fake_cloud.nova("GET", "/servers?not-tags=t"))
    # default order (newest first), paged in SQL: limit 2 gives a next link whose marker continues
    r = fake_cloud.nova("GET", "/servers?limit=2")
    first = names(r)
    link = r.json()["servers_links"][0]["href"]
    marker = link.split("marker=")[1]
    rest = names(fake_cloud.nova("GET", f"/servers?limit=1000&marker={marker}"))
    assert first[:2] == ["list-b", "list-a"] and rest[0] == "list-c", (first, rest)
    assert fake_cloud.nova("GET", "/servers?marker=00000000-0000-0000-0000-000000000000").status_code == 400
    r = fake_cloud.nova("GET", "/servers?sort_key=nonsense")
    assert r.status_code == 400 and "sort_key" in r.text, r.text
    assert fake_cloud.nova("GET", "/servers?sort_key=vcpus", version="2.74").status_code == 200   # ignored before 2.75
    assert fake_cloud.nova("GET", "/servers?sort_key=vcpus", version="2.75").status_code == 400
    assert fake_cloud.nova("GET", "/servers?name=(unclosed").status_code == 400
    assert fake_cloud.nova("GET", "/servers?block_device_mapping=x").status_code == 400
    for sid in ids:
        fake_cloud.cli("server", "delete", "--wait", sid)


def test_shelve_offload_and_unshelve(fake_cloud):
    """shelve: a snapshot `<name>-shelved`, then (shelved_offload_time 0) offloaded: no host, no
    allocation; unshelve schedules it again from that image, which is then deleted."""
    sid = boot(fake_cloud, "shelf")
    fake_cloud.wait_server(sid, "ACTIVE")
    fake_cloud.cli("server", "shelve", sid)
    shown = fake_cloud.wait_server(sid, "SHELVED_OFFLOADED")
    assert shown["OS-EXT-SRV-ATTR:host"] is None and shown["OS-EXT-STS:power_state"] == 0, shown
    assert allocations(fake_cloud, sid) == []
    images = fake_cloud.cli("image", "list", "--name", "shelf-shelved", "-f", "json")
    assert len(images) == 1 and images[0]["Status"] == "active", images
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"shelve": None})
    assert r.status_code == 409, r.text
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"unshelve": {"bogus": 1}}, version="2.77")
    assert r.status_code == 400, r.text
    fake_cloud.cli("server", "unshelve", sid)
    shown = fake_cloud.wait_server(sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] and shown["image"]["id"] == image_id(fake_cloud), shown
    assert [a["resources"]["MEMORY_MB"] for a in allocations(fake_cloud, sid)] == [128]
    assert fake_cloud.cli("image", "list", "--name", "shelf-shelved", "-f", "json") == []
    actions = [a["action"] for a in fake_cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert "shelve" in actions and "unshelve" in actions, actions
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_reset_state_force_delete_and_restore(fake_cloud):
    sid = boot(fake_cloud, "resettable")
    fake_cloud.wait_server(sid, "ACTIVE")
    demo = fake_cloud.token("demo", fake_cloud.nimbus.demo_password, "demo")
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"os-resetState": {"state": "error"}}, token=demo)
    assert r.status_code in (403, 404), r.text
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"os-resetState": {"state": "bogus"}})
    assert r.status_code == 400, r.text
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"os-resetState": {"state": "error"}}).status_code == 202
    assert fake_cloud.wait_server(sid, "ERROR")["OS-EXT-STS:vm_state"] == "error"
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"os-resetState": {"state": "active"}}).status_code == 202
    fake_cloud.wait_server(sid, "ACTIVE")
    # restore: nothing is ever soft-deleted here (reclaim_instance_interval 0)
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"restore": None})
    assert r.status_code == 409, r.text
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"forceDelete": None}).status_code == 202
    fake_cloud.wait_server(sid, "DELETED", timeout=60)


def test_rescue_and_unrescue(fake_cloud):
    sid = boot(fake_cloud, "rescuable")
    fake_cloud.wait_server(sid, "ACTIVE")
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"rescue": {"rescue_image_ref": "not-a-uuid"}})
    assert r.status_code == 400, r.text
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"rescue": {"rescue_image_ref": "00000000-0000-0000-0000-000000000000"}})
    assert r.status_code == 400, r.text
    r = fake_cloud.nova("POST", f"/servers/{sid}/action", json={"rescue": {"adminPass": "s3cret"}})
    assert r.status_code == 200 and r.json() == {"adminPass": "s3cret"}, r.text
    assert fake_cloud.wait_server(sid, "RESCUE")["OS-EXT-STS:vm_state"] == "rescued"
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"rescue": None}).status_code == 409
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"os-stop": None}).status_code == 409
    fake_cloud.cli("server", "unrescue", sid)
    fake_cloud.wait_server(sid, "ACTIVE")
    assert fake_cloud.nova("POST", f"/servers/{sid}/action", json={"unrescue": None}).status_code == 409
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_ips_password_and_topology_of_a_server_without_networks(fake_cloud):
    sid = boot(fake_cloud, "plain")
    fake_cloud.wait_server(sid, "ACTIVE")
    assert fake_cloud.nova("GET", f"/servers/{sid}/ips").json() == {"addresses": {}}
    r = fake_cloud.nova("GET", f"/servers/{sid}/ips/private")
    assert r.status_code == 404 and r.json()["itemNotFound"]["message"] == "Instance is not a member of specified network", r.text
    assert fake_cloud.nova("GET", f"/servers/{sid}/os-server-password").json() == {"password": ""}
    assert fake_cloud.nova("DELETE", f"/servers/{sid}/os-server-password").status_code == 204
    assert fake_cloud.nova("GET", f"/servers/{sid}/topology", version="2.78").json() == {"nodes": [], "pagesize_kb": None}
    assert fake_cloud.nova("GET", f"/servers/{sid}/topology", version="2.77").status_code == 404
    demo = fake_cloud.token("demo", fake_cloud.nimbus.demo_password, "demo")
    for path in ("ips", "os-server-password", "topology"):
        assert fake_cloud.nova("GET", f"/servers/{sid}/{path}", token=demo).status_code == 404   # another project's server
    fake_cloud.cli("server", "delete", "--wait", sid)


def test_diagnostics_and_crash_dump(fake_cloud):
    """GET /servers/{id}/diagnostics (admin): 2.48's standard keys, the libvirt driver's own
    before it; 409 unless the guest runs. trigger_crash_dump (2.17): an NMI, recorded as an
    instance action; 409 for a stopped server (Nova's ALLOW_TRIGGER_CRASH_DUMP)."""
    cloud = fake_cloud
    sid = boot(cloud, "diag")
    cloud.wait_server(sid, "ACTIVE")
    r = cloud.nova("GET", f"/servers/{sid}/diagnostics", version="2.48")
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == {"state", "driver", "hypervisor", "hypervisor_os", "uptime", "config_drive", "num_cpus", "num_nics", "num_disks",
                      "memory_details", "cpu_details", "nic_details", "disk_details"}, d
    assert d["state"] == "running" and d["num_cpus"] == len(d["cpu_details"]) == 1 and d["memory_details"]["maximum"] == 128, d
    assert set(d["disk_details"][0]) == {"read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count"}, d
    old = cloud.nova("GET", f"/servers/{sid}/diagnostics", version="2.47").json()
    assert "memory" in old and "cpu0_time" in old and "vda_read" in old, old
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    assert cloud.nova("GET", f"/servers/{sid}/diagnostics", token=demo).status_code in (403, 404)

    r = cloud.nova("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": None}, version="2.17")
    assert r.status_code == 202, r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": None}, version="2.16")
    assert r.status_code == 404, r.text   # a versioned action below its version (VersionNotFoundForAPIMethod)
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": {}}, version="2.17")
    assert r.status_code == 400, r.text
    actions = [a["action"] for a in cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert "trigger_crash_dump" in actions, actions

    cloud.cli("server", "stop", sid)
    cloud.wait_server(sid, "SHUTOFF")
    r = cloud.nova("GET", f"/servers/{sid}/diagnostics", version="2.48")
    assert r.status_code == 409 and "power state shutdown" in r.json()["conflictingRequest"]["message"], r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": None}, version="2.17")
    assert r.status_code == 409, r.text
    cloud.cli("server", "delete", "--wait", sid)


def test_create_backup_rotates_old_backups(fake_cloud):
    """createBackup: a snapshot image with image_type backup and the backup_type; the server's
    backups of that type beyond `rotation` are deleted, oldest first (Nova's _rotate_backups),
    rotation 0 deleting all, this one too."""
    cloud = fake_cloud
    sid = boot(cloud, "backed-up")
    cloud.wait_server(sid, "ACTIVE")

    def backup(name, rotation, backup_type="daily", version="2.45"):
        r = cloud.nova("POST", f"/servers/{sid}/action", version=version,
                       json={"createBackup": {"name": name, "backup_type": backup_type, "rotation": rotation}})
        assert r.status_code == 202, r.text
        cloud.wait_server(sid, "ACTIVE")
        return r.json()["image_id"] if version >= "2.45" else r.headers.get("Location")

    def backups(backup_type="daily"):
        out = []
        for i in cloud.cli("image", "list", "--long", "--property", f"instance_uuid={sid}", "-f", "json"):
            shown = cloud.cli("image", "show", i["ID"], "-f", "json")
            props = shown.get("properties") or {}
            if props.get("image_type") == "backup" and props.get("backup_type") == backup_type:
                out.append(i["ID"])
        return sorted(out)

    first = backup("b1", 2)
    shown = cloud.cli("image", "show", first, "-f", "json")
    assert shown["status"] == "active" and shown["properties"]["image_type"] == "backup", shown
    second = backup("b2", 2)
    weekly = backup("w1", 5, backup_type="weekly")
    third = backup("b3", 2)
    assert backups() == sorted([second, third])
    assert backups("weekly") == [weekly]
    location = backup("b4", 1, version="2.44")
    assert location and location.endswith(backups()[0]), location
    assert len(backups()) == 1
    backup("b5", 0)
    assert backups() == []
    for bad in (-1, "x", "1.5", None):
        r = cloud.nova("POST", f"/servers/{sid}/action", json={"createBackup": {"name": "bad", "backup_type": "daily", "rotation": bad}})
        assert r.status_code == 400, (bad, r.text)
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"createBackup": {"name": "bad", "rotation": 1}})
    assert r.status_code == 400, r.text
    cloud.cli("image", "delete", weekly)
    cloud.cli("server", "delete", "--wait", sid)


def test_backup_rotation_and_image_metadata_proxy_stay_within_the_callers_rights(fake_cloud):
    """Review findings: rotation counts and deletes only the requesting project's own backups
    (another project can forge images with the same properties; Nova rotates with the
    requester's rights), and the /images metadata proxy cannot set core attributes such as
    visibility (Glance's publicize_image rule)."""
    cloud = fake_cloud
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    admin = cloud.token()
    body = {"server": {"name": "victim", "imageRef": image_id(cloud), "flavorRef": "42", "networks": "none"}}
    r = cloud.nova("POST", "/servers", json=body, token=demo)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    cloud.wait_server(sid, "ACTIVE", token=demo)
    r = cloud.nova("POST", f"/servers/{sid}/action", token=demo, version="2.45",
                   json={"createBackup": {"name": "mine", "backup_type": "daily", "rotation": 1}})
    assert r.status_code == 202, r.text
    mine = r.json()["image_id"]
    cloud.wait_server(sid, "ACTIVE", token=demo)
    # the admin project forges a newer "backup" of the demo server
    glance = f"{cloud.base_url}/image/v2/images"
    forged = requests.post(glance, headers={"X-Auth-Token": admin}, timeout=30,
                           json={"name": "forged", "instance_uuid": sid, "image_type": "backup", "backup_type": "daily"}).json()["id"]
    r = cloud.nova("POST", f"/servers/{sid}/action", token=demo, version="2.45",
                   json={"createBackup": {"name": "mine-2", "backup_type": "daily", "rotation": 1}})
    assert r.status_code == 202, r.text
    newest = r.json()["image_id"]
    cloud.wait_server(sid, "ACTIVE", token=demo)
    assert requests.get(f"{glance}/{forged}", headers={"X-Auth-Token": admin}, timeout=30).status_code == 200, "another project's image was rotated away"
    assert requests.get(f"{glance}/{mine}", headers={"X-Auth-Token": admin}, timeout=30).status_code == 404
    assert requests.get(f"{glance}/{newest}", headers={"X-Auth-Token": admin}, timeout=30).status_code == 200
    # the metadata proxy: properties yes, core attributes no
    r = cloud.nova("PUT", f"/images/{newest}/metadata/visibility", json={"meta": {"visibility": "public"}}, token=demo, version="2.35")
    assert r.status_code == 403, r.text
    r = cloud.nova("POST", f"/images/{newest}/metadata", json={"metadata": {" visibility": "public"}}, token=demo, version="2.35")
    assert r.status_code == 403, r.text
    r = cloud.nova("POST", f"/images/{newest}/metadata", json={"metadata": {"colour": "blue"}}, token=demo, version="2.38")
    assert r.status_code == 200 and r.json()["metadata"]["colour"] == "blue", r.text
    assert cloud.nova("GET", f"/images/{newest}/metadata", token=demo, version="2.39").status_code == 404
    shown = requests.get(f"{glance}/{newest}", headers={"X-Auth-Token": admin}, timeout=30).json()
    assert shown["visibility"] != "public" and shown["colour"] == "blue", shown
    # another project's image: not found through the proxy
    assert cloud.nova("DELETE", f"/images/{forged}", token=demo, version="2.35").status_code == 404
    for image in (forged, newest):
        requests.delete(f"{glance}/{image}", headers={"X-Auth-Token": admin}, timeout=30)
    cloud.nova("DELETE", f"/servers/{sid}", token=demo)
