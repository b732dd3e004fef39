"""Boot from volume on real guests: the openstack CLI boots the test guest with
`--boot-from-volume` (a volume made from the image, its root disk served by the storage node over
NBD), the guest writes to its root disk, the server is deleted (the volume stays: no
delete-on-termination), a second server booted from the same volume reads the bytes back, and a
rebuild that re-images the root volume (2.93) leaves only the image's bytes.

Expected behaviour: nova/compute/manager.py `_prep_block_device` (volumes made, attached, the
root from the volume), python-openstackclient `server create --boot-from-volume`."""

import os
import re
import time

import pytest

from compute_support import console, wait_console
from test_compute_qemu import BANNER
from test_volume_attach_qemu import qemu_cloud, shell, wait_volume  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")

TEXT = "nimbus-root-volume-data"


def wait_status(cloud, sid: str, status: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = cloud.cli("server", "show", sid, "-f", "json")
        if s["status"] == status and not s.get("OS-EXT-STS:task_state"):
            return s
        assert s["status"] != "ERROR" and time.monotonic() < deadline, s
        time.sleep(2)


def test_a_guest_boots_from_a_volume_that_keeps_its_data(qemu_cloud, tmp_path):
    cloud = qemu_cloud
    started = time.monotonic()
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--boot-from-volume", "1", "--flavor", "m1.nano", "--no-network",
                  "--wait", "bfv-writer", "-f", "json", timeout=300)
    sid = s["id"]
    print(f"boot from a new volume: ACTIVE after {time.monotonic() - started:.1f} s")
    wait_console(cloud, sid, BANNER.pattern)
    shown = cloud.cli("server", "show", sid, "-f", "json")
    [attached] = shown["volumes_attached"]
    vid = attached["id"]
    v = wait_volume(cloud, vid, "in-use")
    assert str(v["bootable"]).lower() == "true" and v["attachments"][0]["device"] == "/dev/vda"
    # The guest's first disk is the volume (its serial is the volume id), 1 GiB.
    out = shell(cloud, sid, "cat /sys/block/vda/serial; echo; cat /sys/block/vda/size; echo disk-$((6*7))", "disk-42")
    assert vid[:20] in out and "2097152" in out, out
    # Bytes written past the image's end, flushed; then the server goes and the volume stays.
    shell(cloud, sid, f"printf {TEXT} | dd of=/dev/vda bs=1M seek=512 conv=fsync 2>/dev/null; sync; echo wrote-$((2+3))", "wrote-5")
    cloud.cli("server", "delete", "--wait", sid, timeout=240)
    v = wait_volume(cloud, vid, "available")
    assert v["attachments"] == []
    # A second server boots from the same volume (the CLI's --volume) and reads them back.
    sid2 = cloud.cli("server", "create", "--volume", vid, "--flavor", "m1.nano", "--no-network", "--wait", "bfv-reader",
                     "-f", "json", timeout=300)["id"]
    wait_console(cloud, sid2, BANNER.pattern)
    out = shell(cloud, sid2, "dd if=/dev/vda bs=1M skip=512 count=1 2>/dev/null | head -c 23; echo; echo read-$((4+5))", "read-9")
    assert TEXT in out, out
    # Rebuilt with the root volume re-imaged (2.93, the CLI's --reimage-boot-volume): the guest
    # boots again from the same volume, which holds the image's bytes only.
    started = time.monotonic()
    cloud.cli("--os-compute-api-version", "2.93", "server", "rebuild", "--image", "nimbus-test", "--reimage-boot-volume", "--wait", sid2,
              timeout=300)
    print(f"rebuild with the root volume re-imaged: ACTIVE after {time.monotonic() - started:.1f} s")
    wait_console(cloud, sid2, BANNER.pattern)
    out = shell(cloud, sid2, "cat /sys/block/vda/serial; echo; dd if=/dev/vda bs=1M skip=512 count=1 2>/dev/null | head -c 23 | od -An -c | head -2; echo reread-$((5+6))",
                "reread-11")
    assert vid[:20] in out and TEXT not in out and "\\0" in out, out
    # Rescued (2.87, a stable-device rescue: the image says where the rescue disk goes): the guest
    # boots the rescue disk with its root volume beside it, and boots from the volume again after.
    test_image = cloud.cli("image", "show", "nimbus-test", "-f", "json")
    cloud.cli("image", "save", "--file", str(tmp_path / "rescue.img"), "nimbus-test")
    rescue_image = cloud.cli("image", "create", "--file", str(tmp_path / "rescue.img"), "--disk-format", test_image["disk_format"],
                             "--container-format", "bare", "--property", "hw_rescue_bus=virtio", "--property", "hw_rescue_device=disk",
                             "bfv-rescue", "-f", "json", timeout=300)["id"]
    banners = len(re.findall(BANNER.pattern, console(cloud, sid2)))
    cloud.cli("--os-compute-api-version", "2.87", "server", "rescue", "--image", rescue_image, sid2)
    assert wait_status(cloud, sid2, "RESCUE")["OS-EXT-STS:vm_state"] == "rescued"
    wait_console(cloud, sid2, BANNER.pattern, count=banners + 1)
    out = shell(cloud, sid2, "cat /sys/block/vda/serial; echo; cat /sys/block/vdb/serial; echo; echo rescued-$((3+4))", "rescued-7")
    # vda is the rescue disk (no serial), vdb the root volume (its serial is the volume id).
    lines = [line.strip() for line in out.split("rescued-$((3+4))")[-1].splitlines()]
    at = lines.index("rescued-7")
    assert lines[at - 1] == vid[:20] and lines[at - 2] == "", out
    cloud.cli("--os-compute-api-version", "2.87", "server", "unrescue", sid2)
    wait_status(cloud, sid2, "ACTIVE")
    wait_console(cloud, sid2, BANNER.pattern, count=banners + 2)
    out = shell(cloud, sid2, "cat /sys/block/vda/serial; echo; echo unrescued-$((4+4))", "unrescued-8")
    assert vid[:20] in out, out
    cloud.cli("image", "delete", rescue_image)
    cloud.cli("server", "delete", "--wait", sid2, timeout=240)
    wait_volume(cloud, vid, "available")
    cloud.cli("volume", "delete", vid)
