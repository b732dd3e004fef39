"""Nova's `os-volume_attachments` on the fake compute driver (no guest): the API's fields per
microversion, the volume's statuses through Cinder's new attach flow (attaching until the node
reports the disk plugged, then in-use; available once it is unplugged), `volumes_attached` in the
server view, and the answers to bad requests.

Expected behaviour: nova/api/openstack/compute/volumes.py (VolumeAttachmentController and its
schemas), nova/compute/api.py (_check_attach, detach checks: "volume_id not found" 404,
InvalidVolume 400), nova/api/openstack/compute/views/servers.py (volumes_attached)."""

import os
import time
import uuid

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("va"), "fake", {"compute": {"agent_interval_s": "1"}})
    try:
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)


def volume_status(cloud, vid, status, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        v = cloud.cli("volume", "show", vid, "-f", "json")
        if v["status"] == status:
            return v
        assert time.monotonic() < deadline, v
        time.sleep(0.3)


def test_attach_detach_fields_and_statuses(cloud):
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "va-1", "-f", "json")["id"]
    vid = cloud.cli("volume", "create", "--size", "1", "va-vol", "-f", "json")["id"]
    volume_status(cloud, vid, "available")
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", version="2.79",
                   json={"volumeAttachment": {"volumeId": vid, "tag": "data", "delete_on_termination": False}})
    assert r.status_code == 200, r.text
    made = r.json()["volumeAttachment"]
    assert made == {"id": vid, "serverId": sid, "volumeId": vid, "device": "/dev/vdb", "tag": "data", "delete_on_termination": False}
    volume_status(cloud, vid, "in-use")
    # 2.89: no `id`, the attachment's id instead; 2.1: neither tag nor delete_on_termination.
    listed = cloud.nova("GET", f"/servers/{sid}/os-volume_attachments", version="2.89").json()["volumeAttachments"]
    assert len(listed) == 1 and "id" not in listed[0] and listed[0]["attachment_id"] == listed[0]["bdm_uuid"]
    old = cloud.nova("GET", f"/servers/{sid}/os-volume_attachments/{vid}", version="2.1").json()["volumeAttachment"]
    assert old == {"id": vid, "serverId": sid, "volumeId": vid, "device": "/dev/vdb"}
    server = cloud.nova("GET", f"/servers/{sid}", version="2.3").json()["server"]
    assert server["os-extended-volumes:volumes_attached"] == [{"id": vid, "delete_on_termination": False}]
    # Attached twice, or deleted while attached: refused.
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 400, r.text
    assert cloud.cli("volume", "delete", vid, check=False).returncode != 0
    # Detach: available again, gone from the server.
    r = cloud.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}")
    assert r.status_code == 202, r.text
    volume_status(cloud, vid, "available")
    assert cloud.nova("GET", f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"] == []
    r = cloud.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}")
    assert r.status_code == 404 and "volume_id not found" in r.text, r.text
    # delete_on_termination: the volume goes with the server.
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", version="2.79",
                   json={"volumeAttachment": {"volumeId": vid, "delete_on_termination": True}})
    assert r.status_code == 200, r.text
    volume_status(cloud, vid, "in-use")
    cloud.cli("server", "delete", "--wait", sid, timeout=120)
    deadline = time.monotonic() + 60
    while cloud.cli("volume", "show", vid, check=False).returncode == 0:
        assert time.monotonic() < deadline, "the volume outlived its server"
        time.sleep(0.5)


def test_bad_attach_requests(cloud):
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "va-2", "-f", "json")["id"]
    cases = [
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4())}}, None, 404),
        ({"volumeAttachment": {"volumeId": "not-a-uuid"}}, None, 400),
        ({"volumeAttachment": {}}, None, 400),
        ({}, None, 400),
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4()), "tag": "x"}}, "2.48", 400),          # tag from 2.49
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4()), "delete_on_termination": True}}, "2.78", 400),
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4()), "delete_on_termination": "maybe"}}, "2.79", 400),
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4()), "device": "vdb"}}, None, 400),
    ]
    for body, version, status in cases:
        r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", json=body, version=version or "2.96")
        assert r.status_code == status, (body, version, r.status_code, r.text)
        assert "computeFault" not in r.text
    r = cloud.nova("POST", f"/servers/{uuid.uuid4()}/os-volume_attachments", json={"volumeAttachment": {"volumeId": str(uuid.uuid4())}})
    assert r.status_code == 404, r.text
    cloud.cli("server", "delete", "--wait", sid, timeout=120)


