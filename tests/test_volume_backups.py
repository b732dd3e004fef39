"""Volume backups (Cinder API v3 `/backups`) into the object store: full and incremental backups
whose objects land in the owner's object-store account, restores into a new or an existing
volume with the same bytes, volumes made from backups (3.47), export/import of records, quotas,
isolation between projects, bad input, and a `kill -9` in the middle of a backup.

Data goes into volumes the way a guest writes it: through an attachment's NBD export with
`qemu-io` (as tests/test_volume_attachments.py does), random bytes at several offsets. The
checksum of a volume is the SHA-256 of its guest-visible bytes (`qemu-img convert -O raw`).

Expected behaviour is real Cinder's (openstack/cinder master): cinder/api/contrib/backups.py,
cinder/api/v3/backups.py, cinder/api/views/backups.py, cinder/api/schemas/backups.py,
cinder/backup/api.py, cinder/backup/manager.py (statuses, restart cleanup),
cinder/backup/chunkeddriver.py and drivers/swift.py (object names, container `volumebackups`),
cinder/quota_utils.py (over-quota messages).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from volume_support import (  # noqa: F401  (fixtures are used by name)
    ATTACH,
    GIB,
    TIMESTAMP,
    UUID_RE,
    Vol,
    assert_fault,
    assert_over_quota,
    attach,
    bs_admin,
    bs_cloud,
    bs_member,
    bs_user,
    nbd_io,
    start_cloud,
    unique,
    volume_file,
    volumes_dir,
    wait_for,
)

CAN_ATTACH = os.geteuid() == 0 and os.path.exists("/usr/bin/qemu-storage-daemon")
# The detail view (views/backups.py detail), and what later microversions add for a member.
DETAIL_FIELDS = {"id", "status", "size", "object_count", "availability_zone", "container", "created_at", "updated_at", "name",
                 "description", "fail_reason", "volume_id", "links", "is_incremental", "has_dependent_backups", "snapshot_id",
                 "data_timestamp"}
NO_TEST_IMAGE = {"image": {"register_test_image": "false"}}


# ---- helpers ------------------------------------------------------------------------------

def write_random(user: Vol, volume_id: str, tmp: Path, offsets: list[int], length: int = 1 << 20) -> None:
    """Random bytes at each offset, written as a guest would: through an attachment's NBD export
    (root with qemu-storage-daemon), else straight into the detached volume's qcow2 file."""
    source = tmp / f"random-{uuid.uuid4().hex}"
    source.write_bytes(os.urandom(length))
    commands = [f"write -s {source} {off} {length}" for off in offsets]
    if CAN_ATTACH:
        a = attach(user, volume_id, connector={"host": "node-1", "mountpoint": "/dev/vdb"})
        nbd_io(a["connection_info"], *commands, "flush")
        assert user.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH) == {"attachments": []}
    else:
        argv = ["qemu-io", "-f", "qcow2"]
        for c in commands:
            argv += ["-c", c]
        subprocess.run(argv + [str(volume_file(user.cloud, volume_id))], check=True, capture_output=True, timeout=120)
    source.unlink()
    assert user.wait_volume(volume_id)["status"] == "available"


