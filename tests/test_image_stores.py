"""Multi-store image data (Glance's `enabled_backends` mode) and the image tasks API.

Nimbus's default configuration is `[image] stores = file, object`, `default_store = file`: two
stores, so it behaves as Glance with `enabled_backends` — `/v2/info/stores[/detail]`, the
`stores` field, `X-Image-Meta-Store`, imports to chosen stores, `copy-image` between the
stores, `DELETE /v2/stores/{store}/{image}` and `GET /v2/images/{id}/tasks` (v2.12).  One store
(`stores = file`) is Glance's legacy single-store mode, where none of that exists.  Driven by
plain requests, `openstack image stores list / import --method copy-image / delete --store`
and openstacksdk.

Expected behaviour: docs/research/glance-v2.md §1.2 (versions), §7 (import, tasks, stores),
read from glance/api/v2/{images,image_data,discovery}.py, glance/common/utils.py
get_stores_from_request, glance/async_/flows/api_image_import.py and Tempest's multi-store
tests and waiters (tempest/common/waiters.py)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import pytest
import requests

from conftest import assert_forbidden, unique
from image_support import (DEFAULT_STORE, EXPECTED_VERSIONS, REQUEST_ID_RE, SINGLE_STORE_VERSIONS,
                           STORE_IDS, TASK_DATE_RE, UUID_RE, Glance, assert_error, assert_image_shape,
                           md5hex, pattern, sha512hex, standalone_glance, wait_until)

BOTH = ",".join(STORE_IDS)                                  # "file,object"
GLANCE_DIRECT = {"method": {"name": "glance-direct"}}
MISSING = "5b4f1d5e-0000-4000-8000-000000000000"
TASK_KEYS = {"id", "type", "status", "owner", "expires_at", "created_at", "updated_at", "deleted_at",
             "deleted", "image_id", "request_id", "user_id", "input", "result", "message"}
TASK_ORDER = ["pending", "processing", "success"]


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


# ---- helpers -------------------------------------------------------------------------------

def _staged(c, data: bytes, **fields) -> str:
    """A raw/bare image with `data` staged (status uploading); returns its id."""
    iid = c.create(name=unique("mst"), disk_format="raw", container_format="bare", **fields)["id"]
    r = c.stage(iid, data)
    assert r.status_code == 204, (r.status_code, r.text)
    assert c.get(iid)["status"] == "uploading"
    return iid


def _follow(viewer, image_id: str, *, targets: list[str], final: str, copy: bool = False,
            tasks_of=None, before: frozenset = frozenset(), timeout: float = 30) -> tuple[dict, list[str]]:
    """Poll the image (as `viewer`) every few ms until an import into the stores `final` has
    finished, checking at every step what Glance guarantees while an import runs (§7.3):
    copy-image leaves the image `active`; `os_glance_importing_to_stores` only ever lists
    (sorted) stores still to do; `os_glance_failed_import` stays empty; `stores` only grows
    towards `final`; the lock `os_glance_import_task` is the id of the import's task.
    With `tasks_of` (a client that sees the task) the task's statuses are recorded too: they
    must only move forward (pending -> processing -> success).  Returns (image, statuses)."""
    statuses: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        img = viewer.get(image_id)
        if copy:
            assert img["status"] == "active", img
        else:
            assert img["status"] in ("uploading", "importing", "active"), img
        importing = img.get("os_glance_importing_to_stores")
        if importing:
            left = importing.split(",")
            assert left == sorted(set(left)) and set(left) <= set(targets), (targets, img)
        assert not img.get("os_glance_failed_import"), img
        if "stores" in img:
            assert set(img["stores"].split(",")) <= set(final.split(",")), (final, img)
        if tasks_of is not None:
            new = [t for t in tasks_of.tasks(image_id) if t["id"] not in before]
            assert len(new) == 1, new
            task = new[0]
            assert task["status"] in TASK_ORDER, task
            if not statuses or statuses[-1] != task["status"]:
                statuses.append(task["status"])
            if "os_glance_import_task" in img:
                assert img["os_glance_import_task"] == task["id"], (img, task)
        if (img["status"] == "active" and img.get("stores") == final and importing == ""
                and "os_glance_import_task" not in img):
            assert [TASK_ORDER.index(s) for s in statuses] == sorted(TASK_ORDER.index(s) for s in statuses), statuses
            return img, statuses
        assert time.monotonic() < deadline, f"import of {image_id} into {final} not finished: {img}"
        time.sleep(0.02)


def _wait_task_success(client, image_id: str, task_id: str) -> dict:
    def done():
        tasks = {t["id"]: t for t in client.tasks(image_id)}
        assert task_id in tasks, (task_id, tasks)
        assert tasks[task_id]["status"] != "failure", tasks[task_id]
        return tasks[task_id] if tasks[task_id]["status"] == "success" else None
    return wait_until(done, timeout=30, interval=0.05, what=f"task {task_id} to succeed")


def _parse_task_date(value: str) -> datetime:
    assert TASK_DATE_RE.match(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f")


def _assert_finished_task(task: dict, *, image_id: str, owner: str, user_id: str, request_id: str,
                          import_req: dict, backend: list) -> None:
    """A successful api_image_import task, as glance/db/sqlalchemy/api.py _task_format emits it."""
    assert set(task) == TASK_KEYS, set(task) ^ TASK_KEYS
    assert UUID_RE.match(task["id"]), task
    assert task["type"] == "api_image_import", task
    assert task["status"] == "success", task
    assert task["owner"] == owner, task
    assert task["image_id"] == image_id, task
    assert task["user_id"] == user_id, task
    assert task["request_id"] == request_id, task
    assert task["input"] == {"image_id": image_id, "import_req": import_req, "backend": backend}, task
    assert task["result"] == {"image_id": image_id}, task
    assert task["message"] == "", task
    assert task["deleted"] is False and task["deleted_at"] is None, task
    created, updated = _parse_task_date(task["created_at"]), _parse_task_date(task["updated_at"])
    expires = _parse_task_date(task["expires_at"])
    assert created <= updated < expires, task
    # expires_at = finish time + [task] task_time_to_live (48 h) (glance/domain Task.succeed)
    assert timedelta(hours=47) <= expires - updated <= timedelta(hours=49), task


def _assert_data(c, image_id: str, data: bytes) -> dict:
    """The image is active with `data`'s size and hashes, and downloads as exactly `data`."""
    img = c.get(image_id)
    assert img["status"] == "active", img
    assert img["size"] == len(data) and img["checksum"] == md5hex(data), img
    assert img["os_hash_algo"] == "sha512" and img["os_hash_value"] == sha512hex(data), img
    r = c.download(image_id)
    assert r.status_code == 200 and r.content == data, (r.status_code, len(r.content))
    assert r.headers["Content-MD5"] == md5hex(data), r.headers
    return img


