"""Object versioning: the two legacy modes (X-Versions-Location = stack,
X-History-Location = history; swift/common/middleware/versioned_writes/legacy.py) and the
newer X-Versions-Enabled mode (versioned_writes/object_versioning.py: ?versions listings,
?version-id=...; tests/test_object_versioning_enabled.py covers it in depth).

Legacy archive names are <3 hex digits of len(name)><name>/<timestamp>, so the
versions of "obj" are listed with prefix "003obj/"."""

from object_support import DELETE_MARKER_CONTENT_TYPE


def _versioned(acct, header="X-Versions-Location"):
    archive = acct.put_container("archive")
    c = acct.put_container("current", headers={header: archive})
    return c, archive


# ---- legacy: X-Versions-Location (stack) ---------------------------------------

def test_versions_location_is_reported(new_account):
    acct = new_account()
    c, archive = _versioned(acct)
    assert acct.req("HEAD", c).headers["X-Versions-Location"] == archive


def test_stack_mode_archives_on_overwrite_and_delete_restores(new_account):
    acct = new_account()
    c, archive = _versioned(acct)
    for body in (b"v1", b"v2", b"v3"):
        acct.put_object(c, "obj", body)
    assert acct.get_body(c, "obj") == b"v3"
    old = acct.listing(archive, prefix="003obj/")
    assert len(old) == 2, old
    assert sorted(acct.get_body(archive, e["name"]) for e in old) == [b"v1", b"v2"]
    assert acct.names(c) == ["obj"]

    # DELETE pops the newest archived version back
    assert acct.req("DELETE", c, "obj").status_code == 204
    assert acct.get_body(c, "obj") == b"v2"
    assert len(acct.listing(archive, prefix="003obj/")) == 1
    assert acct.req("DELETE", c, "obj").status_code == 204
    assert acct.get_body(c, "obj") == b"v1"
    assert acct.listing(archive, prefix="003obj/") == []
    assert acct.req("DELETE", c, "obj").status_code == 204
    assert acct.req("GET", c, "obj").status_code == 404


def test_post_does_not_create_a_version(new_account):
    acct = new_account()
    c, archive = _versioned(acct)
    acct.put_object(c, "obj", b"v1")
    assert acct.req("POST", c, "obj", headers={"X-Object-Meta-A": "b"}).status_code == 202
    assert acct.listing(archive) == []


def test_remove_versions_location_stops_versioning(new_account):
    acct = new_account()
    c, archive = _versioned(acct)
    assert acct.req("POST", c, headers={"X-Remove-Versions-Location": "x"}).status_code == 204
    assert "X-Versions-Location" not in acct.req("HEAD", c).headers
    acct.put_object(c, "obj", b"v1")
    acct.put_object(c, "obj", b"v2")
    assert acct.listing(archive) == []


# ---- legacy: X-History-Location --------------------------------------------------

def test_history_mode_keeps_everything_and_delete_is_final(new_account):
    acct = new_account()
    c, archive = _versioned(acct, "X-History-Location")
    assert acct.req("HEAD", c).headers["X-History-Location"] == archive
    acct.put_object(c, "obj", b"v1")
    acct.put_object(c, "obj", b"v2")
    assert len(acct.listing(archive, prefix="003obj/")) == 1
    assert acct.req("DELETE", c, "obj").status_code == 204
    assert acct.req("GET", c, "obj").status_code == 404
    assert acct.names(c) == []
    # v1, v2 and a zero-byte delete marker
    old = acct.listing(archive, prefix="003obj/")
    assert len(old) == 3, old
    markers = [e for e in old if e["content_type"] == DELETE_MARKER_CONTENT_TYPE]
    assert len(markers) == 1 and markers[0]["bytes"] == 0, old
    data = sorted(acct.get_body(archive, e["name"]) for e in old if e not in markers)
    assert data == [b"v1", b"v2"]


def test_only_one_legacy_mode_at_a_time(new_account):
    acct = new_account()
    archive = acct.put_container("archive")
    r = acct.req("PUT", "both", headers={"X-Versions-Location": archive, "X-History-Location": archive})
    assert r.status_code == 400, (r.status_code, r.text)
    assert acct.req("HEAD", "both").status_code == 404


# ---- X-Versions-Enabled -------------------------------------------------------

def _enabled(acct):
    c = acct.put_container("vers", headers={"X-Versions-Enabled": "true"})
    return c