def volume_sha256(cloud, volume_id: str, tmp: Path) -> str:
    """The SHA-256 of a volume's guest-visible bytes."""
    raw = tmp / f"raw-{uuid.uuid4().hex}"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(volume_file(cloud, volume_id)), str(raw)], check=True,
                   capture_output=True, timeout=300)
    h = hashlib.sha256()
    with open(raw, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    raw.unlink()
    return h.hexdigest()


def wait_backup(user: Vol, bid: str, status: str = "available", timeout: float = 120) -> dict:
    def reached():
        b = user.ok("GET", f"/backups/{bid}")["backup"]
        if b["status"].startswith("error") and not status.startswith("error"):
            raise AssertionError(f"backup {bid} went to {b['status']}: {b['fail_reason']}")
        return b if b["status"] == status else None
    return wait_for(reached, timeout, what=f"backup {bid} {status}")


def create_backup(user: Vol, volume_id: str, wait: bool = True, version: str | None = None, **attrs) -> dict:
    b = user.ok("POST", "/backups", status=202, json={"backup": {"volume_id": volume_id, **attrs}}, version=version)["backup"]
    assert set(b) == {"id", "name", "links"} and UUID_RE.match(b["id"]), b
    return wait_backup(user, b["id"]) if wait else b


def swift_names(user: Vol, container: str, prefix: str = "") -> list[str]:
    """The object names in a container of the user's own object-store account (the Swift API)."""
    url = f"{user.cloud.base_url}/object/v1/AUTH_{user.project_id}/{container}"
    r = requests.get(url, params={"format": "json", "prefix": prefix}, headers={"X-Auth-Token": user.token}, timeout=30)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return [o["name"] for o in r.json()]


# ---- the round trip -----------------------------------------------------------------------

def test_full_and_incremental_backup_restore_to_new_and_existing_volume(bs_cloud, bs_user, tmp_path):
    """A full backup (the openstack CLI) and an incremental one (openstacksdk) of a volume with
    random data; restores into a new volume and into an existing one give volumes whose bytes
    hash as the source did at each backup. The objects are in the owner's account, container
    `volumebackups`, named as Cinder's Swift driver names them (`volume_<vol>/<time>/az_<zone>_
    backup_<id>` + `-00001`…, `_metadata`, `_sha256file`); the incremental one stores only the
    chunks that changed. Volume statuses: `backing-up` during the backup, then back; the
    restored volume gets the source's metadata and `src_backup_id` (backup/manager.py)."""
    user = bs_user()
    vol = user.create_volume(1, metadata={"purpose": "backup-test"})
    write_random(user, vol["id"], tmp_path, [0, 300 << 20, (1 << 30) - (1 << 20)])
    first_sum = volume_sha256(bs_cloud, vol["id"], tmp_path)

    full = user.cli("volume", "backup", "create", "--name", "full", vol["id"], "-f", "json")
    full = wait_backup(user, full["id"])
    assert set(full) == DETAIL_FIELDS, full
    assert full["name"] == "full" and full["volume_id"] == vol["id"] and full["size"] == 1 and full["container"] == "volumebackups"
    assert not full["is_incremental"] and not full["has_dependent_backups"] and full["fail_reason"] is None
    assert TIMESTAMP.match(full["created_at"]) and TIMESTAMP.match(full["data_timestamp"]), full
    assert user.show_volume(vol["id"])["status"] == "available"
    names = swift_names(user, "volumebackups", f"volume_{vol['id']}/")
    (meta,) = [n for n in names if n.endswith("_metadata")]
    prefix = meta[:-len("_metadata")]
    assert prefix.startswith(f"volume_{vol['id']}/") and prefix.endswith(f"/az_nova_backup_{full['id']}"), names
    chunks = [n for n in names if n.startswith(prefix + "-")]
    assert len(chunks) == full["object_count"] == 3, names      # three 1 MiB runs in three 50 MiB chunks
    assert set(names) == set(chunks) | {prefix + "_metadata", prefix + "_sha256file"}, names

    write_random(user, vol["id"], tmp_path, [600 << 20])
    second_sum = volume_sha256(bs_cloud, vol["id"], tmp_path)
    conn = user.sdk()
    incr = conn.block_storage.create_backup(volume_id=vol["id"], name="incr", is_incremental=True)
    incr = wait_backup(user, incr.id)
    assert incr["is_incremental"] and incr["object_count"] == 1, incr
    assert user.ok("GET", f"/backups/{full['id']}")["backup"]["has_dependent_backups"] is True
    listed = {b.id: b for b in conn.block_storage.backups(details=True)}
    assert set(listed) == {full["id"], incr["id"]} and listed[incr["id"]].is_incremental

    # Into a new volume (the CLI), from the full backup: the bytes of the first write.
    out = user.cli("volume", "backup", "restore", full["id"], "restored-full", "-f", "json")
    new_id = out["volume_id"]
    restored = user.wait_volume(new_id, timeout=120)
    assert restored["size"] == 1 and restored["name"] == "restored-full", restored
    assert restored["metadata"] == {"purpose": "backup-test", "src_backup_id": full["id"]}, restored
    assert volume_sha256(bs_cloud, new_id, tmp_path) == first_sum
    # Without a name the new volume is `restore_backup_<id>`, then named as the source was.
    r = user.ok("POST", f"/backups/{full['id']}/restore", status=202, json={"restore": None})["restore"]
    assert r["volume_name"] == f"restore_backup_{full['id']}", r
    wait_backup(user, full["id"])
    assert user.wait_volume(r["volume_id"], timeout=120)["name"] == vol["name"]
    # Into an existing volume, from the incremental one: full + increment = the second write.
    target = user.create_volume(2, name="target")
    r = user.ok("POST", f"/backups/{incr['id']}/restore", status=202, json={"restore": {"volume_id": target["id"]}})
    assert r == {"restore": {"backup_id": incr["id"], "volume_id": target["id"], "volume_name": "target"}}
    assert user.show_volume(target["id"])["status"] in ("restoring-backup", "available")
    wait_backup(user, incr["id"])
    after = user.wait_volume(target["id"], timeout=120)
    assert after["name"] == "target" and after["size"] == 2 and after["metadata"]["src_backup_id"] == incr["id"], after
    # The larger volume's tail reads as zeros; the first GiB is the source's.
    raw_sum = volume_sha256(bs_cloud, target["id"], tmp_path)
    assert raw_sum != second_sum
    subprocess.run(["qemu-img", "resize", "-q", "--shrink", "-f", "qcow2", str(volume_file(bs_cloud, target["id"])), "1G"], check=True, timeout=60)
    assert volume_sha256(bs_cloud, target["id"], tmp_path) == second_sum

    # A volume made from the incremental backup (3.47).
    made = user.create_volume(size=None, backup_id=incr["id"], version="3.47", wait=None)
    made = user.wait_volume(made["id"], timeout=120)
    assert made["size"] == 1 and volume_sha256(bs_cloud, made["id"], tmp_path) == second_sum

    # The full backup cannot go while the incremental one depends on it; in order they can,
    # and their objects go with them.
    assert_fault(user.req("DELETE", f"/backups/{full['id']}"), 400, "Incremental backups exist for this backup.")
    user.cli("volume", "backup", "delete", incr["id"])
    user.wait_gone("backups", incr["id"])
    user.cli("volume", "backup", "delete", full["id"])
    user.wait_gone("backups", full["id"])
    assert swift_names(user, "volumebackups", f"volume_{vol['id']}/") == []


def test_backups_are_compressed_as_cinders(bs_cloud, bs_user, tmp_path):
    """`[backup] backup_compression_algorithm` defaults to zlib as Cinder's: a run of text is
    stored deflated (Python's zlib reads it back to bytes with the recorded MD5), random bytes
    stay as they are (`none`), and the restore gives the volume's bytes."""
    import zlib
    user = bs_user()
    vol = user.create_volume(1)
    text = (b"a compressible line of a volume backup\n" * 30000)[: 1 << 20]
    source = tmp_path / "text"
    source.write_bytes(text)
    write_random(user, vol["id"], tmp_path, [64 << 20])
    if CAN_ATTACH:
        a = attach(user, vol["id"], connector={"host": "node-1", "mountpoint": "/dev/vdb"})
        nbd_io(a["connection_info"], f"write -s {source} 0 {len(text)}", "flush")
        assert user.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH) == {"attachments": []}
    else:
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -s {source} 0 {len(text)}", str(volume_file(bs_cloud, vol["id"]))],
                       check=True, capture_output=True, timeout=120)
    user.wait_volume(vol["id"])
    before = volume_sha256(bs_cloud, vol["id"], tmp_path)
    backup = create_backup(user, vol["id"])
    names = swift_names(user, "volumebackups", f"volume_{vol['id']}/")
    (meta_name,) = [n for n in names if n.endswith("_metadata")]
    base = f"{bs_cloud.base_url}/object/v1/AUTH_{user.project_id}/volumebackups/"
    get = lambda name: requests.get(base + name, headers={"X-Auth-Token": user.token}, timeout=60)  # noqa: E731
    meta = get(meta_name).json()
    entries = [next(iter(o.items())) for o in meta["objects"]]
    assert [e["compression"] for _, e in entries] == ["zlib", "none"], entries
    (name, first), (_, second) = entries
    stored = get(name).content
    assert len(stored) < first["length"] // 10
    assert zlib.decompress(stored) == text and hashlib.md5(text).hexdigest() == first["md5"]
    assert second["length"] == 1 << 20
    restored = user.ok("POST", f"/backups/{backup['id']}/restore", status=202, json={"restore": {"name": "from-zlib"}})["restore"]
    wait_backup(user, backup["id"])
    user.wait_volume(restored["volume_id"], timeout=120)
    assert volume_sha256(bs_cloud, restored["volume_id"], tmp_path) == before


