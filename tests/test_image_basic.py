"""Image service (Glance v2) basics: catalog, version document, schemas, create/show/
list/delete and set/unset through the `openstack` CLI, JSON-patch in both media types,
tags, protected images, deactivate/reactivate.

Expected behaviour: docs/research/glance-v2.md (cited as §N), read from Glance's source."""

import copy
import os
import uuid

import pytest
import requests

from conftest import assert_forbidden, unique
from image_support import (CORE_FIELDS, DEFAULT_CONTAINER_FORMATS, DEFAULT_DISK_FORMATS,
                           EXPECTED_VERSIONS, IMAGE_SCHEMA, MEMBERS_SCHEMA, MEMBER_SCHEMA, PATCH20,
                           PATCH21, REQUEST_ID_RE, Glance, assert_error, assert_image_shape,
                           image_endpoint, md5hex, pattern, sha512hex)


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


# ---- catalog, versions, auth ----------------------------------------------------

def test_catalog_has_image_service_at_unversioned_url(cloud):
    _, body = cloud.token("admin", cloud.admin_password, "admin")
    services = [s for s in body["token"]["catalog"] if s["type"] == "image"]
    assert len(services) == 1, services
    assert services[0]["name"] == "glance", services[0]
    # §0: unversioned URL, like devstack
    assert image_endpoint(body) == f"{cloud.base_url}/image"


def _assert_version_list(body, base_url):
    assert set(body) == {"versions"}, body
    got = [(v["id"], v["status"]) for v in body["versions"]]
    assert got == EXPECTED_VERSIONS, got
    for v in body["versions"]:
        # absolute, with the /image prefix: keystoneauth follows it (§1.2)
        assert v["links"] == [{"rel": "self", "href": f"{base_url}/image/v2/"}], v