def _two_store_image(glance, c, data: bytes, first: str = DEFAULT_STORE) -> dict:
    """An image of `c` uploaded to `first` and copied (by the admin) to the other store."""
    img = c.create(name=unique("mst"), disk_format="raw", container_format="bare")
    r = c.upload(img["id"], data, headers={"X-Image-Meta-Store": first})
    assert r.status_code == 204, (r.status_code, r.text)
    assert c.get(img["id"])["stores"] == first
    other = [s for s in STORE_IDS if s != first]
    glance.admin.import_ok(img["id"], {"method": {"name": "copy-image"}, "stores": other})
    return c.wait_stores(img["id"], BOTH)


# ---- discovery -------------------------------------------------------------------------------

def test_info_stores(glance):
    """GET /v2/info/stores for any user; /detail for the admin only (policy stores_info_detail)."""
    c = glance.user()
    for client in (c, glance.user("reader"), glance.admin):
        r = client.req("GET", "/v2/info/stores")
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        stores = r.json()["stores"]
        assert set(r.json()) == {"stores"}, r.json()
        assert [s["id"] for s in stores] == STORE_IDS, stores
        for s in stores:
            assert set(s) <= {"id", "description", "default"}, s
            assert isinstance(s.get("description", ""), str), s
        # `default` is the STRING "true", on the default store only (discovery.py get_stores)
        assert [s.get("default") for s in stores] == ["true" if i == DEFAULT_STORE else None for i in STORE_IDS], stores

    assert_error(c.req("GET", "/v2/info/stores/detail"), 403)
    r = glance.admin.req("GET", "/v2/info/stores/detail")
    assert r.status_code == 200, (r.status_code, r.text)
    detail = r.json()["stores"]
    assert [s["id"] for s in detail] == STORE_IDS, detail
    brief = {s["id"]: s for s in stores}
    for s in detail:
        assert set(s) - {"description", "default"} == {"id", "type", "weight", "properties"}, s
        # the /detail entry is the plain one plus type, weight and properties
        assert {k: v for k, v in s.items() if k not in ("type", "weight", "properties")} == brief[s["id"]], s
        assert s["weight"] == 0 and isinstance(s["properties"], dict), s
    assert {s["id"]: s["type"] for s in detail} == {"file": "file", "object": "swift"}, detail

    # a body is refused, other methods are 405 (router: body_reject, reject routes)
    r = c.req("POST", "/v2/info/stores", json={})
    assert r.status_code == 405, (r.status_code, r.text)