def test_backup_views_update_metadata_and_listing(bs_cloud, bs_user):
    """The detail view per microversion (3.43 metadata, 3.56 user_id for admins only), update
    (3.9; 404 below), a container of the user's choosing, list filters, sort, limit/marker and
    `with_count` (3.45)."""
    user = bs_user()
    vol = user.create_volume(1)
    container = unique("my-backups")
    a = create_backup(user, vol["id"], name="alpha", container=container, version="3.43", metadata={"k": "v"})
    b = create_backup(user, vol["id"], name="beta")
    assert a["container"] == container and swift_names(user, container) != []
    shown = user.ok("GET", f"/backups/{a['id']}", version="3.64")["backup"]
    assert set(shown) == DETAIL_FIELDS | {"metadata"} and shown["metadata"] == {"k": "v"}, shown
    assert "os-backup-project-attr:project_id" not in shown and "user_id" not in shown
    admin = Vol.admin(bs_cloud)
    as_admin = admin.ok("GET", f"/backups/{a['id']}", version="3.56")["backup"]
    assert as_admin["os-backup-project-attr:project_id"] == user.project_id and as_admin["user_id"] == user.user_id

    assert_fault(user.req("PUT", f"/backups/{a['id']}", json={"backup": {"name": "x"}}, version="3.8"), 404)
    updated = user.ok("PUT", f"/backups/{a['id']}", json={"backup": {"name": "gamma", "description": "d", "metadata": {"n": "1"}}},
                      version="3.43")["backup"]
    assert set(updated) == {"id", "name", "links"} and updated["name"] == "gamma"
    shown = user.ok("GET", f"/backups/{a['id']}", version="3.43")["backup"]
    assert shown["description"] == "d" and shown["metadata"] == {"n": "1"}

    summary = user.ok("GET", "/backups")["backups"]
    assert {x["id"] for x in summary} == {a["id"], b["id"]} and all(set(x) == {"id", "name", "links"} for x in summary)
    assert [x["id"] for x in user.ok("GET", "/backups/detail", params={"name": "beta"})["backups"]] == [b["id"]]
    assert [x["name"] for x in user.ok("GET", "/backups", params={"sort": "name:asc"}, version="3.37")["backups"]] == ["beta", "gamma"]
    page = user.ok("GET", "/backups/detail", params={"limit": 1, "sort": "name:asc"}, version="3.45")
    assert [x["name"] for x in page["backups"]] == ["beta"] and "marker=" in page["backups_links"][0]["href"]
    rest = user.ok("GET", "/backups/detail", params={"limit": 1, "sort": "name:asc", "marker": b["id"]})["backups"]
    assert [x["name"] for x in rest] == ["gamma"]
    counted = user.ok("GET", "/backups", params={"with_count": "true"}, version="3.45")
    assert counted["count"] == 2
    # An admin lists their own project's, everyone's (`all_tenants`) or one project's.
    mine = {a["id"], b["id"]}
    assert not mine & {x["id"] for x in admin.ok("GET", "/backups")["backups"]}
    assert mine <= {x["id"] for x in admin.ok("GET", "/backups", params={"all_tenants": "1"})["backups"]}
    assert {x["id"] for x in admin.ok("GET", "/backups", params={"project_id": user.project_id})["backups"]} == mine
    assert {x["id"] for x in user.ok("GET", "/backups", params={"all_tenants": "1"})["backups"]} == mine
    assert_fault(user.req("GET", "/backups", params={"colour": "x"}, version="3.31"), 400, "Invalid filters")
    assert user.ok("GET", "/backups", params={"colour": "x"})["backups"] != []   # before 3.31: ignored


