"""Generic volume groups (Cinder 3.11–3.20): group types and specs (admins), groups of volumes,
group snapshots, groups made from a group or a group snapshot, status resets, with the openstack
CLI, openstacksdk and raw HTTP. Expected behaviour is real Cinder's: cinder/api/v3/groups.py,
group_types.py, group_specs.py, group_snapshots.py, their views and schemas, and the rules of
cinder/group/api.py (delete-volumes, add/remove validation, a group's volumes and a group
snapshot's snapshots not deleted on their own)."""

from __future__ import annotations

import requests  # noqa: F401

from volume_support import (  # noqa: F401  (fixtures are used by name)
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_member,
    bs_user,
    unique,
    volume_file,
    wait_for,
)

V = "3.20"


def wait_status(user, collection: str, ident: str, status: str, timeout: float = 60) -> dict:
    key = collection[:-1]
    def reached():
        d = user.ok("GET", f"/{collection}/{ident}", version=V)[key]
        if d["status"].startswith("error") and not status.startswith("error"):
            raise AssertionError(f"{collection}/{ident} went to {d['status']}")
        return d if d["status"] == status else None
    return wait_for(reached, timeout, what=f"{collection}/{ident} {status}")


def make_types(admin, public: bool = True) -> tuple[str, str]:
    """(volume type id, group type id), made by the admin."""
    vt = admin.ok("POST", "/types", json={"volume_type": {"name": unique("vt")}})["volume_type"]["id"]
    gt = admin.ok("POST", "/group_types", status=202, version=V,
                  json={"group_type": {"name": unique("gt"), "is_public": public,
                                       "group_specs": {"consistent_group_snapshot_enabled": "<is> False"}}})["group_type"]
    return vt, gt["id"]


def test_groups_with_the_cli_and_the_sdk(bs_cloud, bs_admin, bs_user):
    """A member makes a group with the CLI, volumes in it with the SDK, a group snapshot and a
    group from it; the views are Cinder's per microversion."""
    vt, gt = make_types(bs_admin)
    user = bs_user()
    g = user.cli("--os-volume-api-version", "3.20", "volume", "group", "create", "--volume-group-type", gt,
                 "--volume-type", vt, "--name", "cli-group", "-f", "json")
    gid = g["ID"]
    wait_status(user, "groups", gid, "available")
    vols = [user.ok("POST", "/volumes", status=202, version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}})["volume"]
            for _ in range(2)]
    assert all(v["group_id"] == gid for v in vols)
    for v in vols:
        user.wait_volume(v["id"])
    shown = user.ok("GET", f"/groups/{gid}?list_volume=true", version="3.25")["group"]
    assert set(shown) == {"id", "status", "availability_zone", "created_at", "name", "description", "group_type", "volume_types",
                          "group_snapshot_id", "source_group_id", "volumes"}, shown
    assert shown["group_type"] == gt and shown["volume_types"] == [vt] and sorted(shown["volumes"]) == sorted(v["id"] for v in vols)
    # 3.13 has neither the source fields nor the volume list (3.25).
    old = user.ok("GET", f"/groups/{gid}?list_volume=true", version="3.13")["group"]
    assert "group_snapshot_id" not in old and "volumes" not in old
    assert user.ok("GET", "/groups", version=V)["groups"] == [{"id": gid, "name": "cli-group"}]

    conn = user.sdk()
    gs = conn.block_storage.create_group_snapshot(group_id=gid, name="gs1")
    gs = wait_status(user, "group_snapshots", gs.id, "available")
    assert gs["group_id"] == gid and gs["group_type_id"] == gt and gs["name"] == "gs1"
    snaps = [s for s in user.ok("GET", "/snapshots/detail", version=V)["snapshots"] if s["group_snapshot_id"] == gs["id"]]
    assert sorted(s["volume_id"] for s in snaps) == sorted(v["id"] for v in vols) and all(s["status"] == "available" for s in snaps)

    made = user.ok("POST", "/groups/action", status=202, version=V,
                   json={"create-from-src": {"group_snapshot_id": gs["id"], "name": "from-snap"}})["group"]
    made = wait_status(user, "groups", made["id"], "available")
    assert made["group_snapshot_id"] == gs["id"] and made["group_type"] == gt
    members = [v for v in user.ok("GET", "/volumes/detail", version=V)["volumes"] if v["group_id"] == made["id"]]
    assert len(members) == 2 and {m["snapshot_id"] for m in members} == {s["id"] for s in snaps}
    assert all(m["status"] == "available" and volume_file(bs_cloud, m["id"]).exists() for m in members)

    # Rules: a group's volume and a group snapshot's snapshot are not deleted on their own; a
    # group with volumes needs delete-volumes; a group with group snapshots is not deleted.
    assert_fault(user.req("DELETE", f"/volumes/{vols[0]['id']}", version=V), 400, "belong to a group")
    assert_fault(user.req("DELETE", f"/snapshots/{snaps[0]['id']}", version=V), 400, "must not be part of a group")
    assert_fault(user.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {"delete-volumes": True}}), 400,
                 "Group has existing snapshots.")
    assert user.req("DELETE", f"/group_snapshots/{gs['id']}", version=V).status_code == 202
    user.wait_gone("group_snapshots", gs["id"])
    for s in snaps:
        user.wait_gone("snapshots", s["id"])
    assert_fault(user.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {}}), 400,
                 f"Group {gid} still contains volumes. The delete-volumes flag is required to delete it.")
    for group in (gid, made["id"]):
        assert user.req("POST", f"/groups/{group}/action", version=V, json={"delete": {"delete-volumes": True}}).status_code == 202
        user.wait_gone("groups", group)
    for v in vols + members:
        user.wait_gone("volumes", v["id"])
        assert not volume_file(bs_cloud, v["id"]).exists()