def test_stores_via_cli_and_sdk(glance):
    c = glance.user()
    listed = c.cli("image", "stores", "list", "-f", "json")
    assert [s["ID"] for s in listed] == STORE_IDS, listed
    defaults = {s["ID"]: s["Default"] for s in listed}
    assert defaults[DEFAULT_STORE] is True, listed
    assert not any(v for k, v in defaults.items() if k != DEFAULT_STORE), listed

    detailed = glance.admin.cli("image", "stores", "list", "--detail", "-f", "json")
    assert [s["ID"] for s in detailed] == STORE_IDS, detailed
    assert all(isinstance(s["Properties"], dict) for s in detailed), detailed
    assert_forbidden(c.cli("image", "stores", "list", "--detail", check=False))

    conn = c.sdk()
    try:
        stores = list(conn.image.stores())
        assert [s.id for s in stores] == STORE_IDS, stores
        assert [bool(s.is_default) for s in stores] == [i == DEFAULT_STORE for i in STORE_IDS], stores
    finally:
        conn.close()


def test_version_document_lists_the_multi_store_versions(glance, cloud):
    """§1.2: with enabled_backends Glance advertises 2.8 and 2.10-2.13 (2.12: image tasks) and
    routes those version prefixes to v2."""
    for path in ("/image", "/image/"):
        r = requests.get(cloud.base_url + path, timeout=30, allow_redirects=False)
        assert r.status_code == 300, (path, r.status_code, r.text)
        assert [(v["id"], v["status"]) for v in r.json()["versions"]] == EXPECTED_VERSIONS, r.json()
    c = glance.user()
    for prefix in ("v2.8", "v2.10", "v2.12", "v2.13"):
        r = c.req("GET", f"/{prefix}/info/stores")
        assert r.status_code == 200, (prefix, r.status_code, r.text)
        assert [s["id"] for s in r.json()["stores"]] == STORE_IDS


# ---- the stores field and uploads -------------------------------------------------------------

def test_stores_field_and_upload_to_a_store(glance):
    c = glance.user()
    data = pattern(3000, seed=101)

    r = c.create_response(name=unique("mst"), disk_format="raw", container_format="bare")
    assert r.status_code == 201, (r.status_code, r.text)
    # images.py ResponseSerializer.create: the enabled stores, in configuration order
    assert r.headers.get("OpenStack-image-store-ids") == BOTH, r.headers
    img = r.json()
    iid = img["id"]
    assert "stores" not in img, img                       # no data, no stores
    assert "stores" not in c.get(iid)
    assert_image_shape(img)

    # read-only on create and in PATCH
    assert_error(c.create_response(name=unique("mst"), stores="file"), 403, "Attribute 'stores' is read-only.")
    for op in ({"op": "add", "path": "/stores", "value": "object"},
               {"op": "replace", "path": "/stores", "value": "object"},
               {"op": "remove", "path": "/stores"}):
        assert_error(c.patch(iid, [op]), 403)
    assert "stores" not in c.get(iid)

    # an unknown store in X-Image-Meta-Store: 400, nothing happens
    assert_error(c.upload(iid, data, headers={"X-Image-Meta-Store": "nope"}), 400)
    assert c.get(iid)["status"] == "queued"

    # the default store
    c.upload_ok(iid, data)
    got = _assert_data(c, iid, data)
    assert got["stores"] == DEFAULT_STORE, got
    assert_image_shape(got)
    assert_error(c.patch(iid, [{"op": "replace", "path": "/stores", "value": BOTH}]), 403)
    assert c.get(iid)["stores"] == DEFAULT_STORE

    # X-Image-Meta-Store picks the store
    other = c.create(name=unique("mst"), disk_format="raw", container_format="bare")["id"]
    r = c.upload(other, data, headers={"X-Image-Meta-Store": "object"})
    assert r.status_code == 204, (r.status_code, r.text)
    got = _assert_data(c, other, data)
    assert got["stores"] == "object", got
    assert_image_shape(got)

    # the listing carries it too
    listed = {i["id"]: i for i in c.list(owner=c.project_id)["images"]}
    assert listed[iid]["stores"] == DEFAULT_STORE and listed[other]["stores"] == "object", listed


