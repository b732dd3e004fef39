"""Volumes on real guests: the test guest booted by the QEMU driver (TCG), a volume attached with
the openstack CLI (`server add volume`), written inside the guest through its serial console,
detached, attached to a second guest and read back there; the storage node's file holds the bytes
in between. Deleting a server detaches its volumes.

Expected behaviour: nova/api/openstack/compute/volumes.py (VolumeAttachmentController),
nova/compute/manager.py attach/detach with Cinder's new attach flow (attachment create, update
with the connector, complete; delete on detach)."""

import os
import subprocess
import time

import pytest

from compute_support import ConsoleSocket, build_test_image, start_compute_cloud, stop_compute_cloud, wait_console
from test_compute_qemu import BANNER

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")

TEXT = "nimbus-volume-data"


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory):
    build_test_image()
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("vq"), "qemu", {"compute": {"agent_interval_s": "2"}}, long_data_dir=True)
    try:
        deadline = time.monotonic() + 120
        while not any(r["Name"] == "nimbus-test" and r["Status"] == "active" for r in cloud.cli("image", "list", "-f", "json")):
            assert time.monotonic() < deadline, "nimbus-test was not registered"
            time.sleep(1)
        cloud.data = data
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)


def shell(cloud, sid: str, command: str, marker: str, timeout: float = 90) -> str:
    """Runs `command` in the guest's root shell on its serial console; returns the output up to
    `marker` (which the command must print)."""
    url = cloud.cli("console", "url", "show", "--serial", sid, "-f", "json")["url"]
    ws = ConsoleSocket(url, protocol=None)
    try:
        assert ws.status == 101, ws.response
        ws.send(command.encode() + b"\n")
        got = b""
        deadline = time.monotonic() + timeout
        while marker.encode() not in got.split(command.encode())[-1] and time.monotonic() < deadline:
            data = ws.receive_data()
            assert data is not None, got
            got += data
        out = got.decode(errors="replace")
        assert marker in out.split(command)[-1], out
        return out.split(command)[-1]
    finally:
        ws.close()


def wait_volume(cloud, vid: str, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        v = cloud.cli("volume", "show", vid, "-f", "json")
        if v["status"] == status:
            return v
        assert not v["status"].startswith("error") and time.monotonic() < deadline, v
        time.sleep(1)


def volume_file(cloud, vid: str) -> str:
    return str(cloud.data / "volumes" / f"volume-{vid}.qcow2")


def test_a_volume_written_in_one_guest_is_read_in_another(qemu_cloud):
    cloud = qemu_cloud
    servers = [cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", name,
                         "-f", "json", timeout=300)["id"] for name in ("vol-writer", "vol-reader")]
    for sid in servers:
        wait_console(cloud, sid, BANNER.pattern)
    vid = cloud.cli("volume", "create", "--size", "1", "shared-data", "-f", "json")["id"]
    wait_volume(cloud, vid, "available")
    # Attach: the guest's kernel finds a 1 GiB virtio disk.
    cloud.cli("server", "add", "volume", servers[0], vid, "-f", "json")
    v = wait_volume(cloud, vid, "in-use")
    assert v["attachments"][0]["server_id"] == servers[0] and v["attachments"][0]["device"] == "/dev/vdb"
    shown = cloud.cli("server", "show", servers[0], "-f", "json")
    assert [a["id"] for a in shown["volumes_attached"]] == [vid]
    out = shell(cloud, servers[0], "cat /sys/block/vdb/size; cat /sys/block/vdb/serial; echo size-$((6*7))", "size-42")
    assert "2097152" in out and vid[:20] in out, out
    # Write, flush, detach: the bytes are in the storage node's file.
    shell(cloud, servers[0], f"printf {TEXT} | dd of=/dev/vdb bs=512 seek=100 conv=fsync 2>/dev/null; sync; echo wrote-$((2+3))",
          "wrote-5")
    cloud.cli("server", "remove", "volume", servers[0], vid)
    wait_volume(cloud, vid, "available")
    assert shell(cloud, servers[0], "ls /sys/block; echo listed-$((3+4))", "listed-7").count("vdb") == 0
    dump = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 51200 32", volume_file(cloud, vid)],
                          capture_output=True, text=True).stdout
    assert " ".join(f"{b:02x}" for b in TEXT[:16].encode()) in dump, dump
    # The second guest reads them.
    cloud.cli("server", "add", "volume", servers[1], vid, "-f", "json")
    wait_volume(cloud, vid, "in-use")
    out = shell(cloud, servers[1], "dd if=/dev/vdb bs=512 skip=100 count=1 2>/dev/null | head -c 18; echo; echo read-$((4+5))", "read-9")
    assert TEXT in out, out
    # Deleting the server detaches the volume; the storage daemon stops with its last export.
    cloud.cli("server", "delete", "--wait", *servers, timeout=240)
    v = wait_volume(cloud, vid, "available")
    assert v["attachments"] == []
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", f"qemu-storage-daemon .*{cloud.nimbus.storage_run_dir}/"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the storage daemon kept running"
        time.sleep(0.5)
    cloud.cli("volume", "delete", vid)


