"""Interoperable image import (glance-direct), discovery (/v2/info/import, /v2/info/stores,
/v2/info/usage), through plain requests and `openstack image create --import`,
`image stage`, `image import`, `image import info`.

Nimbus runs in multi-store mode by default (stores file and object, default file), so imports
without `stores`/`all_stores` land in the default store; tests/test_image_stores.py covers the
stores themselves, copy-image, the image tasks API and the single-store mode.

Expected behaviour: docs/research/glance-v2.md §7 (stage, import, info) and §14 (usage)."""

import pytest

from conftest import unique
from image_support import (DEFAULT_STORE, IMPORT_METHODS, STORE_IDS, Glance, assert_error, md5hex, pattern,
                           sha512hex)


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


def _assert_imported(img, data, stores=DEFAULT_STORE):
    """§7.3 end state of a successful glance-direct import (multi-store: into `stores`)."""
    assert img["status"] == "active", img
    assert img.get("stores") == stores, img
    assert img["size"] == len(data), img
    assert img["checksum"] == md5hex(data), img
    assert img["os_hash_algo"] == "sha512" and img["os_hash_value"] == sha512hex(data), img
    assert img.get("os_glance_importing_to_stores") == "", img
    assert img.get("os_glance_failed_import") == "", img
    assert "os_glance_import_task" not in img, img
    assert "os_glance_stage_host" not in img, img


# ---- discovery ---------------------------------------------------------------------------

def test_import_info_stores_and_usage(glance):
    c = glance.user()
    r = c.req("GET", "/v2/info/import")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json() == {"import-methods": {"description": "Import methods available.", "type": "array",
                                           "value": IMPORT_METHODS}}, r.json()
    out = c.cli("image", "import", "info", "-f", "json")
    assert out["import-methods"] == IMPORT_METHODS, out
    assert "web-download" not in out["import-methods"]

    # multi-store (the default): the stores for anyone, their details for the admin (§7.6;
    # the shapes are in test_image_stores.py, single-store's 404 too)
    r = c.req("GET", "/v2/info/stores")
    assert r.status_code == 200, (r.status_code, r.text)
    assert [s["id"] for s in r.json()["stores"]] == STORE_IDS, r.json()
    assert_error(c.req("GET", "/v2/info/stores/detail"), 403)
    r = glance.admin.req("GET", "/v2/info/stores/detail")
    assert r.status_code == 200, (r.status_code, r.text)
    assert [s["id"] for s in r.json()["stores"]] == STORE_IDS, r.json()

    # §14: {"usage": {}} without unified limits; with them, {resource: {limit, usage}}
    r = c.req("GET", "/v2/info/usage")
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"usage"} and isinstance(body["usage"], dict), body
    assert set(body["usage"]) <= {"image_size_total", "image_count_total", "image_stage_total",
                                  "image_count_uploading"}, body
    for value in body["usage"].values():
        assert set(value) == {"limit", "usage"}, body
        assert isinstance(value["limit"], int) and isinstance(value["usage"], int), body


# ---- glance-direct ------------------------------------------------------------------------

def test_glance_direct_import(glance):
    c = glance.user()
    data = pattern(96 * 1024 + 5, seed=61)
    img = c.create(name=unique("imp"), disk_format="raw", container_format="bare")
    iid = img["id"]

    r = c.stage(iid, data)
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    staged = c.get(iid)
    assert staged["status"] == "uploading", staged
    assert staged["size"] == len(data) and staged["checksum"] is None, staged
    # no data to download yet
    r = c.download(iid)
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.content[:100])

    r = c.import_(iid, {"method": {"name": "glance-direct"}})
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.content == b"", r.content
    img = c.wait_stores(iid, DEFAULT_STORE)
    _assert_imported(img, data)
    r = c.download(iid)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-MD5"] == md5hex(data)


def test_import_via_cli_create(glance, tmp_path):
    """`image create --import`: create, PUT /stage, POST /import (openstacksdk)."""
    c = glance.user()
    data = pattern(128 * 1024, seed=62)
    src = tmp_path / "in.raw"
    src.write_bytes(data)
    out = c.cli("image", "create", "--import", "--file", src, "--disk-format", "raw",
                "--container-format", "bare", unique("imp"), "-f", "json")
    iid = glance.track(out["id"])
    assert out["status"] in ("uploading", "importing", "active"), out
    _assert_imported(c.wait_stores(iid, DEFAULT_STORE), data)
    assert c.download(iid).content == data