def test_snapshot_backup_and_forced_in_use_rules(bs_cloud, bs_user):
    """A backup of a snapshot records its `snapshot_id` and the snapshot's time as
    `data_timestamp`; the snapshot is `backing-up` meanwhile and the volume untouched. An
    in-use volume needs `force` (backup/api.py create)."""
    user = bs_user()
    vol = user.create_volume(1)
    snap = user.create_snapshot(vol["id"])
    b = create_backup(user, vol["id"], snapshot_id=snap["id"])
    assert b["snapshot_id"] == snap["id"] and b["data_timestamp"] == snap["created_at"].split("+")[0].rstrip("Z"), (b, snap)
    assert user.wait_snapshot(snap["id"])["status"] == "available"
    other = user.create_volume(1)
    other_snap = user.create_snapshot(other["id"])
    assert_fault(user.req("POST", "/backups", json={"backup": {"volume_id": vol["id"], "snapshot_id": other_snap["id"]}}), 400,
                 "does not match with snapshot.volume_id")
    if CAN_ATTACH:
        a = attach(user, vol["id"], connector={"host": "node-1", "mountpoint": "/dev/vdb"})
        user.req("POST", f"/attachments/{a['id']}/action", json={"os-complete": {}}, version="3.44")
        assert user.show_volume(vol["id"])["status"] == "in-use"
        assert_fault(user.req("POST", "/backups", json={"backup": {"volume_id": vol["id"]}}), 400,
                     "Backing up an in-use volume must use the force flag.")
        forced = create_backup(user, vol["id"], force=True)
        assert forced["status"] == "available" and user.show_volume(vol["id"])["status"] == "in-use"
        user.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH)


