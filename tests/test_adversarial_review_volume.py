"""Adversarial review of the Block Storage service (Cinder v3 at <base>/volume/v3[/{project_id}]).

Each test in the first part ("findings") fails on the build under review because Nimbus is wrong:
it does what Cinder does not (expected behaviour read from openstack/cinder master,
/work/.mirror/openstack+cinder, file named in each docstring), or a plain sequence of user requests
leaves a volume stuck in an error status, another project's data destroyed, or a project over its
quota.  The second part ("hardening") pins what already holds against the same attacks, so that a
fix of the first part cannot quietly undo it.

The module runs its own cloud (volume_support.bs_cloud); every test works in fresh projects.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest
import requests

from adversarial_support import raw_request
from conftest import Cloud
from volume_support import (  # noqa: F401  (fixtures are used by name)
    ATTACH,
    Vol,
    attach,
    nbd_io,
    assert_fault,
    assert_over_quota,
    bs_admin,
    bs_cloud,
    bs_user,
    qemu_write_pattern,
    snapshot_file,
    start_cloud,
    unique,
    volume_file,
    volumes_dir,
    wait_for,
)

# Statuses a volume or snapshot only passes through; anything else is where it rests.
TRANSITIONAL = {"creating", "deleting", "extending", "reverting", "attaching", "detaching", "uploading", "retyping", "downloading"}


def settle_volume(me: Vol, vid: str, timeout: float = 30) -> dict | None:
    """The volume once it rests (None when it is gone)."""
    def rested():
        r = me.req("GET", f"/volumes/{vid}")
        if r.status_code == 404:
            return {"gone": True}
        v = r.json()["volume"]
        return v if v["status"] not in TRANSITIONAL else None
    v = wait_for(rested, timeout, what=f"volume {vid} to rest")
    return None if v.get("gone") else v


def settle_snapshot(me: Vol, sid: str, timeout: float = 30) -> dict | None:
    def rested():
        r = me.req("GET", f"/snapshots/{sid}")
        if r.status_code == 404:
            return {"gone": True}
        s = r.json()["snapshot"]
        return s if s["status"] not in TRANSITIONAL else None
    s = wait_for(rested, timeout, what=f"snapshot {sid} to rest")
    return None if s.get("gone") else s


def usage(me: Vol, resource: str = "gigabytes") -> dict:
    return me.ok("GET", f"/os-quota-sets/{me.project_id}", params={"usage": "true"})["quota_set"][resource]


# =================================================================================================
# Findings
# =================================================================================================

def test_cascade_delete_does_not_destroy_another_projects_snapshots(bs_cloud, bs_user):
    """SEVERITY HIGH (cross-project destruction).  A transfer made with no_snapshots (3.55) moves
    the volume and leaves its snapshots with the donor (cinder/db/api.py transfer_accept:
    snapshots change project only `if not no_snapshots`).  The new owner may then
    not delete the volume with cascade=true: cinder/volume/api.py delete() adds
    `~db.volume_has_other_project_snp_filter()` for non-admins ("Check if the volume has snapshots
    which are existing in other project now") and answers 400 InvalidVolume "... or be
    disassociated from snapshots after volume transfer."  Nimbus's VolumeService.deleteVolume
    cascades over every snapshot of the volume whatever its project: the recipient's DELETE is 202
    and the donor's snapshot (document and file) is gone."""
    donor, taker = bs_user(), bs_user()
    vid = donor.create_volume()["id"]
    sid = donor.create_snapshot(vid)["id"]
    t = donor.ok("POST", "/volume-transfers", 202, json={"transfer": {"volume_id": vid, "no_snapshots": True}},
                 version="3.55")["transfer"]
    r = taker.req("POST", f"/volume-transfers/{t['id']}/accept", json={"accept": {"auth_key": t["auth_key"]}}, version="3.55")
    assert r.status_code == 202, r.text
    assert donor.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "available", "no_snapshots: the donor keeps it"

    r = taker.req("DELETE", f"/volumes/{vid}", params={"cascade": "true"})
    settle_volume(taker, vid)
    snap = donor.req("GET", f"/snapshots/{sid}")
    assert snap.status_code == 200 and snap.json()["snapshot"]["status"] == "available", \
        f"the recipient's cascade delete ({r.status_code}) destroyed the donor's snapshot: {snap.status_code} {snap.text[:200]}"
    assert snapshot_file(bs_cloud, sid).exists(), "the donor's snapshot bytes were removed"
    assert_fault(r, 400)


def test_transfer_accept_checks_volume_and_snapshot_gigabytes_together(bs_admin, bs_user):
    """SEVERITY MEDIUM (quota bypass).  cinder/transfer/api.py accept reserves the recipient's
    `volumes: 1, gigabytes: <volume size>` and then, in _handle_snapshot_quota,
    `snapshots: n, gigabytes: <sum of snapshot sizes>`; a reservation counts what earlier
    reservations hold (cinder/db/api.py quota_reserve: in_use + reserved + delta), so a
    2 GiB volume with a 2 GiB snapshot needs 4 GiB of the recipient's gigabytes: with a limit of 3
    the accept is 413.  Nimbus's acceptTransfer checks the volume's size and the snapshots' sizes
    each against the same usage, separately: the accept succeeds and the project ends at 4 of 3."""
    donor, taker = bs_user(), bs_user()
    bs_admin.ok("PUT", f"/os-quota-sets/{taker.project_id}", json={"quota_set": {"gigabytes": 3}})
    vid = donor.create_volume(size=2)["id"]
    donor.create_snapshot(vid)
    t = donor.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": vid}})["transfer"]
    r = taker.req("POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {"auth_key": t["auth_key"]}})
    used = usage(taker)
    assert used["in_use"] <= used["limit"], f"accept answered {r.status_code}; the recipient now uses {used}"
    assert_over_quota(r)
    assert donor.show_volume(vid)["status"] == "awaiting-transfer"


def test_an_extend_in_progress_counts_against_the_quota(bs_admin, bs_user):
    """SEVERITY MEDIUM (quota bypass).  Cinder reserves the extension's gigabytes as the volume goes
    `extending` (cinder/volume/api.py _extend: conditional_update to extending, then
    QUOTAS.reserve(gigabytes=size_increase), committed by the manager when the extend is done), and a
    reservation counts in every later reserve (cinder/db/api.py quota_reserve: in_use + reserved + delta >
    limit -> OverQuota), so with gigabytes=10, a 1 GiB
    volume being extended to 10 leaves no room: a 9 GiB volume is 413.  Nimbus counts usage from
    the documents' `size`, which changes only when qemu-img is done; during the ~40 ms of the
    extend the old size is what counts, and the create is accepted: the project ends at 19 of 10."""
    me = bs_user()
    bs_admin.ok("PUT", f"/os-quota-sets/{me.project_id}", json={"quota_set": {"gigabytes": 10, "volumes": -1}})
    outcomes = []
    for _ in range(3):
        vid = me.create_volume(size=1)["id"]
        assert me.action(vid, "os-extend", {"new_size": 10}).status_code == 202
        r = me.req("POST", "/volumes", json={"volume": {"size": 9, "name": "squeezed-in"}})
        outcomes.append(r.status_code)
        if r.status_code == 202:
            break
        settle_volume(me, vid)
        assert me.req("DELETE", f"/volumes/{vid}").status_code == 202
        me.wait_gone("volumes", vid)
    for v in me.ok("GET", "/volumes")["volumes"]:
        settle_volume(me, v["id"])
    used = usage(me)
    assert used["in_use"] <= used["limit"], f"creates during the extend answered {outcomes}; usage is now {used}"


def test_extend_while_a_clone_is_being_copied_from_the_volume(bs_cloud, bs_user):
    """SEVERITY MEDIUM (a user's volume stuck in an error status).  Making a clone from a volume
    leaves the source `available` (the create flow of cinder/volume/flows/api/create_volume.py
    does not change the source's status) and cinder/volume/api.py _extend asks only for status
    `available`: an extend of the source right after `openstack volume create --source` is
    accepted, and the driver does both.  Nimbus accepts it too, then runs `qemu-img resize` on the
    file while `qemu-img convert` still copies it (two unordered background tasks, one keyed by
    the source, one by the clone); qemu's image lock refuses the resize ("Failed to get "write"
    lock") and the source ends `error_extending`, which a project member cannot leave (only an
    admin's os-reset_status can): no snapshot, extend, attach or transfer any more.  Either the
    extend waits for the copy or it is refused up front; it must not break the volume.
    (Snapshots no longer collide this way: they read with `qemu-img convert -U`.)"""
    me = bs_user()
    outcomes = []
    for _ in range(2):
        vid = me.create_volume()["id"]
        qemu_write_pattern(volume_file(bs_cloud, vid), 0x21, 0, 16 << 20)   # a copy that takes a moment, as real data does
        clone = me.create_volume(size=None, source_volid=vid, wait=None)["id"]
        r = me.action(vid, "os-extend", {"new_size": 2})
        vol = settle_volume(me, vid)
        copy = settle_volume(me, clone)
        outcomes.append((r.status_code, vol["status"], vol["size"], copy["status"] if copy else "gone"))
    for code, status, size, copy_status in outcomes:
        assert status == "available" and copy_status == "available", f"(extend answer, source status, size, clone status): {outcomes}"
        assert (code == 202 and size == 2) or (400 <= code < 500 and size == 1), outcomes


def test_revert_holds_its_snapshot(bs_cloud, bs_user):
    """SEVERITY MEDIUM (a user's volume stuck in `error`).  cinder/volume/api.py
    revert_to_snapshot moves the snapshot from `available` to `restoring` (SnapshotStatus.RESTORING)
    together with the volume to `reverting`, and delete_snapshot only takes a snapshot that is
    `available` or `error` (else 400 InvalidSnapshot), so a snapshot cannot be deleted under a
    revert.  Nimbus leaves the snapshot `available`; a DELETE right after the revert's 202 is
    accepted, removes the file before the storage node reads it, and the revert fails: the volume
    ends `error` (not reverted) and the snapshot is gone."""
    me = bs_user()
    vid = me.create_volume()["id"]
    path = volume_file(bs_cloud, vid)
    qemu_write_pattern(path, 0x44, 0, 1 << 20)
    sid = me.create_snapshot(vid)["id"]
    qemu_write_pattern(path, 0x55, 0, 1 << 20)
    assert me.action(vid, "revert", {"snapshot_id": sid}, version="3.40").status_code == 202
    d = me.req("DELETE", f"/snapshots/{sid}")
    vol = settle_volume(me, vid)
    settle_snapshot(me, sid)
    assert vol["status"] == "available", f"DELETE of the snapshot under the revert answered {d.status_code}; volume is {vol['status']}"
    assert_fault(d, 400)


def test_quota_resources_of_canonically_equivalent_type_names_stay_apart(bs_admin, bs_user):
    """SEVERITY LOW/MEDIUM.  Volume type names are compared as code points in Cinder (a Python str,
    the DB row), so types "qé" (U+00E9) and "qé" (e + U+0301) are two types, and their quota
    resources `volumes_qé` / `volumes_qé` (cinder/quota.py VolumeTypeResource, named
    '<part>_<type name>') two resources with their own limits and usage.  Nimbus keeps both types
    apart but keys limits and usage by Swift String (canonical equivalence): a limit set on one is
    the other's, and a volume of one is counted in both."""
    tag = uuid.uuid4().hex[:6]
    nfc, nfd = f"q{tag}\u00e9", f"q{tag}e\u0301"
    for name in (nfc, nfd):
        made = bs_admin.ok("POST", "/types", json={"volume_type": {"name": name}})["volume_type"]
        assert made["name"].encode() == name.encode()
    me = bs_user()
    set_ = bs_admin.ok("PUT", f"/os-quota-sets/{me.project_id}", json={"quota_set": {f"volumes_{nfc}": 0}})["quota_set"]
    assert (set_[f"volumes_{nfc}"], set_[f"volumes_{nfd}"]) == (0, -1), {k: v for k, v in set_.items() if tag in k}
    r = me.req("POST", "/volumes", json={"volume": {"size": 1, "volume_type": nfd}})
    assert r.status_code == 202, r.text
    vol = me.wait_volume(r.json()["volume"]["id"])
    assert vol["volume_type"].encode() == nfd.encode()
    q = me.ok("GET", f"/os-quota-sets/{me.project_id}", params={"usage": "true"})["quota_set"]
    assert (q[f"volumes_{nfc}"]["in_use"], q[f"volumes_{nfd}"]["in_use"]) == (0, 1), {k: v for k, v in q.items() if tag in k}


def test_volume_from_snapshot_gets_the_snapshots_image_metadata(bs_user):
    """SEVERITY LOW (wrong data; after a no_snapshots transfer, another project's).  At snapshot
    time Cinder copies a bootable volume's image metadata to the snapshot
    (cinder/volume/manager.py create_snapshot: volume_glance_metadata_copy_to_snapshot), and a
    volume made from the snapshot gets the snapshot's copy (cinder/volume/flows/manager/
    create_volume.py _create_from_snapshot -> _handle_bootable_volume_glance_meta ->
    volume_glance_metadata_copy_to_volume(volume, snapshot_id)).  Nimbus copies the *parent
    volume's current* volume_image_metadata when the new volume is made, so what was set on the
    parent after the snapshot (by its owner, who after a no_snapshots transfer is another
    project) shows up in the volume made from the snapshot."""
    me = bs_user()
    vid = me.create_volume()["id"]
    assert me.action(vid, "os-set_bootable", {"bootable": True}).status_code == 200
    assert me.action(vid, "os-set_image_metadata", {"metadata": {"k": "then"}}).status_code == 200
    sid = me.create_snapshot(vid)["id"]
    assert me.action(vid, "os-set_image_metadata", {"metadata": {"k": "now", "added": "later"}}).status_code == 200
    child = me.create_volume(size=None, snapshot_id=sid)
    assert child["bootable"] == "true", child
    assert child.get("volume_image_metadata") == {"k": "then"}, child.get("volume_image_metadata")


def test_microversion_header_without_a_volume_entry_is_400(bs_user):
    """SEVERITY LOW.  cinder/api/openstack/wsgi.py Request.set_api_version_request raises
    VersionNotFoundForAPIMethod when the OpenStack-API-Version header has no `volume` entry;
    Resource.__call__ catches only InvalidAPIVersionString and InvalidGlobalAPIVersion, so the
    FaultWrapper answers it with its code, 400 (cinder/exception.py: VersionNotFoundForAPIMethod is
    an Invalid, code 400).  Nimbus answers 404 itemNotFound, as if the resource did not exist."""
    me = bs_user()
    r = me.req("GET", "/volumes", headers={"OpenStack-API-Version": "compute 2.1"})
    assert_fault(r, 400)


def test_unknown_filters_are_refused_from_3_31(bs_user):
    """SEVERITY LOW.  From 3.31 a non-admin's filter that resource_filters.json does not list is
    400 "Invalid filters <k> are found in query options." (cinder/api/common.py
    reject_invalid_filters via process_general_filtering).  Nimbus also lets through any key whose
    last character dropped is a known filter (`namex`, `sizes`, `status0`) and answers 200 with an
    empty list, so a typo looks like "no volumes"."""
    me = bs_user()
    me.create_volume(name="x", wait=None)
    for key in ("namex", "sizes", "status0"):
        assert_fault(me.req("GET", "/volumes", params={key: "x"}, version="3.31"), 400, "Invalid filters")


def test_volume_type_names_are_kept_as_given(bs_admin):
    """SEVERITY LOW.  Cinder does not strip volume type names: types_manage.py _create passes
    `vol_type['name']` to volume_types.create unchanged (the schema's `name` format only refuses a
    name that strips to nothing), so " gold" and "gold" are two types and a name keeps its leading
    whitespace.  Nimbus trims (Foundation's whitespace set, which also takes U+200B ZERO WIDTH
    SPACE, not whitespace for Python): " gold" is stored as "gold", and "gold" is then 409."""
    base = unique("tname")
    for name in (" " + base, base, base + "\u200b"):
        r = bs_admin.req("POST", "/types", json={"volume_type": {"name": name}})
        assert r.status_code == 200, (repr(name), r.status_code, r.text[:200])
        assert r.json()["volume_type"]["name"].encode() == name.encode(), (repr(name), r.json()["volume_type"]["name"])


needs_exports = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                   reason="exports need root and qemu-storage-daemon")


def connect(me: Vol, volume_id: str) -> dict:
    """An attachment of the volume with a connector (so exported), as Nova makes one."""
    return attach(me, volume_id, {"host": "node-1", "mountpoint": "/dev/vdb"})


def served(info: dict) -> bool:
    return nbd_io(info, "read 0 512", check=False).returncode == 0


@needs_exports
def test_legacy_detach_stops_the_export(bs_cloud, bs_user):
    """SEVERITY HIGH (another project's data readable and writable).  The legacy `os-detach`
    action (a member's right, volume_extension:volume_actions:detach) ends in
    cinder/volume/manager.py detach_volume, which calls `self.driver.remove_export()` once the
    volume has no attachment left: the target is gone with the attachment.  Nimbus's
    VolumeService.detach only drops the attachment document; the NBD export made for it keeps
    serving the volume, read-write, under the secret its holder already has.  The volume is then
    `available`: its owner may transfer it, and what the new project writes is read (and
    overwritten) through the old export; after the new owner deletes the volume the export still
    serves the deleted volume's bytes, and the storage daemon keeps the unlinked file open (its
    space never comes back) until Nimbus restarts."""
    donor, taker = bs_user(), bs_user()
    vid = donor.create_volume()["id"]
    info = connect(donor, vid)["connection_info"]
    assert served(info)
    assert donor.action(vid, "os-detach", {}).status_code == 202
    assert donor.show_volume(vid)["status"] == "available"
    if not served(info):
        return
    # Show what the live export gives: the next owner's data.
    t = donor.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": vid}})["transfer"]
    taker.ok("POST", f"/os-volume-transfer/{t['id']}/accept", 202, json={"accept": {"auth_key": t["auth_key"]}})
    theirs = connect(taker, vid)
    nbd_io(theirs["connection_info"], "write -P 0x77 1M 64k", "flush")
    leaked = nbd_io(info, "read -P 0x77 1M 64k", check=False)
    taker.ok("DELETE", f"/attachments/{theirs['id']}", version=ATTACH)
    assert not served(info), ("after os-detach the donor's export still serves the volume; after the transfer it reads the new "
                              f"project's data: {leaked.stdout.strip()[:120]}")


@needs_exports
def test_concurrent_connections_leave_no_export_behind(bs_cloud, bs_user):
    """SEVERITY HIGH (same exposure as above, by a race).  PUT /attachments/{id} with a connector
    (cinder/api/v3/attachments.py update -> volume/api.py attachment_update) gives the attachment
    one connection; deleting the attachment removes it (attachment_delete -> manager
    attachment_delete -> driver.remove_export).  Nimbus's VolumeService.connect picks a new export
    name and exports the volume *before* it records the name, outside the state's write: four
    concurrent PUTs make four exports, the document keeps the last one, and deleting the
    attachment stops only that one; the others keep serving the volume read-write until a
    restart, to whoever got their names (and past a transfer of the volume, as above)."""
    me = bs_user()
    vid = me.create_volume()["id"]
    a = attach(me, vid)
    answers = []

    def put():
        answers.append(me.req("PUT", f"/attachments/{a['id']}", json={"attachment": {"connector": {"host": "node-1"}}}, version=ATTACH))
    threads = [threading.Thread(target=put) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    infos = {r.json()["attachment"]["connection_info"]["data"]["export"]: r.json()["attachment"]["connection_info"]
             for r in answers if r.status_code == 200}
    assert infos, [r.text[:200] for r in answers]
    me.ok("DELETE", f"/attachments/{a['id']}", version=ATTACH)
    assert me.show_volume(vid)["status"] == "available"
    still = [name[:8] for name, info in infos.items() if served(info)]
    assert not still, f"{len(infos)} exports were made for one attachment; {len(still)} still serve the volume after it was detached"


@needs_exports
def test_extending_an_attached_volume(bs_cloud, bs_user):
    """Found: from 3.42 Cinder extends an `in-use` volume (cinder/volume/api.py
    extend_attached_volume); Nimbus accepted it and asked the storage daemon for `block_resize`,
    which QEMU refuses (the NBD server does not share `resize` on a node it exports), so every
    such extend ended `error_extending`. Now the exports stop while the node grows and start
    again under the same names: the volume is `in-use` at its new size, the export serves the new
    size with the bytes written before, and before 3.42 an attached volume is not extended (400,
    Cinder's message)."""
    me = bs_user()
    vid = me.create_volume()["id"]
    a = connect(me, vid)
    assert me.req("POST", f"/attachments/{a['id']}/action", json={"os-complete": {}}, version="3.44").status_code == 204
    nbd_io(a["connection_info"], "write -P 0x5e 4k 4k", "flush")
    r = me.action(vid, "os-extend", {"new_size": 2}, version="3.41")
    assert_fault(r, 400, "Volume status must be 'available' to extend, currently in-use.")
    r = me.action(vid, "os-extend", {"new_size": 2}, version="3.42")
    assert r.status_code == 202, r.text
    vol = settle_volume(me, vid)
    assert (vol["status"], vol["size"]) == ("in-use", 2), (vol["status"], vol["size"])
    nbd_io(a["connection_info"], "read -P 0x5e 4k 4k", f"write -P 0x6f {(2 << 30) - 4096} 4k", f"read -P 0x6f {(2 << 30) - 4096} 4k")
    data = a["connection_info"]["data"]
    info = subprocess.run(["qemu-img", "info", "--output=json", f"nbd+unix:///{data['export']}?socket={data['path']}"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and '"virtual-size": 2147483648' in info.stdout, info.stdout + info.stderr


@needs_exports
def test_an_attached_volume_can_be_cloned(bs_cloud, bs_user):
    """SEVERITY LOW/MEDIUM.  A volume may be cloned while it is attached: the create flow accepts a
    source in SRC_VOL_PROCEED_STATUS = ('available', 'in-use') (cinder/volume/flows/api/
    create_volume.py _extract_source_volume).  Nimbus refuses any source that is not `available`
    (400 "Unable to clone volumes that are in an error state or not available."), so
    `openstack volume create --source <attached volume>` fails.  (Its copy would also need to read
    the file as snapshots now do, with `-U`: the storage daemon holds the attached volume's lock.)"""
    me = bs_user()
    vid = me.create_volume()["id"]
    a = connect(me, vid)
    assert me.req("POST", f"/attachments/{a['id']}/action", json={"os-complete": {}}, version="3.44").status_code == 204
    nbd_io(a["connection_info"], "write -P 0x3c 0 64k", "flush")
    r = me.req("POST", "/volumes", json={"volume": {"source_volid": vid}})
    assert r.status_code == 202, r.text[:300]
    clone = me.wait_volume(r.json()["volume"]["id"])
    assert subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-U", "-c", "read -P 0x3c 0 64k", str(volume_file(bs_cloud, clone["id"]))],
                          capture_output=True, text=True).stdout.count("read 65536/65536") == 1


# =================================================================================================
# Hardening checks (pass today)
# =================================================================================================

def test_other_projects_resources_are_invisible(bs_admin, bs_user):
    """Every kind of resource of project A, by id and through filters, markers and all_tenants,
    is 404 / absent for a member of B (Cinder: project-scoped DB lookups); quota sets of A are 403
    for B (volume_extension:quotas:show is project reader); /limits?project_id=A (3.39) is B's own."""
    a, b = bs_user(), bs_user()
    vid = a.create_volume(metadata={"k": "v"})["id"]
    sid = a.create_snapshot(vid)["id"]
    t = a.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": a.create_volume()["id"]}})["transfer"]
    private = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("priv"), "os-volume-type-access:is_public": False}})["volume_type"]
    bs_admin.ok("POST", f"/types/{private['id']}/action", 202, json={"addProjectAccess": {"project": a.project_id}})
    unschedulable = bs_admin.ok("POST", "/types", json={"volume_type": {"name": unique("nomatch"), "extra_specs": {"volume_backend_name": "nope"}}})["volume_type"]
    a.ok("POST", "/volumes", 202, json={"volume": {"size": 1, "volume_type": unschedulable["name"]}})
    (message,) = wait_for(lambda: a.ok("GET", "/messages", version="3.3")["messages"], 10, what="a user message")
    not_found = [
        ("GET", f"/volumes/{vid}", None), ("GET", f"/volumes/{vid}/metadata", None), ("PUT", f"/volumes/{vid}", {"volume": {"name": "x"}}),
        ("DELETE", f"/volumes/{vid}/metadata/k", None), ("POST", f"/volumes/{vid}/action", {"os-extend": {"new_size": 2}}),
        ("POST", f"/volumes/{vid}/action", {"os-attach": {"mountpoint": "/dev/vdb", "instance_uuid": str(uuid.uuid4())}}),
        ("GET", f"/snapshots/{sid}", None), ("DELETE", f"/snapshots/{sid}", None), ("POST", f"/snapshots/{sid}/metadata", {"metadata": {"a": "b"}}),
        ("POST", "/snapshots", {"snapshot": {"volume_id": vid}}), ("POST", "/volumes", {"volume": {"snapshot_id": sid}}),
        ("POST", "/volumes", {"volume": {"source_volid": vid}}), ("POST", "/os-volume-transfer", {"transfer": {"volume_id": vid}}),
        ("GET", f"/os-volume-transfer/{t['id']}", None), ("DELETE", f"/os-volume-transfer/{t['id']}", None),
        ("GET", f"/types/{private['id']}", None), ("GET", f"/types/{private['id']}/extra_specs", None),
        ("POST", "/volumes", {"volume": {"size": 1, "volume_type": private["name"]}}),
        ("GET", f"/messages/{message['id']}", None), ("DELETE", f"/messages/{message['id']}", None),
    ]
    for method, path, body in not_found:
        r = b.req(method, path, json=body, version="3.3")
        assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
    for path, params in [("/volumes/detail", {"all_tenants": "1"}), ("/volumes", {"project_id": a.project_id}),
                         ("/snapshots", {"all_tenants": "1", "volume_id": vid}), ("/os-volume-transfer/detail", {"all_tenants": "1"})]:
        body = b.ok("GET", path, params=params)
        assert all(v == [] for v in body.values()), (path, body)
    assert b.ok("GET", "/messages", params={"resource_uuid": message["resource_uuid"]}, version="3.3")["messages"] == []
    assert private["id"] not in {x["id"] for x in b.ok("GET", "/types", params={"is_public": "none"})["volume_types"]}
    assert_fault(b.req("GET", "/volumes", params={"marker": vid}), 404)
    assert_fault(b.req("GET", f"/os-quota-sets/{a.project_id}"), 403)
    limits = b.ok("GET", "/limits", params={"project_id": a.project_id}, version="3.39")["limits"]["absolute"]
    assert limits["totalVolumesUsed"] == 0 and limits["totalSnapshotsUsed"] == 0, limits
    wrong = b.req("POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {"auth_key": "0" * 16}})
    assert_fault(wrong, 400, "invalid auth key")
    assert a.show_volume(vid)["metadata"] == {"k": "v"} and a.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "available"


def test_readers_cannot_write(bs_user):
    """A project reader gets 403 for every write (cinder/policies: all writes are
    xena_system_admin_or_project_member), and nothing changes."""
    m = bs_user()
    r = bs_user("reader", project_of=m)
    vid = m.create_volume(metadata={"a": "1"})["id"]
    sid = m.create_snapshot(vid)["id"]
    t = m.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": m.create_volume()["id"]}})["transfer"]
    writes = [("POST", "/volumes", {"volume": {"size": 1}}), ("PUT", f"/volumes/{vid}", {"volume": {"name": "x"}}),
              ("DELETE", f"/volumes/{vid}", None), ("POST", f"/volumes/{vid}/metadata", {"metadata": {"a": "b"}}),
              ("PUT", f"/volumes/{vid}/metadata/a", {"meta": {"a": "b"}}), ("DELETE", f"/volumes/{vid}/metadata/a", None),
              ("POST", "/snapshots", {"snapshot": {"volume_id": vid}}), ("PUT", f"/snapshots/{sid}", {"snapshot": {"name": "x"}}),
              ("DELETE", f"/snapshots/{sid}", None), ("POST", f"/snapshots/{sid}/metadata", {"metadata": {"a": "b"}}),
              ("POST", "/os-volume-transfer", {"transfer": {"volume_id": vid}}), ("DELETE", f"/os-volume-transfer/{t['id']}", None),
              ("POST", f"/os-volume-transfer/{t['id']}/accept", {"accept": {"auth_key": t["auth_key"]}})]
    for action, arg in [("os-extend", {"new_size": 2}), ("os-set_bootable", {"bootable": True}), ("os-update_readonly_flag", {"readonly": True}),
                        ("os-retype", {"new_type": "__DEFAULT__"}), ("os-reserve", {}), ("os-attach", {"mountpoint": "/dev/vdb", "host_name": "h"}),
                        ("os-volume_upload_image", {"image_name": "x"}), ("os-set_image_metadata", {"metadata": {"a": "b"}}),
                        ("revert", {"snapshot_id": sid})]:
        writes.append(("POST", f"/volumes/{vid}/action", {action: arg}))
    for method, path, body in writes:
        assert_fault(r.req(method, path, json=body, version="3.40"), 403)
    v = m.show_volume(vid)
    assert (v["status"], v["metadata"], v["size"], v["bootable"]) == ("available", {"a": "1"}, 1, "false"), v
    assert m.ok("GET", f"/os-volume-transfer/{t['id']}")["transfer"]["id"] == t["id"]


def test_odd_ids_never_reach_the_storage_node(bs_cloud, bs_user):
    """Ids with `/`, `..`, NUL, invalid UTF-8, upper case or 5,000 characters, in the path or in a
    body's snapshot_id / source_volid, are 4xx (never 5xx) and make no file outside
    <data_dir>/volumes nor in it."""
    me = bs_user()
    vid = me.create_volume()["id"]
    before = sorted(os.listdir(volumes_dir(bs_cloud)))
    prefix = me.endpoint.replace(bs_cloud.base_url, "")
    ids = ["..%2F..%2Fnimbus.sqlite", "%2e%2e", "..", "%00", "%FF%FE", vid.upper(), "a" * 5000, f"{vid}%2F..%2F{vid}", "%E2%80%AE"]
    for ident in ids:
        for method, path, body in [("GET", f"/volumes/{ident}", b""), ("DELETE", f"/volumes/{ident}", b""),
                                   ("POST", f"/volumes/{ident}/action", b'{"os-extend": {"new_size": 2}}'),
                                   ("DELETE", f"/snapshots/{ident}", b""), ("GET", f"/volumes/{vid}/metadata/{ident}", b"")]:
            r = raw_request(bs_cloud.base_url, method, prefix + path,
                            {"X-Auth-Token": me.token, "Content-Type": "application/json"}, body)
            assert 400 <= r.status < 500, (method, path[:120], r.status, r.text[:200])
        for method in ("GET", "DELETE", "PUT"):
            r = raw_request(bs_cloud.base_url, method, prefix + f"/attachments/{ident}",
                            {"X-Auth-Token": me.token, "Content-Type": "application/json", "OpenStack-API-Version": "volume 3.54"},
                            b'{"attachment": {"connector": {"host": "x"}}}' if method == "PUT" else b"")
            assert 400 <= r.status < 500, (method, ident[:60], r.status, r.text[:200])
    for key in ("snapshot_id", "source_volid"):
        for ident in ["../../etc/passwd", vid.upper().replace("-", ""), "a/b", "\u0000", vid + "/.."]:
            r = me.req("POST", "/volumes", json={"volume": {"size": 1, key: ident}})
            assert r.status_code in (400, 404), (key, ident, r.status_code, r.text[:200])
    assert sorted(os.listdir(volumes_dir(bs_cloud))) == before
    assert me.show_volume(vid)["status"] == "available"


def test_malformed_bodies_are_4xx(bs_user):
    """Bodies that are not what the schema wants (wrong JSON types, deep nesting, numbers past
    Int64 or as floats, booleans for sizes, digit strings with leading zeros or over 19 digits,
    bad UTF-8, lone surrogates, over 1 MiB) are 400/413, never 5xx, and create nothing."""
    me = bs_user()
    vid = me.create_volume()["id"]
    raw = [b"[]", b'"x"', b"null", b"1", b"{", b"\xef\xbb\xbf{}", b'{"volume": ' + b"[" * 100000 + b"]" * 100000 + b"}",
           b'{"volume": {"size": 1' + b"0" * 400 + b"}}", b'{"volume": {"size": 1e400}}', b'{"volume": {"size": 1, "name": "\xff"}}',
           b'{"volume": {"size": 1, "name": "\\ud800"}}', b'{"volume": {"size": 1, "name": "' + b"a" * (2 << 20) + b'"}}']
    for body in raw:
        r = me.req("POST", "/volumes", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 413), (body[:60], r.status_code, r.text[:200])
    for size in [True, 1.0, -1, 0, "-1", "", " 1", "1e3", "\u0661", "\u00b2", [], {}, "0" * 20 + "1", 2 ** 63, 2 ** 31]:
        r = me.req("POST", "/volumes", json={"volume": {"size": size}})
        assert r.status_code in (400, 413), (size, r.status_code, r.text[:200])
        r = me.action(vid, "os-extend", {"new_size": size})
        assert r.status_code in (400, 413), (size, r.status_code, r.text[:200])
    for body in [{"os-extend": None}, {"os-extend": []}, {"os-retype": "x"}, {"revert": 1}, {"os-attach": {"mountpoint": None}},
                 {"os-set_image_metadata": {"metadata": {"a": {"b": "c"}}}}, {"os-unset_image_metadata": {"key": None}}, {}, {"a": 1, "b": 2}]:
        r = me.req("POST", f"/volumes/{vid}/action", json=body, version="3.40")
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text[:200])
    assert [v["id"] for v in me.ok("GET", "/volumes")["volumes"]] == [vid]
    assert me.show_volume(vid)["size"] == 1


