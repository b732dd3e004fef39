"""Glance's metadata definitions (metadefs) API and the deprecated tasks API, driven with the
`openstack image metadef …` CLI, openstacksdk and raw requests against the real binary.

Expected behaviour is Glance's (glance/api/v2/metadef_*.py, glance/api/v2/tasks.py,
glance/policies/metadef.py): reads for the namespace's project and public namespaces,
writes for admins; Glance's standard definitions (etc/metadefs) are there from the start."""

import json
import uuid

import pytest

from conftest import unique
from image_support import Glance, assert_error


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


@pytest.fixture
def admin(glance):
    return glance.admin


@pytest.fixture
def namespaces(admin):
    """Names of namespaces to delete (unprotected first) after the test."""
    made = []
    yield made
    for name in made:
        admin.req("PUT", f"/v2/metadefs/namespaces/{name}", json={"namespace": name})
        admin.req("DELETE", f"/v2/metadefs/namespaces/{name}")


def create_ns(admin, made, **fields):
    body = {"namespace": unique("ns"), **fields}
    r = admin.req("POST", "/v2/metadefs/namespaces", json=body)
    assert r.status_code == 201, r.text
    made.append(r.json()["namespace"])
    return r.json()


# ---- standard definitions and schemas -------------------------------------------------------

def test_standard_definitions_are_loaded_and_readable_by_members(glance):
    member = glance.user()
    r = member.req("GET", "/v2/metadefs/namespaces?limit=1000")
    assert r.status_code == 200, r.text
    names = {n["namespace"] for n in r.json()["namespaces"]}
    assert {"OS::Compute::CPUPinning", "OS::Compute::Libvirt", "OS::Glance::Signatures"} <= names
    ns = member.req("GET", "/v2/metadefs/namespaces/OS::Compute::CPUPinning?resource_type=OS::Nova::Flavor").json()
    assert ns["protected"] is True and ns["visibility"] == "public" and ns["owner"] == "admin"
    assert set(ns["properties"]) == {"hw:cpu_policy", "hw:cpu_thread_policy"}
    assert ns["self"] == "/v2/metadefs/namespaces/OS::Compute::CPUPinning"
    types = [t["name"] for t in member.req("GET", "/v2/metadefs/resource_types").json()["resource_types"]]
    assert "OS::Glance::Image" in types and "OS::Nova::Flavor" in types
    flavor_ns = member.req("GET", "/v2/metadefs/namespaces?resource_types=OS::Nova::Flavor&limit=1000").json()["namespaces"]
    assert flavor_ns and all(any(a["name"] == "OS::Nova::Flavor" for a in n["resource_type_associations"]) for n in flavor_ns)


@pytest.mark.parametrize("name,title", [
    ("namespace", "namespace"), ("namespaces", "namespaces"), ("object", "object"), ("objects", "objects"),
    ("property", "property"), ("properties", "properties"), ("tag", "tag"), ("tags", "tags"),
    ("resource_type", "resource_type_association"), ("resource_types", "resource_type_associations"),
])
def test_schemas(glance, name, title):
    r = glance.user("reader").req("GET", f"/v2/schemas/metadefs/{name}")
    assert r.status_code == 200 and r.json()["name"] == title


def test_task_schemas(glance):
    c = glance.user()
    assert c.req("GET", "/v2/schemas/task").json()["name"] == "task"
    assert c.req("GET", "/v2/schemas/tasks").json()["name"] == "tasks"


# ---- the CLI ------------------------------------------------------------------------------

