"""Adversarial review of the compute API (Nova v2.1 at /compute/v2.1) and the compute agent API
(/compute-agent/v1), on a cloud whose compute node runs the fake driver.

The first part holds one test per finding: each fails while the bug is there and passes once it
is fixed. The expected behaviour is real Nova's, read from its source (the file is named in each
docstring). The second part ("held") guards what the review probed and found right.

Fast and light: one module-scoped cloud, the fake driver, small images, a handful of servers.
"""

from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import quote

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud

TIMEOUT = 30


# ---- fixtures and helpers ---------------------------------------------------------------------

class Env:
    """The cloud plus the identities the probes use."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.base = cloud.base_url
        self.admin = cloud.token()
        self.image = self._image()
        self.host = self._host()

    # identity
    def ks(self, method, path, **kw):
        return requests.request(method, f"{self.base}/identity/v3{path}", headers={"X-Auth-Token": self.admin},
                                timeout=TIMEOUT, **kw)

    def role_id(self, name):
        return next(r["id"] for r in self.ks("GET", "/roles").json()["roles"] if r["name"] == name)

    def new_user(self, role="member", project_id=None):
        """A new user with `role` on a new project (or on `project_id`): (token, user_id, project_id)."""
        name = f"rv-{uuid.uuid4().hex[:10]}"
        if project_id is None:
            r = self.ks("POST", "/projects", json={"project": {"name": name, "domain_id": "default"}})
            assert r.status_code == 201, r.text
            project_id = r.json()["project"]["id"]
        password = "pw-" + uuid.uuid4().hex
        r = self.ks("POST", "/users", json={"user": {"name": name, "password": password, "domain_id": "default"}})
        assert r.status_code == 201, r.text
        user_id = r.json()["user"]["id"]
        assert self.ks("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}").status_code == 204
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}},
                         "scope": {"project": {"id": project_id}}}}
        r = requests.post(f"{self.base}/identity/v3/auth/tokens", json=body, timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"], user_id, project_id

    # compute
    def nova(self, method, path, token=None, version="2.96", headers=None, timeout=TIMEOUT, **kw):
        h = {"X-Auth-Token": token or self.admin}
        if version:
            h["OpenStack-API-Version"] = f"compute {version}"
        h.update(headers or {})
        return requests.request(method, f"{self.base}/compute/v2.1{path}", headers=h, timeout=timeout, **kw)

    def placement(self, path):
        return requests.get(f"{self.base}/placement{path}", timeout=TIMEOUT,
                            headers={"X-Auth-Token": self.admin, "OpenStack-API-Version": "placement 1.30"}).json()

    def boot(self, name, token=None, wait=True, hints=None, **kw):
        body = {"server": {"name": name, "imageRef": self.image, "flavorRef": "42", "networks": "none", **kw}}
        if hints:
            body["os:scheduler_hints"] = hints
        r = self.nova("POST", "/servers", token=token, json=body)
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        if wait:
            self.wait(sid, "ACTIVE", token=token)
        return sid

    def wait(self, sid, status, token=None, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.nova("GET", f"/servers/{sid}", token=token)
            if r.status_code == 404 and status == "DELETED":
                return None
            last = r.json().get("server", {})
            if last.get("status") == status and last.get("OS-EXT-STS:task_state") is None:
                return last
            time.sleep(0.2)
        raise AssertionError(f"server {sid} not {status}: {last}")

    def action(self, sid, body, token=None, version="2.96"):
        return self.nova("POST", f"/servers/{sid}/action", token=token, json=body, version=version)

    def _image(self):
        h = {"X-Auth-Token": self.admin}
        r = requests.post(f"{self.base}/image/v2/images", headers=h, timeout=TIMEOUT,
                          json={"name": "rv-tiny", "disk_format": "raw", "container_format": "bare", "visibility": "public"})
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        r = requests.put(f"{self.base}/image/v2/images/{iid}/file", data=b"\0" * 65536, timeout=TIMEOUT,
                         headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        return iid

    def _host(self):
        for _ in range(120):
            hyps = self.nova("GET", "/os-hypervisors", version="2.53").json()["hypervisors"]
            if hyps:
                return hyps[0]["hypervisor_hostname"]
            time.sleep(0.25)
        raise AssertionError("no compute node registered")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-compute"), "fake")
    try:
        yield Env(cloud)
    finally:
        stop_compute_cloud(cloud, data)


def nova_error(r, status):
    """Nova's fault body: {"<name>": {"code": status, "message": ...}} (nova/api/openstack/wsgi.py Fault)."""
    names = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest", 406: "computeFault"}
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text[:500])
    body = r.json()
    assert set(body) == {names[status]}, body
    assert body[names[status]]["code"] == status and isinstance(body[names[status]]["message"], str), body
    return body[names[status]]["message"]