# ---- records, quotas, isolation, bad input ------------------------------------------------

def test_export_and_import_record_round_trip(bs_cloud, bs_user, bs_admin, tmp_path):
    """Admins export a backup's record (`backup_service` cinder.backup.drivers.…, base64 JSON)
    and import it back under another id (what Tempest does): the imported backup is `available`
    in the admin's project, restores to the same bytes, and deleting one of the two keeps the
    objects the other still needs. Members may do neither (policy backup:export-import,
    backup:backup-import: admin_api)."""
    user = bs_user()
    vol = user.create_volume(1)
    write_random(user, vol["id"], tmp_path, [5 << 20])
    source_sum = volume_sha256(bs_cloud, vol["id"], tmp_path)
    b = create_backup(user, vol["id"], name="exported")
    assert_fault(user.req("GET", f"/backups/{b['id']}/export_record"), 403, "Policy doesn't allow backup:export-import")
    record = bs_admin.ok("GET", f"/backups/{b['id']}/export_record")["backup-record"]
    assert set(record) == {"backup_service", "backup_url"} and record["backup_service"].startswith("cinder.backup.drivers")
    fields = json.loads(base64.b64decode(record["backup_url"]))
    assert fields["id"] == b["id"] and fields["display_name"] == "exported" and fields["container"] == "volumebackups"
    assert_fault(bs_admin.req("POST", "/backups/import_record", json={"backup-record": record}), 400, "Backup already exists in database.")
    new_id = str(uuid.uuid4())
    fields["id"] = new_id
    url = base64.b64encode(json.dumps(fields).encode()).decode()
    imported = bs_admin.ok("POST", "/backups/import_record", status=201,
                           json={"backup-record": {"backup_service": record["backup_service"], "backup_url": url}})["backup"]
    assert imported["id"] == new_id and set(imported) == {"id", "name", "links"}
    assert_fault(user.req("POST", "/backups/import_record", json={"backup-record": {"backup_service": record["backup_service"],
                                                                                     "backup_url": url}}), 403)
    done = wait_backup(bs_admin, new_id)
    assert done["name"] == "exported" and done["volume_id"] == vol["id"] and done["size"] == 1
    # Deleting the original: the objects stay for the import.
    user.ok("DELETE", f"/backups/{b['id']}", status=202)
    user.wait_gone("backups", b["id"])
    out = bs_admin.ok("POST", f"/backups/{new_id}/restore", status=202, json={"restore": {"name": "from-import"}})["restore"]
    bs_admin.wait_volume(out["volume_id"], timeout=120)
    assert volume_sha256(bs_cloud, out["volume_id"], tmp_path) == source_sum
    bs_admin.ok("DELETE", f"/volumes/{out['volume_id']}", status=202)
    bs_admin.ok("DELETE", f"/backups/{new_id}", status=202)
    bs_admin.wait_gone("backups", new_id)
    assert swift_names(user, "volumebackups", f"volume_{vol['id']}/") == []
    # Records that are not records.
    for bad, fragment in [("%%%", "Can't parse backup record."),
                          (base64.b64encode(b'{"size": 1}').decode(), "missing an id"),
                          (base64.b64encode(json.dumps({"id": str(uuid.uuid4())}).encode()).decode(), "missing size")]:
        assert_fault(bs_admin.req("POST", "/backups/import_record",
                                  json={"backup-record": {"backup_service": record["backup_service"], "backup_url": bad}}), 400, fragment)