# ---- glance-direct into stores ------------------------------------------------------------

def test_glance_direct_import_to_all_stores(glance):
    """Tempest MultiStoresImportImagesTest.test_glance_direct_import_image_to_all_stores."""
    c = glance.user()
    data = pattern(5000, seed=102)
    iid = _staged(c, data)
    body = {"method": {"name": "glance-direct"}, "all_stores": True}
    r = c.import_ok(iid, body)
    img, statuses = _follow(c, iid, targets=STORE_IDS, final=BOTH, tasks_of=c)
    assert img["os_glance_importing_to_stores"] == "" and img["os_glance_failed_import"] == "", img
    assert "os_glance_stage_host" not in img, img
    _assert_data(c, iid, data)
    assert_image_shape(img)

    (task,) = c.tasks(iid)
    task = _wait_task_success(c, iid, task["id"])
    _assert_finished_task(task, image_id=iid, owner=c.project_id, user_id=c.user.id,
                          request_id=r.headers["x-openstack-request-id"], import_req=body,
                          backend=STORE_IDS)

    # all_stores_must_succeed=false is accepted in multi-store mode (Tempest's copy test sends it)
    data2 = pattern(2500, seed=103)
    iid2 = _staged(c, data2)
    c.import_ok(iid2, {"method": {"name": "glance-direct"}, "all_stores": True, "all_stores_must_succeed": False})
    c.wait_stores(iid2, BOTH)
    _assert_data(c, iid2, data2)


def test_glance_direct_import_to_chosen_stores(glance):
    """`stores`, else X-Image-Meta-Store, else the default store (utils.get_stores_from_request)."""
    c = glance.user()
    cases = [
        ({"method": {"name": "glance-direct"}, "stores": ["object"]}, None, "object"),
        ({"method": {"name": "glance-direct"}, "stores": ["file", "object"]}, None, BOTH),
        (GLANCE_DIRECT, {"X-Image-Meta-Store": "object"}, "object"),
        (GLANCE_DIRECT, None, DEFAULT_STORE),
        ({"method": {"name": "glance-direct"}, "all_stores": False}, None, DEFAULT_STORE),
    ]
    for n, (body, headers, final) in enumerate(cases):
        data = pattern(2048 + n, seed=110 + n)
        iid = _staged(c, data)
        r = c.import_ok(iid, body, headers=headers)
        _follow(c, iid, targets=final.split(","), final=final)
        _assert_data(c, iid, data)
        (task,) = c.tasks(iid)
        task = _wait_task_success(c, iid, task["id"])
        _assert_finished_task(task, image_id=iid, owner=c.project_id, user_id=c.user.id,
                              request_id=r.headers["x-openstack-request-id"], import_req=body,
                              backend=final.split(","))


def test_import_store_errors(glance):
    c = glance.user()
    data = pattern(4096, seed=120)
    iid = _staged(c, data)
    gd = {"name": "glance-direct"}
    # an unknown store: glance_store.UnknownScheme -> 409, in the body or in the header
    assert_error(c.import_(iid, {"method": gd, "stores": ["nope"]}), 409)
    assert_error(c.import_(iid, {"method": gd, "stores": ["file", "nope"]}), 409)
    assert_error(c.import_(iid, {"method": gd}, headers={"X-Image-Meta-Store": "nope"}), 409)
    # all_stores excludes stores and the header; stores excludes the header
    both = "All_stores parameter can't be used with x-image-meta-store header or stores parameter"
    assert_error(c.import_(iid, {"method": gd, "all_stores": True, "stores": ["object"]}), 400, both)
    assert_error(c.import_(iid, {"method": gd, "all_stores": True}, headers={"X-Image-Meta-Store": "object"}),
                 400, both)
    assert_error(c.import_(iid, {"method": gd, "stores": ["object"]}, headers={"X-Image-Meta-Store": "file"}),
                 400, "Stores parameter and x-image-meta-store header can't be both specified")
    # none of that started anything
    img = c.get(iid)
    assert img["status"] == "uploading" and "stores" not in img, img
    assert "os_glance_import_task" not in img and "os_glance_importing_to_stores" not in img, img
    assert c.tasks(iid) == []
    # the staged data is still importable
    c.import_ok(iid, {"method": gd, "stores": ["object", "file"]})
    c.wait_stores(iid, BOTH)
    _assert_data(c, iid, data)


