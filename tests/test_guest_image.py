"""Boot tests of Nimbus' test guest image (scripts/build-test-image.sh).

The image is built (or taken from its cache: $NIMBUS_IMAGE_CACHE, else
~/.cache/nimbus/images) once per module, then booted from its qcow2 disk,
without -kernel, under QEMU's TCG (KVM does not work on these machines; set
NIMBUS_TEST_ACCEL=auto to probe it briefly, or =kvm to force it).  The
serial console is read from QEMU's stdout and must show the ready banner

    === nimbus-test ready: hostname=<h> ip=<addrs> ===

Guests only ever get QEMU's user network with restrict=on: the guest reaches
nothing outside QEMU except explicit forwards (ssh to a loopback port, and a
fake metadata service run here through guestfwd).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "scripts" / "build-test-image.sh"
BANNER = re.compile(rb"=== nimbus-test ready: hostname=(\S*) ip=(\S*) ===")
MARKER = b"nimbus-test login banner"
BOOT_TIMEOUT = 60.0
# The address QEMU's user network gives the guest by default.
SLIRP_GUEST_IP = "10.0.2.15"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_net(*extra: str) -> list[str]:
    """A virtio NIC on QEMU's user network, isolated from the outside."""
    opts = ",".join(("user", "id=n0", "restrict=on") + extra)
    return ["-netdev", opts, "-device", "virtio-net-pci,netdev=n0"]


class Guest:
    """One QEMU process; its serial console (stdout) is collected in a thread."""

    def __init__(self, disk: Path, args: list[str], accel: str):
        self.argv = [
            "qemu-system-x86_64", "-accel", accel, "-m", "256", "-nographic",
            "-drive", f"file={disk},if=virtio,snapshot=on",
        ] + args
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        self._buf = bytearray()
        self._banner: tuple[str, str, float] | None = None
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            with self._lock:
                self._buf.extend(chunk)

    @property
    def console(self) -> bytes:
        with self._lock:
            return bytes(self._buf).replace(b"\r", b"")

    def tail(self, n: int = 3000) -> str:
        return self.console[-n:].decode(errors="replace")

    def wait_for(self, pattern: bytes | re.Pattern, timeout: float, start: int = 0) -> re.Match:
        """The first match of pattern on the console (from byte `start`)."""
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.console, start)
            if m:
                return m
            if self.proc.poll() is not None:
                self._reader.join(2)
                m = rx.search(self.console, start)
                if m:
                    return m
                pytest.fail(f"qemu exited ({self.proc.returncode}) before {rx.pattern!r}; "
                            f"console:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {rx.pattern!r} on the console within {timeout:.0f} s; "
                            f"console:\n{self.tail()}")
            time.sleep(0.1)

    def wait_banner(self) -> tuple[str, str, float]:
        """(hostname, ip, seconds from starting QEMU to the banner)."""
        if self._banner is None:
            m = self.wait_for(BANNER, BOOT_TIMEOUT)
            took = time.monotonic() - self.started
            print(f"\nbanner after {took:.1f} s: {m.group(0).decode()}")
            self._banner = (m.group(1).decode(), m.group(2).decode(), took)
        return self._banner

    def run_on_console(self, command: str, expect: bytes | re.Pattern, timeout: float = 20) -> re.Match:
        """Type a command into the console's root shell; wait for its output."""
        start = len(self.console)
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self.wait_for(expect, timeout, start)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture(scope="module")
def image() -> Path:
    """Build (or reuse) the image; the qcow2 path."""
    subprocess.run(["bash", str(REPO / "scripts" / "install-deps.sh")], check=True, timeout=900)
    out = subprocess.run(["bash", str(BUILD)], check=True, timeout=600,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    paths = {Path(p).suffix: Path(p) for p in out}
    assert set(paths) == {".raw", ".qcow2"}, out
    for p in paths.values():
        assert p.is_file() and p.stat().st_size > 0, p
    return paths[".qcow2"]


@pytest.fixture(scope="module")
def accel(image: Path) -> str:
    want = os.environ.get("NIMBUS_TEST_ACCEL", "tcg")
    if want != "auto":
        return want
    # KVM opens here but guests hang: use it only if a guest gets as far as
    # the kernel within a few seconds.
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    g = Guest(image, ["-nic", "none"], "kvm")
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and g.proc.poll() is None:
            if b"Linux version" in g.console:
                return "kvm"
            time.sleep(0.2)
        return "tcg"
    finally:
        g.stop()


@pytest.fixture(scope="module")
def boot(image: Path, accel: str):
    """boot(args) starts a guest from the image; all are killed at teardown."""
    guests: list[Guest] = []

    def start(args: list[str]) -> Guest:
        g = Guest(image, args, accel)
        guests.append(g)
        return g

    yield start
    for g in guests:
        g.stop()


@pytest.fixture(scope="module")
def keypair(tmp_path_factory) -> tuple[Path, str]:
    """An ed25519 key made with dropbearkey: (private key file, public key line)."""
    key = tmp_path_factory.mktemp("key") / "id_ed25519"
    out = subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    pub = next(line for line in out.splitlines() if line.startswith("ssh-ed25519 "))
    return key, pub.split()[0] + " " + pub.split()[1] + " nimbus-test-key"


def ssh_banner(port: int, timeout: float = 30) -> bytes:
    """The SSH identification line on port (QEMU accepts forwarded
    connections before the guest listens, so retry until one arrives)."""
    deadline = time.monotonic() + timeout
    last = b""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.settimeout(3)
                last = s.recv(256)
                if last.startswith(b"SSH-"):
                    return last
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"no SSH banner on port {port} within {timeout} s (last read {last!r})")


