"""Multi-node object storage: three `nimbus storage` processes on loopback serve the ring's
devices to the proxy in `nimbus up`. With one node killed (-9) PUT and GET keep working;
when it comes back the replicator restores its replicas; with two down a PUT has no quorum.
Also the storage node's own API: the shared key, path checks, uploads without a commit."""

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nimbus_launcher import HOST, find_binary, free_port
from object_support import admin_account, md5hex, swift_connection, wait_until


def ring(data_dir: Path, *args: str) -> str:
    return subprocess.run([str(find_binary()), "ring", *args, "--data-dir", str(data_dir)],
                          check=True, capture_output=True, text=True, timeout=60).stdout


class StorageNode:
    """One `nimbus storage` process serving one device, output in its data dir."""

    def __init__(self, data_dir: Path, device: str, key_file: Path):
        self.data_dir, self.device, self.key_file = data_dir, device, key_file
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, timeout: float = 20):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "storage.log", "ab")
        self.proc = subprocess.Popen(
            [str(find_binary()), "storage", "--listen", self.address, "--data-dir", str(self.data_dir),
             "--device", self.device, "--key-file", str(self.key_file), "--auditor-interval", "2"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.data_dir / "storage.log").read_text()
            try:
                with urllib.request.urlopen(self.url + "/healthcheck", timeout=0.5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"storage node {self.device} not up after {timeout} s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def data_files(self, policy: int = 0) -> list[Path]:
        # os.walk, not rglob: the node removes emptied directories while we look.
        root = self.data_dir / "object" / "devices" / self.device / ("objects" if policy == 0 else f"objects-{policy}")
        return [Path(d) / f for d, _, files in os.walk(root) for f in files if f.endswith(".data")]

    def request(self, method: str, path: str, key: str | None, body: bytes | None = None):
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if key is not None:
            req.add_header("X-Storage-Key", key)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


@pytest.fixture
def cluster(object_nimbus, tmp_path):
    """(nimbus, [node1, node2, node3], key): a ring of three remote devices in three zones."""
    data = tmp_path / "data"
    key_file = tmp_path / "storage-key"
    key = secrets.token_hex(32)
    key_file.write_text(key + "\n")
    nodes = [StorageNode(tmp_path / f"node{i}", f"n{i}", key_file) for i in (1, 2, 3)]
    ring(data, "create", "--part-power", "6", "--replicas", "3")
    for i, n in enumerate(nodes, 1):
        ring(data, "add", "--name", n.device, "--zone", str(i), "--address", n.address)
    ring(data, "rebalance")
    for n in nodes:
        n.start()
    nimbus = object_nimbus(config={"object_storage": {"replicator_interval": 1,
                                                      "storage_key_file": str(key_file)}})
    yield nimbus, nodes, key
    for n in nodes:
        n.kill()


def test_cluster_survives_a_killed_node_and_restores_it(cluster):
    nimbus, (n1, n2, n3), _ = cluster
    acct = admin_account(nimbus)
    c = acct.put_container("nodes")
    bodies = {f"small-{i}": f"object {i}".encode() for i in range(10)}
    bodies["large"] = secrets.token_bytes(3 * 1024 * 1024 + 17)
    for name, body in bodies.items():
        acct.put_object(c, name, body)
    # Three replicas, three devices: every node holds every object.
    for n in (n1, n2, n3):
        assert len(n.data_files()) == len(bodies), n.device

    n2.kill()
    conn = swift_connection(nimbus.auth_url, name="admin", password=nimbus.read_password("admin"), project="admin")
    for i in range(10):
        body = f"written while n2 was down {i}".encode()
        etag = conn.put_object(c, f"late-{i}", body)
        assert etag == md5hex(body)
        bodies[f"late-{i}"] = body
    late_large = secrets.token_bytes(2 * 1024 * 1024)
    conn.put_object(c, "late-large", late_large)
    bodies["late-large"] = late_large
    for name, body in bodies.items():
        headers, got = conn.get_object(c, name)
        assert got == body, name
    headers, listing = conn.get_container(c)
    assert int(headers["x-container-object-count"]) == len(bodies)
    assert sorted(o["name"] for o in listing) == sorted(bodies)
    assert len(n1.data_files()) == len(n3.data_files()) == len(bodies)

    n2.start()
    wait_until(lambda: len(n2.data_files()) == len(bodies), timeout=60, what="n2 restored to a full replica set")
    # The copies went from n1 or n3 straight to n2, not through the controller.
    pushed = sum((n.data_dir / "storage.log").read_text().count("to n2 at ") for n in (n1, n3))
    assert pushed >= 11, pushed
    assert "node to node" in nimbus.log_path.read_text()

    # n2's restored copies are good: with the other two nodes gone, every object reads from n2.
    n1.kill()
    n3.kill()
    for name, body in bodies.items():
        r = acct.req("GET", c, name)
        assert r.status_code == 200, (name, r.status_code, r.text)
        assert r.content == body, name
    # One node of three is no write quorum.
    r = acct.req("PUT", c, "no-quorum", data=b"x")
    assert r.status_code == 503, r.text
    assert "no-quorum" not in acct.names(c)


def test_a_second_storage_policy_on_the_nodes(object_nimbus, tmp_path):
    """A 2-replica policy whose ring (`nimbus ring create --policy 1`) uses the same three nodes:
    its objects land in objects-1 on two of them, and a lost replica is restored there."""
    data = tmp_path / "data"
    key_file = tmp_path / "storage-key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    nodes = [StorageNode(tmp_path / f"node{i}", f"n{i}", key_file) for i in (1, 2, 3)]
    for policy, replicas in ((0, 3), (1, 2)):
        ring(data, "create", "--part-power", "4", "--replicas", str(replicas), "--policy", str(policy))
        for i, n in enumerate(nodes, 1):
            ring(data, "add", "--name", n.device, "--zone", str(i), "--address", n.address, "--policy", str(policy))
        ring(data, "rebalance", "--policy", str(policy))
    assert "2 replicas" in ring(data, "show", "--policy", "1")
    for n in nodes:
        n.start()
    try:
        nimbus = object_nimbus(config={"object_storage": {"replicator_interval": 1, "storage_key_file": str(key_file)},
                                       "storage-policy:0": {"name": "Policy-0", "default": "yes"},
                                       "storage-policy:1": {"name": "silver"}})
        conn = swift_connection(nimbus.auth_url, name="admin", password=nimbus.read_password("admin"), project="admin")
        conn.put_container("s", headers={"X-Storage-Policy": "silver"})
        bodies = {f"o{i}": secrets.token_bytes(1000 + i) for i in range(6)}
        for name, body in bodies.items():
            conn.put_object("s", name, body)
        assert sum(len(n.data_files(1)) for n in nodes) == 2 * len(bodies)
        assert all(n.data_files(0) == [] for n in nodes)
        holder = next(n for n in nodes if n.data_files(1))
        lost = holder.data_files(1)[0]
        lost.unlink()
        wait_until(lambda: lost.exists(), timeout=30, what="the lost silver replica restored on its node")
        for name, body in bodies.items():
            assert conn.get_object("s", name)[1] == body
        # The node refuses a policy index that is not a small number.
        status, _ = holder.request("GET", f"/storage/{holder.device}", key_file.read_text().strip())
        assert status == 200
        req = urllib.request.Request(holder.url + f"/storage/{holder.device}", method="GET",
                                     headers={"X-Storage-Key": key_file.read_text().strip(), "X-Backend-Storage-Policy-Index": "../1"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 400
    finally:
        for n in nodes:
            n.kill()


def test_deleted_objects_leave_every_node(cluster):
    nimbus, nodes, _ = cluster
    acct = admin_account(nimbus)
    c = acct.put_container("gone")
    for i in range(5):
        acct.put_object(c, f"o{i}", b"data %d" % i)
    for i in range(5):
        assert acct.req("DELETE", c, f"o{i}").status_code == 204
    # The files go right after the index commit, in the background.
    wait_until(lambda: all(n.data_files() == [] for n in nodes), timeout=10, what="no object files on any node")


def test_node_api_requires_the_key_and_checks_paths(cluster):
    nimbus, (n1, n2, _), key = cluster
    assert n1.request("GET", "/storage/n1", None)[0] == 401
    assert n1.request("GET", "/storage/n1", "wrong-" + key)[0] == 401
    status, body = n1.request("GET", "/storage/n1", key)
    assert status == 200 and body.startswith(b"[")
    assert n1.request("GET", "/storage/other", key)[0] == 404
    assert n1.request("GET", "/storage/..%2F..%2Fetc/1", key)[0] == 404
    assert n1.request("GET", "/storage/n1/1/not-a-hash/1700000000.00000", key)[0] == 400
    h = "0123456789abcdef0123456789abcdef"
    assert n1.request("GET", f"/storage/n1/1/{h}/..%2Fx", key)[0] == 400
    assert n1.request("GET", f"/storage/n1/1/{h}/1700000000.00000", key)[0] == 404
    # An upload without its commit frame is refused and leaves nothing behind.
    status, _ = n1.request("PUT", f"/storage/n1/1/{h}/1700000000.00000", key, body=b"\x64\x00\x00\x00\x03abc")
    assert status == 400
    assert n1.request("GET", f"/storage/n1/1/{h}/1700000000.00000", key)[0] == 404
    assert list((n1.data_dir / "object/devices/n1/tmp").iterdir()) == []
    status, _ = n1.request("POST", f"/storage/n1/1/{h}/remove", key, body=b'{"files": ["../../x.data"]}')
    assert status == 400
    # Push orders (node-to-node replication): the key, then the shape of every field.
    good = {"file": "1700000000.00000.data", "to": n2.address, "device": "n2"}
    assert n1.request("POST", f"/storage/n1/1/{h}/push", None, body=json.dumps(good).encode())[0] == 401
    for bad in ({**good, "file": "../x.data"}, {**good, "to": "host/../x:80"}, {**good, "to": "h:0"},
                {**good, "device": "../n2"}, {"file": good["file"]}, "not an object"):
        assert n1.request("POST", f"/storage/n1/1/{h}/push", key, body=json.dumps(bad).encode())[0] == 400, bad
    # A file the node does not have.
    assert n1.request("POST", f"/storage/n1/1/{h}/push", key, body=json.dumps(good).encode())[0] == 404