# ---- copy-image ----------------------------------------------------------------------------

def test_copy_image_to_all_stores(glance):
    """Tempest ImportCopyImagesTest.test_image_copy_image_import: a member's image, copied by
    the admin with all_stores (the store already holding it is skipped)."""
    c = glance.user()
    admin = glance.admin
    data = pattern(6000, seed=130)
    before = c.active_image(data, visibility="private")
    iid = before["id"]
    assert before["stores"] == DEFAULT_STORE, before

    body = {"method": {"name": "copy-image"}, "all_stores": True, "all_stores_must_succeed": False}
    r = admin.import_ok(iid, body)
    img, _ = _follow(c, iid, targets=["object"], final=BOTH, copy=True, tasks_of=admin)
    for key in ("size", "checksum", "os_hash_algo", "os_hash_value", "virtual_size", "owner",
                "created_at", "disk_format", "container_format", "visibility"):
        assert img[key] == before[key], (key, before, img)
    assert img["os_glance_failed_import"] == "", img
    _assert_data(c, iid, data)

    # the task is the admin's (owner = the caller's project): the image owner does not see it
    assert c.tasks(iid) == []
    (task,) = admin.tasks(iid)
    task = _wait_task_success(admin, iid, task["id"])
    _assert_finished_task(task, image_id=iid, owner=admin.project_id, user_id=admin.user.id,
                          request_id=r.headers["x-openstack-request-id"], import_req=body,
                          backend=["object"])

    # everything is there already: all_stores is 202 and does nothing (no task)
    admin.import_ok(iid, {"method": {"name": "copy-image"}, "all_stores": True})
    assert [t["id"] for t in admin.tasks(iid)] == [task["id"]]
    again = c.get(iid)
    assert again["stores"] == BOTH and "os_glance_import_task" not in again, again
    # naming a store that holds it is 400
    for store in STORE_IDS:
        assert_error(admin.import_(iid, {"method": {"name": "copy-image"}, "stores": [store]}), 400,
                     f"Image is already present at store '{store}'")
    assert [t["id"] for t in admin.tasks(iid)] == [task["id"]]


def test_copy_image_to_a_chosen_store_and_errors(glance):
    c = glance.user()
    admin = glance.admin
    data = pattern(3500, seed=131)
    iid = c.create(name=unique("mst"), disk_format="raw", container_format="bare")["id"]

    # only active images are copied (the status check comes before the policy check)
    for client in (c, admin):
        assert_error(client.import_(iid, {"method": {"name": "copy-image"}, "stores": ["object"]}), 409,
                     "Only images with status active can be targeted for copying")
    r = c.upload(iid, data, headers={"X-Image-Meta-Store": "object"})
    assert r.status_code == 204, (r.status_code, r.text)
    assert c.get(iid)["stores"] == "object"

    # copy_image is admin-only: the owner (member) gets 403
    for body in ({"method": {"name": "copy-image"}, "stores": ["file"]},
                 {"method": {"name": "copy-image"}, "all_stores": True}):
        assert_error(c.import_(iid, body), 403)
    # store errors as for glance-direct
    assert_error(admin.import_(iid, {"method": {"name": "copy-image"}, "stores": ["nope"]}), 409)
    assert_error(admin.import_(iid, {"method": {"name": "copy-image"}, "all_stores": True, "stores": ["file"]}), 400)
    assert_error(admin.import_(iid, {"method": {"name": "copy-image"}, "stores": ["file"]},
                               headers={"X-Image-Meta-Store": "file"}), 400)
    assert admin.tasks(iid) == []

    # X-Image-Meta-Store names the target of a copy too
    r = admin.import_ok(iid, {"method": {"name": "copy-image"}}, headers={"X-Image-Meta-Store": "file"})
    img, _ = _follow(c, iid, targets=["file"], final=BOTH, copy=True, tasks_of=admin)
    _assert_data(c, iid, data)
    (task,) = admin.tasks(iid)
    assert _wait_task_success(admin, iid, task["id"])["input"]["backend"] == ["file"]
    assert task["request_id"] == r.headers["x-openstack-request-id"], task