def test_version_document_without_token(cloud):
    for path in ("/image", "/image/"):
        r = requests.get(cloud.base_url + path, timeout=30, allow_redirects=False)
        assert r.status_code == 300, (path, r.status_code, r.text)   # Tempest wants exactly 300
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        _assert_version_list(r.json(), cloud.base_url)
    r = requests.get(f"{cloud.base_url}/image/versions", timeout=30, allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    _assert_version_list(r.json(), cloud.base_url)
    # an unknown version is answered with the version list, still without a token
    r = requests.get(f"{cloud.base_url}/image/v1/images", timeout=30, allow_redirects=False)
    assert r.status_code == 300, (r.status_code, r.text)
    _assert_version_list(r.json(), cloud.base_url)


def test_v2_needs_a_valid_token(glance):
    c = glance.user()
    for path in ("/v2/images", "/v2/schemas/image", "/v2/info/import"):
        r = c.req("GET", path, token=None)
        assert r.status_code == 401, (path, r.status_code, r.text)
        # keystonemiddleware's body, JSON whatever the Accept (§12.1)
        assert r.json() == {"error": {"code": 401, "title": "Unauthorized",
                                      "message": "The request you have made requires authentication."}}, r.text
        assert r.headers["WWW-Authenticate"].startswith("Keystone uri="), r.headers
        assert "/identity" in r.headers["WWW-Authenticate"], r.headers
    r = c.req("GET", "/v2/images", token="not-a-valid-token")
    assert r.status_code == 401, (r.status_code, r.text)


def test_request_ids(glance):
    c = glance.user()
    r = c.req("GET", "/v2/images")
    assert REQUEST_ID_RE.match(r.headers.get("x-openstack-request-id", "")), r.headers
    # a client-supplied id is reused (§1.1)
    mine = f"req-{uuid.uuid4()}"
    r = c.req("GET", "/v2/images", headers={"X-Openstack-Request-ID": mine})
    assert r.status_code == 200
    assert r.headers.get("x-openstack-request-id") == mine, r.headers


# ---- schemas (§10, appendices A and B) --------------------------------------------

def _without_format_enums(schema):
    s = copy.deepcopy(schema)
    for key in ("disk_format", "container_format"):
        s["properties"][key].pop("enum", None)
    return s


def _assert_format_enum(prop, defaults):
    enum = prop["enum"]
    assert enum[0] is None, enum           # [null] + the configured list
    assert set(defaults) <= set(enum[1:]), (defaults, enum)
    assert len(enum) == len(set(enum)), enum


def test_image_and_member_schemas(glance):
    c = glance.user()
    r = c.req("GET", "/v2/schemas/image")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    image_schema = r.json()
    assert _without_format_enums(image_schema) == _without_format_enums(IMAGE_SCHEMA)
    _assert_format_enum(image_schema["properties"]["disk_format"], DEFAULT_DISK_FORMATS)
    _assert_format_enum(image_schema["properties"]["container_format"], DEFAULT_CONTAINER_FORMATS)

    r = c.req("GET", "/v2/schemas/images")
    assert r.status_code == 200, (r.status_code, r.text)
    images = r.json()
    assert images["name"] == "images"
    assert images["properties"]["images"] == {"type": "array", "items": image_schema}
    for key in ("first", "next", "schema"):
        assert images["properties"][key] == {"type": "string"}, images["properties"][key]
    assert images["links"] == [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                               {"rel": "describedby", "href": "{schema}"}]

    r = c.req("GET", "/v2/schemas/member")
    assert r.status_code == 200 and r.json() == MEMBER_SCHEMA, r.text
    r = c.req("GET", "/v2/schemas/members")
    assert r.status_code == 200 and r.json() == MEMBERS_SCHEMA, r.text


# ---- create / show / list / delete -----------------------------------------------

def test_create_show_list_delete_via_cli(glance, tmp_path):
    c = glance.user()
    data = os.urandom(64 * 1024 + 7)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    name = unique("img")
    out = c.cli("image", "create", "--file", path, "--disk-format", "raw", "--container-format", "bare",
                "--property", "nimbus_note=hello world", "--property", "os_distro=nimbuslinux",
                "--min-disk", "1", "--min-ram", "64", "--tag", "first", name, "-f", "json")
    image_id = glance.track(out["id"])
    assert out["name"] == name and out["status"] == "active", out
    assert out["size"] == len(data) and out["checksum"] == md5hex(data), out
    assert (out["disk_format"], out["container_format"]) == ("raw", "bare"), out
    assert (out["min_disk"], out["min_ram"]) == (1, 64), out
    assert out["visibility"] == "shared", out       # the default (§2.1)
    assert out["protected"] is False and out["owner"] == c.project_id, out
    assert out["tags"] == ["first"], out
    assert out["properties"]["nimbus_note"] == "hello world", out
    assert out["properties"]["os_distro"] == "nimbuslinux", out

    img = c.get(image_id)
    assert_image_shape(img)
    assert img["status"] == "active" and img["size"] == len(data)
    assert img["checksum"] == md5hex(data)
    assert img["os_hash_algo"] == "sha512" and img["os_hash_value"] == sha512hex(data)
    assert img["virtual_size"] == len(data)   # raw: the inspector's virtual size is the byte count (§6.5)
    assert img["nimbus_note"] == "hello world" and img["os_distro"] == "nimbuslinux"
    # openstacksdk's own bookkeeping properties (dotted keys) are stored as given
    assert img["owner_specified.openstack.object"] == f"images/{name}", img
    assert img["created_at"] <= img["updated_at"]

    shown = c.cli("image", "show", name, "-f", "json")      # by name: GET 404, then list ?name=
    assert shown["id"] == image_id and shown["checksum"] == md5hex(data), shown
    listed = c.cli("image", "list", "-f", "json")
    assert {"ID": image_id, "Name": name, "Status": "active"} in listed, listed

    c.cli("image", "delete", name)
    assert c.status_of(image_id) == 404
    assert image_id not in c.list_ids()
    r = c.req("DELETE", f"/v2/images/{image_id}")
    assert_error(r, 404)


def test_create_defaults_and_headers(glance):
    c = glance.user()
    name = unique("img")
    r = c.create_response(name=name)
    assert r.status_code == 201, (r.status_code, r.text)
    img = r.json()
    assert set(img) == CORE_FIELDS, set(img) ^ CORE_FIELDS
    assert_image_shape(img)
    assert r.headers["Location"].endswith(f"/v2/images/{img['id']}"), r.headers
    assert r.headers["OpenStack-image-import-methods"] == "glance-direct,copy-image", r.headers
    # §3 defaults
    assert img["name"] == name and img["status"] == "queued"
    assert img["visibility"] == "shared" and img["protected"] is False and img["os_hidden"] is False
    assert img["min_disk"] == 0 and img["min_ram"] == 0 and img["tags"] == []
    for key in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
                "disk_format", "container_format"):
        assert img[key] is None, (key, img)
    assert img["owner"] == c.project_id
    assert img["created_at"] == img["updated_at"]
    assert c.get(img["id"]) == img

    # no name at all: name is null
    r = c.create_response()
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.json()["name"] is None and c.get(r.json()["id"])["name"] is None
    # a given UUID is used as the id
    wanted = str(uuid.uuid4())
    img = c.create(id=wanted, name=unique("img"))
    assert img["id"] == wanted and c.get(wanted)["id"] == wanted, img


