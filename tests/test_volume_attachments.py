"""The attachments API (Cinder 3.27, `os-complete` 3.44, `mode` 3.54) and the storage node's NBD
exports behind it: an attachment with a connector gets `connection_info` naming a unix socket and
an export (the attachment's secret); what is written through the export is in the volume's file;
the export survives `kill -9` and a restart of Nimbus; deleting the attachment (or the volume)
stops it, and the `qemu-storage-daemon` stops with the last export.

Expected behaviour: cinder/api/v3/attachments.py, cinder/api/v3/views/attachments.py,
cinder/volume/api.py (attachment_create/update/delete). `driver_volume_type: nbd` is Nimbus'
own connection type (the compute node is Nimbus'); its `data` holds `path` and `export`.
"""

import os
import subprocess
import uuid

import pytest

from volume_support import (  # noqa: F401  (fixtures are used by name)
    ATTACH,
    attach,
    nbd_io,
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_member,
    bs_user,
    qemu_info,
    start_cloud,
    volume_file,
    wait_for,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="exports need root and qemu-storage-daemon")

DETAIL_FIELDS = {"id", "status", "instance", "volume_id", "attached_at", "detached_at", "attach_mode", "connection_info"}


def run_dir(cloud) -> str:
    return cloud.nimbus.storage_run_dir


def daemon_running(cloud) -> bool:
    return subprocess.run(["pgrep", "-f", f"qemu-storage-daemon .*{run_dir(cloud)}/"], capture_output=True).returncode == 0


def test_attach_write_through_nbd_complete_and_detach(bs_cloud, bs_user):
    user = bs_user()
    v = user.create_volume(1)
    # Reserved without a connector; connected by PUT; the volume follows Cinder's statuses.
    a = attach(user, v["id"])
    assert set(a) == DETAIL_FIELDS and a["status"] == "reserved" and a["connection_info"] is None
    assert a["attached_at"] == "" and a["detached_at"] == ""
    assert user.show_volume(v["id"])["status"] == "reserved"
    a = user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {"connector": {"host": "node-1", "mountpoint": "/dev/vdb"}}},
                version=ATTACH)["attachment"]
    info = a["connection_info"]
    assert a["status"] == "attaching" and info["driver_volume_type"] == "nbd" and info["data"]["access_mode"] == "rw"
    assert info["data"]["path"].startswith(run_dir(bs_cloud)) and len(info["data"]["export"]) == 64
    assert user.show_volume(v["id"])["status"] == "attaching"
    # What a guest writes through the export is in the volume's file.
    nbd_io(info, "write -P 0x5a 1M 128k", "read -P 0x5a 1M 128k", "flush")
    r = user.req("POST", f"/attachments/{a['id']}/action", json={"os-complete": {}}, version="3.44")
    assert r.status_code == 204, r.text
    shown = user.show_volume(v["id"])
    assert shown["status"] == "in-use" and shown["attachments"][0]["attachment_id"] == a["id"]
    assert user.ok("GET", f"/attachments/{a['id']}", version=ATTACH)["attachment"]["status"] == "attached"
    listed = user.ok("GET", f"/attachments?volume_id={v['id']}", version=ATTACH)["attachments"]
    assert [x["id"] for x in listed] == [a["id"]] and set(listed[0]) == {"id", "status", "instance", "volume_id"}
    # Another project sees none of it.
    other = bs_user()
    assert_fault(other.req("GET", f"/attachments/{a['id']}", version=ATTACH), 404)
    assert_fault(other.req("DELETE", f"/attachments/{a['id']}", version=ATTACH), 404)
    assert other.ok("GET", "/attachments", version=ATTACH)["attachments"] == []
    # An attached volume is not deleted; detaching stops the export and frees the volume.
    assert_fault(user.req("DELETE", f"/volumes/{v['id']}"), 400)
    assert user.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH) == {"attachments": []}
    assert user.show_volume(v["id"])["status"] == "available"
    assert nbd_io(info, "read 0 512", check=False).returncode != 0
    assert subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 1M 128k", str(volume_file(bs_cloud, v["id"]))],
                          capture_output=True, text=True).stdout.count("read 131072/131072") == 1
    wait_for(lambda: not daemon_running(bs_cloud), 10, what="the storage daemon to stop with its last export")


