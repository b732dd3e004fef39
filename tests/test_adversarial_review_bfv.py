"""Adversarial review of boot from volume and of Nova's volume proxies: `block_device_mapping_v2`
and legacy `block_device_mapping` in `POST /servers` (Sources/Compute/API/ComputeAPI+Servers.swift
`blockDevices`, Sources/Compute/Service/ComputeService+BlockDevices.swift, createServers in
ComputeService+Servers.swift), the conductor's block device pass and the release of a deleted
server's volumes (ComputeService+BlockDevices.swift `prepareBlockDevices`, `release`), createImage
of a volume-backed server and booting its image, the `os-volumes` / `os-snapshots` proxies
(ComputeAPI+VolumesProxy.swift, Sources/nimbus/ComputeVolumeProxy.swift) and the 2.85 attachment
update (ComputeAPI+VolumeAttachments.swift PUT).

Expected behaviour is real Nova's and Cinder's (/work/.mirror/openstack+nova,
/work/.mirror/openstack+cinder): the file that decides each case is named in its docstring.

One module-scoped cloud on the fake compute driver (the volumes are real qcow2 files and the
attachments real NBD exports); the `kill -9` tests run on a second cloud of their own, which they
kill and start again.

The first part holds one test per finding: each fails on the build under review. The second part
("held") pins what the review attacked and found right.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud
from test_adversarial_review_compute import Env, nova_error
from test_adversarial_review_volume_attach import (Who, admin, attach, attach_in_use, cinder, member, new_volume,
                                                   project_of, race, settle, volume, wait_volume)
from test_boot_from_volume import bootable, delete_server, wait_gone, wait_server

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")

TIMEOUT = 30


def _env(cloud) -> Env:
    e = Env(cloud)
    e.admin_project = project_of(e, e.admin)
    e.flavor = next(f["id"] for f in e.nova("GET", "/flavors").json()["flavors"] if f["name"] == "m1.nano")
    return e


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-bfv"), "fake", {"compute": {"agent_interval_s": "1"}})
    try:
        yield _env(cloud)
    finally:
        stop_compute_cloud(cloud, data)


@pytest.fixture(scope="module")
def kenv(tmp_path_factory):
    """A cloud of its own for the tests that kill -9 nimbus."""
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-bfv-kill"), "fake", {"compute": {"agent_interval_s": "1"}})
    try:
        yield _env(cloud)
    finally:
        stop_compute_cloud(cloud, data)


# ---- helpers ------------------------------------------------------------------------------------

def image_root(env, size=1, dot=True, **extra) -> dict:
    return {"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": size,
            "delete_on_termination": dot, **extra}


def blank(size=1, dot=True, **extra) -> dict:
    return {"source_type": "blank", "destination_type": "volume", "volume_size": size, "delete_on_termination": dot, **extra}


def volume_root(vid, **extra) -> dict:
    return {"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0, **extra}


def create(env, who: Who, bdm, image="", version="2.96", legacy=False, **extra) -> requests.Response:
    """POST /servers with `bdm` (v2 unless `legacy`); the response, whatever it is."""
    body = {"server": {"name": f"rb-{uuid.uuid4().hex[:6]}", "flavorRef": extra.pop("flavor", env.flavor), "imageRef": image,
                       "networks": "none", **extra}}
    if bdm is not None:
        body["server"]["block_device_mapping" if legacy else "block_device_mapping_v2"] = bdm
    return env.nova("POST", "/servers", token=who.token, version=version, json=body)


def created(env, who: Who, bdm, **kw) -> str:
    r = create(env, who, bdm, **kw)
    assert r.status_code == 202, r.text
    return r.json()["server"]["id"]


def server(env, who: Who, sid) -> dict:
    r = env.nova("GET", f"/servers/{sid}", token=who.token)
    assert r.status_code == 200, r.text
    return r.json()["server"]


def volumes_of(env, sid, who: Who) -> list[str]:
    return [a["id"] for a in server(env, who, sid)["os-extended-volumes:volumes_attached"]]


def project_volumes(env, who: Who) -> list[dict]:
    r = cinder(env, "GET", "/volumes/detail?limit=1000", who)
    assert r.status_code == 200, r.text
    return r.json()["volumes"]


def set_volume_quota(env, who: Who, volumes, gigabytes):
    r = cinder(env, "PUT", f"/os-quota-sets/{who.project}", admin(env), json={"quota_set": {"volumes": volumes, "gigabytes": gigabytes}})
    assert r.status_code == 200, r.text


def wait_settled(env, who: Who, sid, timeout=60) -> dict:
    """The server once it is neither BUILD nor has a task."""
    deadline = time.monotonic() + timeout
    while True:
        s = server(env, who, sid)
        if s["status"] != "BUILD" and s["OS-EXT-STS:task_state"] is None:
            return s
        assert time.monotonic() < deadline, f"server {sid} still {s['status']}/{s['OS-EXT-STS:task_state']} after {timeout} s"
        time.sleep(0.3)


def wait_servers_gone(env, who: Who, sids, timeout=60):
    deadline = time.monotonic() + timeout
    for sid in sids:
        while env.nova("GET", f"/servers/{sid}", token=who.token).status_code != 404:
            assert time.monotonic() < deadline, f"server {sid} was not deleted"
            time.sleep(0.3)


def glance(env, method, path, who: Who, **kw) -> requests.Response:
    return requests.request(method, f"{env.base}/image/v2{path}", headers={"X-Auth-Token": who.token}, timeout=TIMEOUT, **kw)


def upload(env, who: Who, image_id, data: bytes):
    r = requests.put(f"{env.base}/image/v2/images/{image_id}/file", data=data, timeout=120,
                     headers={"X-Auth-Token": who.token, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text


def crafted_image(env, who: Who, mappings, **props) -> str:
    """An active image of `who`'s own whose `block_device_mapping` property is `mappings` (a
    volume-backed server's snapshot image, written by hand)."""
    text = mappings if isinstance(mappings, str) else json.dumps(mappings)
    r = glance(env, "POST", "/images", who, json={"name": "crafted", "disk_format": "qcow2", "container_format": "bare",
                                                   "block_device_mapping": text, "bdm_v2": "True", "root_device_name": "/dev/vda", **props})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    upload(env, who, iid, b"")
    return iid


def public_image(env, data: bytes, **props) -> str:
    r = glance(env, "POST", "/images", admin(env), json={"name": f"rb-{uuid.uuid4().hex[:6]}", "disk_format": "raw",
                                                          "container_format": "bare", "visibility": "public", **props})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    upload(env, admin(env), iid, data)
    return iid


