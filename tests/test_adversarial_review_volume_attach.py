"""Adversarial review of attaching volumes to servers: Nova's `os-volume_attachments`
(Sources/Compute/API/ComputeAPI+VolumeAttachments.swift, Sources/Compute/Service/
ComputeService+Volumes.swift), the compute service's client of the block storage service
(Sources/nimbus/ComputeVolumeClient.swift), the storage side (Sources/BlockStorage/Service/
VolumeService+Attachments.swift, Sources/StorageNode/NBDExporter.swift) and the node's hot-plug
(ComputeAgent `.volumes`).

One module-scoped cloud whose compute node runs the fake driver: the guest does not matter for
any finding below. The agent reconciles every second; `shelved_offload_time = -1` keeps a
shelved server SHELVED until an admin's shelveOffload. The last test boots one real QEMU guest
(TCG) on a second cloud for what only a guest shows: a read-only volume is read-only inside it,
and a `kill -9` of Nimbus in the middle of a detach neither strands the volume nor leaves the
disk in the guest or the storage daemon running (suspend/resume, hard reboot and a `kill -9`
during an attach were probed by hand the same way and held).

The first part holds one test per finding: each fails on the build under review because Nimbus
does what Nova (/work/.mirror/openstack+nova) or Cinder (/work/.mirror/openstack+cinder) does
not; the file that decides the behaviour is named in each docstring. The second part ("held")
pins what the review attacked and found right.

The first test counts the storage daemons Nimbus leaves unreaped, so it must run while no
volume of the module is attached yet (pytest runs a module's tests in file order).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from compute_support import build_test_image, start_compute_cloud, stop_compute_cloud, wait_console
from test_adversarial_review_compute import Env, nova_error
from test_compute_qemu import BANNER
from test_volume_attach_qemu import shell, wait_volume as wait_volume_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")

TIMEOUT = 30
# Statuses a volume only passes through.
TRANSITIONAL = {"creating", "attaching", "detaching", "reserved", "deleting", "extending", "retyping", "uploading"}
ATTACHMENT_KEYS_2_79 = {"id", "serverId", "volumeId", "device", "tag", "delete_on_termination"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-volattach"), "fake",
                                      {"compute": {"agent_interval_s": "1", "shelved_offload_time": "-1"}})
    try:
        e = Env(cloud)
        e.admin_project = project_of(e, e.admin)
        yield e
    finally:
        stop_compute_cloud(cloud, data)


# ---- helpers ------------------------------------------------------------------------------------

@dataclass
class Who:
    token: str
    project: str


def project_of(env, token) -> str:
    r = requests.get(f"{env.base}/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["token"]["project"]["id"]


def admin(env) -> Who:
    return Who(env.admin, env.admin_project)


def member(env, role="member", project=None, volumes=None) -> Who:
    token, _, project_id = env.new_user(role=role, project_id=project)
    if volumes:
        r = cinder(env, "PUT", f"/os-quota-sets/{project_id}", admin(env), json={"quota_set": {"volumes": volumes, "gigabytes": volumes * 2}})
        assert r.status_code == 200, r.text
    return Who(token, project_id)


def cinder(env, method, path, who: Who, version="3.54", **kw) -> requests.Response:
    h = {"X-Auth-Token": who.token, "OpenStack-API-Version": f"volume {version}"}
    return requests.request(method, f"{env.base}/volume/v3/{who.project}{path}", headers=h, timeout=TIMEOUT, **kw)


def volume(env, who: Who, vid) -> dict | None:
    r = cinder(env, "GET", f"/volumes/{vid}", who)
    assert r.status_code in (200, 404), r.text
    return r.json()["volume"] if r.status_code == 200 else None


def wait_volume(env, who: Who, vid, status, timeout=30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        v = volume(env, who, vid)
        if v is not None and v["status"] == status:
            return v
        assert time.monotonic() < deadline, f"volume {vid} not {status}: {v and v['status']}"
        time.sleep(0.2)


def settle(env, who: Who, vid, timeout=20) -> dict | None:
    """The volume once it rests (None when it is gone); fails when it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = volume(env, who, vid)
        if v is None or v["status"] not in TRANSITIONAL:
            return v
        assert time.monotonic() < deadline, f"volume {vid} still {v['status']} after {timeout} s (attachments {v['attachments']})"
        time.sleep(0.3)


def new_volume(env, who: Who, **extra) -> str:
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "name": f"rv-{uuid.uuid4().hex[:8]}", **extra}})
    assert r.status_code == 202, r.text
    vid = r.json()["volume"]["id"]
    wait_volume(env, who, vid, "available")
    return vid


def attach(env, sid, vid, who: Who | None = None, version="2.96", **extra) -> requests.Response:
    return env.nova("POST", f"/servers/{sid}/os-volume_attachments", token=who.token if who else None, version=version,
                    json={"volumeAttachment": {"volumeId": vid, **extra}})