def test_attachment_rules(bs_cloud, bs_user):
    user = bs_user()
    v = user.create_volume(1)
    # Before 3.27 there are no attachments; `mode` needs 3.54; the volume must exist and be the caller's.
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"]}}, version="3.26"), 404)
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"], "mode": "ro"}}, version="3.27"), 400)
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": str(uuid.uuid4())}}, version=ATTACH), 404)
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": "not-a-uuid"}}, version=ATTACH), 400)
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"], "connector": "x"}}, version=ATTACH), 400)
    assert_fault(bs_user().req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"]}}, version=ATTACH), 404)
    reader = bs_user("reader", project_of=user)
    assert_fault(reader.req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"]}}, version=ATTACH), 403)
    # A volume that is not multiattach takes one instance.
    a = attach(user, v["id"], {"host": "node-1"}, mode="ro")
    assert a["attach_mode"] == "ro" and a["connection_info"]["data"]["access_mode"] == "ro"
    assert_fault(user.req("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"], "instance_uuid": str(uuid.uuid4())}},
                          version=ATTACH), 400)
    # Force-deleting the volume (admin) takes its attachments and exports with it.
    admin_view = bs_cloud
    info = a["connection_info"]
    nbd_io(info, "read 0 512")
    from volume_support import Vol
    admin = Vol.admin(admin_view)
    # Even an admin's force-delete leaves an attached volume alone (Cinder keeps "not attached").
    assert_fault(admin.action(v["id"], "os-force_delete"), 400)
    nbd_io(info, "read 0 512")
    user.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH)
    assert nbd_io(info, "read 0 512", check=False).returncode != 0
    r = admin.action(v["id"], "os-force_delete")
    assert r.status_code == 202, r.text
    user.wait_gone("volumes", v["id"])
    assert_fault(user.req("GET", f"/attachments/{a['id']}", version=ATTACH), 404)


def test_exports_survive_kill_and_restart(tmp_path):
    """`kill -9` of Nimbus leaves the storage daemon serving; the restarted Nimbus finds the
    export and stops it when the attachment goes."""
    from conftest import Cloud
    from volume_support import Vol
    data = tmp_path / "data"
    nimbus = start_cloud(data)
    port, passwords = nimbus.port, (nimbus.admin_password, nimbus.demo_password)
    cloud = Cloud(nimbus)
    try:
        admin = Vol.admin(cloud)
        v = admin.create_volume(1)
        a = attach(admin, v["id"], {"host": "node-1"})
        info = a["connection_info"]
        nbd_io(info, "write -P 0x11 0 64k")
        nimbus.kill()
        nbd_io(info, "read -P 0x11 0 64k", "write -P 0x22 64k 64k")   # still served
        nimbus = start_cloud(data, port=port, passwords=passwords)
        cloud = Cloud(nimbus)
        admin = Vol.admin(cloud)
        assert admin.ok("GET", f"/attachments/{a['id']}", version=ATTACH)["attachment"]["connection_info"] == info
        nbd_io(info, "read -P 0x22 64k 64k")
        admin.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH)
        wait_for(lambda: not daemon_running(cloud), 10, what="the storage daemon to stop")
        assert qemu_info(volume_file(cloud, v["id"]))["virtual-size"] == 1 << 30
    finally:
        nimbus.stop(grace=10)


def test_legacy_initialize_and_terminate_connection(bs_cloud, bs_user):
    """`os-initialize_connection` (the call Nova made before the attachments API) exports the
    volume for the connector's host and answers its connection_info; a second call from that
    host gets the same export, another host its own; `os-terminate_connection` stops the host's
    export; bytes written through one read back through the other; bad bodies are 400s."""
    user = bs_user()
    v = user.create_volume(1)
    act = lambda name, arg: user.action(v["id"], name, arg)  # noqa: E731
    r = act("os-initialize_connection", {"connector": {"host": "legacy-1", "initiator": "iqn.x"}})
    assert r.status_code == 200, r.text
    info = r.json()["connection_info"]
    assert info["driver_volume_type"] == "nbd" and info["data"]["access_mode"] == "rw" and info["data"]["volume_id"] == v["id"]
    assert act("os-initialize_connection", {"connector": {"host": "legacy-1"}}).json()["connection_info"] == info
    other = act("os-initialize_connection", {"connector": {"host": "legacy-2"}}).json()["connection_info"]
    assert other["data"]["export"] != info["data"]["export"]
    nbd_io(info, "write -P 0x5a 0 64k", "flush")
    nbd_io(other, "read -P 0x5a 0 64k")
    # Re-imaging or deleting a connected volume is refused until the connections end.
    assert act("os-terminate_connection", {"connector": {"host": "legacy-1"}}).status_code == 202
    assert nbd_io(info, "read 0 4k", check=False).returncode != 0
    nbd_io(other, "read -P 0x5a 0 64k")
    assert act("os-terminate_connection", {"connector": {"host": "legacy-2"}}).status_code == 202
    assert nbd_io(other, "read 0 4k", check=False).returncode != 0
    assert act("os-terminate_connection", {"connector": {"host": "never"}}).status_code == 202
    for bad in ({}, {"connector": "x"}, {"connector": {"host": "h" * 300}}, {"connector": {}, "extra": 1}):
        r = act("os-initialize_connection", bad)
        assert r.status_code == 400 and "badRequest" in r.json(), (bad, r.text)
    # Another project's volume is 404.
    assert bs_user().action(v["id"], "os-initialize_connection", {"connector": {"host": "x"}}).status_code == 404
    user.ok("DELETE", f"/volumes/{v['id']}", status=202)
    user.wait_gone("volumes", v["id"])
