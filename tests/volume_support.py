"""Shared helpers for the Block Storage tests (Cinder API v3), tests/test_volume_*.py.

Block Storage is reached the way clients reach it: a Keystone v3 token and the `block-storage`
public URL from the token's catalog (`http://127.0.0.1:<port>/volume/v3/<project_id>`).

* `bs_cloud` (module fixture): one `nimbus up` of its own per test module (so quota class changes
  and the files under `<data_dir>/volumes` belong to that module alone), started once the test
  guest image is built, so that nimbus registers it as the public image `nimbus-test`.
  It is a `conftest.Cloud` (cli(), sdk(), token(), api(), create_project(), ...).
* `Vol` is one logged-in user (or the admin): `req()` sends a request with the user's token (and
  `version=` as `OpenStack-API-Version: volume <version>`), `ok()` asserts the status and returns
  the JSON body; `volume()`, `snapshot()` create and wait; `cli()` runs the real `openstack` CLI as
  that user, `sdk()` gives an openstacksdk connection.
* `bs_admin` (module fixture): the bootstrap admin; `bs_user` (factory fixture):
  `bs_user(role="member")` -> a `Vol` for a fresh user in a fresh project, and
  `bs_user(role, project_of=other)` -> a fresh user with `role` in `other`'s project;
  `bs_member` (module fixture): one member shared by checks that leave nothing behind.
* `start_cloud(data_dir, port=, config=, passwords=)` starts a separate `nimbus up` (restarts on
  the same data dir and port for the durability tests).
* `assert_fault(r, status, fragment)` pins Cinder's error body,
  `{"<faultName>": {"code": <status>, "message": ...}}` (cinder/api/openstack/wsgi.py Fault).
* `volume_file()`, `snapshot_file()`, `qemu_info()`: the storage node's qcow2 files.

Expected behaviour is real Cinder's (openstack/cinder master, read from its source); each test's
docstring names the files it follows.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from client_support import UserClients, api_request
from conftest import Cloud, TestUser, catalog_endpoint
from object_support import wait_until as wait_for  # noqa: F401  (re-exported for the volume tests)
from nimbus_launcher import Nimbus, NimbusError, find_binary, random_password

TIMEOUT = 30
GIB = 1 << 30
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Cinder's timestamps: naive ISO 8601 with microseconds (oslo's isotime without zone).
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")
# Fault names by status (cinder/api/openstack/wsgi.py Fault._fault_names; others: computeFault).
FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
               501: "notImplemented", 503: "serviceUnavailable"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- errors -------------------------------------------------------------------------------

def assert_fault(r: requests.Response, status: int, fragment: str | None = None) -> str:
    """A Cinder fault: the status and a JSON body of exactly {<faultName>: {"code", "message"}}
    (plus "retryAfter" on a 413 that carries a Retry-After header). Returns the message."""
    assert r.status_code == status, (r.request.method, r.url, r.status_code, r.text[:2000])
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.headers, r.text[:500])
    body = r.json()
    name = FAULT_NAMES.get(status, "computeFault")
    assert isinstance(body, dict) and list(body) == [name], body
    fault = body[name]
    expected_keys = {"code", "message"} | ({"retryAfter"} if status == 413 and "Retry-After" in r.headers else set())
    assert set(fault) == expected_keys, fault
    assert fault["code"] == status, fault
    assert isinstance(fault["message"], str) and fault["message"], fault
    if fragment is not None:
        assert fragment in fault["message"], (fragment, fault)
    return fault["message"]


def assert_over_quota(r: requests.Response) -> str:
    """A quota refusal as Cinder's FaultWrapper renders a QuotaError (code 413, safe,
    headers {'Retry-After': '0'}; cinder/exception.py QuotaError, cinder/api/middleware/fault.py):
    413 overLimit, `Retry-After: 0` and `retryAfter: "0"`, and "exceed" in the message (what
    Tempest's rest_client.is_absolute_limit looks for to tell an over-quota from a rate limit)."""
    message = assert_fault(r, 413)
    assert r.headers.get("Retry-After") == "0", r.headers
    assert r.json()["overLimit"]["retryAfter"] == "0", r.text
    assert "exceed" in message, message
    return message


def assert_forbidden_cli(proc) -> None:
    assert proc.returncode != 0, f"expected a 403, but it succeeded: {proc.stdout}"
    assert re.search(r"\b403\b", proc.stderr), proc.stderr


# ---- files on the storage node ------------------------------------------------------------

def volumes_dir(cloud) -> Path:
    return Path(cloud.data_dir) / "volumes"


def volume_file(cloud, volume_id: str) -> Path:
    return volumes_dir(cloud) / f"volume-{volume_id}.qcow2"


def snapshot_file(cloud, snapshot_id: str) -> Path:
    return volumes_dir(cloud) / f"snapshot-{snapshot_id}.qcow2"


def qemu_info(path: Path) -> dict:
    """`qemu-img info` of a file (-U: never wait for or take its lock)."""
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def qemu_same_content(a: Path, b: Path) -> bool:
    """`qemu-img compare` (not strict: the larger image's extra area must read as zeros)."""
    proc = subprocess.run(["qemu-img", "compare", "-U", str(a), str(b)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def qemu_write_pattern(path: Path, pattern: int, offset: int = 0, length: int = 65536) -> None:
    """Writes `length` bytes of `pattern` at `offset` into a qcow2 file (what a guest would)."""
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} {offset} {length}", str(path)], check=True,
                   capture_output=True, timeout=60)


# ---- the client ---------------------------------------------------------------------------

@dataclass
class Vol(UserClients):
    cloud: Any
    token: str
    endpoint: str            # <base>/volume/v3/<project_id>, from the catalog
    project_id: str
    user_id: str
    user: TestUser | None = None     # None for the bootstrap admin
    workdir: Path | None = None      # where the user's clouds.yaml goes
    _clouds_yaml: Path | None = field(default=None, repr=False)
    cloud_name: str | None = None    # the bootstrap admin's cloud in nimbus' clouds.yaml

    @classmethod
    def login(cls, cloud, user: TestUser, workdir: Path) -> "Vol":
        token, body = cloud.token(user.name, user.password, user.project)
        return cls(cloud, token, catalog_endpoint(body, "block-storage"), body["token"]["project"]["id"],
                   body["token"]["user"]["id"], user=user, workdir=Path(workdir))

    @classmethod
    def admin(cls, cloud) -> "Vol":
        token, body = cloud.token("admin", cloud.admin_password, "admin")
        return cls(cloud, token, catalog_endpoint(body, "block-storage"), body["token"]["project"]["id"],
                   body["token"]["user"]["id"])

    @property
    def base(self) -> str:
        """<base>/volume/v3 (the endpoint without the project id)."""
        return self.endpoint.rsplit("/", 1)[0]

    # -- HTTP ----------------------------------------------------------------------------
    def req(self, method: str, path: str, *, version: str | None = None, token: str | None | bool = True,
            headers: dict | None = None, **kw) -> requests.Response:
        url = path if path.startswith("http") else self.endpoint + path
        return api_request(method, url, token=self.token if token is True else token, service="volume", version=version, headers=headers, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:2000])
        return r.json() if r.content else None

    # -- volumes and snapshots -----------------------------------------------------------
    def create_volume(self, size: int | None = 1, wait: str | None = "available", version: str | None = None,
                      **attrs) -> dict:
        body = {"name": unique("vol"), **attrs}
        if size is not None:
            body["size"] = size
        vol = self.ok("POST", "/volumes", status=202, json={"volume": body}, version=version)["volume"]
        return self.wait_volume(vol["id"], wait) if wait else vol

    def show_volume(self, vid: str, version: str | None = None) -> dict:
        return self.ok("GET", f"/volumes/{vid}", version=version)["volume"]

    def wait_volume(self, vid: str, status: str = "available", timeout: float = 60) -> dict:
        def reached():
            v = self.show_volume(vid)
            if v["status"].startswith("error") and not status.startswith("error"):
                raise AssertionError(f"volume {vid} went to {v['status']}")
            return v if v["status"] == status else None
        return wait_for(reached, timeout, what=f"volume {vid} {status}")

    def create_snapshot(self, volume_id: str, wait: str | None = "available", **attrs) -> dict:
        body = {"volume_id": volume_id, "name": unique("snap"), **attrs}
        snap = self.ok("POST", "/snapshots", status=202, json={"snapshot": body})["snapshot"]
        return self.wait_snapshot(snap["id"], wait) if wait else snap

    def wait_snapshot(self, sid: str, status: str = "available", timeout: float = 60) -> dict:
        def reached():
            s = self.ok("GET", f"/snapshots/{sid}")["snapshot"]
            if s["status"].startswith("error") and not status.startswith("error"):
                raise AssertionError(f"snapshot {sid} went to {s['status']}")
            return s if s["status"] == status else None
        return wait_for(reached, timeout, what=f"snapshot {sid} {status}")

    def wait_gone(self, collection: str, ident: str, timeout: float = 60) -> None:
        """Until GET <collection>/<id> is 404 (how Tempest waits for a deletion)."""
        def gone():
            r = self.req("GET", f"/{collection}/{ident}")
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                item = next(iter(r.json().values()))
                assert not item["status"].startswith("error"), item
            return r.status_code == 404
        wait_for(gone, timeout, what=f"{collection}/{ident} gone")

    def action(self, vid: str, name: str, arg: Any = None, version: str | None = None) -> requests.Response:
        return self.req("POST", f"/volumes/{vid}/action", json={name: {} if arg is None else arg}, version=version)


