"""Cinder 3.68 `os-reimage` (cinder/api/contrib/volume_actions.py `_reimage`,
cinder/volume/api.py `reimage`, cinder/volume/manager.py `reimage`): a volume's bytes are replaced
by an image's in place (same id, size and type); the volume goes `downloading` and back to its
previous status, with the new image's `volume_image_metadata`. Only `available` and `error`
volumes (also `reserved` with `reimage_reserved`), attached to at most one server; the image must
be active and fit; an image Nova made of a volume-backed server re-images from its boot snapshot.
Before 3.68 the action does not exist. The storage node's qcow2 files are compared with
`qemu-img compare`."""

import json
import uuid

import requests

from volume_support import (  # noqa: F401  (fixtures are used by name)
    Vol,
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_user,
    qemu_same_content,
    qemu_write_pattern,
    snapshot_file,
    unique,
    volume_file,
)

V = "3.68"


def reimage(who: Vol, vid: str, image_id, version: str = V, **extra) -> requests.Response:
    body = {"image_id": image_id, **extra}
    return who.req("POST", f"/volumes/{vid}/action", json={"os-reimage": body}, version=version)


def glance(cloud, who: Vol, method: str, path: str, **kw) -> requests.Response:
    headers = {"X-Auth-Token": who.token, **kw.pop("headers", {})}
    return requests.request(method, f"{cloud.base_url}/image/v2{path}", headers=headers, timeout=30, **kw)


def test_reimage_replaces_the_bytes_in_place(bs_cloud, bs_user):
    me = bs_user()
    image = bs_cloud.test_image
    vol = me.create_volume(size=1)
    path = volume_file(bs_cloud, vol["id"])
    qemu_write_pattern(path, 0x5A)
    assert not qemu_same_content(bs_cloud.test_image_path, path)
    r = reimage(me, vol["id"], image["id"])
    assert r.status_code == 202 and not r.content, r.text
    done = me.wait_volume(vol["id"], "available")
    assert done["id"] == vol["id"] and done["size"] == 1 and done["volume_type"] == vol["volume_type"], done
    assert done["volume_image_metadata"]["image_id"] == image["id"], done
    assert done["volume_image_metadata"]["image_name"] == "nimbus-test", done
    assert qemu_same_content(bs_cloud.test_image_path, path), "the volume holds the image's bytes"
    # reimage_reserved accepts oslo's boolean spellings (the volume is available: no difference).
    assert reimage(me, vol["id"], image["id"], reimage_reserved="True").status_code == 202
    me.wait_volume(vol["id"], "available")


def test_reimage_input_and_versions(bs_cloud, bs_user):
    me = bs_user()
    image = bs_cloud.test_image
    vol = me.create_volume(size=1)
    vid = vol["id"]
    action = f"/volumes/{vid}/action"
    assert_fault(reimage(me, vid, image["id"], version="3.67"), 400, "There is no such action: os-reimage")
    assert_fault(me.req("POST", action, json={"os-reimage": {}}, version=V), 400, "'image_id' is a required property")
    assert_fault(reimage(me, vid, "not-a-uuid"), 400, "is not a 'uuid'")
    assert_fault(reimage(me, vid, 42), 400, "is not a 'uuid'")
    assert_fault(reimage(me, vid, image["id"], colour="blue"), 400, "Additional properties are not allowed ('colour' was unexpected)")
    assert_fault(reimage(me, vid, image["id"], reimage_reserved="perhaps"), 400, "is not a valid boolean")
    assert_fault(me.req("POST", action, json={"os-reimage": "x"}, version=V), 400, "is not of type 'object'")
    missing = str(uuid.uuid4())
    assert_fault(reimage(me, vid, missing), 404, f"Image {missing} could not be found.")
    assert_fault(reimage(me, str(uuid.uuid4()), image["id"]), 404, "could not be found")
    # A queued image (no data) is not active.
    queued = glance(bs_cloud, me, "POST", "/images", json={"name": unique("queued"), "disk_format": "raw",
                                                           "container_format": "bare"}).json()
    assert_fault(reimage(me, vid, queued["id"]), 400, f"Invalid input received: Image {queued['id']} is not active.")
    assert me.show_volume(vid)["status"] == "available", "a refused re-image leaves the status alone"


