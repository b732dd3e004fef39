"""Shared helpers for the object storage (OpenStack Swift API) tests, tests/test_object_*.py.

The object store is reached the way clients reach it: a Keystone v3 token and the
`object-store` public URL from the token's catalog
(`http://127.0.0.1:<port>/object/v1/AUTH_<project_id>`).

`Account` is one user's view of one Swift account: `acct.req(method, container, obj)`
sends a request with the user's token to that account (names are URL-quoted here);
`acct.on(other)` is the same user aimed at another account.  The `new_account(role)`
fixture (conftest.py) makes a fresh user in a fresh project and logs it in.

Expected behaviour is taken from OpenStack Swift's source; where it is subtle the
tests cite the file (swift/...) it comes from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse

import requests

from nimbus_launcher import REPO

TIMEOUT = 30
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
# swift/common/middleware/versioned_writes/*.py
DELETE_MARKER_CONTENT_TYPE = "application/x-deleted;swift_versions_deleted=1"
# Timestamp.isoformat (swift/common/utils/timestamp.py): no zone, microseconds
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
X_TIMESTAMP_RE = re.compile(r"^\d+\.?\d*\Z")  # tempest's AreAllWellFormatted


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def strip_etag(value: str | None) -> str | None:
    """ETags of large objects come quoted ("..."), plain ones not; compare unquoted."""
    if value and len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


def qpath(*parts: str) -> str:
    """'/'-joined, URL-quoted path parts (slashes inside object names are kept)."""
    return "".join("/" + quote(p, safe="/") for p in parts if p is not None)


# ---- login -----------------------------------------------------------------

def object_store_url(token_body: dict) -> str:
    """The public object-store endpoint in a v3 token's catalog."""
    for service in token_body["token"].get("catalog", []):
        if service["type"] == "object-store":
            for ep in service["endpoints"]:
                if ep["interface"] == "public":
                    return ep["url"].rstrip("/")
    raise AssertionError(f"no public object-store endpoint in the catalog: "
                         f"{[s['type'] for s in token_body['token'].get('catalog', [])]}")


def login(auth_url: str, user: str, password: str, project: str,
          domain: str = "Default") -> tuple[str, str, dict]:
    """Password auth scoped to `project`; returns (token, storage URL, token body)."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}
    r = requests.post(f"{auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, f"token for {user}: {r.status_code} {r.text}"
    data = r.json()
    return r.headers["X-Subject-Token"], object_store_url(data), data


@dataclasses.dataclass
class Account:
    """A user (with a token) aimed at one Swift account (`url`, ending in AUTH_<project id>)."""
    cloud: object
    user: object          # conftest.TestUser
    token: str
    url: str

    @classmethod
    def login(cls, cloud, user) -> "Account":
        token, url, _ = login(cloud.auth_url, user.name, user.password, user.project)
        return cls(cloud, user, token, url)

    @property
    def name(self) -> str:
        """The account name, AUTH_<project id>."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def path(self) -> str:
        """The URL path of the account (what temp URLs sign), e.g. /object/v1/AUTH_x."""
        return urlparse(self.url).path

    def on(self, other: "Account") -> "Account":
        """This user (and token) aimed at `other`'s account."""
        return dataclasses.replace(self, url=other.url)

    def url_for(self, container: str | None = None, obj: str | None = None) -> str:
        return self.url + qpath(container, obj)

    def req(self, method: str, container: str | None = None, obj: str | None = None, *,
            token: str | None | bool = True, headers: dict | None = None, **kw) -> requests.Response:
        """`method` on the account/container/object; token=None (or False) sends none."""
        headers = dict(headers or {})
        if token is True:
            token = self.token
        if token:
            headers["X-Auth-Token"] = token
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url_for(container, obj), headers=headers, **kw)

    # -- setup shortcuts (assert success so a broken setup is obvious) --------
    def put_container(self, name: str | None = None, headers: dict | None = None) -> str:
        name = name or unique("c")
        r = self.req("PUT", name, headers=headers)
        assert r.status_code in (201, 202), f"PUT container {name}: {r.status_code} {r.text}"
        return name

    def put_object(self, container: str, name: str, data: bytes = b"",
                   headers: dict | None = None, params: dict | None = None) -> requests.Response:
        r = self.req("PUT", container, name, data=data, headers=headers, params=params)
        assert r.status_code == 201, f"PUT {container}/{name}: {r.status_code} {r.text}"
        return r

    def get_body(self, container: str, name: str, **kw) -> bytes:
        r = self.req("GET", container, name, **kw)
        assert r.status_code == 200, f"GET {container}/{name}: {r.status_code} {r.text}"
        return r.content

    def listing(self, container: str | None = None, **params) -> list:
        """JSON listing of the account (container=None) or a container."""
        params = {"format": "json", **params}
        r = self.req("GET", container, params=params)
        assert r.status_code == 200, f"listing {container}: {r.status_code} {r.text}"
        return r.json()

    def names(self, container: str | None = None, **params) -> list[str]:
        return [e.get("name", e.get("subdir")) for e in self.listing(container, **params)]


def anonymous(method: str, url: str, **kw) -> requests.Response:
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("allow_redirects", False)
    return requests.request(method, url, **kw)