# =================================================================================================
# Findings (each fails now)
# =================================================================================================

def test_name_filter_regex_cannot_stall_the_cloud(env):
    """GET /servers?name=<regex>: Nimbus runs the caller's pattern with a backtracking engine
    (Swift Regex) on the request's thread; `^(r+)+$` against a server name of 18 r's and a `!`
    takes seconds, doubling per character (names may be 255 long), and blocks the cooperative
    thread pool, so every other API of the process (identity included) waits. Any project member
    can do it with their own server. Nova hands the pattern to the database (nova/db/main/api.py
    _regex_instance_filter: MySQL REGEXP, bounded by regexp_time_limit; PostgreSQL `~`, not
    backtracking), so one request cannot stall the API."""
    token, _, _ = env.new_user()
    env.boot("r" * 18 + "!", token=token, wait=False)
    started = time.monotonic()
    r = env.nova("GET", "/servers?name=" + quote("^(r+)+$"), token=token, timeout=120)
    elapsed = time.monotonic() - started
    assert r.status_code in (200, 400), r.text
    assert elapsed < 2.0, f"one name filter took {elapsed:.1f} s"


def test_tag_filters_are_applied(env):
    """2.26+: tags / tags-any / not-tags / not-tags-any filter the list
    (nova/api/openstack/compute/servers.py _get_servers, TAG_SEARCH_FILTERS). Nimbus ignores them
    and returns every server: `GET /servers?tags=nosuchtag` lists all of them (a client that
    deletes what `?tags=scratch` lists deletes everything)."""
    token, _, _ = env.new_user()
    tagged = env.boot("tagged", token=token, tags=["keep"])
    plain = env.boot("plain", token=token)
    def ids(q):
        r = env.nova("GET", "/servers?" + q, token=token)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["servers"]}
    assert ids("tags=nosuchtag") == set()
    assert ids("tags-any=nosuchtag") == set()
    assert ids("tags=keep") == {tagged}
    assert ids("not-tags=keep") == {plain}
    assert ids("not-tags-any=keep") == {plain}


def test_changes_before_locked_and_ip_filters_are_applied(env):
    """`changes-before` (2.66), `locked` (2.73) and `ip` are non-admin filters in Nova
    (servers.py _get_server_search_options); Nimbus ignores all three and lists every server.
    With no networks no server has an address, so Nova's `ip=10.9.9.9` finds none."""
    token, _, _ = env.new_user()
    locked = env.boot("locked-one", token=token)
    unlocked = env.boot("unlocked-one", token=token)
    assert env.action(locked, {"lock": None}, token=token).status_code == 202
    def ids(q, version="2.96"):
        r = env.nova("GET", "/servers?" + q, token=token, version=version)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["servers"]}
    assert ids("changes-before=2000-01-01T00:00:00Z") == set()
    assert ids("locked=true") == {locked}
    assert ids("locked=false") == {unlocked}
    assert ids("ip=10.9.9.9") == set()
    env.action(locked, {"unlock": None}, token=token)