def ssh_run(key: Path, port: int, command: str, home: Path) -> str:
    """Run command in the guest as root over SSH with dropbear's client."""
    env = dict(os.environ, HOME=str(home))
    home.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 30
    while True:
        p = subprocess.run(
            ["dbclient", "-y", "-y", "-i", str(key), "-p", str(port), "root@127.0.0.1", command],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, timeout=30, env=env)
        if p.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert p.returncode == 0, f"ssh failed ({p.returncode}): {p.stderr}"
    return p.stdout


# --------------------------------------------------------------- plain boot

@pytest.fixture(scope="module")
def plain(boot, tmp_path_factory):
    """A guest with a NIC (DHCP from QEMU), no metadata, ssh forwarded, QMP."""
    port = free_port()
    qmp = tmp_path_factory.mktemp("qmp") / "qmp.sock"
    g = boot(user_net(f"hostfwd=tcp:127.0.0.1:{port}-:22") +
             ["-qmp", f"unix:{qmp},server=on,wait=off"])
    g.ssh_port, g.qmp = port, qmp
    return g


def test_boots_from_disk_to_banner(plain):
    hostname, ip, took = plain.wait_banner()
    console = plain.console
    assert b"SeaBIOS" in console and b"Booting from Hard Disk" in console
    assert MARKER in console
    assert b"Run /init as init process" in console
    assert hostname == "nimbus-test"          # no metadata: the default
    assert ip == SLIRP_GUEST_IP               # from DHCP
    assert b"nimbus-init: metadata source: none" in console
    assert b"Kernel panic" not in console
    assert took < BOOT_TIMEOUT


def test_console_has_root_shell(plain):
    plain.wait_banner()
    plain.run_on_console("echo console-$((6*7)) $(id -u)", b"console-42 0")


def test_boot_disk_is_mounted_read_write_at_persist(plain):
    """/ is the initramfs; the boot disk's FAT (label NIMBUSTEST) is at /persist, read-write, so
    what is written there stays on the disk (Tempest's volume scenarios write their timestamps
    there); lsblk lists the disks as Tempest's `get_disks` reads them."""
    plain.wait_banner()
    plain.run_on_console("grep ' /persist ' /proc/mounts; echo mounts-$((2*3))", re.compile(rb"/dev/vda /persist vfat rw[^\n]*\nmounts-6"))
    plain.run_on_console("date > /persist/stamp && sync && cat /persist/stamp >/dev/null && echo wrote-$((3*3))", b"wrote-9")
    plain.run_on_console("lsblk -lb --nodeps | grep -c '^vda ' ; echo disks-$((4*4))", re.compile(rb"1\ndisks-16"))


def test_dropbear_answers_on_forwarded_port(plain):
    plain.wait_banner()
    banner = ssh_banner(plain.ssh_port)
    assert banner.startswith(b"SSH-2.0-dropbear"), banner


def test_acpi_powerdown_stops_guest(plain):
    """The ACPI power button (what a hypervisor's soft stop sends) powers off."""
    plain.wait_banner()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(plain.qmp))
        f = s.makefile("rwb")
        assert b"QMP" in f.readline()
        for cmd in ("qmp_capabilities", "system_powerdown"):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while True:   # skip events (POWERDOWN may come before the answer)
                reply = json.loads(f.readline())
                if "event" not in reply:
                    break
            assert "return" in reply, reply
    try:
        plain.proc.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"guest still running 30 s after system_powerdown:\n{plain.tail()}")
    assert b"reboot: Power down" in plain.console


# -------------------------------------------------------------- config drive

