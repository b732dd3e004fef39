"""Boot from volume on the fake compute driver (no guest; the volumes are real qcow2 files and the
attachments real NBD exports): `block_device_mapping_v2` with an image, a volume, a snapshot or a
blank volume, the legacy `block_device_mapping`, what the server and the volumes show, what a
delete does to them, Placement's claim without the root disk, and Nova's answers to bad mappings.

Expected behaviour: nova/block_device.py (BlockDeviceDict.from_api, from_legacy_mapping),
nova/compute/api.py (_validate_bdm, _check_and_transform_bdm, snapshot_volume_backed),
nova/api/openstack/compute/servers.py (_process_bdms_for_create, _image_from_req_data),
nova/exception.py (InvalidBDM* messages), nova/api/openstack/compute/volume_attachments.py
("Cannot detach a root device volume")."""

import json
import os
import time
import uuid

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud
from test_adversarial_review_compute import Env, nova_error
from test_adversarial_review_volume_attach import Who, admin, cinder, member, new_volume, project_of, volume, wait_volume

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("bfv"), "fake", {"compute": {"agent_interval_s": "1"}})
    try:
        e = Env(cloud)
        e.admin_project = project_of(e, e.admin)
        e.flavor = next(f["id"] for f in e.nova("GET", "/flavors").json()["flavors"] if f["name"] == "m1.nano")
        yield e
    finally:
        stop_compute_cloud(cloud, data)


def boot(env, who: Who, bdm, image="", version="2.96", expect=202, legacy=False, **extra):  # noqa: PLR0913
    body = {"server": {"name": f"bfv-{uuid.uuid4().hex[:6]}", "flavorRef": env.flavor, "imageRef": image, **extra}}
    if bdm:
        body["server"]["block_device_mapping" if legacy else "block_device_mapping_v2"] = bdm
    if tuple(map(int, version.split("."))) >= (2, 37):
        body["server"]["networks"] = "none"
    r = env.nova("POST", "/servers", token=who.token, version=version, json=body)
    assert r.status_code == expect, r.text
    return r