def wait_snapshot(env, who: Who, sid, timeout=30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = cinder(env, "GET", f"/snapshots/{sid}", who).json()["snapshot"]
        if s["status"] == "available":
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.2)


def new_snapshot(env, who: Who, vid) -> str:
    r = cinder(env, "POST", "/snapshots", who, json={"snapshot": {"volume_id": vid, "name": "rb"}})
    assert r.status_code == 202, r.text
    return wait_snapshot(env, who, r.json()["snapshot"]["id"])["id"]


def snapshot_image_of_a_volume_backed_server(env, who: Who) -> tuple[str, str, str]:
    """(server, createImage's image, the root volume's snapshot the image names)."""
    sid = created(env, who, [image_root(env)])
    wait_server(env, who, sid)
    r = env.action(sid, {"createImage": {"name": "rb-bfv-snap"}}, token=who.token)
    assert r.status_code == 202, r.text
    image_id = r.json()["image_id"]
    image = glance(env, "GET", f"/images/{image_id}", who).json()
    [mapping] = json.loads(image["block_device_mapping"])
    return sid, image_id, mapping["snapshot_id"]


# =================================================================================================
# Findings (each fails now)
# =================================================================================================

def test_deleting_a_building_server_leaves_no_delete_on_termination_volume(env):
    """SEVERITY HIGH (volumes and quota leaked for good, by any member, with ordinary calls).  A
    client that deletes a server it has just created with delete_on_termination volumes (a script
    cleaning up after a failed step, a user who pressed the wrong button) leaves some of those
    volumes behind, `available` and counted against the project's quota, for good.

    ComputeService.release (called by finishDelete) looks at the instance row as the delete left
    it: a volume the row still calls `creating` (no attachment id) is deleted at once when Cinder
    no longer says `creating`.  But the conductor's block device pass (prepareBlockDevices) has
    meanwhile reserved it: Cinder refuses to delete a `reserved` volume ('Volume status must be
    available or error ...', logged as 'could not release volume'), and the conductor's `record`
    then finds the instance deleted and deletes the attachment -- the volume is `available`, with
    no server, and nothing will ever delete it.  Nova deletes every delete_on_termination volume of
    a deleted instance (nova/compute/manager.py _cleanup_volumes from _delete_instance, or
    _cleanup_volumes in _do_build_and_run_instance when the build sees the delete), and the brief
    asks that nothing be left behind."""
    who = member(env)
    set_volume_quota(env, who, 400, 800)
    # Rounds of six servers of 16 volumes each, deleted 0-0.25 s after the 202: the race is lost
    # for one server in a few, so up to four rounds are tried; the first volume left fails the test.
    for round_ in range(4):
        sids = []
        for k in range(6):
            sids.append(created(env, who, [image_root(env)] + [blank() for _ in range(15)]))
            time.sleep(k * 0.05)
            assert env.nova("DELETE", f"/servers/{sids[-1]}", token=who.token).status_code == 204
        wait_servers_gone(env, who, sids)
        deadline = time.monotonic() + 20
        while True:
            left = [(v["id"], v["status"]) for v in project_volumes(env, who)]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not left, f"round {round_ + 1}: {len(left)} delete_on_termination volume(s) of deleted servers left behind: {left}"


def test_kill_9_right_after_a_delete_still_deletes_its_volumes(kenv):
    """SEVERITY MEDIUM (a volume leaked for good after a crash).  A server booted from a new
    delete_on_termination volume is deleted while the volume is still `creating`, and nimbus is
    killed (kill -9) right after the delete answered.  ComputeService.release waits for such a
    volume in a detached in-memory task (`Task.detached { while ... == "creating" ... }`), so the
    crash loses the deletion: after the restart the block storage service's recover() turns the
    half-made volume `error`, the server is gone, and the volume stays in the project (counted
    against its quota) for good.  Nova keeps what it still has to do with the instance: a delete
    interrupted by a restart is resumed when nova-compute starts (nova/compute/manager.py
    _init_instance: task_state DELETING -> _delete_instance -> _cleanup_volumes deletes the
    delete_on_termination volumes), so the volume goes eventually."""
    env = kenv
    who = member(env)
    slow = public_image(env, os.urandom(256 << 20))   # fresh data: its volume takes a while to make
    sid = created(env, who, [{**image_root(env), "uuid": slow}])
    [vid] = volumes_of(env, sid, who)
    assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204
    # The delete is done (the server is gone and its volumes were handed to release) while the
    # volume is still being made; then the crash.
    wait_servers_gone(env, who, [sid], timeout=10)
    assert volume(env, who, vid)["status"] == "creating", "the volume was made before the delete finished: no crash window"
    env.cloud.nimbus.kill()
    env.cloud.nimbus.start(timeout=60)
    assert env.nova("GET", f"/servers/{sid}", token=who.token).status_code == 404
    deadline = time.monotonic() + 30
    while (v := volume(env, who, vid)) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert v is None, f"the delete_on_termination volume of deleted server {sid} outlived the restart: {v['status']}"


def test_an_image_of_a_volume_backed_server_boots_through_an_image_to_volume_mapping(env):
    """SEVERITY MEDIUM (a documented way of booting a snapshot fails).  `openstack server create
    --image <snapshot of a volume-backed server> --boot-from-volume 1` (and Horizon's "Create New
    Volume") sends imageRef "" and one mapping image -> volume, boot_index 0, naming the image.
    Nova reads that image's metadata (nova/block_device.py get_bdm_image_metadata), merges the
    image's own `block_device_mapping` and drops the request's image root in its favour
    (nova/compute/api.py _check_and_transform_bdm: 'another case is when a server is booted with
    an image to bdm mapping where the image only contains a bdm to a snapshot ... contains an
    unnecessary device with boot_index == 0'), so the root volume is made from the snapshot.
    Nimbus applies an image's mappings only for imageRef: it makes a volume from the data-less
    image instead, that volume ends `error`, and the server ERROR."""
    who = member(env, volumes=6)
    _, image_id, snap = snapshot_image_of_a_volume_backed_server(env, who)
    sid = created(env, who, [{"uuid": image_id, "source_type": "image", "destination_type": "volume", "boot_index": 0,
                              "volume_size": 1, "delete_on_termination": True}])
    s = wait_settled(env, who, sid)
    assert s["status"] == "ACTIVE", (s["status"], s.get("fault"))
    [root] = volumes_of(env, sid, who)
    assert volume(env, who, root)["snapshot_id"] == snap


