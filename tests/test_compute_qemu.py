"""Real servers: the test guest booted by the QEMU driver (TCG) through the openstack CLI, as a
user would — its banner with the hostname and the injected key in `console log show`, power
actions with their states and power states, and what survives a crash: `kill -9` of Nimbus
leaves the guests running and re-adopted, `kill -9` of a QEMU makes the server SHUTOFF (Nova's
power-state sync), and a deleted server leaves no QEMU behind.

Expected behaviour: nova/compute/manager.py (power-state sync: _sync_instance_power_state),
nova/api/openstack/compute/servers.py, the libvirt driver's console log."""

import os
import re
import signal
import subprocess
import time

import pytest

from compute_support import ConsoleSocket, console, wait_console, build_test_image, start_compute_cloud, stop_compute_cloud
from nimbus_launcher import REPO

BANNER = re.compile(r"=== nimbus-test ready: hostname=(\S+) ")


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory):
    # The default cache (what `make run` uses): built once per machine.
    build_test_image()
    # A long data dir: the monitor sockets cannot live next to the disks (107-byte limit).
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("qemu"), "qemu", {"compute": {"agent_interval_s": "2"}}, long_data_dir=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = cloud.cli("image", "list", "-f", "json")
            if any(r["Name"] == "nimbus-test" and r["Status"] == "active" for r in rows):
                break
            time.sleep(1)
        else:
            pytest.fail("nimbus-test was not registered")
        cloud.data = data
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)



def _public_key(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return tmp_path / "id_ed25519.pub"


def qemu_pids(data):
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*{data}"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def qemu_pid_of(data, sid):
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*-uuid {sid}"], capture_output=True, text=True).stdout.split()
    pids = [int(p) for p in out if int(p) in qemu_pids(data)]
    assert len(pids) == 1, (sid, out)
    return pids[0]


def test_boot_the_test_guest_to_its_banner_with_the_key(qemu_cloud, tmp_path):
    cloud = qemu_cloud
    key = tmp_path / "k.pem"
    cloud.cli("keypair", "create", "--private-key", str(key), "k1")
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--key-name", "k1", "--no-network", "--wait",
                  "guest-one", "-f", "json", timeout=240)
    assert s["status"] == "ACTIVE" and s["OS-EXT-STS:power_state"] in ("Running", 1), s
    text = wait_console(cloud, s["id"], r"=== nimbus-test ready: hostname=guest-one ")
    assert "ssh keys for root: 1" in text, text[-2000:]
    assert "metadata: config-drive" in text or "config" in text.split("metadata:")[1].split("\n")[0], text[-2000:]
    assert s["id"] in text, "the guest logs the instance uuid from meta_data.json"
    # `--lines`: the console's tail only
    tail = cloud.cli("console", "log", "show", "--lines", "3", s["id"]).stdout
    assert 1 <= len(tail.strip().splitlines()) <= 3, tail

    # stop (ACPI shutdown) and start: a second boot, a second banner
    cloud.cli("server", "stop", s["id"])
    shown = cloud.wait_server(s["id"], "SHUTOFF", timeout=120)
    assert shown["OS-EXT-STS:power_state"] == 4, shown
    assert qemu_pids(cloud.data) == [], "a stopped server has no QEMU"
    cloud.cli("server", "start", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=120)
    wait_console(cloud, s["id"], BANNER.pattern, count=2)

    # pause / unpause, suspend / resume: the same QEMU keeps the guest
    pid = qemu_pid_of(cloud.data, s["id"])
    cloud.cli("server", "pause", s["id"])
    assert cloud.wait_server(s["id"], "PAUSED")["OS-EXT-STS:power_state"] == 3
    cloud.cli("server", "unpause", s["id"])
    assert cloud.wait_server(s["id"], "ACTIVE")["OS-EXT-STS:power_state"] == 1
    assert qemu_pid_of(cloud.data, s["id"]) == pid
    cloud.cli("server", "suspend", s["id"])
    assert cloud.wait_server(s["id"], "SUSPENDED", timeout=120)["OS-EXT-STS:power_state"] == 4
    cloud.cli("server", "resume", s["id"])
    assert cloud.wait_server(s["id"], "ACTIVE", timeout=120)["OS-EXT-STS:power_state"] == 1

    # hard reboot: a third boot
    cloud.cli("server", "reboot", "--hard", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=120)
    wait_console(cloud, s["id"], BANNER.pattern, count=3)

    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)
    assert qemu_pids(cloud.data) == []
    assert not (cloud.data / "compute" / "instances" / s["id"]).exists()


