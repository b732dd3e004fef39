"""Adversarial: oversized and truncated request bodies on the Image service's JSON routes
(Glance v2).

Glance answers errors in its webob fault format (glance/common/wsgi.py, JSON when the
client accepts it: {"message", "code", "title"}).  Nimbus caps JSON bodies at 1 MiB and
answers 413 for more (Glance itself has no such cap: it would read the body and refuse
it by its schema or quotas -- never with a 500); a body that ends before its
Content-Length or before its last chunk is a malformed request: 400 (webob/eventlet read
a short body, glance/common/wsgi.py JSONRequestDeserializer fails to parse it).
"""

from __future__ import annotations

import json

import pytest

from adversarial_support import raw_request
from image_support import PATCH21, Glance, assert_error

BIG = 1 << 20


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


@pytest.fixture
def setup(glance):
    owner = glance.user()
    other = glance.user()
    img = owner.create(disk_format="raw", container_format="bare")
    shared = owner.create(visibility="shared")
    assert owner.add_member(shared["id"], other.project_id).status_code == 200
    return owner, other, img, shared


def _routes(owner, other, img, shared):
    """(name, method, path, content type, body-of-about-n-bytes maker) for every JSON write."""
    def obj(n):
        return json.dumps({"name": "x", "pad": "y" * n}).encode()

    def patch(n):
        return json.dumps([{"op": "replace", "path": "/name", "value": "y" * n}]).encode()

    def member(n):
        return json.dumps({"member": other.project_id, "pad": "y" * n}).encode()

    def status(n):
        return json.dumps({"status": "accepted", "pad": "y" * n}).encode()

    def imp(n):
        return json.dumps({"method": {"name": "glance-direct"}, "pad": "y" * n}).encode()

    return [
        ("create", owner, "POST", "/v2/images", "application/json", obj),
        ("patch", owner, "PATCH", f"/v2/images/{img['id']}", PATCH21, patch),
        ("member-add", owner, "POST", f"/v2/images/{shared['id']}/members", "application/json", member),
        ("member-update", other, "PUT", f"/v2/images/{shared['id']}/members/{other.project_id}",
         "application/json", status),
        ("import", owner, "POST", f"/v2/images/{img['id']}/import", "application/json", imp),
    ]


ROUTE_NAMES = ["create", "patch", "member-add", "member-update", "import"]


def _route(setup, name):
    for r in _routes(*setup):
        if r[0] == name:
            return r
    raise KeyError(name)


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_json_body_over_1_mib_is_413_in_glance_format(setup, name):
    """A JSON body over 1 MiB on image create, PATCH, member create/update and import is
    refused with 413 in Glance's error format (JSON {"message", "code": "413 Request Entity
    Too Large", "title"}), not an HTML 500; the image is unchanged."""
    _, client, method, path, ctype, body = _route(setup, name)
    data = body(BIG + 1024)
    r = client.req(method, path, data=data, headers={"Content-Type": ctype})
    assert_error(r, 413)
    owner, _, img, _ = setup
    assert owner.get(img["id"])["name"] == img["name"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_truncated_json_body_is_400(setup, name, chunked):
    """A body that ends early -- fewer bytes than its Content-Length, or a chunked body
    without its last chunk -- then the client half-closes: 400 (a malformed request), never
    a 500, and nothing changes."""
    _, client, method, path, ctype, body = _route(setup, name)
    full = body(200)
    headers = {"X-Auth-Token": client.token, "Content-Type": ctype, "Accept": "application/json"}
    base = "/" + client.url.split("//", 1)[1].split("/", 1)[1]
    if chunked:
        r = raw_request(client.cloud.base_url, method, base + path, headers, full[: len(full) // 2],
                        chunked=True, finish_chunks=False)
    else:
        r = raw_request(client.cloud.base_url, method, base + path, headers, full[: len(full) // 2],
                        declared_length=len(full))
    assert r.status == 400, (name, r.status, r.text[:300])
    owner, _, img, _ = setup
    assert owner.get(img["id"])["name"] == img["name"]
    assert owner.get(img["id"])["status"] == "queued"