def write_metadata_tree(root: Path, hostname: str, instance: str, pub: str, marker: str) -> None:
    latest = root / "openstack" / "latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_text(json.dumps({
        "uuid": instance, "name": hostname, "hostname": hostname,
        "public_keys": {"k": pub},
        "keys": [{"name": "k", "type": "ssh", "data": pub}],
        "launch_index": 0, "availability_zone": "nova", "project_id": "p",
        "random_seed": secrets.token_urlsafe(48), "devices": [],
        "meta": {"note": "quotes \" and \\ and \u00e9 and {braces}"},
    }, indent=2))
    # The shell has to run this for the marker to appear: 6*7 is computed.
    (latest / "user_data").write_text(f"#!/bin/sh\necho USERDATA-RAN-$((6*7))-{marker}\n")


def make_config_drive(kind: str, tree: Path, out: Path) -> list[str]:
    """A config drive image of tree, labelled config-2; QEMU args to attach it."""
    if kind == "iso9660":
        subprocess.run(["genisoimage", "-quiet", "-o", str(out), "-V", "config-2", "-r", "-J",
                        str(tree)], check=True)
        return ["-drive", f"file={out},media=cdrom,if=ide,readonly=on"]
    subprocess.run(["truncate", "-s", "4M", str(out)], check=True)
    subprocess.run(["mkfs.vfat", "-n", "config-2", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["mmd", "-i", str(out), "::openstack", "::openstack/latest"], check=True)
    files = sorted(str(p) for p in (tree / "openstack" / "latest").iterdir())
    subprocess.run(["mcopy", "-i", str(out)] + files + ["::openstack/latest/"], check=True)
    return ["-drive", f"file={out},if=virtio,format=raw,readonly=on"]


@pytest.mark.parametrize("kind", ["iso9660", "vfat"])
def test_config_drive(kind, boot, keypair, tmp_path):
    key, pub = keypair
    marker = secrets.token_hex(6)
    instance = str(uuid.uuid4())
    write_metadata_tree(tmp_path / "cd", "cfgdrive-test", instance, pub, marker)
    args = make_config_drive(kind, tmp_path / "cd", tmp_path / f"config.{kind}")
    port = None
    if kind == "iso9660":   # a CD-ROM (Nova's default) and a NIC with ssh
        port = free_port()
        args += user_net(f"hostfwd=tcp:127.0.0.1:{port}-:22")
    else:                   # a virtio disk, and no NIC at all
        args += ["-nic", "none"]
    g = boot(args)
    hostname, ip, _ = g.wait_banner()
    console = g.console
    assert hostname == "cfgdrive-test"
    assert b"metadata source: config drive /dev/" in console
    assert f"instance uuid {instance}".encode() in console
    assert b"installed 1 ssh key(s) for root" in console
    ran = console.find(f"USERDATA-RAN-42-{marker}".encode())
    assert ran >= 0, g.tail()
    assert ran < console.find(MARKER), "user-data should run before the banner"
    if port is None:
        assert ip == "none"
        g.run_on_console("sed 's/^/AK: /' /root/.ssh/authorized_keys", re.compile(
            rb"AK: " + re.escape(pub.encode())))
    else:
        assert ip == SLIRP_GUEST_IP
        out = ssh_run(key, port, "hostname; cat /run/nimbus/uuid", tmp_path / "home")
        assert out.split() == ["cfgdrive-test", instance]


# ---------------------------------------------------------- metadata service

RESPONDER = r'''
"""One HTTP exchange on stdin/stdout (QEMU guestfwd runs this per connection)."""
import json, os, sys
root = sys.argv[1]
routes = json.load(open(os.path.join(root, "routes.json")))
line = sys.stdin.buffer.readline().decode("latin-1").split()
while sys.stdin.buffer.readline() not in (b"\r\n", b"\n", b""):
    pass
path = line[1] if len(line) > 1 else "/"
with open(os.path.join(root, "requests.log"), "a") as f:
    f.write(path + "\n")
body = routes.get(path)
status = "200 OK" if body is not None else "404 Not Found"
body = (body if body is not None else "not found\n").encode()
sys.stdout.buffer.write(b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: " + str(len(body)).encode() +
                        b"\r\nConnection: close\r\n\r\n" + body)
sys.stdout.flush()
'''


@pytest.mark.parametrize("flavor", ["openstack", "ec2"])
def test_metadata_service(flavor, boot, keypair, tmp_path):
    """No config drive: the guest asks http://169.254.169.254 (served here)."""
    key, pub = keypair
    marker = secrets.token_hex(6)
    instance = str(uuid.uuid4())
    hostname = f"mds-{flavor}"
    user_data = f"#!/bin/sh\necho USERDATA-RAN-$((6*7))-{marker}\n"
    if flavor == "openstack":
        routes = {
            "/openstack/latest/meta_data.json": json.dumps(
                {"uuid": instance, "hostname": hostname, "public_keys": {"k": pub}}),
            "/openstack/latest/user_data": user_data,
        }
    else:   # an EC2-only service: the OpenStack path is a 404
        routes = {
            "/latest/meta-data/hostname": hostname,
            "/latest/meta-data/instance-id": instance,
            "/latest/meta-data/public-keys/": "0=k",
            "/latest/meta-data/public-keys/0/openssh-key": pub,
            "/latest/user-data": user_data,
        }
    (tmp_path / "routes.json").write_text(json.dumps(routes))
    (tmp_path / "responder.py").write_text(RESPONDER)
    cmd = f"{sys.executable} -I {tmp_path / 'responder.py'} {tmp_path}"
    if " " in str(tmp_path) + sys.executable:
        pytest.skip("guestfwd cmd: cannot take paths with spaces")
    # The guest network is 169.254.0.0/16 so that 169.254.169.254 is on-link
    # and can be a guestfwd address.
    g = boot(user_net("net=169.254.0.0/16", "host=169.254.0.2", "dhcpstart=169.254.0.15",
                      "guestfwd=tcp:169.254.169.254:80-cmd:" + cmd.replace(",", ",,")))
    got_host, ip, _ = g.wait_banner()
    console = g.console
    assert got_host == hostname
    assert ip == "169.254.0.15"
    assert f"metadata source: metadata service http://169.254.169.254 ({flavor})".encode() in console
    assert f"instance uuid {instance}".encode() in console
    assert b"installed 1 ssh key(s) for root" in console
    assert f"USERDATA-RAN-42-{marker}".encode() in console
    requested = (tmp_path / "requests.log").read_text().split()
    if flavor == "openstack":
        assert requested == ["/openstack/latest/meta_data.json", "/openstack/latest/user_data"]
    else:
        assert requested[0] == "/openstack/latest/meta_data.json"
        assert set(routes) <= set(requested)
    g.run_on_console("sed 's/^/AK: /' /root/.ssh/authorized_keys",
                     re.compile(rb"AK: " + re.escape(pub.encode())))


# ---------------------------------------------------------- in-guest parser

JSONFLAT = REPO / "scripts" / "test-image" / "rootfs" / "usr" / "lib" / "nimbus" / "jsonflat.awk"


def jsonflat(text: str) -> subprocess.CompletedProcess:
    """The guest's JSON flattener, run with the same busybox awk."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    return subprocess.run([busybox, "awk", "-f", str(JSONFLAT)], input=text, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


def test_jsonflat_nova_meta_data(image):
    doc = {
        "uuid": "d8e02d56-2648-49a3-bf97-6be8f1204f38",
        "meta": {"x": "a\"b\\c/d\u00e9\n", "role": "web"},
        "public_keys": {"mykey": "ssh-ed25519 AAAAC3Nz test@host", "other key": "ssh-rsa AAAAB3 x"},
        "keys": [{"name": "mykey", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nz test@host"}],
        "hostname": "vm-1.novalocal", "launch_index": 0, "devices": [], "dedicated_cpus": [],
        "network_config": {"content_path": "/content/0000"}, "t": True, "z": None, "n": -1.5e3,
    }
    for text in (json.dumps(doc), json.dumps(doc, indent=4), json.dumps(doc, separators=(",", ":"))):
        p = jsonflat(text)
        assert p.returncode == 0, p.stderr
        flat = dict(line.split("\t", 1) for line in p.stdout.splitlines())
        assert flat["uuid"] == doc["uuid"]
        assert flat["hostname"] == "vm-1.novalocal"
        assert flat["public_keys/mykey"] == "ssh-ed25519 AAAAC3Nz test@host"
        assert flat["public_keys/other key"] == "ssh-rsa AAAAB3 x"
        assert flat["keys/0/data"] == "ssh-ed25519 AAAAC3Nz test@host"
        assert flat["meta/x"] == 'a"b\\c/d? '
        assert flat["launch_index"] == "0" and flat["t"] == "true"
        assert "z" not in flat and "devices" not in flat


@pytest.mark.parametrize("bad", ['{"a": [1, 2', '{"a" 1}', '{"a": "x} ', '{"a": 1} junk', '{"a": tru}'])
def test_jsonflat_rejects_malformed(bad, image):
    p = jsonflat(bad)
    assert p.returncode != 0, p.stdout
    assert "jsonflat:" in p.stderr