def test_update_moves_volumes_in_and_out(bs_admin, bs_user):
    vt, gt = make_types(bs_admin)
    other_vt, _ = make_types(bs_admin)
    user = bs_user()
    gid = user.ok("POST", "/groups", status=202, version=V, json={"group": {"group_type": gt, "volume_types": [vt], "name": "g"}})["group"]["id"]
    wait_status(user, "groups", gid, "available")
    inside = user.create_volume(1, volume_type=vt)
    wrong = user.create_volume(1, volume_type=other_vt)
    r = user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": inside["id"], "name": "renamed", "description": " d "}})
    assert r.status_code == 202, r.text
    g = user.ok("GET", f"/groups/{gid}", version=V)["group"]
    assert g["name"] == "renamed" and g["description"] == "d"
    assert user.show_volume(inside["id"], version=V)["group_id"] == gid
    assert_fault(user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": wrong["id"]}}), 400,
                 "is not supported by the group")
    assert_fault(user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"remove_volumes": wrong["id"]}}), 400, "is not in the group")
    assert_fault(user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"add_volumes": inside["id"], "remove_volumes": inside["id"]}}),
                 400, "are in both add and remove volume list")
    assert_fault(user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"name": "renamed"}}), 400, "no valid name")
    r = user.req("PUT", f"/groups/{gid}", version=V, json={"group": {"remove_volumes": f"{inside['id']},"}})
    assert r.status_code == 202, r.text
    assert user.show_volume(inside["id"], version=V)["group_id"] is None
    # A volume of the group's type joins at create; another type is Cinder's 400.
    assert_fault(user.req("POST", "/volumes", version=V, json={"volume": {"size": 1, "volume_type": other_vt, "group_id": gid}}), 400,
                 "requested type must be supported by this group")
    # Before 3.13 group_id is not a volume field (3.53+ refuses unknown fields, older ones drop them).
    assert "group_id" not in user.show_volume(inside["id"], version="3.12")