def detach(env, sid, vid, who: Who | None = None, version="2.96") -> requests.Response:
    return env.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}", token=who.token if who else None, version=version)


def attached(env, sid, who: Who | None = None) -> list[dict]:
    r = env.nova("GET", f"/servers/{sid}/os-volume_attachments", token=who.token if who else None)
    assert r.status_code == 200, r.text
    return r.json()["volumeAttachments"]


def attach_in_use(env, sid, vid, who: Who | None = None, **extra) -> dict:
    r = attach(env, sid, vid, who, **extra)
    assert r.status_code == 200, r.text
    return wait_volume(env, who or admin(env), vid, "in-use")


def race(n, fn):
    """Runs fn(i) for i in range(n) on n threads released together; returns the results in order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        out[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def storage_daemon_zombies(env) -> list[int]:
    """qemu-storage-daemon children of the cloud's nimbus that exited and were never reaped."""
    parent = env.cloud.nimbus.proc.pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if name.startswith("qemu-storage") and fields[0] == "Z" and int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def live_storage_daemons(env) -> list[int]:
    """Running qemu-storage-daemon processes serving this cloud's run dir."""
    run_dir = env.cloud.nimbus.storage_run_dir + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "qemu-storage-daemon" in cmdline and run_dir in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# =================================================================================================
# Findings (each fails now)
# =================================================================================================

def test_storage_daemons_that_stop_are_reaped(env):
    """SEVERITY LOW (process leak).  The storage node's qemu-storage-daemon quits with its last
    export (NBDExporter.unexport: `quit`) and is started again by the next attach; it was started
    with ProcessCommandRunner.startDetached, whose children are only waited for when something
    calls reapDetached -- which only the QEMU driver's guest processes do.  On a cloud whose
    compute node is not QEMU (the fake driver here, or `local_node = false` with Cinder's
    attachments API driving the exports) every attach/detach cycle of a lone volume leaves one
    more `<defunct>` qemu-storage-daemon under nimbus, for as long as nimbus runs: a PID-table
    leak any project member can drive.  Nimbus should reap the daemon once it has quit."""
    me = member(env)
    sid = env.boot("rv-reap", token=me.token)
    vid = new_volume(env, me)
    for _ in range(3):
        attach_in_use(env, sid, vid, me)
        assert detach(env, sid, vid, me).status_code == 202
        wait_volume(env, me, vid, "available")
        deadline = time.monotonic() + 10
        while live_storage_daemons(env) and time.monotonic() < deadline:
            time.sleep(0.2)
    time.sleep(1)
    zombies = storage_daemon_zombies(env)
    assert len(zombies) <= 1, f"{len(zombies)} unreaped qemu-storage-daemon children of nimbus: {zombies}"


def test_deleting_a_server_never_deletes_another_projects_volume(env):
    """SEVERITY HIGH (cross-project data destruction).  An admin attaches project B's volume to
    project A's server with delete_on_termination (allowed: Nova's attach runs with the admin's
    context).  When A's member then deletes the server, Nova's compute manager deletes
    delete_on_termination volumes with the *deleting user's* context
    (nova/compute/manager.py _cleanup_volumes: `self.volume_api.delete(context, bdm.volume_id)`,
    failures only logged), and Cinder does not show B's volume to A's member (404), so B's
    volume survives.  Nimbus's ComputeService.releaseVolumes deletes it as the service
    (ComputeVolumeClient.deleteVolume with the admin actor `nova`): A's member destroys B's data."""
    a, b = member(env), member(env)
    sid = env.boot("rv-dot", token=a.token)
    vid = new_volume(env, b)
    attach_in_use(env, sid, vid, admin(env), version="2.79", delete_on_termination=True)
    assert env.nova("DELETE", f"/servers/{sid}", token=a.token).status_code == 204
    env.wait(sid, "DELETED", token=a.token)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        v = volume(env, b, vid)
        assert v is not None and v["status"] != "deleting", \
            f"project B's volume {vid} was deleted because project A deleted its server: {v}"
        time.sleep(0.25)