def test_cli_namespace_object_property_lifecycle(admin, namespaces):
    name = unique("cli-ns")
    namespaces.append(name)
    made = admin.cli("image", "metadef", "namespace", "create", name, "--public", "--description", "from the CLI", "-f", "json")
    assert made["namespace"] == name and made["visibility"] == "public"
    listed = admin.cli("image", "metadef", "namespace", "list", "-f", "json")
    assert name in [n["namespace"] for n in listed]
    shown = admin.cli("image", "metadef", "namespace", "show", name, "-f", "json")
    assert shown["description"] == "from the CLI"

    obj = admin.cli("image", "metadef", "object", "create", "--namespace", name, "obj1", "-f", "json")
    assert obj["name"] == "obj1"
    objs = admin.cli("image", "metadef", "object", "list", name, "-f", "json")
    assert [o["name"] for o in objs] == ["obj1"]
    assert admin.cli("image", "metadef", "object", "show", name, "obj1", "-f", "json")["name"] == "obj1"

    prop = admin.cli("image", "metadef", "property", "create", "--name", "p1", "--title", "P one", "--type", "string",
                     "--schema", json.dumps({"enum": ["a", "b"]}), name, "-f", "json")
    assert prop["name"] == "p1" and prop["title"] == "P one"
    props = admin.cli("image", "metadef", "property", "list", name, "-f", "json")
    assert [p["name"] for p in props] == ["p1"]
    assert admin.cli("image", "metadef", "property", "show", name, "p1", "-f", "json")["type"] == "string"
    admin.cli("image", "metadef", "property", "delete", name, "p1")
    admin.cli("image", "metadef", "object", "delete", name, "obj1")
    types = admin.cli("image", "metadef", "resource", "type", "list", "-f", "json")
    assert "OS::Glance::Image" in [t["Name"] if "Name" in t else t["name"] for t in types]
    admin.cli("image", "metadef", "namespace", "delete", name)
    r = admin.req("GET", f"/v2/metadefs/namespaces/{name}")
    assert_error(r, 404, "was not found")


def test_sdk_lists_namespaces_and_resource_types(glance):
    conn = glance.user().sdk()
    try:
        names = [n.namespace for n in conn.image.metadef_namespaces()]
        assert "OS::Compute::Hypervisor" in names
        assert "OS::Nova::Flavor" in [t.name for t in conn.image.metadef_resource_types()]
    finally:
        conn.close()


# ---- the HTTP API ---------------------------------------------------------------------------

def test_create_with_contents_update_and_children(admin, namespaces):
    ns = create_ns(admin, namespaces, display_name="D", visibility="public",
                   resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "x_"}],
                   objects=[{"name": "o", "properties": {"a": {"title": "A", "type": "integer", "minimum": 0}}}],
                   properties={"p": {"title": "P", "type": "boolean"}}, tags=[{"name": "t1"}])
    name = ns["namespace"]
    assert ns["properties"]["p"] == {"title": "P", "type": "boolean"}
    full = admin.req("GET", f"/v2/metadefs/namespaces/{name}?resource_type=OS::Glance::Image").json()
    assert set(full["properties"]) == {"x_p"} and set(full["objects"][0]["properties"]) == {"x_a"}
    assert full["tags"] == [{"name": "t1"}]
    # a duplicate namespace, object, property, tag, association: 409
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", json={"namespace": name}), 409, "already exists")
    base = f"/v2/metadefs/namespaces/{name}"
    assert_error(admin.req("POST", base + "/objects", json={"name": "o"}), 409, "already exists")
    assert_error(admin.req("POST", base + "/properties", json={"name": "p", "title": "P", "type": "string"}), 409)
    assert_error(admin.req("POST", base + "/tags/t1"), 409)
    assert_error(admin.req("POST", base + "/resource_types", json={"name": "OS::Glance::Image"}), 409)
    # tags: replace, append, rename, delete
    r = admin.req("POST", base + "/tags", json={"tags": [{"name": "a"}, {"name": "b"}]})
    assert r.status_code == 201 and r.json() == {"tags": [{"name": "a"}, {"name": "b"}]}
    r = admin.req("POST", base + "/tags", json={"tags": [{"name": "c"}]}, headers={"X-Openstack-Append": "True"})
    assert r.status_code == 201
    assert sorted(t["name"] for t in admin.req("GET", base + "/tags").json()["tags"]) == ["a", "b", "c"]
    r = admin.req("PUT", base + "/tags/a", json={"name": "z"})
    assert r.status_code == 200 and r.json()["name"] == "z"
    assert admin.req("DELETE", base + "/tags").status_code == 204
    assert admin.req("GET", base + "/tags").json() == {"tags": []}
    # rename the namespace: its contents follow
    new = unique("renamed")
    r = admin.req("PUT", base, json={"namespace": new, "visibility": "public"})
    assert r.status_code == 200 and r.json()["namespace"] == new
    namespaces.append(new)
    assert admin.req("GET", f"/v2/metadefs/namespaces/{new}/objects").json()["objects"][0]["name"] == "o"
    assert_error(admin.req("GET", base), 404)


