"""`nimbus ring` against a running cloud: adding a device and rebalancing is picked up
without a restart, and the replicator moves partitions' replicas onto the new device
(and off the devices that lost them) while every object stays readable."""

import os
import subprocess
from pathlib import Path

from nimbus_launcher import find_binary
from object_support import admin_account, md5hex, wait_until

FAST = {"object_storage": {"replicator_interval": 1}}


def ring(data_dir: Path, *args: str) -> str:
    return subprocess.run([str(find_binary()), "ring", *args, "--data-dir", str(data_dir)],
                          check=True, capture_output=True, text=True, timeout=60).stdout


def data_files(device: Path) -> list[Path]:
    # os.walk, not rglob: the replicator removes emptied directories while we look.
    return [Path(d) / f for d, _, files in os.walk(device / "objects") for f in files if f.endswith(".data")]


def test_added_device_is_loaded_and_filled(object_nimbus):
    nimbus = object_nimbus(config=FAST)
    acct = admin_account(nimbus)
    c = acct.put_container("ring")
    bodies = {f"o{i}": f"object {i}".encode() for i in range(40)}
    for name, body in bodies.items():
        acct.put_object(c, name, body)
    devices = Path(nimbus.data_dir) / "object" / "devices"
    assert not (devices / "d4").exists()

    ring(nimbus.data_dir, "add", "--name", "d4", "--zone", "4")
    out = ring(nimbus.data_dir, "rebalance")
    assert "d4" in out
    # The running cloud reloads the ring (every 5 s) and the replicator moves data onto d4
    # and removes the copies from devices that are no longer primaries for a partition.
    wait_until(lambda: len(data_files(devices / "d4")) > 0, timeout=60, what="replicas on the new device")
    total = lambda: sum(len(data_files(devices / d)) for d in ("d1", "d2", "d3", "d4"))
    wait_until(lambda: total() == 3 * len(bodies), timeout=60, what="exactly 3 replicas of every object")
    for name, body in bodies.items():
        r = acct.req("GET", c, name)
        assert r.status_code == 200 and md5hex(r.content) == md5hex(body)