def test_a_detach_right_after_the_attach_does_not_strand_the_volume(env):
    """SEVERITY HIGH (volume stuck for good, export leaked).  A client that detaches as soon as
    the attach answered (a careless script, or a user who changed their mind) gets a 202 and the
    volume stays `attaching` forever: the server's entry turns `detaching`, the node unplugs (or
    never plugs) it, and since the set of plugged disks the node reports is the same as before
    (ComputeAgent.reconcile reports only when it changes), ComputeService.finishDetaches is never
    called: the Cinder attachment, its NBD export and the server's volumeAttachments entry stay.
    Nova refuses the detach instead: nova/compute/api.py _detach_volume calls Cinder's
    begin_detaching, which needs status `in-use` (cinder/volume/api.py begin_detaching: 'Unable to
    detach volume. Volume status must be 'in-use'...' -> InvalidVolume -> 400 in
    nova/api/openstack/compute/volume_attachments.py delete).  Either way the volume must come
    to rest, and the server must list it exactly when Cinder says it is in use."""
    me = member(env)
    sid = env.boot("rv-quick", token=me.token)
    vid = new_volume(env, me)
    # A server that has run for a while: its node has reported its (empty) set of disks once
    # (the agent reconciles every second). Right after a boot the first report still comes and
    # happens to finish the detach.
    time.sleep(2.5)
    r = attach(env, sid, vid, me)
    assert r.status_code == 200, r.text
    d = detach(env, sid, vid, me)
    assert d.status_code in (202, 400), d.text
    v = settle(env, me, vid)
    listed = [a["volumeId"] for a in attached(env, sid, me)]
    assert v["status"] in ("available", "in-use"), v
    assert (v["status"] == "in-use") == (vid in listed), (v["status"], v["attachments"], listed)
    if v["status"] == "available":
        assert v["attachments"] == [], v


def test_one_volume_raced_onto_one_server_is_attached_once(env):
    """SEVERITY HIGH (the same disk plugged several times into one guest).  Six concurrent POSTs
    of the same volume to the same server: Nova answers one 200 and 400 to the others -- the
    compute manager checks for an existing attachment of the volume under the instance's lock
    (nova/compute/manager.py reserve_block_device_name: `@utils.synchronized(instance.uuid)`,
    'volume %s already attached' -> InvalidVolume -> 400).  Nimbus checks
    `i.volumes.contains` on the instance read before the attach, and Cinder's createAttachment lets
    a volume have several attachments to one instance, so most of the POSTs succeed: the server
    lists the volume several times, each with its own export and (under QEMU) its own virtio disk
    of the same bytes."""
    me = member(env)
    sid = env.boot("rv-race1", token=me.token)
    vid = new_volume(env, me)
    codes = [r.status_code for r in race(6, lambda i: attach(env, sid, vid, me))]
    v = settle(env, me, vid)
    listed = [a["volumeId"] for a in attached(env, sid, me)]
    assert sorted(codes) == [200, 400, 400, 400, 400, 400], codes
    assert listed == [vid], listed
    assert len(v["attachments"]) == 1, v["attachments"]


def test_volumes_raced_onto_one_server_get_distinct_devices(env):
    """SEVERITY MEDIUM.  Four volumes attached to one server at once: Nova picks each device name
    under the instance's lock from the mappings already made (nova/compute/manager.py
    reserve_block_device_name -> _get_device_name_for_instance inside
    `@utils.synchronized(instance.uuid)`), so they are /dev/vdb, /dev/vdc, ... Nimbus's
    ComputeService.nextDevice works from the instance read before the attach: all four get
    /dev/vdb (the API and Cinder's attachment records then name the same device four times)."""
    me = member(env)
    sid = env.boot("rv-race2", token=me.token)
    vids = [new_volume(env, me) for _ in range(4)]
    responses = race(4, lambda i: attach(env, sid, vids[i], me))
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    devices = sorted(a["device"] for a in attached(env, sid, me))
    assert len(set(devices)) == 4, devices


def test_the_disk_limit_holds_under_concurrent_attaches(env):
    """SEVERITY LOW (a limit that does not limit).  Nimbus allows 16 volumes per server
    (ComputeService.maxVolumes: 'the pc machine's PCI bus is not' unlimited) and answers 403 past
    it, as Nova does for its max_disk_devices_to_attach -- which Nova checks inside the
    instance-locked reserve_block_device_name (nova/compute/manager.py), so it holds under
    concurrency.  Nimbus counts the instance's volumes read before the attach: 18 volumes attached
    at once are all accepted (and the device names run out at /dev/vdz past 25).  Past the free
    PCI slots the hot-plug fails and, with nothing rolling it back, the attachment stays
    `attaching`."""
    me = member(env, volumes=20)
    sid = env.boot("rv-limit", token=me.token)
    vids = [new_volume(env, me) for _ in range(18)]
    responses = race(18, lambda i: attach(env, sid, vids[i], me))
    accepted = [r for r in responses if r.status_code == 200]
    for r in responses:
        if r.status_code != 200:
            nova_error(r, 403)
    assert len(accepted) <= 16, f"{len(accepted)} volumes accepted on one server (limit 16)"
    assert len(attached(env, sid, me)) <= 16