# ---- set / unset ------------------------------------------------------------------

def test_set_and_unset_via_cli(glance):
    c = glance.user()
    img = c.create(name=unique("img"), tags=["keep"])
    new_name = unique("renamed")
    c.cli("image", "set", "--name", new_name, "--min-disk", "2", "--min-ram", "256",
          "--property", "nimbus_a=1", "--property", "nimbus_b=two", "--os-distro", "debian",
          "--architecture", "x86_64", "--tag", "t-one", "--hidden",
          "--disk-format", "qcow2", "--container-format", "bare", img["id"])
    got = c.get(img["id"])
    assert got["name"] == new_name and got["min_disk"] == 2 and got["min_ram"] == 256, got
    assert got["nimbus_a"] == "1" and got["nimbus_b"] == "two", got
    assert got["os_distro"] == "debian" and got["architecture"] == "x86_64", got
    assert sorted(got["tags"]) == ["keep", "t-one"], got
    assert got["os_hidden"] is True, got
    assert (got["disk_format"], got["container_format"]) == ("qcow2", "bare"), got
    assert got["created_at"] == img["created_at"]

    c.cli("image", "unset", "--property", "nimbus_a", "--property", "os_distro", "--tag", "t-one", img["id"])
    got = c.get(img["id"])
    assert "nimbus_a" not in got and "os_distro" not in got, got
    assert got["nimbus_b"] == "two" and got["architecture"] == "x86_64", got
    assert got["tags"] == ["keep"], got


# ---- JSON patch (§4) ----------------------------------------------------------------

def test_json_patch_v21(glance):
    c = glance.user()
    img = c.create(name=unique("img"))
    iid = img["id"]
    n2 = unique("n2")
    got = c.patch_ok(iid, [{"op": "replace", "path": "/name", "value": n2},
                           {"op": "add", "path": "/nimbus_k", "value": "v1"},
                           {"op": "replace", "path": "/min_ram", "value": 512},
                           {"op": "add", "path": "/nimbus~1slash~0tilde", "value": "esc"}])
    assert got["name"] == n2 and got["nimbus_k"] == "v1" and got["min_ram"] == 512, got
    assert got["nimbus/slash~tilde"] == "esc", got          # ~1 -> /, ~0 -> ~
    assert c.get(iid) == got
    # v2.1 add on an existing attribute or property replaces it
    n3 = unique("n3")
    got = c.patch_ok(iid, [{"op": "add", "path": "/name", "value": n3},
                           {"op": "add", "path": "/nimbus_k", "value": "v2"}])
    assert got["name"] == n3 and got["nimbus_k"] == "v2", got
    got = c.patch_ok(iid, [{"op": "remove", "path": "/nimbus_k"}])
    assert "nimbus_k" not in got, got
    # removing / replacing what is not there: 409
    assert_error(c.patch(iid, [{"op": "remove", "path": "/nimbus_k"}]), 409, "does not exist")
    assert_error(c.patch(iid, [{"op": "replace", "path": "/nimbus_missing", "value": "x"}]), 409,
                 "does not exist")
    # core attributes cannot be removed: 403
    assert_error(c.patch(iid, [{"op": "remove", "path": "/name"}]), 403, "may not be removed")
    # the first failure aborts the whole patch: nothing is saved
    r = c.patch(iid, [{"op": "replace", "path": "/name", "value": "not-saved"},
                      {"op": "remove", "path": "/nimbus_nope"}])
    assert_error(r, 409)
    assert c.get(iid)["name"] == n3
    # an empty patch is fine; media-type parameters are ignored
    assert c.patch_ok(iid, [])["name"] == n3
    r = c.patch(iid, [{"op": "replace", "path": "/name", "value": n2}], media=PATCH21 + "; charset=UTF-8")
    assert r.status_code == 200 and r.json()["name"] == n2, (r.status_code, r.text)


