"""Block Storage (Cinder API v3) at <base>/volume/v3/{project_id}: volumes (blank, from a snapshot,
from another volume, from an image), snapshots, extend and revert, volume types and their access
lists, metadata, admin actions, quotas and limits, transfers, zones/services/pools/extensions,
bad input, and durability across a `kill -9`.

The main flows go through the real `openstack` CLI (what users run) and openstacksdk; exact status
codes and bodies through plain requests (volume_support.Vol). The module runs its own cloud
(`bs_cloud`), so the bytes under <data_dir>/volumes and the default quota class are its alone, and
every test works in fresh projects (`bs_user`).

Expected behaviour is real Cinder's (openstack/cinder master, /work/.mirror/openstack+cinder);
each docstring names the source it pins. Faults are `{"<faultName>": {"code", "message"}}`
(cinder/api/openstack/wsgi.py Fault); resources of other projects are 404, not 403 (the DB
lookups are project-scoped); policy refusals are 403 "Policy doesn't allow <rule> to be
performed." (cinder/policies/*.py).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from urllib.parse import parse_qs, urlparse

import openstack.exceptions
import pytest
import requests

from volume_support import (  # noqa: F401  (fixtures are used by name)
    GIB,
    TIMESTAMP,
    UUID_RE,
    Vol,
    assert_fault,
    assert_forbidden_cli,
    assert_over_quota,
    bs_admin,
    bs_cloud,
    bs_member,
    bs_user,
    qemu_info,
    qemu_same_content,
    qemu_write_pattern,
    snapshot_file,
    start_cloud,
    unique,
    volume_file,
    volumes_dir,
    wait_for,
)

# The detail view of a volume at 3.0 (cinder/api/v3/views/volumes.py legacy_detail), as a
# project member sees it on create and update ...
VOLUME_FIELDS = {"id", "status", "size", "availability_zone", "created_at", "updated_at", "name",
                 "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links",
                 "user_id", "bootable", "encrypted", "replication_status", "consistencygroup_id",
                 "multiattach", "attachments"}
# ... plus what the controller extensions add to show and detail lists (reader policy):
# cinder/api/contrib/volume_tenant_attribute.py.
SHOWN_FIELDS = VOLUME_FIELDS | {"os-vol-tenant-attr:tenant_id"}
# What later microversions add for a member (views/volumes.py detail): 3.13 group_id,
# 3.48 shared_targets and service_uuid, 3.63 volume_type_id, 3.65 consumes_quota.
FIELDS_3_65 = {"group_id", "shared_targets", "service_uuid", "volume_type_id", "consumes_quota"}
# Admin-only: migration_status (context.is_admin), and the host and migration extensions.
ADMIN_FIELDS = {"migration_status", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
                "os-vol-mig-status-attr:name_id"}
SNAPSHOT_FIELDS = {"id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size", "metadata"}
SNAPSHOT_EXTENDED = {"os-extended-snapshot-attributes:progress", "os-extended-snapshot-attributes:project_id"}
ABSOLUTE_LIMITS = {"maxTotalVolumes", "maxTotalSnapshots", "maxTotalVolumeGigabytes", "maxTotalBackups",
                   "maxTotalBackupGigabytes", "totalVolumesUsed", "totalGigabytesUsed", "totalSnapshotsUsed",
                   "totalBackupsUsed", "totalBackupGigabytesUsed"}
# Cinder's default quota class (cinder/db/migrations/versions/921e1a36b076_initial.py, quota.py).
DEFAULT_QUOTAS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10, "backup_gigabytes": 1000,
                  "groups": 10, "per_volume_gigabytes": -1}


def volume_ids(me: Vol, **params) -> set[str]:
    return {v["id"] for v in me.ok("GET", "/volumes", params=params)["volumes"]}


# ---- service, versions, catalog -----------------------------------------------------------

def test_catalog_versions_and_url_forms(bs_cloud, bs_user):
    """Catalog types `block-storage` (Tempest's catalog_type) and `volumev3`, both at
    <base>/volume/v3/<project of the token>. GET <base>/volume/ needs no token and is the version
    list, 300 (cinder/api/versions.py all, api-paste.ini: no auth on `/`): one v3.0 CURRENT
    entry, 3.0 to 3.71 (api_version_request.py), self link <endpoint>/v3/. Every resource is also
    routed without the project id (3.67); a project id other than the token's is 400 "Malformed
    request url" (wsgi.py _process_stack). Responses echo `OpenStack-API-Version: volume <v>`
    and `Vary` (wsgi.py Resource.__call__), `latest` being 3.71."""
    me = bs_user()
    _, body = bs_cloud.token(me.user.name, me.user.password, me.user.project)
    urls = {}
    for service in body["token"]["catalog"]:
        if service["type"] in ("block-storage", "volumev3"):
            urls[service["type"]] = {ep["url"].rstrip("/") for ep in service["endpoints"] if ep["interface"] == "public"}
    expected = f"{bs_cloud.base_url}/volume/v3/{me.project_id}"
    assert urls == {"block-storage": {expected}, "volumev3": {expected}}, urls

    r = requests.get(f"{bs_cloud.base_url}/volume/", timeout=30)
    assert r.status_code == 300, r.text
    (version,) = r.json()["versions"]
    assert version["id"] == "v3.0" and version["status"] == "CURRENT", version
    assert version["version"] == "3.71" and version["min_version"] == "3.0", version
    assert {"rel": "self", "href": f"{bs_cloud.base_url}/volume/v3/"} in version["links"], version
    r = me.req("GET", f"{bs_cloud.base_url}/volume/v3/")
    assert r.status_code == 200 and r.json()["versions"][0]["id"] == "v3.0", r.text
    assert requests.get(f"{expected}/volumes", timeout=30).status_code == 401
    assert requests.get(f"{expected}/volumes", headers={"X-Auth-Token": "not-a-token"}, timeout=30).status_code == 401

    vol = me.create_volume()
    r = me.req("GET", "/volumes")
    assert r.status_code == 200, r.text
    assert r.headers["OpenStack-API-Version"] == "volume 3.0" and "OpenStack-API-Version" in r.headers.get("Vary", "")
    assert [v["id"] for v in r.json()["volumes"]] == [vol["id"]]
    bare = me.req("GET", f"{me.base}/volumes/{vol['id']}", version="3.67")
    assert bare.status_code == 200 and bare.json()["volume"]["id"] == vol["id"], bare.text
    latest = me.req("GET", "/volumes", version="latest")
    assert latest.status_code == 200 and latest.headers["OpenStack-API-Version"] == "volume 3.71", latest.headers

    other = bs_user()
    assert_fault(me.req("GET", f"{me.base}/{other.project_id}/volumes"), 400, "Malformed request url")


# ---- volumes ------------------------------------------------------------------------------

def test_volume_lifecycle_cli(bs_cloud, bs_user):
    """`openstack volume create/show/list/set/unset/delete` as a member. A blank volume is
    `creating` and then `available`, bootable false, of the default type `__DEFAULT__` in zone
    `nova` (cinder/volume/flows/api/create_volume.py, common/config.py default_volume_type);
    its bytes are a qcow2 of the asked size, sparse, at <data_dir>/volumes/volume-<id>.qcow2,
    gone once the volume is (GET is then 404, which is how Tempest waits for a deletion)."""
    me = bs_user()
    name = unique("vol")
    created = me.cli("volume", "create", "--size", "1", "--description", "first", "--property", "a=b", name, "-f", "json")
    vid = created["id"]
    assert UUID_RE.match(vid) and created["name"] == name and created["size"] == 1, created
    assert created["status"] in ("creating", "available"), created
    vol = me.wait_volume(vid)

    shown = me.cli("volume", "show", vid, "-f", "json")
    assert shown["name"] == name and shown["description"] == "first" and shown["status"] == "available", shown
    assert shown["properties"] == {"a": "b"} and shown["type"] == "__DEFAULT__" and shown["bootable"] in (False, "false"), shown
    assert vol["availability_zone"] == "nova" and vol["bootable"] == "false" and vol["user_id"] == me.user_id, vol
    assert vol["os-vol-tenant-attr:tenant_id"] == me.project_id, vol
    listed = me.cli("volume", "list", "-f", "json")
    assert [(v["ID"], v["Name"], v["Status"], v["Size"]) for v in listed] == [(vid, name, "available", 1)], listed

    path = volume_file(bs_cloud, vid)
    info = qemu_info(path)
    assert info["format"] == "qcow2" and info["virtual-size"] == GIB, info
    assert path.stat().st_blocks * 512 < 16 << 20, "a blank volume is sparse"

    new_name = unique("renamed")
    me.cli("volume", "set", "--name", new_name, "--description", "second", "--property", "c=d", vid)
    me.cli("volume", "unset", "--property", "a", vid)
    after = me.show_volume(vid)
    assert after["name"] == new_name and after["description"] == "second", after
    assert after["metadata"] == {"c": "d"}, after
    assert after["created_at"] == vol["created_at"] and after["updated_at"] >= vol["updated_at"], (vol, after)

    me.cli("volume", "delete", vid)
    me.wait_gone("volumes", vid)
    assert not path.exists(), "the volume's file is removed with it"
    assert_fault(me.req("GET", f"/volumes/{vid}"), 404, f"Volume {vid} could not be found.")
    assert me.ok("GET", "/volumes")["volumes"] == []


def test_volume_views(bs_admin, bs_user):
    """The volume as the API shows it (cinder/api/v3/views/volumes.py, Tempest's volume schemas,
    additionalProperties false): create (202) and update (200) answer the bare detail view,
    show and detail lists add the extensions' keys (os-vol-tenant-attr for readers; host and
    migration attributes and migration_status for admins only), and show equals the volume's
    entry in the detail list (Tempest test_volume_list_with_details compares them minus
    updated_at). Later microversions add their fields; the summary list is id, name, links.
    Timestamps are naive ISO with microseconds; bootable is the string "true"/"false"."""
    me = bs_user()
    r = me.req("POST", "/volumes", json={"volume": {"size": 1, "name": "view", "description": "d", "metadata": {"k": "v"}}})
    assert r.status_code == 202, r.text
    created = r.json()["volume"]
    assert set(created) == VOLUME_FIELDS, set(created) ^ VOLUME_FIELDS
    assert created["status"] == "creating" and created["size"] == 1 and created["metadata"] == {"k": "v"}, created
    vid = created["id"]
    me.wait_volume(vid)

    shown = me.show_volume(vid)
    assert set(shown) == SHOWN_FIELDS, set(shown) ^ SHOWN_FIELDS
    assert shown["bootable"] == "false" and shown["encrypted"] is False and shown["multiattach"] is False, shown
    assert shown["volume_type"] == "__DEFAULT__" and shown["attachments"] == [] and shown["snapshot_id"] is None, shown
    assert TIMESTAMP.match(shown["created_at"]) and TIMESTAMP.match(shown["updated_at"]), shown
    assert shown["links"] == [
        {"rel": "self", "href": f"{me.endpoint}/volumes/{vid}"},
        {"rel": "bookmark", "href": f"{me.endpoint.replace('/v3/', '/')}/volumes/{vid}"}], shown["links"]
    (listed,) = me.ok("GET", "/volumes/detail")["volumes"]
    shown.pop("updated_at"), listed.pop("updated_at")
    assert listed == shown
    summary = me.ok("GET", "/volumes")["volumes"]
    assert summary == [{"id": vid, "name": "view", "links": shown["links"]}], summary

    later = me.show_volume(vid, version="3.65")
    assert set(later) == SHOWN_FIELDS | FIELDS_3_65, set(later) ^ (SHOWN_FIELDS | FIELDS_3_65)
    assert later["group_id"] is None and later["consumes_quota"] is True and UUID_RE.match(later["volume_type_id"]), later

    updated = me.ok("PUT", f"/volumes/{vid}", json={"volume": {"name": "view2"}})["volume"]
    assert set(updated) == VOLUME_FIELDS and updated["name"] == "view2" and updated["description"] == "d", updated

    admin_view = bs_admin.show_volume(vid)
    assert set(admin_view) == SHOWN_FIELDS | ADMIN_FIELDS, set(admin_view) ^ (SHOWN_FIELDS | ADMIN_FIELDS)
    assert re.fullmatch(r".+@.+#.+", admin_view["os-vol-host-attr:host"]), admin_view
    assert admin_view["migration_status"] is None and admin_view["os-vol-tenant-attr:tenant_id"] == me.project_id


def test_volume_metadata_api(bs_user):
    """/volumes/{id}/metadata (cinder/api/v3/volume_metadata.py): POST merges and answers the
    whole map, PUT replaces it, GET/PUT/DELETE of one key (`meta`), a body key that is not the
    URL's is 400 "Request body and URI mismatch", a missing key 404."""
    me = bs_user()
    vid = me.create_volume(metadata={"a": "1"})["id"]
    assert me.ok("POST", f"/volumes/{vid}/metadata", json={"metadata": {"b": "2"}}) == {"metadata": {"a": "1", "b": "2"}}
    assert me.ok("GET", f"/volumes/{vid}/metadata") == {"metadata": {"a": "1", "b": "2"}}
    assert me.ok("PUT", f"/volumes/{vid}/metadata", json={"metadata": {"c": "3"}}) == {"metadata": {"c": "3"}}
    assert me.ok("GET", f"/volumes/{vid}/metadata/c") == {"meta": {"c": "3"}}
    assert me.ok("PUT", f"/volumes/{vid}/metadata/c", json={"meta": {"c": "4"}}) == {"meta": {"c": "4"}}
    assert_fault(me.req("PUT", f"/volumes/{vid}/metadata/c", json={"meta": {"d": "4"}}), 400, "Request body and URI mismatch")
    assert_fault(me.req("PUT", f"/volumes/{vid}/metadata/c", json={"meta": {"c": "1", "d": "2"}}), 400)
    assert_fault(me.req("GET", f"/volumes/{vid}/metadata/nope"), 404, "has no metadata with key nope")
    r = me.req("DELETE", f"/volumes/{vid}/metadata/c")
    assert r.status_code == 200, r.text
    assert_fault(me.req("DELETE", f"/volumes/{vid}/metadata/c"), 404)
    assert me.show_volume(vid)["metadata"] == {}