def test_huge_volumes_stay_sparse(bs_cloud, bs_admin, bs_user):
    """A 1 TiB volume (the largest max_volume_size_gb allows), its snapshot, a clone and a volume
    from the snapshot cost a few hundred KiB each on the storage node, and 1025 GiB is 413."""
    me = bs_user()
    bs_admin.ok("PUT", f"/os-quota-sets/{me.project_id}", json={"quota_set": {"gigabytes": -1}})
    vid = me.create_volume(size=1024)["id"]
    sid = me.create_snapshot(vid)["id"]
    clone = me.create_volume(size=None, source_volid=vid)["id"]
    child = me.create_volume(size=None, snapshot_id=sid)["id"]
    for path in (volume_file(bs_cloud, vid), snapshot_file(bs_cloud, sid), volume_file(bs_cloud, clone), volume_file(bs_cloud, child)):
        assert path.stat().st_blocks * 512 < 16 << 20, (path.name, path.stat().st_blocks * 512)
    assert_over_quota(me.req("POST", "/volumes", json={"volume": {"size": 1025}}))
    assert_over_quota(me.action(clone, "os-extend", {"new_size": 1025}))


def test_state_races_that_hold(bs_cloud, bs_admin, bs_user):
    """Races that already end right: concurrent extends (one wins, the others 400), two projects
    accepting one transfer at once (one 202, one 404, the volume and usage with the winner), an
    accept after the volume was force-deleted (404), a force-delete of a clone still being made
    and of a snapshot still being made (both gone, no file left), wrong transfer keys (no side
    effect; the right key still works)."""
    owner, b, c = bs_user(), bs_user(), bs_user()
    vid = owner.create_volume()["id"]
    codes = {}
    threads = [threading.Thread(target=lambda n=n: codes.__setitem__(n, owner.action(vid, "os-extend", {"new_size": n}).status_code))
               for n in (2, 3, 4, 5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    vol = settle_volume(owner, vid)
    accepted = [n for n, code in codes.items() if code == 202]
    assert accepted and set(codes.values()) <= {202, 400}, codes
    assert vol["status"] == "available" and vol["size"] == max(accepted), (codes, vol)

    given = owner.create_volume()["id"]
    t = owner.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": given}})["transfer"]
    for wrong in ["0" * 16, t["auth_key"].upper(), t["auth_key"][:-1], t["auth_key"] + "0", "", 1234567890123456]:
        assert_fault(b.req("POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {"auth_key": wrong}}), 400)
    assert owner.show_volume(given)["status"] == "awaiting-transfer"
    results = {}
    threads = [threading.Thread(target=lambda u=u: results.__setitem__(u.project_id, u.req(
        "POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {"auth_key": t["auth_key"]}}).status_code)) for u in (b, c)]
    [x.start() for x in threads]
    [x.join() for x in threads]
    assert sorted(results.values()) == [202, 404], results
    winner = next(p for p, code in results.items() if code == 202)
    assert bs_admin.show_volume(given)["os-vol-tenant-attr:tenant_id"] == winner
    for u in (b, c):
        assert usage(u, "volumes")["in_use"] == (1 if u.project_id == winner else 0)
    assert usage(owner, "volumes")["in_use"] == 1

    doomed = owner.create_volume()["id"]
    t2 = owner.ok("POST", "/os-volume-transfer", 202, json={"transfer": {"volume_id": doomed}})["transfer"]
    assert bs_admin.action(doomed, "os-force_delete").status_code == 202
    assert_fault(b.req("POST", f"/os-volume-transfer/{t2['id']}/accept", json={"accept": {"auth_key": t2["auth_key"]}}), 404)

    src = owner.create_volume()["id"]
    qemu_write_pattern(volume_file(bs_cloud, src), 0x11, 0, 32 << 20)
    clone = owner.create_volume(size=None, source_volid=src, wait=None)["id"]
    assert bs_admin.action(clone, "os-force_delete").status_code == 202
    snap = owner.create_snapshot(src, wait=None)["id"]
    assert bs_admin.req("POST", f"/snapshots/{snap}/action", json={"os-force_delete": {}}).status_code == 202
    owner.wait_gone("volumes", clone)
    owner.wait_gone("snapshots", snap)
    owner.wait_gone("volumes", doomed)
    for path in (volume_file(bs_cloud, clone), snapshot_file(bs_cloud, snap), volume_file(bs_cloud, doomed)):
        assert not path.exists(), path
    assert not [n for n in os.listdir(volumes_dir(bs_cloud)) if n.startswith(".tmp-")]
    assert usage(owner, "volumes")["in_use"] == 2 and usage(owner)["in_use"] == vol["size"] + 1, (usage(owner, "volumes"), usage(owner))


def test_kill_9_during_copies_leaves_nothing_behind(tmp_path):
    """kill -9 while a volume is made from an image, a clone from a volume and a snapshot are being
    copied; after the restart nothing is left `creating`, the storage node holds exactly the files
    of the volumes and snapshots that are `available` (no .tmp- file, nothing in the image cache's
    partial area), the usage is what the documents say, and the node makes volumes again."""
    config = {"image": {"register_test_image": "false"}}
    first = start_cloud(tmp_path / "data", config=config)
    try:
        cloud = Cloud(first)
        admin = Vol.admin(cloud)
        img = tmp_path / "img.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "1G"], check=True, timeout=30)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 48M", str(img)], check=True, capture_output=True, timeout=60)
        images = f"{cloud.base_url}/image/v2/images"
        h = {"X-Auth-Token": admin.token}
        image = requests.post(images, json={"name": "crash", "disk_format": "qcow2", "container_format": "bare"}, headers=h, timeout=30).json()
        with open(img, "rb") as f:
            assert requests.put(f"{images}/{image['id']}/file", data=f, headers={**h, "Content-Type": "application/octet-stream"},
                                timeout=60).status_code == 204
        wait_for(lambda: requests.get(f"{images}/{image['id']}", headers=h, timeout=30).json()["status"] == "active", 30)
        src = admin.create_volume(size=1, name="src-\x00-\u00e9")["id"]
        qemu_write_pattern(volume_file(cloud, src), 0x33, 0, 96 << 20)
        from_image = admin.create_volume(size=1, imageRef=image["id"], wait=None)["id"]
        clone = admin.create_volume(size=None, source_volid=src, wait=None)["id"]
        snap = admin.ok("POST", "/snapshots", 202, json={"snapshot": {"volume_id": src}})["snapshot"]["id"]
        time.sleep(0.05)
    finally:
        first.kill()
    second = start_cloud(tmp_path / "data", port=first.port, config=config, passwords=(first.admin_password, first.demo_password))
    try:
        cloud = Cloud(second)
        admin = Vol.admin(cloud)
        vols = {v: settle_volume(admin, v, 10) for v in (src, from_image, clone)}
        s = settle_snapshot(admin, snap, 10)
        assert vols[src]["status"] == "available" and vols[src]["name"] == "src-\x00-\u00e9", vols[src]
        statuses = [v["status"] for v in vols.values()] + [s["status"]]
        assert all(st in ("available", "error") for st in statuses), statuses
        expected = {f"volume-{v}.qcow2" for v, d in vols.items() if d["status"] == "available"}
        expected |= {f"snapshot-{snap}.qcow2"} if s["status"] == "available" else set()
        names = set(os.listdir(volumes_dir(cloud))) - {"_images"}
        assert names == expected, (names, expected, statuses)
        cache = volumes_dir(cloud) / "_images"
        assert not [p.name for p in cache.rglob("*") if p.name.startswith(".")] if cache.exists() else True
        q = admin.ok("GET", f"/os-quota-sets/{admin.project_id}", params={"usage": "true"})["quota_set"]
        assert q["volumes"]["in_use"] == 3 and q["snapshots"]["in_use"] == 1, q
        again = admin.create_volume(size=1, imageRef=image["id"])
        assert again["status"] == "available" and again["bootable"] == "true"
    finally:
        second.stop()