def test_a_volume_reset_to_available_is_not_attached_to_a_second_server(env):
    """SEVERITY HIGH (two guests writing one non-multiattach volume).  Cinder's os-reset_status to
    available/detached drops the volume's attachment records
    (cinder/api/contrib/admin_actions.py _reset_status: _clean_volume_attachment), so Cinder alone
    would let the volume be attached again.  Nova guards exactly this case with its own block
    device mappings: nova/compute/api.py attach_volume -> _check_volume_already_attached ('This
    check is also carried out later by c-api itself but it can however be circumvented by admins
    resetting the state of an attached volume to available') -> InvalidVolume 'volume ... is
    already attached to instances' -> 400.  Nimbus checked only the target server's own list: the
    volume was attached to a second server while the first still listed it. Fixed: the servers'
    mappings are searched (InstanceRepository.holding)."""
    me = member(env)
    first, second = env.boot("rv-reset-1", token=me.token), env.boot("rv-reset-2", token=me.token)
    vid = new_volume(env, me)
    attach_in_use(env, first, vid, me)
    r = cinder(env, "POST", f"/volumes/{vid}/action", admin(env), json={"os-reset_status": {"status": "available", "attach_status": "detached"}})
    assert r.status_code == 202, r.text
    assert vid in [a["volumeId"] for a in attached(env, first, me)]
    r = attach(env, second, vid, me)
    both = [vid in [a["volumeId"] for a in attached(env, s, me)] for s in (first, second)]
    assert r.status_code == 400, f"attached to a second server while the first lists it ({both}): {r.status_code} {r.text[:200]}"
    nova_error(r, 400)


def test_force_delete_refuses_an_attached_volume(env):
    """SEVERITY MEDIUM (an admin's force-delete pulls a disk out of a running guest).  Cinder's
    delete keeps `attach_status != attached` as a condition even with force: only the status
    conditions are skipped (cinder/volume/api.py delete: `expected = {'attach_status':
    db_utils.Not(ATTACHED), ...}; if not force: expected['status'] = ...` -> InvalidVolume 400
    'Volume must not be migrating, attached, ...').  Nimbus's VolumeService.deleteVolume with
    force skips the attachment check too: the export is cut, the file removed, and the server
    goes on listing a volume that no longer exists."""
    me = member(env)
    sid = env.boot("rv-force", token=me.token)
    vid = new_volume(env, me)
    attach_in_use(env, sid, vid, me)
    r = cinder(env, "POST", f"/volumes/{vid}/action", admin(env), json={"os-force_delete": {}})
    time.sleep(1)
    v = volume(env, me, vid)
    assert r.status_code == 400, f"force-delete of an attached volume: {r.status_code}; volume now {v and v['status']}"
    assert v is not None and v["status"] == "in-use", v


def test_an_attached_volume_is_not_retyped_to_multiattach_and_attached_twice(env):
    """SEVERITY HIGH (multi-attach, which is not built, reached by a member).  Cinder refuses to
    change `multiattach` of a volume that is not available (cinder/volume/api.py retype: 'retypes
    affecting multiattach are only allowed on available volumes' -> InvalidInput 400), and a
    retype to a type whose extra specs the backend does not satisfy finds no backend (the
    scheduler's find_retype_host; this backend reports `multiattach: false`, so a volume created
    with such a type ends in `error`, and the README lists multi-attach as not built).  Nimbus's VolumeService.retype changes the type and
    `multiattach` of an in-use volume at once, and the compute service then accepts the in-use
    volume for a second server ('volume.multiattach && status == in-use'): two guests write one
    qcow2 through two exports, with no cluster file system in sight."""
    me = member(env)
    type_name = f"rv-multiattach-{uuid.uuid4().hex[:6]}"
    r = cinder(env, "POST", "/types", admin(env), json={"volume_type": {"name": type_name, "extra_specs": {"multiattach": "<is> True"}}})
    assert r.status_code == 200, r.text
    first, second = env.boot("rv-ma-1", token=me.token), env.boot("rv-ma-2", token=me.token)
    vid = new_volume(env, me)
    attach_in_use(env, first, vid, me)
    retype = cinder(env, "POST", f"/volumes/{vid}/action", me, json={"os-retype": {"new_type": type_name}})
    second_attach = attach(env, second, vid, me)
    time.sleep(2)
    holders = [s for s in (first, second) if vid in [a["volumeId"] for a in attached(env, s, me)]]
    assert second_attach.status_code == 400, \
        f"one volume on {len(holders)} servers (the retype answered {retype.status_code}): {second_attach.status_code} {second_attach.text[:120]}"
    assert retype.status_code == 400, retype.text
    v = volume(env, me, vid)
    assert not v["multiattach"] and holders == [first], (v["multiattach"], holders)