# ---- snapshots, clones, images ------------------------------------------------------------

def test_snapshots_and_volumes_made_from_them(bs_cloud, bs_user):
    """Snapshots (cinder/api/v3/snapshots.py): `openstack volume snapshot create` is `creating`,
    then `available` with progress 100% and the volume's size; the snapshot is a point-in-time
    copy (its own qcow2, snapshot-<id>.qcow2). A volume from it inherits its size when none is
    given, may be bigger, and smaller is 400 "...cannot be smaller than the snapshot size..."
    (cinder/volume/flows/api/create_volume.py _extract_size); a clone (`--source`) likewise
    with "...cannot be smaller than original volume size...". Their bytes are the snapshot's
    (or the source's) at the time."""
    me = bs_user()
    src = me.create_volume(size=2)
    src_file = volume_file(bs_cloud, src["id"])
    qemu_write_pattern(src_file, 0xAA)

    created = me.cli("volume", "snapshot", "create", "--volume", src["id"], "--description", "point", unique("snap"), "-f", "json")
    assert created["status"] in ("creating", "available") and created["size"] == 2, created
    sid = created["id"]
    snap = me.wait_snapshot(sid)
    assert set(snap) == SNAPSHOT_FIELDS | SNAPSHOT_EXTENDED, set(snap) ^ (SNAPSHOT_FIELDS | SNAPSHOT_EXTENDED)
    assert snap["volume_id"] == src["id"] and snap["size"] == 2 and snap["description"] == "point", snap
    assert snap["os-extended-snapshot-attributes:progress"] == "100%", snap
    assert snap["os-extended-snapshot-attributes:project_id"] == me.project_id, snap
    assert [s["id"] for s in me.ok("GET", "/snapshots", params={"volume_id": src["id"]})["snapshots"]] == [sid]
    assert set(me.ok("GET", "/snapshots")["snapshots"][0]) == SNAPSHOT_FIELDS
    snap_path = snapshot_file(bs_cloud, sid)
    assert qemu_info(snap_path)["virtual-size"] == 2 * GIB
    assert qemu_same_content(snap_path, src_file)
    qemu_write_pattern(src_file, 0xBB)  # after the snapshot: not in it

    inherited = me.create_volume(size=None, snapshot_id=sid)
    assert inherited["size"] == 2 and inherited["snapshot_id"] == sid and inherited["bootable"] == "false", inherited
    assert qemu_same_content(volume_file(bs_cloud, inherited["id"]), snap_path)
    assert not qemu_same_content(volume_file(bs_cloud, inherited["id"]), src_file)

    bigger = me.cli("volume", "create", "--snapshot", sid, "--size", "3", unique("bigger"), "-f", "json")
    bigger = me.wait_volume(bigger["id"])
    assert bigger["size"] == 3 and bigger["snapshot_id"] == sid, bigger
    assert qemu_info(volume_file(bs_cloud, bigger["id"]))["virtual-size"] == 3 * GIB
    assert qemu_same_content(volume_file(bs_cloud, bigger["id"]), snap_path)
    smaller = me.req("POST", "/volumes", json={"volume": {"size": 1, "snapshot_id": sid}})
    assert_fault(smaller, 400, "cannot be smaller than the snapshot size")

    clone = me.cli("volume", "create", "--source", src["id"], unique("clone"), "-f", "json")
    clone = me.wait_volume(clone["id"])
    assert clone["size"] == 2 and clone["source_volid"] == src["id"], clone
    assert qemu_same_content(volume_file(bs_cloud, clone["id"]), src_file), "a clone has the source's current bytes"
    small_clone = me.req("POST", "/volumes", json={"volume": {"size": 1, "source_volid": src["id"]}})
    assert_fault(small_clone, 400, "cannot be smaller than original volume size")
    assert len(volume_ids(me)) == 4

    renamed = me.ok("PUT", f"/snapshots/{sid}", json={"snapshot": {"name": "renamed"}})["snapshot"]
    assert renamed["name"] == "renamed" and renamed["description"] == "point", renamed
    r = me.req("DELETE", f"/snapshots/{sid}")
    assert r.status_code == 202, r.text
    me.wait_gone("snapshots", sid)
    assert not snap_path.exists(), "the snapshot's file is removed with it"
    for vid in (inherited["id"], bigger["id"]):
        assert me.show_volume(vid)["status"] == "available" and volume_file(bs_cloud, vid).exists()


