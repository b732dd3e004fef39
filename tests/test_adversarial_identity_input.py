"""Adversarial: request bodies, schemas and views of Identity (Keystone v3).

Keystone validates request bodies with jsonschema (keystone/api/validation,
keystone/common/validation; the schemas are in keystone/*/schema.py, the shared types in
keystone/api/validation/parameter_types.py and keystone/common/validation/
parameter_types.py) and answers a failed validation with 400 in its error format
{"error": {"code", "title", "message"}} (keystone/exception.py ValidationError).
"""

from __future__ import annotations

import json
import uuid

import pytest

from adversarial_support import assert_keystone_error, password_token, raw_request


def _u(prefix="adv"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- truncated bodies --------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ["POST /v3/projects", "POST /v3/auth/tokens", "PATCH /v3/users/{id}",
                                   "POST /v3/users/{id}/password", "PUT /v3/projects/{id}/tags"])
def test_truncated_body_is_400_not_413(cloud, new_user, route, chunked):
    """A body that stops before its Content-Length (or before its last chunk) and then a
    half-close is a malformed request: the JSON cannot be read, Keystone answers 400
    (flask's get_json fails -> keystone ValidationError), not 413 (which is only for a body
    over max_request_body_size, oslo_middleware sizelimit) and never 5xx."""
    user = new_user("member")
    pid = cloud.create_project()["id"]
    method, path = route.split(" ", 1)
    path = path.replace("/v3/users/{id}", f"/v3/users/{user.id}").replace("/v3/projects/{id}", f"/v3/projects/{pid}")
    bodies = {
        "POST /v3/projects": {"project": {"name": _u(), "domain_id": "default", "description": "d" * 200}},
        "POST /v3/auth/tokens": {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"id": user.id, "password": user.password}}}}},
        "PATCH /v3/users/{id}": {"user": {"description": "d" * 200}},
        "POST /v3/users/{id}/password": {"user": {"original_password": user.password, "password": "n" * 40}},
        "PUT /v3/projects/{id}/tags": {"tags": ["a" * 50, "b" * 50, "c" * 50]},
    }
    full = json.dumps(bodies[route]).encode()
    headers = {"Content-Type": "application/json", "X-Auth-Token": cloud.admin_token()}
    if chunked:
        r = raw_request(cloud.base_url, method, "/identity" + path, headers, full[: len(full) // 2],
                        chunked=True, finish_chunks=False)
    else:
        r = raw_request(cloud.base_url, method, "/identity" + path, headers, full[: len(full) // 2],
                        declared_length=len(full))
    assert r.status == 400, (route, r.status, r.text[:300])
    assert r.json()["error"]["code"] == 400
    # nothing happened: the user's password still works
    password_token(cloud.auth_url, user.id, user.password)


# ---- project tags ----------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{}, {"tags": {}}, {"tags": "a"}, {"tags": None}, [], {"tags": ["a/b"]},
                                  {"tags": ["x"] * 81}, {"tags": ["a", "a"]}],
                         ids=["empty-object", "tags-object", "tags-string", "tags-null", "array",
                              "slash", "81-tags", "duplicates"])
def test_put_project_tags_with_bad_body_is_400_and_keeps_tags(cloud, body):
    """PUT /v3/projects/{id}/tags reads body.get('tags', {}) and validates it against
    project_tags_update, an array of at most 80 unique tags without '/' or ','
    (keystone/api/projects.py ProjectTagsResource.put, keystone/resource/schema.py): `{}`
    gives {} -- not an array -- so 400, and the tags stay as they were."""
    p = cloud.create_project(tags=["keep1", "keep2"])
    r = cloud.api("PUT", f"/projects/{p['id']}/tags", json=body)
    assert_keystone_error(r, 400)
    got = cloud.api("GET", f"/projects/{p['id']}/tags")
    assert sorted(got.json()["tags"]) == ["keep1", "keep2"], got.text


# ---- name / description schemas ------------------------------------------------------------------

HUGE = "x" * 70000

