"""Adversarial review of three features: rendered token bodies (GET/HEAD /v3/auth/tokens answered
from a per-generation cache), Cinder 3.68 `os-reimage`, and Nova 2.93 rebuild of volume-backed
servers. Each test states the OpenStack (and secure) behaviour an attacker or a careless client
should meet."""

import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests

from test_boot_from_volume import boot, env, wait_server  # noqa: F401 (the fixture)
from test_adversarial_review_volume_attach import member, wait_volume
from test_rebuild_volume_backed import alt_image, rebuild
from test_volume_reimage import glance, reimage
from volume_support import assert_fault, bs_admin, bs_cloud, bs_user, unique  # noqa: F401

needs_exports = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                   reason="volume exports need root and qemu-storage-daemon")


# ---- identity: rendered token bodies ------------------------------------------------------

def validate(cloud, token: str, subject: str, method: str = "GET", **params) -> requests.Response:
    return requests.request(method, f"{cloud.auth_url}/auth/tokens", params=params, timeout=30,
                            headers={"X-Auth-Token": token, "X-Subject-Token": subject})


def test_identity_cached_body_follows_role_project_and_user_writes(bs_cloud, bs_user):
    me = bs_user()
    admin = bs_cloud.admin_token()
    first = validate(bs_cloud, admin, me.token)
    assert first.status_code == 200 and validate(bs_cloud, admin, me.token).content == first.content, "cached twice"
    # A project renamed: the next body names it anew.
    new_name = unique("renamed")
    assert bs_cloud.api("PATCH", f"/projects/{me.project_id}", json={"project": {"name": new_name}}).status_code == 200
    r = validate(bs_cloud, admin, me.token)
    assert r.status_code == 200 and r.json()["token"]["project"]["name"] == new_name, r.text
    # A role removed: the token is no longer valid (it has no roles on its project).
    role = bs_cloud.id_of("role", "member")
    assert bs_cloud.api("DELETE", f"/projects/{me.project_id}/users/{me.user_id}/roles/{role}").status_code == 204
    # (Keystone's render_token: "User ... has no access to project ...", a 401.)
    for method, params in (("GET", {}), ("HEAD", {}), ("GET", {"allow_expired": "1"}), ("GET", {"nocatalog": "1"})):
        r = validate(bs_cloud, admin, me.token, method=method, **params)
        assert r.status_code in (401, 404), (method, params, r.status_code, r.text)


def test_identity_cached_body_is_not_served_to_a_caller_who_may_not_validate(bs_cloud, bs_user):
    victim = bs_user()
    attacker = bs_user()
    admin = bs_cloud.admin_token()
    for params in ({}, {"nocatalog": "1"}):
        assert validate(bs_cloud, admin, victim.token, **params).status_code == 200   # now cached
        r = validate(bs_cloud, attacker.token, victim.token, **params)
        assert r.status_code == 403 and victim.token not in r.text, r.text
        assert validate(bs_cloud, attacker.token, victim.token, method="HEAD", **params).status_code == 403
    # Its own token, yes (token_subject).
    assert validate(bs_cloud, attacker.token, attacker.token).status_code == 200


def test_identity_cached_body_follows_user_disable_and_revocation(bs_cloud, bs_user):
    me = bs_user()
    admin = bs_cloud.admin_token()
    assert validate(bs_cloud, admin, me.token).status_code == 200
    again, _ = bs_cloud.token(me.user.name, me.user.password, me.user.project)
    assert validate(bs_cloud, admin, again).status_code == 200
    # Revoked by its subject: 404 even though the body was rendered.
    r = requests.delete(f"{bs_cloud.auth_url}/auth/tokens", headers={"X-Auth-Token": again, "X-Subject-Token": again}, timeout=30)
    assert r.status_code == 204, r.text
    assert validate(bs_cloud, admin, again).status_code == 404
    assert bs_cloud.api("PATCH", f"/users/{me.user_id}", json={"user": {"enabled": False}}).status_code == 200
    assert validate(bs_cloud, admin, me.token).status_code == 404
    assert validate(bs_cloud, admin, me.token, nocatalog="1").status_code == 404