def test_volume_from_image(bs_cloud, bs_user):
    """`openstack volume create --image nimbus-test --size 1`: the volume is bootable ("true")
    and carries the image's metadata as `volume_image_metadata` (image_id, image_name, the
    checksum/format/min_* attributes and the image's own properties such as os_distro;
    cinder/volume/flows/manager/create_volume.py _capture_volume_image_metadata), shown to the
    project (policy volume_image_metadata:show, reader) and by os-show_image_metadata. The file
    is a qcow2 of the requested virtual size whose content is the image's."""
    me = bs_user()
    image = bs_cloud.test_image
    created = me.cli("volume", "create", "--image", "nimbus-test", "--size", "1", unique("boot"), "-f", "json")
    vol = me.wait_volume(created["id"])
    assert vol["bootable"] == "true" and vol["size"] == 1, vol
    meta = vol["volume_image_metadata"]
    assert meta["image_id"] == image["id"] and meta["image_name"] == "nimbus-test", meta
    assert meta["os_distro"] == "nimbus-test" and meta["disk_format"] == "qcow2" and meta["checksum"] == image["checksum"], meta
    shown = me.ok("POST", f"/volumes/{vol['id']}/action", json={"os-show_image_metadata": None})
    assert shown == {"metadata": meta}, shown
    path = volume_file(bs_cloud, vol["id"])
    info = qemu_info(path)
    assert info["format"] == "qcow2" and info["virtual-size"] == GIB, info
    assert qemu_same_content(bs_cloud.test_image_path, path), "the volume holds the image's bytes"
    clone = me.create_volume(size=None, source_volid=vol["id"])
    assert clone["bootable"] == "true" and clone["volume_image_metadata"] == meta, clone


def test_image_ref_by_name(bs_cloud, bs_user):
    """imageRef names an image by id, else by name (cinder/api/v3/volumes.py
    _image_uuid_from_ref: `image_service.show` by id, then a list filtered by name; the volume
    then records the image's id)."""
    me = bs_user()
    r = me.req("POST", "/volumes", json={"volume": {"size": 1, "imageRef": "nimbus-test"}})
    assert r.status_code == 202, r.text
    vol = me.wait_volume(r.json()["volume"]["id"])
    assert vol["bootable"] == "true" and vol["volume_image_metadata"]["image_id"] == bs_cloud.test_image["id"], vol


def test_unknown_image_ref(bs_user):
    """An imageRef that resolves to no image (neither an id nor a name the project can see) is
    400 "Invalid image identifier or unable to access requested image." (cinder/api/v3/
    volumes.py _image_uuid_from_ref raises HTTPBadRequest), not 404; nothing is created."""
    me = bs_user()
    for ref in (str(uuid.uuid4()), "no-such-image", f"http://images.example/v2/images/{uuid.uuid4()}"):
        r = me.req("POST", "/volumes", json={"volume": {"size": 1, "imageRef": ref}})
        assert_fault(r, 400, "Invalid image identifier or unable to access requested image.")
    assert volume_ids(me) == set()


def test_extend_and_cascade_delete(bs_cloud, bs_user):
    """`openstack volume set --size` (os-extend, cinder/api/contrib/volume_actions.py _extend,
    volume/api.py extend): the volume grows (qemu-img sees the new virtual size), also with a
    snapshot (Tempest test_volume_extend_when_volume_has_snapshot); a size not above the current
    is 400 "New size for extend must be greater than current size."; a non-integer new_size is
    400. A volume with snapshots cannot be deleted (400 InvalidVolume), with cascade it goes
    with its snapshots (`openstack volume delete --purge`), files and all."""
    me = bs_user()
    vid = me.create_volume()["id"]
    me.cli("volume", "set", "--size", "2", vid)
    wait_for(lambda: (v := me.show_volume(vid))["status"] == "available" and v["size"] == 2, 30, what="extended")
    assert qemu_info(volume_file(bs_cloud, vid))["virtual-size"] == 2 * GIB
    for bad in (1, 2):
        assert_fault(me.action(vid, "os-extend", {"new_size": bad}), 400, "New size for extend must be greater than current size")
    for junk in ("abc", None, -1):
        assert_fault(me.action(vid, "os-extend", {"new_size": junk}), 400)
    assert_fault(me.action(vid, "os-extend", {}), 400)

    sid = me.create_snapshot(vid)["id"]
    r = me.action(vid, "os-extend", {"new_size": 3})
    assert r.status_code == 202 and not r.content, r.text
    wait_for(lambda: (v := me.show_volume(vid))["status"] == "available" and v["size"] == 3, 30, what="extended")
    assert qemu_info(volume_file(bs_cloud, vid))["virtual-size"] == 3 * GIB
    assert qemu_info(snapshot_file(bs_cloud, sid))["virtual-size"] == 2 * GIB, "the snapshot keeps its size"

    assert_fault(me.req("DELETE", f"/volumes/{vid}"), 400, "snapshots")
    assert me.show_volume(vid)["status"] == "available" and me.wait_snapshot(sid)
    me.cli("volume", "delete", "--purge", vid)
    me.wait_gone("volumes", vid)
    assert_fault(me.req("GET", f"/snapshots/{sid}"), 404, f"Snapshot {sid} could not be found.")
    assert not volume_file(bs_cloud, vid).exists() and not snapshot_file(bs_cloud, sid).exists()


def test_revert_to_snapshot(bs_cloud, bs_admin, bs_user):
    """`revert` (3.40, cinder/api/v3/volumes.py revert, volume/api.py revert_to_snapshot): the
    volume's bytes become its latest snapshot's; a snapshot that is not the latest, or a volume
    extended since, is 400; a volume that is not `available` is 409 (InvalidVolume from
    revert_to_snapshot is turned into HTTPConflict)."""
    me = bs_user()
    vid = me.create_volume()["id"]
    path = volume_file(bs_cloud, vid)
    first = me.create_snapshot(vid)["id"]
    qemu_write_pattern(path, 0xCC)
    assert not qemu_same_content(path, snapshot_file(bs_cloud, first))
    r = me.action(vid, "revert", {"snapshot_id": first}, version="3.40")
    assert r.status_code == 202, r.text
    me.wait_volume(vid)
    assert qemu_same_content(path, snapshot_file(bs_cloud, first)), "the volume is the snapshot's again"

    second = me.create_snapshot(vid)["id"]
    assert_fault(me.action(vid, "revert", {"snapshot_id": first}, version="3.40"), 400)
    assert me.action(vid, "os-extend", {"new_size": 2}).status_code == 202
    wait_for(lambda: me.show_volume(vid)["size"] == 2 and me.show_volume(vid)["status"] == "available", 30, what="extended")
    assert_fault(me.action(vid, "revert", {"snapshot_id": second}, version="3.40"), 400)
    third = me.create_snapshot(vid)["id"]
    assert bs_admin.action(vid, "os-reset_status", {"status": "error"}).status_code == 202
    assert_fault(me.action(vid, "revert", {"snapshot_id": third}, version="3.40"), 409)


# ---- volume types -------------------------------------------------------------------------