def wait_server(env, who: Who, sid, status="ACTIVE", timeout=90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = env.nova("GET", f"/servers/{sid}", token=who.token).json()["server"]
        if s["status"] == status and s["OS-EXT-STS:task_state"] is None:
            return s
        assert s["status"] != "ERROR" or status == "ERROR", s.get("fault")
        assert time.monotonic() < deadline, f"server {sid} is {s['status']}/{s['OS-EXT-STS:task_state']}"
        time.sleep(0.3)


def delete_server(env, who: Who, sid, timeout=60):
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204
    deadline = time.monotonic() + timeout
    while env.nova("GET", f"/servers/{sid}", token=who.token).status_code != 404:
        assert time.monotonic() < deadline, f"server {sid} was not deleted"
        time.sleep(0.3)


def delete_with_its_snapshot(env, who: Who, vid, snap):
    """Deletes a volume the snapshot of a server image depends on: the snapshot first, then the
    volume once the snapshot is gone (Cinder refuses before)."""
    wait_volume(env, who, vid, "available")
    assert cinder(env, "DELETE", f"/snapshots/{snap}", who).status_code == 202
    deadline = time.monotonic() + 30
    while cinder(env, "DELETE", f"/volumes/{vid}", who).status_code != 202:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    wait_gone(env, who, vid)


def bootable(env, who: Who, vid) -> str:
    r = cinder(env, "POST", f"/volumes/{vid}/action", who, json={"os-set_bootable": {"bootable": True}})
    assert r.status_code == 200, r.text
    return vid


def wait_gone(env, who: Who, vid, timeout=60):
    deadline = time.monotonic() + timeout
    while volume(env, who, vid) is not None:
        assert time.monotonic() < deadline, f"volume {vid} outlived its server"
        time.sleep(0.3)


def test_boot_from_an_image_to_a_new_volume(env):
    who = member(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    s = wait_server(env, who, sid)
    # Nova's view of a volume-backed server: no image, the root volume attached.
    assert s["image"] == ""
    [attached] = s["os-extended-volumes:volumes_attached"]
    assert attached["delete_on_termination"] is False
    v = wait_volume(env, who, attached["id"], "in-use")
    assert v["bootable"] == "true" and v["size"] == 1 and v["volume_image_metadata"]["image_id"] == env.image
    assert [(a["server_id"], a["device"]) for a in v["attachments"]] == [(sid, "/dev/vda")]
    listed = env.nova("GET", f"/servers/{sid}/os-volume_attachments", token=who.token).json()["volumeAttachments"]
    assert [(a["volumeId"], a["device"]) for a in listed] == [(attached["id"], "/dev/vda")]
    # The root volume does not detach; moves to other hosts are refused, not broken.
    assert "root device" in nova_error(env.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{attached['id']}", token=who.token), 400)
    nova_error(env.nova("POST", f"/servers/{sid}/action", json={"migrate": None}), 409)
    # Placement holds no root disk for it (the flavor's 1 GiB lives on the storage node).
    usages = requests.get(f"{env.base}/placement/allocations/{sid}", headers={"X-Auth-Token": env.admin,
                          "OpenStack-API-Version": "placement 1.28"}, timeout=30).json()["allocations"]
    assert all("DISK_GB" not in a["resources"] for a in usages.values()), usages
    # Deleted without delete_on_termination: the volume stays, available, and boots again.
    delete_server(env, who, sid)
    wait_volume(env, who, attached["id"], "available")
    sid2 = boot(env, who, [{"uuid": attached["id"], "source_type": "volume", "destination_type": "volume", "boot_index": "0",
                            "delete_on_termination": True}]).json()["server"]["id"]
    s2 = wait_server(env, who, sid2)
    assert s2["os-extended-volumes:volumes_attached"] == [{"id": attached["id"], "delete_on_termination": True}]
    delete_server(env, who, sid2)
    wait_gone(env, who, attached["id"])


def test_snapshot_blank_and_data_volumes(env):
    who = member(env, volumes=6)
    src = new_volume(env, who)
    r = cinder(env, "POST", "/snapshots", who, json={"snapshot": {"volume_id": src, "name": "s"}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]["id"]
    deadline = time.monotonic() + 30
    while cinder(env, "GET", f"/snapshots/{snap}", who).json()["snapshot"]["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    data = new_volume(env, who)
    sid = boot(env, who, [
        {"uuid": snap, "source_type": "snapshot", "destination_type": "volume", "boot_index": 0, "delete_on_termination": True},
        {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "boot_index": -1, "delete_on_termination": True,
         "tag": "scratch"},
        {"uuid": data, "source_type": "volume", "destination_type": "volume"},
    ]).json()["server"]["id"]
    s = wait_server(env, who, sid)
    ids = [a["id"] for a in s["os-extended-volumes:volumes_attached"]]
    assert len(ids) == 3 and ids[2] == data
    devices = {a["volumeId"]: a["device"] for a in env.nova("GET", f"/servers/{sid}/os-volume_attachments", token=who.token)
               .json()["volumeAttachments"]}
    assert devices == {ids[0]: "/dev/vda", ids[1]: "/dev/vdb", ids[2]: "/dev/vdc"}
    assert volume(env, who, ids[0])["snapshot_id"] == snap
    for vid in ids:
        wait_volume(env, who, vid, "in-use")
    delete_server(env, who, sid)
    wait_gone(env, who, ids[0])
    wait_gone(env, who, ids[1])
    wait_volume(env, who, data, "available")


def test_an_image_root_with_a_blank_volume_and_the_legacy_syntax(env):
    who = member(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "local", "boot_index": 0},
                          {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}],
               image=env.image).json()["server"]["id"]
    s = wait_server(env, who, sid)
    assert s["image"]["id"] == env.image
    [blank] = s["os-extended-volumes:volumes_attached"]
    assert wait_volume(env, who, blank["id"], "in-use")["attachments"][0]["device"] == "/dev/vdb"
    delete_server(env, who, sid)
    wait_gone(env, who, blank["id"])
    # Legacy: the volume named for vda boots.
    vid = bootable(env, who, new_volume(env, who))
    sid = boot(env, who, [{"volume_id": vid, "device_name": "vda", "delete_on_termination": "false"}], legacy=True).json()["server"]["id"]
    s = wait_server(env, who, sid)
    assert s["image"] == "" and [a["id"] for a in s["os-extended-volumes:volumes_attached"]] == [vid]
    delete_server(env, who, sid)
    wait_volume(env, who, vid, "available")


def test_bad_mappings_are_refused_before_anything_is_made(env):
    who, other = member(env), member(env)
    blank = new_volume(env, who)
    vid = bootable(env, who, new_volume(env, who))
    theirs = new_volume(env, other)
    before = {v["id"] for v in cinder(env, "GET", "/volumes", who).json()["volumes"]}

    def refused(bdm, text, status=400, **kw):
        r = boot(env, who, bdm, expect=status, **kw)
        assert text in nova_error(r, status), r.text

    image_to_volume = {"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}
    refused([{**image_to_volume, "boot_index": 1}], "Boot sequence")
    refused([{"source_type": "volume", "destination_type": "volume", "boot_index": 0}], "Missing device UUID")
    refused([{"source_type": "blank", "uuid": vid, "destination_type": "volume", "boot_index": 0, "volume_size": 1}], "Invalid device UUID")
    refused([{**image_to_volume, "volume_size": None}], "Invalid input for field/attribute")
    refused([{k: v for k, v in image_to_volume.items() if k != "volume_size"}], "need to have a non-zero size")
    refused([{"source_type": "blank", "destination_type": "volume", "boot_index": 0}], "need to have non-zero size")
    refused([{"uuid": env.image, "source_type": "image", "destination_type": "local", "boot_index": 0}], "Mapping image to local is not supported")
    refused([{"uuid": theirs, "source_type": "volume", "destination_type": "volume", "boot_index": 0}], f"failed to get volume {theirs}")
    refused([{"uuid": str(uuid.uuid4()), "source_type": "snapshot", "destination_type": "volume", "boot_index": 0}], "failed to get snapshot")
    refused([{"uuid": str(uuid.uuid4()), "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}],
            "failed to get image")
    refused([{"uuid": "not-a-uuid", "source_type": "volume", "destination_type": "volume", "boot_index": 0}], "failed to get volume")
    refused([{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}], "multiple instances", max_count=2)
    refused([{"uuid": blank, "source_type": "volume", "destination_type": "volume", "boot_index": 0}], f"Block Device {blank} is not bootable")
    refused([{**image_to_volume, "volume_type": "no-such-type"}], "no-such-type")
    refused([{**image_to_volume, "tag": "t"}], "Additional properties are not allowed", version="2.35")
    refused([{**image_to_volume, "volume_type": "x"}], "Additional properties are not allowed", version="2.66")
    refused([{**image_to_volume, "boot_index": "first"}], "Invalid input")
    refused([image_to_volume], "different block_device_mapping syntaxes",
            block_device_mapping=[{"volume_id": vid, "device_name": "vda"}])
    # Another project's image is not theirs to boot either, and a volume in use is not free.
    assert volume(env, other, theirs)["status"] == "available"
    sid = boot(env, who, [{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]).json()["server"]["id"]
    refused([{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}], "status must be 'available'")
    wait_server(env, who, sid)
    # Nothing was made by the refused requests (the volume list is the one from before plus none).
    assert {v["id"] for v in cinder(env, "GET", "/volumes", who).json()["volumes"]} == before
    delete_server(env, who, sid)
    wait_volume(env, who, vid, "available")


def test_a_volume_that_cannot_be_made_ends_the_build_in_error(env):
    who = member(env)
    # A volume type no backend offers: Cinder's create ends `error`, and the build with it.
    r = cinder(env, "POST", "/types", admin(env), json={"volume_type": {"name": f"nowhere-{uuid.uuid4().hex[:6]}",
                                                                        "extra_specs": {"volume_backend_name": "none-such"}}})
    assert r.status_code == 200, r.text
    vtype = r.json()["volume_type"]["name"]
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1,
                           "volume_type": vtype, "delete_on_termination": True}]).json()["server"]["id"]
    [made] = [v["id"] for v in cinder(env, "GET", "/volumes", who).json()["volumes"]]
    s = wait_server(env, who, sid, status="ERROR")
    assert "did not finish being created" in s["fault"]["message"], s["fault"]
    # The aborted build let its volumes go at once (Nova's _cleanup_volumes): none on the server,
    # the delete-on-termination one deleted.
    assert s["os-extended-volumes:volumes_attached"] == []
    wait_gone(env, who, made)
    delete_server(env, who, sid)


def test_an_image_of_a_volume_backed_server_boots_new_volumes(env):
    who = member(env, volumes=6)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1,
                           "delete_on_termination": True}]).json()["server"]["id"]
    s = wait_server(env, who, sid)
    root = s["os-extended-volumes:volumes_attached"][0]["id"]
    # createImage: the volume snapshotted, an image without data naming the snapshot, active at once.
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"createImage": {"name": "bfv-snap", "metadata": {"k": "v"}}})
    assert r.status_code == 202, r.text
    image_id = r.json()["image_id"]
    r = requests.get(f"{env.base}/image/v2/images/{image_id}", headers={"X-Auth-Token": who.token}, timeout=30)
    image = r.json()
    assert image["status"] == "active" and image["size"] == 0 and image["k"] == "v" and image["bdm_v2"] == "True", image
    [mapping] = json.loads(image["block_device_mapping"])
    assert mapping["source_type"] == "snapshot" and mapping["boot_index"] == 0 and mapping["volume_size"] == 1
    snap = cinder(env, "GET", f"/snapshots/{mapping['snapshot_id']}", who).json()["snapshot"]
    assert snap["volume_id"] == root and snap["status"] == "available"
    # Booted from the image: a new volume from the snapshot is the root; the image is the server's.
    sid2 = boot(env, who, [], image=image_id).json()["server"]["id"]
    s2 = wait_server(env, who, sid2)
    assert s2["image"]["id"] == image_id
    [new_root] = s2["os-extended-volumes:volumes_attached"]
    assert new_root["id"] != root and volume(env, who, new_root["id"])["snapshot_id"] == snap["id"]
    # Cinder 3.46: a volume from such an image is made from its boot snapshot (bootable, the
    # snapshot's size), as Cinder's `_get_image_snapshot` does; another project's user cannot
    # use the snapshot through the image (404 in Cinder's words).
    r = cinder(env, "POST", "/volumes", who, version="3.46", json={"volume": {"imageRef": image_id, "name": "from-nova-image"}})
    assert r.status_code == 202, r.text
    from_image = r.json()["volume"]
    assert from_image["snapshot_id"] == snap["id"] and from_image["size"] == 1, from_image
    made = wait_volume(env, who, from_image["id"], "available")
    assert made["bootable"] == "true", made
    other = member(env)
    requests.patch(f"{env.base}/image/v2/images/{image_id}", headers={"X-Auth-Token": who.token,
                   "Content-Type": "application/openstack-images-v2.1-json-patch"},
                   json=[{"op": "replace", "path": "/visibility", "value": "shared"}], timeout=30).raise_for_status()
    requests.post(f"{env.base}/image/v2/images/{image_id}/members", headers={"X-Auth-Token": who.token},
                  json={"member": other.project}, timeout=30).raise_for_status()
    r = cinder(env, "POST", "/volumes", other, version="3.46", json={"volume": {"imageRef": image_id}})
    assert r.status_code == 404 and f"boot volume snapshot id:{snap['id']} not found" in r.text, r.text
    assert cinder(env, "DELETE", f"/volumes/{from_image['id']}", who).status_code == 202
    wait_gone(env, who, from_image["id"])
    # createBackup of a volume-backed server is refused as Nova refuses it.
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token,
                 json={"createBackup": {"name": "b", "backup_type": "daily", "rotation": 1}})
    assert "not supported for volume-backed" in nova_error(r, 400)
    for server in (sid, sid2):
        delete_server(env, who, server)
    # The new root was delete-on-termination (as the snapshot's mapping says); the first root
    # was too, but Cinder keeps a volume that has snapshots (as Nova and Cinder do).
    wait_gone(env, who, new_root["id"])
    delete_with_its_snapshot(env, who, root, snap["id"])


