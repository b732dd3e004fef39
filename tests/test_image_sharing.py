"""Who sees what: image members (`image add project`, `image set --accept`, member
listings), visibility (private/shared/community/public), project isolation, the reader
role, admin-only owner changes and scope.

Expected behaviour: docs/research/glance-v2.md §5.2 (list visibility), §8 (members),
§11 (default policy), §2.1 (owner)."""

import uuid

import pytest
import requests

from conftest import unique
from image_support import IMAGE_DATE_RE, Glance, assert_error, pattern


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


# ---- members -------------------------------------------------------------------------

def test_share_accept_reject_and_remove(glance):
    owner, consumer = glance.user(), glance.user()
    tag = unique("tag")
    data = pattern(2048, seed=21)
    img = owner.active_image(data, name=unique("shared"), tags=[tag])     # visibility defaults to shared
    iid = img["id"]
    assert img["visibility"] == "shared"
    # not shared yet: invisible
    assert_error(consumer.req("GET", f"/v2/images/{iid}"), 404)

    out = owner.cli("image", "add", "project", iid, consumer.project_id, "-f", "json")
    assert out["status"] == "pending" and out["image_id"] == iid, out
    assert out["member_id"] == consumer.project_id, out

    # pending: visible by id and downloadable, but not in the default list
    assert consumer.get(iid)["id"] == iid
    r = consumer.download(iid)
    assert r.status_code == 200 and r.content == data, r.status_code
    assert iid not in consumer.list_ids(tag=tag)
    assert consumer.list_ids(tag=tag, member_status="pending") == [iid]
    assert consumer.list_ids(tag=tag, visibility="shared", member_status="pending") == [iid]
    assert consumer.list_ids(tag=tag, member_status="all") == [iid]
    assert consumer.list_ids(tag=tag, member_status="accepted") == []

    # the consumer accepts with the CLI: now it is listed
    consumer.cli("image", "set", "--accept", iid)
    assert consumer.list_ids(tag=tag) == [iid]
    assert consumer.list_ids(tag=tag, visibility="shared") == [iid]
    rows = consumer.cli("image", "list", "--tag", tag, "-f", "json")
    assert [r["ID"] for r in rows] == [iid], rows
    members = owner.cli("image", "member", "list", iid, "-f", "json")
    assert members == [{"Image ID": iid, "Member ID": consumer.project_id, "Status": "accepted"}], members

    # rejected: out of the default list again, still visible by id
    r = consumer.set_member_status(iid, consumer.project_id, "rejected")
    assert r.status_code == 200 and r.json()["status"] == "rejected", (r.status_code, r.text)
    assert consumer.list_ids(tag=tag) == []
    assert consumer.list_ids(tag=tag, member_status="rejected") == [iid]
    assert consumer.get(iid)["id"] == iid

    # the owner removes the member: gone for the consumer
    owner.cli("image", "remove", "project", iid, consumer.project_id)
    assert_error(consumer.req("GET", f"/v2/images/{iid}"), 404)
    assert consumer.list_ids(tag=tag, member_status="all") == []


def test_member_api(glance):
    owner, consumer, stranger = glance.user(), glance.user(), glance.user()
    iid = owner.create(name=unique("shared"))["id"]
    base = f"/v2/images/{iid}/members"

    r = owner.add_member(iid, consumer.project_id)
    assert r.status_code == 200, (r.status_code, r.text)           # 200, not 201
    m = r.json()
    assert set(m) == {"member_id", "image_id", "status", "created_at", "updated_at", "schema"}, m
    assert (m["member_id"], m["image_id"], m["status"]) == (consumer.project_id, iid, "pending"), m
    assert m["schema"] == "/v2/schemas/member"
    assert IMAGE_DATE_RE.match(m["created_at"]) and m["created_at"] == m["updated_at"], m
    assert_error(owner.add_member(iid, consumer.project_id), 409, "is duplicated for image")
    # bad bodies
    assert_error(owner.req("POST", base, json={}), 400)
    assert_error(owner.req("POST", base, json={"member": ""}), 400)
    assert_error(owner.req("POST", base, json=["x"]), 400)

    r = owner.req("GET", base)
    assert r.status_code == 200, r.text
    assert r.json() == {"members": [m], "schema": "/v2/schemas/members"}, r.json()
    r = owner.req("GET", f"{base}/{consumer.project_id}")
    assert r.status_code == 200 and r.json() == m, r.text
    assert_error(owner.req("GET", f"{base}/{stranger.project_id}"), 404)

    # only the consumer changes its status; the owner cannot accept for it
    assert_error(owner.set_member_status(iid, consumer.project_id, "accepted"), 403,
                 "You are not authorized to complete modify_member action.")
    assert_error(consumer.set_member_status(iid, consumer.project_id, "maybe"), 400,
                 'Status must be "pending", "accepted" or "rejected".')
    assert_error(consumer.req("PUT", f"{base}/{consumer.project_id}", json={}), 400)
    r = consumer.set_member_status(iid, consumer.project_id, "accepted")
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    # the consumer sees just its own row; it may not add or delete members
    r = consumer.req("GET", base)
    assert r.status_code == 200 and [x["member_id"] for x in r.json()["members"]] == [consumer.project_id]
    assert_error(consumer.add_member(iid, stranger.project_id), 403)
    assert_error(consumer.req("DELETE", f"{base}/{consumer.project_id}"), 403)

    # a third project sees nothing
    assert_error(stranger.req("GET", f"/v2/images/{iid}"), 404)
    assert_error(stranger.req("GET", base), 404)
    assert_error(stranger.add_member(iid, stranger.project_id), 404)

    # delete, then the row is gone
    r = owner.req("DELETE", f"{base}/{consumer.project_id}")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    assert_error(owner.req("DELETE", f"{base}/{consumer.project_id}"), 404)
    assert owner.req("GET", base).json()["members"] == []
    assert_error(consumer.req("GET", f"/v2/images/{iid}"), 404)