def test_private_volume_type_access(bs_cloud, bs_admin, bs_user):
    """A private type (cinder/api/contrib/types_manage.py, volume_type_access.py,
    db _volume_type_get_query): a member project neither lists nor sees it (404) nor creates a
    volume of it (404 VolumeTypeNotFound) until the admin adds the project's access
    (`openstack volume type set --project`); the creator's project gets no access by creating it.
    Members see only the user-visible extra specs (multiattach, replication_enabled,
    RESKEY:availability_zones; policy read_sensitive is admin). A duplicate name or access is
    409; a type in use cannot be deleted (400) nor its specs changed (400); members cannot
    manage types (403)."""
    member = bs_user()
    name = unique("private")
    created = bs_admin.cli("volume", "type", "create", "--private", "--description", "secret",
                           "--property", "volume_backend_name=file", "--property", "multiattach=<is> True", name, "-f", "json")
    tid = created["id"]
    assert created["is_public"] is False and created["name"] == name, created
    assert bs_admin.ok("GET", f"/types/{tid}/os-volume-type-access") == {"volume_type_access": []}

    assert tid not in {t["id"] for t in member.ok("GET", "/types")["volume_types"]}
    assert_fault(member.req("GET", f"/types/{tid}"), 404)
    for ref in (name, tid):
        assert_fault(member.req("POST", "/volumes", json={"volume": {"size": 1, "volume_type": ref}}), 404)

    bs_admin.cli("volume", "type", "set", "--project", member.project_id, name)
    assert bs_admin.ok("GET", f"/types/{tid}/os-volume-type-access") == {
        "volume_type_access": [{"volume_type_id": tid, "project_id": member.project_id}]}
    seen = member.ok("GET", f"/types/{tid}")["volume_type"]
    assert seen["name"] == name and seen["is_public"] is False and seen["description"] == "secret", seen
    assert seen["extra_specs"] == {"multiattach": "<is> True"} and "qos_specs_id" not in seen, seen
    assert tid in {t["id"] for t in member.ok("GET", "/types")["volume_types"]}
    vol = member.create_volume(volume_type=name)
    assert vol["volume_type"] == name, vol

    dup = bs_admin.req("POST", "/types", json={"volume_type": {"name": name}})
    assert_fault(dup, 409, f"Volume Type {name} already exists.")
    again = bs_admin.req("POST", f"/types/{tid}/action", json={"addProjectAccess": {"project": member.project_id}})
    assert_fault(again, 409)
    assert_fault(bs_admin.req("DELETE", f"/types/{tid}"), 400, "in use")
    assert_fault(bs_admin.req("POST", f"/types/{tid}/extra_specs", json={"extra_specs": {"k": "v"}}), 400, "in use")
    assert_fault(member.req("POST", "/types", json={"volume_type": {"name": unique("mine")}}), 403,
                 "Policy doesn't allow volume_extension:type_create to be performed.")
    assert_fault(member.req("DELETE", f"/types/{tid}"), 403)

    member.ok("DELETE", f"/volumes/{vol['id']}", status=202)
    member.wait_gone("volumes", vol["id"])
    r = bs_admin.req("POST", f"/types/{tid}/action", json={"removeProjectAccess": {"project": member.project_id}})
    assert r.status_code == 202, r.text
    assert_fault(member.req("GET", f"/types/{tid}"), 404)
    assert bs_admin.req("DELETE", f"/types/{tid}").status_code == 202
    assert_fault(bs_admin.req("GET", f"/types/{tid}"), 404)


# ---- quotas and limits --------------------------------------------------------------------