def test_the_nova_volume_and_snapshot_proxies(env):
    who, other = member(env), member(env)
    r = env.nova("POST", "/os-volumes", token=who.token, version="2.35",
                 json={"volume": {"size": 1, "display_name": "proxied", "display_description": "d", "metadata": {"a": "b"}}})
    assert r.status_code == 200, r.text
    made = r.json()["volume"]
    assert r.headers["Location"].endswith(f"/os-volumes/{made['id']}")
    assert {k: made[k] for k in ("size", "displayName", "displayDescription", "metadata", "attachments", "snapshotId")} == {
        "size": 1, "displayName": "proxied", "displayDescription": "d", "metadata": {"a": "b"}, "attachments": [{}], "snapshotId": None}
    wait_volume(env, who, made["id"], "available")
    for path in ("/os-volumes", "/os-volumes/detail"):
        listed = env.nova("GET", path, token=who.token, version="2.35").json()["volumes"]
        assert [v["id"] for v in listed] == [made["id"]]
    assert env.nova("GET", "/os-volumes?limit=x", token=who.token, version="2.35").status_code == 400
    nova_error(env.nova("GET", "/os-volumes/", token=who.token, version="2.35"), 404)
    nova_error(env.nova("DELETE", "/os-volumes/", token=who.token, version="2.35"), 404)
    assert env.nova("GET", f"/os-volumes/{made['id']}", token=who.token, version="2.35").json()["volume"]["status"] == "available"
    # Another project's user sees none of it; 2.36 has no proxy.
    nova_error(env.nova("GET", f"/os-volumes/{made['id']}", token=other.token, version="2.35"), 404)
    assert env.nova("GET", "/os-volumes", token=other.token, version="2.35").json()["volumes"] == []
    nova_error(env.nova("GET", "/os-volumes", token=who.token, version="2.36"), 404)
    r = env.nova("POST", "/os-snapshots", token=who.token, version="2.35", json={"snapshot": {"volume_id": made["id"], "display_name": "s"}})
    assert r.status_code == 200, r.text
    snap = r.json()["snapshot"]
    assert snap["volumeId"] == made["id"] and snap["size"] == 1 and snap["displayName"] == "s"
    assert [s["id"] for s in env.nova("GET", "/os-snapshots/detail", token=who.token, version="2.35").json()["snapshots"]] == [snap["id"]]
    nova_error(env.nova("POST", "/os-snapshots", token=who.token, version="2.35", json={"snapshot": {"volume_id": made["id"], "bad": 1}}), 400)
    deadline = time.monotonic() + 30
    while env.nova("GET", f"/os-snapshots/{snap['id']}", token=who.token, version="2.35").json()["snapshot"]["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert env.nova("DELETE", f"/os-snapshots/{snap['id']}", token=who.token, version="2.35").status_code == 202
    deadline = time.monotonic() + 30
    while env.nova("DELETE", f"/os-volumes/{made['id']}", token=who.token, version="2.35").status_code != 202:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    wait_gone(env, who, made["id"])


def test_attachment_update_and_swap(env):
    who = member(env)
    vid = bootable(env, who, new_volume(env, who))
    other = new_volume(env, who)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "local", "boot_index": 0},
                          {"uuid": vid, "source_type": "volume", "destination_type": "volume", "tag": "t1"}], image=env.image).json()["server"]["id"]
    wait_server(env, who, sid)
    wait_volume(env, who, vid, "in-use")
    path = f"/servers/{sid}/os-volume_attachments/{vid}"
    r = env.nova("PUT", path, token=who.token, version="2.85", json={"volumeAttachment": {"volumeId": vid, "delete_on_termination": True}})
    assert r.status_code == 202, r.text
    shown = env.nova("GET", path, token=who.token, version="2.85").json()["volumeAttachment"]
    assert shown["delete_on_termination"] is True and shown["tag"] == "t1"
    assert "tag property is not mutable" in nova_error(env.nova("PUT", path, token=who.token, version="2.85",
                                                               json={"volumeAttachment": {"volumeId": vid, "tag": "t2"}}), 400)
    # A swap is Cinder's (admin) call during a volume migration, which Nimbus never runs.
    nova_error(env.nova("PUT", path, token=who.token, version="2.85", json={"volumeAttachment": {"volumeId": other}}), 403)
    nova_error(env.nova("PUT", path, token=who.token, version="2.84", json={"volumeAttachment": {"volumeId": vid}}), 403)
    assert "not migrating" in nova_error(env.nova("PUT", path, version="2.85", json={"volumeAttachment": {"volumeId": other}}), 409)
    nova_error(env.nova("PUT", f"/servers/{sid}/os-volume_attachments/{uuid.uuid4()}", version="2.84",
                        json={"volumeAttachment": {"volumeId": other}}), 404)
    delete_server(env, who, sid)
    wait_gone(env, who, vid)


