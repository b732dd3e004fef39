"""Real guests moved between two QEMU compute nodes on this machine: the node inside `nimbus up`
(`node-a`) and a `nimbus compute` process (`node-b`), each with its own data dir.

* Live migration: the running test guest moves with its memory (QEMU's migration stream, its
  disk writes mirrored over NBD); on the destination it goes on without a reboot (its
  heartbeat's uptime continues, no second banner) and the source keeps no QEMU and no files.
* Cold migration: a stopped guest's disk (with bytes written into its overlay) is copied by
  node-b from node-a's API; the bytes are there on node-b, confirm removes node-a's copy, and
  the guest boots on node-b.

Expected behaviour: nova/virt/libvirt/driver.py (live_migration with block migration,
migrate_disk_and_power_off / finish_migration), nova/compute/manager.py."""

import json
import re
import subprocess
import time

import pytest

from compute_support import console, wait_console, ComputeNodeProcess, build_test_image, start_compute_cloud, stop_compute_cloud

ALIVE = re.compile(r"nimbus-test alive (\d+) uptime ([\d.]+)")


@pytest.fixture(scope="module")
def qemu_nodes(tmp_path_factory):
    build_test_image()
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("qmoves"), "qemu", {"compute": {"host": "node-a", "agent_interval_s": "2"}})
    node = ComputeNodeProcess(cloud, "node-b", data / "node-b", driver="qemu")
    try:
        node.start()
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and not ready:
            names = [p["name"] for p in cloud.cli("resource", "provider", "list", "-f", "json")]
            images = cloud.cli("image", "list", "-f", "json")
            ready = sorted(names) == ["node-a", "node-b"] and any(i["Name"] == "nimbus-test" and i["Status"] == "active" for i in images)
            time.sleep(1)
        assert ready, node.log_path.read_text()[-2000:]
        cloud.data = data
        cloud.node_b = node
        yield cloud
    finally:
        try:
            stop_compute_cloud(cloud, data)
        finally:
            node.stop()
            subprocess.run(["pkill", "-9", "-f", f"qemu-system.*{data}"], check=False)



def boot_on(cloud, name, host):
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--availability-zone", f"nova:{host}",
                  "--wait", name, "-f", "json", timeout=240)
    assert s["OS-EXT-SRV-ATTR:host"] == host, s
    wait_console(cloud, s["id"], r"=== nimbus-test ready")
    return s["id"]


def qemu_of(sid):
    out = subprocess.run(["pgrep", "-af", f"qemu-system.*-uuid {sid}"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def instance_dir(cloud, host, sid):
    root = cloud.data if host == "node-a" else cloud.data / "node-b"
    return root / "compute" / "instances" / sid


def wait_host(cloud, sid, host, timeout=240):
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = cloud.nova("GET", f"/servers/{sid}").json()["server"]
        if shown["OS-EXT-SRV-ATTR:host"] == host and shown["OS-EXT-STS:task_state"] is None:
            return shown
        assert shown["status"] != "ERROR", shown
        time.sleep(1)
    raise AssertionError(f"{sid} not settled on {host}: {shown}")


@pytest.mark.timeout(600)
def test_live_migration_keeps_the_guest_running(qemu_nodes):
    cloud = qemu_nodes
    sid = boot_on(cloud, "live-guest", "node-a")
    before = [float(u) for _, u in ALIVE.findall(wait_console(cloud, sid, ALIVE.pattern))]
    assert len(qemu_of(sid)) == 1 and str(cloud.data) in qemu_of(sid)[0]
    # diagnostics measured from the running QEMU (2.48)
    d = cloud.nova("GET", f"/servers/{sid}/diagnostics", version="2.48").json()
    assert d["state"] == "running" and d["driver"] == "libvirt" and d["hypervisor"] in ("qemu", "kvm") and d["uptime"] > 0, d
    assert len(d["cpu_details"]) == 1 and d["cpu_details"][0]["time"] > 0, d
    assert d["disk_details"][0]["read_bytes"] > 0 and d["memory_details"]["used"] > 0, d
    cloud.cli("server", "migrate", "--live-migration", "--host", "node-b", "--os-compute-api-version", "2.30", sid)
    shown = wait_host(cloud, sid, "node-b")
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:power_state"] == 1, shown
    # one QEMU, node-b's; node-a keeps nothing
    procs = qemu_of(sid)
    assert len(procs) == 1 and str(cloud.data / "node-b") in procs[0], procs
    assert not instance_dir(cloud, "node-a", sid).exists()
    # the same guest goes on: its heartbeat's uptime continues on node-b's console, no new boot
    text = wait_console(cloud, sid, ALIVE.pattern, count=2, timeout=120)
    after = [float(u) for _, u in ALIVE.findall(text)]
    assert after[-1] > before[-1], (before, after)
    assert "=== nimbus-test ready" not in text, text[-2000:]
    migrations = cloud.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80").json()["migrations"]
    assert migrations[0]["status"] == "completed" and migrations[0]["migration_type"] == "live-migration", migrations
    cloud.cli("server", "delete", "--wait", sid, timeout=180)
    assert qemu_of(sid) == []


@pytest.mark.timeout(600)
def test_cold_migration_copies_the_disk(qemu_nodes):
    cloud = qemu_nodes
    sid = boot_on(cloud, "cold-guest", "node-a")
    cloud.cli("server", "stop", sid)
    cloud.wait_server(sid, "SHUTOFF", timeout=120)
    disk = instance_dir(cloud, "node-a", sid) / "disk"
    # bytes in the guest's overlay that only a copy of this disk has, past the image's file
    # system (the disk is the flavor's 1 GiB, the image 64 MiB)
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)], capture_output=True, text=True, check=True).stdout)
    offset = info["virtual-size"] - (1 << 20)
    assert offset >= 256 << 20, info
    io = f"{offset} 64k"
    out = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0xab {io}", str(disk)], capture_output=True, text=True, check=True).stdout
    assert "wrote 65536/65536" in out, out
    cloud.cli("server", "migrate", sid)
    shown = cloud.wait_server(sid, "VERIFY_RESIZE", timeout=240)
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-b" and shown["OS-EXT-STS:power_state"] == 4, shown
    moved = instance_dir(cloud, "node-b", sid) / "disk"
    out = subprocess.run(["qemu-io", "-r", "-f", "qcow2", "-c", f"read -P 0xab {io}", str(moved)], capture_output=True, text=True).stdout
    assert "read 65536/65536" in out and "Pattern verification failed" not in out, out
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(moved)], capture_output=True, text=True, check=True).stdout
    assert str(cloud.data / "node-b") in info, "the copy names node-b's own base image"
    assert disk.exists(), "node-a keeps its copy until confirm"
    cloud.cli("server", "resize", "confirm", sid)
    cloud.wait_server(sid, "SHUTOFF", timeout=120)
    deadline = time.monotonic() + 60
    while instance_dir(cloud, "node-a", sid).exists() and time.monotonic() < deadline:
        time.sleep(1)
    assert not instance_dir(cloud, "node-a", sid).exists()
    cloud.cli("server", "start", sid)
    cloud.wait_server(sid, "ACTIVE", timeout=120)
    wait_console(cloud, sid, r"=== nimbus-test ready")
    procs = qemu_of(sid)
    assert len(procs) == 1 and str(cloud.data / "node-b") in procs[0], procs
    # a crash dump is an NMI, which the guest's kernel reports on its console
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": None}, version="2.17")
    assert r.status_code == 202, r.text
    wait_console(cloud, sid, r"NMI received", timeout=60)
    cloud.cli("server", "delete", "--wait", sid, timeout=180)