def test_isolation_policy_quotas_and_bad_input(bs_admin, bs_user):
    vt, gt = make_types(bs_admin)
    _, private_gt = make_types(bs_admin, public=False)
    owner, other = bs_user(), bs_user()
    gid = owner.ok("POST", "/groups", status=202, version=V, json={"group": {"group_type": gt, "volume_types": [vt]}})["group"]["id"]
    wait_status(owner, "groups", gid, "available")
    # Another project sees nothing of it.
    assert_fault(other.req("GET", f"/groups/{gid}", version=V), 404, f"Group {gid} could not be found.")
    assert other.ok("GET", "/groups/detail", version=V)["groups"] == []
    assert_fault(other.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {}}), 404)
    assert_fault(other.req("POST", "/group_snapshots", version=V, json={"group_snapshot": {"group_id": gid}}), 404)
    assert_fault(other.req("POST", "/volumes", version=V, json={"volume": {"size": 1, "volume_type": vt, "group_id": gid}}), 404)
    # Group types: members list public ones only and cannot make them; admins see all.
    listed = {t["id"] for t in owner.ok("GET", "/group_types", version=V)["group_types"]}
    assert gt in listed and private_gt not in listed
    assert_fault(owner.req("GET", f"/group_types/{private_gt}", version=V), 404)
    assert_fault(owner.req("POST", "/group_types", version=V, json={"group_type": {"name": unique("x")}}), 403)
    assert_fault(owner.req("POST", f"/groups/{gid}/action", version=V, json={"reset_status": {"status": "error"}}), 403)
    assert_fault(bs_admin.req("DELETE", f"/group_types/{gt}", version=V), 400, "Target group type is still in use.")
    assert_fault(bs_admin.req("POST", "/group_types", version=V, json={"group_type": {"name": bs_admin.ok(
        "GET", f"/group_types/{gt}", version=V)["group_type"]["name"]}}), 409, "already exists")
    assert_fault(bs_admin.req("GET", "/group_types/default", version=V), 404, "Default group type can not be found.")
    # Below the microversions the routes do not exist.
    assert owner.req("GET", "/groups", version="3.12").status_code == 404
    assert bs_admin.req("GET", "/group_types", version="3.10").status_code == 404
    assert owner.req("POST", f"/groups/{gid}/action", version="3.19", json={"reset_status": {"status": "error"}}).status_code in (403, 404)
    # Bad input: 400s in Cinder's format, never a 500.
    for body in ({"group": {"volume_types": [vt]}}, {"group": {"group_type": gt}}, {"group": {"group_type": gt, "volume_types": []}},
                 {"group": {"group_type": gt, "volume_types": [vt, vt]}}, {"group": {"group_type": gt, "volume_types": [vt], "x": 1}},
                 {"group": {"group_type": 7, "volume_types": [vt]}}, {"group": []}, {"nope": {}}):
        r = owner.req("POST", "/groups", version=V, json=body)
        assert r.status_code == 400 and "badRequest" in r.json(), (body, r.status_code, r.text)
    assert_fault(owner.req("POST", "/groups", version=V, json={"group": {"group_type": "nope", "volume_types": [vt]}}), 404)
    assert_fault(owner.req("POST", "/groups", version=V, json={"group": {"group_type": gt, "volume_types": ["nope"]}}), 404)
    for body in ({"create-from-src": {}}, {"create-from-src": {"source_group_id": gid, "group_snapshot_id": gid}},
                 {"create-from-src": {"source_group_id": "not-a-uuid"}}):
        assert owner.req("POST", "/groups/action", version=V, json=body).status_code == 400, body
    assert_fault(bs_admin.req("POST", f"/groups/{gid}/action", version=V, json={"reset_status": {"status": "sideways"}}), 400)
    assert_fault(owner.req("POST", f"/groups/{gid}/action", version=V, json={"explode": {}}), 400, "There is no such action")
    # Quota: groups count against the project's `groups` limit.
    project = owner.project_id
    bs_admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"groups": 1}})
    r = owner.req("POST", "/groups", version=V, json={"group": {"group_type": gt, "volume_types": [vt]}})
    assert r.status_code == 413 and "Maximum number of groups allowed (1) exceeded" in r.text, r.text
    usage = owner.ok("GET", f"/os-quota-sets/{project}?usage=true")["quota_set"]
    assert usage["groups"]["limit"] == 1
    assert owner.req("POST", f"/groups/{gid}/action", version=V, json={"delete": {}}).status_code == 202
    owner.wait_gone("groups", gid)