def test_a_build_aborted_for_its_volumes_lets_them_go(env):
    """SEVERITY MEDIUM (a user's data volume held by a server that never ran).  A boot whose new
    volume cannot be made (its type has no backend: Cinder ends it `error`) ends ERROR, as in Nova.
    Nova's compute then cleans up at once (nova/compute/manager.py _do_build_and_run_instance,
    `except Exception` for the BuildAbortException: `self._cleanup_volumes(context, instance,
    block_device_mapping, raise_exc=False)` detaches every volume and deletes the
    delete_on_termination ones): the user's own volume is `available` again for the next try.
    Nimbus's failBlockDevices leaves everything with the ERROR server ('the volumes stay with the
    server until it is deleted'): the given volume stays `reserved` (its Cinder attachment too), so
    it can be neither booted again, attached, extended nor deleted, and the delete_on_termination
    volumes stay, counted against the quota, until the user finds and deletes the ERROR server."""
    who = member(env, volumes=6)
    r = cinder(env, "POST", "/types", admin(env), json={"volume_type": {"name": f"nowhere-{uuid.uuid4().hex[:6]}",
                                                                        "extra_specs": {"volume_backend_name": "none-such"}}})
    assert r.status_code == 200, r.text
    vtype = r.json()["volume_type"]["name"]
    vid = bootable(env, who, new_volume(env, who))
    sid = created(env, who, [volume_root(vid), blank(), blank(volume_type=vtype)])
    s = wait_server(env, who, sid, status="ERROR")
    assert "did not finish being created" in s["fault"]["message"], s["fault"]
    made = [x for x in volumes_of(env, sid, who) if x != vid]
    deadline = time.monotonic() + 15
    while True:
        given = volume(env, who, vid)
        left = [(x, volume(env, who, x) and volume(env, who, x)["status"]) for x in made if volume(env, who, x) is not None]
        if (given["status"] == "available" and not left) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert given["status"] == "available" and given["attachments"] == [], \
        f"the user's volume is held by the ERROR server: {given['status']} {given['attachments']}"
    assert not left, f"delete_on_termination volumes of the aborted build remain: {left}"


def test_the_root_images_min_ram_holds_for_volume_backed_boots(env):
    """SEVERITY LOW (an image's minimum RAM not enforced).  Nova checks the flavor against the
    image the root comes from whatever the boot source (nova/compute/api.py
    _validate_flavor_image_nostatus: 'if flavor['memory_mb'] < int(image.get('min_ram') or 0):
    raise exception.FlavorMemoryTooSmall()'), where for a boot without imageRef the image is the
    root mapping's (nova/block_device.py get_bdm_image_metadata: the image of an image -> volume
    root, or a volume's volume_image_metadata via utils.get_image_metadata_from_volume, which
    keeps min_ram) -> 400 'Flavor's memory is too small for requested image.'  Nimbus checks
    min_ram only when imageRef is given: both boots below are accepted (202)."""
    who = member(env, volumes=6)
    hog = public_image(env, b"\0" * 65536, min_ram=100000)
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "imageRef": hog}})
    assert r.status_code == 202, r.text
    from_hog = r.json()["volume"]["id"]
    assert wait_volume(env, who, from_hog, "available")["volume_image_metadata"]["min_ram"] == "100000"
    answers = {}
    for name, bdm in (("image to volume", [{**image_root(env), "uuid": hog}]), ("volume from the image", [volume_root(from_hog)])):
        r = create(env, who, bdm)
        answers[name] = (r.status_code, r.text[:120])
        if r.status_code == 202:
            delete_server(env, who, r.json()["server"]["id"])
        else:
            assert "memory is too small" in nova_error(r, 400)
    assert all(code == 400 for code, _ in answers.values()), answers


def test_mappings_nova_refuses_are_refused(env):
    """SEVERITY LOW (requests Nova refuses are accepted).  Each of these is a 400 in Nova, 202 in
    Nimbus:
    - a boot_index past 64 bits on a second device (JSON integer 99999999999999999999): Nova's
      int is unbounded, so the sorted boot indexes [0, 99999999999999999999] are not 0, 1, ...
      (nova/compute/api.py _validate_bdm -> InvalidBDMBootSequence); Nimbus's JSON number falls
      out of Int and the device is taken as not bootable;
    - an unknown `disk_bus` (nova/compute/api.py _validate_bdm: 'if disk_bus and disk_bus not in
      fields_obj.DiskBus.ALL: raise exception.InvalidBDMDiskBus');
    - a legacy `block_device_mapping` entry with no source (neither volume_id, snapshot_id,
      virtual_name nor no_device): nova/block_device.py BlockDeviceDict.from_legacy raises
      InvalidBDMFormat 'Unrecognized legacy format.'; Nimbus drops the entry and boots."""
    who = member(env)
    cases = {
        "boot_index past 64 bits": dict(bdm=[image_root(env), {**blank(), "boot_index": 99999999999999999999}]),
        "unknown disk_bus": dict(bdm=[{**image_root(env), "disk_bus": "floppyx"}]),
        "legacy entry without a source": dict(bdm=[{"device_name": "vdb"}], legacy=True, image=env.image),
    }
    wrong = {}
    for name, kw in cases.items():
        r = create(env, who, **kw)
        if r.status_code == 202:
            wrong[name] = r.status_code
            delete_server(env, who, r.json()["server"]["id"])
        else:
            nova_error(r, 400)
    assert not wrong, f"accepted, Nova answers 400: {wrong}"


def test_image_defined_mappings_read_numbers_as_nova_does(env):
    """SEVERITY LOW.  Glance properties are strings, and a `block_device_mapping` property edited
    by hand (or by an older tool) may carry its numbers as strings.  Nova reads an image's
    mappings through BlockDeviceDict (nova/compute/api.py _get_image_defined_bdms:
    `map(block_device.BlockDeviceDict, image_defined_bdms)`), whose _validate converts
    `boot_index` with int() and validate_and_default_volume_size converts `volume_size`, so
    {"boot_index": "0", "volume_size": "1"} boots.  Nimbus's imageDefinedBlockDevices takes only
    JSON numbers: the mapping has no boot device and the boot is refused (400)."""
    who = member(env)
    iid = crafted_image(env, who, [{"source_type": "blank", "destination_type": "volume", "volume_size": "1", "boot_index": "0",
                                    "delete_on_termination": True}])
    r = create(env, who, None, image=iid)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    wait_server(env, who, sid)
    delete_server(env, who, sid)


