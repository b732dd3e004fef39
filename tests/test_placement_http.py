"""Placement over plain HTTP: catalog, version document and microversion negotiation, the
error format, schemas, cache headers, policy, allocation candidates and writes as real
Placement answers them (placement/handlers/*, gabbits/microversion.yaml, basic-http.yaml,
allocation-candidates.yaml, allocations-post.yaml, reshaper.yaml)."""

import pytest
import requests

from placement_support import LATEST, PlacementClient, assert_error, new_uuid, placement_endpoint


@pytest.fixture(scope="module")
def admin(cloud):
    return PlacementClient.login(cloud, "admin", cloud.admin_password, "admin")


@pytest.fixture
def made(admin):
    providers = []
    yield providers
    admin.cleanup(providers)


def test_catalog_and_root_document(cloud, admin):
    _, body = cloud.token("admin", cloud.admin_password, "admin")
    assert placement_endpoint(body) == f"{cloud.base_url}/placement"
    svc = [s for s in body["token"]["catalog"] if s["type"] == "placement"]
    assert svc[0]["name"] == "placement"
    r = requests.get(admin.url, timeout=10)   # no token needed for the root
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "placement 1.0"
    assert "openstack-api-version" in r.headers["Vary"]
    v = r.json()["versions"][0]
    assert (v["id"], v["min_version"], v["max_version"], v["status"]) == ("v1.0", "1.0", LATEST, "CURRENT")
    assert v["links"] == [{"rel": "self", "href": ""}]
    r = requests.get(admin.url, headers={"OpenStack-API-Version": "placement latest"}, timeout=10)
    assert r.headers["OpenStack-API-Version"] == f"placement {LATEST}"
    assert "no-cache" in r.headers["Cache-Control"] and r.headers["Last-Modified"]


@pytest.mark.parametrize("version,status,text", [
    ("0.5", 406, "Unacceptable version header: 0.5"), ("1.40", 406, "Unacceptable version header: 1.40"),
    ("pony.horse", 400, "invalid version string: pony.horse"), ("1.2.3", 400, "invalid version string: 1.2.3")])
def test_bad_microversions(admin, version, status, text):
    r = admin.req("GET", "/resource_providers", version=version)
    e = assert_error(r, status, text, code=None)
    if status == 406:
        assert (e["max_version"], e["min_version"]) == (LATEST, "1.0")


ROUTES = [("GET", "/resource_providers"), ("POST", "/resource_providers"), ("GET", "/resource_providers/x"),
          ("PUT", "/resource_providers/x"), ("DELETE", "/resource_providers/x"), ("GET", "/resource_providers/x/inventories"),
          ("PUT", "/resource_providers/x/inventories"), ("POST", "/resource_providers/x/inventories"),
          ("DELETE", "/resource_providers/x/inventories"), ("GET", "/resource_providers/x/inventories/VCPU"),
          ("PUT", "/resource_providers/x/inventories/VCPU"), ("DELETE", "/resource_providers/x/inventories/VCPU"),
          ("GET", "/resource_providers/x/usages"), ("GET", "/resource_providers/x/aggregates"),
          ("PUT", "/resource_providers/x/aggregates"), ("GET", "/resource_providers/x/traits"),
          ("PUT", "/resource_providers/x/traits"), ("DELETE", "/resource_providers/x/traits"),
          ("GET", "/resource_providers/x/allocations"), ("GET", "/resource_classes"), ("POST", "/resource_classes"),
          ("GET", "/resource_classes/X"), ("PUT", "/resource_classes/X"), ("DELETE", "/resource_classes/X"),
          ("GET", "/traits"), ("GET", "/traits/X"), ("PUT", "/traits/X"), ("DELETE", "/traits/X"),
          ("GET", "/allocations/x"), ("PUT", "/allocations/x"), ("DELETE", "/allocations/x"), ("POST", "/allocations"),
          ("GET", "/allocation_candidates"), ("GET", "/usages"), ("POST", "/reshaper")]


def test_every_route_requires_a_token(admin):
    for method, path in ROUTES:
        r = admin.req(method, path, token=None)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["error"]["code"] == 401
        assert "Keystone uri=" in r.headers["WWW-Authenticate"]