def test_reset_status_and_force_delete(bs_cloud, bs_user, bs_admin):
    """`os-reset_status` to `available`/`error` and `os-force_delete` are admins' (202); other
    statuses are 400; members get 403."""
    user = bs_user()
    vol = user.create_volume(1)
    b = create_backup(user, vol["id"])
    action = f"/backups/{b['id']}/action"
    assert_fault(user.req("POST", action, json={"os-reset_status": {"status": "error"}}), 403)
    assert_fault(bs_admin.req("POST", action, json={"os-reset_status": {"status": "creating"}}), 400, "is invalid")
    assert_fault(bs_admin.req("POST", action, json={"os-frobnicate": {}}), 400, "There is no such action")
    bs_admin.ok("POST", action, status=202, json={"os-reset_status": {"status": "error"}})
    assert wait_backup(user, b["id"], "error")["status"] == "error"
    assert_fault(user.req("POST", action, json={"os-force_delete": {}}), 403)
    bs_admin.ok("POST", action, status=202, json={"os-force_delete": {}})
    user.wait_gone("backups", b["id"])


def test_quotas_count_backups(bs_cloud, bs_user, bs_admin):
    """`backups` and `backup_gigabytes` are enforced (413 overLimit, Cinder's messages from
    quota_utils.process_reserve_over_quota) and reported with their real usage in
    os-quota-sets and /limits; a restore into a new volume is held to the volume quotas (413,
    the message without the exception's name: the restore controller's HTTPRequestEntityTooLarge)."""
    user = bs_user()
    vol = user.create_volume(1)
    bs_admin.ok("PUT", f"/os-quota-sets/{user.project_id}", json={"quota_set": {"backups": 1}})
    b = create_backup(user, vol["id"])
    message = assert_over_quota(user.req("POST", "/backups", json={"backup": {"volume_id": vol["id"]}}))
    assert message == "BackupLimitExceeded: Maximum number of backups allowed (1) exceeded", message
    usage = bs_admin.ok("GET", f"/os-quota-sets/{user.project_id}", params={"usage": "true"})["quota_set"]
    assert usage["backups"] == {"limit": 1, "in_use": 1, "reserved": 0} and usage["backup_gigabytes"]["in_use"] == 1
    absolute = user.ok("GET", "/limits")["limits"]["absolute"]
    assert absolute["totalBackupsUsed"] == 1 and absolute["totalBackupGigabytesUsed"] == 1 and absolute["maxTotalBackups"] == 1
    assert_fault(bs_admin.req("PUT", f"/os-quota-sets/{user.project_id}", json={"quota_set": {"backups": 0}}), 400)
    bs_admin.ok("PUT", f"/os-quota-sets/{user.project_id}", json={"quota_set": {"backups": 5, "backup_gigabytes": 1}})
    message = assert_over_quota(user.req("POST", "/backups", json={"backup": {"volume_id": vol["id"]}}))
    assert message.startswith("VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota."), message
    bs_admin.ok("PUT", f"/os-quota-sets/{user.project_id}", json={"quota_set": {"volumes": 1}})
    message = assert_over_quota(user.req("POST", f"/backups/{b['id']}/restore", json={"restore": {}}))
    assert message == "Maximum number of volumes allowed (1) exceeded for quota 'volumes'.", message