def test_an_image_of_a_server_booted_from_an_image_volume(env):
    """The root volume's `volume_image_metadata` (checksum, size, image_id, …) is the image's own
    attributes, not properties: the snapshot image does not inherit them (Glance refuses them)."""
    who = member(env, volumes=4)
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "imageRef": env.image}})
    assert r.status_code == 202, r.text
    vid = r.json()["volume"]["id"]
    assert wait_volume(env, who, vid, "available", timeout=120)["volume_image_metadata"]["checksum"]
    sid = boot(env, who, [{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]).json()["server"]["id"]
    wait_server(env, who, sid)
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"createImage": {"name": "from-image-volume"}})
    assert r.status_code == 202, r.text
    image = requests.get(f"{env.base}/image/v2/images/{r.json()['image_id']}", headers={"X-Auth-Token": who.token}, timeout=30).json()
    assert image["status"] == "active" and "image_id" not in image and image["size"] == 0, image
    snap = json.loads(image["block_device_mapping"])[0]["snapshot_id"]
    delete_server(env, who, sid)
    assert requests.delete(f"{env.base}/image/v2/images/{image['id']}", headers={"X-Auth-Token": who.token}, timeout=30).status_code == 204
    delete_with_its_snapshot(env, who, vid, snap)


def test_shelving_a_volume_backed_server(env):
    """Nova's shelve of a volume-backed server: no image is made, the server is offloaded at once
    (its host's allocation released), the root volume's attachment is swapped for a reserved one
    without a connection (nova's `_terminate_volume_connections`), and unshelve connects it
    again on the host it is placed on; the volume stays the server's all along."""
    who = member(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    s = wait_server(env, who, sid)
    [root] = [a["id"] for a in s["os-extended-volumes:volumes_attached"]]
    [before] = wait_volume(env, who, root, "in-use")["attachments"]
    def image_ids():
        r = requests.get(f"{env.base}/image/v2/images", headers={"X-Auth-Token": who.token}, timeout=30)
        return {i["id"] for i in r.json()["images"]}
    images_before = image_ids()
    assert env.action(sid, {"shelve": None}, token=who.token).status_code == 202
    s = wait_server(env, who, sid, "SHELVED_OFFLOADED")
    assert s["os-extended-volumes:volumes_attached"] == [{"id": root, "delete_on_termination": False}]
    # No shelved image.
    assert image_ids() == images_before
    # No allocation while offloaded.
    usages = requests.get(f"{env.base}/placement/allocations/{sid}", headers={"X-Auth-Token": env.admin,
                          "OpenStack-API-Version": "placement 1.28"}, timeout=30).json()["allocations"]
    assert usages == {}, usages
    # The attachment: another one, reserved (no connection), of the same server.
    atts = cinder(env, "GET", f"/attachments/detail?volume_id={root}", who).json()["attachments"]
    assert [(a["instance"], a["status"]) for a in atts] == [(sid, "reserved")], atts
    assert atts[0]["id"] != before["attachment_id"] and not atts[0]["connection_info"], atts
    actions = [a["action"] for a in env.nova("GET", f"/servers/{sid}/os-instance-actions", token=who.token).json()["instanceActions"]]
    assert actions[0] == "shelve", actions
    # Unshelve: placed, connected, ACTIVE, the root still the volume.
    assert env.action(sid, {"unshelve": None}, token=who.token).status_code == 202
    s = wait_server(env, who, sid)
    assert s["os-extended-volumes:volumes_attached"] == [{"id": root, "delete_on_termination": False}]
    v = wait_volume(env, who, root, "in-use")
    assert [(a["server_id"], a["device"]) for a in v["attachments"]] == [(sid, "/dev/vda")]
    atts = cinder(env, "GET", f"/attachments/detail?volume_id={root}", who).json()["attachments"]
    assert [(a["instance"], a["status"]) for a in atts] == [(sid, "attached")] and atts[0]["connection_info"], atts
    # Shelved again and deleted while offloaded: the volume is free and kept.
    assert env.action(sid, {"shelve": None}, token=who.token).status_code == 202
    wait_server(env, who, sid, "SHELVED_OFFLOADED")
    delete_server(env, who, sid)
    assert wait_volume(env, who, root, "available")["attachments"] == []
    assert cinder(env, "DELETE", f"/volumes/{root}", who).status_code == 202
    wait_gone(env, who, root)
