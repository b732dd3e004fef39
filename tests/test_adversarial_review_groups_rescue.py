"""Adversarial review of generic volume groups and the legacy connection calls: what another
project, a careless client or an admin acting across projects can do to a group's volumes.
Expected behaviour is Cinder's (cinder/group/api.py, cinder/transfer/api.py) where Cinder is
safe, and a refusal where Cinder's rules would let a group reach another project's volume or
pull a volume from under work in progress."""

from __future__ import annotations

from volume_support import (  # noqa: F401  (fixtures are used by name)
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_member,
    bs_user,
    nbd_io,
    unique,
)
from test_boot_from_volume import env  # noqa: F401  (the fixture: servers on the fake driver with real volumes)
from test_volume_groups import make_types, wait_status

V = "3.20"


def make_group(user, admin, n_volumes: int = 1):
    vt, gt = make_types(admin)
    gid = user.ok("POST", "/groups", status=202, version=V, json={"group": {"group_type": gt, "volume_types": [vt]}})["group"]["id"]
    wait_status(user, "groups", gid, "available")
    vids = []
    for _ in range(n_volumes):
        v = user.ok("POST", "/volumes", status=202, version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}})["volume"]
        user.wait_volume(v["id"])
        vids.append(v["id"])
    return vt, gt, gid, vids


def delete_group(user, gid, vids=()):
    assert user.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {"delete-volumes": True}}).status_code == 202
    user.wait_gone("groups", gid)
    for vid in vids:
        user.wait_gone("volumes", vid)


def test_a_group_member_cannot_be_transferred_to_another_project(bs_admin, bs_user):
    """Were a group's volume transferred, the giving project's group would still hold it: its
    delete-volumes would delete the taker's volume and its group snapshot would copy the taker's
    data. The transfer is refused while the volume is in a group, and works once it is removed."""
    owner, taker = bs_user(), bs_user()
    _, _, gid, (vid,) = make_group(owner, bs_admin)
    for path in ("/volume-transfers", "/os-volume-transfer"):
        r = owner.req("POST", path, version="3.55", json={"transfer": {"volume_id": vid}})
        assert_fault(r, 400, f"Volume {vid} must not be part of a group")
    assert owner.show_volume(vid)["status"] == "available"
    # Removed from the group, it transfers as any volume does.
    assert owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"remove_volumes": vid}}).status_code == 202
    t = owner.ok("POST", "/volume-transfers", 202, version="3.55", json={"transfer": {"volume_id": vid}})["transfer"]
    taker.ok("POST", f"/volume-transfers/{t['id']}/accept", 202, version="3.55", json={"accept": {"auth_key": t["auth_key"]}})
    assert taker.show_volume(vid, version=V)["group_id"] is None
    # The old owner can no longer add it back to its group (it is the taker's now).
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": vid}}), 400, "cannot be found")
    taker.ok("DELETE", f"/volumes/{vid}", status=202)
    taker.wait_gone("volumes", vid)
    delete_group(owner, gid)


def test_a_connected_volume_cannot_be_transferred(bs_user):
    """A legacy connection's export is for the giving project's host: a transfer would leave
    that host reading and writing the taker's volume. Refused until the connection ends."""
    owner = bs_user()
    v = owner.create_volume(1)
    connector = {"connector": {"host": "giver-host"}}
    assert owner.action(v["id"], "os-initialize_connection", connector).status_code == 200
    r = owner.req("POST", "/os-volume-transfer", json={"transfer": {"volume_id": v["id"]}})
    assert_fault(r, 400, "is connected; terminate its connections first")
    assert owner.action(v["id"], "os-terminate_connection", connector).status_code == 202
    t = owner.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": v["id"]}})["transfer"]
    owner.ok("DELETE", f"/os-volume-transfer/{t['id']}", status=202)
    assert owner.show_volume(v["id"])["status"] == "available"
    owner.ok("DELETE", f"/volumes/{v['id']}", status=202)
    owner.wait_gone("volumes", v["id"])