def test_proxy_paging_takes_any_non_negative_integer(env):
    """SEVERITY LOW.  Nova's os-volumes and os-snapshots index take `limit` and `offset` as
    parameter_types.non_negative_integer (nova/api/openstack/compute/schemas/volumes.py
    index_query: pattern '^[0-9]*$') and slice with common.limited (Python ints: an offset past
    the list is an empty page, a limit past max_limit is max_limit).  Nimbus's `limited` parses
    them as Int and answers 400 'must be an integer' to digits past 64 bits."""
    who = member(env)
    new_volume(env, who)
    got = {}
    for path in ("/os-volumes", "/os-volumes/detail", "/os-snapshots"):
        for query, expected in (("offset=99999999999999999999", 0), ("limit=99999999999999999999", None)):
            r = env.nova("GET", f"{path}?{query}", token=who.token, version="2.35")
            key = "snapshots" if "snapshots" in path else "volumes"
            got[f"{path}?{query}"] = (r.status_code, len(r.json()[key]) if r.status_code == 200 else r.text[:80])
            if expected is not None and r.status_code == 200:
                assert len(r.json()[key]) == expected
    assert all(code == 200 for code, _ in got.values()), got


# =================================================================================================
# Held (what the review attacked and found right)
# =================================================================================================

def test_held_other_projects_sources_are_not_found_and_untouched(env):
    """Another project's volume, snapshot or private image in a mapping, directly or through an
    image of the caller's own whose `block_device_mapping` names them (a crafted snapshot image,
    with `volume_id` and `snapshot_id` sources): 400 with the same words as for an id that does
    not exist (nothing revealed), nothing made, the victim's volume and snapshot untouched."""
    attacker, victim = member(env), member(env)
    vv = bootable(env, victim, new_volume(env, victim))
    vs = new_snapshot(env, victim, vv)
    r = glance(env, "POST", "/images", victim, json={"name": "private", "disk_format": "raw", "container_format": "bare"})
    private = r.json()["id"]
    upload(env, victim, private, b"\0" * 4096)
    ghost = str(uuid.uuid4())

    def refused(r, their, kind):
        message = nova_error(r, 400)
        assert message == f"Block Device Mapping is Invalid: failed to get {kind} {their}.", message

    for kind, theirs in (("volume", vv), ("snapshot", vs), ("image", private)):
        for target in (theirs, ghost):
            entry = {"uuid": target, "source_type": kind, "destination_type": "volume", "boot_index": 0, "volume_size": 1,
                     "delete_on_termination": True}
            refused(create(env, attacker, [entry]), target, kind)
    for kind, key, theirs in (("snapshot", "snapshot_id", vs), ("volume", "volume_id", vv)):
        iid = crafted_image(env, attacker, [{"source_type": kind, "destination_type": "volume", key: theirs, "boot_index": 0,
                                             "volume_size": 1, "delete_on_termination": True}])
        refused(create(env, attacker, None, image=iid), theirs, kind)
        # booted with a client-added image root, as novaclient does
        refused(create(env, attacker, [{"uuid": iid, "source_type": "image", "destination_type": "local", "boot_index": 0}],
                       image=iid), theirs, kind)
    assert project_volumes(env, attacker) == []
    # The caller's own volume named by such an image: not for two servers at once; for one, it is
    # attached as the root and left as the mapping says.
    own = bootable(env, attacker, new_volume(env, attacker))
    iid = crafted_image(env, attacker, [{"source_type": "volume", "destination_type": "volume", "volume_id": own, "boot_index": 0,
                                         "delete_on_termination": False}])
    assert "multiple instances" in nova_error(create(env, attacker, None, image=iid, max_count=2), 400)
    sid = created(env, attacker, None, image=iid)
    assert wait_server(env, attacker, sid)["os-extended-volumes:volumes_attached"] == [{"id": own, "delete_on_termination": False}]
    delete_server(env, attacker, sid)
    assert settle(env, attacker, own)["status"] == "available"
    v = volume(env, victim, vv)
    assert v["status"] == "available" and v["attachments"] == []
    assert cinder(env, "GET", f"/snapshots/{vs}", victim).json()["snapshot"]["status"] == "available"
    # A property that is not a mapping list is ignored, as Nova's loads of it would fail the boot
    # no worse: the image's own (empty) disk boots.
    for junk in ("not json", json.dumps({"a": 1})):
        iid = crafted_image(env, attacker, junk)
        sid = created(env, attacker, None, image=iid)
        assert wait_server(env, attacker, sid)["os-extended-volumes:volumes_attached"] == []
        delete_server(env, attacker, sid)


def test_held_bad_types_are_novas_4xx(env):
    """Wrong JSON types and shapes in block_device_mapping_v2 and legacy block_device_mapping:
    always a 4xx in Nova's fault format, never a 500, and nothing made."""
    who = member(env)
    root = image_root(env)
    cases = [
        [{**root, "boot_index": 0.5}], [{**root, "boot_index": True}], [{**root, "boot_index": [0]}], [{**root, "boot_index": "first"}],
        [{**root, "boot_index": "99999999999999999999"}], [{**root, "boot_index": ""}],
        [{**root, "volume_size": 1.5}], [{**root, "volume_size": True}], [{**root, "volume_size": -1}], [{**root, "volume_size": 0}],
        [{**root, "volume_size": 10 ** 30}], [{**root, "volume_size": "-1"}], [{**root, "volume_size": None}],
        [{**root, "delete_on_termination": 1}], [{**root, "delete_on_termination": None}], [{**root, "delete_on_termination": "maybe"}],
        [{**root, "source_type": 5}], [{**root, "source_type": "floppy"}], [{**root, "destination_type": "nowhere"}],
        [{**root, "uuid": 5}], [{**root, "uuid": ""}], [{**root, "uuid": "a" * 256}], [{**root, "uuid": "../../etc"}],
        [{**root, "device_name": "vd a"}], [{**root, "device_name": ""}], [{**root, "tag": 5}], [{**root, "tag": "a/b"}],
        [{**root, "guest_format": 5}], [{**root, "volume_type": 5}], [{**root, "foo": 1}], [{**root, "connection_info": 5}],
        ["x"], [None], [[root]], {"a": 1}, "abc", None, [{}], [{"no_device": True}],
        [{**root, "volume_size": 1024 * 1024}],
    ]
    for bdm in cases:
        r = create(env, who, bdm)
        assert 400 <= r.status_code < 500, (bdm, r.status_code, r.text[:200])
        nova_error(r, r.status_code)
    legacy = [
        [{"volume_id": "not-a-uuid", "device_name": "vda"}], [{"volume_id": 5}], [{"snapshot_id": None}], [{"device_name": "vd a"}],
        [{"volume_size": "x", "volume_id": str(uuid.uuid4())}], [{"delete_on_termination": 2, "volume_id": str(uuid.uuid4())}],
        [{"source_type": "blank"}], "x", [[]],
    ]
    for bdm in legacy:
        r = create(env, who, bdm, legacy=True, image=env.image)
        assert 400 <= r.status_code < 500, (bdm, r.status_code, r.text[:200])
        nova_error(r, r.status_code)
    headers = {"X-Auth-Token": who.token, "Content-Type": "application/json", "OpenStack-API-Version": "compute 2.96"}
    for raw in (b'{"server": {"name": "x", "flavorRef": "1", "block_device_mapping_v2": [{', b'{"server": {"block_device_mapping_v2": "\xff"}}'):
        r = requests.post(f"{env.base}/compute/v2.1/servers", data=raw, headers=headers, timeout=TIMEOUT)
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.text[:200])
    assert project_volumes(env, who) == []