def test_protected_namespace_cannot_be_deleted(admin, namespaces):
    name = create_ns(admin, namespaces, protected=True)["namespace"]
    assert_error(admin.req("DELETE", f"/v2/metadefs/namespaces/{name}"), 403, "is protected")
    assert_error(admin.req("DELETE", f"/v2/metadefs/namespaces/{name}/objects"), 403)
    r = admin.req("PUT", f"/v2/metadefs/namespaces/{name}", json={"namespace": name, "protected": False})
    assert r.status_code == 200 and r.json()["protected"] is False
    assert admin.req("DELETE", f"/v2/metadefs/namespaces/{name}").status_code == 204


def test_pagination(admin, namespaces):
    prefix = unique("page")
    for i in range(5):
        create_ns(admin, namespaces, namespace=f"{prefix}-{i}")
    seen, link = [], f"/v2/metadefs/namespaces?limit=2&sort_key=namespace&sort_dir=asc"
    while link:
        body = admin.follow(link).json()
        seen += [n["namespace"] for n in body["namespaces"]]
        link = body.get("next")
    mine = [n for n in seen if n.startswith(prefix)]
    assert mine == [f"{prefix}-{i}" for i in range(5)]
    assert seen == sorted(seen, key=lambda s: s.encode())
    assert_error(admin.req("GET", "/v2/metadefs/namespaces?sort_dir=up"), 400, "Invalid sort direction")
    assert_error(admin.req("GET", "/v2/metadefs/namespaces?limit=x"), 400, "limit param must be an integer")
    assert_error(admin.req("GET", "/v2/metadefs/namespaces?visibility=shared"), 400, "Invalid visibility value")


# ---- who may do what -------------------------------------------------------------------------

def test_private_namespaces_of_other_projects_are_invisible(glance, admin, namespaces):
    alice, bob = glance.user(), glance.user()
    name = create_ns(admin, namespaces, owner=alice.project_id, visibility="private",
                     properties={"p": {"title": "P", "type": "string"}})["namespace"]
    assert alice.req("GET", f"/v2/metadefs/namespaces/{name}").status_code == 200
    for path in ["", "/objects", "/properties", "/properties/p", "/tags", "/resource_types"]:
        assert_error(bob.req("GET", f"/v2/metadefs/namespaces/{name}{path}"), 404)
    assert name not in [n["namespace"] for n in bob.req("GET", "/v2/metadefs/namespaces?limit=1000").json()["namespaces"]]
    # writes: 404 for bob (cannot see it), 403 for alice (not admin)
    assert_error(bob.req("DELETE", f"/v2/metadefs/namespaces/{name}"), 404)
    assert_error(alice.req("DELETE", f"/v2/metadefs/namespaces/{name}"), 403)
    assert_error(alice.req("POST", f"/v2/metadefs/namespaces/{name}/objects", json={"name": "o"}), 403)


def test_non_admin_create_is_forbidden_and_unauthenticated_is_401(glance):
    c = glance.user()
    assert_error(c.req("POST", "/v2/metadefs/namespaces", json={"namespace": unique("x")}), 403)
    assert c.req("GET", "/v2/metadefs/namespaces", token=None).status_code == 401
    assert c.req("GET", "/v2/tasks", token=None).status_code == 401