def test_quotas_and_limits(bs_admin, bs_user):
    """Quotas (cinder/api/contrib/quotas.py, quota.py, quota_utils.py): with volumes=1
    (`openstack quota set --volumes 1`), a second volume is 413 overLimit with Retry-After 0
    (QuotaError, safe, rendered by middleware/fault.py); gigabytes=1 refuses an extend and
    snapshots=0 a snapshot the same way. ?usage=True shows {limit, in_use, reserved}; a limit
    below the usage is 400; DELETE brings the defaults back (200). GET /limits
    (cinder/api/v3/limits.py, contrib/used_limits.py) has exactly the ten absolute keys, the
    project's limits and usage."""
    me = bs_user()
    pid = me.project_id
    bs_admin.cli("quota", "set", "--volumes", "1", pid)
    assert me.ok("GET", f"/os-quota-sets/{pid}")["quota_set"]["volumes"] == 1
    vid = me.create_volume()["id"]
    assert_over_quota(me.req("POST", "/volumes", json={"volume": {"size": 1}}))
    assert volume_ids(me) == {vid}

    usage = me.ok("GET", f"/os-quota-sets/{pid}", params={"usage": "True"})["quota_set"]
    assert usage["id"] == pid
    assert usage["volumes"] == {"limit": 1, "in_use": 1, "reserved": 0}, usage
    assert usage["gigabytes"] == {"limit": 1000, "in_use": 1, "reserved": 0}, usage
    assert usage["volumes___DEFAULT__"] == {"limit": -1, "in_use": 1, "reserved": 0}, usage

    r = bs_admin.req("PUT", f"/os-quota-sets/{pid}", json={"quota_set": {"gigabytes": 1, "snapshots": 0}})
    assert r.status_code == 200, r.text
    updated = r.json()["quota_set"]
    assert "id" not in updated and updated["gigabytes"] == 1 and updated["snapshots"] == 0 and updated["volumes"] == 1, updated
    message = assert_over_quota(me.action(vid, "os-extend", {"new_size": 2}))
    assert "gigabytes" in message, message
    assert me.show_volume(vid)["size"] == 1
    assert_over_quota(me.req("POST", "/snapshots", json={"snapshot": {"volume_id": vid}}))

    limits = me.ok("GET", "/limits")["limits"]
    assert limits["rate"] == [] and set(limits["absolute"]) == ABSOLUTE_LIMITS, limits
    absolute = limits["absolute"]
    assert (absolute["maxTotalVolumes"], absolute["maxTotalVolumeGigabytes"], absolute["maxTotalSnapshots"]) == (1, 1, 0)
    assert (absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"], absolute["totalSnapshotsUsed"]) == (1, 1, 0)

    assert_fault(me.req("PUT", f"/os-quota-sets/{pid}", json={"quota_set": {"volumes": 100}}), 403)
    assert_fault(bs_admin.req("PUT", f"/os-quota-sets/{pid}", json={"quota_set": {"volumes": 0}}), 400)
    assert_fault(bs_admin.req("PUT", f"/os-quota-sets/{pid}", json={"quota_set": {"bogus": 1}}), 400, "Bad key(s) in quota set")
    r = bs_admin.req("DELETE", f"/os-quota-sets/{pid}")
    assert r.status_code == 200 and not r.content, r.text
    shown = me.ok("GET", f"/os-quota-sets/{pid}")["quota_set"]
    assert {k: shown[k] for k in DEFAULT_QUOTAS} == DEFAULT_QUOTAS, shown


def test_quota_refusal_names_the_exception(bs_admin, bs_user):
    """A QuotaError is not caught by the controller's ResourceExceptionHandler (not Invalid,
    not NotAuthorized): the FaultWrapper middleware renders it, and as the exception is `safe`
    its message is "<ExceptionClass>: <msg>" (cinder/api/middleware/fault.py _error), e.g.
    "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    (cinder/exception.py VolumeLimitExceeded, quota_utils.process_reserve_over_quota)."""
    me = bs_user()
    bs_admin.ok("PUT", f"/os-quota-sets/{me.project_id}", json={"quota_set": {"volumes": 1}})
    me.create_volume()
    message = assert_over_quota(me.req("POST", "/volumes", json={"volume": {"size": 1}}))
    assert message == "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'.", message


def test_quota_class_default(bs_admin, bs_user):
    """The `default` quota class (cinder/api/contrib/quota_classes.py): admin-only; show has
    id "default", update answers the class without "id", and the class is what projects without
    their own limits get."""
    me = bs_user()
    shown = bs_admin.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]
    assert shown["id"] == "default" and {k: shown[k] for k in DEFAULT_QUOTAS} == DEFAULT_QUOTAS, shown
    assert_fault(me.req("GET", "/os-quota-class-sets/default"), 403)
    try:
        r = bs_admin.req("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"volumes": 7}})
        assert r.status_code == 200, r.text
        assert "id" not in r.json()["quota_class_set"] and r.json()["quota_class_set"]["volumes"] == 7, r.text
        assert me.ok("GET", f"/os-quota-sets/{me.project_id}")["quota_set"]["volumes"] == 7
        assert me.ok("GET", f"/os-quota-sets/{me.project_id}/defaults")["quota_set"]["volumes"] == 7
        assert me.ok("GET", "/limits")["limits"]["absolute"]["maxTotalVolumes"] == 7
    finally:
        bs_admin.ok("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"volumes": 10}})


# ---- transfers ----------------------------------------------------------------------------

def test_transfer_between_projects(bs_admin, bs_user):
    """Volume transfers (cinder/api/contrib/volume_transfer.py, transfer/api.py): the giver's
    `openstack volume transfer request create` shows the auth key once (16 lowercase hex), the
    volume is `awaiting-transfer` and cannot be deleted; the key never shows again; other
    projects do not see the transfer. A wrong key is 400 "Invalid auth key", a receiver without
    quota for it 413; the right key moves the volume and its snapshots to the receiver
    (available, its user and project; the giver gets 404), the transfer is gone and the quota
    usage moves with the volume (Tempest test_volume_transfers, test_volume_quotas
    test_quota_usage_after_volume_transfer)."""
    giver, taker = bs_user(), bs_user()
    vid = giver.create_volume(metadata={"k": "v"})["id"]
    sid = giver.create_snapshot(vid)["id"]
    created = giver.cli("volume", "transfer", "request", "create", "--name", "gift", vid, "-f", "json")
    tid, key = created["id"], created["auth_key"]
    assert re.fullmatch(r"[0-9a-f]{16}", key) and created["volume_id"] == vid and created["name"] == "gift", created
    assert giver.show_volume(vid)["status"] == "awaiting-transfer"
    shown = giver.ok("GET", f"/os-volume-transfer/{tid}")["transfer"]
    assert set(shown) == {"id", "name", "volume_id", "created_at", "links"}, shown
    assert [t["id"] for t in giver.ok("GET", "/os-volume-transfer")["transfers"]] == [tid]
    assert taker.ok("GET", "/os-volume-transfer")["transfers"] == []
    assert_fault(taker.req("GET", f"/os-volume-transfer/{tid}"), 404)
    assert_fault(giver.req("DELETE", f"/volumes/{vid}"), 400)

    wrong = taker.req("POST", f"/os-volume-transfer/{tid}/accept", json={"accept": {"auth_key": "0" * 16}})
    assert_fault(wrong, 400, "Invalid auth key")
    assert giver.show_volume(vid)["status"] == "awaiting-transfer"
    bs_admin.ok("PUT", f"/os-quota-sets/{taker.project_id}", json={"quota_set": {"volumes": 0}})
    full = taker.req("POST", f"/os-volume-transfer/{tid}/accept", json={"accept": {"auth_key": key}})
    assert_fault(full, 413)
    assert giver.show_volume(vid)["status"] == "awaiting-transfer"
    bs_admin.ok("DELETE", f"/os-quota-sets/{taker.project_id}")
    taker.cli("volume", "transfer", "request", "accept", "--auth-key", key, tid)

    vol = taker.show_volume(vid)
    assert vol["status"] == "available" and vol["user_id"] == taker.user_id, vol
    assert vol["os-vol-tenant-attr:tenant_id"] == taker.project_id and vol["metadata"] == {"k": "v"}, vol
    snap = taker.ok("GET", f"/snapshots/{sid}")["snapshot"]
    assert snap["os-extended-snapshot-attributes:project_id"] == taker.project_id, snap
    assert_fault(giver.req("GET", f"/snapshots/{sid}"), 404)
    assert_fault(giver.req("GET", f"/volumes/{vid}"), 404)
    assert_fault(giver.req("GET", f"/os-volume-transfer/{tid}"), 404)
    assert volume_ids(taker) == {vid} and volume_ids(giver) == set()
    usage = lambda who: who.ok("GET", f"/os-quota-sets/{who.project_id}", params={"usage": "1"})["quota_set"]["volumes"]["in_use"]
    assert (usage(giver), usage(taker)) == (0, 1)


def test_volume_transfers_v3_and_cancel(bs_user):
    """/volume-transfers (cinder/api/v3/volume_transfer.py): at 3.57 the view adds no_snapshots
    (3.55), source_project_id, destination_project_id (null) and accepted (false); deleting the
    transfer (202) makes the volume available again."""
    me = bs_user()
    vid = me.create_volume()["id"]
    r = me.req("POST", "/volume-transfers", version="3.57", json={"transfer": {"volume_id": vid, "no_snapshots": True}})
    assert r.status_code == 202, r.text
    t = r.json()["transfer"]
    assert t["no_snapshots"] is True and t["source_project_id"] == me.project_id, t
    assert t["destination_project_id"] is None and t["accepted"] is False and len(t["auth_key"]) == 16, t
    assert me.req("DELETE", f"/volume-transfers/{t['id']}").status_code == 202
    assert me.show_volume(vid)["status"] == "available"
    assert_fault(me.req("GET", f"/volume-transfers/{t['id']}"), 404)


# ---- isolation and policy -----------------------------------------------------------------

def test_other_projects_get_404(bs_user):
    """Resources of another project are invisible, not forbidden: Cinder's DB lookups are
    project-scoped (cinder/db/sqlalchemy/api.py model_query project_only), so show, update,
    delete, actions, metadata, snapshot create, clone and transfer of someone else's volume are
    404 itemNotFound, and all_tenants from a non-admin is ignored."""
    owner, other = bs_user(), bs_user()
    vid = owner.create_volume(metadata={"k": "v"})["id"]
    sid = owner.create_snapshot(vid)["id"]
    missing = f"Volume {vid} could not be found."
    assert_fault(other.req("GET", f"/volumes/{vid}"), 404, missing)
    assert_fault(other.req("PUT", f"/volumes/{vid}", json={"volume": {"name": "mine"}}), 404, missing)
    assert_fault(other.req("DELETE", f"/volumes/{vid}"), 404, missing)
    assert_fault(other.action(vid, "os-extend", {"new_size": 2}), 404)
    assert_fault(other.req("GET", f"/volumes/{vid}/metadata"), 404)
    assert_fault(other.req("POST", f"/volumes/{vid}/metadata", json={"metadata": {"x": "y"}}), 404)
    assert_fault(other.req("POST", "/snapshots", json={"snapshot": {"volume_id": vid}}), 404, missing)
    assert_fault(other.req("GET", f"/snapshots/{sid}"), 404)
    assert_fault(other.req("DELETE", f"/snapshots/{sid}"), 404)
    assert_fault(other.req("POST", "/volumes", json={"volume": {"source_volid": vid}}), 404)
    assert_fault(other.req("POST", "/volumes", json={"volume": {"snapshot_id": sid}}), 404)
    assert_fault(other.req("POST", "/os-volume-transfer", json={"transfer": {"volume_id": vid}}), 404)
    assert volume_ids(other) == set() and volume_ids(other, all_tenants="1") == set()
    assert other.ok("GET", "/snapshots/detail", params={"all_tenants": "1"})["snapshots"] == []
    vol = owner.show_volume(vid)
    assert vol["status"] == "available" and vol["metadata"] == {"k": "v"} and vol["size"] == 1, vol
    assert owner.wait_snapshot(sid)["status"] == "available"


def test_reader_can_look_but_not_change(bs_user):
    """The project reader role (cinder/policies: volume:get and get_all are reader; create,
    update, delete, extend, snapshot create are member): a reader sees the project's volumes and
    gets 403 "Policy doesn't allow volume:create to be performed." (and the like) for changes,
    also from the CLI."""
    owner = bs_user()
    reader = bs_user("reader", project_of=owner)
    vid = owner.create_volume()["id"]
    assert reader.show_volume(vid)["id"] == vid and volume_ids(reader) == {vid}
    assert_fault(reader.req("POST", "/volumes", json={"volume": {"size": 1}}), 403,
                 "Policy doesn't allow volume:create to be performed.")
    assert_fault(reader.req("PUT", f"/volumes/{vid}", json={"volume": {"name": "x"}}), 403)
    assert_fault(reader.req("DELETE", f"/volumes/{vid}"), 403)
    assert_fault(reader.action(vid, "os-extend", {"new_size": 2}), 403)
    assert_fault(reader.req("POST", "/snapshots", json={"snapshot": {"volume_id": vid}}), 403)
    assert_forbidden_cli(reader.cli("volume", "create", "--size", "1", unique("nope"), check=False))
    assert volume_ids(owner) == {vid}


# ---- admin actions ------------------------------------------------------------------------

def test_volume_actions(bs_cloud, bs_admin, bs_user):
    """Volume actions (cinder/api/contrib/admin_actions.py, volume_actions.py, Tempest
    test_volumes_actions): os-reset_status is admin-only (403 for a member), `deleting` and
    unknown statuses are 400; os-update_readonly_flag needs `available` and shows as metadata
    readonly "True"; os-set_bootable answers 200; os-reserve moves to `attaching` and twice is
    400, os-unreserve back; os-begin_detaching of a detached volume is 400; os-retype changes
    the type; os-force_delete (admin) removes a volume in `error`."""
    me = bs_user()
    vid = me.create_volume()["id"]
    assert_fault(me.action(vid, "os-reset_status", {"status": "error"}), 403)
    assert bs_admin.action(vid, "os-reset_status", {"status": "error"}).status_code == 202
    assert me.show_volume(vid)["status"] == "error"
    assert_fault(bs_admin.action(vid, "os-reset_status", {"status": "deleting"}), 400)
    assert_fault(bs_admin.action(vid, "os-reset_status", {"status": "bogus"}), 400)
    assert_fault(me.action(vid, "os-update_readonly_flag", {"readonly": True}), 400)
    assert bs_admin.action(vid, "os-reset_status", {"status": "available"}).status_code == 202

    r = me.action(vid, "os-update_readonly_flag", {"readonly": True})
    assert r.status_code == 202, r.text
    assert me.show_volume(vid)["metadata"] == {"readonly": "True"}
    r = me.action(vid, "os-set_bootable", {"bootable": True})
    assert r.status_code == 200, r.text
    assert me.show_volume(vid)["bootable"] == "true"
    assert_fault(me.action(vid, "os-set_bootable", {"bootable": "maybe"}), 400)

    assert me.action(vid, "os-reserve").status_code == 202
    assert me.show_volume(vid)["status"] == "attaching"
    assert_fault(me.action(vid, "os-reserve"), 400)
    assert me.action(vid, "os-unreserve").status_code == 202
    assert me.show_volume(vid)["status"] == "available"
    assert_fault(me.action(vid, "os-begin_detaching"), 400)
    assert me.action(vid, "os-roll_detaching").status_code == 202
    assert me.show_volume(vid)["status"] == "available"

    other_type = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("other")}})["volume_type"]
    assert me.action(vid, "os-retype", {"new_type": other_type["name"], "migration_policy": "never"}).status_code == 202
    wait_for(lambda: me.show_volume(vid)["volume_type"] == other_type["name"], 30, what="retyped")
    assert_fault(me.action(vid, "os-retype", {"new_type": "no-such-type"}), 404)

    assert bs_admin.action(vid, "os-reset_status", {"status": "error"}).status_code == 202
    assert_fault(me.action(vid, "os-force_delete"), 403)
    assert bs_admin.action(vid, "os-force_delete").status_code == 202
    me.wait_gone("volumes", vid)
    assert not volume_file(bs_cloud, vid).exists()


