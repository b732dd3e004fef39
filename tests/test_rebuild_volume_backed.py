"""Rebuild of a volume-backed server on the fake compute driver (the volumes are real qcow2 files
served over NBD): before 2.93 only with the image its root volume holds (Nova's
ImageUnacceptable otherwise), keeping the volume as it is; from 2.93 the root volume is re-imaged
through Cinder's `os-reimage` (its attachment swapped for a reserved one, re-imaged, connected
again) and the guest is built anew around it.

Expected behaviour: nova/compute/api.py `rebuild` (the volume-backed checks),
nova/compute/manager.py `_rebuild_default_impl` and `_rebuild_volume_backed_instance`,
nova/api/openstack/compute/servers.py `_action_rebuild` (2.93 `reimage_boot_volume`),
tempest ServerActionsV293TestJSON.test_rebuild_volume_backed_server."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from test_adversarial_review_compute import nova_error
from test_adversarial_review_volume_attach import cinder, member, wait_volume
from test_boot_from_volume import boot, env, wait_server  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")


def alt_image(env) -> tuple[str, bytes]:
    """A second public raw image with bytes of its own."""
    data = b"nimbus-alt-image\n" * 4096
    h = {"X-Auth-Token": env.admin}
    r = requests.post(f"{env.base}/image/v2/images", headers=h, timeout=30,
                      json={"name": f"alt-{uuid.uuid4().hex[:6]}", "disk_format": "raw", "container_format": "bare", "visibility": "public"})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = requests.put(f"{env.base}/image/v2/images/{iid}/file", headers={**h, "Content-Type": "application/octet-stream"}, data=data, timeout=30)
    assert r.status_code == 204, r.text
    return iid, data


def rebuild(env, who, sid, image, version, expect=202, **extra):
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token, version=version, json={"rebuild": {"imageRef": image, **extra}})
    assert r.status_code == expect, r.text
    return r


def volume_bytes(env, vid: str, length: int) -> bytes:
    path = Path(env.cloud.nimbus.data_dir) / "volumes" / f"volume-{vid}.qcow2"
    raw = path.with_suffix(".check.raw")
    subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", str(path), str(raw)], check=True, timeout=120)
    try:
        with open(raw, "rb") as f:
            return f.read(length)
    finally:
        raw.unlink()


def rebuild_events(env, who, sid) -> list[list[dict]]:
    """The events of each rebuild action of the server (newest first)."""
    acts = env.nova("GET", f"/servers/{sid}/os-instance-actions", token=who.token, version="2.84").json()["instanceActions"]
    out = []
    for a in acts:
        if a["action"] == "rebuild":
            shown = env.nova("GET", f"/servers/{sid}/os-instance-actions/{a['request_id']}", token=env.admin, version="2.84").json()
            out.append(shown["instanceAction"]["events"])
    return out


def test_volume_backed_rebuild_before_and_from_2_93(env):
    who = member(env)
    alt, alt_data = alt_image(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    s = wait_server(env, who, sid)
    [attached] = s["os-extended-volumes:volumes_attached"]
    vid = attached["id"]
    before = wait_volume(env, who, vid, "in-use")
    first_attachment = before["attachments"][0]["attachment_id"]

    # Before 2.93: another image is refused; the same image rebuilds around the volume as it is.
    msg = nova_error(rebuild(env, who, sid, alt, "2.92", expect=400), 400)
    assert msg == f"Image {alt} is unacceptable: Unable to rebuild with a different image for a volume-backed server.", msg
    r = rebuild(env, who, sid, env.image, "2.92", name="same-image")
    assert r.json()["server"]["image"] == ""
    s = wait_server(env, who, sid)
    assert s["name"] == "same-image" and s["image"] == ""
    v = wait_volume(env, who, vid, "in-use")
    assert v["attachments"][0]["attachment_id"] == first_attachment, "no re-image: the attachment stays"
    assert v["volume_image_metadata"]["image_id"] == env.image

    # 2.93: the root volume is re-imaged with the new image (same volume, a new attachment).
    r = rebuild(env, who, sid, alt, "2.93", name="reimaged", metadata={"rebuild": "server"})
    body = r.json()["server"]
    assert body["image"] == "" and body["name"] == "reimaged", body
    s = wait_server(env, who, sid)
    assert s["name"] == "reimaged" and s["metadata"] == {"rebuild": "server"} and s["image"] == ""
    assert s["os-extended-volumes:volumes_attached"][0]["id"] == vid
    v = wait_volume(env, who, vid, "in-use")
    assert v["volume_image_metadata"]["image_id"] == alt, v
    [a] = v["attachments"]
    assert a["server_id"] == sid and a["device"] == "/dev/vda" and a["attachment_id"] != first_attachment, a
    assert volume_bytes(env, vid, len(alt_data)) == alt_data, "the root volume holds the new image's bytes"
    events = rebuild_events(env, who, sid)
    assert len(events) == 2 and all(e["event"] == "compute_rebuild_instance" and e["result"] == "Success" for ev in events for e in ev), events

    # A stopped server is rebuilt stopped.
    assert env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"os-stop": None}).status_code == 202
    wait_server(env, who, sid, "SHUTOFF")
    rebuild(env, who, sid, env.image, "2.93")
    s = wait_server(env, who, sid, "SHUTOFF")
    assert wait_volume(env, who, vid, "in-use")["volume_image_metadata"]["image_id"] == env.image

    # Another project's user does not see the server; a volume not in-use stops the rebuild first.
    other = member(env)
    assert env.nova("POST", f"/servers/{sid}/action", token=other.token, version="2.93",
                    json={"rebuild": {"imageRef": env.image}}).status_code == 404
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204


def test_volume_backed_resize_on_its_own_host_confirm_and_revert(env):
    """Resize of a volume-backed server stays on its host (Nova's allow_resize_to_same_host): the
    guest gets the new flavor around the same root volume, which stays attached; Placement holds
    no DISK_GB for the root (only the flavors' CPU and memory); a smaller root_gb is no "disk
    down" for a volume root; confirm keeps the new flavor, revert restores the old one."""
    who = member(env)
    flavors = {f["name"]: f["id"] for f in env.nova("GET", "/flavors").json()["flavors"]}
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    s = wait_server(env, who, sid)
    vid = s["os-extended-volumes:volumes_attached"][0]["id"]
    attachment = wait_volume(env, who, vid, "in-use")["attachments"][0]["attachment_id"]

    def resize(flavor):
        r = env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"resize": {"flavorRef": flavors[flavor]}})
        assert r.status_code == 202, r.text
        return wait_server(env, who, sid, "VERIFY_RESIZE")

    def allocations():
        r = requests.get(f"{env.base}/placement/allocations/{sid}", headers={"X-Auth-Token": env.admin,
                         "OpenStack-API-Version": "placement 1.28"}, timeout=30)
        return [a["resources"] for a in r.json()["allocations"].values()]

    resized = resize("m1.micro")
    assert resized["flavor"]["original_name"] == "m1.micro", resized["flavor"]
    assert all("DISK_GB" not in a for a in allocations()), allocations()
    assert env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"confirmResize": None}).status_code == 204
    s = wait_server(env, who, sid)
    assert s["flavor"]["original_name"] == "m1.micro"
    v = wait_volume(env, who, vid, "in-use")
    assert v["attachments"][0]["attachment_id"] == attachment, "the root volume stays attached as it was"
    # Back down to the smaller flavor, then reverted: m1.micro again.
    resize("m1.nano")
    assert env.nova("POST", f"/servers/{sid}/action", token=who.token, json={"revertResize": None}).status_code == 202
    s = wait_server(env, who, sid)
    assert s["flavor"]["original_name"] == "m1.micro"
    assert wait_volume(env, who, vid, "in-use")["attachments"][0]["attachment_id"] == attachment
    assert all("DISK_GB" not in a for a in allocations()), allocations()
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204