# ---- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("body,status,fragment", [
    ({"namespace": "n" * 81}, 400, "is too long"),
    ({"namespace": "x", "visibility": "shared"}, 400, "is not one of"),
    ({"namespace": 5}, 400, "is not of type 'string'"),
    ({}, 400, "'namespace' is a required property"),
    ({"namespace": "x", "protected": "yes"}, 400, "is not of type 'boolean'"),
    ({"namespace": "x", "properties": {"p": {"title": "P"}}}, 400, "'type' is a required property"),
    ({"namespace": "x", "properties": {"p": {"title": "P", "type": "text"}}}, 400, "is not one of"),
    ({"namespace": "x", "self": "/x"}, 403, "is read-only"),
    ({"namespace": "x", "tags": [{"name": "a"}, {"name": "a"}]}, 409, "Duplicate"),
])
def test_bad_namespace_bodies(admin, body, status, fragment):
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", json=body), status, fragment)


def test_malformed_huge_and_deep_bodies(admin, namespaces):
    h = {"Content-Type": "application/json"}
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", data=b"{not json", headers=h), 400, "Malformed JSON")
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", data=b"[1]", headers=h), 400)
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", data=b"", headers=h), 400)
    big = json.dumps({"namespace": "big", "description": "d" * (2 << 20)}).encode()
    r = admin.req("POST", "/v2/metadefs/namespaces", data=big, headers=h)
    assert r.status_code == 413, r.status_code
    deep = b'{"namespace": "deep", "properties": {"p": {"title": "t", "type": "string", "default": ' + b"[" * 5000 + b"]" * 5000 + b"}}}"
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", data=deep, headers=h), 400)
    many = {"namespace": unique("many"), "properties": {f"p{i}": {"title": "t", "type": "string"} for i in range(10000)}}
    assert_error(admin.req("POST", "/v2/metadefs/namespaces", json=many), 400, "more than 1000")
    name = create_ns(admin, namespaces)["namespace"]
    r = admin.req("POST", f"/v2/metadefs/namespaces/{name}/tags", json={"tags": [{"name": f"t{i}"} for i in range(10000)]})
    assert_error(r, 400)


def test_more_bad_input_is_a_4xx(admin, namespaces):
    name = create_ns(admin, namespaces)["namespace"]
    base = f"/v2/metadefs/namespaces/{name}"
    assert_error(admin.req("POST", base + "/tags/" + "t" * 256), 400, "is too long")
    assert_error(admin.req("POST", base + "/objects", json={"name": "o", "required": [1]}), 400, "is not of type 'string'")
    assert_error(admin.req("POST", base + "/objects", json={"name": "o", "required": ["r" * 1000] * 100}), 400)
    assert_error(admin.req("POST", base + "/objects", json={"name": "o" * 81}), 400, "is too long")
    assert_error(admin.req("POST", base + "/properties", json={"name": "p", "title": "t", "type": "string", "minimum": "x"}), 400)
    assert_error(admin.req("POST", base + "/resource_types", json={"name": "r" * 81}), 400, "is too long")
    assert_error(admin.req("PUT", base, json=[name]), 400)
    assert_error(admin.req("GET", "/v2/metadefs/namespaces?marker=" + unique("absent")), 404)
    assert_error(admin.req("GET", "/v2/metadefs/namespaces?resource_types=" + ",".join(["x"] * 500)), 400)
    assert admin.req("GET", "/v2/metadefs/namespaces?limit=0").json()["namespaces"] == []
    assert_error(admin.req("GET", base + "/objects/absent"), 404, "was not found")
    assert_error(admin.req("DELETE", base + "/resource_types/absent"), 404)
    assert_error(admin.req("GET", "/v2/metadefs/namespaces/"), 404)


def test_names_differing_by_normalization_are_two_namespaces(admin, namespaces):
    base = unique("n")
    composed, decomposed = base + "caf\u00e9", base + "cafe\u0301"
    a = create_ns(admin, namespaces, namespace=composed)
    b = create_ns(admin, namespaces, namespace=decomposed)
    assert a["namespace"] == composed and b["namespace"] == decomposed
    admin.req("POST", f"/v2/metadefs/namespaces/{composed}/tags/x")
    assert admin.req("GET", f"/v2/metadefs/namespaces/{decomposed}/tags").json() == {"tags": []}
    assert admin.req("GET", f"/v2/metadefs/namespaces/{composed}/tags").json()["tags"][0]["name"] == "x"


# ---- tasks -----------------------------------------------------------------------------------

def test_tasks_are_admin_only_and_checked(glance, admin):
    member = glance.user()
    assert_error(member.req("GET", "/v2/tasks"), 403)
    assert_error(member.req("POST", "/v2/tasks", json={"type": "import", "input": {}}), 403)
    r = admin.req("GET", "/v2/tasks")
    assert r.status_code == 200 and r.json()["schema"] == "/v2/schemas/tasks" and isinstance(r.json()["tasks"], list)
    assert_error(admin.req("POST", "/v2/tasks", json={"input": {}}), 400, "Task 'type' is required")
    assert_error(admin.req("POST", "/v2/tasks", json={"type": "import"}), 400, "Task 'input' is required")
    assert_error(admin.req("POST", "/v2/tasks", json={"type": "bogus", "input": {}}), 400, "is not one of")
    assert_error(admin.req("POST", "/v2/tasks", json={"type": "import", "input": {"image_properties": {}}}), 400, "Invalid location")
    assert_error(admin.req("POST", "/v2/tasks", json={"type": "import", "input": {"import_from": "file:///etc/passwd"}}), 400, "File based imports")
    assert_error(admin.req("POST", "/v2/tasks", json={"type": "import", "input": {"import_from": "http://169.254.169.254/x"}}), 400, "does not pass filtering")
    assert_error(admin.req("GET", "/v2/tasks?status=done"), 400, "Invalid status value")
    assert_error(admin.req("GET", "/v2/tasks?marker=nope"), 400, "Invalid marker format")
    assert_error(admin.req("GET", f"/v2/tasks/{uuid.uuid4()}"), 404)
    assert admin.req("DELETE", f"/v2/tasks/{uuid.uuid4()}").status_code == 405


# ---- an import task that runs, and a restart --------------------------------------------------

def test_import_task_from_an_allowed_host_and_metadefs_survive_restart(object_nimbus, tmp_path):
    import http.server
    import socketserver
    import threading
    import time

    import requests
    from object_support import admin_account

    payload = b"nimbus task import " * 1000
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "img.raw").write_bytes(payload)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "www"), **kw)

        def log_message(self, *a):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    data = tmp_path / "data"
    try:
        nimbus = object_nimbus(config={"image": {"task_import_allowed_hosts": "127.0.0.1", "register_test_image": "false"}}, data_dir=data)
        url = f"{nimbus.base_url}/image/v2"
        h = {"X-Auth-Token": admin_account(nimbus).token, "Accept": "application/json"}
        body = {"type": "import", "input": {"import_from": f"http://127.0.0.1:{port}/img.raw", "import_from_format": "raw",
                                            "image_properties": {"name": "from-task", "disk_format": "raw", "container_format": "bare"}}}
        r = requests.post(f"{url}/tasks", json=body, headers=h, timeout=30)
        assert r.status_code == 201, r.text
        task = r.json()
        assert task["status"] == "pending" and task["type"] == "import" and r.headers["Location"] == f"/v2/tasks/{task['id']}"
        for _ in range(150):
            task = requests.get(f"{url}/tasks/{task['id']}", headers=h, timeout=30).json()
            if task["status"] in ("success", "failure"):
                break
            time.sleep(0.2)
        assert task["status"] == "success", task
        image = requests.get(f"{url}/images/{task['result']['image_id']}", headers=h, timeout=30).json()
        assert image["status"] == "active" and image["size"] == len(payload) and image["name"] == "from-task"
        listed = requests.get(f"{url}/tasks?type=import&status=success", headers=h, timeout=30).json()["tasks"]
        assert task["id"] in [t["id"] for t in listed] and "input" not in listed[0]
        # a missing file fails the task; another host is refused up front
        body["input"]["import_from"] = f"http://127.0.0.1:{port}/absent.raw"
        failing = requests.post(f"{url}/tasks", json=body, headers=h, timeout=30).json()
        for _ in range(150):
            failing = requests.get(f"{url}/tasks/{failing['id']}", headers=h, timeout=30).json()
            if failing["status"] in ("success", "failure"):
                break
            time.sleep(0.2)
        assert failing["status"] == "failure" and "404" in failing["message"], failing
        body["input"]["import_from"] = f"http://localhost:{port}/img.raw"
        assert_error(requests.post(f"{url}/tasks", json=body, headers=h, timeout=30), 400, "does not pass filtering")

        # A deleted standard namespace stays deleted, and nothing is duplicated, after a restart.
        before = requests.get(f"{url}/metadefs/namespaces?limit=1000", headers=h, timeout=30).json()["namespaces"]
        ns = "OS::Compute::Watchdog"
        requests.put(f"{url}/metadefs/namespaces/{ns}", json={"namespace": ns, "visibility": "public"}, headers=h, timeout=30)
        assert requests.delete(f"{url}/metadefs/namespaces/{ns}", headers=h, timeout=30).status_code == 204
        port_n = nimbus.port
        nimbus.stop()
        nimbus = object_nimbus(config={"image": {"register_test_image": "false"}}, data_dir=data, port=port_n)
        h["X-Auth-Token"] = admin_account(nimbus).token
        after = requests.get(f"{url}/metadefs/namespaces?limit=1000", headers=h, timeout=30).json()["namespaces"]
        assert sorted(n["namespace"] for n in after) == sorted(n["namespace"] for n in before if n["namespace"] != ns)
    finally:
        server.shutdown()