def test_reset_status_to_in_use_needs_attachments(bs_admin, bs_user):
    """os-reset_status to `in-use` of a volume without attachments is 400 "Cannot reset-state to
    in-use because volume does not have any attachments." (cinder/api/contrib/admin_actions.py
    VolumeAdminController._reset_status); the volume keeps its status."""
    me = bs_user()
    vid = me.create_volume()["id"]
    assert_fault(bs_admin.action(vid, "os-reset_status", {"status": "in-use"}), 400,
                 "Cannot reset-state to in-use because volume does not have any attachments.")
    assert me.show_volume(vid)["status"] == "available"


def test_zones_services_pools_extensions(bs_admin, bs_member):
    """GET /os-availability-zone (no policy): the zone `nova`, available. GET /extensions lists
    {name, alias, description, updated, links}. /os-services and /scheduler-stats/get_pools are
    admin-only (403 for a member): the three binaries (the backup service with the object store)
    up in `nova`, one pool named host@backend#pool (Tempest's pattern) whose detail has the
    capacity and capabilities."""
    zones = bs_member.ok("GET", "/os-availability-zone")
    assert zones == {"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]}, zones
    exts = bs_member.ok("GET", "/extensions")["extensions"]
    for ext in exts:
        assert set(ext) == {"name", "alias", "description", "updated", "links"}, ext
    assert {"os-volume-transfer", "os-quota-sets", "os-volume-type-access", "os-vol-image-meta"} <= {e["alias"] for e in exts}

    services = bs_admin.ok("GET", "/os-services")["services"]
    assert {s["binary"] for s in services} == {"cinder-scheduler", "cinder-volume", "cinder-backup"}, services
    assert all(s["state"] == "up" and s["status"] == "enabled" and s["zone"] == "nova" for s in services), services
    assert_fault(bs_member.req("GET", "/os-services"), 403)
    (pool,) = bs_admin.ok("GET", "/scheduler-stats/get_pools")["pools"]
    assert set(pool) == {"name"} and re.fullmatch(r".+@.+#.+", pool["name"]), pool
    (detail,) = bs_admin.ok("GET", "/scheduler-stats/get_pools", params={"detail": "true"})["pools"]
    caps = detail["capabilities"]
    assert isinstance(caps["total_capacity_gb"], (int, float)) and isinstance(caps["free_capacity_gb"], (int, float)), caps
    assert caps["vendor_name"] == "Open Source", caps
    assert_fault(bs_member.req("GET", "/scheduler-stats/get_pools"), 403)


def test_sdk_volume_flow(bs_user):
    """openstacksdk's block_storage proxy: create, wait, get, update, list, delete, and a
    NotFoundException (404) for a missing volume."""
    me = bs_user()
    conn = me.sdk()
    vol = conn.block_storage.create_volume(size=1, name=unique("sdk"))
    vol = conn.block_storage.wait_for_status(vol, "available", failures=["error"], interval=0.2, wait=60)
    assert vol.size == 1 and vol.is_bootable is False
    conn.block_storage.update_volume(vol, description="via sdk")
    assert conn.block_storage.get_volume(vol.id).description == "via sdk"
    assert [v.id for v in conn.block_storage.volumes()] == [vol.id]
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.block_storage.get_volume(str(uuid.uuid4()))
    conn.block_storage.delete_volume(vol)
    conn.block_storage.wait_for_delete(vol, interval=0.2, wait=60)


# ---- bad input ----------------------------------------------------------------------------

BAD_CREATES = [
    ("not-json", "not json", 400, "Malformed request body"),
    ("array", "[1, 2]", 400, None),
    ("empty-object", "{}", 400, None),
    ("volume-not-object", '{"volume": "big"}', 400, None),
    ("size-abc", '{"volume": {"size": "abc"}}', 400, None),
    ("size-0", '{"volume": {"size": 0}}', 400, None),
    ("size-string-0", '{"volume": {"size": "0"}}', 400, None),
    ("size-negative", '{"volume": {"size": -1}}', 400, None),
    ("size-fraction", '{"volume": {"size": 1.5}}', 400, None),
    ("size-empty-string", '{"volume": {"size": ""}}', 400, None),
    ("size-over-int32", '{"volume": {"size": 2147483648}}', 400, None),
    ("size-huge", '{"volume": {"size": 2000}}', 413, None),
    ("no-size-no-source", '{"volume": {}}', 400, None),
    ("name-256", '{"volume": {"size": 1, "name": "%s"}}' % ("n" * 256), 400, None),
    ("unknown-type", '{"volume": {"size": 1, "volume_type": "no-such-type"}}', 404, None),
    ("snapshot-not-uuid", '{"volume": {"size": 1, "snapshot_id": "not-a-uuid"}}', 400, None),
    ("unknown-snapshot", '{"volume": {"snapshot_id": "%s"}}' % uuid.uuid4(), 404, None),
    ("unknown-source", '{"volume": {"source_volid": "%s"}}' % uuid.uuid4(), 404, None),
    ("unknown-zone", '{"volume": {"size": 1, "availability_zone": "elsewhere"}}', 400, "Availability zone 'elsewhere' is invalid"),
    ("multiattach", '{"volume": {"size": 1, "multiattach": true}}', 400, "multiattach parameter has been removed"),
    ("extra-top-level-key", '{"volume": {"size": 1}, "extra": 1}', 400, None),
]


@pytest.mark.parametrize("body, status, fragment", [pytest.param(*case[1:], id=case[0]) for case in BAD_CREATES])
def test_bad_volume_create(bs_member, body, status, fragment):
    """POST /volumes with bad bodies (cinder/api/schemas/volumes.py create, validation/
    parameter_types.py volume_size: integer or digit string, 1..2**31-1; wsgi.py: undecodable
    JSON is "Malformed request body"; cinder/volume/flows/api/create_volume.py: unknown zone
    400, unknown type/snapshot/source 404; a size over the limits is 413 overLimit). Nothing is
    created."""
    before = volume_ids(bs_member)
    r = bs_member.req("POST", "/volumes", data=body, headers={"Content-Type": "application/json"})
    assert_fault(r, status, fragment)
    if status == 413:
        assert r.headers.get("Retry-After") == "0", r.headers
    assert volume_ids(bs_member) == before


def test_bad_actions_listing_and_microversions(bs_user):
    """An unknown action is 400 "There is no such action" (wsgi.py _process_stack), a body of
    two actions 400. Microversions (wsgi.py Request.set_api_version_request,
    api_version_request.py): 3.99 is 406 computeFault "Version 3.99 is not supported by the
    API. Minimum is 3.0 and maximum is 3.71.", a malformed one 400; /volumes/summary is 404
    below 3.12. Listing (cinder/api/common.py): unknown sort key or direction 400, sort with
    sort_key 400, a non-integer or negative limit 400, an unknown marker 404; unknown filters
    are 400 from 3.31 (api/common.py reject_invalid_filters) and ignored below."""
    me = bs_user()
    vid = me.create_volume()["id"]
    assert_fault(me.action(vid, "os-bogus"), 400, "There is no such action: os-bogus")
    assert_fault(me.req("POST", f"/volumes/{vid}/action", json={"os-reserve": {}, "os-unreserve": {}}), 400)
    assert_fault(me.req("POST", f"/volumes/{vid}/action", data="{", headers={"Content-Type": "application/json"}), 400)

    assert_fault(me.req("GET", "/volumes", version="x.y"), 400, "API Version String x.y is of invalid format")
    r = me.req("GET", "/volumes", version="3.99")
    assert_fault(r, 406, "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71.")
    assert_fault(me.req("GET", "/volumes/summary"), 404)
    summary = me.ok("GET", "/volumes/summary", version="3.12")["volume-summary"]
    assert summary == {"total_count": 1, "total_size": 1}, summary

    assert_fault(me.req("GET", "/volumes", params={"sort": "bogus"}), 400)
    assert_fault(me.req("GET", "/volumes", params={"sort": "name:sideways"}), 400)
    assert_fault(me.req("GET", "/volumes", params={"sort": "name", "sort_key": "size"}), 400)
    assert_fault(me.req("GET", "/volumes", params={"sort_key": "bogus"}), 400)
    assert_fault(me.req("GET", "/volumes", params={"limit": "abc"}), 400)
    assert_fault(me.req("GET", "/volumes", params={"limit": "-1"}), 400)
    assert_fault(me.req("GET", "/snapshots", params={"sort": "bogus"}), 400)
    marker = str(uuid.uuid4())
    assert_fault(me.req("GET", "/volumes/detail", params={"marker": marker}), 404, marker)
    assert_fault(me.req("GET", "/snapshots", params={"marker": marker}), 404)
    assert_fault(me.req("GET", "/volumes", params={"bogus": "1"}, version="3.31"), 400, "Invalid filters")
    assert [v["id"] for v in me.ok("GET", "/volumes", params={"bogus": "1"})["volumes"]] == [vid]
    # Checked last: the 406 echoes the version asked for (the Fault renders req.api_version_request,
    # set to 3.99 before the range check raised).
    assert r.headers.get("OpenStack-API-Version") == "volume 3.99", r.headers


def test_request_bodies_are_checked_strictly(bs_user):
    """Cinder validates bodies with JSON schemas whose top level (and most inner objects) have
    additionalProperties false, and whose types admit no null where none is listed:
    cinder/api/schemas/volumes.py update ({"volume": {...}} only; metadata is
    parameter_types.extra_specs, an object), schemas/snapshots.py create ({"snapshot": ...}
    only), schemas/volume_transfer.py create and accept ({"transfer"}/{"accept"} only, and
    accept holds auth_key only). Each such body is 400 before anything changes, even one that
    carries the right auth key. (Volume create is strict inside `volume` from 3.53 only.)"""
    me = bs_user()
    # One volume per kind of check, so that what a lenient answer makes cannot change the next.
    updated, snapped, given, taken = (me.create_volume(name=f"strict-{n}", metadata={"k": "v"})["id"] for n in range(4))
    checks = [
        ("PUT", f"/volumes/{updated}", {"volume": {"name": "x"}, "extra": 1}, None),
        ("PUT", f"/volumes/{updated}", {"volume": {"metadata": None}}, None),
        ("PUT", f"/volumes/{updated}", {"volume": {"bogus": 1}}, None),
        ("PUT", f"/volumes/{updated}", {"volume": {}}, "3.53"),
        ("POST", "/volumes", {"volume": {"size": 1, "bogus": 1}}, "3.53"),
        ("POST", "/snapshots", {"snapshot": {"volume_id": snapped}, "extra": 1}, None),
        ("POST", "/snapshots", {"snapshot": {"volume_id": snapped, "bogus": 1}}, None),
        ("POST", "/os-volume-transfer", {"transfer": {"volume_id": given}, "extra": 1}, None),
        ("POST", "/os-volume-transfer", {"transfer": {"volume_id": given, "bogus": 1}}, None),
    ]
    problems = []
    for method, path, body, version in checks:
        r = me.req(method, path, json=body, version=version)
        if r.status_code != 400 or "badRequest" not in r.json():
            problems.append(f"{method} {path} {body} at {version or '3.0'}: {r.status_code} {r.text[:200]}")
    created = me.ok("POST", "/os-volume-transfer", status=202, json={"transfer": {"volume_id": taken}})["transfer"]
    for body in ({"accept": {"auth_key": created["auth_key"], "extra": 1}},
                 {"accept": {"auth_key": created["auth_key"]}, "extra": 1}):
        r = me.req("POST", f"/os-volume-transfer/{created['id']}/accept", json=body)
        if r.status_code != 400:
            problems.append(f"POST accept {body}: {r.status_code} {r.text[:200]}")
            break
    assert not problems, "\n".join(problems)
    assert me.show_volume(updated)["name"] == "strict-0" and me.show_volume(updated)["metadata"] == {"k": "v"}
    assert me.ok("GET", "/snapshots")["snapshots"] == []
    assert me.show_volume(given)["status"] == "available" and me.show_volume(taken)["status"] == "awaiting-transfer"


@pytest.fixture(scope="module")
def scratch_volume(bs_member) -> str:
    """A volume of `bs_member`'s whose metadata the bad-input checks try to change."""
    return bs_member.create_volume(name="scratch")["id"]


@pytest.mark.parametrize("key", [
    pytest.param("a$b", id="dollar"), pytest.param("ключ", id="cyrillic"), pytest.param("", id="empty"),
    pytest.param("k" * 256, id="256-chars"), pytest.param("tab\tkey", id="tab"), pytest.param("new\nline", id="newline"),
    pytest.param("a,b", id="comma")])
def test_metadata_keys_with_illegal_characters(bs_member, scratch_volume, key):
    """Metadata keys must match ^[a-zA-Z0-9-_:. /]{1,255}$ (parameter_types.extra_specs,
    additionalProperties false): anything else is 400, on create, update and the metadata
    calls."""
    me, vid = bs_member, scratch_volume
    before = volume_ids(me)
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "metadata": {key: "v"}}}), 400)
    assert volume_ids(me) == before
    assert_fault(me.req("POST", f"/volumes/{vid}/metadata", json={"metadata": {key: "v"}}), 400)
    assert_fault(me.req("PUT", f"/volumes/{vid}/metadata", json={"metadata": {key: "v"}}), 400)
    assert_fault(me.req("PUT", f"/volumes/{vid}", json={"volume": {"metadata": {key: "v"}}}), 400)
    assert me.show_volume(vid)["metadata"] == {}


