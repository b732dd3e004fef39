"""Shared helpers for the compute tests (tests/test_compute_*.py).

`compute_cloud(driver=...)` starts a separate `nimbus up` whose in-process compute node uses the
given virt driver: `fake` (instant, in memory: API behaviour, scheduling, quotas) or `qemu` (real
guests under TCG, booting the project's test image, which the fixture builds first and nimbus
registers as the public image `nimbus-test`). Its data dir is short, because QEMU's unix socket
paths are limited to 107 bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from conftest import unique
from nimbus_launcher import REPO, Nimbus, random_password
from object_support import write_config

OPENSTACK = str(REPO / ".venv" / "bin" / "openstack")


def build_test_image(cache: Path | None = None) -> Path:
    """Builds the test guest image (or finds it in the cache: `cache`, else the default one
    that `make run` and a started nimbus use)."""
    args = ["bash", str(REPO / "scripts" / "build-test-image.sh")] + ([str(cache)] if cache else [])
    out = subprocess.run(args, check=True, timeout=900, stdout=subprocess.PIPE, text=True).stdout.split()
    return next(Path(p) for p in out if p.endswith(".qcow2"))


class ComputeCloud:
    """A running cloud with one compute node, driven through the openstack CLI and requests."""

    def __init__(self, nimbus: Nimbus):
        self.nimbus = nimbus
        self.clouds_yaml = nimbus.clouds_yaml
        self.base_url = nimbus.base_url
        self.admin_password = nimbus.read_password("admin")

    def cli(self, *args, cloud="nimbus", check=True, timeout=120):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        proc = subprocess.run([OPENSTACK, "--os-cloud", cloud, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)
        if not check:
            return proc
        assert proc.returncode == 0, f"openstack {' '.join(map(str, args))}: {proc.stderr}"
        if "-f" in args and "json" in args:
            return json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc

    def token(self, user="admin", password=None, project="admin"):
        body = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"id": "default"}, "password": password or self.admin_password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        r = requests.post(f"{self.base_url}/identity/v3/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def nova(self, method, path, token=None, version="2.96", **kw):
        headers = {"X-Auth-Token": token or self.token(), "OpenStack-API-Version": f"compute {version}"}
        return requests.request(method, f"{self.base_url}/compute/v2.1{path}", headers=headers, timeout=60, **kw)

    def neutron(self, method, path, token=None, **kw):
        headers = {"X-Auth-Token": token or self.token()}
        return requests.request(method, f"{self.base_url}/network/v2.0{path}", headers=headers, timeout=60, **kw)

    def wait_server(self, server_id, status, timeout=180, token=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.nova("GET", f"/servers/{server_id}", token=token)
            if r.status_code == 404 and status == "DELETED":
                return None
            last = r.json().get("server", r.json())
            if last.get("status") == status and last.get("OS-EXT-STS:task_state") is None:
                return last
            if last.get("status") == "ERROR" and status != "ERROR":
                raise AssertionError(f"server {server_id} went to ERROR: {last.get('fault')}")
            time.sleep(0.5)
        raise AssertionError(f"server {server_id} not {status} after {timeout}s: {last}")


def start_compute_cloud(tmp_path: Path, driver: str, extra: dict | None = None, long_data_dir: bool = False) -> tuple[ComputeCloud, Path]:
    """A cloud on a fresh data dir; the caller stops it and removes the dir. `long_data_dir`
    makes its path too long for QEMU's monitor sockets (over 107 bytes with an instance's), so
    the driver must put them elsewhere."""
    data = Path(tempfile.mkdtemp(prefix="nc-", dir="/tmp"))
    if long_data_dir:
        data = data / ("a-data-dir-with-a-long-name-" * 3)
        data.mkdir()
    config = {"compute_node": {"driver": driver, "accelerator": "tcg"}}
    for section, values in (extra or {}).items():
        config.setdefault(section, {}).update(values)
    cfg = write_config(tmp_path / "compute.conf", config)
    n = Nimbus(data, admin_password=random_password(), demo_password=random_password(), extra_args=["--config-file", str(cfg)])
    n.start(timeout=60)
    return ComputeCloud(n), data


def server_remains(r) -> bool:
    """Whether a GET of a server shows it still there (a soft-deleted server counts as gone)."""
    if r.status_code == 404:
        return False
    try:
        return r.json()["server"]["status"] not in ("DELETED", "SOFT_DELETED")
    except (ValueError, KeyError):
        return True


def delete_all_servers(cloud: ComputeCloud, timeout: float = 180):
    """Deletes every server of the cloud: all the deletes first, then one wait for all of them
    (one CLI call per server cost about 2 s of Python start-up each, minutes for a busy suite);
    any server the API would not delete is tried once more with the CLI."""
    listed = cloud.cli("server", "list", "--all-projects", "--limit", "-1", "-f", "json", check=False)
    ids = [s["ID"] for s in json.loads(listed.stdout or "[]")] if listed.returncode == 0 else []
    if not ids:
        return
    token = cloud.token()
    for sid in ids:
        try:
            cloud.nova("DELETE", f"/servers/{sid}", token=token)
        except requests.RequestException:
            pass
    deadline = time.monotonic() + timeout
    while ids and time.monotonic() < deadline:
        try:
            ids = [sid for sid in ids if server_remains(cloud.nova("GET", f"/servers/{sid}", token=token))]
        except requests.RequestException:
            pass
        if ids:
            time.sleep(0.5)
    for sid in ids:
        cloud.cli("server", "delete", "--wait", sid, check=False, timeout=timeout)


def stop_compute_cloud(cloud: ComputeCloud, data: Path):
    """Deletes every server (so no guest outlives the test), stops nimbus, kills any QEMU left
    under the data dir, and removes it."""
    try:
        delete_all_servers(cloud)
    finally:
        cloud.nimbus.stop(grace=15)
        subprocess.run(["pkill", "-9", "-f", f"qemu-system.*{data}"], check=False)
        keep = os.environ.get("NIMBUS_KEEP_LOGS")
        if keep and cloud.nimbus.log_path.exists():
            # A copy of the cloud's log for a failure to be read after the run.
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(cloud.nimbus.log_path, Path(keep) / f"{data.name}-nimbus.log")
        top = next((p for p in [data, *data.parents] if p.parent == Path("/tmp") and p.name.startswith("nc-")), data)
        shutil.rmtree(top, ignore_errors=True)


class ComputeNodeProcess:
    """A `nimbus compute` node apart from the controller (same binary), on this machine."""

    def __init__(self, cloud: ComputeCloud, host: str, data_dir: Path, driver: str = "fake", interval: int = 2,
                 network: dict | None = None):
        from nimbus_launcher import free_port
        self.cloud = cloud
        self.host = host
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.console_port = free_port()
        self.driver = driver
        self.interval = interval
        # The node's network agent: the fake datapath unless a test wants the kernel touched.
        self.network = network or {"datapath": "fake"}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "compute.log"

    def command(self) -> list[str]:
        config = self.data_dir / "node.conf"
        network = "".join(f"{k} = {v}\n" for k, v in self.network.items())
        config.write_text(f"[compute_node]\ndriver = {self.driver}\naccelerator = tcg\n[network]\n{network}")
        return [str(self.cloud.nimbus.binary), "compute", "--controller", self.cloud.base_url, "--host", self.host,
                "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}", "--console-listen", f"127.0.0.1:{self.console_port}",
                "--key-file", str(self.cloud.nimbus.data_dir / "compute" / "agent-key"),
                "--config-file", str(config), "--interval", str(self.interval)]

    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nimbus compute exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthcheck", timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"nimbus compute not up after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_registered(cloud: ComputeCloud, node: ComputeNodeProcess, names: list[str], timeout: float = 60.0):
    """Waits until exactly `names` are resource providers (every node registered)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = sorted(p["name"] for p in cloud.cli("resource", "provider", "list", "-f", "json"))
        if seen == sorted(names):
            return
        time.sleep(0.5)
    raise AssertionError(f"nodes did not register: {seen}\n{node.log_path.read_text()[-2000:]}")