def test_held_same_volume_raced_into_several_creates(env):
    """One available volume named as the root of four concurrent creates: exactly one 202 (the
    reservation is made under the block storage write lock), the others 400 in Nova's format; the
    winner boots with it; a create raced against an attach of the same volume to another server
    leaves it with one holder."""
    who = member(env, volumes=6)
    vid = bootable(env, who, new_volume(env, who))
    responses = race(4, lambda i: create(env, who, [volume_root(vid)]))
    assert sorted(r.status_code for r in responses) == [202, 400, 400, 400], [(r.status_code, r.text[:100]) for r in responses]
    for r in responses:
        if r.status_code != 202:
            nova_error(r, 400)
    [winner] = [r.json()["server"]["id"] for r in responses if r.status_code == 202]
    wait_server(env, who, winner)
    v = wait_volume(env, who, vid, "in-use")
    assert [a["server_id"] for a in v["attachments"]] == [winner]
    delete_server(env, who, winner)
    wait_volume(env, who, vid, "available")
    # a boot and an attach elsewhere, at once
    other = env.boot("rb-other", token=who.token)
    vid2 = bootable(env, who, new_volume(env, who))
    responses = race(2, lambda i: create(env, who, [volume_root(vid2)]) if i == 0 else attach(env, other, vid2, who))
    codes = [r.status_code for r in responses]
    assert sorted(c in (200, 202) for c in codes) == [False, True], [(r.status_code, r.text[:100]) for r in responses]
    if codes[0] == 202:
        wait_server(env, who, responses[0].json()["server"]["id"])
    v = settle(env, who, vid2)
    assert v["status"] == "in-use" and len(v["attachments"]) == 1, v


def test_held_many_and_odd_mappings_refused_before_anything_is_made(env):
    """Past 16 volume devices (Nimbus's bound, the PCI slots of the `pc` machine) 403 before any
    volume is made; duplicated boot indexes or the same volume twice 400; thousands of no_device
    entries are dropped; an oversize volume is Cinder's 413 as Nova's 403; a huge image copy count
    is bounded by the same limit."""
    who = member(env, volumes=20)
    vid = bootable(env, who, new_volume(env, who))
    before = {v["id"] for v in project_volumes(env, who)}
    assert "maximum allowed number of disk devices" in nova_error(create(env, who, [image_root(env)] + [blank()] * 120), 403)
    assert "maximum allowed number of disk devices" in nova_error(
        create(env, who, [image_root(env)] + [{**image_root(env), "boot_index": -1}] * 16), 403)
    assert "Boot sequence" in nova_error(create(env, who, [{**image_root(env), "boot_index": k} for k in (0, 0, 1)]), 400)
    assert "Boot sequence" in nova_error(create(env, who, [{**image_root(env), "boot_index": k} for k in range(2, 200)]), 400)
    assert "Boot sequence" in nova_error(create(env, who, [{**image_root(env), "boot_index": -5}]), 400)
    nova_error(create(env, who, [volume_root(vid), {**volume_root(vid), "boot_index": 1}]), 400)
    assert "exceeds" in nova_error(create(env, who, [image_root(env, size=2147483647)]), 403)
    assert "exceeds" in nova_error(create(env, who, [image_root(env), blank(size="99999999999999999999")]), 403)
    # (the root volume the last request had begun is deleted once made)
    deadline = time.monotonic() + 20
    while {v["id"] for v in project_volumes(env, who)} != before and time.monotonic() < deadline:
        time.sleep(0.3)
    assert {v["id"] for v in project_volumes(env, who)} == before
    sid = created(env, who, [image_root(env)] + [{"no_device": True}] * 5000 + [{"no_device": "yes", "source_type": "blank"}])
    assert len(wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]) == 1
    delete_server(env, who, sid)
    # exactly 16 is fine, and all of them go with the server
    sid = created(env, who, [image_root(env)] + [blank() for _ in range(15)])
    made = [a["id"] for a in wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]]
    devices = sorted(a["device"] for a in env.nova("GET", f"/servers/{sid}/os-volume_attachments", token=who.token).json()["volumeAttachments"])
    assert len(made) == 16 and len(set(devices)) == 16 and devices[0] == "/dev/vda", devices
    delete_server(env, who, sid)
    for x in made:
        wait_gone(env, who, x)


