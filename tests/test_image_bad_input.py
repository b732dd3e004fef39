"""Bad input gets a clear 4xx in Glance's error format, never a 5xx, and changes nothing.

Requests go out with `Accept: application/json` (as Tempest sends), so every error body is
{"message", "code", "title"} (§12.1).  Expected behaviour: docs/research/glance-v2.md
§1 (routes), §3 (create), §4 (update), §5 (list), §6 (data), §12 (errors)."""

import uuid

import pytest

from conftest import unique
from image_support import Glance, assert_error, md5hex, pattern


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


@pytest.fixture
def c(glance):
    return glance.user()


# ---- create (§3) ---------------------------------------------------------------------

BAD_CREATE_BODIES = [
    ({"disk_format": "floppy"}, 400, "does not match schema 'image'"),
    ({"container_format": "wrong"}, 400, "does not match schema 'image'"),
    ({"visibility": "everyone"}, 400, "does not match schema 'image'"),
    ({"name": "n" * 256}, 400, "does not match schema 'image'"),
    ({"min_disk": -1}, 400, "Cannot be a negative value"),
    ({"min_ram": 2147483648}, 400, "must not exceed 2147483647"),
    ({"min_ram": "lots"}, 400, "does not match schema 'image'"),
    ({"protected": "yes"}, 400, "does not match schema 'image'"),
    ({"id": "not-a-uuid"}, 400, "does not match schema 'image'"),
    ({"tags": ["t" * 256]}, 400, "does not match schema 'image'"),
    ({"nimbus_number": 5}, 400, "does not match schema 'image'"),      # extra properties are strings
    ({"k" * 256: "v"}, 400, "Custom property should not be greater than 255 characters."),
    ({"os_glance_foo": "bar"}, 403, "Attribute 'os_glance_foo' is reserved."),
    ({"status": "active"}, 403, "Attribute 'status' is read-only."),
    ({"checksum": "0" * 32}, 403, "Attribute 'checksum' is read-only."),
    ({"size": 5}, 403, "Attribute 'size' is read-only."),
    ({"created_at": "2020-01-01T00:00:00Z"}, 403, "Attribute 'created_at' is read-only."),
    ({"self": "/v2/images/x"}, 403, "Attribute 'self' is read-only."),
    ({"file": "/v2/images/x/file"}, 403, "Attribute 'file' is read-only."),
    ({"tags": [f"t{i}" for i in range(129)]}, 413, "Attempted: 129, Maximum: 128"),
]