def test_backups_of_other_projects_are_invisible(bs_cloud, bs_user):
    """Another project's backups are 404 to show, update, delete, restore and its listings; a
    member cannot back up or restore into another project's volume (404)."""
    owner, other = bs_user(), bs_user()
    vol = owner.create_volume(1)
    b = create_backup(owner, vol["id"])
    for method, path, body in [("GET", f"/backups/{b['id']}", None), ("DELETE", f"/backups/{b['id']}", None),
                               ("PUT", f"/backups/{b['id']}", {"backup": {"name": "x"}}),
                               ("POST", f"/backups/{b['id']}/restore", {"restore": {}}),
                               ("POST", "/backups", {"backup": {"volume_id": vol["id"]}})]:
        assert_fault(other.req(method, path, json=body, version="3.9"), 404)
    assert other.ok("GET", "/backups/detail")["backups"] == []
    theirs = other.create_volume(1)
    assert_fault(owner.req("POST", f"/backups/{b['id']}/restore", json={"restore": {"volume_id": theirs["id"]}}), 404)
    assert_fault(other.req("POST", "/volumes", json={"volume": {"backup_id": b["id"]}}, version="3.47"), 404)
    # Nor are its objects in the other project's account.
    assert swift_names(other, "volumebackups") == []


def test_bad_input_is_4xx_in_cinders_format(bs_cloud, bs_member):
    """Malformed bodies and values, unknown keys, impossible states: 400 (404 for what does not
    exist), never a 500 (schemas/backups.py; backup/api.py)."""
    me = bs_member
    vol = me.create_volume(1)
    missing = str(uuid.uuid4())
    cases = [
        ("POST", "/backups", {"backup": {}}, 400, "'volume_id' is a required property"),
        ("POST", "/backups", {"backup": {"volume_id": "nope"}}, 400, "is not a 'uuid'"),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "colour": "red"}}, 400, "Additional properties are not allowed"),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "incremental": "maybe"}}, 400, None),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "container": "a/b"}}, 400, "container"),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "container": "x" * 300}}, 400, None),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "name": 5}}, 400, None),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "metadata": {"k": "v"}}}, 400, None),  # 3.0: no metadata
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "incremental": True}}, 400, "No backups available to do an incremental backup."),
        ("POST", "/backups", {"backup": {"volume_id": missing}}, 404, f"Volume {missing} could not be found."),
        ("POST", "/backups", {"backup": {"volume_id": vol["id"], "snapshot_id": missing}}, 404, None),
        ("POST", "/backups", {"volume_id": vol["id"]}, 400, None),
        ("POST", "/backups", [1, 2], 400, None),
        ("GET", f"/backups/{missing}", None, 404, f"Backup {missing} could not be found."),
        ("POST", f"/backups/{missing}/restore", {"restore": {}}, 404, None),
        ("GET", "/backups", None, 400, None),
    ]
    for method, path, body, status, fragment in cases:
        params = {"limit": "-1"} if method == "GET" and path == "/backups" else None
        assert_fault(me.req(method, path, json=body, params=params), status, fragment)
    r = me.req("POST", "/backups", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_fault(r, 400)
    b = create_backup(me, vol["id"])
    small = me.create_volume(1)
    for body, fragment in [({"restore": {"volume_id": "nope"}}, None), ({"restore": {"other": 1}}, "Additional properties"),
                           ({"restore": {"volume_id": missing}}, None), ({}, "'restore' is a required property")]:
        assert_fault(me.req("POST", f"/backups/{b['id']}/restore", json=body), 404 if body.get("restore", {}).get("volume_id") == missing else 400,
                     fragment)
    # Sizes: a volume from a backup must be at least its size (3.47).
    big = me.create_volume(2)
    big_backup = create_backup(me, big["id"])
    assert_fault(me.req("POST", f"/backups/{big_backup['id']}/restore", json={"restore": {"volume_id": small["id"]}}), 400, "is too small")
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "backup_id": big_backup["id"]}}, version="3.47"), 400,
                 "cannot be smaller than the backup size")
    assert_fault(me.req("POST", "/volumes", json={"volume": {"size": 1, "backup_id": "nope"}}, version="3.47"), 400)
    # A member's admin actions are refused by policy.
    assert_fault(me.req("POST", f"/backups/{big_backup['id']}/action", json={"os-force_delete": {}}), 403)