def test_group_delete_volumes_refuses_a_busy_member(bs_admin, bs_user):
    """delete-volumes must not delete a volume that is being backed up, uploaded or transferred
    (a plain volume delete refuses those): the group's delete is refused and nothing changes."""
    owner = bs_user()
    _, _, gid, (vid,) = make_group(owner, bs_admin)
    for busy in ("backing-up", "uploading", "maintenance"):
        assert bs_admin.action(vid, "os-reset_status", {"status": busy}).status_code == 202
        r = owner.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {"delete-volumes": True}})
        assert_fault(r, 400, f"Volume {vid} in group {gid} is busy (status {busy})")
        assert owner.show_volume(vid)["status"] == busy
        assert owner.ok("GET", f"/groups/{gid}", version=V)["group"]["status"] == "available"
    assert bs_admin.action(vid, "os-reset_status", {"status": "available"}).status_code == 202
    delete_group(owner, gid, [vid])


def test_group_delete_volumes_stops_legacy_exports(bs_admin, bs_user):
    """A group member connected with os-initialize_connection is deleted with its group: its
    export stops, as a plain volume delete stops it (no NBD export of a deleted volume)."""
    owner = bs_user()
    _, _, gid, (vid,) = make_group(owner, bs_admin)
    r = owner.action(vid, "os-initialize_connection", {"connector": {"host": "grp-host"}})
    assert r.status_code == 200, r.text
    info = r.json()["connection_info"]
    nbd_io(info, "read 0 4k")
    delete_group(owner, gid, [vid])
    assert nbd_io(info, "read 0 4k", check=False).returncode != 0


def test_admin_cannot_create_a_volume_in_another_projects_group(bs_admin, bs_user):
    """The admin sees every group, but a volume made in the admin's project inside a member's
    group would be deleted by that member's delete-volumes (add_volumes refuses the same)."""
    owner = bs_user()
    vt, _, gid, _ = make_group(owner, bs_admin, n_volumes=0)
    r = bs_admin.req("POST", "/volumes", version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}})
    assert_fault(r, 400, f"Volume and group {gid} must belong to the same project")
    assert owner.ok("GET", f"/groups/{gid}?list_volume=true", version="3.25")["group"]["volumes"] == []
    delete_group(owner, gid)


def test_group_update_odd_volume_lists(bs_admin, bs_user):
    """add_volumes/remove_volumes are strings of at most 255 characters (Cinder's schema):
    10,000 commas are a 400; duplicates add once; a non-UUID, another project's volume and a
    volume of another type are 400s naming the volume; the same id in both lists is a 400."""
    owner, other = bs_user(), bs_user()
    vt, _, gid, _ = make_group(owner, bs_admin, n_volumes=0)
    vt2 = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("vt")}})["volume_type"]["id"]
    mine = owner.create_volume(1, volume_type=vt)["id"]
    theirs = other.create_volume(1, volume_type=vt)["id"]
    wrong_type = owner.create_volume(1, volume_type=vt2)["id"]
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": "," * 10000}}), 400, "is too long")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": ",,,"}}), 400, "no valid name")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": "not-a-uuid"}}), 400,
                 "Cannot add volume not-a-uuid")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": theirs}}), 400, "cannot be found")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": wrong_type}}), 400, "is not supported by the group")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": mine, "remove_volumes": mine}}), 400,
                 "are in both add and remove volume list")
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": [mine]}}), 400)
    # The admin, who sees both, cannot put another project's volume in the group either.
    assert_fault(bs_admin.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": theirs}}), 400,
                 "as they belong to different projects")
    # Ids are not stripped (Cinder splits on commas only): " <id>" names no volume.
    assert_fault(owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": f"{mine}, {mine}"}}), 400,
                 f"Cannot add volume  {mine}")
    assert owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": f",{mine},{mine},"}}).status_code == 202
    assert owner.ok("GET", f"/groups/{gid}?list_volume=true", version="3.25")["group"]["volumes"] == [mine]
    # A group's volume is not deleted on its own, forced or not.
    assert_fault(owner.req("DELETE", f"/volumes/{mine}"), 400, "belong to a group")
    assert owner.req("PUT", f"/groups/{gid}", version=V, json={"group": {"remove_volumes": mine}}).status_code == 202
    for user, vid in ((owner, mine), (other, theirs), (owner, wrong_type)):
        user.ok("DELETE", f"/volumes/{vid}", status=202)
        user.wait_gone("volumes", vid)
    delete_group(owner, gid)