def test_attach_response_keeps_id_before_2_101(env):
    """SEVERITY MEDIUM (clients validating the response break).  Nova's attach answers, from 2.79
    up to 2.100, with `id`, `serverId`, `volumeId`, `device`, `tag` and `delete_on_termination`
    and nothing else (nova/api/openstack/compute/volume_attachments.py create: 'We forgot to apply
    2.89 here'; schemas/volume_attachments.py create_response_v279, additionalProperties False,
    `id` required).  Nimbus renders the POST with the 2.89 list view: no `id`, plus
    `attachment_id` and `bdm_uuid`."""
    me = member(env)
    sid = env.boot("rv-view", token=me.token)
    vid = new_volume(env, me)
    r = attach(env, sid, vid, me, version="2.89")
    assert r.status_code == 200, r.text
    body = r.json()["volumeAttachment"]
    assert set(body) == ATTACHMENT_KEYS_2_79, sorted(body)
    assert body["id"] == vid


def test_attach_to_a_shelved_offloaded_server(env):
    """SEVERITY MEDIUM.  Nova attaches volumes to SHELVED_OFFLOADED servers from 2.20
    (nova/compute/api.py attach_volume: allowed vm_states include SHELVED_OFFLOADED ->
    _attach_volume_shelved_offloaded: the mapping is made, the attachment completed at once so the
    volume is in-use, and the disk is connected at unshelve).  Nimbus answered 409 'Cannot
    attach_volume ... while it is in vm_state shelved_offloaded'; now built."""
    me = member(env)
    sid = env.boot("rv-offloaded", token=me.token)
    assert env.action(sid, {"shelve": None}, token=me.token).status_code == 202
    env.wait(sid, "SHELVED", token=me.token)
    assert env.action(sid, {"shelveOffload": None}).status_code == 202
    env.wait(sid, "SHELVED_OFFLOADED", token=me.token)
    vid = new_volume(env, me)
    r = attach(env, sid, vid, me, version="2.20")
    assert r.status_code == 200, r.text
    assert vid in [a["volumeId"] for a in attached(env, sid, me)]
    wait_volume(env, me, vid, "in-use", timeout=10)


def test_attach_to_a_shelved_server_needs_2_20(env):
    """SEVERITY LOW.  Before 2.20 Nova refuses volume attach (and detach) on SHELVED and
    SHELVED_OFFLOADED servers with 409 (nova/api/openstack/compute/volume_attachments.py create
    and delete: `_check_request_version(req, '2.20', ...)` -> InstanceInvalidState).  Nimbus
    attaches to a SHELVED server at any microversion."""
    me = member(env)
    sid = env.boot("rv-shelved", token=me.token)
    assert env.action(sid, {"shelve": None}, token=me.token).status_code == 202
    env.wait(sid, "SHELVED", token=me.token)
    vid = new_volume(env, me)
    nova_error(attach(env, sid, vid, me, version="2.19"), 409)


def test_attach_to_a_server_waiting_for_resize_confirmation(env):
    """SEVERITY LOW.  Nova attaches and detaches volumes in vm_state RESIZED (VERIFY_RESIZE):
    nova/compute/api.py attach_volume and detach_volume `@check_instance_state(vm_state=[ACTIVE,
    PAUSED, STOPPED, RESIZED, SOFT_DELETED, SHELVED, SHELVED_OFFLOADED])`.  Nimbus's
    ComputeService.volumeStates leaves RESIZED (and SOFT_DELETED) out: 409."""
    me = member(env)
    sid = env.boot("rv-resized", token=me.token)
    assert env.action(sid, {"resize": {"flavorRef": "84"}}, token=me.token).status_code == 202
    env.wait(sid, "VERIFY_RESIZE", token=me.token)
    vid = new_volume(env, me)
    r = attach(env, sid, vid, me)
    assert r.status_code == 200, r.text


def test_a_second_detach_while_one_is_in_flight_is_refused(env):
    """SEVERITY LOW.  Nova's detach starts with Cinder's begin_detaching, a conditional update
    from `in-use` to `detaching` (cinder/volume/api.py begin_detaching); a second DELETE before the
    first finished finds the volume `detaching` and is 400 (InvalidVolume in
    nova/api/openstack/compute/volume_attachments.py delete), or 404 once the mapping is gone.
    Nimbus leaves the volume `in-use` in Cinder while it detaches and answers every DELETE 202."""
    me = member(env)
    sid = env.boot("rv-detach2", token=me.token)
    vid = new_volume(env, me)
    attach_in_use(env, sid, vid, me)
    first = detach(env, sid, vid, me)
    second = detach(env, sid, vid, me)
    assert first.status_code == 202, first.text
    assert second.status_code in (400, 404), f"second detach in flight: {second.status_code} {second.text[:200]}"
    nova_error(second, second.status_code)