@contextlib.contextmanager
def two_node_cloud(tmp_path_factory, name: str, extra: dict | None = None):
    """A fake-driver cloud with two compute nodes: `node-a` inside `nimbus up` and `node-b`, a
    `nimbus compute` process (as `cloud.node_b`); `extra` adds configuration sections."""
    config = {"compute": {"host": "node-a", "agent_interval_s": "2"}}
    for section, values in (extra or {}).items():
        config.setdefault(section, {}).update(values)
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp(name), "fake", config)
    node = ComputeNodeProcess(cloud, "node-b", data / "node-b")
    try:
        node.start()
        wait_registered(cloud, node, ["node-a", "node-b"])
        cloud.node_b = node
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)
        node.stop()


def console(cloud: ComputeCloud, sid: str) -> str:
    return cloud.cli("console", "log", "show", sid).stdout


def wait_console(cloud: ComputeCloud, sid: str, pattern: str, count: int = 1, timeout: float = 180) -> str:
    """The console once `pattern` (a regex) appears on it `count` times."""
    import re
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = console(cloud, sid)
        if len(re.findall(pattern, text)) >= count:
            return text
        time.sleep(2)
    raise AssertionError(f"{pattern!r} x{count} not on the console after {timeout}s:\n{text[-3000:]}")


class ConsoleSocket:
    """A minimal websocket client for the console proxy, as noVNC and Tempest's use it: an
    HTTP/1.1 upgrade (subprotocol `binary`), masked frames out, whole frames in."""

    def __init__(self, url: str, origin: str | None = None, protocol: str | None = "binary", timeout: float = 30):
        import base64
        import socket
        from urllib.parse import parse_qs, urlparse
        u = urlparse(url)
        q = parse_qs(u.query)
        # noVNC's page URL carries the websocket path in `path`; a serial URL is the websocket itself.
        target = "/" + q["path"][0] if "path" in q else (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {target} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.buffer = data.partition(b"\r\n\r\n")
        self.response = head.decode("latin-1")
        self.status = int(self.response.split(" ")[1]) if self.response else 0

    def _read(self, n: int) -> bytes | None:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def receive(self) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next frame, None once the connection is closed."""
        head = self._read(2)
        if head is None:
            return None
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        assert not head[1] & 0x80, "a server's frames are not masked"
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        payload = self._read(length) if length else b""
        return opcode, payload

    def receive_data(self) -> bytes | None:
        """The next binary or text message's bytes (pings skipped), None when closed."""
        while True:
            frame = self.receive()
            if frame is None or frame[0] == 8:
                return None
            if frame[0] in (0, 1, 2):
                return frame[1]

    def send(self, data: bytes, opcode: int = 2):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def rfb_handshake(self) -> bytes:
        """RFB 3.8 as Tempest's NoVNCValidateMixin does it; returns the ServerInit message."""
        version = self.receive_data()
        assert version and version.startswith(b"RFB 003.00"), version
        self.send(version)
        types = self.receive_data()
        assert types and 1 in types[1:1 + types[0]], types
        self.send(bytes([1]))
        assert self.receive_data() == b"\x00\x00\x00\x00"
        self.send(bytes([1]))   # shared
        init = self.receive_data()
        assert init and len(init) > 24 and len(init) == 24 + int.from_bytes(init[20:24], "big"), init
        return init

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