NEW_ROUTES = [
    ("GET", "/v2/metadefs/namespaces"), ("POST", "/v2/metadefs/namespaces"),
    ("GET", "/v2/metadefs/namespaces/n"), ("PUT", "/v2/metadefs/namespaces/n"), ("DELETE", "/v2/metadefs/namespaces/n"),
    ("DELETE", "/v2/metadefs/namespaces/n/objects"), ("DELETE", "/v2/metadefs/namespaces/n/properties"),
    ("DELETE", "/v2/metadefs/namespaces/n/tags"),
    ("GET", "/v2/metadefs/resource_types"), ("GET", "/v2/metadefs/namespaces/n/resource_types"),
    ("POST", "/v2/metadefs/namespaces/n/resource_types"), ("DELETE", "/v2/metadefs/namespaces/n/resource_types/r"),
    ("GET", "/v2/metadefs/namespaces/n/objects"), ("POST", "/v2/metadefs/namespaces/n/objects"),
    ("GET", "/v2/metadefs/namespaces/n/objects/o"), ("PUT", "/v2/metadefs/namespaces/n/objects/o"),
    ("DELETE", "/v2/metadefs/namespaces/n/objects/o"),
    ("GET", "/v2/metadefs/namespaces/n/properties"), ("POST", "/v2/metadefs/namespaces/n/properties"),
    ("GET", "/v2/metadefs/namespaces/n/properties/p"), ("PUT", "/v2/metadefs/namespaces/n/properties/p"),
    ("DELETE", "/v2/metadefs/namespaces/n/properties/p"),
    ("GET", "/v2/metadefs/namespaces/n/tags"), ("POST", "/v2/metadefs/namespaces/n/tags"),
    ("POST", "/v2/metadefs/namespaces/n/tags/t"), ("GET", "/v2/metadefs/namespaces/n/tags/t"),
    ("PUT", "/v2/metadefs/namespaces/n/tags/t"), ("DELETE", "/v2/metadefs/namespaces/n/tags/t"),
    ("GET", "/v2/tasks"), ("POST", "/v2/tasks"), ("GET", "/v2/tasks/8f0d6a4e-4b0e-4c8e-9d6a-2f3b1c0e5a71"), ("DELETE", "/v2/tasks/8f0d6a4e-4b0e-4c8e-9d6a-2f3b1c0e5a71"),
]


@pytest.mark.parametrize("method,path", NEW_ROUTES)
def test_every_new_route_needs_a_token(glance, method, path):
    r = glance.user().req(method, path, token=None, json={})
    assert r.status_code == 401, (method, path, r.status_code)