def test_stage_and_import_via_cli(glance, tmp_path):
    c = glance.user()
    data = pattern(64 * 1024, seed=63)
    src = tmp_path / "in.raw"
    src.write_bytes(data)
    iid = c.create(name=unique("imp"), disk_format="raw", container_format="bare")["id"]
    c.cli("image", "stage", "--file", src, iid)
    assert c.get(iid)["status"] == "uploading"
    # the CLI's default (--allow-failure) sends all_stores_must_succeed=false, which only a
    # multi-store Glance accepts (§7.2 row 18; single-store's 400 is in test_image_stores.py)
    c.cli("image", "import", "--method", "glance-direct", iid, "-f", "json")
    _assert_imported(c.wait_stores(iid, DEFAULT_STORE), data)

    # --disallow-failure (all_stores_must_succeed=true) and --store pick the store
    iid = c.create(name=unique("imp"), disk_format="raw", container_format="bare")["id"]
    c.cli("image", "stage", "--file", src, iid)
    c.cli("image", "import", iid, "--method", "glance-direct", "--store", "object", "--disallow-failure")
    _assert_imported(c.wait_stores(iid, "object"), data, stores="object")


# ---- errors -----------------------------------------------------------------------------------

def test_import_errors(glance):
    c = glance.user()
    other = glance.user()
    data = pattern(4096, seed=64)
    iid = c.create(name=unique("imp"), disk_format="raw", container_format="bare")["id"]

    # body problems (§7.2 rows 1-3)
    assert_error(c.req("POST", f"/v2/images/{iid}/import"), 400)
    assert_error(c.import_(iid, {}), 400, "Import request requires a 'method' field.")
    assert_error(c.import_(iid, {"method": {}}), 400, "Import request requires a 'name' field.")
    assert_error(c.import_(iid, "{not json"), 400, "Malformed JSON in request body.")
    assert_error(c.import_(iid, {"method": {"name": "web-download", "uri": "http://example.com/x"}}),
                 400, "Unknown import method name 'web-download'.")
    assert_error(c.import_(iid, {"method": {"name": "glance-direct"}, "all_stores": "yes"}), 400,
                 "'all_stores' must be boolean value only")
    # not staged yet
    assert_error(c.import_(iid, {"method": {"name": "glance-direct"}}), 409,
                 "Image needs to be staged before 'glance-direct' method can be used")
    # copy-image wants an active image
    assert_error(c.import_(iid, {"method": {"name": "copy-image"}}), 409,
                 "Only images with status active can be targeted for copying")
    assert c.get(iid)["status"] == "queued"

    # staged: other projects cannot see it
    assert c.stage(iid, data).status_code == 204
    assert_error(other.import_(iid, {"method": {"name": "glance-direct"}}), 404)
    assert c.get(iid)["status"] == "uploading"
    assert c.import_(iid, {"method": {"name": "glance-direct"}}).status_code == 202
    _assert_imported(c.wait_stores(iid, DEFAULT_STORE), data)

    # an active image is not a target for glance-direct; copy-image is admin-only
    assert_error(c.import_(iid, {"method": {"name": "glance-direct"}}), 409,
                 "Image with status active cannot be target for import")
    assert_error(c.import_(iid, {"method": {"name": "copy-image"}, "all_stores": True}), 403)
    # a missing image
    assert_error(c.import_("5b4f1d5e-0000-4000-8000-000000000000", {"method": {"name": "glance-direct"}}), 404)


def test_stage_errors(glance):
    c = glance.user()
    other = glance.user()
    data = pattern(2048, seed=65)
    iid = c.create(name=unique("stg"), disk_format="raw", container_format="bare")["id"]
    assert_error(c.stage(iid, data, content_type="application/json"), 415)
    assert_error(c.stage(iid, data, content_type=None), 415)
    assert_error(other.stage(iid, data), 404)
    assert c.get(iid)["status"] == "queued"
    assert c.stage(iid, data).status_code == 204
    # staged once is enough
    assert_error(c.stage(iid, data), 409)
    # and a direct upload is refused while uploading
    assert_error(c.upload(iid, data), 409)
    assert c.get(iid)["status"] == "uploading"
    # deleting a staged image works
    r = c.req("DELETE", f"/v2/images/{iid}")
    assert r.status_code == 204, (r.status_code, r.text)
    assert_error(c.req("GET", f"/v2/images/{iid}"), 404)

    # stage does not need formats, import does (§7.1, §7.2 row 11)
    for fields, missing in (({"disk_format": "raw"}, "container_format"),
                            ({"container_format": "bare"}, "disk_format"),
                            ({}, "container_format")):
        half = c.create(name=unique("stg"), **fields)["id"]
        assert c.stage(half, data).status_code == 204
        assert c.get(half)["status"] == "uploading"
        assert_error(c.import_(half, {"method": {"name": "glance-direct"}}), 409,
                     f"'{missing}' needs to be set before import")
        # formats can no longer change once the image left `queued`
        assert_error(c.patch(half, [{"op": "add", "path": f"/{missing}", "value": "raw" if missing ==
                                     "disk_format" else "bare"}]), 403)

    # an active image cannot be staged
    act = c.active_image(data)["id"]
    assert_error(c.stage(act, data), 409)
    assert c.get(act)["status"] == "active"