def test_create_from_src_and_group_snapshot_respect_quotas(bs_admin, bs_user):
    """A group made from a source group makes all its volumes within the volumes quota, and a
    group snapshot all its snapshots within the snapshots quota: over it, a 413 and nothing
    half-made (no group, no volumes, no snapshots)."""
    owner = bs_user()
    _, _, gid, vids = make_group(owner, bs_admin, n_volumes=2)
    project = owner.project_id
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 3, "snapshots": 1}})
    r = owner.req("POST", "/groups/action", version=V, json={"create-from-src": {"source_group_id": gid}})
    assert r.status_code == 413, r.text
    r = owner.req("POST", "/group_snapshots", version=V, json={"group_snapshot": {"group_id": gid}})
    assert r.status_code == 413, r.text
    assert [g["id"] for g in owner.ok("GET", "/groups", version=V)["groups"]] == [gid]
    assert owner.ok("GET", "/group_snapshots", version=V)["group_snapshots"] == []
    assert owner.ok("GET", "/snapshots")["snapshots"] == []
    assert sorted(v["id"] for v in owner.ok("GET", "/volumes")["volumes"]) == sorted(vids)
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 10, "snapshots": 10}})
    delete_group(owner, gid, vids)


def test_private_group_type_and_microversions(bs_admin, bs_user):
    """A member neither sees nor uses a private group type (404 by id and by name); group
    snapshots need 3.14, groups 3.13, reset_status 3.19/3.20."""
    owner = bs_user()
    vt, _ = make_types(bs_admin)
    name = unique("private-gt")
    private = bs_admin.ok("POST", "/group_types", status=202, version=V,
                          json={"group_type": {"name": name, "is_public": False}})["group_type"]["id"]
    for ref in (private, name):
        r = owner.req("POST", "/groups", version=V, json={"group": {"group_type": ref, "volume_types": [vt]}})
        assert_fault(r, 404)
    assert_fault(owner.req("GET", f"/group_types/{private}/group_specs", version=V), 403)
    assert owner.req("GET", "/group_snapshots", version="3.13").status_code == 404
    assert owner.req("GET", "/groups/detail", version="3.12").status_code == 404
    assert owner.req("POST", "/groups/action", version="3.13", json={"create-from-src": {}}).status_code == 404
    bs_admin.ok("DELETE", f"/group_types/{private}", status=202, version=V)


# ---- stable-device rescue (Nova 2.87), on the fake compute driver --------------------------