def test_members_only_for_shared_images(glance):
    owner, consumer = glance.user(), glance.user()
    iid = owner.create(name=unique("img"), visibility="private")["id"]
    assert_error(owner.add_member(iid, consumer.project_id), 403, "Not allowed to create members for image")
    assert_error(owner.req("GET", f"/v2/images/{iid}/members"), 403, "Only shared images have members.")

    # members lose access when the owner makes a shared image private, and get it back
    owner.patch_ok(iid, [{"op": "replace", "path": "/visibility", "value": "shared"}])
    assert owner.add_member(iid, consumer.project_id).status_code == 200
    assert consumer.set_member_status(iid, consumer.project_id, "accepted").status_code == 200
    assert consumer.get(iid)["id"] == iid
    owner.patch_ok(iid, [{"op": "replace", "path": "/visibility", "value": "private"}])
    assert_error(consumer.req("GET", f"/v2/images/{iid}"), 404)
    owner.patch_ok(iid, [{"op": "replace", "path": "/visibility", "value": "shared"}])
    assert consumer.get(iid)["id"] == iid


# ---- visibility (§2.1, §5.2, §11) -------------------------------------------------------

def test_only_admin_can_make_images_public(glance):
    owner, other = glance.user(), glance.user()
    assert_error(owner.create_response(name=unique("img"), visibility="public"), 403,
                 "You are not authorized to complete publicize_image action.")
    iid = owner.create(name=unique("img"), visibility="private")["id"]
    assert_error(owner.patch(iid, [{"op": "replace", "path": "/visibility", "value": "public"}]), 403,
                 "publicize_image")
    assert owner.get(iid)["visibility"] == "private"
    assert_error(other.req("GET", f"/v2/images/{iid}"), 404)

    got = glance.admin.patch_ok(iid, [{"op": "replace", "path": "/visibility", "value": "public"}])
    assert got["visibility"] == "public" and got["owner"] == owner.project_id, got
    assert other.get(iid)["id"] == iid
    assert iid in other.list_ids(visibility="public", id=iid)
    assert iid in other.list_ids(id=iid)

    # admin-created public image, data readable by everyone; others still cannot change it
    tag = unique("tag")
    data = pattern(512, seed=31)
    pub = glance.admin.active_image(data, name=unique("pub"), visibility="public", tags=[tag])
    assert other.list_ids(tag=tag) == [pub["id"]]
    assert other.download(pub["id"]).content == data
    for r in (other.patch(pub["id"], [{"op": "replace", "path": "/name", "value": "mine"}]),
              other.req("PUT", f"/v2/images/{pub['id']}/tags/mine"),
              other.req("DELETE", f"/v2/images/{pub['id']}"),
              other.req("POST", f"/v2/images/{pub['id']}/actions/deactivate")):
        assert_error(r, 403)
    assert_error(other.patch(pub["id"], [{"op": "replace", "path": "/name", "value": "mine"}]), 403,
                 "You are not authorized to complete modify_image action.")
    assert glance.admin.get(pub["id"])["name"] == pub["name"]


def test_community_images(glance):
    owner, other = glance.user(), glance.user()
    tag = unique("tag")
    comm = owner.create(name=unique("comm"), visibility="community", tags=[tag])   # owner members may
    assert comm["visibility"] == "community"
    assert owner.list_ids(tag=tag) == [comm["id"]]            # the owner lists its own by default
    assert other.get(comm["id"])["id"] == comm["id"]          # everyone may show it
    assert other.list_ids(tag=tag) == []                      # but others only list it on request
    assert other.list_ids(tag=tag, visibility="community") == [comm["id"]]
    assert other.list_ids(tag=tag, visibility="all") == [comm["id"]]
    assert_error(other.patch(comm["id"], [{"op": "replace", "path": "/name", "value": "x"}]), 403)
    assert_error(owner.create_response(name=unique("bad"), visibility="everyone"), 400)


