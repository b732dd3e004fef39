"""Adversarial, every service: oversized and truncated bodies on every write route never
give a 5xx, and a NUL byte in a path is a 4xx.

Real OpenStack answers such requests from its WSGI stack: a body over the configured cap
is 413 (oslo_middleware.sizelimit in Keystone's pipeline; Swift's constraints
MAX_FILE_SIZE, MAX_MANIFEST_SIZE, bulk's max sizes), a body shorter than its
Content-Length or a chunked body without its last chunk is a client error (eventlet.wsgi
raises on the short read: 400/499, Swift's proxy answers 499 "Client Disconnect" or 408
"Request Timeout", swift/proxy/controllers/obj.py), and a NUL in the path is refused
(Swift: 412 check_utf8; Keystone and Glance: an id that does not exist, 404).  None of
them is a server error.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlparse

import pytest

from adversarial_support import password_token, raw_request
from image_support import Glance

BIG = 2 << 20          # 2 MiB


def _json_body(size: int) -> bytes:
    return json.dumps({"x": {"name": "n", "pad": "y" * size}}).encode()


def _check_routes(base_url: str, routes, mode: str) -> list[str]:
    """Send each route an oversized or a truncated body; return the 5xx answers."""
    bad = []
    for method, path, headers in routes:
        h = {"Content-Type": "application/json", **headers}
        if mode == "oversized":
            r = raw_request(base_url, method, path, h, _json_body(BIG), timeout=30)
        elif mode == "truncated":
            r = raw_request(base_url, method, path, h, _json_body(100), declared_length=4000)
        else:  # chunked without the last chunk
            r = raw_request(base_url, method, path, h, _json_body(100), chunked=True, finish_chunks=False)
        if r.status >= 500:
            bad.append(f"{method} {path}: {r.status} {r.text[:120]!r}")
    return bad


# ---- identity ----------------------------------------------------------------------------------

def _identity_routes(cloud, user) -> list:
    pid = cloud.create_project()["id"]
    h = {"X-Auth-Token": cloud.admin_token()}
    own, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    uh = {"X-Auth-Token": own}
    v3 = "/identity/v3"
    region = "adv-" + uuid.uuid4().hex[:8]
    return [
        ("POST", f"{v3}/auth/tokens", {}),
        ("POST", f"{v3}/projects", h), ("PATCH", f"{v3}/projects/{pid}", h),
        ("PUT", f"{v3}/projects/{pid}/tags", h),
        ("POST", f"{v3}/domains", h), ("PATCH", f"{v3}/domains/default", h),
        ("POST", f"{v3}/users", h), ("PATCH", f"{v3}/users/{user.id}", h),
        ("POST", f"{v3}/users/{user.id}/password", {}),
        ("POST", f"{v3}/groups", h), ("POST", f"{v3}/roles", h),
        ("POST", f"{v3}/regions", h), ("PUT", f"{v3}/regions/{region}", h),
        ("POST", f"{v3}/services", h), ("POST", f"{v3}/endpoints", h),
        ("POST", f"{v3}/credentials", h), ("POST", f"{v3}/policies", h),
        ("POST", f"{v3}/limits", h), ("POST", f"{v3}/registered_limits", h),
        ("POST", f"{v3}/OS-TRUST/trusts", uh),
        ("POST", f"{v3}/users/{user.id}/application_credentials", uh),
        ("POST", f"{v3}/users/{user.id}/credentials/OS-EC2", uh),
        ("POST", f"{v3}/OS-EP-FILTER/endpoint_groups", h),
    ]


@pytest.mark.parametrize("mode", ["oversized", "truncated", "chunked-unfinished"])
def test_identity_write_routes_never_5xx_on_bad_bodies(cloud, new_user, mode):
    """Every Identity write route, with a 2 MiB body, a body shorter than its
    Content-Length, or an unfinished chunked body: a 4xx (413 / 400), never a 5xx."""
    user = new_user("member")
    bad = _check_routes(cloud.base_url, _identity_routes(cloud, user), mode)
    assert not bad, "\n".join(bad)


# ---- image ---------------------------------------------------------------------------------------

@pytest.fixture
def glance(cloud, new_user, tmp_path):
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


def _image_routes(glance) -> list:
    c = glance.user()
    other = glance.user()
    img = c.create(disk_format="raw", container_format="bare")
    img2 = c.create(disk_format="raw", container_format="bare")
    shared = c.create(visibility="shared")
    assert c.add_member(shared["id"], other.project_id).status_code == 200
    base = urlparse(c.url).path
    h = {"X-Auth-Token": c.token, "Accept": "application/json"}
    oh = {"X-Auth-Token": other.token, "Accept": "application/json"}
    octet = {**h, "Content-Type": "application/octet-stream"}
    return [
        ("POST", f"{base}/v2/images", h),
        ("PATCH", f"{base}/v2/images/{img['id']}",
         {**h, "Content-Type": "application/openstack-images-v2.1-json-patch"}),
        ("POST", f"{base}/v2/images/{shared['id']}/members", h),
        ("PUT", f"{base}/v2/images/{shared['id']}/members/{other.project_id}", oh),
        ("POST", f"{base}/v2/images/{img['id']}/import", h),
        ("PUT", f"{base}/v2/images/{img['id']}/tags/t1", h),
        ("POST", f"{base}/v2/images/{img['id']}/actions/deactivate", h),
        ("PUT", f"{base}/v2/images/{img2['id']}/stage", octet),
        ("PUT", f"{base}/v2/images/{img['id']}/file", octet),
    ]


@pytest.mark.parametrize("mode", ["oversized", "truncated", "chunked-unfinished"])
def test_image_write_routes_never_5xx_on_bad_bodies(cloud, glance, mode):
    """Every Image write route (JSON and data), with a 2 MiB body, a short body or an
    unfinished chunked body: never a 5xx (the data routes may accept 2 MiB of data)."""
    routes = _image_routes(glance)
    bad = []
    for method, path, headers in routes:
        ctype = headers.get("Content-Type")
        hs = {k: v for k, v in headers.items() if k != "Content-Type"}
        if ctype:
            hs["Content-Type"] = ctype
        for b in _check_routes(cloud.base_url, [(method, path, hs)], mode):
            bad.append(b)
    assert not bad, "\n".join(bad)


# ---- object storage ----------------------------------------------------------------------------

def _object_routes(acct) -> list:
    c = acct.put_container()
    acct.put_object(c, "o", b"x")
    base = urlparse(acct.url).path
    h = {"X-Auth-Token": acct.token}
    return [
        ("PUT", f"{base}/{c}/new-object", h),
        ("PUT", f"{base}/{c}/manifest?multipart-manifest=put", h),
        ("PUT", f"{base}/{c}?extract-archive=tar", h),
        ("POST", f"{base}?bulk-delete", {**h, "Content-Type": "text/plain"}),
        ("POST", f"{base}/{c}/o", h),
        ("POST", f"{base}/{c}", h),
        ("POST", f"{base}", h),
        ("PUT", f"{base}/{c}-new", h),
        ("POST", f"{base}/{c}/", {"Content-Type": "multipart/form-data; boundary=xyz"}),
        ("COPY", f"{base}/{c}/o", {**h, "Destination": f"{c}/copied"}),
    ]


@pytest.mark.parametrize("mode", ["oversized", "truncated", "chunked-unfinished"])
def test_object_write_routes_never_5xx_on_bad_bodies(cloud, new_account, mode):
    """Every Object Storage write route (object PUT, SLO manifest PUT, archive extraction,
    bulk delete, metadata POSTs, container PUT, form POST, COPY) with a 2 MiB body, a short
    body or an unfinished chunked body: never a 5xx."""
    acct = new_account()
    bad = _check_routes(cloud.base_url, _object_routes(acct), mode)
    assert not bad, "\n".join(bad)


# ---- NUL in paths --------------------------------------------------------------------------------

def test_nul_in_any_path_is_a_4xx(cloud, new_account, glance):
    """%00 anywhere in a path is a 4xx in every service: Swift's proxy refuses it (412,
    constraints.check_utf8), Keystone and Glance find no such resource (404) or refuse the
    request (400)."""
    acct = new_account()
    c = acct.put_container()
    img = glance.user()
    ibase = urlparse(img.url).path
    obase = urlparse(acct.url).path
    ih = {"X-Auth-Token": img.token, "Accept": "application/json"}
    oh = {"X-Auth-Token": acct.token}
    kh = {"X-Auth-Token": cloud.admin_token()}
    checks = [
        ("GET", "/identity/v3/projects/%00", kh), ("GET", "/identity/v3/users/x%00y", kh),
        ("DELETE", "/identity/v3/roles/%00", kh), ("GET", "/identity/v3/%00", kh),
        ("GET", "/identity/v3/auth/tokens%00", kh),
        ("GET", f"{ibase}/v2/images/%00", ih), ("GET", f"{ibase}/v2/%00", ih),
        ("PUT", f"{ibase}/v2/images/%00/tags/%00", ih),
        ("GET", f"{obase}/%00", oh), ("PUT", f"{obase}/{c}/a%00", oh), ("GET", f"{obase}/{c}/%00/b", oh),
        ("GET", f"{obase}%00", oh), ("GET", "/object/v1/AUTH_%00", oh),
        ("GET", "/%00", {}), ("GET", "/info%00", {}),
    ]
    bad = []
    for method, path, h in checks:
        r = raw_request(cloud.base_url, method, path, h, b"x" if method == "PUT" else b"")
        if not 400 <= r.status < 500:
            bad.append(f"{method} {path}: {r.status} {r.text[:100]!r}")
    assert not bad, "\n".join(bad)
    assert acct.names(c) == []