CASES = [
    # keystone/catalog/schema.py _service_properties / _service_name_properties
    ("services", "service", {"type": "t"}, "name", 123),
    ("services", "service", {"type": "t"}, "name", None),
    ("services", "service", {"type": "t"}, "name", ["x"]),
    ("services", "service", {"type": "t"}, "name", {"x": 1}),
    ("services", "service", {"type": "t"}, "name", True),
    ("services", "service", {"type": "t"}, "name", HUGE),
    ("services", "service", {"type": "t"}, "name", "x" * 256),
    ("services", "service", {}, "type", HUGE),
    ("services", "service", {}, "type", 7),
    ("services", "service", {"type": "t"}, "enabled", "yes"),
    # keystone/resource/schema.py _name_properties (1..64, pattern [\S]+), description string|null
    ("projects", "project", {"domain_id": "default"}, "name", 123),
    ("projects", "project", {"domain_id": "default"}, "name", "x" * 65),
    ("projects", "project", {"domain_id": "default"}, "name", HUGE),
    ("projects", "project", {"domain_id": "default"}, "name", "   "),
    ("projects", "project", {"domain_id": "default", "name": "N"}, "description", 123),
    ("projects", "project", {"domain_id": "default", "name": "N"}, "tags", ["a,b"]),
    ("domains", "domain", {}, "name", 123),
    ("domains", "domain", {}, "name", "x" * 65),
    ("domains", "domain", {"name": "N"}, "description", ["d"]),
    # keystone/identity/schema.py _identity_name (1..255)
    ("users", "user", {"domain_id": "default"}, "name", 123),
    ("users", "user", {"domain_id": "default"}, "name", "x" * 256),
    ("users", "user", {"domain_id": "default"}, "name", HUGE),
    ("groups", "group", {"domain_id": "default"}, "name", 123),
    ("groups", "group", {"domain_id": "default"}, "name", HUGE),
    ("groups", "group", {"domain_id": "default", "name": "N"}, "description", 5),
    # keystone/assignment/schema.py role_name (1..255), description string|null
    ("roles", "role", {}, "name", 123),
    ("roles", "role", {}, "name", HUGE),
    ("roles", "role", {"name": "N"}, "description", 5),
    # keystone/catalog/schema.py: region description (maxLength 255), endpoint group name
    ("regions", "region", {}, "description", HUGE),
    ("regions", "region", {}, "description", 5),
    ("OS-EP-FILTER/endpoint_groups", "endpoint_group", {"filters": {"interface": "public"}}, "name", 123),
    ("OS-EP-FILTER/endpoint_groups", "endpoint_group", {"filters": {"interface": "public"}}, "name", HUGE),
    # keystone/credential/schema.py: blob and type are strings
    ("credentials", "credential", {"type": "cert", "user_id": "{uid}"}, "blob", 123),
    ("credentials", "credential", {"blob": "b", "user_id": "{uid}"}, "type", 123),
]


def _case_id(case):
    coll, _, _, field, value = case
    v = value if not isinstance(value, str) else (f"str{len(value)}" if len(value) > 10 else repr(value))
    return f"{coll.split('/')[-1]}-{field}-{type(value).__name__}-{v}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_schema_refuses_bad_names_and_descriptions(cloud, case):
    """Each body breaks Keystone's schema for that resource (a non-string name, a name past
    its maxLength, a description of the wrong type, ...): 400 in Keystone's format, and
    nothing is created."""
    coll, key, base, field, value = case
    uid = cloud.api("GET", "/users", params={"name": "admin"}).json()["users"][0]["id"]
    body = {k: (v.replace("{uid}", uid) if isinstance(v, str) else v) for k, v in base.items()}
    if "name" not in body and field != "name" and coll not in ("regions", "credentials"):
        body["name"] = _u()
    if coll in ("projects", "domains", "users", "groups", "roles") and body.get("name") == "N":
        body["name"] = _u()
    body[field] = value
    before = cloud.api("GET", f"/{coll}").json()
    r = cloud.api("POST", f"/{coll}", json={key: body})
    if r.status_code in (200, 201):  # undo, so the session cloud stays clean
        made = r.json()[key]
        if coll in ("projects", "domains"):
            cloud.api("PATCH", f"/{coll}/{made['id']}", json={key: {"enabled": False}})
        cloud.api("DELETE", f"/{coll}/{made['id']}")
    assert_keystone_error(r, 400)
    assert len(cloud.api("GET", f"/{coll}").json()[coll.split("/")[-1]]) == len(before[coll.split("/")[-1]])


@pytest.mark.parametrize("coll, key, extra, field", [
    ("services", "service", {"type": "t"}, "name"),
    ("projects", "project", {"domain_id": "default"}, "name"),
    ("projects", "project", {"domain_id": "default"}, "description"),
    ("users", "user", {"domain_id": "default"}, "name"),
    ("roles", "role", {}, "description"),
])
def test_nul_in_a_string_is_refused_or_kept_whole(cloud, coll, key, extra, field):
    """A NUL inside a JSON string: Keystone's schemas do not forbid it (jsonschema `string`),
    so Keystone either refuses it (400) or stores the whole string; it never truncates it at
    the NUL, never 5xx."""
    value = f"nul\u0000{uuid.uuid4().hex[:6]}"
    body = {**extra, field: value}
    if field != "name":
        body["name"] = _u()
    r = cloud.api("POST", f"/{coll}", json={key: body})
    if r.status_code == 400:
        assert_keystone_error(r, 400)
        return
    assert r.status_code == 201, (r.status_code, r.text[:300])
    made = r.json()[key]
    try:
        assert made[field] == value
        assert cloud.api("GET", f"/{coll}/{made['id']}").json()[key][field] == value
    finally:
        if coll == "projects":
            cloud.api("PATCH", f"/{coll}/{made['id']}", json={key: {"enabled": False}})
        cloud.api("DELETE", f"/{coll}/{made['id']}")


# ---- trust expiry at the end of time --------------------------------------------------------------