def test_stable_rescue_odd_properties_private_image_and_delete_while_rescued(env):  # noqa: F811
    """hw_rescue_bus/hw_rescue_device are matched exactly (no case folding, no trimming, no
    look-alike letters): anything else is Nova's 400, the server untouched. Another project's
    private rescue image is not usable. A server deleted while rescued releases its root volume."""
    import requests

    from test_adversarial_review_compute import nova_error
    from test_adversarial_review_volume_attach import member, wait_volume
    from test_boot_from_volume import boot, wait_server
    from test_rebuild_volume_backed import alt_image

    who = member(env)
    sid = boot(env, who, [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1}]
               ).json()["server"]["id"]
    [attached] = wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]

    def props(image, token, **values):
        h = {"X-Auth-Token": token, "Content-Type": "application/openstack-images-v2.1-json-patch"}
        ops = [{"op": "add", "path": f"/{k}", "value": v} for k, v in values.items()]
        r = requests.patch(f"{env.base}/image/v2/images/{image}", headers=h, json=ops, timeout=30)
        assert r.status_code == 200, r.text

    def rescue(image):
        return env.nova("POST", f"/servers/{sid}/action", token=who.token, version="2.87", json={"rescue": {"rescue_image_ref": image}})

    for bus, device, message in (("VIRTIO", "disk", "Requested rescue bus 'VIRTIO' is not supported"),
                                 (" virtio", "disk", "Requested rescue bus ' virtio' is not supported"),
                                 ("v\u0131rtio", "disk", "Requested rescue bus 'v\u0131rtio' is not supported"),
                                 ("virtio", "Disk", "Requested rescue device 'Disk' is not supported"),
                                 ("virtio", "disk\u0301", "Requested rescue device 'disk\u0301' is not supported")):
        image, _ = alt_image(env)
        props(image, env.admin, hw_rescue_bus=bus, hw_rescue_device=device)
        assert message in nova_error(rescue(image), 400), (bus, device)
    assert wait_server(env, who, sid)["status"] == "ACTIVE"

    # Another project's private image with the right properties: not found for this caller.
    other = member(env)
    r = requests.post(f"{env.base}/image/v2/images", headers={"X-Auth-Token": other.token}, timeout=30,
                      json={"name": "private-rescue", "disk_format": "raw", "container_format": "bare", "visibility": "private"})
    assert r.status_code == 201, r.text
    private = r.json()["id"]
    r = requests.put(f"{env.base}/image/v2/images/{private}/file", headers={"X-Auth-Token": other.token, "Content-Type": "application/octet-stream"},
                     data=b"x" * 65536, timeout=30)
    assert r.status_code == 204, r.text
    props(private, other.token, hw_rescue_bus="virtio", hw_rescue_device="disk")
    assert nova_error(rescue(private), 400) == f"Requested rescue image '{private}' is not supported"
    assert wait_server(env, who, sid)["status"] == "ACTIVE"

    stable, _ = alt_image(env)
    props(stable, env.admin, hw_rescue_bus="virtio", hw_rescue_device="disk")
    assert rescue(stable).status_code == 200
    wait_server(env, who, sid, "RESCUE")
    # Rescued, the server's volume is neither detachable nor deletable.
    r = env.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{attached['id']}", token=who.token, version="2.87")
    assert r.status_code in (400, 409), r.text
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204
    v = wait_volume(env, who, attached["id"], "available", timeout=60)
    assert v["attachments"] == [], v
    from test_adversarial_review_volume_attach import cinder
    assert cinder(env, "DELETE", f"/volumes/{attached['id']}", who).status_code == 202
    for image, token in ((private, other.token), (stable, env.admin)):
        requests.delete(f"{env.base}/image/v2/images/{image}", headers={"X-Auth-Token": token}, timeout=30)


def test_a_group_member_cannot_be_retyped(bs_admin, bs_user):
    """Cinder's retype expects `group_id: None`: retyping a group's volume to a type the group
    does not support would leave the group holding a volume of a foreign type."""
    owner = bs_user()
    vt, _, gid, (vid,) = make_group(owner, bs_admin)
    foreign = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("vt")}})["volume_type"]
    r = owner.action(vid, "os-retype", {"new_type": foreign["name"]})
    assert_fault(r, 400, "not be part of an active migration or a consistency group")
    assert owner.show_volume(vid)["volume_type"] != foreign["name"]
    delete_group(owner, gid, [vid])
    bs_admin.ok("DELETE", f"/types/{foreign['id']}", status=202)