def test_attach_body_follows_novas_schema(env):
    """SEVERITY LOW.  nova/api/openstack/compute/schemas/volume_attachments.py create_v279:
    `device` must match '(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$' (so '' and
    '/dev/../../etc/passwd' are 400), the body has additionalProperties False at the top level,
    and delete_on_termination is parameter_types.boolean, which takes the strings 'yes', 'True',
    'on', '1', ... as well as JSON booleans (nova/api/validation/parameter_types.py boolean).
    Nimbus accepts any string starting with /dev/ (and ''), ignores unknown top-level keys, and
    answers 400 to delete_on_termination 'yes' (tests/test_volume_attach_api.py pins that 400;
    Nova answers 200)."""
    me = member(env, volumes=20)
    sid = env.boot("rv-schema", token=me.token)
    cases = [
        ("2.96", lambda v: {"volumeAttachment": {"volumeId": v, "device": ""}}, 400),
        ("2.96", lambda v: {"volumeAttachment": {"volumeId": v, "device": "/dev/../../etc/passwd"}}, 400),
        ("2.96", lambda v: {"volumeAttachment": {"volumeId": v, "device": "/dev/vdb;reboot"}}, 400),
        ("2.96", lambda v: {"volumeAttachment": {"volumeId": v}, "server": {"name": "x"}}, 400),
        ("2.79", lambda v: {"volumeAttachment": {"volumeId": v, "delete_on_termination": "yes"}}, 200),
    ]
    wrong = []
    vid = new_volume(env, me)
    for version, body, expected in cases:
        r = env.nova("POST", f"/servers/{sid}/os-volume_attachments", token=me.token, version=version, json=body(vid))
        if r.status_code != expected:
            wrong.append((body(vid), version, r.status_code, r.text[:150]))
        if r.status_code == 200:
            vid = new_volume(env, me)
        else:
            nova_error(r, r.status_code)
    assert not wrong, wrong


def test_attachment_list_pages_as_nova(env):
    """SEVERITY LOW.  Nova's index slices with common.limited (nova/api/openstack/common.py:
    'If limit is not specified, 0, or > max_limit, we default to max_limit'), and validates the
    query with schemas/volume_attachments.py index_query: limit and offset are
    non_negative_integer (offset=-1 and offset=abc are 400), and from 2.75 no other parameter is
    allowed (additionalProperties False: 400).  Nimbus answers limit=0 with an empty list, ignores
    a bad offset and unknown parameters."""
    me = member(env)
    sid = env.boot("rv-page", token=me.token)
    for _ in range(2):
        attach_in_use(env, sid, new_volume(env, me), me)
    got = {}
    for query in ("limit=0", "offset=-1", "offset=abc", "foo=1"):
        r = env.nova("GET", f"/servers/{sid}/os-volume_attachments?{query}", token=me.token)
        got[query] = (r.status_code, len(r.json().get("volumeAttachments", [])) if r.status_code == 200 else None)
    assert got == {"limit=0": (200, 2), "offset=-1": (400, None), "offset=abc": (400, None), "foo=1": (400, None)}, got


# =================================================================================================
# Held (what the review attacked and found right)
# =================================================================================================

def test_held_projects_roles_and_locks(env):
    """Another project's volume (404) or server (404); a reader may list but not attach or detach
    (403, nova/policies/volumes_attachments.py: create/delete PROJECT_MEMBER_OR_ADMIN); a locked
    server refuses its owner (409) and lets an admin through (nova/compute/api.py
    check_instance_lock)."""
    a, b = member(env), member(env)
    reader = member(env, role="reader", project=a.project)
    sid_a, sid_b = env.boot("rv-iso-a", token=a.token), env.boot("rv-iso-b", token=b.token)
    va, vb = new_volume(env, a), new_volume(env, b)
    nova_error(attach(env, sid_a, vb, a), 404)
    nova_error(attach(env, sid_b, va, a), 404)
    nova_error(env.nova("GET", f"/servers/{sid_b}/os-volume_attachments", token=a.token), 404)
    nova_error(attach(env, sid_a, va, reader), 403)
    assert attached(env, sid_a, reader) == []
    attach_in_use(env, sid_a, va, a)
    nova_error(detach(env, sid_a, va, reader), 403)
    nova_error(detach(env, sid_b, va, a), 404)
    assert env.action(sid_a, {"lock": None}, token=a.token).status_code == 202
    va2 = new_volume(env, a)
    nova_error(attach(env, sid_a, va2, a), 409)
    nova_error(detach(env, sid_a, va, a), 409)
    assert attach(env, sid_a, va2).status_code == 200
    assert env.action(sid_a, {"unlock": None}, token=a.token).status_code == 202


def test_held_server_states_that_refuse_volumes(env):
    """Building, error and suspended servers refuse attach with 409 (nova/compute/api.py
    attach_volume's check_instance_state); a server with a task refuses too."""
    me = member(env)
    vid = new_volume(env, me)
    sid = env.boot("rv-states", token=me.token, wait=False)
    nova_error(attach(env, sid, vid, me), 409)
    env.wait(sid, "ACTIVE", token=me.token)
    assert env.action(sid, {"os-resetState": {"state": "error"}}).status_code == 202
    nova_error(attach(env, sid, vid, me), 409)
    assert env.action(sid, {"os-resetState": {"state": "active"}}).status_code == 202
    assert env.action(sid, {"suspend": None}, token=me.token).status_code == 202
    env.wait(sid, "SUSPENDED", token=me.token)
    nova_error(attach(env, sid, vid, me), 409)
    assert volume(env, me, vid)["status"] == "available"