def test_json_patch_v20(glance):
    """The draft-4 dialect Tempest uses (images_client.update_image)."""
    c = glance.user()
    iid = c.create(name=unique("img"))["id"]
    n2 = unique("n2")
    got = c.patch_ok(iid, [{"replace": "/name", "value": n2}], media=PATCH20)
    assert got["name"] == n2
    got = c.patch_ok(iid, [{"add": "/nimbus_k", "value": "v"}], media=PATCH20)
    assert got["nimbus_k"] == "v"
    # v2.0 add never overwrites: 409 for a present property or core attribute
    assert_error(c.patch(iid, [{"add": "/nimbus_k", "value": "w"}], media=PATCH20), 409, "already present")
    assert_error(c.patch(iid, [{"add": "/name", "value": "x"}], media=PATCH20), 409, "already present")
    assert c.get(iid)["nimbus_k"] == "v"
    got = c.patch_ok(iid, [{"remove": "/nimbus_k"}], media=PATCH20)
    assert "nimbus_k" not in got
    # exactly one operation member
    assert_error(c.patch(iid, [{"replace": "/name", "remove": "/x", "value": "y"}], media=PATCH20), 400)
    assert_error(c.patch(iid, [{"value": "y"}], media=PATCH20), 400)
    assert c.get(iid)["name"] == n2


def test_json_patch_wrong_media_type_is_415(glance):
    c = glance.user()
    img = c.create(name=unique("img"))
    ops = [{"op": "replace", "path": "/name", "value": "nope"}]
    for media in ("application/json", "application/json-patch+json"):
        r = c.patch(img["id"], ops, media=media)
        body = assert_error(r, 415)
        assert f"The request media type {media} is not supported by this server." in body["message"], body
        assert ("Image PATCH expects Content-Type one of: application/openstack-images-v2.0-json-patch, "
                "application/openstack-images-v2.1-json-patch") in body["message"], body
        assert r.headers["Accept-Patch"] == f"{PATCH20}, {PATCH21}", r.headers
    assert c.get(img["id"])["name"] == img["name"]