def test_a_second_import_while_one_runs_is_409(glance):
    """The import lock (os_glance_import_task, §7.2 row 14): set while the task runs, removed
    when it ends.  Whether the second request lands while the first task still runs is a race,
    so each outcome is checked for what it must then be."""
    c = glance.user()
    admin = glance.admin

    # glance-direct: a second glance-direct is 409 whatever the timing (importing: locked or not
    # staged any more; done: active images are no import target)
    data = pattern(64 * 1024, seed=140)
    iid = _staged(c, data)
    c.import_ok(iid, {"method": {"name": "glance-direct"}, "all_stores": True})
    assert_error(c.import_(iid, {"method": {"name": "glance-direct"}, "all_stores": True}), 409)
    c.wait_stores(iid, BOTH)
    assert len(c.tasks(iid)) == 1

    # copy-image (the image stays active): locked -> 409; done -> all_stores has nothing to do
    big = os.urandom(4 * 1024 * 1024)
    cid = c.active_image(big)["id"]
    admin.import_ok(cid, {"method": {"name": "copy-image"}, "stores": ["object"]})
    r = admin.import_(cid, {"method": {"name": "copy-image"}, "all_stores": True})
    if r.status_code == 409:
        body = assert_error(r, 409)
        assert ("Image has active task" in body["message"]
                or "is not permitted as prior operation is still in progress" in body["message"]), body
    else:
        assert r.status_code == 202, (r.status_code, r.text)
    c.wait_stores(cid, BOTH)
    (task,) = admin.tasks(cid)
    _wait_task_success(admin, cid, task["id"])
    img = c.get(cid)
    assert "os_glance_import_task" not in img, img
    _assert_data(c, cid, big)


# ---- DELETE /v2/stores/{store_id}/{image_id} ----------------------------------------------------

def test_delete_image_from_a_store(glance):
    """Tempest MultiStoresImagesTest.test_delete_image_from_specific_store, and the failures
    (images.py delete_from_store): copies really hold the bytes."""
    c = glance.user()
    other = glance.user()
    admin = glance.admin
    data = pattern(7000, seed=150)
    img = _two_store_image(glance, c, data, first="file")
    iid = img["id"]

    # policy delete_image_location is admin-only; others do not see the image at all
    assert_error(c.delete_from_store("file", iid), 403)
    assert_error(other.delete_from_store("file", iid), 404)
    # store first, then image (a store that is not enabled is 409 even for a missing image)
    assert_error(admin.delete_from_store("nope", iid), 409, "The selected store nope is not available on this node.")
    assert_error(admin.delete_from_store("nope", MISSING), 409)
    assert_error(admin.delete_from_store("file", MISSING), 404)
    # only active images
    assert admin.req("POST", f"/v2/images/{iid}/actions/deactivate").status_code == 204
    assert_error(admin.delete_from_store("file", iid), 409,
                 "It's not allowed to remove image data from store if image status is not 'active'")
    assert admin.req("POST", f"/v2/images/{iid}/actions/reactivate").status_code == 204
    assert c.get(iid)["stores"] == BOTH

    # the file copy goes; the object copy serves the same bytes
    r = admin.delete_from_store("file", iid)
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    got = _assert_data(c, iid, data)
    assert got["stores"] == "object", got
    for key in ("checksum", "os_hash_value", "size", "status"):
        assert got[key] == img[key], (key, img, got)
    # never the last copy, whichever store is named (Glance checks len(locations) == 1 first)
    for store in STORE_IDS:
        assert_error(admin.delete_from_store(store, iid), 403,
                     "Cannot delete image data from the only store containing it")
    assert c.get(iid)["stores"] == "object"

    # the other way round: uploaded to object, copied to file, object copy deleted
    data2 = pattern(5000, seed=151)
    img2 = _two_store_image(glance, c, data2, first="object")
    assert admin.delete_from_store("object", img2["id"]).status_code == 204
    assert _assert_data(c, img2["id"], data2)["stores"] == "file"

    # a queued image has no data anywhere: 409 (status before the location checks)
    queued = c.create(name=unique("mst"))["id"]
    assert_error(admin.delete_from_store("file", queued), 409)
    # deleting the image itself still works from any state of its stores
    for image_id in (iid, img2["id"]):
        assert c.req("DELETE", f"/v2/images/{image_id}").status_code == 204
        assert c.status_of(image_id) == 404
    assert_error(admin.delete_from_store("object", iid), 404)


# ---- GET /v2/images/{id}/tasks ----------------------------------------------------------------