def test_held_volume_side_refusals_while_attached(env):
    """An attached volume is not deleted (400), transferred (400) or extended before 3.42 (400);
    a volume awaiting transfer is not attached (400); one volume raced onto two servers is
    attached to exactly one (Cinder's createAttachment under the write lock)."""
    me = member(env)
    s1, s2 = env.boot("rv-vs-1", token=me.token), env.boot("rv-vs-2", token=me.token)
    vid = new_volume(env, me)
    codes = sorted(r.status_code for r in race(2, lambda i: attach(env, (s1, s2)[i], vid, me)))
    assert codes == [200, 400], codes
    assert len(settle(env, me, vid)["attachments"]) == 1
    assert cinder(env, "DELETE", f"/volumes/{vid}", me).status_code == 400
    assert cinder(env, "POST", "/os-volume-transfer", me, json={"transfer": {"volume_id": vid}}).status_code == 400
    assert cinder(env, "POST", f"/volumes/{vid}/action", me, version="3.41", json={"os-extend": {"new_size": 2}}).status_code == 400
    other = new_volume(env, me)
    t = cinder(env, "POST", "/os-volume-transfer", me, json={"transfer": {"volume_id": other}})
    assert t.status_code == 202, t.text
    nova_error(attach(env, s1, other, me), 400)


def test_held_server_lifecycle_keeps_its_volumes(env):
    """Stop, start, hard reboot, rebuild, pause/unpause, suspend/resume: the volume stays in-use
    and listed (checked in a QEMU guest by hand for suspend/resume and hard reboot)."""
    me = member(env)
    sid = env.boot("rv-life", token=me.token)
    vid = new_volume(env, me)
    attach_in_use(env, sid, vid, me)
    steps = [({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE"), ({"reboot": {"type": "HARD"}}, "ACTIVE"),
             ({"rebuild": {"imageRef": env.image}}, "ACTIVE"), ({"pause": None}, "PAUSED"), ({"unpause": None}, "ACTIVE"),
             ({"suspend": None}, "SUSPENDED"), ({"resume": None}, "ACTIVE")]
    for body, status in steps:
        assert env.action(sid, body, token=me.token).status_code == 202, body
        env.wait(sid, status, token=me.token)
        assert volume(env, me, vid)["status"] == "in-use", body
        assert [a["volumeId"] for a in attached(env, sid, me)] == [vid], body


def test_held_server_deleted_while_attaching_releases_the_volume(env):
    me = member(env)
    sid = env.boot("rv-del-attaching", token=me.token)
    vid = new_volume(env, me)
    assert attach(env, sid, vid, me).status_code == 200
    assert env.nova("DELETE", f"/servers/{sid}", token=me.token).status_code == 204
    env.wait(sid, "DELETED", token=me.token)
    # Completed just before the delete, it may rest in-use a moment: wait for the release.
    v = wait_volume(env, me, vid, "available", timeout=60)
    assert v["attachments"] == [], v


def test_held_bad_requests_are_novas_4xx(env):
    """Wrong types, missing keys, ids that are not uuids, a huge body, other microversions' keys:
    4xx in Nova's fault format, never a 500."""
    me = member(env)
    sid = env.boot("rv-bad", token=me.token)
    vid = new_volume(env, me)
    cases = [
        ({"volumeAttachment": {"volumeId": vid, "tag": "x"}}, "2.48", 400),
        ({"volumeAttachment": {"volumeId": vid, "delete_on_termination": True}}, "2.78", 400),
        ({"volumeAttachment": {"volumeId": vid, "delete_on_termination": None}}, "2.79", 400),
        ({"volumeAttachment": {"volumeId": vid, "tag": "a/b"}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": vid, "tag": "x" * 61}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": vid, "tag": 5}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": vid, "device": 5}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": vid, "bogus": 1}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": 5}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": None}}, "2.96", 400),
        ({"volumeAttachment": {"volumeId": "../" + vid}}, "2.96", 400),
        ({"volumeAttachment": [vid]}, "2.96", 400),
        ({"volumeAttachment": {}}, "2.96", 400),
        ([vid], "2.96", 400),
        ({"volumeAttachment": {"volumeId": str(uuid.uuid4())}}, "2.96", 404),
    ]
    for body, version, status in cases:
        nova_error(env.nova("POST", f"/servers/{sid}/os-volume_attachments", token=me.token, version=version, json=body), status)
    headers = {"X-Auth-Token": me.token, "Content-Type": "application/json"}
    for raw in (b"{", b"\xff\xfe", b'{"volumeAttachment": {"volumeId": "' + b"a" * 2_000_000 + b'"}}'):
        r = requests.post(f"{env.base}/compute/v2.1/servers/{sid}/os-volume_attachments", data=raw, headers=headers, timeout=TIMEOUT)
        assert 400 <= r.status_code < 500, (len(raw), r.status_code, r.text[:200])
    for method in ("GET", "DELETE"):
        nova_error(env.nova(method, f"/servers/{sid}/os-volume_attachments/not-a-uuid", token=me.token), 404)
        nova_error(env.nova(method, f"/servers/{sid}/os-volume_attachments/{uuid.uuid4()}", token=me.token), 404)
    nova_error(env.nova("GET", "/servers/not-a-uuid/os-volume_attachments", token=me.token), 404)
    nova_error(env.nova("POST", "/servers/not-a-uuid/os-volume_attachments", token=me.token,
                        json={"volumeAttachment": {"volumeId": vid}}), 404)
    assert volume(env, me, vid)["status"] == "available"