def test_reimage_statuses_and_reserved(bs_cloud, bs_admin, bs_user):
    me = bs_user()
    image = bs_cloud.test_image
    vol = me.create_volume(size=1)
    vid = vol["id"]
    # An attachment without a connector reserves the volume (3.27).
    att = me.ok("POST", "/attachments", json={"attachment": {"volume_uuid": vid, "instance_uuid": str(uuid.uuid4())}},
                version=V)["attachment"]
    assert me.show_volume(vid)["status"] == "reserved"
    assert_fault(reimage(me, vid, image["id"]), 400,
                 f"Invalid volume: Volume {vid} status must be available or error, but current status is reserved.")
    path = volume_file(bs_cloud, vid)
    qemu_write_pattern(path, 0x33)
    assert reimage(me, vid, image["id"], reimage_reserved=True).status_code == 202
    done = me.wait_volume(vid, "reserved")
    assert done["volume_image_metadata"]["image_id"] == image["id"], done
    assert qemu_same_content(bs_cloud.test_image_path, path)
    # Connected to a host, even in a status that allows a re-image (an admin's reset to error):
    # refused, so an export never serves bytes replaced under it (stricter than Cinder).
    connector = {"host": "elsewhere", "mountpoint": "/dev/vdb"}
    me.ok("PUT", f"/attachments/{att['id']}", json={"attachment": {"connector": connector}}, version=V)
    bs_admin.ok("POST", f"/volumes/{vid}/action", status=202, json={"os-reset_status": {"status": "error"}})
    assert_fault(reimage(me, vid, image["id"], reimage_reserved=True), 400, "is connected to a server; it cannot be re-imaged while attached.")
    me.ok("DELETE", f"/attachments/{att['id']}", version=V)
    bs_admin.ok("POST", f"/volumes/{vid}/action", status=202, json={"os-reset_status": {"status": "available"}})
    assert me.show_volume(vid)["status"] == "available"
    # A multiattach volume with two servers' attachments: not re-imaged (409).
    mtype = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("multi"),
                                                                "extra_specs": {"multiattach": "<is> True"}}})["volume_type"]
    multi = me.create_volume(size=1, volume_type=mtype["name"])
    for _ in range(2):
        me.ok("POST", "/attachments", json={"attachment": {"volume_uuid": multi["id"], "instance_uuid": str(uuid.uuid4())}}, version=V)
    assert_fault(reimage(me, multi["id"], image["id"], reimage_reserved=True), 409,
                 "Cannot re-image a volume which is attached to more than one server.")


def test_reimage_from_a_nova_image_uses_its_boot_snapshot(bs_cloud, bs_user):
    """An image with Nova's `block_device_mapping` (a volume-backed server's snapshot image)
    re-images from the boot mapping's snapshot; a larger `volume_size` than the volume is a 400
    and a snapshot the caller cannot see a 404, in Cinder's words."""
    me = bs_user()
    source = me.create_volume(size=1)
    qemu_write_pattern(volume_file(bs_cloud, source["id"]), 0x77, offset=1 << 20)
    snap = me.create_snapshot(source["id"])

    def nova_image(size: int, snapshot_id: str) -> str:
        bdm = [{"source_type": "snapshot", "destination_type": "volume", "boot_index": 0, "snapshot_id": snapshot_id,
                "volume_size": size, "delete_on_termination": False}]
        r = glance(bs_cloud, me, "POST", "/images", json={"name": unique("nova"), "disk_format": "raw", "container_format": "bare",
                                                          "block_device_mapping": json.dumps(bdm), "bdm_v2": "True", "root_device_name": "/dev/vda"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    target = me.create_volume(size=1)
    assert reimage(me, target["id"], nova_image(1, snap["id"])).status_code == 202
    me.wait_volume(target["id"], "available")
    assert qemu_same_content(snapshot_file(bs_cloud, snap["id"]), volume_file(bs_cloud, target["id"]))
    assert_fault(reimage(me, target["id"], nova_image(5, snap["id"])), 400,
                 "Volume size must be greater than the image size. (Image: 5, Volume: 1).")
    ghost = str(uuid.uuid4())
    assert_fault(reimage(me, target["id"], nova_image(1, ghost)), 404,
                 f"Nova specific image is found, but boot volume snapshot id:{ghost} not found.")


def test_reimage_policy_and_isolation(bs_cloud, bs_user):
    owner = bs_user()
    image = bs_cloud.test_image
    vol = owner.create_volume(size=1)
    reader = bs_user("reader", project_of=owner)
    assert_fault(reimage(reader, vol["id"], image["id"]), 403)
    stranger = bs_user()
    assert_fault(reimage(stranger, vol["id"], image["id"]), 404, f"Volume {vol['id']} could not be found.")
    assert owner.show_volume(vol["id"])["status"] == "available"