def test_identity_cached_catalog_follows_endpoints_and_project_endpoint_filters(bs_cloud, bs_user):
    me = bs_user()
    admin = bs_cloud.admin_token()
    before = validate(bs_cloud, admin, me.token).json()["token"]["catalog"]
    svc = bs_cloud.api("POST", "/services", json={"service": {"type": unique("rv-type"), "name": unique("rv")}}).json()["service"]
    ep = bs_cloud.api("POST", "/endpoints", json={"endpoint": {"service_id": svc["id"], "interface": "public", "region_id": "RegionOne",
                                                               "url": "http://rv.example/x"}})
    assert ep.status_code == 201, ep.text
    eid = ep.json()["endpoint"]["id"]
    after = validate(bs_cloud, admin, me.token).json()["token"]["catalog"]
    assert any(e["id"] == eid for s in after for e in s["endpoints"]), "a new endpoint is in the next body"
    assert len(after) == len(before) + 1
    # A project associated with one endpoint sees only it (OS-EP-FILTER).
    r = bs_cloud.api("PUT", f"/OS-EP-FILTER/projects/{me.project_id}/endpoints/{eid}")
    assert r.status_code == 204, r.text
    filtered = validate(bs_cloud, admin, me.token).json()["token"]["catalog"]
    assert [e["id"] for s in filtered for e in s["endpoints"]] == [eid], filtered
    assert bs_cloud.api("DELETE", f"/OS-EP-FILTER/projects/{me.project_id}/endpoints/{eid}").status_code == 204
    assert bs_cloud.api("PATCH", f"/endpoints/{eid}", json={"endpoint": {"url": "http://rv.example/y"}}).status_code == 200
    urls = [e["url"] for s in validate(bs_cloud, admin, me.token).json()["token"]["catalog"] for e in s["endpoints"] if e["id"] == eid]
    assert urls == ["http://rv.example/y"]
    assert bs_cloud.api("DELETE", f"/endpoints/{eid}").status_code == 204
    gone = validate(bs_cloud, admin, me.token).json()["token"]["catalog"]
    assert not any(e["id"] == eid for s in gone for e in s["endpoints"])
    bs_cloud.api("DELETE", f"/services/{svc['id']}")


