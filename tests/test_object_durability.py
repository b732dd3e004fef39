"""Object durability on a separate `nimbus up` (own data dir): kill -9 during uploads,
the auditor quarantining a corrupted replica, the replicator restoring lost replicas.

Embedded layout: 3 devices at <data_dir>/object/devices/d1..d3, every object on each;
a replica is <device>/objects/<partition>/<hash>.<timestamp>.data holding the
object's bytes first (then a metadata trailer); quarantined copies go to
<device>/quarantined/.  Intervals come from [object_storage] in the config file."""

import hashlib
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from object_support import admin_account, md5hex, wait_until

DEVICES = ("d1", "d2", "d3")
FAST_LOOPS = {"object_storage": {"auditor_interval": 1, "replicator_interval": 1, "expirer_interval": 10}}


def _devices(nimbus) -> Path:
    return Path(nimbus.data_dir) / "object" / "devices"


def _replicas(nimbus, content: bytes) -> dict[str, list[Path]]:
    """device name -> .data files whose bytes start with `content` (and are not quarantined)."""
    found = {}
    for dev in DEVICES:
        hits = []
        for path in (_devices(nimbus) / dev / "objects").glob("*/*.data"):
            try:
                with open(path, "rb") as f:
                    head = f.read(len(content))
            except FileNotFoundError:
                continue
            if head == content:
                hits.append(path)
        found[dev] = hits
    return found


def _all_three(nimbus, content):
    reps = _replicas(nimbus, content)
    return reps if all(len(v) == 1 for v in reps.values()) else None


def _rel(path: Path, nimbus, dev: str) -> Path:
    return path.relative_to(_devices(nimbus) / dev)


def test_acknowledged_uploads_survive_kill_9(object_nimbus):
    n = object_nimbus()
    acct = admin_account(n)
    c = acct.put_container("crash")
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(worker: int):
        session = requests.Session()
        i = 0
        while not stop.is_set():
            name = f"w{worker}/obj-{i:05d}"
            data = os.urandom(1024 + (i * 7919 + worker * 104729) % (256 * 1024))
            i += 1
            try:
                r = session.put(acct.url_for(c, name), data=data, timeout=30,
                                headers={"X-Auth-Token": acct.token, "ETag": md5hex(data)})
            except requests.RequestException:
                return  # the server died under us
            if r.status_code == 201:
                assert r.headers["Etag"] == md5hex(data)
                with lock:
                    acked[name] = md5hex(data)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(uploader, w) for w in range(8)]
        wait_until(lambda: len(acked) >= 40, timeout=60, interval=0.05, what="40 acknowledged uploads")
        assert n.kill() == -9  # in the middle of the stream
        stop.set()
        for f in futures:
            f.result()
    assert acked

    again = object_nimbus(port=n.port)
    acct = admin_account(again)
    bad = []
    for name, digest in sorted(acked.items()):
        r = requests.get(acct.url_for(c, name), headers={"X-Auth-Token": acct.token}, timeout=30)
        if r.status_code != 200 or md5hex(r.content) != digest:
            bad.append((name, r.status_code, md5hex(r.content), digest))
    assert not bad, f"{len(bad)} of {len(acked)} acknowledged objects lost or damaged: {bad[:5]}"


def test_auditor_quarantines_corrupt_replica_and_replicator_repairs(object_nimbus):
    n = object_nimbus(config=FAST_LOOPS)
    acct = admin_account(n)
    c = acct.put_container("audit")
    content = os.urandom(64 * 1024)
    acct.put_object(c, "precious", content)
    reps = wait_until(lambda: _all_three(n, content), timeout=60, what="three replicas on disk")
    victim = reps["d1"][0]
    rel = _rel(victim, n, "d1")
    assert rel == _rel(reps["d2"][0], n, "d2") == _rel(reps["d3"][0], n, "d3")

    # flip the first 4 KiB of content in place: same length, wrong bytes
    with open(victim, "r+b") as f:
        head = f.read(4096)
        f.seek(0)
        f.write(bytes(b ^ 0xFF for b in head))
        f.flush()
        os.fsync(f.fileno())
    quarantine = _devices(n) / "d1" / "quarantined"

    def quarantined():
        return quarantine.is_dir() and [p for p in quarantine.rglob("*") if p.is_file()]
    wait_until(quarantined, timeout=60, what="the auditor to quarantine the corrupted replica")

    # the replicator brings back a good third copy, at the same place
    def repaired():
        good = _all_three(n, content)
        return good and _rel(good["d1"][0], n, "d1") == rel
    wait_until(repaired, timeout=60, what="the replicator to restore the replica on d1")
    assert acct.get_body(c, "precious") == content
    assert hashlib.md5(content).hexdigest() == acct.req("HEAD", c, "precious").headers["Etag"]


def test_replicator_repopulates_a_wiped_device(object_nimbus):
    n = object_nimbus(config=FAST_LOOPS)
    acct = admin_account(n)
    c = acct.put_container("wipe")
    contents = {f"obj-{i}": os.urandom(2048 + i) for i in range(3)}
    for name, data in contents.items():
        acct.put_object(c, name, data)
    for data in contents.values():
        wait_until(lambda: _all_three(n, data), timeout=60, what="three replicas on disk")
    before = {name: _rel(_replicas(n, data)["d1"][0], n, "d1") for name, data in contents.items()}

    shutil.rmtree(_devices(n) / "d2" / "objects")
    assert all(acct.get_body(c, name) == data for name, data in contents.items())  # 2 copies left

    def restored():
        for name, data in contents.items():
            hits = _replicas(n, data)["d2"]
            if len(hits) != 1 or _rel(hits[0], n, "d2") != before[name]:
                return False
        return True
    wait_until(restored, timeout=60, what="the replicator to repopulate d2")
    for name, data in contents.items():
        assert acct.get_body(c, name) == data


def test_restart_keeps_objects_and_listings(object_nimbus):
    n = object_nimbus()
    acct = admin_account(n)
    c = acct.put_container("restart", headers={"X-Container-Meta-Kept": "yes"})
    acct.put_object(c, "a", b"alpha", headers={"X-Object-Meta-Kind": "letter"})
    acct.put_object(c, "b", b"beta")
    assert n.stop(grace=10) == 0, n.log_tail()
    started = time.monotonic()
    again = object_nimbus(port=n.port)
    assert time.monotonic() - started < 30
    acct = admin_account(again)
    assert acct.names(c) == ["a", "b"]
    assert acct.req("HEAD", c).headers["X-Container-Meta-Kept"] == "yes"
    r = acct.req("GET", c, "a")
    assert r.content == b"alpha" and r.headers["X-Object-Meta-Kind"] == "letter"