# ---- fixtures (import into a test module) -------------------------------------------------

def start_cloud(data_dir: Path, port: int | None = None, config: dict | None = None,
                passwords: tuple[str, str] | None = None) -> Nimbus:
    """A started `nimbus up` on `data_dir` (`config`: {section: {key: value}} for a config file)."""
    extra = []
    if config:
        path = Path(data_dir).parent / f"{Path(data_dir).name}.conf"
        path.write_text("".join(f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
                                for s, values in config.items()))
        extra = ["--config-file", str(path)]
    admin_pw, demo_pw = passwords or (random_password(), random_password())
    n = Nimbus(Path(data_dir), port=port, admin_password=admin_pw, demo_password=demo_pw, extra_args=extra)
    n.start(timeout=60)
    return n


@pytest.fixture(scope="module")
def bs_cloud(tmp_path_factory):
    """A cloud of this module's own, with the test image `nimbus-test` registered and active."""
    from compute_support import build_test_image
    try:
        find_binary()
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    image_path = build_test_image()  # cached: what `nimbus up` registers as `nimbus-test`
    nimbus = start_cloud(tmp_path_factory.mktemp("bs") / "data")
    try:
        cloud = Cloud(nimbus)
        cloud.test_image_path = image_path
        admin = Vol.admin(cloud)
        images = f"{cloud.base_url}/image/v2/images"

        def test_image():
            r = requests.get(images, params={"name": "nimbus-test"}, headers={"X-Auth-Token": admin.token}, timeout=TIMEOUT)
            found = [i for i in r.json().get("images", []) if i["status"] == "active"] if r.status_code == 200 else []
            return found[0] if found else None
        cloud.test_image = wait_for(test_image, 60, 0.2, what="the test image nimbus-test to be active")
        yield cloud
    finally:
        nimbus.stop(grace=10)