def test_trust_expiring_at_the_last_microsecond_of_9999_stays_in_9999(cloud, new_user):
    """expires_at 9999-12-31T23:59:59.999999Z is a valid date-time; Keystone renders it with
    utils.isotime(subsecond=True), which drops the microseconds
    (keystone/common/utils.py isotime: `at.replace(microsecond=0)`, then
    '%Y-%m-%dT%H:%M:%S.%f' + 'Z'): 9999-12-31T23:59:59.000000Z.  Rounding it up to year 10000
    is a different (and unparseable) date.  Nimbus may keep the microseconds: either form."""
    trustor, trustee = new_user("member"), new_user("member")
    tok, _ = password_token(cloud.auth_url, trustor.id, trustor.password, trustor.project_id)
    r = cloud.api("POST", "/OS-TRUST/trusts", token=tok, json={"trust": {
        "trustor_user_id": trustor.id, "trustee_user_id": trustee.id, "project_id": trustor.project_id,
        "impersonation": False, "roles": [{"name": "member"}], "expires_at": "9999-12-31T23:59:59.999999Z"}})
    assert r.status_code == 201, r.text
    ok = ("9999-12-31T23:59:59.000000Z", "9999-12-31T23:59:59.999999Z")
    assert r.json()["trust"]["expires_at"] in ok, r.json()["trust"]["expires_at"]
    got = cloud.api("GET", f"/OS-TRUST/trusts/{r.json()['trust']['id']}", token=tok)
    assert got.json()["trust"]["expires_at"] in ok, got.json()["trust"]["expires_at"]


# ---- absent attributes render as Keystone renders them --------------------------------------------

VIEWS = [
    # (collection, key, body, field, expected) -- from the SQL models' to_dict and the managers
    # keystone/catalog/backends/sql.py EndpointGroup: description Text nullable, to_dict -> None
    ("OS-EP-FILTER/endpoint_groups", "endpoint_group", {"filters": {"interface": "public"}}, "description", None),
    # keystone/assignment/role_backends/sql_model.py RoleTable: description nullable -> None
    ("roles", "role", {}, "description", None),
    # keystone/catalog/core.py create_region: a missing/null description becomes ''
    ("regions", "region", {}, "description", ""),
    # keystone/resource/core.py create_project: project.setdefault('description', '')
    ("projects", "project", {"domain_id": "default"}, "description", ""),
    ("domains", "domain", {}, "description", ""),
    # keystone/identity/core.py create_group: group.setdefault('description', '')
    ("groups", "group", {"domain_id": "default"}, "description", ""),
    # keystone/catalog/core.py create_service: service_ref.setdefault('name', '')
    ("services", "service", {"type": "t"}, "name", ""),
    # an explicit null: setdefault keeps it (projects, groups: nullable Text columns -> null);
    # create_region turns a null description into ''
    ("projects", "project", {"domain_id": "default", "description": None}, "description", None),
    ("groups", "group", {"domain_id": "default", "description": None}, "description", None),
    ("regions", "region", {"description": None}, "description", ""),
    ("roles", "role", {"description": None}, "description", None),
]


@pytest.mark.parametrize("coll, key, body, field, expected", VIEWS,
                         ids=[f"{v[0].split('/')[-1]}-{v[3]}{'-null' if v[3] in v[2] else ''}" for v in VIEWS])
def test_absent_optional_attributes_render_like_keystone(cloud, coll, key, body, field, expected):
    """An optional attribute left out at create is shown as Keystone shows it: null for an
    endpoint group's or role's description, "" for a region's, project's, domain's or
    group's description and for a service's name -- in the create answer and in GET.  An
    explicit null description stays null for projects, groups and roles ("" for regions)."""
    body = dict(body)
    if key not in ("region", "service"):
        body["name"] = _u()
    r = cloud.api("POST", f"/{coll}", json={key: body})
    assert r.status_code == 201, r.text
    made = r.json()[key]
    try:
        assert field in made and made[field] == expected, (field, made)
        got = cloud.api("GET", f"/{coll}/{made['id']}").json()[key]
        assert field in got and got[field] == expected, (field, got)
    finally:
        if coll in ("projects", "domains"):
            cloud.api("PATCH", f"/{coll}/{made['id']}", json={key: {"enabled": False}})
        cloud.api("DELETE", f"/{coll}/{made['id']}")


def test_app_cred_without_description_shows_null(cloud, new_user):
    """keystone/application_credential/backends/sql.py: description is a nullable column and
    the API lists it among the public fields (keystone/api/users.py
    UserAppCredListCreateResource._public_parameters): `"description": null`."""
    user = new_user("member")
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    r = cloud.api("POST", f"/users/{user.id}/application_credentials", token=tok,
                  json={"application_credential": {"name": _u()}})
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    assert "description" in cred and cred["description"] is None, cred
    got = cloud.api("GET", f"/users/{user.id}/application_credentials/{cred['id']}", token=tok)
    assert got.json()["application_credential"].get("description", "absent") is None, got.text