def swift_info(cloud) -> dict:
    r = requests.get(f"{cloud.base_url}/info", timeout=TIMEOUT)
    assert r.status_code == 200, f"/info: {r.status_code} {r.text}"
    return r.json()


def assert_swift_headers(resp: requests.Response, target: str, method: str) -> None:
    """The headers tempest's ExistsAllResponseHeaders/AreAllWellFormatted insist on
    (tempest/common/custom_matchers.py), plus the request id every Nimbus service sets."""
    h = resp.headers
    if resp.status_code != 204 and not (100 <= resp.status_code < 200):
        assert "Content-Length" in h or "Transfer-Encoding" in h, dict(h)
    for name in ("Content-Type", "X-Trans-Id", "Date", "X-Openstack-Request-Id"):
        assert name in h, f"{name} missing: {dict(h)}"
    if method in ("GET", "HEAD"):
        assert X_TIMESTAMP_RE.match(h.get("X-Timestamp", "")), dict(h)
        if target == "Account":
            for name in ("X-Account-Bytes-Used", "X-Account-Container-Count", "X-Account-Object-Count"):
                assert h.get(name, "").isdigit(), f"{name}: {dict(h)}"
        elif target == "Container":
            for name in ("X-Container-Bytes-Used", "X-Container-Object-Count"):
                assert h.get(name, "").isdigit(), f"{name}: {dict(h)}"
            assert h.get("X-Storage-Policy"), dict(h)
    if target == "Object" and method in ("GET", "HEAD", "PUT", "COPY"):
        assert h.get("Etag") and h.get("Last-Modified"), dict(h)
    if "Content-Length" in h:
        assert h["Content-Length"].isdigit(), dict(h)


# ---- python-swiftclient ------------------------------------------------------

def swift_connection(cloud_or_auth_url, user=None, *, name: str | None = None,
                     password: str | None = None, project: str | None = None):
    """A swiftclient Connection that authenticates with Keystone v3 (domain Default)."""
    from swiftclient.client import Connection
    auth_url = getattr(cloud_or_auth_url, "auth_url", cloud_or_auth_url)
    if user is not None:
        name, password, project = user.name, user.password, user.project
    return Connection(authurl=auth_url, user=name, key=password, auth_version="3",
                      retries=0, timeout=TIMEOUT,
                      os_options={"project_name": project, "user_domain_name": "Default",
                                  "project_domain_name": "Default"})


def swift_cli_path() -> str:
    for cand in (Path(sys.executable).parent / "swift", REPO / ".venv/bin/swift"):
        if cand.exists():
            return str(cand)
    raise RuntimeError("python-swiftclient's `swift` not installed: run scripts/venv.sh")


def swift_cli(cloud, user, *args: str, cwd: str | Path | None = None, check: bool = True,
              timeout: float = 90) -> subprocess.CompletedProcess:
    """Run `swift <args>` as `user` (Keystone v3 password auth)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "ST_", "SWIFT_"))}
    cmd = [swift_cli_path(), "--os-auth-url", cloud.auth_url, "--auth-version", "3",
           "--os-username", user.name, "--os-password", user.password,
           "--os-project-name", user.project, "--os-user-domain-name", "Default",
           "--os-project-domain-name", "Default", *map(str, args)]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"`swift {' '.join(map(str, args))}` exited {proc.returncode}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


# ---- separate `nimbus up` instances (durability, background loops) ----------

def write_config(path: Path, sections: dict[str, dict[str, object]]) -> Path:
    """An oslo.config-style INI file, e.g. {"object_storage": {"auditor_interval": 1}}."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def admin_account(nimbus) -> Account:
    """The bootstrap admin (role admin on project admin) of a separate Nimbus, as an Account."""
    from types import SimpleNamespace
    password = nimbus.read_password("admin")
    token, url, body = login(nimbus.auth_url, "admin", password, "admin")
    user = SimpleNamespace(name="admin", password=password, id=body["token"]["user"]["id"],
                           project="admin", project_id=body["token"]["project"]["id"], role="admin")
    cloud = SimpleNamespace(base_url=nimbus.base_url, auth_url=nimbus.auth_url)
    return Account(cloud, user, token, url)


# ---- misc --------------------------------------------------------------------

def wait_until(predicate, timeout: float = 60.0, interval: float = 0.25, what: str = "condition"):
    """Poll `predicate()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def parse_byteranges(content_type: str, body: bytes) -> list[tuple[dict, bytes]]:
    """Split a multipart/byteranges body into [(lower-cased part headers, part bytes)].
    Swift's layout (swift/common/swob.py multi_range_iterator):
    --B\\r\\nContent-Type: ..\\r\\nContent-Range: bytes s-e/n\\r\\n\\r\\n<data>\\r\\n ... --B--"""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    assert m, f"no boundary in {content_type!r}"
    boundary = b"--" + m.group(1).encode()
    assert boundary + b"--" in body, body[-200:]
    parts = []
    for chunk in body.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        assert chunk.startswith(b"\r\n"), chunk[:50]
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n"), data[-20:]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, data[:-2]))
    return parts