def test_metadata_key_and_value_limits_count_characters(bs_user):
    """Keys of up to 255 characters and values of up to 255 characters are accepted
    (characters, not bytes: jsonschema's maxLength); a 256-character value fails the schema
    (parameter_types.extra_specs: {'type': 'string', 'maxLength': 255}), which the
    @validation.schema decorators check before any controller code, so it is 400 badRequest,
    not the 413 of InvalidVolumeMetadataSize (unreachable behind the schema) - on create,
    update, POST/PUT metadata and PUT of one key, for volumes and snapshots."""
    me = bs_user()
    long_key, fox = "k" * 255, "🦊" * 255
    vid = me.create_volume(metadata={long_key: fox})["id"]
    assert me.show_volume(vid)["metadata"] == {long_key: fox}
    sid = me.create_snapshot(vid)["id"]
    too_long = "é" * 256
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "metadata": {"k": too_long}}}), 400)
    assert_fault(me.req("PUT", f"/volumes/{vid}", json={"volume": {"metadata": {"k": too_long}}}), 400)
    assert_fault(me.req("POST", f"/volumes/{vid}/metadata", json={"metadata": {"k": too_long}}), 400)
    assert_fault(me.req("PUT", f"/volumes/{vid}/metadata", json={"metadata": {"k": too_long}}), 400)
    assert_fault(me.req("PUT", f"/volumes/{vid}/metadata/k", json={"meta": {"k": too_long}}), 400)
    assert_fault(me.req("POST", f"/snapshots/{sid}/metadata", json={"metadata": {"k": too_long}}), 400)
    assert_fault(me.req("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "metadata": {"k": too_long}}}), 400)
    assert me.show_volume(vid)["metadata"] == {long_key: fox}


def test_names_round_trip_exactly(bs_admin, bs_user):
    """Names and descriptions are kept as sent, code point for code point: no Unicode
    normalization (NFC "é" and NFD "e\u0301" stay two names, and a name filter matches one of
    them only), characters outside the BMP, right-to-left text and ZWJ sequences intact; only
    surrounding whitespace is stripped (cinder/api/openstack/wsgi.py clean_name_and_description).
    The 255 limit counts code points (jsonschema / len()), not bytes nor grapheme clusters."""
    me = bs_user()
    bs_admin.ok("PUT", f"/os-quota-sets/{me.project_id}", json={"quota_set": {"volumes": -1}})
    names = ["\u00e9t\u00e9", "e\u0301te\u0301", "日本語のボリューム", "🦊🦊", "שלום עולם", "👩‍👩‍👧 family",
             "Å\u030a\u0308 stacked", "x\u200by"]
    made = {name: me.create_volume(name=name, description=name[::-1], wait=None)["id"] for name in names}
    for name, vid in made.items():
        r = me.req("GET", f"/volumes/{vid}")
        vol = r.json()["volume"]
        assert vol["name"].encode() == name.encode(), (name, vol["name"])
        assert vol["description"].encode() == name[::-1].encode(), (name, vol["description"])
    listed = me.ok("GET", "/volumes", params={"name": "e\u0301te\u0301"})["volumes"]
    assert [v["id"] for v in listed] == [made["e\u0301te\u0301"]], listed
    via_cli = me.cli("volume", "show", made["e\u0301te\u0301"], "-f", "json")
    assert via_cli["name"] == "e\u0301te\u0301"

    padded = me.create_volume(name="  spaced out \t", wait=None)
    assert padded["name"] == "spaced out", padded
    at_limit = "e\u0301" * 127 + "e"          # 255 code points, 128 grapheme clusters
    assert me.create_volume(name=at_limit, wait=None)["name"] == at_limit
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "name": "e\u0301" * 128}}), 400)
    assert me.create_volume(name="🦊" * 255, wait=None)["name"] == "🦊" * 255
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "name": "🦊" * 256}}), 400)