def extend_event(cloud, sid, timeout=60):
    """The `compute_extend_volume` event of the server's latest `extend_volume` action, once it
    finished (Tempest's VolumesExtendAttachedTest waits for the same)."""
    deadline = time.monotonic() + timeout
    while True:
        actions = cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
        extend = [a for a in actions if a["action"] == "extend_volume"]
        if extend:
            detail = cloud.nova("GET", f"/servers/{sid}/os-instance-actions/{extend[0]['request_id']}").json()["instanceAction"]
            done = [e for e in detail["events"] if e["event"] == "compute_extend_volume" and e["finish_time"]]
            if done:
                return done[0]
        assert time.monotonic() < deadline, actions
        time.sleep(0.3)


def test_extend_attached_volume(cloud):
    """Cinder 3.42 extends an `in-use` volume and tells Nova (`volume-extended`): the volume is
    `in-use` again at its new size and the server gets an `extend_volume` action whose
    `compute_extend_volume` event succeeds once its node has the disk at the new size. Before
    3.42 an attached volume is not extended (400). Nova's external events API starts the same; for
    a volume the server does not have, or a size the node already has, the event succeeds at once."""
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "va-ext", "-f", "json")["id"]
    vid = cloud.cli("volume", "create", "--size", "1", "va-ext", "-f", "json")["id"]
    volume_status(cloud, vid, "available")
    assert cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}}).status_code == 200
    volume_status(cloud, vid, "in-use")
    project = cloud.cli("token", "issue", "-f", "json")["project_id"]

    def extend(size, version):
        return requests.post(f"{cloud.base_url}/volume/v3/{project}/volumes/{vid}/action", json={"os-extend": {"new_size": size}},
                             headers={"X-Auth-Token": cloud.token(), "OpenStack-API-Version": f"volume {version}"}, timeout=60)

    r = extend(2, "3.41")
    assert r.status_code == 400 and "currently in-use" in r.json()["badRequest"]["message"], r.text
    r = extend(2, "3.42")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while (v := cloud.cli("volume", "show", vid, "-f", "json"))["size"] != 2 or v["status"] != "in-use":
        assert time.monotonic() < deadline and not v["status"].startswith("error"), v
        time.sleep(0.3)
    assert extend_event(cloud, sid)["result"] == "Success"
    # The external event for a volume the server does not have: Nova's compute manager logs it
    # and returns, so the event succeeds; a repeated event for the size the node has likewise.
    for tag in (str(uuid.uuid4()), vid):
        r = cloud.nova("POST", "/os-server-external-events", version="2.51",
                       json={"events": [{"name": "volume-extended", "server_uuid": sid, "tag": tag}]})
        assert r.status_code == 200 and r.json()["events"][0]["code"] == 200, r.text
        event = extend_event(cloud, sid)
        assert event["result"] == "Success", event
    actions = cloud.nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert len([a for a in actions if a["action"] == "extend_volume"]) == 3, actions
    cloud.cli("server", "delete", "--wait", sid)
    volume_status(cloud, vid, "available")
    cloud.cli("volume", "delete", vid)