def test_legacy_connections_reader_host_bytes_and_limit(bs_user):
    """A reader may not connect or disconnect a volume (Cinder's policy is member); connector
    hosts are bytes (caf\\u00e9 and cafe\\u0301 are two hosts, each with its own export, and
    ending one leaves the other); the 17th host is a 400 and the volume is deleted with its
    connections' exports stopped."""
    owner = bs_user()
    reader = bs_user("reader", project_of=owner)
    v = owner.create_volume(1)
    vid = v["id"]
    assert_fault(reader.action(vid, "os-initialize_connection", {"connector": {"host": "r"}}), 403)
    assert_fault(reader.action(vid, "os-terminate_connection", {"connector": {"host": "r"}}), 403)
    nfc = owner.action(vid, "os-initialize_connection", {"connector": {"host": "caf\u00e9"}}).json()["connection_info"]
    nfd = owner.action(vid, "os-initialize_connection", {"connector": {"host": "cafe\u0301"}}).json()["connection_info"]
    assert nfc["data"]["export"] != nfd["data"]["export"]
    assert owner.action(vid, "os-terminate_connection", {"connector": {"host": "cafe\u0301"}}).status_code == 202
    nbd_io(nfc, "read 0 4k")
    assert nbd_io(nfd, "read 0 4k", check=False).returncode != 0
    for i in range(15):
        assert owner.action(vid, "os-initialize_connection", {"connector": {"host": f"h{i}"}}).status_code == 200
    assert_fault(owner.action(vid, "os-initialize_connection", {"connector": {"host": "one-too-many"}}), 400, "has 16 legacy connections")
    # The same host again is its existing export, not a 17th.
    assert owner.action(vid, "os-initialize_connection", {"connector": {"host": "h3"}}).status_code == 200
    owner.ok("DELETE", f"/volumes/{vid}", status=202)
    owner.wait_gone("volumes", vid)
    assert nbd_io(nfc, "read 0 4k", check=False).returncode != 0


# ---- backup restore from crafted objects -----------------------------------------------------

def test_restore_from_crafted_backup_objects_fails_cleanly(bs_cloud, bs_user):
    """A backup's objects live in its project's own object-store account, so its owner can
    rewrite them. A restore from a metadata object whose offsets overflow, that writes past the
    volume's size, that names an unknown algorithm, or whose small zlib object inflates far past
    its recorded length fails (the new volume `error_restoring`, the backup `available` again) without
    crashing the service or growing the volume beyond its size."""
    import hashlib
    import json
    import zlib

    import requests

    from test_volume_backups import create_backup, swift_names, wait_backup
    from volume_support import qemu_info, volume_file

    user = bs_user()
    vol = user.create_volume(1)
    backup = create_backup(user, vol["id"])
    (meta_name,) = [n for n in swift_names(user, "volumebackups", f"volume_{vol['id']}/") if n.endswith("_metadata")]
    base = f"{bs_cloud.base_url}/object/v1/AUTH_{user.project_id}/volumebackups/"
    h = {"X-Auth-Token": user.token}
    original = requests.get(base + meta_name, headers=h, timeout=30).json()
    prefix = meta_name.rsplit("/", 1)[0]

    def put(name, data: bytes):
        r = requests.put(base + name, headers=h, data=data, timeout=60)
        assert r.status_code == 201, r.text

    bomb = zlib.compress(bytes(64 << 20), 9)
    assert len(bomb) < 1 << 20
    put(f"{prefix}/evil-none", b"x" * 4096)
    put(f"{prefix}/evil-bomb", bomb)
    md5_x = hashlib.md5(b"x" * 4096).hexdigest()
    cases = {
        "offset overflow": (1 << 30, [{f"{prefix}/evil-none": {"offset": (1 << 63) - 1, "length": 4096, "compression": "none", "md5": md5_x}}]),
        "past the volume": (4 << 30, [{f"{prefix}/evil-none": {"offset": 3 << 30, "length": 4096, "compression": "none", "md5": md5_x}}]),
        "unknown algorithm": (1 << 30, [{f"{prefix}/evil-none": {"offset": 0, "length": 4096, "compression": "lzma", "md5": md5_x}}]),
        "zlib bomb": (1 << 30, [{f"{prefix}/evil-bomb": {"offset": 0, "length": 1 << 20, "compression": "zlib",
                                                         "md5": hashlib.md5(bytes(1 << 20)).hexdigest()}}]),
    }
    for what, (size, objects) in cases.items():
        put(meta_name, json.dumps({**original, "size_bytes": size, "objects": objects}).encode())
        restored = user.ok("POST", f"/backups/{backup['id']}/restore", status=202, json={"restore": {"name": what}})["restore"]
        user.wait_volume(restored["volume_id"], "error_restoring", timeout=60), what
        wait_backup(user, backup["id"])
        path = volume_file(bs_cloud, restored["volume_id"])
        assert not path.exists() or qemu_info(path)["virtual-size"] <= 1 << 30, what
        user.ok("DELETE", f"/volumes/{restored['volume_id']}", status=202)
        user.wait_gone("volumes", restored["volume_id"])
    # The untouched description restores again.
    put(meta_name, json.dumps(original).encode())
    restored = user.ok("POST", f"/backups/{backup['id']}/restore", status=202, json={"restore": {"name": "good"}})["restore"]
    user.wait_volume(restored["volume_id"], timeout=60)
    wait_backup(user, backup["id"])
    for vid in (restored["volume_id"], vol["id"]):
        user.ok("DELETE", f"/volumes/{vid}", status=202)
    user.ok("DELETE", f"/backups/{backup['id']}", status=202)
    for vid in (restored["volume_id"], vol["id"]):
        user.wait_gone("volumes", vid)
    user.wait_gone("backups", backup["id"])