def test_image_tasks(glance):
    """Tempest ImportImagesTest.test_image_glance_direct_import's task checks, and more."""
    c = glance.user()
    other = glance.user()
    data = pattern(9000, seed=160)
    iid = c.create(name=unique("mst"), disk_format="raw", container_format="bare", visibility="private")["id"]
    assert c.tasks(iid) == []
    # a private image of another project, or none at all: 404
    assert_error(other.req("GET", f"/v2/images/{iid}/tasks"), 404)
    assert_error(c.req("GET", f"/v2/images/{MISSING}/tasks"), 404)

    assert c.stage(iid, data).status_code == 204
    assert c.tasks(iid) == []
    body = {"method": {"name": "glance-direct"}, "all_stores": True}    # what Tempest sends
    r = c.import_ok(iid, body)
    request_id = r.headers["x-openstack-request-id"]
    assert REQUEST_ID_RE.match(request_id), request_id
    # the task exists as soon as the import is accepted
    (task,) = c.tasks(iid)
    assert task["status"] in TASK_ORDER, task
    assert task["request_id"] == request_id and task["input"]["import_req"] == body, task
    assert task["image_id"] == iid and task["type"] == "api_image_import", task
    if task["status"] != "success":
        assert task["result"] is None and task["expires_at"] is None, task

    _follow(c, iid, targets=STORE_IDS, final=BOTH, tasks_of=c)
    task = _wait_task_success(c, iid, task["id"])
    _assert_finished_task(task, image_id=iid, owner=c.project_id, user_id=c.user.id,
                          request_id=request_id, import_req=body, backend=STORE_IDS)
    # a colleague (same project) sees it, the admin too; another project still gets 404
    assert c.tasks(iid) == [task]
    assert glance.colleague(c, "reader").tasks(iid) == [task]
    assert glance.admin.tasks(iid) == [task]
    assert_error(other.req("GET", f"/v2/images/{iid}/tasks"), 404)

    # openstacksdk's image_tasks reads the same list
    conn = c.sdk()
    try:
        listed = list(conn.image.image_tasks(iid))
        assert [(t.id, t.status, t.request_id) for t in listed] == [(task["id"], "success", request_id)], listed
    finally:
        conn.close()

    # an uploaded image has no tasks
    assert c.tasks(c.active_image(pattern(100, seed=161))["id"]) == []


# ---- the openstack CLI and openstacksdk ------------------------------------------------------

def test_copy_and_delete_from_store_via_cli_and_sdk(glance, tmp_path):
    c = glance.user()
    admin = glance.admin
    data = pattern(12 * 1024, seed=170)
    iid = c.active_image(data)["id"]
    assert c.get(iid)["stores"] == DEFAULT_STORE

    # `image import --method copy-image --store object` (sends all_stores false,
    # all_stores_must_succeed false, stores ["object"]; the image goes first because --store
    # takes any number of values): admin only.  openstacksdk's Image.import_image does not look
    # at the response status, so the member's refused copy still exits 0: check nothing happened.
    c.cli("image", "import", iid, "--method", "copy-image", "--store", "object")
    assert c.get(iid)["stores"] == DEFAULT_STORE and admin.tasks(iid) == []
    admin.cli("image", "import", iid, "--method", "copy-image", "--store", "object")
    c.wait_stores(iid, BOTH)
    # `image delete --store file`: DELETE /v2/stores/file/{id}
    admin.cli("image", "delete", "--store", "file", iid)
    assert c.get(iid)["stores"] == "object"
    out = tmp_path / "out.raw"
    c.cli("image", "save", "--file", out, iid)
    assert out.read_bytes() == data

    # openstacksdk: import_image(method="copy-image", stores=[...]) and delete_image(store=...)
    conn = admin.sdk()
    try:
        conn.image.import_image(conn.image.get_image(iid), method="copy-image", stores=["file"])
        c.wait_stores(iid, BOTH)
        conn.image.delete_image(iid, store="object", ignore_missing=False)
        assert c.get(iid)["stores"] == "file"
    finally:
        conn.close()
    _assert_data(c, iid, data)

    # create_image(stores=[...]): create, stage and a glance-direct import into those stores
    conn = c.sdk()
    try:
        data2 = pattern(8 * 1024, seed=171)
        made = conn.image.create_image(unique("sdk"), data=data2, disk_format="raw", container_format="bare",
                                       stores=["object"])
        glance.track(made.id)
    finally:
        conn.close()
    c.wait_stores(made.id, "object")
    _assert_data(c, made.id, data2)


# ---- single-store mode (stores = file) ---------------------------------------------------------