def test_held_quota_exceeded_mid_request_leaves_nothing(env):
    """Cinder's volumes or gigabytes quota exceeded by the third volume of a request, or by the
    third server of a max_count request, or the server group's member quota after the volumes were
    made: 403 in Nova's format; the volumes the request made are deleted, the given volume is
    `available` again (no stuck reservation), and the quota usage is back where it was."""
    who = member(env)
    set_volume_quota(env, who, 3, 6)
    vid = bootable(env, who, new_volume(env, who))
    slow = public_image(env, os.urandom(32 << 20))

    def usage():
        q = cinder(env, "GET", f"/os-quota-sets/{who.project}?usage=true", who).json()["quota_set"]
        return q["volumes"]["in_use"], q["gigabytes"]["in_use"]

    requests_ = [
        dict(bdm=[volume_root(vid), {**image_root(env), "uuid": slow, "boot_index": 1}, blank(), blank()]),
        dict(bdm=[volume_root(vid), blank(size=2), blank(size=4)]),
        dict(bdm=[{**image_root(env), "uuid": slow}], max_count=3, min_count=3),
    ]
    for kw in requests_:
        assert "exceed" in nova_error(create(env, who, **kw), 403).lower()
        deadline = time.monotonic() + 20
        while True:
            vols = sorted((v["id"], v["status"]) for v in project_volumes(env, who))
            if vols == [(vid, "available")] or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert vols == [(vid, "available")], (kw, vols)
        assert usage() == (1, 1), (kw, usage())
    r = env.nova("PUT", f"/os-quota-sets/{who.project}", json={"quota_set": {"server_group_members": 0}})
    assert r.status_code == 200, r.text
    g = env.nova("POST", "/os-server-groups", token=who.token, version="2.1",
                 json={"server_group": {"name": "g", "policies": ["anti-affinity"]}}).json()["server_group"]["id"]
    body = {"server": {"name": "rb-g", "flavorRef": env.flavor, "imageRef": "", "networks": "none",
                       "block_device_mapping_v2": [volume_root(vid), blank()]}, "os:scheduler_hints": {"group": g}}
    nova_error(env.nova("POST", "/servers", token=who.token, json=body), 403)
    time.sleep(1)
    assert sorted((v["id"], v["status"]) for v in project_volumes(env, who)) == [(vid, "available")]
    assert usage() == (1, 1)


def test_held_deleting_a_server_whose_volumes_are_being_made(env):
    """A server deleted while its new volumes are still `creating` (an image copy under way):
    the delete_on_termination ones go once made, the others end `available` with no attachment;
    a server that failed to schedule (NoValidHost: an ephemeral disk no host has) keeps its given
    volume reserved until deleted, then lets it go."""
    who = member(env, volumes=8)
    for dot in (True, False):
        slow = public_image(env, os.urandom(96 << 20))   # fresh data each time: no cached copy
        sid = created(env, who, [{**image_root(env, dot=dot), "uuid": slow}])
        made = volumes_of(env, sid, who)
        assert env.nova("DELETE", f"/servers/{sid}", token=who.token).status_code == 204
        assert volume(env, who, made[0])["status"] == "creating"
        wait_servers_gone(env, who, [sid])
        for x in made:
            if dot:
                wait_gone(env, who, x)
            else:
                v = settle(env, who, x, timeout=30)
                assert v["status"] == "available" and v["attachments"] == [], v
                assert cinder(env, "DELETE", f"/volumes/{x}", who).status_code == 202
    r = env.nova("POST", "/flavors", json={"flavor": {"name": f"rb-eph-{uuid.uuid4().hex[:6]}", "ram": 64, "vcpus": 1, "disk": 1,
                                                      "OS-FLV-EXT-DATA:ephemeral": 100000}})
    assert r.status_code == 200, r.text
    huge = r.json()["flavor"]["id"]
    vid = bootable(env, who, new_volume(env, who))
    sid = created(env, who, [volume_root(vid), blank()], flavor=huge)
    s = wait_server(env, who, sid, status="ERROR")
    assert "No valid host" in s["fault"]["message"]
    assert volume(env, who, vid)["status"] == "reserved"
    made = [x for x in volumes_of(env, sid, who) if x != vid]
    delete_server(env, who, sid)
    v = wait_volume(env, who, vid, "available", timeout=60)
    assert v["attachments"] == [], v
    for x in made:
        wait_gone(env, who, x)


def test_held_snapshot_image_boots_with_a_client_added_root(env):
    """The image of a volume-backed server booted with imageRef and the image -> local root that
    novaclient adds (Nova drops the request's image root in favour of the image's own mappings):
    the root volume comes from the snapshot; max_count 2 makes one volume per server."""
    who = member(env, volumes=8)
    _, image_id, snap = snapshot_image_of_a_volume_backed_server(env, who)
    r = create(env, who, [{"uuid": image_id, "source_type": "image", "destination_type": "local", "boot_index": 0}],
               image=image_id, max_count=2)
    assert r.status_code == 202, r.text
    servers = [s for s in env.nova("GET", "/servers/detail", token=who.token).json()["servers"] if s["image"] and s["image"]["id"] == image_id]
    assert len(servers) == 2
    roots = set()
    for s in servers:
        wait_server(env, who, s["id"])
        [root] = volumes_of(env, s["id"], who)
        assert volume(env, who, root)["snapshot_id"] == snap
        roots.add(root)
    assert len(roots) == 2
    for s in servers:
        delete_server(env, who, s["id"])