def test_an_attached_volume_extended_grows_in_the_guest(qemu_cloud):
    """`openstack volume set --size` on an attached volume (Cinder 3.42): the storage node grows
    the export, Nova's `volume-extended` event grows the guest's disk (a new NBD connection under
    the raw node, `block_resize`), and the guest's kernel sees the new size while the disk stays
    attached; bytes written before the extend read back, and the new end is writable. Writes
    the guest makes while the export restarts wait for the reconnect and land."""
    cloud = qemu_cloud
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "vol-grow",
                    "-f", "json", timeout=300)["id"]
    wait_console(cloud, sid, BANNER.pattern)
    vid = cloud.cli("volume", "create", "--size", "1", "grow-data", "-f", "json")["id"]
    wait_volume(cloud, vid, "available")
    cloud.cli("server", "add", "volume", sid, vid, "-f", "json")
    wait_volume(cloud, vid, "in-use")
    shell(cloud, sid, f"printf {TEXT} | dd of=/dev/vdb bs=512 seek=100 conv=fsync 2>/dev/null; echo wrote-$((2+3))", "wrote-5")
    assert "2097152" in shell(cloud, sid, "cat /sys/block/vdb/size; echo size-$((6*7))", "size-42")
    # A writer in the guest runs across the extend (a loop of synced writes; a failed one says so, in words the
    # command text does not hold: bash echoes a finished job's command line into the console).
    shell(cloud, sid, "(for i in $(seq 1 40); do dd if=/dev/zero of=/dev/vdb bs=64k count=1 seek=$((1000+i)) conv=fsync 2>/dev/null"
                      " || echo WRITE-FAIL''ED; sleep 0.1; done; echo writer-done) > /tmp/w.log 2>&1 & echo started-$((1+1))", "started-2")
    cloud.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", vid)
    v = wait_volume(cloud, vid, "in-use")
    deadline = time.monotonic() + 60
    while v["size"] != 2:
        assert time.monotonic() < deadline, v
        time.sleep(1)
        v = wait_volume(cloud, vid, "in-use")
    deadline = time.monotonic() + 90
    while "4194304" not in shell(cloud, sid, "cat /sys/block/vdb/size; echo size-$((6*7))", "size-42"):
        assert time.monotonic() < deadline, "the guest does not see the new size"
        time.sleep(2)
    deadline = time.monotonic() + 60
    while "writer-done" not in (log := shell(cloud, sid, "cat /tmp/w.log; echo log-$((5+6))", "log-11")):
        assert time.monotonic() < deadline, log
        time.sleep(2)
    assert "WRITE-FAILED" not in log, log
    shell(cloud, sid, f"printf {TEXT} | dd of=/dev/vdb bs=1M seek=2000 conv=fsync 2>/dev/null; echo wrote-$((3+3))", "wrote-6")
    out = shell(cloud, sid, "echo got-$(dd if=/dev/vdb bs=512 skip=100 count=1 2>/dev/null | head -c 18);"
                            " echo got-$(dd if=/dev/vdb bs=1M skip=2000 count=1 2>/dev/null | head -c 18); echo read-$((4+5))", "read-9")
    assert out.count("got-" + TEXT) == 2, out
    cloud.cli("server", "delete", "--wait", sid, timeout=240)
    wait_volume(cloud, vid, "available")
    info = subprocess.run(["qemu-img", "info", "--output=json", volume_file(cloud, vid)], capture_output=True, text=True).stdout
    assert '"virtual-size": 2147483648' in info, info
    cloud.cli("volume", "delete", vid)