def test_held_nothing_left_once_the_servers_are_gone(env):
    """Last: every server of the module deleted, every volume rests with no attachment, the
    storage daemon has stopped and its run dir is gone."""
    token = env.admin
    servers = env.nova("GET", "/servers?all_tenants=1&limit=1000").json()["servers"]
    for s in servers:
        env.nova("DELETE", f"/servers/{s['id']}", token=token)
    for s in servers:
        env.wait(s["id"], "DELETED", timeout=60)
    boss = admin(env)
    deadline = time.monotonic() + 30
    while True:
        vols = cinder(env, "GET", "/volumes/detail?all_tenants=1&limit=1000", boss).json()["volumes"]
        busy = [(v["id"], v["status"], len(v["attachments"])) for v in vols if v["status"] in TRANSITIONAL or v["attachments"]]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not busy, busy
    deadline = time.monotonic() + 15
    while (live_storage_daemons(env) or os.path.exists(env.cloud.nimbus.storage_run_dir)) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not live_storage_daemons(env)
    assert not os.path.exists(env.cloud.nimbus.storage_run_dir)


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory):
    build_test_image()
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-volattach-qemu"), "qemu", {"compute": {"agent_interval_s": "2"}},
                                      long_data_dir=True)
    try:
        deadline = time.monotonic() + 120
        while not any(i["Name"] == "nimbus-test" and i["Status"] == "active" for i in cloud.cli("image", "list", "-f", "json")):
            assert time.monotonic() < deadline, "nimbus-test was not registered"
            time.sleep(1)
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)
        # The QEMU driver's monitor sockets of a long data dir live in /run/nimbus-compute/<hash
        # of <data dir>/compute> (NodeLayout); a server deleted just before the cloud stops can
        # leave its directory there.
        digest = hashlib.sha256(f"{data}/compute".encode()).hexdigest()[:16]
        shutil.rmtree(f"/run/nimbus-compute/{digest}", ignore_errors=True)


def test_held_guest_read_only_volume_and_kill_9_during_a_detach(qemu_cloud):
    """A volume flagged read-only (os-update_readonly_flag) is attached read-only: the guest's
    kernel sees it read-only and cannot write it.  Nimbus killed with SIGKILL right after a
    detach was accepted, then started again: the detach completes (volume available, no
    attachment), the guest no longer has the disk, and the storage daemon has stopped."""
    cloud = qemu_cloud
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "rv-guest",
                    "-f", "json", timeout=300)["id"]
    wait_console(cloud, sid, BANNER.pattern)
    vid = cloud.cli("volume", "create", "--size", "1", "rv-ro", "-f", "json")["id"]
    wait_volume_cli(cloud, vid, "available")
    cloud.cli("volume", "set", "--read-only", vid)
    r = cloud.nova("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 200, r.text
    wait_volume_cli(cloud, vid, "in-use")
    out = shell(cloud, sid, "echo ro-$(cat /sys/block/vdb/ro)-x; printf XYZ | dd of=/dev/vdb bs=512 seek=10 conv=fsync 2>/dev/null; "
                            "echo rc=$?-$((2*3))", "-6")
    assert "ro-1-x" in out and "rc=1-6" in out, out
    # Detach, and kill -9 nimbus before the node reported the disk gone.
    assert cloud.nova("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 202
    time.sleep(0.3)
    cloud.nimbus.kill()
    cloud.nimbus.start(timeout=60)
    v = wait_volume_cli(cloud, vid, "available", timeout=60)
    assert v["attachments"] == [], v
    assert cloud.nova("GET", f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"] == []
    assert "vdb" not in shell(cloud, sid, "ls /sys/block; echo listed-$((3+4))", "listed-7")
    run_dir = cloud.nimbus.storage_run_dir
    deadline = time.monotonic() + 20
    while os.path.exists(run_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not os.path.exists(run_dir), os.listdir(run_dir)