def test_kill_9_of_nimbus_leaves_guests_running_and_readopted(qemu_cloud):
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "survivor",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], r"=== nimbus-test ready: hostname=survivor ")
    pid = qemu_pid_of(cloud.data, s["id"])
    cloud.nimbus.kill()
    time.sleep(1)
    assert os.path.exists(f"/proc/{pid}"), "the guest outlives Nimbus"
    cloud.nimbus.start(timeout=60)
    shown = cloud.wait_server(s["id"], "ACTIVE")
    assert shown["OS-EXT-STS:power_state"] == 1, shown
    assert qemu_pid_of(cloud.data, s["id"]) == pid, "the same QEMU, re-adopted, not a new boot"
    # the adopted guest still obeys: stop works
    cloud.cli("server", "stop", s["id"])
    cloud.wait_server(s["id"], "SHUTOFF", timeout=120)
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)


def test_kill_9_of_qemu_makes_the_server_shutoff(qemu_cloud):
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "victim",
                  "-f", "json", timeout=240)
    pid = qemu_pid_of(cloud.data, s["id"])
    os.kill(pid, signal.SIGKILL)
    shown = cloud.wait_server(s["id"], "SHUTOFF", timeout=60)
    assert shown["OS-EXT-STS:power_state"] == 4 and shown["OS-EXT-STS:vm_state"] == "stopped", shown
    cloud.cli("server", "start", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=120)
    wait_console(cloud, s["id"], r"=== nimbus-test ready: hostname=victim ")
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)


def test_snapshot_of_a_running_guest_boots_as_a_new_server(qemu_cloud):
    """createImage of a running guest (QEMU's blockdev-backup while it runs), uploaded as a
    qcow2 without a backing file; a server booted from the snapshot reaches its banner."""
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "origin",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], r"=== nimbus-test ready: hostname=origin ")
    pid = qemu_pid_of(cloud.data, s["id"])
    cloud.cli("server", "image", "create", "--name", "origin-snap", "--wait", s["id"], timeout=600)
    image = cloud.cli("image", "show", "origin-snap", "-f", "json")
    assert image["status"] == "active" and image["disk_format"] == "qcow2", image
    assert image["properties"]["image_type"] == "snapshot" and image["properties"]["instance_uuid"] == s["id"], image
    assert qemu_pid_of(cloud.data, s["id"]) == pid, "the guest kept running through the snapshot"
    assert cloud.wait_server(s["id"], "ACTIVE")["OS-EXT-STS:power_state"] == 1
    child = cloud.cli("server", "create", "--image", "origin-snap", "--flavor", "m1.nano", "--no-network", "--wait", "offspring",
                      "-f", "json", timeout=240)
    wait_console(cloud, child["id"], r"=== nimbus-test ready: hostname=offspring ")
    for sid in (s["id"], child["id"]):
        cloud.cli("server", "delete", "--wait", sid, timeout=180)
    cloud.cli("image", "delete", "origin-snap")


def qemu_memory_of(data, sid):
    cmdline = open(f"/proc/{qemu_pid_of(data, sid)}/cmdline", "rb").read().split(b"\0")
    return int(cmdline[cmdline.index(b"-m") + 1])


@pytest.mark.timeout(900)
def test_resize_revert_confirm_and_rebuild_of_a_real_guest(qemu_cloud, tmp_path):
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "shape-shifter",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern)
    assert qemu_memory_of(cloud.data, s["id"]) == 128
    cloud.cli("server", "resize", "--flavor", "cirros256", s["id"])
    cloud.wait_server(s["id"], "VERIFY_RESIZE", timeout=180)
    assert qemu_memory_of(cloud.data, s["id"]) == 256
    wait_console(cloud, s["id"], BANNER.pattern, count=2)
    cloud.cli("server", "resize", "revert", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=180)
    assert qemu_memory_of(cloud.data, s["id"]) == 128
    wait_console(cloud, s["id"], BANNER.pattern, count=3)
    cloud.cli("server", "resize", "--flavor", "m1.micro", s["id"])
    cloud.wait_server(s["id"], "VERIFY_RESIZE", timeout=180)
    cloud.cli("server", "resize", "confirm", s["id"])
    shown = cloud.wait_server(s["id"], "ACTIVE", timeout=180)
    assert shown["flavor"]["original_name"] == "m1.micro" and qemu_memory_of(cloud.data, s["id"]) == 192
    assert not (cloud.data / "compute" / "instances" / s["id"] / "resize-backup").exists()
    assert "ssh keys for root: 1" not in console(cloud, s["id"])
    # rebuild (2.54: with a key pair): a new root disk from the image and a new config drive;
    # as in Nova the display name changes and the hostname does not
    cloud.cli("keypair", "create", "--public-key", str(_public_key(tmp_path)), "rebuild-key")
    cloud.cli("--os-compute-api-version", "2.54", "server", "rebuild", "--image", "nimbus-test", "--name", "reborn",
              "--key-name", "rebuild-key", s["id"])
    shown = cloud.wait_server(s["id"], "ACTIVE", timeout=180)
    assert shown["name"] == "reborn"
    text = wait_console(cloud, s["id"], r"ssh keys for root: 1")
    assert BANNER.findall(text)[-1] == "shape-shifter"
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)