def test_names_are_stripped_as_python_strips(bs_user):
    """Cinder strips names and descriptions with Python's str.strip() (cinder/api/openstack/
    wsgi.py clean_name_and_description), whose whitespace is str.isspace(): besides the Unicode
    spaces and line breaks it includes the ASCII information separators U+001C..U+001F. A name
    or description wrapped in them is stored without them."""
    me = bs_user()
    vol = me.create_volume(name="\x1fname\x1c", description="\x1e\u00a0described\u3000\x1d", wait=None)
    assert (vol["name"], vol["description"]) == ("name", "described"), vol
    shown = me.show_volume(vol["id"])
    assert (shown["name"], shown["description"]) == ("name", "described"), shown


def test_pagination_and_sorting(bs_user):
    """Paging (cinder/api/common.py, views ViewBuilder._get_collection_links): `sort=key:dir`,
    `sort_key`/`sort_dir`, `limit`, `marker`, `offset`; a full page carries a `next` link that
    can be requested as it is; `with_count` (3.45) counts all matches."""
    me = bs_user()
    ids = {name: me.create_volume(name=name, wait=None)["id"] for name in ("p-b", "p-a", "p-c")}
    page = me.ok("GET", "/volumes", params={"sort": "name:asc", "limit": "2"})
    assert [v["name"] for v in page["volumes"]] == ["p-a", "p-b"], page
    (link,) = page["volumes_links"]
    assert link["rel"] == "next"
    url = urlparse(link["href"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{me.endpoint}/volumes", link
    assert parse_qs(url.query) == {"sort": ["name:asc"], "limit": ["2"], "marker": [ids["p-b"]]}, link
    rest = me.ok("GET", link["href"])
    assert [v["name"] for v in rest["volumes"]] == ["p-c"] and "volumes_links" not in rest, rest
    desc = me.ok("GET", "/volumes/detail", params={"sort_key": "name", "sort_dir": "desc"})["volumes"]
    assert [v["name"] for v in desc] == ["p-c", "p-b", "p-a"]
    default_dir = me.ok("GET", "/volumes", params={"sort": "name"})["volumes"]
    assert [v["name"] for v in default_dir] == ["p-c", "p-b", "p-a"], "the default direction is desc"
    offset = me.ok("GET", "/volumes", params={"sort": "name:asc", "offset": "2"})["volumes"]
    assert [v["name"] for v in offset] == ["p-c"], offset
    after = me.ok("GET", "/volumes", params={"sort": "name:asc", "marker": ids["p-a"]})["volumes"]
    assert [v["name"] for v in after] == ["p-b", "p-c"], after
    counted = me.ok("GET", "/volumes", params={"with_count": "true", "limit": "1"}, version="3.45")
    assert counted["count"] == 3 and len(counted["volumes"]) == 1, counted
    assert me.ok("GET", "/volumes", params={"limit": "0"})["volumes"] == []
    named = me.ok("GET", "/volumes/detail", params={"name": "p-a"})["volumes"]
    assert [v["id"] for v in named] == [ids["p-a"]]


# ---- durability ---------------------------------------------------------------------------

NO_TEST_IMAGE = {"image": {"register_test_image": "false"}}


def restart(nimbus, config=None):
    """A new `nimbus up` on the same data dir, port and passwords."""
    return start_cloud(nimbus.data_dir, port=nimbus.port, config=config,
                       passwords=(nimbus.admin_password, nimbus.demo_password))


def test_volumes_survive_kill_9(tmp_path):
    """A volume and its snapshot that were available when the process was killed with SIGKILL
    are there and available after a restart on the same data dir, with their files, and the
    storage node still makes volumes from them."""
    from conftest import Cloud
    first = start_cloud(tmp_path / "data", config=NO_TEST_IMAGE)
    try:
        admin = Vol.admin(Cloud(first))
        vol = admin.create_volume(size=2, name="survivor", metadata={"k": "v"})
        snap = admin.create_snapshot(vol["id"])
    finally:
        first.kill()
    second = restart(first, NO_TEST_IMAGE)
    try:
        cloud = Cloud(second)
        admin = Vol.admin(cloud)
        after = admin.show_volume(vol["id"])
        assert after["status"] == "available" and after["name"] == "survivor" and after["size"] == 2, after
        assert after["metadata"] == {"k": "v"}, after
        assert admin.wait_snapshot(snap["id"], timeout=5)["size"] == 2
        assert qemu_info(volume_file(cloud, vol["id"]))["virtual-size"] == 2 * GIB
        assert snapshot_file(cloud, snap["id"]).exists()
        child = admin.create_volume(size=None, snapshot_id=snap["id"])
        assert child["size"] == 2
    finally:
        second.stop()


def test_stray_volume_files_are_removed_at_start(tmp_path):
    """After a restart, the storage node's files that no volume or snapshot names (a crash
    between writing a file and recording it, or a record removed without its file) are removed;
    the files of the volumes that exist stay."""
    from conftest import Cloud
    first = start_cloud(tmp_path / "data", config=NO_TEST_IMAGE)
    try:
        admin = Vol.admin(Cloud(first))
        vid = admin.create_volume()["id"]
    finally:
        first.kill()
    directory = volumes_dir(first)
    strays = [directory / f"volume-{uuid.uuid4()}.qcow2", directory / f"snapshot-{uuid.uuid4()}.qcow2"]
    for path in strays:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1G"], check=True, timeout=30)
    second = restart(first, NO_TEST_IMAGE)
    try:
        cloud = Cloud(second)
        wait_for(lambda: not any(p.exists() for p in strays), 10, what="the stray files to be removed")
        assert volume_file(cloud, vid).exists()
        assert Vol.admin(cloud).show_volume(vid)["status"] == "available"
    finally:
        second.stop()