def test_without_an_object_store_backups_end_in_error(tmp_path):
    """With `[backup] enabled = false` there is no `cinder-backup` service; a create is accepted
    and the backup ends `error` with the scheduler's reason and a user message, the volume
    untouched (scheduler/manager.py create_backup), as Cinder answers without a backup service."""
    from conftest import Cloud
    nimbus = start_cloud(tmp_path / "data", config={**NO_TEST_IMAGE, "backup": {"enabled": "false"}})
    try:
        admin = Vol.admin(Cloud(nimbus))
        binaries = {s["binary"] for s in admin.ok("GET", "/os-services")["services"]}
        assert "cinder-backup" not in binaries and "cinder-volume" in binaries
        vol = admin.create_volume(1)
        b = create_backup(admin, vol["id"], wait=False)
        shown = wait_backup(admin, b["id"], "error")
        assert shown["fail_reason"] == "Service not found for creating backup.", shown
        assert admin.show_volume(vol["id"])["status"] == "available"
        messages = admin.ok("GET", "/messages", version="3.3")["messages"]
        assert any(m["resource_uuid"] == b["id"] and m["event_id"] == "VOLUME_VOLUME_BACKUP_013_024" for m in messages), messages
        admin.ok("DELETE", f"/backups/{b['id']}", status=202)
        admin.wait_gone("backups", b["id"])
    finally:
        nimbus.stop()


def test_kill_9_during_a_backup_leaves_it_error_not_stuck(tmp_path):
    """`kill -9` while a backup is writing its objects: after a restart the backup is `error`
    ("incomplete backup reset on manager restart", backup/manager.py _cleanup_one_backup), the
    volume is back to `available`, the objects it had written are removed, and no temporary
    file is left on the storage node; the volume backs up fine afterwards."""
    from conftest import Cloud
    config = {**NO_TEST_IMAGE, "backup": {"object_size": str(4 << 20), "max_operations": "1"}}
    first = start_cloud(tmp_path / "data", config=config)
    try:
        admin = Vol.admin(Cloud(first))
        vol = admin.create_volume(1)
        # 256 MiB of random bytes straight into the file (the volume is detached): 64 objects to write.
        source = tmp_path / "random"
        source.write_bytes(os.urandom(64 << 20))
        argv = ["qemu-io", "-f", "qcow2"] + sum((["-c", f"write -s {source} {i * (64 << 20)} {64 << 20}"] for i in range(4)), [])
        subprocess.run(argv + [str(volume_file(admin.cloud, vol["id"]))], check=True, capture_output=True, timeout=300)
        b = create_backup(admin, vol["id"], wait=False)
        wait_for(lambda: len(swift_names(admin, "volumebackups", f"volume_{vol['id']}/")) >= 2, 60, 0.05, what="the first objects")
        assert admin.ok("GET", f"/backups/{b['id']}")["backup"]["status"] == "creating"
        assert admin.show_volume(vol["id"])["status"] == "backing-up"
    finally:
        first.kill()
    second = start_cloud(first.data_dir, port=first.port, config=config, passwords=(first.admin_password, first.demo_password))
    try:
        admin = Vol.admin(Cloud(second))
        after = admin.ok("GET", f"/backups/{b['id']}")["backup"]
        assert after["status"] == "error" and after["fail_reason"] == "incomplete backup reset on manager restart", after
        assert admin.show_volume(vol["id"])["status"] == "available"
        wait_for(lambda: swift_names(admin, "volumebackups", f"volume_{vol['id']}/") == [], 30, what="the partial objects removed")
        assert [p.name for p in volumes_dir(admin.cloud).iterdir() if p.name.startswith(".tmp-")] == []
        again = create_backup(admin, vol["id"])
        assert again["status"] == "available" and again["object_count"] == 64
        admin.ok("DELETE", f"/backups/{b['id']}", status=202)
        admin.wait_gone("backups", b["id"])
    finally:
        second.stop()