def test_volume_backed_rescue_is_a_stable_device_rescue_from_2_87(env):
    """Nova 2.87: a volume-backed server is rescued only with an image that says where the rescue
    disk goes (`hw_rescue_bus` and `hw_rescue_device`: a stable-device rescue); before 2.87, or
    with an image without them, Nova's InstanceNotRescuable 400. Buses and devices QEMU cannot
    make are Nova's UnsupportedRescueBus/Device 400s. The root volume stays in use throughout."""
    who = member(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    [attached] = wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]
    plain, _ = alt_image(env)
    stable, _ = alt_image(env)
    h = {"X-Auth-Token": env.admin, "Content-Type": "application/openstack-images-v2.1-json-patch"}

    def props(image, **values):
        ops = [{"op": "add", "path": f"/{k}", "value": v} for k, v in values.items()]
        r = requests.patch(f"{env.base}/image/v2/images/{image}", headers=h, json=ops, timeout=30)
        assert r.status_code == 200, r.text

    def rescue(image, version):
        return env.nova("POST", f"/servers/{sid}/action", token=who.token, version=version, json={"rescue": {"rescue_image_ref": image}})

    props(stable, hw_rescue_bus="virtio", hw_rescue_device="disk")
    assert nova_error(rescue(stable, "2.86"), 400) == f"Instance {sid} cannot be rescued: Cannot rescue a volume-backed instance"
    assert nova_error(rescue(plain, "2.87"), 400) == f"Instance {sid} cannot be rescued: Cannot rescue a volume-backed instance"
    odd, _ = alt_image(env)
    props(odd, hw_rescue_bus="fdc", hw_rescue_device="floppy")
    assert "Requested rescue bus 'fdc' is not supported" in nova_error(rescue(odd, "2.87"), 400)
    cd, _ = alt_image(env)
    props(cd, hw_rescue_bus="virtio", hw_rescue_device="cdrom")
    assert nova_error(rescue(cd, "2.87"), 400) == "Requested rescue device 'cdrom' is not supported"
    assert wait_server(env, who, sid)["status"] == "ACTIVE"

    r = rescue(stable, "2.87")
    assert r.status_code == 200 and set(r.json()) == {"adminPass"}, r.text
    assert wait_server(env, who, sid, "RESCUE")["OS-EXT-STS:vm_state"] == "rescued"
    assert wait_volume(env, who, attached["id"], "in-use")["attachments"][0]["server_id"] == sid
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token, version="2.87", json={"unrescue": None})
    assert r.status_code == 202, r.text
    assert wait_server(env, who, sid)["status"] == "ACTIVE"
    assert wait_volume(env, who, attached["id"], "in-use")["attachments"][0]["server_id"] == sid