def test_single_store_mode(object_nimbus, tmp_path):
    """`[image] stores = file`: Glance's legacy mode (enabled_backends unset), §0 / §7.6."""
    nimbus = object_nimbus(config={"image": {"stores": "file", "default_store": "file",
                                             "register_test_image": "false"}})
    g = standalone_glance(nimbus, tmp_path)
    c = g.user()
    admin = g.admin

    r = requests.get(f"{nimbus.base_url}/image/", timeout=30, allow_redirects=False)
    assert r.status_code == 300, (r.status_code, r.text)
    assert [(v["id"], v["status"]) for v in r.json()["versions"]] == SINGLE_STORE_VERSIONS, r.json()
    for path in ("/v2/info/stores", "/v2/info/stores/detail"):
        assert_error(c.req("GET", path), 404, "Multi backend is not supported at this site.")
        assert_error(admin.req("GET", path), 404, "Multi backend is not supported at this site.")
    proc = c.cli("image", "stores", "list", check=False)
    assert proc.returncode != 0 and "Multi Backend support not enabled" in proc.stderr, proc.stderr

    data = pattern(4000, seed=180)
    r = c.create_response(name=unique("one"), disk_format="raw", container_format="bare")
    assert r.status_code == 201 and "OpenStack-image-store-ids" not in r.headers, r.headers
    iid = r.json()["id"]
    # X-Image-Meta-Store is ignored without enabled_backends (image_data.py upload)
    r = c.upload(iid, data, headers={"X-Image-Meta-Store": "object"})
    assert r.status_code == 204, (r.status_code, r.text)
    img = _assert_data(c, iid, data)
    assert "stores" not in img, img
    assert_error(admin.delete_from_store("file", iid), 404)

    iid2 = _staged(c, data)
    assert_error(c.import_(iid2, {"method": {"name": "glance-direct"}, "all_stores_must_succeed": False}), 400,
                 "All_stores_must_succeed can only be set with enabled_backends")
    # Tempest's default body (all_stores true) imports into the one store; the task's backend is [null]
    body = {"method": {"name": "glance-direct"}, "all_stores": True}
    r = c.import_ok(iid2, body)
    img = c.wait_status(iid2, "active")
    assert "stores" not in img and img["os_glance_importing_to_stores"] == "", img
    assert img["os_glance_failed_import"] == "", img
    wait_until(lambda: "os_glance_import_task" not in c.get(iid2), what="the import lock to go")
    _assert_data(c, iid2, data)
    (task,) = c.tasks(iid2)
    task = _wait_task_success(c, iid2, task["id"])
    _assert_finished_task(task, image_id=iid2, owner=c.project_id, user_id=c.user.id,
                          request_id=r.headers["x-openstack-request-id"], import_req=body, backend=[None])


# ---- durability ---------------------------------------------------------------------------------

def test_both_copies_survive_kill_and_restart(object_nimbus, tmp_path):
    """kill -9 and a restart keep `stores` and the bytes of each copy: after the restart, one
    image loses its file copy and one its object copy, and both still download exactly."""
    config = {"image": {"register_test_image": "false"}}       # the default stores
    nimbus = object_nimbus(config=config)
    g = standalone_glance(nimbus, tmp_path)
    c = g.user()
    data_a, data_b = pattern(20 * 1024, seed=190), pattern(30 * 1024 + 7, seed=191)
    a = _two_store_image(g, c, data_a, first="file")
    b = _two_store_image(g, c, data_b, first="object")
    tasks_before = {}
    for img in (a, b):
        (task,) = g.admin.tasks(img["id"])
        tasks_before[img["id"]] = [_wait_task_success(g.admin, img["id"], task["id"])]

    port = nimbus.port
    nimbus.kill()
    nimbus = object_nimbus(config=config, port=port)
    g = standalone_glance(nimbus, tmp_path)
    c = g.login(c.user, c.clouds_yaml)
    admin = g.admin
    for img, data in ((a, data_a), (b, data_b)):
        got = _assert_data(c, img["id"], data)
        assert got["stores"] == BOTH, got
        assert (got["checksum"], got["os_hash_value"]) == (img["checksum"], img["os_hash_value"]), got
        assert admin.tasks(img["id"]) == tasks_before[img["id"]]

    assert admin.delete_from_store("file", a["id"]).status_code == 204
    assert _assert_data(c, a["id"], data_a)["stores"] == "object"
    assert admin.delete_from_store("object", b["id"]).status_code == 204
    assert _assert_data(c, b["id"], data_b)["stores"] == "file"