def _every(cases, check):
    """Run check(*case) for every case (one user for all: fast); report every failure."""
    failures = []
    for case in cases:
        try:
            check(*case)
        except AssertionError as e:
            failures.append(f"{str(case)[:120]}: {str(e)[:600]}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def test_bad_create_bodies(c):
    def check(fields, status, fragment):
        body = {"name": unique("bad"), **fields}
        r = c.create_response(body)
        assert_error(r, status, fragment)
        assert c.list_ids(name=body["name"]) == [], "a refused create left an image behind"
    _every(BAD_CREATE_BODIES, check)


def test_name_of_255_characters_is_fine(c):
    prefix = unique("ok")
    name = prefix + "n" * (255 - len(prefix))
    assert len(name) == 255
    img = c.create(name=name)
    assert c.get(img["id"])["name"] == name


def test_malformed_and_missing_bodies(c):
    r = c.req("POST", "/v2/images", data="{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "Malformed JSON in request body.")
    r = c.req("POST", "/v2/images", data="", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "Body expected in request.")
    r = c.req("POST", "/v2/images", data="123", headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    iid = c.create(name=unique("img"))["id"]
    for body in ("{not json", '{"op": "replace"}', '["replace"]'):
        assert_error(c.patch(iid, body), 400)


def test_duplicate_id_is_409(c):
    first = c.create(name=unique("img"))
    r = c.create_response(id=first["id"], name=unique("img"))
    assert_error(r, 409, f"Image ID {first['id']} already exists!")
    # also once it is deleted: ids are never reused
    assert c.req("DELETE", f"/v2/images/{first['id']}").status_code == 204
    assert_error(c.create_response(id=first["id"], name=unique("img")), 409, "already exists")


def test_member_cannot_create_for_another_project(c, glance):
    other = glance.user()
    r = c.create_response(name=unique("img"), owner=other.project_id)
    assert_error(r, 403, f"You are not permitted to create images owned by '{other.project_id}'")


# ---- missing images and routes (§1) --------------------------------------------------

def test_missing_images_are_404(c):
    missing = str(uuid.uuid4())
    assert_error(c.req("GET", f"/v2/images/{missing}"), 404)
    assert_error(c.patch(missing, [{"op": "replace", "path": "/name", "value": "x"}]), 404)
    assert_error(c.req("DELETE", f"/v2/images/{missing}"), 404)
    assert_error(c.download(missing), 404)
    assert_error(c.upload(missing, b"x"), 404)
    # any string is just an id that does not exist, even a long one (never 400)
    for odd in ("not-a-uuid", "x" * 40):
        assert_error(c.req("GET", f"/v2/images/{odd}"), 404)
    # an empty id never matches (Tempest test_get_image_null_id / test_delete_image_null_id)
    assert_error(c.req("GET", "/v2/images/"), 404)
    assert_error(c.req("DELETE", "/v2/images/"), 404)


def test_wrong_method_is_405(c):
    r = c.req("PUT", "/v2/images", json={})
    assert_error(r, 405)
    allowed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allowed == {"GET", "POST"}, r.headers


def test_body_on_get_is_400(c):
    iid = c.create(name=unique("img"))["id"]
    r = c.req("GET", f"/v2/images/{iid}", data="{}", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "A body is not expected with this request.")


# ---- PATCH (§4) ---------------------------------------------------------------------------

def test_bad_patches(c):
    img = c.create(name=unique("img"))
    iid = img["id"]
    cases = [
        ({"op": "replace", "path": "/name", "value": "n" * 256}, 400),
        ({"op": "replace", "path": "/visibility", "value": "everyone"}, 400),
        ({"op": "replace", "path": "/min_disk", "value": -1}, 400),
        ({"op": "move", "path": "/name", "value": "x"}, 400),
        ({"path": "/name", "value": "x"}, 400),
        ({"op": "replace", "value": "x"}, 400),
        ({"op": "replace", "path": "name", "value": "x"}, 400),          # no leading /
        ({"op": "replace", "path": "/name/", "value": "x"}, 400),        # trailing /
        ({"op": "replace", "path": "//name", "value": "x"}, 400),
        ({"op": "replace", "path": "/a~2b", "value": "x"}, 400),        # bad escape
        ({"op": "replace", "path": "/name/deeper", "value": "x"}, 400),  # wrong depth
        ({"op": "replace", "path": "/name"}, 400),                       # no value
        ({"op": "add", "path": "/nimbus_num", "value": 5}, 400),         # not a string
        ({"op": "add", "path": "/os_glance_x", "value": "y"}, 403),
        ({"op": "replace", "path": "/status", "value": "active"}, 403),
    ]
    _every(cases, lambda op, status: assert_error(c.patch(iid, [op]), status))
    assert_error(c.patch(iid, {"op": "replace", "path": "/name", "value": "x"}), 400)   # not an array
    assert_error(c.patch(iid, ["replace"]), 400)                                         # not objects
    assert c.get(iid) == img


# ---- data (§6) -----------------------------------------------------------------------------

def test_upload_errors(c):
    data = pattern(1000, seed=71)
    # no formats yet: 400, and the image stays queued
    iid = c.create(name=unique("img"))["id"]
    assert_error(c.upload(iid, data), 400,
                 "Properties disk_format, container_format must be set prior to saving data.")
    img = c.get(iid)
    assert img["status"] == "queued" and img["size"] is None, img

    iid = c.create(name=unique("img"), disk_format="raw", container_format="bare")["id"]
    # wrong or missing Content-Type: 415
    assert_error(c.upload(iid, data, content_type="application/json"), 415, "Invalid content type")
    assert_error(c.upload(iid, data, content_type=None), 415)
    assert c.get(iid)["status"] == "queued"
    # a bad size header: 400
    assert_error(c.upload(iid, data, headers={"x-openstack-image-size": "big"}), 400)
    assert c.get(iid)["status"] == "queued"
    # active images take no more data: 409, data unchanged
    c.upload_ok(iid, data)
    assert_error(c.upload(iid, pattern(10, seed=72)), 409, "Image status transition from active to saving")
    img = c.get(iid)
    assert img["status"] == "active" and img["checksum"] == md5hex(data) and img["size"] == len(data), img
    assert c.download(iid).content == data
    # upload to a deactivated image: 409 as well
    assert c.req("POST", f"/v2/images/{iid}/actions/deactivate").status_code == 204
    assert_error(c.upload(iid, data), 409)
    # download preferring a store that is not configured (multi-store mode, the default)
    assert c.req("POST", f"/v2/images/{iid}/actions/reactivate").status_code == 204
    assert_error(c.download(iid, params={"prefer": "store1"}), 400, "Store 'store1' is not configured.")
    assert c.download(iid, params={"prefer": "object,file"}).content == data


# ---- list parameters (§5.1) ------------------------------------------------------------------

BAD_LIST_PARAMETERS = [
    ({"limit": "abc"}, "limit param must be an integer"),
    ({"limit": "-1"}, "limit param must be positive"),
    ({"sort_key": "bogus"}, "Invalid sort key: bogus"),
    ({"sort_dir": "up"}, "Invalid sort direction"),
    ({"marker": "5b4f1d5e-0000-4000-8000-0000000000aa"}, "No image found with ID"),
    ({"visibility": "everyone"}, "Invalid visibility value"),
    ({"member_status": "maybe"}, "Invalid status"),
    ({"os_hidden": "maybe"}, "Invalid value 'maybe' for 'os_hidden' filter."),
    ({"protected": "maybe"}, "Invalid value 'maybe' for 'protected' filter."),
    ({"size_min": "big"}, "Unable to filter on a range with a non-numeric value."),
    ({"status": "like:active"}, "Unable to filter by unknown operator 'like'."),
    ({"name": "foo:bar"}, "Unable to filter by unknown operator 'foo'."),
    ({"created_at": "gt:yesterday"}, 'Bad "created_at" query filter format.'),
    ({"changes-since": "2020-01-01T00:00:00Z"}, 'The "changes-since" filter is no longer available on v2.'),
]


def test_bad_list_parameters(c):
    _every(BAD_LIST_PARAMETERS,
           lambda params, fragment: assert_error(c.req("GET", "/v2/images", params=params), 400, fragment))


def test_filter_values_with_colons_need_eq(c):
    name = unique("a") + ":b"
    img = c.create(name=name)
    assert c.list_ids(name=f"eq:{name}") == [img["id"]]
    assert c.list_ids(name=f'in:"{name}"') == [img["id"]]


# ---- error body negotiation (§12.1) ------------------------------------------------------------

def test_error_format_follows_accept(c):
    missing = f"/v2/images/{uuid.uuid4()}"
    r = c.req("GET", missing)                                    # Accept: application/json
    body = assert_error(r, 404)
    assert body["message"].startswith("No image found with ID") or \
        body["message"].startswith("The resource could not be found."), body
    r = c.req("GET", missing, headers={"Accept": None})          # no Accept at all
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    assert r.text.startswith("404 Not Found\n\n"), r.text
    r = c.req("GET", missing, headers={"Accept": ""})            # what openstacksdk sends on PATCH/upload
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain"), r.headers
    r = c.req("GET", missing, headers={"Accept": "*/*"})         # python-requests' default
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html"), r.headers
    assert "404 Not Found" in r.text


def test_odd_sort_values_are_400s_not_crashes(glance):
    """`sort=:` once crashed the server (an empty key); repeated keys are harmless."""
    c = glance.user()
    for value in (":", "a,:", "::", ",", "name:"):
        r = c.req("GET", "/v2/images", params={"sort": value})
        assert r.status_code == 400, (value, r.status_code, r.text)
    r = c.req("GET", "/v2/images", params=[("sort_key", "id")] * 300 + [("marker", c.create()["id"])])
    assert r.status_code == 200, r.text
    # the server is still up
    assert c.req("GET", "/v2/images").status_code == 200