def test_unknown_server_list_parameter_is_400_from_2_75(env):
    """2.75: GET /servers refuses unknown query parameters (schemas/servers.py
    index_query_v275 additionalProperties False); Nimbus answers 200 with every server."""
    token, _, _ = env.new_user()
    assert env.nova("GET", "/servers?foo=bar", token=token, version="2.74").status_code == 200
    nova_error(env.nova("GET", "/servers?foo=bar", token=token, version="2.75"), 400)


def test_min_count_too_large_for_an_int_is_quota_403_not_one_server(env):
    """min_count "99999999999999999999999" (the schema's digits pattern) is a quota 403 in Nova
    (compute/api.py _check_num_instances_quota on int(min_count)). Nimbus' Int() of it is nil, it
    falls back to 1 and creates one server: the caller asked for at least 10^22."""
    token, _, _ = env.new_user()
    r = env.nova("POST", "/servers", token=token, json={"server": {
        "name": "huge-min", "imageRef": env.image, "flavorRef": "42", "networks": "none",
        "min_count": "99999999999999999999999"}})
    created = env.nova("GET", "/servers", token=token).json()["servers"]
    assert r.status_code == 403, r.text
    assert created == [], created


def test_lock_body_is_validated_from_2_73(env):
    """lock_v273 (schemas/lock_server.py): `lock` is an object or null, `locked_reason` a string of
    1..255, no other keys. Nimbus locks the server for `{"lock": "x"}`, `{"lock": {"locked_reason": 5}}`
    and `{"lock": {"locked_reason": "r", "extra": 1}}` alike (202)."""
    token, _, _ = env.new_user()
    sid = env.boot("lock-body", token=token)
    for body in ({"lock": "x"}, {"lock": {"locked_reason": 5}}, {"lock": {"locked_reason": "r", "extra": 1}},
                 {"lock": {"locked_reason": ""}}):
        nova_error(env.action(sid, body, token=token, version="2.73"), 400)
        shown = env.nova("GET", f"/servers/{sid}", token=token).json()["server"]
        assert shown["locked"] is False, (body, shown)


def test_confirm_resize_of_a_locked_server_is_409(env):
    """compute/api.py confirm_resize carries @check_instance_lock: a non-admin's confirmResize of
    a locked server is 409 "Instance <id> is locked". Nimbus confirms it (204)."""
    token, _, _ = env.new_user()
    sid = env.boot("lock-confirm", token=token)
    assert env.action(sid, {"resize": {"flavorRef": "84"}}, token=token).status_code == 202
    env.wait(sid, "VERIFY_RESIZE", token=token)
    assert env.action(sid, {"lock": None}, token=token).status_code == 202
    r = env.action(sid, {"confirmResize": None}, token=token)
    try:
        assert "is locked" in nova_error(r, 409)
    finally:
        env.action(sid, {"unlock": None}, token=token)


def test_rebuild_and_create_image_metadata_obey_the_projects_metadata_items_quota(env):
    """rebuild's metadata and createImage's (before 2.39) are checked against the project's
    metadata_items limit (compute/api.py rebuild -> _check_metadata_properties_quota;
    api/openstack/common.py check_img_metadata_properties_quota): both use QUOTAS.limit_check,
    i.e. the os-quota-sets value. Nimbus checks the configured default (128), so with the
    project's limit set to 3 four items pass (202)."""
    token, _, project = env.new_user()
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"metadata_items": 3}}).status_code == 200
    sid = env.boot("md-quota", token=token)
    four = {"a": "1", "b": "2", "c": "3", "d": "4"}
    # the API's own metadata routes do use the project's limit
    nova_error(env.nova("POST", f"/servers/{sid}/metadata", token=token, json={"metadata": four}), 403)
    r1 = env.action(sid, {"createImage": {"name": "md-snap", "metadata": four}}, token=token, version="2.38")
    if r1.status_code == 202:
        env.wait(sid, "ACTIVE", token=token)
    r2 = env.action(sid, {"rebuild": {"imageRef": env.image, "metadata": four}}, token=token)
    if r2.status_code == 202:
        env.wait(sid, "ACTIVE", token=token)
    assert r1.status_code == 403, r1.text
    assert r2.status_code == 403, r2.text