def test_versions_enabled_is_reported(new_account):
    acct = new_account()
    c = _enabled(acct)
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"].lower() == "true"
    assert acct.req("POST", c, headers={"X-Versions-Enabled": "false"}).status_code == 204
    assert acct.req("HEAD", c).headers["X-Versions-Enabled"].lower() == "false"
    # the hidden versions container is not listed in the account
    assert acct.names() == [c]


def test_version_ids_and_get_by_version(new_account):
    acct = new_account()
    c = _enabled(acct)
    v1 = acct.put_object(c, "obj", b"one").headers["X-Object-Version-Id"]
    v2 = acct.put_object(c, "obj", b"two").headers["X-Object-Version-Id"]
    assert v1 and v2 and v1 != v2
    r = acct.req("GET", c, "obj")
    assert r.content == b"two" and r.headers["X-Object-Version-Id"] == v2
    r = acct.req("GET", c, "obj", params={"version-id": v1})
    assert r.status_code == 200 and r.content == b"one" and r.headers["X-Object-Version-Id"] == v1
    assert acct.req("HEAD", c, "obj", params={"version-id": v1}).status_code == 200
    assert acct.names(c) == ["obj"]


def test_versions_listing(new_account):
    acct = new_account()
    c = _enabled(acct)
    v1 = acct.put_object(c, "obj", b"one").headers["X-Object-Version-Id"]
    v2 = acct.put_object(c, "obj", b"two!").headers["X-Object-Version-Id"]
    listing = acct.listing(c, versions="")
    assert [(e["name"], e["version_id"], e["is_latest"]) for e in listing] == [
        ("obj", v2, True), ("obj", v1, False)], listing
    assert [e["bytes"] for e in listing] == [4, 3]
    assert all({"hash", "content_type", "last_modified"} <= set(e) for e in listing)


def test_delete_writes_a_delete_marker(new_account):
    acct = new_account()
    c = _enabled(acct)
    v1 = acct.put_object(c, "obj", b"one").headers["X-Object-Version-Id"]
    r = acct.req("DELETE", c, "obj")
    assert r.status_code == 204, (r.status_code, r.text)
    assert acct.req("GET", c, "obj").status_code == 404
    assert acct.names(c) == []
    listing = acct.listing(c, versions="")
    assert len(listing) == 2, listing
    marker = listing[0]
    assert marker["content_type"] == DELETE_MARKER_CONTENT_TYPE and marker["is_latest"] is True
    assert listing[1]["version_id"] == v1 and listing[1]["is_latest"] is False
    # the old version is still there, and a GET of the marker's version is a 404
    assert acct.get_body(c, "obj", params={"version-id": v1}) == b"one"
    assert acct.req("GET", c, "obj", params={"version-id": marker["version_id"]}).status_code == 404
    # a container that still holds versions cannot be deleted
    assert acct.req("DELETE", c).status_code == 409


def test_delete_by_version_id_removes_only_that_version(new_account):
    acct = new_account()
    c = _enabled(acct)
    v1 = acct.put_object(c, "obj", b"one").headers["X-Object-Version-Id"]
    v2 = acct.put_object(c, "obj", b"two").headers["X-Object-Version-Id"]
    assert acct.req("DELETE", c, "obj", params={"version-id": v1}).status_code == 204
    assert acct.req("GET", c, "obj", params={"version-id": v1}).status_code == 404
    assert acct.get_body(c, "obj") == b"two"
    assert [e["version_id"] for e in acct.listing(c, versions="")] == [v2]


def test_version_id_on_post_or_unversioned_container_is_400(new_account):
    acct = new_account()
    c = _enabled(acct)
    v1 = acct.put_object(c, "obj", b"one").headers["X-Object-Version-Id"]
    r = acct.req("POST", c, "obj", params={"version-id": v1}, headers={"X-Object-Meta-A": "b"})
    assert r.status_code == 400, (r.status_code, r.text)
    plain = acct.put_container("plain")
    acct.put_object(plain, "obj", b"x")
    r = acct.req("GET", plain, "obj", params={"version-id": v1})
    assert r.status_code == 400, (r.status_code, r.text)


def test_cannot_mix_new_and_legacy_versioning(new_account):
    acct = new_account()
    c, _ = _versioned(acct)
    r = acct.req("POST", c, headers={"X-Versions-Enabled": "true"})
    assert r.status_code == 400, (r.status_code, r.text)