def test_held_volume_backed_servers_refuse_what_is_not_built(env):
    """Migrate, live-migrate, evacuate: 409 (rebuild and same-host resize are built:
    test_rebuild_volume_backed.py); rescue without a stable
    rescue image and createBackup: 400 (Nova's words); detaching the root volume: 400 for the
    owner and the admin; stop/start/reboot/suspend/resume keep the root volume in use; a reader
    can neither create a volume-backed server, nor snapshot it, nor change its attachments."""
    who = member(env, volumes=6)
    reader = member(env, role="reader", project=who.project)
    sid = created(env, who, [image_root(env)])
    [root] = [a["id"] for a in wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]]
    for body, token, status in [
        ({"migrate": None}, None, 409),
        ({"os-migrateLive": {"host": None, "block_migration": "auto"}}, None, 409), ({"evacuate": {}}, None, 409),
        ({"rescue": None}, who.token, 400), ({"createBackup": {"name": "b", "backup_type": "d", "rotation": 1}}, who.token, 400),
    ]:
        nova_error(env.action(sid, body, token=token), status)
    assert "root device" in nova_error(env.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{root}", token=who.token), 400)
    assert "root device" in nova_error(env.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{root}"), 400)
    nova_error(create(env, reader, [image_root(env)]), 403)
    nova_error(env.action(sid, {"createImage": {"name": "x"}}, token=reader.token), 403)
    nova_error(env.nova("PUT", f"/servers/{sid}/os-volume_attachments/{root}", token=reader.token, version="2.85",
                        json={"volumeAttachment": {"volumeId": root, "delete_on_termination": False}}), 403)
    for body, status in [({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE"), ({"reboot": {"type": "HARD"}}, "ACTIVE"),
                         ({"suspend": None}, "SUSPENDED"), ({"resume": None}, "ACTIVE")]:
        assert env.action(sid, body, token=who.token).status_code == 202
        env.wait(sid, status, token=who.token)
        assert volume(env, who, root)["status"] == "in-use", body
    s = server(env, who, sid)
    assert s["status"] == "ACTIVE" and s["os-extended-volumes:volumes_attached"] == [{"id": root, "delete_on_termination": True}]
    delete_server(env, who, sid)
    wait_gone(env, who, root)


def test_held_placement_claims_no_root_disk(env):
    """Placement's allocation of a volume-backed server has no DISK_GB for the root (the flavor's
    root disk lives on the storage node); a flavor's ephemeral disk is still claimed."""
    who = member(env, volumes=4)
    r = env.nova("POST", "/flavors", json={"flavor": {"name": f"rb-e1-{uuid.uuid4().hex[:6]}", "ram": 64, "vcpus": 1, "disk": 5,
                                                      "OS-FLV-EXT-DATA:ephemeral": 2}})
    assert r.status_code == 200, r.text
    with_ephemeral = r.json()["flavor"]["id"]

    def claimed(sid):
        r = requests.get(f"{env.base}/placement/allocations/{sid}", timeout=TIMEOUT,
                         headers={"X-Auth-Token": env.admin, "OpenStack-API-Version": "placement 1.28"})
        return {k: v for a in r.json()["allocations"].values() for k, v in a["resources"].items()}

    sid = created(env, who, [image_root(env)])
    wait_server(env, who, sid)
    assert "DISK_GB" not in claimed(sid), claimed(sid)
    sid2 = created(env, who, [image_root(env)], flavor=with_ephemeral)
    wait_server(env, who, sid2)
    assert claimed(sid2).get("DISK_GB") == 2, claimed(sid2)
    for x in (sid, sid2):
        delete_server(env, who, x)


def test_held_volume_proxies_as_the_caller(env):
    """os-volumes and os-snapshots (2.35): another project's ids are 404 for show, delete,
    snapshot and create-from-snapshot, and the victim's volume stays; lists are the caller's own
    (an admin's too); odd paging is Nova's 400; a reader lists but does not create or delete;
    2.36 has no proxy; bad bodies are Nova's 400; an attached volume is neither deleted nor
    snapshotted without force."""
    a, b = member(env), member(env)
    reader = member(env, role="reader", project=a.project)
    va, vb = new_volume(env, a), new_volume(env, b)
    sb = new_snapshot(env, b, vb)

    def P(method, path, who, **kw):
        return env.nova(method, path, token=who.token, version="2.35", **kw)

    nova_error(P("GET", f"/os-volumes/{vb}", a), 404)
    nova_error(P("DELETE", f"/os-volumes/{vb}", a), 404)
    nova_error(P("GET", f"/os-snapshots/{sb}", a), 404)
    nova_error(P("DELETE", f"/os-snapshots/{sb}", a), 404)
    nova_error(P("POST", "/os-snapshots", a, json={"snapshot": {"volume_id": vb, "force": True}}), 404)
    nova_error(P("POST", "/os-volumes", a, json={"volume": {"size": 1, "snapshot_id": sb}}), 404)
    assert volume(env, b, vb)["status"] == "available"
    assert cinder(env, "GET", f"/snapshots/{sb}", b).json()["snapshot"]["status"] == "available"
    assert [v["id"] for v in P("GET", "/os-volumes", a).json()["volumes"]] == [va]
    assert P("GET", "/os-snapshots", a).json()["snapshots"] == []
    assert vb not in [v["id"] for v in P("GET", "/os-volumes/detail", admin(env)).json()["volumes"]]
    assert P("GET", f"/os-volumes/{vb}", admin(env)).status_code == 200
    for q in ("limit=-1", "offset=-1", "limit=abc", "offset=1.5", "limit="):
        nova_error(P("GET", f"/os-volumes?{q}", a), 400)
    assert [v["id"] for v in P("GET", "/os-volumes?limit=0", a).json()["volumes"]] == [va]
    assert P("GET", "/os-volumes?offset=1", a).json()["volumes"] == []
    assert [v["id"] for v in P("GET", "/os-volumes", reader).json()["volumes"]] == [va]
    nova_error(P("POST", "/os-volumes", reader, json={"volume": {"size": 1}}), 403)
    nova_error(P("DELETE", f"/os-volumes/{va}", reader), 403)
    nova_error(P("POST", "/os-snapshots", reader, json={"snapshot": {"volume_id": va}}), 403)
    nova_error(env.nova("GET", "/os-volumes", token=a.token, version="2.36"), 404)
    nova_error(env.nova("POST", "/os-snapshots", token=a.token, version="2.36", json={"snapshot": {"volume_id": va}}), 404)
    for body in ({"volume": {"size": 0}}, {"volume": {"size": 1.5}}, {"volume": {"size": "x"}}, {"volume": {}}, {"volume": {"size": 1, "x": 1}},
                 {"volume": {"size": 1, "metadata": {"k": 1}}}, {"volume": {"size": 1, "metadata": []}}, {"volume": []}, [1], {"volumes": {"size": 1}},
                 {"volume": {"size": 1, "availability_zone": "nowhere"}}, {"volume": {"size": 1, "snapshot_id": 5}}):
        nova_error(P("POST", "/os-volumes", a, json=body), 400)
    for body in ({"snapshot": {}}, {"snapshot": {"volume_id": 5}}, {"snapshot": {"volume_id": va, "force": "maybe"}}, {"snapshot": []}):
        nova_error(P("POST", "/os-snapshots", a, json=body), 400)
    assert "exceeds" in nova_error(P("POST", "/os-volumes", a, json={"volume": {"size": "99999999999999999999"}}), 403)
    r = env.nova("POST", "/os-volumes", token=a.token, version="2.35", data=b"{", headers={"Content-Type": "application/json"})
    nova_error(r, 400)
    sid = env.boot("rb-proxy", token=a.token)
    attach_in_use(env, sid, va, a)
    nova_error(P("DELETE", f"/os-volumes/{va}", a), 400)
    nova_error(P("POST", "/os-snapshots", a, json={"snapshot": {"volume_id": va}}), 400)
    shown = P("GET", f"/os-volumes/{va}", a).json()["volume"]
    assert shown["attachments"] == [{"id": va, "volumeId": va, "serverId": sid, "device": "/dev/vdb"}], shown["attachments"]


def test_held_attachment_update(env):
    """2.85 PUT: another project's server 404; a reader 403; a volume the server does not have
    404 for its owner at 2.85 with the same id, and a swap (other id, or before 2.85) 403 for a
    member and 409 for an admin; wrong types 400; delete_on_termination set on the root volume is
    honoured at delete; a lock does not stop it (Nova checks none)."""
    who, other = member(env, volumes=6), member(env)
    reader = member(env, role="reader", project=who.project)
    sid = created(env, who, [image_root(env, dot=False)])
    [root] = [a["id"] for a in wait_server(env, who, sid)["os-extended-volumes:volumes_attached"]]
    path = f"/servers/{sid}/os-volume_attachments/{root}"

    def put(who_, body, version="2.85", p=path):
        return env.nova("PUT", p, token=who_.token if who_ else None, version=version, json=body)

    nova_error(put(other, {"volumeAttachment": {"volumeId": root, "delete_on_termination": True}}), 404)
    nova_error(put(reader, {"volumeAttachment": {"volumeId": root, "delete_on_termination": True}}), 403)
    ghost = str(uuid.uuid4())
    nova_error(put(who, {"volumeAttachment": {"volumeId": ghost}}, p=f"/servers/{sid}/os-volume_attachments/{ghost}"), 404)
    nova_error(put(who, {"volumeAttachment": {"volumeId": ghost}}), 403)
    nova_error(put(who, {"volumeAttachment": {"volumeId": root}}, version="2.84"), 403)
    nova_error(put(None, {"volumeAttachment": {"volumeId": new_volume(env, who)}}), 409)
    for body in ({"volumeAttachment": {"volumeId": 5}}, {"volumeAttachment": {}}, {"volumeAttachment": []}, [root], "x",
                 {"volumeAttachment": {"volumeId": root, "delete_on_termination": 1}},
                 {"volumeAttachment": {"volumeId": root, "delete_on_termination": None}},
                 {"volumeAttachment": {"volumeId": root, "device": "/dev/vdq"}}, {"volumeAttachment": {"volumeId": root, "tag": "t"}},
                 {"volumeAttachment": {"volumeId": root, "serverId": ghost}}, {"volumeAttachment": {"volumeId": root, "bogus": 1}},
                 {"volumeAttachment": {"volumeId": root}, "other": 1}):
        nova_error(put(who, body), 400)
    assert env.action(sid, {"lock": None}, token=who.token).status_code == 202
    assert put(who, {"volumeAttachment": {"volumeId": root, "delete_on_termination": "yes", "device": "/dev/vda", "id": root,
                                          "serverId": sid}}).status_code == 202
    assert env.action(sid, {"unlock": None}, token=who.token).status_code == 202
    assert server(env, who, sid)["os-extended-volumes:volumes_attached"] == [{"id": root, "delete_on_termination": True}]
    delete_server(env, who, sid)
    wait_gone(env, who, root)


# ---- kill -9 --------------------------------------------------------------------------------------

def test_held_kill_9_during_a_boot_from_volume(kenv):
    """nimbus killed (kill -9) while a boot's new volume is being made, and while a given volume
    is reserved for a boot: after the restart neither server stays BUILD (the half-made volume
    ends `error`, its server ERROR; the reserved one boots), no volume stays in a transitional
    status, and deleting the servers lets every volume go as its delete_on_termination says."""
    env = kenv
    who = member(env, volumes=8)
    slow = public_image(env, os.urandom(160 << 20))
    sid = created(env, who, [{**image_root(env), "uuid": slow}])
    [made] = volumes_of(env, sid, who)
    env.cloud.nimbus.kill()   # the volume is still `creating` here (a fresh 160 MiB image to copy)
    env.cloud.nimbus.start(timeout=60)
    s = wait_settled(env, who, sid)
    assert s["status"] in ("ACTIVE", "ERROR"), s["status"]
    v = settle(env, who, made)
    # An aborted build lets its volumes go at once (Nova's _cleanup_volumes): this delete-on-
    # termination one is deleted, unless Cinder keeps it.
    assert (v is None and s["status"] == "ERROR") or v["status"] in (("in-use",) if s["status"] == "ACTIVE" else ("error", "available")), \
        (s["status"], v and v["status"])
    # a given volume, reserved at create, then the kill
    vid = bootable(env, who, new_volume(env, who))
    sid2 = created(env, who, [volume_root(vid)])
    env.cloud.nimbus.kill()
    env.cloud.nimbus.start(timeout=60)
    s2 = wait_settled(env, who, sid2)
    assert s2["status"] == "ACTIVE", (s2["status"], s2.get("fault"))
    v = settle(env, who, vid)
    assert v["status"] == "in-use" and [a["server_id"] for a in v["attachments"]] == [sid2], v
    delete_server(env, who, sid)
    delete_server(env, who, sid2)
    wait_gone(env, who, made)
    # The release follows the server's deletion: wait for where the volume comes to rest (it is
    # still in-use, a resting status, for a moment after the server is gone).
    v = wait_volume(env, who, vid, "available", timeout=60)
    assert v["attachments"] == [], v


def test_kill_9_leaves_a_reserved_volume_reserved(kenv):
    """SEVERITY LOW (a volume reported in use that nothing uses).  A boot that found no host
    (NoValidHost: an ephemeral disk larger than any host's) ends ERROR holding its given volume
    `reserved` until the server is deleted, as in Nova (the API's attachment stays with the
    instance buried in cell0).  After a kill -9 and restart, the block storage service's
    recover() turns every `reserved` volume that has an attachment into `in-use`
    (VolumeService.recover: case "reserved" -> in-use) although the attachment is still only
    reserved and the volume's attach_status `detached`.  Cinder's restart leaves a reserved volume
    as it is (cinder/volume/manager.py init_host resets only what a dead volume service was doing:
    creating, downloading, deleting, uploading, backing-up ...); a reservation is the API's, not
    the volume service's, work in progress."""
    env = kenv
    who = member(env, volumes=4)
    r = env.nova("POST", "/flavors", json={"flavor": {"name": f"rb-eph-{uuid.uuid4().hex[:6]}", "ram": 64, "vcpus": 1, "disk": 1,
                                                      "OS-FLV-EXT-DATA:ephemeral": 100000}})
    assert r.status_code == 200, r.text
    vid = bootable(env, who, new_volume(env, who))
    sid = created(env, who, [volume_root(vid)], flavor=r.json()["flavor"]["id"])
    wait_server(env, who, sid, status="ERROR")
    assert volume(env, who, vid)["status"] == "reserved"
    env.cloud.nimbus.kill()
    env.cloud.nimbus.start(timeout=60)
    time.sleep(2)
    v = volume(env, who, vid)
    assert v["status"] == "reserved", f"a reservation of an ERROR server came back {v['status']} (attachments {v['attachments']})"
    delete_server(env, who, sid)
    assert settle(env, who, vid)["status"] == "available"