def test_deleting_a_resized_server_releases_the_migration_allocation(env):
    """Deleting a server in VERIFY_RESIZE confirms the resize first (compute/api.py
    _confirm_resize_on_deleting; the compute manager drops the source allocation held by the
    migration consumer, migration status 'confirmed'). Nimbus releases only the instance's
    allocation: the old flavor stays allocated in Placement under the migration for ever (the
    host's capacity leaks) and the migration stays 'finished'."""
    token, _, _ = env.new_user()
    sid = env.boot("resize-then-delete", token=token)
    assert env.action(sid, {"resize": {"flavorRef": "84"}}, token=token).status_code == 202
    env.wait(sid, "VERIFY_RESIZE", token=token)
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    time.sleep(1)
    migrations = env.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.59").json()["migrations"]
    assert len(migrations) == 1, migrations
    leaked = env.placement(f"/allocations/{migrations[0]['uuid']}")["allocations"]
    assert leaked == {}, leaked
    assert env.placement(f"/allocations/{sid}")["allocations"] == {}
    assert migrations[0]["status"] == "confirmed", migrations


def test_server_group_hint_joins_the_group_and_counts_members(env):
    """os:scheduler_hints group: the server becomes a member (GET /os-server-groups/{id} lists it)
    and server_group_members is enforced (compute/api.py _validate_and_build_base_options /
    _create_instance: 'Quota exceeded, too many servers in group', 403); another project's group
    is not found for a non-admin (objects/instance_group.py _instance_group_get_query filters by
    project), a 400. Nimbus (binary under review) accepts any group id, never records a member,
    and so never counts the quota."""
    token, _, project = env.new_user()
    other_token, _, _ = env.new_user()
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 1}}).status_code == 200
    g = env.nova("POST", "/os-server-groups", token=token, json={"server_group": {"name": "g", "policy": "anti-affinity"}})
    assert g.status_code == 200, g.text
    gid = g.json()["server_group"]["id"]
    first = env.boot("member-1", token=token, hints={"group": gid})
    members = env.nova("GET", f"/os-server-groups/{gid}", token=token).json()["server_group"]["members"]
    assert members == [first], members
    r = env.nova("POST", "/servers", token=token, json={"server": {"name": "member-2", "imageRef": env.image, "flavorRef": "42",
                                                                  "networks": "none"}, "os:scheduler_hints": {"group": gid}})
    assert r.status_code == 403 and "too many servers in group" in r.text, r.text
    r = env.nova("POST", "/servers", token=other_token, json={"server": {"name": "intruder", "imageRef": env.image, "flavorRef": "42",
                                                                        "networks": "none"}, "os:scheduler_hints": {"group": gid}})
    assert r.status_code == 400, r.text


def test_simple_tenant_usage_without_dates_is_200(env):
    """simple_tenant_usage.py _get_datetime_range: a missing start and a missing end are each
    utcnow(), two calls, so start < end and the answer is 200 (an empty usage). Nimbus uses one
    `now` for both and answers 400 "Invalid start time" to a bare GET."""
    r = env.nova("GET", "/os-simple-tenant-usage")
    assert r.status_code == 200, r.text
    r = env.nova("GET", f"/os-simple-tenant-usage/{uuid.uuid4().hex}")
    assert r.status_code == 200, r.text