def test_attachments_a_server_uses_are_detached_through_nova_only(cloud):
    """Cinder's bug #2004555 check (cinder/volume/api.py attachment_deletion_allowed): a user's
    `DELETE /attachments/{id}`, `os-detach` or an admin's `os-force_detach` of an attachment that
    is connected to a server Nova still has is 409 "Detach volume from instance … using the
    Compute API", and the guest keeps its disk. `os-force_detach` (admin) rolls back an
    attachment that is not connected (Tempest's test_force_detach_volume: a legacy `os-attach`,
    the volume reset to `error`): the volume is `available` with no attachments."""
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "va-fd", "-f", "json")["id"]
    project = cloud.cli("token", "issue", "-f", "json")["project_id"]

    def cinder(method, path, version="3.27", **kw):
        return requests.request(method, f"{cloud.base_url}/volume/v3/{project}{path}", timeout=60,
                                headers={"X-Auth-Token": cloud.token(), "OpenStack-API-Version": f"volume {version}"}, **kw)

    vid = cloud.cli("volume", "create", "--size", "1", "va-fd", "-f", "json")["id"]
    volume_status(cloud, vid, "available")
    assert cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}}).status_code == 200
    v = volume_status(cloud, vid, "in-use")
    aid = v["attachments"][0]["attachment_id"]
    for r in (cinder("DELETE", f"/attachments/{aid}"),
              cinder("POST", f"/volumes/{vid}/action", json={"os-detach": {"attachment_id": aid}}),
              cinder("POST", f"/volumes/{vid}/action", json={"os-force_detach": {"attachment_id": aid}})):
        assert r.status_code == 409, r.text
        assert r.json()["conflictingRequest"]["message"] == f"Detach volume from instance {sid} using the Compute API", r.text
    assert cloud.cli("volume", "show", vid, "-f", "json")["status"] == "in-use"
    assert [a["volumeId"] for a in cloud.nova("GET", f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"]] == [vid]

    # A legacy attach records an attachment with no connection: force-detached after an error.
    other = cloud.cli("volume", "create", "--size", "1", "va-fd2", "-f", "json")["id"]
    volume_status(cloud, other, "available")
    r = cinder("POST", f"/volumes/{other}/action", version="3.0", json={"os-attach": {"instance_uuid": sid, "mountpoint": "/dev/vdc"}})
    assert r.status_code == 202, r.text
    v = volume_status(cloud, other, "in-use")
    legacy = v["attachments"][0]["attachment_id"]
    assert cinder("POST", f"/volumes/{other}/action", json={"os-reset_status": {"status": "error"}}).status_code == 202
    r = cinder("POST", f"/volumes/{other}/action", json={"os-force_detach": {"attachment_id": 42}})
    assert r.status_code == 400, r.text
    # An attachment that is not there: Cinder's manager only sets the status right (202).
    r = cinder("POST", f"/volumes/{other}/action", json={"os-force_detach": {"attachment_id": str(uuid.uuid4())}})
    assert r.status_code == 202, r.text
    assert cloud.cli("volume", "show", other, "-f", "json")["status"] == "in-use"
    r = cinder("POST", f"/volumes/{other}/action", json={"os-force_detach": {"connector": None, "attachment_id": legacy}})
    assert r.status_code == 202, r.text
    v = volume_status(cloud, other, "available")
    assert v["attachments"] == []
    cloud.cli("server", "delete", "--wait", sid)
    volume_status(cloud, vid, "available")
    cloud.cli("volume", "delete", vid, other)


def test_attach_and_detach_while_shelved_offloaded(cloud):
    """Nova 2.20+ attaches a volume to a SHELVED_OFFLOADED server (compute/api.py
    _attach_volume_shelved_offloaded): the attachment is reserved and completed at once (the
    volume `in-use`), with no device until the unshelve connects it on the new host; a detach
    while offloaded deletes the attachment at once. Before 2.20: 409."""
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "va-shelf", "-f", "json")["id"]
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"shelve": None}).status_code == 202
    cloud.wait_server(sid, "SHELVED_OFFLOADED")
    vid = cloud.cli("volume", "create", "--size", "1", "va-shelf", "-f", "json")["id"]
    volume_status(cloud, vid, "available")
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", version="2.19", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 409, r.text
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", version="2.20", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 200 and r.json()["volumeAttachment"]["device"] is None, r.text
    v = volume_status(cloud, vid, "in-use")
    assert v["attachments"][0]["server_id"] == sid
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"unshelve": None}).status_code == 202
    cloud.wait_server(sid, "ACTIVE")
    deadline = time.monotonic() + 60
    while (a := cloud.nova("GET", f"/servers/{sid}/os-volume_attachments/{vid}").json()["volumeAttachment"])["device"] is None:
        assert time.monotonic() < deadline, a
        time.sleep(0.3)
    assert a["device"] == "/dev/vdb", a
    # Detached while offloaded: at once.
    other = cloud.cli("volume", "create", "--size", "1", "va-shelf-2", "-f", "json")["id"]
    volume_status(cloud, other, "available")
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"shelve": None}).status_code == 202
    cloud.wait_server(sid, "SHELVED_OFFLOADED")
    assert cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", version="2.20", json={"volumeAttachment": {"volumeId": other}}).status_code == 200
    volume_status(cloud, other, "in-use")
    assert cloud.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{other}", version="2.20").status_code == 202
    volume_status(cloud, other, "available")
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"unshelve": None}).status_code == 202
    cloud.wait_server(sid, "ACTIVE")
    assert [x["volumeId"] for x in cloud.nova("GET", f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"]] == [vid]
    cloud.cli("server", "delete", "--wait", sid)
    volume_status(cloud, vid, "available")
    cloud.cli("volume", "delete", vid, other)
