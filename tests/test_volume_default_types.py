"""Per-project default volume types (Cinder 3.62 `/default-types`, v3/default_types.py): an
admin sets, shows, lists and unsets a project's default; a volume (and a restore's new volume)
that names no type gets its project's default, else the configured `__DEFAULT__`; a type that
is some project's default cannot be deleted; before 3.62 the routes are 404; members may not
use them."""

import uuid

import openstack.exceptions
import pytest

from volume_support import (  # noqa: F401  (fixtures are used by name)
    Vol,
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_user,
    unique,
)

V = "3.62"


def make_type(admin: Vol, name: str | None = None) -> dict:
    return admin.ok("POST", "/types", json={"volume_type": {"name": name or unique("dtype")}})["volume_type"]


def test_project_default_type_lifecycle(bs_admin: Vol, bs_user):
    admin = bs_admin
    user = bs_user()
    other = bs_user()
    t = make_type(admin)
    p = user.project_id
    # Nothing set yet: 404 in Cinder's words; the user's volumes get __DEFAULT__.
    assert_fault(admin.req("GET", f"/default-types/{p}", version=V), 404, f"Default type for project {p} not found.")
    default = admin.ok("GET", "/types/default")["volume_type"]
    assert default["name"] == "__DEFAULT__"
    v0 = user.create_volume()
    assert v0["volume_type"] == "__DEFAULT__", v0
    # Set by name; the view carries ids.
    made = admin.ok("PUT", f"/default-types/{p}", json={"default_type": {"volume_type": t["name"]}}, version=V)
    assert made == {"default_type": {"project_id": p, "volume_type_id": t["id"]}}
    assert admin.ok("GET", f"/default-types/{p}", version=V) == made
    assert made["default_type"] in admin.ok("GET", "/default-types", version=V)["default_types"]
    # The project's volumes without a type get it; another project's do not.
    v1 = user.create_volume()
    assert v1["volume_type"] == t["name"], v1
    assert user.ok("GET", "/types/default")["volume_type"]["id"] == t["id"]
    assert other.create_volume()["volume_type"] == "__DEFAULT__"
    assert other.ok("GET", "/types/default")["volume_type"]["name"] == "__DEFAULT__"
    # A named type still wins.
    assert user.create_volume(volume_type="__DEFAULT__")["volume_type"] == "__DEFAULT__"
    # A project's default cannot be deleted (Cinder's VolumeTypeDefaultDeletionError).
    assert_fault(admin.req("DELETE", f"/types/{t['id']}"), 400, f"The volume type {t['id']} is a default volume type and cannot be deleted.")
    # Set again (by id, to another type): replaced, one row.
    t2 = make_type(admin)
    again = admin.ok("PUT", f"/default-types/{p}", json={"default_type": {"volume_type": t2["id"]}}, version=V)
    assert again["default_type"]["volume_type_id"] == t2["id"]
    assert [d for d in admin.ok("GET", "/default-types", version=V)["default_types"] if d["project_id"] == p] == [again["default_type"]]
    # Unset: 204, then 404; unsetting again is 204 too (a hard delete of nothing).
    assert admin.req("DELETE", f"/default-types/{p}", version=V).status_code == 204
    assert admin.req("DELETE", f"/default-types/{p}", version=V).status_code == 204
    assert_fault(admin.req("GET", f"/default-types/{p}", version=V), 404)
    assert user.create_volume()["volume_type"] == "__DEFAULT__"
    # The former default can go now (its volume v1 is deleted first).
    user.ok("DELETE", f"/volumes/{v1['id']}", status=202)
    user.wait_gone("volumes", v1["id"])
    assert admin.req("DELETE", f"/types/{t['id']}").status_code == 202


def test_default_types_bad_input_and_policy(bs_admin: Vol, bs_user):
    admin = bs_admin
    user = bs_user()
    p = user.project_id
    # Before 3.62 the API is not there.
    assert_fault(admin.req("GET", "/default-types", version="3.61"), 404)
    assert_fault(admin.req("PUT", f"/default-types/{p}", json={"default_type": {"volume_type": "__DEFAULT__"}}), 404)
    # Unknown types are 400 (Cinder turns VolumeTypeNotFound into HTTPBadRequest).
    missing = str(uuid.uuid4())
    assert_fault(admin.req("PUT", f"/default-types/{p}", json={"default_type": {"volume_type": missing}}, version=V), 400,
                 f"Volume type {missing} could not be found.")
    # Names are bytes: a canonically equivalent spelling is another (unknown) type.
    composed = make_type(admin, unique("caf\u00e9"))
    decomposed = composed["name"].replace("\u00e9", "e\u0301")
    assert_fault(admin.req("PUT", f"/default-types/{p}", json={"default_type": {"volume_type": decomposed}}, version=V), 400)
    for body, fragment in [({}, "'default_type' is a required property"),
                           ({"default_type": "x"}, "is not of type 'object'"),
                           ({"default_type": {}}, "'volume_type' is a required property"),
                           ({"default_type": {"volume_type": ""}}, "is too short"),
                           ({"default_type": {"volume_type": 5}}, "is not of type 'string'"),
                           ({"default_type": {"volume_type": "x" * 256}}, "is not a valid name"),
                           ({"default_type": {"volume_type": "__DEFAULT__", "extra": 1}}, "Additional properties are not allowed")]:
        assert_fault(admin.req("PUT", f"/default-types/{p}", json=body, version=V), 400, fragment)
    assert_fault(admin.req("PUT", "/default-types/" + "a" * 65, json={"default_type": {"volume_type": "__DEFAULT__"}}, version=V), 404)
    # Members: 403 for their own project, for others' and for the list.
    for method, path, body in [("PUT", f"/default-types/{p}", {"default_type": {"volume_type": "__DEFAULT__"}}),
                               ("GET", f"/default-types/{p}", None), ("DELETE", f"/default-types/{p}", None),
                               ("GET", "/default-types", None), ("GET", f"/default-types/{admin.project_id}", None)]:
        assert_fault(user.req(method, path, json=body, version=V), 403, "You are not authorized to perform this operation.")
    assert_fault(admin.req("GET", f"/default-types/{p}", version=V), 404)


def test_default_type_with_openstacksdk(bs_admin: Vol, bs_user):
    """openstacksdk's block_storage default-type calls (it asks for 3.67, with the project in the URL)."""
    admin = bs_admin
    user = bs_user()
    t = make_type(admin)
    conn = admin.sdk()
    made = conn.block_storage.set_default_type(user.project_id, t["id"])
    assert made.volume_type_id == t["id"]
    assert conn.block_storage.show_default_type(user.project_id).volume_type_id == t["id"]
    assert user.project_id in [d.project_id for d in conn.block_storage.default_types()]
    conn.block_storage.unset_default_type(user.project_id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.block_storage.show_default_type(user.project_id)
    assert admin.req("DELETE", f"/types/{t['id']}").status_code == 202