def test_malformed_microversion_is_400_not_a_silent_2_1(env):
    """api_version_request.py: the version must match ^([1-9]\\d*)\\.([1-9]\\d*|0)$. Nova answers
    400 for "2.3 extra" (microversion_parse keeps everything after the service name) and for
    "2.01", and 406 for a well-formed but huge minor. Nimbus serves "compute 2.3 extra" as 2.1
    (the default) and "2.01" as 2.1, and calls "2.99999999999999999999999" malformed."""
    def get(value):
        return env.nova("GET", "/servers", version=None, headers={"OpenStack-API-Version": value})
    nova_error(get("compute 2.3 extra"), 400)
    nova_error(get("compute 2.01"), 400)
    nova_error(get("compute 2.99999999999999999999999"), 406)


def test_services_update_refuses_non_admins_before_reading_the_id(env):
    """services.py update (2.53+) and delete call context.can(...) before the uuid check, so a
    non-admin gets 403 whatever the id. Nimbus answers a non-admin 400 "Invalid uuid x" first."""
    token, _, _ = env.new_user()
    nova_error(env.nova("PUT", "/os-services/x", token=token, json={"forced_down": True}), 403)
    nova_error(env.nova("DELETE", "/os-services/x", token=token), 403)


def test_create_with_duplicate_tags_stores_each_once(env):
    """Server create's tags go through TagList.create / instance_tag_set, which stores a set
    (nova/db/main/api.py instance_tag_set); the server shows ["a"]. Nimbus shows ["a", "a"] in
    the server view (GET /servers/{id}/tags says ["a"])."""
    token, _, _ = env.new_user()
    sid = env.boot("dup-tags", token=token, tags=["a", "a"])
    shown = env.nova("GET", f"/servers/{sid}", token=token).json()["server"]
    assert shown["tags"] == ["a"], shown["tags"]


def test_huge_limit_is_capped_not_refused(env):
    """`limit` is parameter_types.non_negative_integer (digits, any size) and
    common.get_limit_and_marker caps it at max_limit: 200. Nimbus' Int() fails on 10^23 and
    answers 400 "limit param must be an integer"."""
    r = env.nova("GET", "/servers?limit=99999999999999999999999")
    assert r.status_code == 200, r.text


# =================================================================================================
# Held: what the review probed and found right (regression guards)
# =================================================================================================

def test_held_other_projects_server_is_invisible(env):
    """Every server route 404s (tags 403, as Nova's instance-mapping lookup) for another project's member."""
    owner, _, _ = env.new_user()
    intruder, _, _ = env.new_user()
    sid = env.boot("private", token=owner)
    for method, path, body in [
        ("GET", f"/servers/{sid}", None), ("PUT", f"/servers/{sid}", {"server": {"name": "x"}}), ("DELETE", f"/servers/{sid}", None),
        ("POST", f"/servers/{sid}/action", {"os-stop": None}), ("POST", f"/servers/{sid}/action", {"lock": None}),
        ("POST", f"/servers/{sid}/action", {"unlock": None}), ("POST", f"/servers/{sid}/action", {"resize": {"flavorRef": "84"}}),
        ("POST", f"/servers/{sid}/action", {"rebuild": {"imageRef": env.image}}),
        ("POST", f"/servers/{sid}/action", {"createImage": {"name": "x"}}), ("POST", f"/servers/{sid}/action", {"os-getConsoleOutput": {}}),
        ("GET", f"/servers/{sid}/os-instance-actions", None), ("GET", f"/servers/{sid}/metadata", None),
        ("POST", f"/servers/{sid}/metadata", {"metadata": {"a": "b"}}), ("PUT", f"/servers/{sid}/metadata/a", {"meta": {"a": "b"}}),
    ]:
        nova_error(env.nova(method, path, token=intruder, json=body), 404)
    for method, path, body in [("GET", f"/servers/{sid}/tags", None), ("PUT", f"/servers/{sid}/tags/x", None),
                               ("PUT", f"/servers/{sid}/tags", {"tags": ["a"]}), ("DELETE", f"/servers/{sid}/tags", None)]:
        nova_error(env.nova(method, path, token=intruder, json=body), 403)
    for q in ["changes-since=2000-01-01T00:00:00Z", "name=.*", "deleted=true", "all_tenants=0",
              "all_tenants=false&project_id=x", "host=" + env.host]:
        r = env.nova("GET", "/servers/detail?" + q, token=intruder)
        assert r.status_code == 200 and r.json()["servers"] == [], (q, r.text)
    nova_error(env.nova("GET", "/servers?all_tenants=1", token=intruder), 403)