def test_error_format_and_codes(admin, made):
    missing = new_uuid()
    e = assert_error(admin.req("GET", f"/resource_providers/{missing}"), 404, f"No resource provider with uuid {missing} found")
    assert e["title"] == "Not Found"
    r = admin.req("GET", f"/resource_providers/{missing}", version="1.22")
    assert "code" not in r.json()["errors"][0]
    r = admin.req("PATCH", "/resource_providers")
    assert_error(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert_error(admin.req("GET", "/nothing-here"), 404)
    # routes that do not exist yet at a microversion
    # (before 1.23 errors have no code)
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:1", version="1.9"), 404, code=None)
    assert_error(admin.req("GET", "/usages?project_id=x", version="1.8"), 404, code=None)
    assert_error(admin.req("GET", "/traits", version="1.5"), 404, code=None)
    rp = admin.provider(inventory={"VCPU": {"total": 4}})
    made.append(rp)
    assert_error(admin.req("DELETE", f"/resource_providers/{rp}/inventories", version="1.4"), 405, code=None)
    # duplicate names, generation conflicts
    name = admin.ok("GET", f"/resource_providers/{rp}")["name"]
    assert_error(admin.req("POST", "/resource_providers", json={"name": name}), 409, "Conflicting resource provider",
                 code="placement.duplicate_name")
    assert_error(admin.req("PUT", f"/resource_providers/{rp}/inventories", json={"resource_provider_generation": 0, "inventories": {}}),
                 409, "resource provider generation conflict", code="placement.concurrent_update")


@pytest.mark.parametrize("body,fragment", [
    ({}, "JSON does not validate: 'name' is a required property"),
    ({"name": "x", "bogus": 1}, "Additional properties are not allowed ('bogus' was unexpected)"),
    ({"name": 5}, "5 is not of type 'string'"),
    ({"name": "x", "uuid": "not-a-uuid"}, "'not-a-uuid' is not a 'uuid'"),
    ({"name": "x" * 201}, "is too long"),
])
def test_provider_body_schema(admin, body, fragment):
    assert_error(admin.req("POST", "/resource_providers", json=body), 400, fragment)


def test_media_types_and_malformed_json(admin, made):
    r = admin.req("POST", "/resource_providers", data=b'{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "The media type text/plain is not supported, use application/json")
    assert_error(admin.req("POST", "/resource_providers", data=b'{"name": ', headers={"Content-Type": "application/json"}),
                 400, "Malformed JSON")
    assert_error(admin.req("GET", "/resource_providers", headers={"Accept": "text/plain"}), 406, "Only application/json is provided")
    rp = admin.provider()
    made.append(rp)
    assert_error(admin.req("PUT", f"/resource_providers/{rp}/inventories",
                           json={"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 0}}}),
                 400, "0 is less than the minimum of 1")


def test_cache_headers_from_1_15(admin, made):
    rp = admin.provider()
    made.append(rp)
    old = admin.req("GET", f"/resource_providers/{rp}", version="1.14")
    assert "Last-Modified" not in old.headers and "Cache-Control" not in old.headers
    new = admin.req("GET", f"/resource_providers/{rp}", version="1.15")
    assert new.headers["Cache-Control"] == "no-cache" and new.headers["Last-Modified"].endswith("GMT")
    assert new.headers["Vary"] == "openstack-api-version"


def test_provider_views_by_microversion(admin, made):
    root = admin.provider()
    child = admin.provider(parent=root)
    made.extend([root, child])
    v10 = admin.ok("GET", f"/resource_providers/{child}", version="1.0")
    assert set(v10) == {"uuid", "name", "generation", "links"}
    assert [l["rel"] for l in v10["links"]] == ["self", "inventories", "usages"]
    latest = admin.ok("GET", f"/resource_providers/{child}")
    assert latest["parent_provider_uuid"] == root and latest["root_provider_uuid"] == root
    assert [l["rel"] for l in latest["links"]] == ["self", "inventories", "usages", "aggregates", "traits", "allocations"]
    assert {p["uuid"] for p in admin.ok("GET", f"/resource_providers?in_tree={child}")["resource_providers"]} == {root, child}
    assert_error(admin.req("DELETE", f"/resource_providers/{root}"), 409, "It has child resource providers",
                 code="placement.resource_provider.cannot_delete_parent")
    # 1.37: re-parenting; before it, refused
    other = admin.provider()
    made.append(other)
    name = latest["name"]
    assert_error(admin.req("PUT", f"/resource_providers/{child}", version="1.36", json={"name": name, "parent_provider_uuid": other}),
                 400, "re-parenting a provider is not currently allowed")
    moved = admin.ok("PUT", f"/resource_providers/{child}", json={"name": name, "parent_provider_uuid": other})
    assert moved["root_provider_uuid"] == other


def test_allocation_candidates_shapes(admin, made):
    agg = new_uuid()
    cn = admin.provider(inventory={"VCPU": {"total": 8, "allocation_ratio": 16.0}, "MEMORY_MB": {"total": 4096}},
                        traits=["HW_CPU_X86_AVX2"], aggregates=[agg])
    ss = admin.provider(inventory={"DISK_GB": {"total": 1000, "reserved": 100}}, traits=["MISC_SHARES_VIA_AGGREGATE"],
                        aggregates=[agg])
    made.extend([cn, ss])
    q = f"/allocation_candidates?resources=VCPU:2,MEMORY_MB:512,DISK_GB:100&member_of={agg}"
    body = admin.ok("GET", q)
    assert len(body["allocation_requests"]) == 1
    assert body["allocation_requests"][0]["allocations"] == {cn: {"resources": {"VCPU": 2, "MEMORY_MB": 512}},
                                                             ss: {"resources": {"DISK_GB": 100}}}
    assert sorted(body["allocation_requests"][0]["mappings"][""]) == sorted([cn, ss])
    assert body["provider_summaries"][cn] == {
        "resources": {"VCPU": {"capacity": 128, "used": 0}, "MEMORY_MB": {"capacity": 4096, "used": 0}},
        "traits": ["HW_CPU_X86_AVX2"], "parent_provider_uuid": None, "root_provider_uuid": cn}
    assert body["provider_summaries"][ss]["resources"] == {"DISK_GB": {"capacity": 900, "used": 0}}
    old = admin.ok("GET", f"/allocation_candidates?resources=VCPU:2,MEMORY_MB:512,DISK_GB:100", version="1.10")
    mine = [a for a in old["allocation_requests"] if any(x["resource_provider"]["uuid"] == cn for x in a["allocations"])]
    assert len(mine) == 1 and all(x.keys() == {"resource_provider", "resources"} for x in mine[0]["allocations"])
    assert "traits" not in old["provider_summaries"][cn]
    dictish = admin.ok("GET", "/allocation_candidates?resources=VCPU:2", version="1.12")
    assert "mappings" not in dictish["allocation_requests"][0]
    assert admin.ok("GET", q + "&required=!HW_CPU_X86_AVX2", version="1.22")["allocation_requests"] == []
    assert len(admin.ok("GET", q + "&required=in:HW_CPU_X86_AVX2,HW_CPU_X86_AVX")["allocation_requests"]) == 1
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:1&required=in:HW_CPU_X86_AVX2", version="1.38"), 400,
                 "only supported since microversion 1.39")
    assert_error(admin.req("GET", "/allocation_candidates?resources=NOPE:1"), 400,
                 "Invalid resource class in resources parameter: No such resource class NOPE.")
    assert_error(admin.req("GET", "/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1"), 400,
                 'The "group_policy" parameter is required')
    assert_error(admin.req("GET", "/allocation_candidates?resources=VCPU:1&bogus=1"), 400, "Invalid query string parameters")


def test_allocations_consumers_and_usages(admin, made):
    cn = admin.provider(inventory={"VCPU": {"total": 4}, "MEMORY_MB": {"total": 1024}})
    made.append(cn)
    c1, c2, project = new_uuid(), new_uuid(), new_uuid()
    assert admin.claim(c1, {cn: {"VCPU": 2}}, project=project).status_code == 204
    got = admin.ok("GET", f"/allocations/{c1}")
    assert got == {"allocations": {cn: {"generation": 2, "resources": {"VCPU": 2}}}, "project_id": project, "user_id": "u",
                   "consumer_generation": 1, "consumer_type": "INSTANCE"}
    assert_error(admin.claim(c1, {cn: {"VCPU": 1}}, project=project), 409, "consumer generation conflict - expected 1 but got None",
                 code="placement.concurrent_update")
    assert_error(admin.claim(c2, {cn: {"VCPU": 3}}), 409, "The requested amount would exceed the capacity")
    # POST /allocations: two consumers at once, moving c1 and creating c2 atomically.
    body = {c1: {"allocations": {cn: {"resources": {"VCPU": 1}}}, "project_id": project, "user_id": "u",
                 "consumer_generation": 1, "consumer_type": "INSTANCE"},
            c2: {"allocations": {cn: {"resources": {"VCPU": 3, "MEMORY_MB": 512}}}, "project_id": project, "user_id": "u",
                 "consumer_generation": None, "consumer_type": "MIGRATION"}}
    assert admin.req("POST", "/allocations", json=body).status_code == 204
    usages = admin.ok("GET", f"/usages?project_id={project}")["usages"]
    assert usages == {"INSTANCE": {"VCPU": 1, "consumer_count": 1}, "MIGRATION": {"VCPU": 3, "MEMORY_MB": 512, "consumer_count": 1}}
    assert admin.ok("GET", f"/usages?project_id={project}", version="1.37")["usages"] == {"VCPU": 4, "MEMORY_MB": 512}
    assert admin.ok("GET", f"/resource_providers/{cn}/usages")["usages"] == {"VCPU": 4, "MEMORY_MB": 512}
    rp_allocs = admin.ok("GET", f"/resource_providers/{cn}/allocations")
    assert set(rp_allocs["allocations"]) == {c1, c2}
    assert_error(admin.req("PUT", f"/resource_providers/{cn}/inventories",
                           json={"resource_provider_generation": admin.generation(cn), "inventories": {"MEMORY_MB": {"total": 1024}}}),
                 409, "in use", code="placement.inventory.inuse")
    assert admin.req("DELETE", f"/allocations/{c1}").status_code == 204
    assert admin.ok("GET", f"/allocations/{c1}") == {"allocations": {}}
    assert_error(admin.req("DELETE", f"/allocations/{c1}"), 404)


def test_reshaper_moves_inventory_and_allocations_together(admin, made):
    cn = admin.provider(inventory={"VCPU": {"total": 8}})
    made.append(cn)
    child = admin.provider(parent=cn)
    made.append(child)
    consumer = new_uuid()
    assert admin.claim(consumer, {cn: {"VCPU": 2}}).status_code == 204
    body = {"inventories": {cn: {"resource_provider_generation": admin.generation(cn), "inventories": {}},
                            child: {"resource_provider_generation": admin.generation(child), "inventories": {"VCPU": {"total": 8}}}},
            "allocations": {consumer: {"allocations": {child: {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u",
                                       "consumer_generation": 1, "consumer_type": "INSTANCE"}}}
    # Admins are not services: the reshaper is for the service role only.
    assert_error(admin.req("POST", "/reshaper", json=body), 403, "placement:reshaper:reshape")
    assert admin.ok("GET", f"/resource_providers/{cn}/usages")["usages"] == {"VCPU": 2}


def test_reshaper_as_a_service(cloud, admin, made, new_user):
    svc_user = new_user("service")
    svc = PlacementClient.login(cloud, svc_user.name, svc_user.password, svc_user.project)
    cn = svc.provider(inventory={"VCPU": {"total": 8}})
    child = svc.provider(parent=cn)
    made.extend([cn, child])
    consumer = new_uuid()
    assert svc.claim(consumer, {cn: {"VCPU": 2}}).status_code == 204
    body = {"inventories": {cn: {"resource_provider_generation": svc.generation(cn), "inventories": {}},
                            child: {"resource_provider_generation": svc.generation(child), "inventories": {"VCPU": {"total": 8}}}},
            "allocations": {consumer: {"allocations": {child: {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u",
                                       "consumer_generation": 1, "consumer_type": "INSTANCE"}}}
    assert_error(svc.req("POST", "/reshaper", json=body, version="1.29"), 404)
    r = svc.req("POST", "/reshaper", json=body)
    assert r.status_code == 204, r.text
    assert svc.ok("GET", f"/resource_providers/{cn}/inventories")["inventories"] == {}
    assert svc.ok("GET", f"/resource_providers/{child}/usages")["usages"] == {"VCPU": 2}
    assert svc.ok("GET", f"/allocations/{consumer}")["consumer_generation"] == 2


def test_policy_members_and_readers(cloud, admin, made, new_user):
    member_user = new_user("member")
    member = PlacementClient.login(cloud, member_user.name, member_user.password, member_user.project)
    assert_error(member.req("GET", "/resource_providers"), 403, "Policy does not allow placement:resource_providers:list to be performed.")
    assert_error(member.req("GET", "/allocation_candidates?resources=VCPU:1"), 403)
    reader_user = new_user("reader")
    reader = PlacementClient.login(cloud, reader_user.name, reader_user.password, reader_user.project)
    cn = admin.provider(inventory={"VCPU": {"total": 4}})
    made.append(cn)
    assert admin.claim(new_uuid(), {cn: {"VCPU": 1}}, project=reader.project_id).status_code == 204
    # Project readers read their own project's usages (rule admin_or_project_reader_or_service_api) ...
    assert reader.ok("GET", f"/usages?project_id={reader.project_id}")["usages"] == {"INSTANCE": {"VCPU": 1, "consumer_count": 1}}
    # ... and nothing else: another project's usages, its allocations, providers.
    assert_error(reader.req("GET", f"/usages?project_id={member.project_id}"), 403)
    assert_error(reader.req("GET", f"/resource_providers/{cn}/allocations"), 403)
    assert_error(member.req("GET", f"/usages?project_id={reader.project_id}"), 403)
