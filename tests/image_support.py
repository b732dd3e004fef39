"""Shared helpers for the Image service (Glance v2 API) tests, tests/test_image_*.py.

The image service is reached the way clients reach it: a Keystone v3 token and the
`image` public URL from the token's catalog (`http://127.0.0.1:<port>/image`,
unversioned; the API lives under `/image/v2`).

`ImageClient` is one user's view of the image API: `c.req(method, "/v2/images", ...)`
sends a request with the user's token (and `Accept: application/json`, as Tempest does,
so errors come back in Glance's JSON format); `c.cli(...)` runs the `openstack` CLI as
that user and `c.sdk()` gives an openstacksdk connection.

A `Glance` (each test module has a `glance` fixture: `with Glance(cloud, new_user,
tmp_path) as g: yield g`) makes such clients: `glance.user(role)` for a fresh user in a fresh project (via the
`new_user` fixture), `glance.colleague(client, role)` for another user in the same
project, `glance.admin` for the bootstrap admin.  Every image created through a client
(or passed to `glance.track`) is deleted by the admin after the test, protected or not.

Expected behaviour is docs/research/glance-v2.md (cited as §N); it was read from Glance's
source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import requests

from conftest import catalog_endpoint, TestUser, unique
from nimbus_launcher import random_password
import object_support

TIMEOUT = 30
PATCH21 = "application/openstack-images-v2.1-json-patch"
PATCH20 = "application/openstack-images-v2.0-json-patch"
OCTET = "application/octet-stream"
# glance/common/timeutils.py isotime: UTC, second precision, "Z"
IMAGE_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REQUEST_ID_RE = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
           416: "Request Range Not Satisfiable"}

# §0 / §7.5: enabled_import_methods = glance-direct, copy-image (no web-download)
IMPORT_METHODS = ["glance-direct", "copy-image"]

# §2.1: the keys of a serialised image with no extra properties and no data, in the shape
# Nimbus runs (show_multiple_locations/show_image_direct_url off: no `locations` or
# `direct_url`). In multi-store mode (the default) an image with data also has `stores`
# (STORE_IDS below); an image without data never has it.
CORE_FIELDS = {"id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
               "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_disk",
               "min_ram", "disk_format", "container_format", "created_at", "updated_at",
               "tags", "self", "file", "schema"}

# §3: Glance's default [image_format] lists
DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]

# The image stores of the default configuration (`[image] stores = file, object`,
# `default_store = file`): Glance's multi-store mode (enabled_backends) with two stores.
STORE_IDS = ["file", "object"]
DEFAULT_STORE = "file"

# §1.2: the version lists of the no-cache shape, in Glance's (odd) order
# (glance/api/versions.py).  Multi-store (the default) adds 2.8 and 2.10-2.13.
_OLD_VERSIONS = [("v2.17", "CURRENT"), ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"),
                 ("v2.5", "SUPPORTED"), ("v2.4", "SUPPORTED"), ("v2.3", "SUPPORTED"),
                 ("v2.2", "SUPPORTED"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED")]
EXPECTED_VERSIONS = [("v2.15", "SUPPORTED"), ("v2.13", "SUPPORTED"), ("v2.12", "SUPPORTED"),
                     ("v2.11", "SUPPORTED"), ("v2.10", "SUPPORTED"), ("v2.9", "SUPPORTED"),
                     ("v2.8", "SUPPORTED"), *_OLD_VERSIONS]
SINGLE_STORE_VERSIONS = [("v2.15", "SUPPORTED"), ("v2.9", "SUPPORTED"), *_OLD_VERSIONS]

# §7.4: task dates are oslo.serialization's, microseconds and no "Z"
TASK_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha512hex(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking bytes (so ranges are distinguishable)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


# ---- catalog -------------------------------------------------------------------

def image_endpoint(token_body: dict) -> str:
    return catalog_endpoint(token_body, "image")


# ---- errors ----------------------------------------------------------------------

def assert_error(r: requests.Response, status: int, fragment: str | None = None) -> dict:
    """A Glance error answered to `Accept: application/json` (§12.1): exactly
    {"message", "code": "<status line>", "title": "<reason>"}; `fragment` in message."""
    assert r.status_code == status, (r.request.method, r.url, r.status_code, r.text[:2000])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), (status, ctype, r.text[:2000])
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"message", "code", "title"}, body
    reason = REASONS[status]
    assert body["code"] == f"{status} {reason}", body
    assert body["title"] == reason, body
    if fragment is not None:
        assert fragment in body["message"], (fragment, body["message"])
    return body


def assert_image_shape(img: dict) -> None:
    """Every core field is there with the right type (§2.1)."""
    missing = CORE_FIELDS - set(img)
    assert not missing, f"missing {missing} in {img}"
    for gone in ("locations", "direct_url"):
        assert gone not in img, (gone, img)
    if "stores" in img:   # multi-store: the stores holding the data, sorted, comma-joined
        held = img["stores"].split(",")
        assert held == sorted(set(held)) and set(held) <= set(STORE_IDS), img["stores"]
        assert img["status"] in ("active", "deactivated", "importing"), img
    if img["status"] in ("queued", "uploading", "saving"):
        assert "stores" not in img, img
    assert UUID_RE.match(img["id"]), img["id"]
    assert img["self"] == f"/v2/images/{img['id']}", img["self"]
    assert img["file"] == f"/v2/images/{img['id']}/file", img["file"]
    assert img["schema"] == "/v2/schemas/image", img["schema"]
    assert IMAGE_DATE_RE.match(img["created_at"]), img["created_at"]
    assert IMAGE_DATE_RE.match(img["updated_at"]), img["updated_at"]
    assert img["visibility"] in ("public", "private", "shared", "community"), img
    assert isinstance(img["protected"], bool) and isinstance(img["os_hidden"], bool), img
    assert isinstance(img["min_disk"], int) and isinstance(img["min_ram"], int), img
    assert isinstance(img["tags"], list), img
    for key, value in img.items():
        if key not in CORE_FIELDS and key not in ("kernel_id", "ramdisk_id"):
            assert isinstance(value, str), f"extra property {key!r} is not a string: {value!r}"


# ---- one user's client ----------------------------------------------------------

@dataclasses.dataclass
class ImageClient:
    cloud: object
    user: object                 # conftest.TestUser (or a namespace for admin)
    token: str
    url: str                     # unversioned endpoint, e.g. http://127.0.0.1:P/image
    registry: "Glance"
    clouds_yaml: Path | None     # None: the session clouds.yaml, cloud "nimbus" (admin)

    @property
    def project_id(self) -> str:
        return self.user.project_id

    # -- raw HTTP ------------------------------------------------------------------
    def req(self, method: str, path: str, *, token: str | None | bool = True,
            headers: dict | None = None, **kw) -> requests.Response:
        """`method` on url+path (path starts with /v2/... or is '' for the root).
        Sends Accept: application/json unless headers override it (a None value
        drops the header altogether)."""
        h = {"Accept": "application/json"}
        if token is True:
            token = self.token
        if token:
            h["X-Auth-Token"] = token
        h.update(headers or {})
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, headers=h, **kw)

    def follow(self, link: str, **kw) -> requests.Response:
        """GET a relative, unprefixed Glance link such as `/v2/images?marker=...` (§5.3)."""
        assert link.startswith("/v2/"), link
        return self.req("GET", link, **kw)

    # -- images --------------------------------------------------------------------
    def create_response(self_, _body: dict | None = None, **fields) -> requests.Response:
        r = self_.req("POST", "/v2/images", json={**(_body or {}), **fields})
        if r.status_code == 201:
            self_.registry.track(r.json()["id"])
        return r

    def create(self, **fields) -> dict:
        """POST /v2/images; asserts 201; the image is deleted after the test."""
        fields.setdefault("name", unique("img"))
        r = self.create_response(**fields)
        assert r.status_code == 201, f"create {fields}: {r.status_code} {r.text}"
        return r.json()

    def get(self, image_id: str) -> dict:
        r = self.req("GET", f"/v2/images/{image_id}")
        assert r.status_code == 200, f"GET image {image_id}: {r.status_code} {r.text}"
        return r.json()

    def status_of(self, image_id: str) -> int:
        return self.req("GET", f"/v2/images/{image_id}").status_code

    def patch(self, image_id: str, ops, media: str = PATCH21, headers: dict | None = None,
              **kw) -> requests.Response:
        h = {"Content-Type": media, **(headers or {})}
        body = ops if isinstance(ops, (str, bytes)) else json.dumps(ops)
        return self.req("PATCH", f"/v2/images/{image_id}", data=body, headers=h, **kw)

    def patch_ok(self, image_id: str, ops, media: str = PATCH21) -> dict:
        r = self.patch(image_id, ops, media)
        assert r.status_code == 200, f"PATCH {image_id} {ops}: {r.status_code} {r.text}"
        return r.json()

    def upload(self, image_id: str, data, content_type: str | None = OCTET,
               headers: dict | None = None, **kw) -> requests.Response:
        h = {"Content-Type": content_type, **(headers or {})}
        return self.req("PUT", f"/v2/images/{image_id}/file", data=data, headers=h, **kw)

    def upload_ok(self, image_id: str, data) -> None:
        r = self.upload(image_id, data)
        assert r.status_code == 204, f"upload {image_id}: {r.status_code} {r.text}"

    def download(self, image_id: str, headers: dict | None = None, **kw) -> requests.Response:
        return self.req("GET", f"/v2/images/{image_id}/file", headers=headers, **kw)

    def stage(self, image_id: str, data, content_type: str | None = OCTET,
              headers: dict | None = None) -> requests.Response:
        h = {"Content-Type": content_type, **(headers or {})}
        return self.req("PUT", f"/v2/images/{image_id}/stage", data=data, headers=h)

    def import_(self, image_id: str, body, headers: dict | None = None) -> requests.Response:
        if isinstance(body, (str, bytes)):
            return self.req("POST", f"/v2/images/{image_id}/import", data=body,
                            headers={"Content-Type": "application/json", **(headers or {})})
        return self.req("POST", f"/v2/images/{image_id}/import", json=body, headers=headers)

    def import_ok(self, image_id: str, body, headers: dict | None = None) -> requests.Response:
        """POST .../import; asserts 202 and an empty body; returns the response (its
        x-openstack-request-id is the task's request_id, §7.4)."""
        r = self.import_(image_id, body, headers=headers)
        assert r.status_code == 202, f"import {image_id} {body}: {r.status_code} {r.text}"
        assert r.content == b"", r.content
        return r

    # -- stores and tasks (multi-store, §7.4, §7.6) ------------------------------------
    def tasks(self, image_id: str) -> list[dict]:
        """GET /v2/images/{id}/tasks; asserts 200 and the {"tasks": [...]} shape."""
        r = self.req("GET", f"/v2/images/{image_id}/tasks")
        assert r.status_code == 200, f"tasks of {image_id}: {r.status_code} {r.text}"
        body = r.json()
        assert set(body) == {"tasks"} and isinstance(body["tasks"], list), body
        return body["tasks"]

    def delete_from_store(self, store_id: str, image_id: str) -> requests.Response:
        return self.req("DELETE", f"/v2/stores/{store_id}/{image_id}")

    def wait_stores(self, image_id: str, stores: str, timeout: float = 30) -> dict:
        """Wait until an import or copy into `stores` ("file,object") has finished: the image is
        active, `stores` is that, `os_glance_importing_to_stores` is present and empty (Tempest's
        wait_for_image_copied_to_stores) and the import lock is gone.  Fails early on a
        non-empty `os_glance_failed_import` (Tempest's wait_for_image_imported_to_stores)."""
        def done():
            img = self.get(image_id)
            assert not img.get("os_glance_failed_import"), img
            ok = (img["status"] == "active" and img.get("stores") == stores
                  and img.get("os_glance_importing_to_stores") == ""
                  and "os_glance_import_task" not in img)
            return img if ok else None
        return wait_until(done, timeout=timeout, interval=0.05,
                          what=f"image {image_id} to be active in {stores}")

    def active_image(self, data: bytes | None = None, **fields) -> dict:
        """A raw/bare image with `data` uploaded (default: 1 KiB); returns GET's body."""
        data = pattern(1024) if data is None else data
        fields.setdefault("disk_format", "raw")
        fields.setdefault("container_format", "bare")
        img = self.create(**fields)
        self.upload_ok(img["id"], data)
        got = self.get(img["id"])
        assert got["status"] == "active", got
        return got

    def list(self, **params) -> dict:
        """GET /v2/images with `params` (list values repeat the key); asserts 200, returns the body."""
        r = self.req("GET", "/v2/images", params=params)
        assert r.status_code == 200, f"list {params}: {r.status_code} {r.text}"
        return r.json()

    def list_ids(self, **params) -> list[str]:
        return [img["id"] for img in self.list(**params)["images"]]

    def pages(self, **params) -> list[dict]:
        """Every page of a listing, following `next` links until there is none."""
        out = [self.list(**params)]
        while "next" in out[-1]:
            assert len(out) < 50, "too many pages"
            r = self.follow(out[-1]["next"])
            assert r.status_code == 200, (out[-1]["next"], r.status_code, r.text)
            out.append(r.json())
        return out

    def wait_status(self, image_id: str, status: str, timeout: float = 30) -> dict:
        return wait_until(lambda: _if_status(self.get(image_id), status), timeout=timeout,
                          what=f"image {image_id} to be {status}")

    # -- members -------------------------------------------------------------------
    def add_member(self, image_id: str, project_id: str) -> requests.Response:
        return self.req("POST", f"/v2/images/{image_id}/members", json={"member": project_id})

    def set_member_status(self, image_id: str, project_id: str, status: str) -> requests.Response:
        return self.req("PUT", f"/v2/images/{image_id}/members/{project_id}", json={"status": status})

    # -- real clients ----------------------------------------------------------------
    def cli(self, *args, check: bool = True, **kw):
        """`openstack ARGS` as this user (see conftest.Cloud.cli for check/-f json)."""
        if self.clouds_yaml is None:
            return self.cloud.cli(*args, check=check, **kw)
        return self.cloud.cli(*args, cloud="test", clouds_yaml=self.clouds_yaml, check=check, **kw)

    def sdk(self):
        """An openstacksdk Connection as this user (close it when done)."""
        if self.clouds_yaml is None:
            return self.cloud.sdk()
        return self.cloud.sdk(cloud="test", clouds_yaml=self.clouds_yaml)


def standalone_glance(nimbus, directory: Path) -> "Glance":
    """A Glance over a separately started Nimbus (conftest.object_nimbus), for tests that need
    their own configuration or a restart.  Users are made in that cloud and not deleted (the
    instance goes away with the test); no cleanup is needed."""
    from conftest import Cloud
    cloud = Cloud(nimbus)

    def new_user(role: str = "member") -> TestUser:
        project = cloud.create_project()
        password = random_password()
        user = cloud.create_user(password=password, project_id=project["id"])
        cloud.grant(role, user["id"], project["id"])
        return TestUser(user["name"], password, user["id"], project["name"], project["id"], role)
    return Glance(cloud, new_user, directory)


def _if_status(img: dict, status: str):
    return img if img["status"] == status else None


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """Poll `predicate()` until it returns something truthy; fail after `timeout` seconds."""
    return object_support.wait_until(predicate, timeout=timeout, interval=interval, what=what)


def query_of(link: str) -> dict[str, list[str]]:
    """The query of a `first`/`next` link, parsed (path asserted to be /v2/images)."""
    u = urlparse(link)
    assert u.path == "/v2/images" and not u.scheme and not u.netloc, link
    return parse_qs(u.query, keep_blank_values=True)


# ---- raw socket ----------------------------------------------------------------

class PartialUpload:
    """PUT /v2/images/{id}/file announcing `declared` bytes (Content-Length) but sending
    only `data`; the connection stays open until close() (or the with-block ends)."""

    def __init__(self, client: ImageClient, image_id: str, declared: int, data: bytes):
        u = urlparse(client.url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=10)
        head = (f"PUT {u.path}/v2/images/{image_id}/file HTTP/1.1\r\n"
                f"Host: {u.hostname}:{u.port}\r\n"
                f"X-Auth-Token: {client.token}\r\n"
                f"Content-Type: {OCTET}\r\n"
                f"Content-Length: {declared}\r\n"
                f"\r\n").encode()
        self.sock.sendall(head + data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the fixture ------------------------------------------------------------------

class Glance:
    """Factory for ImageClients, and the list of images to delete after the test."""

    def __init__(self, cloud, new_user, directory: Path):
        self.cloud = cloud
        self._new_user = new_user
        self._dir = Path(directory)
        self._admin: ImageClient | None = None
        self._images: list[str] = []
        self._users: list[str] = []

    def track(self, image_id: str) -> str:
        if image_id not in self._images:
            self._images.append(image_id)
        return image_id

    def login(self, user, clouds_yaml: Path | None) -> ImageClient:
        token, body = self.cloud.token(user.name, user.password, user.project)
        return ImageClient(self.cloud, user, token, image_endpoint(body), self, clouds_yaml)

    def user(self, role: str = "member") -> ImageClient:
        """A fresh user with `role` on a fresh project."""
        u = self._new_user(role)
        return self.login(u, self.cloud.clouds_yaml_for(u, self._dir))

    def colleague(self, of: ImageClient, role: str = "member") -> ImageClient:
        """Another user, with `role`, in the project of `of`."""
        password = random_password()
        made = self.cloud.create_user(password=password, project_id=of.project_id)
        self._users.append(made["id"])
        self.cloud.grant(role, made["id"], of.project_id)
        u = TestUser(made["name"], password, made["id"], of.user.project, of.project_id, role)
        return self.login(u, self.cloud.clouds_yaml_for(u, self._dir))

    @property
    def admin(self) -> ImageClient:
        """The bootstrap admin (role admin on project admin); its CLI is cloud "nimbus"."""
        if self._admin is None:
            token, body = self.cloud.token("admin", self.cloud.admin_password, "admin")
            user = SimpleNamespace(name="admin", password=self.cloud.admin_password,
                                   id=body["token"]["user"]["id"], project="admin",
                                   project_id=body["token"]["project"]["id"], role="admin")
            self._admin = ImageClient(self.cloud, user, token, image_endpoint(body), self, None)
        return self._admin

    def __enter__(self) -> "Glance":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        if self._images:
            try:
                admin = self.admin
            except Exception:  # the service is broken; nothing to clean up with
                admin = None
            for image_id in reversed(self._images) if admin else []:
                try:
                    r = admin.req("GET", f"/v2/images/{image_id}")
                    if r.status_code == 404:
                        continue
                    if r.status_code == 200 and r.json().get("protected"):
                        admin.patch(image_id, [{"op": "replace", "path": "/protected", "value": False}])
                    admin.req("DELETE", f"/v2/images/{image_id}")
                except requests.RequestException:
                    pass
        for ident in self._users:
            self.cloud.api("DELETE", f"/users/{ident}")


# ---- exact schemas (Appendix A and B of docs/research/glance-v2.md) --------------
# GET /v2/schemas/image as Glance serves it with its default [image_format] lists
# and etc/schema-image.json; the disk_format/container_format enums follow the
# configured lists, so tests compare those two separately.
IMAGE_SCHEMA = json.loads(r'''
{
 "name": "image",
 "properties": {
  "id": {
   "type": "string",
   "description": "An identifier for the image",
   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
  },
  "name": {
   "type": [
    "null",
    "string"
   ],
   "description": "Descriptive name for the image",
   "maxLength": 255
  },
  "status": {
   "type": "string",
   "readOnly": true,
   "description": "Status of the image",
   "enum": [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated"
   ]
  },
  "visibility": {
   "type": "string",
   "description": "Scope of image accessibility",
   "enum": [
    "community",
    "public",
    "private",
    "shared"
   ]
  },
  "protected": {
   "type": "boolean",
   "description": "If true, image will not be deletable."
  },
  "os_hidden": {
   "type": "boolean",
   "description": "If true, image will not appear in default image list response."
  },
  "checksum": {
   "type": [
    "null",
    "string"
   ],
   "readOnly": true,
   "description": "md5 hash of image contents.",
   "maxLength": 32
  },
  "os_hash_algo": {
   "type": [
    "null",
    "string"
   ],
   "readOnly": true,
   "description": "Algorithm to calculate the os_hash_value",
   "maxLength": 64
  },
  "os_hash_value": {
   "type": [
    "null",
    "string"
   ],
   "readOnly": true,
   "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
   "maxLength": 128
  },
  "owner": {
   "type": [
    "null",
    "string"
   ],
   "description": "Owner of the image",
   "maxLength": 255
  },
  "size": {
   "type": [
    "null",
    "integer"
   ],
   "readOnly": true,
   "description": "Size of image file in bytes"
  },
  "virtual_size": {
   "type": [
    "null",
    "integer"
   ],
   "readOnly": true,
   "description": "Virtual size of image in bytes"
  },
  "container_format": {
   "type": [
    "null",
    "string"
   ],
   "description": "Format of the container",
   "enum": [
    null,
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed"
   ]
  },
  "disk_format": {
   "type": [
    "null",
    "string"
   ],
   "description": "Format of the disk",
   "enum": [
    null,
    "ami",
    "ari",
    "aki",
    "vhd",
    "vhdx",
    "vmdk",
    "raw",
    "qcow2",
    "vdi",
    "iso",
    "ploop"
   ]
  },
  "created_at": {
   "type": "string",
   "readOnly": true,
   "description": "Date and time of image registration"
  },
  "updated_at": {
   "type": "string",
   "readOnly": true,
   "description": "Date and time of the last image modification"
  },
  "tags": {
   "type": "array",
   "description": "List of strings related to the image",
   "items": {
    "type": "string",
    "maxLength": 255
   }
  },
  "direct_url": {
   "type": "string",
   "readOnly": true,
   "description": "URL to access the image file kept in external store"
  },
  "min_ram": {
   "type": "integer",
   "description": "Amount of ram (in MB) required to boot image."
  },
  "min_disk": {
   "type": "integer",
   "description": "Amount of disk space (in GB) required to boot image."
  },
  "self": {
   "type": "string",
   "readOnly": true,
   "description": "An image self url"
  },
  "file": {
   "type": "string",
   "readOnly": true,
   "description": "An image file url"
  },
  "stores": {
   "type": "string",
   "readOnly": true,
   "description": "Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers."
  },
  "schema": {
   "type": "string",
   "readOnly": true,
   "description": "An image schema url"
  },
  "locations": {
   "type": "array",
   "items": {
    "type": "object",
    "properties": {
     "url": {
      "type": "string",
      "maxLength": 255
     },
     "metadata": {
      "type": "object"
     },
     "validation_data": {
      "description": "Values to be used to populate the corresponding image properties. If the image status is not 'queued', values must exactly match those already contained in the image properties.",
      "type": "object",
      "writeOnly": true,
      "additionalProperties": false,
      "properties": {
       "checksum": {
        "type": "string",
        "minLength": 32,
        "maxLength": 32
       },
       "os_hash_algo": {
        "type": "string",
        "maxLength": 64
       },
       "os_hash_value": {
        "type": "string",
        "maxLength": 128
       }
      },
      "required": [
       "os_hash_algo",
       "os_hash_value"
      ]
     }
    },
    "required": [
     "url",
     "metadata"
    ]
   },
   "description": "A set of URLs to access the image file kept in external store"
  },
  "kernel_id": {
   "type": [
    "null",
    "string"
   ],
   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
   "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.",
   "is_base": false
  },
  "ramdisk_id": {
   "type": [
    "null",
    "string"
   ],
   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
   "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.",
   "is_base": false
  },
  "instance_uuid": {
   "type": "string",
   "description": "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)",
   "is_base": false
  },
  "architecture": {
   "description": "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html",
   "type": "string",
   "is_base": false
  },
  "os_distro": {
   "description": "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html",
   "type": "string",
   "is_base": false
  },
  "os_version": {
   "description": "Operating system version as specified by the distributor.",
   "type": "string",
   "is_base": false
  },
  "description": {
   "description": "A human-readable string describing this image.",
   "type": "string",
   "is_base": false
  },
  "cinder_encryption_key_id": {
   "description": "Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage Service to use when mounting a volume created from this image",
   "type": "string",
   "is_base": false
  },
  "cinder_encryption_key_deletion_policy": {
   "description": "States the condition under which the Image Service will delete the object associated with the 'cinder_encryption_key_id' image property.  If this property is missing, the Image Service will take no action",
   "type": "string",
   "enum": [
    "on_image_deletion",
    "do_not_delete"
   ],
   "is_base": false
  }
 },
 "additionalProperties": {
  "type": "string"
 },
 "links": [
  {
   "rel": "self",
   "href": "{self}"
  },
  {
   "rel": "enclosure",
   "href": "{file}"
  },
  {
   "rel": "describedby",
   "href": "{schema}"
  }
 ]
}
''')

# GET /v2/schemas/member and /v2/schemas/members
MEMBER_SCHEMA = json.loads(r'''
{
 "name": "member",
 "properties": {
  "member_id": {
   "type": "string",
   "description": "An identifier for the image member (tenantId)"
  },
  "image_id": {
   "type": "string",
   "description": "An identifier for the image",
   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
  },
  "created_at": {
   "type": "string",
   "description": "Date and time of image member creation"
  },
  "updated_at": {
   "type": "string",
   "description": "Date and time of last modification of image member"
  },
  "status": {
   "type": "string",
   "description": "The status of this image member",
   "enum": [
    "pending",
    "accepted",
    "rejected"
   ]
  },
  "schema": {
   "readOnly": true,
   "type": "string"
  }
 }
}
''')

MEMBERS_SCHEMA = {
    "name": "members",
    "properties": {"members": {"type": "array", "items": MEMBER_SCHEMA}, "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