def test_held_reader_cannot_mutate(env):
    owner, _, project = env.new_user()
    reader, _, _ = env.new_user("reader", project_id=project)
    sid = env.boot("read-only", token=owner)
    assert env.nova("GET", f"/servers/{sid}", token=reader).status_code == 200
    for body in ({"reboot": {"type": "SOFT"}}, {"lock": None}, {"resize": {"flavorRef": "84"}}, {"rebuild": {"imageRef": env.image}},
                 {"createImage": {"name": "x"}}, {"confirmResize": None}):
        nova_error(env.action(sid, body, token=reader), 403)
    nova_error(env.nova("DELETE", f"/servers/{sid}", token=reader), 403)
    nova_error(env.nova("POST", f"/servers/{sid}/metadata", token=reader, json={"metadata": {"a": "b"}}), 403)
    nova_error(env.nova("PUT", f"/servers/{sid}/tags/x", token=reader), 403)
    nova_error(env.nova("POST", "/servers", token=reader, json={"server": {"name": "r", "imageRef": env.image, "flavorRef": "42",
                                                                         "networks": "none"}}), 403)


def test_held_admin_only_fields_and_routes(env):
    token, _, _ = env.new_user()
    srv = {"name": "x", "imageRef": env.image, "flavorRef": "42", "networks": "none"}
    for extra in ({"availability_zone": f"nova:{env.host}"}, {"availability_zone": f":{env.host}"}, {"host": env.host},
                  {"hypervisor_hostname": env.host}):
        nova_error(env.nova("POST", "/servers", token=token, json={"server": {**srv, **extra}}), 403)
    for method, path, body in [("GET", "/os-services", None), ("GET", "/os-hypervisors", None), ("GET", "/os-aggregates", None),
                               ("POST", "/os-aggregates", {"aggregate": {"name": "a"}}), ("GET", "/os-migrations", None),
                               ("POST", "/flavors", {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 0}}),
                               ("GET", "/flavors/42/os-flavor-access", None), ("GET", "/os-simple-tenant-usage", None),
                               ("PUT", "/os-quota-class-sets/default", {"quota_class_set": {"instances": 1000}})]:
        nova_error(env.nova(method, path, token=token, json=body), 403)
    other_token, other_user, other_project = env.new_user()
    nova_error(env.nova("GET", f"/os-quota-sets/{other_project}", token=token), 403)
    nova_error(env.nova("GET", f"/os-keypairs?user_id={other_user}", token=token, version="2.10"), 403)


def test_held_locked_server_refuses_owner_and_admin_lock_needs_override(env):
    token, _, _ = env.new_user()
    sid = env.boot("admin-locked", token=token)
    assert env.action(sid, {"lock": {"locked_reason": "ops"}}).status_code == 202
    nova_error(env.action(sid, {"unlock": None}, token=token), 403)
    for body in ({"os-stop": None}, {"rebuild": {"imageRef": env.image}}, {"resize": {"flavorRef": "84"}}):
        assert "is locked" in nova_error(env.action(sid, body, token=token), 409)
    assert "is locked" in nova_error(env.nova("DELETE", f"/servers/{sid}", token=token), 409)
    nova_error(env.nova("POST", f"/servers/{sid}/metadata", token=token, json={"metadata": {"a": "b"}}), 409)
    assert env.action(sid, {"unlock": None}).status_code == 202