def test_read_only_and_reserved_attributes_on_patch(glance):
    c = glance.user()
    img = c.active_image()
    iid = img["id"]
    for attr, value in (("status", "queued"), ("checksum", "0" * 32), ("size", 1), ("id", str(uuid.uuid4())),
                        ("created_at", "2020-01-01T00:00:00Z"), ("os_hash_value", "0" * 128),
                        ("self", "/x"), ("file", "/x"), ("schema", "/x")):
        r = c.patch(iid, [{"op": "replace", "path": f"/{attr}", "value": value}])
        assert_error(r, 403, f"Attribute '{attr}' is read-only.")
    for op in ("add", "replace"):
        r = c.patch(iid, [{"op": op, "path": "/os_glance_foo", "value": "bar"}])
        assert_error(r, 403, "Attribute 'os_glance_foo' is reserved.")
    # formats may only change while queued
    r = c.patch(iid, [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert_error(r, 403, "Attribute disk_format can be only replaced for a queued image.")
    assert c.get(iid) == img


# ---- tags (§9) -----------------------------------------------------------------------

def test_tags(glance):
    c = glance.user()
    iid = c.create(name=unique("img"))["id"]
    r = c.req("PUT", f"/v2/images/{iid}/tags/alpha")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    assert c.req("PUT", f"/v2/images/{iid}/tags/alpha").status_code == 204   # idempotent
    assert c.req("PUT", f"/v2/images/{iid}/tags/with%20space").status_code == 204
    assert c.req("PUT", f"/v2/images/{iid}/tags/" + "t" * 255).status_code == 204
    assert sorted(c.get(iid)["tags"]) == sorted(["alpha", "with space", "t" * 255])
    # over-long tag
    assert_error(c.req("PUT", f"/v2/images/{iid}/tags/" + "t" * 256), 400)
    r = c.req("DELETE", f"/v2/images/{iid}/tags/alpha")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    assert_error(c.req("DELETE", f"/v2/images/{iid}/tags/alpha"), 404)
    assert sorted(c.get(iid)["tags"]) == sorted(["with space", "t" * 255])
    missing = str(uuid.uuid4())
    assert_error(c.req("PUT", f"/v2/images/{missing}/tags/alpha"), 404)
    assert_error(c.req("DELETE", f"/v2/images/{missing}/tags/alpha"), 404)


# ---- protected (§2.2) ------------------------------------------------------------------

def test_protected_image_cannot_be_deleted(glance):
    c = glance.user()
    iid = c.create(name=unique("img"), protected=True)["id"]
    proc = c.cli("image", "delete", iid, check=False)
    assert proc.returncode != 0, proc.stdout
    assert "Failed to delete" in proc.stderr, proc.stderr
    assert_error(c.req("DELETE", f"/v2/images/{iid}"), 403, f"Image {iid} is protected and cannot be deleted.")
    assert c.get(iid)["protected"] is True

    c.cli("image", "set", "--unprotected", iid)
    assert c.get(iid)["protected"] is False
    r = c.req("DELETE", f"/v2/images/{iid}")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    assert_error(c.req("GET", f"/v2/images/{iid}"), 404)
    assert_error(c.req("DELETE", f"/v2/images/{iid}"), 404)


# ---- deactivate / reactivate (§1.3, §6.2, §11) -----------------------------------------

def test_deactivate_and_reactivate(glance):
    c = glance.user()
    data = pattern(4096, seed=7)
    iid = c.active_image(data)["id"]

    c.cli("image", "set", "--deactivate", iid)     # the owner (member role) may do it
    assert c.get(iid)["status"] == "deactivated"
    assert_error(c.download(iid), 403,
                 "The requested image has been deactivated. Image data download is forbidden.")
    r = glance.admin.download(iid)                  # admin still may download
    assert r.status_code == 200 and r.content == data, (r.status_code, len(r.content))
    # deactivating a deactivated image is fine
    assert c.req("POST", f"/v2/images/{iid}/actions/deactivate").status_code == 204

    c.cli("image", "set", "--activate", iid)
    assert c.get(iid)["status"] == "active"
    r = c.download(iid)
    assert r.status_code == 200 and r.content == data
    assert c.req("POST", f"/v2/images/{iid}/actions/reactivate").status_code == 204

    # only active/deactivated images: a queued one is refused
    q = c.create(name=unique("queued"))["id"]
    assert_error(c.req("POST", f"/v2/images/{q}/actions/deactivate"), 403)
    assert_error(c.req("POST", f"/v2/images/{q}/actions/reactivate"), 403)
    assert c.get(q)["status"] == "queued"

    # another project can neither see nor deactivate it
    other = glance.user()
    assert_error(other.req("POST", f"/v2/images/{iid}/actions/deactivate"), 404)
    assert c.get(iid)["status"] == "active"


def test_member_cannot_publicize_via_cli(glance):
    c = glance.user()
    iid = c.create(name=unique("img"), visibility="private")["id"]
    assert_forbidden(c.cli("image", "set", "--public", iid, check=False))
    assert c.get(iid)["visibility"] == "private"