def test_group_quotas_count_all_types_together(bs_admin, bs_user):
    """The volumes and snapshots of a create-from-src or a group snapshot count against the
    project's totals all together, not one volume type at a time (two types' volumes would each
    pass); per_volume_gigabytes limits each volume, not the sum of a type's volumes."""
    owner = bs_user()
    vt1 = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("vt")}})["volume_type"]["id"]
    vt2 = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("vt")}})["volume_type"]["id"]
    _, gt = make_types(bs_admin)
    gid = owner.ok("POST", "/groups", status=202, version=V, json={"group": {"group_type": gt, "volume_types": [vt1, vt2]}})["group"]["id"]
    wait_status(owner, "groups", gid, "available")
    vids = []
    for vt in (vt1, vt1, vt2):
        v = owner.ok("POST", "/volumes", status=202, version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}})["volume"]
        owner.wait_volume(v["id"])
        vids.append(v["id"])
    project = owner.project_id
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 5, "snapshots": 2, "per_volume_gigabytes": 1}})
    r = owner.req("POST", "/groups/action", version=V, json={"create-from-src": {"source_group_id": gid}})
    assert_fault(r, 413, "Maximum number of volumes allowed (5) exceeded for quota 'volumes'")
    r = owner.req("POST", "/group_snapshots", version=V, json={"group_snapshot": {"group_id": gid}})
    assert_fault(r, 413, "Maximum number of snapshots allowed (2) exceeded")
    assert [g["id"] for g in owner.ok("GET", "/groups", version=V)["groups"]] == [gid]
    assert owner.ok("GET", "/group_snapshots", version=V)["group_snapshots"] == []
    # Within the totals, two 1 GB volumes of one type pass a 1 GB per-volume limit.
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 6, "snapshots": 3}})
    made = owner.ok("POST", "/groups/action", status=202, version=V, json={"create-from-src": {"source_group_id": gid}})["group"]["id"]
    wait_status(owner, "groups", made, "available")
    copies = owner.ok("GET", f"/groups/{made}?list_volume=true", version="3.25")["group"]["volumes"]
    assert len(copies) == 3
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 10, "snapshots": 10, "per_volume_gigabytes": -1}})
    delete_group(owner, made, copies)
    delete_group(owner, gid, vids)


def test_no_volume_made_in_a_group_in_error_or_being_deleted(bs_admin, bs_user):
    """Cinder's GROUP_PROCEED_STATUS: a volume is made only in an available (or creating) group;
    in one in error, being updated or being deleted it is Cinder's InvalidGroup 400, and nothing
    is made."""
    owner = bs_user()
    vt, _, gid, _ = make_group(owner, bs_admin, n_volumes=0)
    for status in ("error", "updating", "deleting", "error_deleting"):
        assert bs_admin.req("POST", f"/groups/{gid}/action", version=V, json={"reset_status": {"status": status}}).status_code == 202
        r = owner.req("POST", "/volumes", version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}})
        assert_fault(r, 400, "Invalid Group: Originating group status must be one of 'available, creating' values")
    assert owner.ok("GET", "/volumes")["volumes"] == []
    assert bs_admin.req("POST", f"/groups/{gid}/action", version=V, json={"reset_status": {"status": "available"}}).status_code == 202
    delete_group(owner, gid)