def test_held_malformed_bodies_are_novas_400s(env):
    token, _, _ = env.new_user()
    base = {"name": "x", "imageRef": env.image, "flavorRef": "42", "networks": "none"}
    raw = [b'{"server": ', b"[1,2]", b"null", b'{"server": {"name": "\xff\xfe"}}',
           b'{"server": ' + b"[" * 50000 + b"]" * 50000 + b"}", b'{"a":' * 15000 + b"1" + b"}" * 15000]
    for data in raw:
        nova_error(env.nova("POST", "/servers", token=token, data=data, headers={"Content-Type": "application/json"}), 400)
    # Past Nova's 112 KiB (oslo's sizelimit filter): 413 before anything is parsed.
    for data in (b'{"server": ' + b"[" * 100000 + b"]" * 100000 + b"}", b'{"a":' * 50000 + b"1" + b"}" * 50000):
        r = env.nova("POST", "/servers", token=token, data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "Request is too large." in r.text, (r.status_code, r.text[:300])
    for extra in ({"name": "x" * 100000}, {"min_count": 0}, {"min_count": -1}, {"min_count": 1.5}, {"max_count": ""},
                  {"user_data": "not base64!!"}, {"user_data": "QUFB" * 20000}, {"flavorRef": [1]}, {"imageRef": "not-a-uuid"},
                  {"metadata": {"a/b": "v"}}, {"metadata": {"a": 1}}, {"tags": [str(i) for i in range(51)]}, {"tags": ["a,b"]},
                  {"name": "a\u0000b"}, {"description": "x" * 256}, {"min_count": 2, "max_count": 1}):
        nova_error(env.nova("POST", "/servers", token=token, json={"server": {**base, **extra}}), 400)
    sid = env.boot("bodies", token=token)
    for body in ({"os-stop": None, "os-start": None}, {}, {"nosuch": None}, {"reboot": None}, {"createImage": None},
                 {"createImage": {"name": ""}}, {"resize": None}, {"resize": {"flavorRef": "84", "extra": 1}},
                 {"rebuild": {"imageRef": "bad"}}, {"os-getConsoleOutput": {"length": "abc"}}):
        nova_error(env.action(sid, body, token=token), 400)
    nova_error(env.nova("POST", f"/servers/{sid}/action", token=token, data=b"not json"), 400)
    nova_error(env.nova("POST", f"/servers/{sid}/action", token=token, data=b""), 400)


def test_held_microversion_errors(env):
    def get(h):
        return env.nova("GET", "/servers", version=None, headers=h)
    nova_error(get({"OpenStack-API-Version": "compute 2.999"}), 406)
    nova_error(get({"OpenStack-API-Version": "compute 3.0"}), 406)
    nova_error(get({"OpenStack-API-Version": "compute abc"}), 400)
    nova_error(get({"X-OpenStack-Nova-API-Version": "abc"}), 400)
    assert get({"OpenStack-API-Version": "compute latest"}).headers["OpenStack-API-Version"] == "compute 2.96"


def test_held_tags_compare_bytes(env):
    """Canonically equivalent but byte-different tags are two tags (Nova's table compares bytes)."""
    token, _, _ = env.new_user()
    sid = env.boot("unicode-tags", token=token)
    assert env.nova("PUT", f"/servers/{sid}/tags/" + quote("\u00e9"), token=token).status_code == 201
    assert env.nova("PUT", f"/servers/{sid}/tags/" + quote("e\u0301"), token=token).status_code == 201
    assert env.nova("GET", f"/servers/{sid}/tags/" + quote("\u212a"), token=token).status_code == 404
    tags = env.nova("GET", f"/servers/{sid}/tags", token=token).json()["tags"]
    assert sorted(tags) == sorted(["\u00e9", "e\u0301"]), tags


def test_held_quotas_enforced(env):
    token, _, project = env.new_user()
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {
        "server_groups": 1, "key_pairs": 1, "metadata_items": 2, "cores": 1}}).status_code == 200
    assert env.nova("POST", "/os-server-groups", token=token, json={"server_group": {"name": "g", "policy": "affinity"}}).status_code == 200
    nova_error(env.nova("POST", "/os-server-groups", token=token, json={"server_group": {"name": "g2", "policy": "affinity"}}), 403)
    assert env.nova("POST", "/os-keypairs", token=token, version="2.1", json={"keypair": {"name": "k1"}}).status_code == 200
    nova_error(env.nova("POST", "/os-keypairs", token=token, version="2.1", json={"keypair": {"name": "k2"}}), 403)
    sid = env.boot("quota", token=token)
    nova_error(env.nova("POST", f"/servers/{sid}/metadata", token=token, json={"metadata": {"a": "1", "b": "2", "c": "3"}}), 403)
    # resize to more cores than the quota leaves
    assert "Quota exceeded for cores" in nova_error(env.action(sid, {"resize": {"flavorRef": "3"}}, token=token), 403)
    # a second server is over the cores quota; after the delete it fits again
    nova_error(env.nova("POST", "/servers", token=token, json={"server": {"name": "q2", "imageRef": env.image, "flavorRef": "42",
                                                                        "networks": "none"}}), 403)
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    env.boot("q3", token=token, wait=False)