def test_identity_cached_body_for_an_application_credential_token_dies_with_it(bs_cloud, bs_user):
    me = bs_user()
    admin = bs_cloud.admin_token()
    r = requests.post(f"{bs_cloud.auth_url}/users/{me.user_id}/application_credentials", headers={"X-Auth-Token": me.token},
                      json={"application_credential": {"name": unique("ac")}}, timeout=30)
    assert r.status_code == 201, r.text
    ac = r.json()["application_credential"]
    r = requests.post(f"{bs_cloud.auth_url}/auth/tokens", timeout=30, json={"auth": {"identity": {
        "methods": ["application_credential"], "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}})
    assert r.status_code == 201, r.text
    ac_token = r.headers["X-Subject-Token"]
    assert validate(bs_cloud, admin, ac_token).status_code == 200
    r = requests.delete(f"{bs_cloud.auth_url}/users/{me.user_id}/application_credentials/{ac['id']}", headers={"X-Auth-Token": me.token}, timeout=30)
    assert r.status_code == 204, r.text
    assert validate(bs_cloud, admin, ac_token).status_code == 404


# ---- block storage: os-reimage --------------------------------------------------------------

def private_image(cloud, who, data: bytes = b"secret-bytes\n" * 512) -> str:
    r = glance(cloud, who, "POST", "/images", json={"name": unique("priv"), "disk_format": "raw", "container_format": "bare",
                                                    "visibility": "private"})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = glance(cloud, who, "PUT", f"/images/{iid}/file", headers={"Content-Type": "application/octet-stream"}, data=data)
    assert r.status_code == 204, r.text
    return iid


def test_reimage_with_another_projects_private_image_is_404(bs_cloud, bs_user):
    victim = bs_user()
    attacker = bs_user()
    secret = private_image(bs_cloud, victim)
    vol = attacker.create_volume(size=1)
    assert_fault(reimage(attacker, vol["id"], secret), 404, f"Image {secret} could not be found.")
    assert attacker.show_volume(vol["id"])["status"] == "available"
    # Two re-images at once: the second meets `downloading` (400); 32 MiB keep the first busy.
    slow = private_image(bs_cloud, attacker, data=os.urandom(1 << 20) * 32)
    assert reimage(attacker, vol["id"], slow).status_code == 202
    assert_fault(reimage(attacker, vol["id"], bs_cloud.test_image["id"]), 400, "current status is downloading")
    attacker.wait_volume(vol["id"], "available")
    # The owner may; the bytes are hers.
    mine = victim.create_volume(size=1)
    assert reimage(victim, mine["id"], secret).status_code == 202
    victim.wait_volume(mine["id"], "available")


def test_reimage_from_a_nova_image_pointing_at_another_projects_snapshot_is_404(bs_cloud, bs_user):
    victim = bs_user()
    attacker = bs_user()
    src = victim.create_volume(size=1)
    snap = victim.create_snapshot(src["id"])
    bdm = [{"source_type": "snapshot", "destination_type": "volume", "boot_index": 0, "snapshot_id": snap["id"], "volume_size": 1}]
    r = glance(bs_cloud, attacker, "POST", "/images", json={"name": unique("steal"), "disk_format": "raw", "container_format": "bare",
                                                            "block_device_mapping": json.dumps(bdm), "bdm_v2": "True"})
    assert r.status_code == 201, r.text
    target = attacker.create_volume(size=1)
    assert_fault(reimage(attacker, target["id"], r.json()["id"]), 404,
                 f"Nova specific image is found, but boot volume snapshot id:{snap['id']} not found.")
    assert attacker.show_volume(target["id"])["status"] == "available"


def test_reimage_of_another_projects_volume_and_reader(bs_cloud, bs_user, bs_admin):
    owner = bs_user()
    vol = owner.create_volume(size=1)
    stranger = bs_user()
    assert_fault(reimage(stranger, vol["id"], bs_cloud.test_image["id"], reimage_reserved=True), 404)
    reader = bs_user("reader", project_of=owner)
    assert_fault(reimage(reader, vol["id"], bs_cloud.test_image["id"], reimage_reserved=True), 403)
    assert owner.show_volume(vol["id"])["status"] == "available"
    # The admin may re-image any project's volume (Cinder's admin-or-owner).
    assert reimage(bs_admin, vol["id"], bs_cloud.test_image["id"]).status_code in (202, 404)


def test_reimage_odd_inputs(bs_cloud, bs_user):
    me = bs_user()
    vol = me.create_volume(size=1)
    vid = vol["id"]
    for bad in ("x" * 100_000, None, [bs_cloud.test_image["id"]], {"id": bs_cloud.test_image["id"]}, ""):
        r = reimage(me, vid, bad)
        assert r.status_code == 400, (repr(bad)[:40], r.status_code, r.text[:300])
    assert reimage(me, vid, bs_cloud.test_image["id"], reimage_reserved=None).status_code == 400
    assert me.show_volume(vid)["status"] == "available"


def test_a_downloading_volume_refuses_delete_extend_snapshot_and_reimage(bs_cloud, bs_user, bs_admin):
    """Cinder's status checks hold while a volume is `downloading` (held there by an admin's
    reset: the state a racing client meets)."""
    me = bs_user()
    vol = me.create_volume(size=1)
    vid = vol["id"]
    bs_admin.ok("POST", f"/volumes/{vid}/action", status=202, json={"os-reset_status": {"status": "downloading"}})
    assert_fault(reimage(me, vid, bs_cloud.test_image["id"], reimage_reserved=True), 400, "current status is downloading")
    assert me.req("DELETE", f"/volumes/{vid}").status_code == 400
    assert me.action(vid, "os-extend", {"new_size": 2}).status_code == 400
    r = me.req("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "name": "x"}})
    assert r.status_code == 400, r.text
    bs_admin.ok("POST", f"/volumes/{vid}/action", status=202, json={"os-reset_status": {"status": "available"}})


def test_an_attachment_made_during_a_reimage_never_leaves_the_volume_inconsistent(bs_cloud, bs_user):
    """A client reserving the volume while it is re-imaged: Nimbus refuses it (400) while the
    re-image runs; either way the volume ends `reserved` exactly when it has an attachment.
    Before the fix the reservation moved the status off `downloading` (Nova's rebuild then took the
    re-image as done and connected a half-written volume) and the re-image's end set it back to
    `available` with the attachment still there."""
    me = bs_user()
    big = private_image(bs_cloud, me, data=os.urandom(1 << 20) * 48)
    vol = me.create_volume(size=1)
    vid = vol["id"]
    assert reimage(me, vid, big).status_code == 202
    r = me.req("POST", "/attachments", json={"attachment": {"volume_uuid": vid, "instance_uuid": str(uuid.uuid4())}}, version="3.68")
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert "being re-imaged" in r.text, r.text
    deadline = time.monotonic() + 60
    while (v := me.show_volume(vid)).get("volume_image_metadata", {}).get("image_id") != big:
        assert time.monotonic() < deadline and v["status"] != "error", v
        time.sleep(0.2)
    time.sleep(0.5)
    v = me.show_volume(vid)
    assert v["status"] == ("reserved" if r.status_code == 200 else "available"), (r.status_code, v["status"], v["attachments"])
    assert v["volume_image_metadata"]["image_id"] == big


# ---- compute 2.93: rebuild of volume-backed servers -----------------------------------------

def image_with(env, data: bytes = b"rv\n" * 4096, **fields) -> str:
    h = {"X-Auth-Token": env.admin}
    r = requests.post(f"{env.base}/image/v2/images", headers=h, timeout=30,
                      json={"name": f"rv-{uuid.uuid4().hex[:6]}", "disk_format": "raw", "container_format": "bare", "visibility": "public", **fields})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = requests.put(f"{env.base}/image/v2/images/{iid}/file", headers={**h, "Content-Type": "application/octet-stream"},
                     data=data, timeout=30)
    assert r.status_code == 204, r.text
    return iid


def bfv_server(env, who, size=1) -> tuple[str, str]:
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0,
                           "volume_size": size, "delete_on_termination": True}]).json()["server"]["id"]
    s = wait_server(env, who, sid)
    [attached] = s["os-extended-volumes:volumes_attached"]
    wait_volume(env, who, attached["id"], "in-use")
    return sid, attached["id"]


def delete_and_wait_gone(env, who, sid, timeout=60):
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204
    deadline = time.monotonic() + timeout
    while env.nova("GET", f"/servers/{sid}", token=who.token).status_code != 404:
        assert time.monotonic() < deadline, "server not deleted"
        time.sleep(0.3)

def wait_volume_gone(env, who, vid, timeout=60):
    """Until the volume is 404 (a server's delete released and deleted its root volume)."""
    deadline = time.monotonic() + timeout
    while True:
        v = requests.get(f"{env.base}/volume/v3/{who.project}/volumes/{vid}", headers={"X-Auth-Token": who.token}, timeout=30)
        if v.status_code == 404:
            return
        assert time.monotonic() < deadline, f"root volume left behind: {v.json()['volume']['status']} {v.json()['volume']['attachments']}"
        time.sleep(0.3)



@needs_exports
def test_rebuild_with_an_image_the_caller_cannot_see_is_refused(env):
    who = member(env)
    sid, vid = bfv_server(env, who)
    other = member(env)
    h = {"X-Auth-Token": other.token}
    r = requests.post(f"{env.base}/image/v2/images", headers=h, timeout=30,
                      json={"name": "hidden", "disk_format": "raw", "container_format": "bare", "visibility": "private"})
    assert r.status_code == 201, r.text
    hidden = r.json()["id"]
    rebuild(env, who, sid, hidden, "2.93", expect=400)
    s = wait_server(env, who, sid)
    assert s["OS-EXT-STS:task_state"] is None
    assert wait_volume(env, who, vid, "in-use")["volume_image_metadata"]["image_id"] == env.image
    delete_and_wait_gone(env, who, sid)


@needs_exports
def test_rebuild_of_a_locked_server_and_the_2_92_boundary(env):
    who = member(env)
    sid, vid = bfv_server(env, who)
    alt, _ = alt_image(env)
    assert env.nova("POST", f"/servers/{sid}/action", token=env.admin, json={"lock": None}).status_code == 202
    rebuild(env, who, sid, alt, "2.93", expect=409)
    assert env.nova("POST", f"/servers/{sid}/action", token=env.admin, json={"unlock": None}).status_code == 202
    # reimage_boot_volume is not a 2.92 field; 2.92 with another image is still Nova's 400.
    rebuild(env, who, sid, alt, "2.92", expect=400)
    assert wait_volume(env, who, vid, "in-use")["volume_image_metadata"]["image_id"] == env.image
    # Two rebuilds at once: the second meets the first's task state (409).
    rebuild(env, who, sid, alt, "2.93")
    rebuild(env, who, sid, env.image, "2.93", expect=409)
    wait_server(env, who, sid)
    assert wait_volume(env, who, vid, "in-use")["volume_image_metadata"]["image_id"] == alt
    delete_and_wait_gone(env, who, sid)


@needs_exports
def test_rebuild_with_an_image_whose_min_disk_exceeds_the_root_volume_is_400(env):
    """Nova checks min_disk and size against the root volume (`_validate_flavor_image_nostatus`
    with the root BDM: VolumeSmallerThanMinDisk) before anything is torn down."""
    who = member(env)
    sid, vid = bfv_server(env, who)
    big = image_with(env, min_disk=5)
    r = env.nova("POST", f"/servers/{sid}/action", token=who.token, version="2.93", json={"rebuild": {"imageRef": big}})
    try:
        assert r.status_code == 400, r.text
        s = wait_server(env, who, sid)
        assert s["status"] == "ACTIVE"
    finally:
        delete_and_wait_gone(env, who, sid)
        wait_volume_gone(env, who, vid, timeout=60)


@needs_exports
def test_a_failed_reimage_leaves_an_error_server_whose_delete_releases_the_volume(env):
    """The image's bytes are gone from the store (the API's checks pass), so Cinder's re-image
    fails: the server ends ERROR with the failed rebuild recorded, a second rebuild is refused
    (the root volume is not in-use), and deleting the server releases its root volume."""
    who = member(env)
    sid, vid = bfv_server(env, who)
    doomed = image_with(env)
    store = Path(env.cloud.nimbus.data_dir) / "image" / "images" / doomed
    assert store.exists(), store
    store.unlink()
    rebuild(env, who, sid, doomed, "2.93")
    s = wait_server(env, who, sid, "ERROR")
    assert s["OS-EXT-STS:task_state"] is None, s
    v = requests.get(f"{env.base}/volume/v3/{who.project}/volumes/{vid}", headers={"X-Auth-Token": who.token}, timeout=30).json()["volume"]
    assert v["status"] in ("reserved", "error"), v
    rebuild(env, who, sid, env.image, "2.93", expect=400)
    delete_and_wait_gone(env, who, sid)
    wait_volume_gone(env, who, vid, timeout=60)


@needs_exports
def test_rebuild_keeps_a_second_volume_attached(env):
    who = member(env)
    sid, root = bfv_server(env, who)
    r = requests.post(f"{env.base}/volume/v3/{who.project}/volumes", headers={"X-Auth-Token": who.token}, timeout=30,
                      json={"volume": {"size": 1, "name": "data"}})
    assert r.status_code == 202, r.text
    data = r.json()["volume"]["id"]
    wait_volume(env, who, data, "available")
    r = env.nova("POST", f"/servers/{sid}/os-volume_attachments", token=who.token, json={"volumeAttachment": {"volumeId": data}})
    assert r.status_code == 200, r.text
    before = wait_volume(env, who, data, "in-use")["attachments"][0]["attachment_id"]
    alt, _ = alt_image(env)
    rebuild(env, who, sid, alt, "2.93")
    s = wait_server(env, who, sid)
    assert sorted(v["id"] for v in s["os-extended-volumes:volumes_attached"]) == sorted([root, data])
    d = wait_volume(env, who, data, "in-use")
    assert d["attachments"][0]["attachment_id"] == before, "the data volume is not re-imaged nor re-attached"
    assert "volume_image_metadata" not in d or d["volume_image_metadata"].get("image_id") != alt
    assert wait_volume(env, who, root, "in-use")["volume_image_metadata"]["image_id"] == alt
    delete_and_wait_gone(env, who, sid)
    wait_volume(env, who, data, "available")


@needs_exports
@pytest.mark.parametrize("when", ["at_once", "while_reimaging"])
def test_delete_during_a_volume_backed_rebuild_releases_the_root_volume(env, when):
    """Deleted at once, or while Cinder re-images the root volume (a larger image keeps it
    `downloading`): the server goes away and its root volume (delete_on_termination) too."""
    who = member(env)
    sid, vid = bfv_server(env, who)
    image = image_with(env, data=os.urandom(1 << 20) * 64) if when == "while_reimaging" else alt_image(env)[0]
    rebuild(env, who, sid, image, "2.93")
    if when == "while_reimaging":
        deadline = time.monotonic() + 60
        while True:
            v = requests.get(f"{env.base}/volume/v3/{who.project}/volumes/{vid}", headers={"X-Auth-Token": who.token}, timeout=30).json()["volume"]
            if v["status"] == "downloading":
                break
            assert v.get("volume_image_metadata", {}).get("image_id") != image, "the re-image ended before it was seen"
            assert time.monotonic() < deadline, v
            time.sleep(0.05)
    delete_and_wait_gone(env, who, sid, timeout=120)
    wait_volume_gone(env, who, vid, timeout=90)