# ---- isolation ---------------------------------------------------------------------------

def test_other_projects_private_image_is_404(glance):
    owner, other = glance.user(), glance.user()
    data = pattern(1024, seed=41)
    for visibility in ("private", "shared"):   # shared without members is just as invisible
        img = owner.active_image(data, name=unique("img"), visibility=visibility, tags=["t"])
        iid = img["id"]
        checks = [
            other.req("GET", f"/v2/images/{iid}"),
            other.patch(iid, [{"op": "replace", "path": "/name", "value": "stolen"}]),
            other.req("DELETE", f"/v2/images/{iid}"),
            other.download(iid),
            other.upload(iid, b"x"),
            other.req("PUT", f"/v2/images/{iid}/tags/x"),
            other.req("DELETE", f"/v2/images/{iid}/tags/t"),
            other.req("GET", f"/v2/images/{iid}/members"),
            other.req("POST", f"/v2/images/{iid}/actions/deactivate"),
        ]
        for r in checks:
            assert_error(r, 404)
        assert other.list_ids(name=img["name"]) == []
        assert other.list_ids(name=img["name"], visibility="all") == []
        assert owner.get(iid) == img
    proc = other.cli("image", "show", iid, check=False)
    assert proc.returncode != 0 and iid not in proc.stdout, proc.stdout


def test_reader_role_reads_but_does_not_write(glance):
    owner = glance.user()
    reader = glance.colleague(owner, "reader")
    data = pattern(1024, seed=51)
    img = owner.active_image(data, name=unique("img"), visibility="private")
    iid = img["id"]
    assert reader.get(iid)["id"] == iid
    assert iid in reader.list_ids(id=iid)
    assert_error(reader.patch(iid, [{"op": "replace", "path": "/name", "value": "x"}]), 403)
    assert_error(reader.req("DELETE", f"/v2/images/{iid}"), 403)
    assert_error(reader.download(iid), 403)          # download_image needs member
    assert_error(reader.create_response(name=unique("img")), 403)
    assert owner.get(iid) == img
    # a member colleague may do all of it
    colleague = glance.colleague(owner, "member")
    assert colleague.download(iid).content == data
    assert colleague.patch_ok(iid, [{"op": "add", "path": "/nimbus_by", "value": "colleague"}])["nimbus_by"] == "colleague"


def test_owner_is_set_by_admin_only(glance):
    member, other = glance.user(), glance.user()
    admin = glance.admin
    # admin creates an image for another project; that project owns it
    img = admin.create(name=unique("img"), visibility="private", owner=member.project_id)
    assert img["owner"] == member.project_id
    assert member.get(img["id"])["owner"] == member.project_id
    assert img["id"] in member.list_ids(id=img["id"])
    # a member cannot give it away, nor create for someone else
    assert_error(member.patch(img["id"], [{"op": "replace", "path": "/owner", "value": other.project_id}]),
                 403, "Owner can't be updated by non admin.")
    assert_error(member.create_response(name=unique("img"), owner=other.project_id), 403,
                 f"You are not permitted to create images owned by '{other.project_id}'")
    # the admin can
    got = admin.patch_ok(img["id"], [{"op": "replace", "path": "/owner", "value": other.project_id}])
    assert got["owner"] == other.project_id
    assert_error(member.req("GET", f"/v2/images/{img['id']}"), 404)
    assert other.get(img["id"])["owner"] == other.project_id


def test_system_scoped_token_is_refused(cloud, glance):
    c = glance.user()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": cloud.admin_password, "domain": {"name": "Default"}}}},
        "scope": {"system": {"all": True}}}}
    r = requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)
    assert r.status_code == 201, r.text
    system_token = r.headers["X-Subject-Token"]
    # every policy-checked call is project-scoped (§11), even for admin
    assert_error(c.req("GET", "/v2/images", token=system_token), 403)
    assert_error(c.req("POST", "/v2/images", token=system_token, json={"name": unique("img")}), 403)
    # calls without a policy work with any valid token
    assert c.req("GET", "/v2/schemas/image", token=system_token).status_code == 200
    assert c.req("GET", "/v2/info/import", token=system_token).status_code == 200


def test_admin_sees_every_project_image(glance):
    owner = glance.user()
    iid = owner.create(name=unique("img"), visibility="private")["id"]
    admin = glance.admin
    assert admin.get(iid)["owner"] == owner.project_id
    assert iid in admin.list_ids(owner=owner.project_id)
    assert admin.get(iid)["visibility"] == "private"
    assert_error(admin.req("GET", f"/v2/images/{uuid.uuid4()}"), 404)