def test_a_multiattach_volume_is_shared_by_two_running_guests(qemu_cloud):
    """A volume of a type with `multiattach="<is> True"` attaches to two running guests at once
    (Nova 2.60; before it, Nova's 400): what one guest writes and flushes the other reads; the
    volume stays `in-use` while either has it, and each detach takes it from that guest only."""
    cloud = qemu_cloud
    servers = [cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", name,
                         "-f", "json", timeout=300)["id"] for name in ("multi-a", "multi-b")]
    for sid in servers:
        wait_console(cloud, sid, BANNER.pattern)
    if not any(t["Name"] == "multi" for t in cloud.cli("volume", "type", "list", "-f", "json")):
        cloud.cli("volume", "type", "create", "--property", "multiattach=<is> True", "multi")
    vid = cloud.cli("volume", "create", "--size", "1", "--type", "multi", "shared-multi", "-f", "json")["id"]
    v = wait_volume(cloud, vid, "available")
    assert v["multiattach"] is True, v
    old = cloud.cli("--os-compute-api-version", "2.59", "server", "add", "volume", servers[0], vid, check=False)
    assert old.returncode != 0 and "2.60" in old.stderr, old.stderr
    for sid in servers:
        cloud.cli("--os-compute-api-version", "2.60", "server", "add", "volume", sid, vid, "-f", "json")
        wait_volume(cloud, vid, "in-use")
    v = cloud.cli("volume", "show", vid, "-f", "json")
    assert sorted(a["server_id"] for a in v["attachments"]) == sorted(servers), v["attachments"]
    shell(cloud, servers[0], f"printf {TEXT}-shared | dd of=/dev/vdb bs=512 seek=8 conv=fsync 2>/dev/null; echo wrote-$((2+3))", "wrote-5")
    out = shell(cloud, servers[1], "echo got-$(dd if=/dev/vdb bs=512 skip=8 count=1 iflag=direct 2>/dev/null | head -c 25); echo read-$((4+5))",
                "read-9")
    assert f"got-{TEXT}-shared" in out, out
    cloud.cli("server", "remove", "volume", servers[0], vid)
    deadline = time.monotonic() + 60
    while len((v := cloud.cli("volume", "show", vid, "-f", "json"))["attachments"]) != 1:
        assert time.monotonic() < deadline, v
        time.sleep(1)
    assert v["status"] == "in-use" and v["attachments"][0]["server_id"] == servers[1], v
    out = shell(cloud, servers[1], "echo got-$(dd if=/dev/vdb bs=512 skip=8 count=1 iflag=direct 2>/dev/null | head -c 25); echo read-$((5+5))",
                "read-10")
    assert f"got-{TEXT}-shared" in out, out
    cloud.cli("server", "remove", "volume", servers[1], vid)
    wait_volume(cloud, vid, "available")
    cloud.cli("server", "delete", "--wait", *servers, timeout=240)
    cloud.cli("volume", "delete", vid)


def test_front_end_qos_limits_the_guests_disk(qemu_cloud):
    """A volume type with front-end QoS specs (`total_bytes_sec` 1 MiB/s): the connection carries
    them, the compute node applies them to the guest's disk (QMP `block_set_io_throttle`, as
    libvirt's `iotune`), and 6 MiB written with O_DIRECT inside the guest take about 5 s or more
    (unthrottled: well under a second), on hot-plug and again after a hard reboot (the volume on
    the command line)."""
    cloud = qemu_cloud
    sid = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "vol-qos",
                    "-f", "json", timeout=300)["id"]
    wait_console(cloud, sid, BANNER.pattern)
    qos = cloud.cli("volume", "qos", "create", "--consumer", "front-end", "--property", "total_bytes_sec=1048576", "slow-qos", "-f", "json")
    type_id = cloud.cli("volume", "type", "create", "slow-type", "-f", "json")["id"]
    cloud.cli("volume", "qos", "associate", qos["id"], type_id)
    vid = cloud.cli("volume", "create", "--size", "1", "--type", "slow-type", "slow-data", "-f", "json")["id"]
    wait_volume(cloud, vid, "available")
    cloud.cli("server", "add", "volume", sid, vid, "-f", "json")
    wait_volume(cloud, vid, "in-use")

    def seconds_to_write() -> int:
        out = shell(cloud, sid, "s=$(date +%s); dd if=/dev/zero of=/dev/vdb bs=1M count=6 oflag=direct 2>/dev/null; e=$(date +%s);"
                                " echo took-$((e-s))-s done-$((7*8))", "done-56", timeout=120)
        import re
        return int(re.search(r"took-(\d+)-s", out).group(1))

    took = seconds_to_write()
    assert took >= 4, f"6 MiB at 1 MiB/s took {took} s"
    cloud.cli("server", "reboot", "--hard", "--wait", sid, timeout=300)
    wait_console(cloud, sid, BANNER.pattern, count=2)
    took = seconds_to_write()
    assert took >= 4, f"after a hard reboot, 6 MiB at 1 MiB/s took {took} s"
    cloud.cli("server", "delete", "--wait", sid, timeout=240)
    wait_volume(cloud, vid, "available")
    cloud.cli("volume", "delete", vid)
    cloud.cli("volume", "qos", "disassociate", "--volume-type", type_id, qos["id"])
    cloud.cli("volume", "type", "delete", type_id)
    cloud.cli("volume", "qos", "delete", qos["id"])