@pytest.fixture(scope="module")
def bs_admin(bs_cloud) -> Vol:
    return Vol.admin(bs_cloud)


def make_user(cloud, workdir: Path, role: str = "member", project_of: Vol | None = None) -> Vol:
    """A new user with `role` in a fresh project (or in `project_of`'s project), logged in."""
    if project_of is None:
        project = cloud.create_project()
    else:
        project = {"id": project_of.project_id, "name": project_of.user.project}
    password = random_password()
    made = cloud.create_user(password=password, project_id=project["id"])
    cloud.grant(role, made["id"], project["id"])
    user = TestUser(made["name"], password, made["id"], project["name"], project["id"], role)
    return Vol.login(cloud, user, workdir)


@pytest.fixture
def bs_user(bs_cloud, tmp_path):
    """Factory: bs_user(role="member", project_of=None) -> Vol for a new user with `role` in a
    fresh project (or in `project_of`'s project)."""
    count = itertools.count()

    def make(role: str = "member", project_of: Vol | None = None) -> Vol:
        return make_user(bs_cloud, tmp_path / f"u{next(count)}", role, project_of)
    return make


@pytest.fixture(scope="module")
def bs_member(bs_cloud, tmp_path_factory) -> Vol:
    """One member in a fresh project, shared by a module's checks that make nothing lasting."""
    return make_user(bs_cloud, tmp_path_factory.mktemp("member"))


# ---- attachments (3.27) and NBD exports -------------------------------------------------

ATTACH = "3.54"


def nbd_io(info: dict, *commands: str, check: bool = True) -> subprocess.CompletedProcess:
    data = info["data"]
    argv = ["qemu-io", "-f", "raw", f"nbd+unix:///{data['export']}?socket={data['path']}"]
    for c in commands:
        argv += ["-c", c]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0 and "error" not in proc.stdout.lower(), proc.stdout + proc.stderr
    return proc


def attach(vol, volume_id: str, connector: dict | None = None, **extra) -> dict:
    body = {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4()), **extra}
    if connector is not None:
        body["connector"] = connector
    return vol.ok("POST", "/attachments", json={"attachment": body}, version=ATTACH)["attachment"]