def test_held_compute_agent_api_refuses_without_the_key(env):
    base = f"{env.base}/compute-agent/v1"
    key = (env.cloud.nimbus.data_dir / "compute" / "agent-key").read_text().strip()
    for headers in ({}, {"X-Compute-Key": ""}, {"X-Compute-Key": "x" * len(key)}, {"X-Compute-Key": key.upper() + "0"},
                    {"X-Auth-Token": env.admin}):
        for method, path in (("GET", f"/desired?host={env.host}"), ("GET", f"/images/{env.image}"), ("GET", f"/images/{env.image}/data"),
                             ("POST", f"/reports?host={env.host}"), ("POST", "/nodes"), ("PUT", f"/images/{env.image}/data")):
            r = requests.request(method, base + path, headers=headers, data=b"[]", timeout=TIMEOUT)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
    k = {"X-Compute-Key": key}
    assert requests.get(f"{base}/images/..%2F..%2Fetc%2Fpasswd", headers=k, timeout=TIMEOUT).status_code == 404
    token, _, _ = env.new_user()
    sid = env.boot("agent", token=token)
    # uploading over an image that is not the instance's pending snapshot
    r = requests.put(f"{base}/images/{env.image}/data?instance={sid}&disk_format=raw&host={env.host}", headers=k, data=b"x" * 10,
                     timeout=TIMEOUT)
    assert r.status_code == 409, r.text
    r = requests.put(f"{base}/images/{env.image}/data?instance=../../x&disk_format=raw&host={env.host}", headers=k, data=b"x",
                     timeout=TIMEOUT)
    assert r.status_code == 400, r.text
    assert requests.post(f"{base}/reports?host={env.host}", headers=k, data=b"[" * 100000 + b"]" * 100000,
                         timeout=TIMEOUT).status_code == 400


def test_held_concurrent_resize_and_delete_leave_no_allocation(env):
    token, _, _ = env.new_user()
    sid = env.boot("race", token=token)
    out = {}
    threads = [threading.Thread(target=lambda: out.__setitem__("resize", env.action(sid, {"resize": {"flavorRef": "84"}}, token=token))),
               threading.Thread(target=lambda: out.__setitem__("delete", env.nova("DELETE", f"/servers/{sid}", token=token)))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert out["delete"].status_code == 204 and out["resize"].status_code in (202, 409), (out["delete"].text, out["resize"].text)
    env.wait(sid, "DELETED", token=token)
    time.sleep(1)
    assert env.placement(f"/allocations/{sid}")["allocations"] == {}