@pytest.mark.timeout(600)
def test_shelve_and_unshelve_a_real_guest(qemu_cloud):
    """The guest's disk goes into the `<name>-shelved` image, the QEMU process and the instance
    directory go away (offloaded), and unshelve boots the guest again from that image."""
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "shelf-life",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern)
    cloud.cli("server", "shelve", s["id"])
    cloud.wait_server(s["id"], "SHELVED_OFFLOADED", timeout=240)
    assert subprocess.run(["pgrep", "-f", f"qemu-system.*-uuid {s['id']}"], capture_output=True).returncode == 1   # no QEMU left
    assert not (cloud.data / "compute" / "instances" / s["id"]).exists()
    image = cloud.cli("image", "show", "shelf-life-shelved", "-f", "json")
    assert image["status"] == "active" and image["size"] > 0, image
    cloud.cli("server", "unshelve", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=240)
    text = wait_console(cloud, s["id"], BANNER.pattern)
    assert BANNER.findall(text)[-1] == "shelf-life"
    assert cloud.cli("image", "list", "--name", "shelf-life-shelved", "-f", "json") == []
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)


@pytest.mark.timeout(600)
def test_rescue_boots_the_rescue_disk_with_the_guest_disk_second(qemu_cloud):
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "rescue-me",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern)
    cloud.cli("server", "rescue", s["id"])
    cloud.wait_server(s["id"], "RESCUE", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern, count=2)
    cmdline = open(f"/proc/{qemu_pid_of(cloud.data, s['id'])}/cmdline", "rb").read().split(b"\0")
    drives = [a for a in cmdline if a.startswith(b"{") and b'"node-name"' in a]
    assert b"disk.rescue" in drives[0] and b"/disk\"" in drives[1], drives   # rescue boots, own disk second
    cloud.cli("server", "unrescue", s["id"])
    cloud.wait_server(s["id"], "ACTIVE", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern, count=3)
    assert b"disk.rescue" not in open(f"/proc/{qemu_pid_of(cloud.data, s['id'])}/cmdline", "rb").read()
    assert not (cloud.data / "compute" / "instances" / s["id"] / "disk.rescue").exists()
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)


def test_serial_and_vnc_consoles_of_a_real_guest(qemu_cloud):
    """The interactive consoles through the proxy: the guest's root shell on its serial port
    answers a command (and the console log keeps recording meanwhile), and QEMU's VNC server
    completes the RFB handshake Tempest's test_novnc makes."""
    cloud = qemu_cloud
    s = cloud.cli("server", "create", "--image", "nimbus-test", "--flavor", "m1.nano", "--no-network", "--wait", "consoles",
                  "-f", "json", timeout=240)
    wait_console(cloud, s["id"], BANNER.pattern)
    url = cloud.cli("console", "url", "show", "--serial", s["id"], "-f", "json")["url"]
    ws = ConsoleSocket(url, protocol=None)
    try:
        assert ws.status == 101, ws.response
        ws.send(b"echo $((6*7))-from-the-websocket\n")
        got = b""
        deadline = time.monotonic() + 60
        while b"42-from-the-websocket" not in got and time.monotonic() < deadline:
            data = ws.receive_data()
            assert data is not None, got
            got += data
        assert b"42-from-the-websocket" in got, got
    finally:
        ws.close()
    assert "42-from-the-websocket" in console(cloud, s["id"]), "the log records while a client is connected"
    url = cloud.cli("console", "url", "show", "--novnc", s["id"], "-f", "json")["url"]
    ws = ConsoleSocket(url)
    try:
        assert ws.status == 101, ws.response
        init = ws.rfb_handshake()
        assert b"QEMU" in init and s["id"].encode() in init, init
    finally:
        ws.close()
    cloud.cli("server", "delete", "--wait", s["id"], timeout=180)

