"""Adversarial review of three features: Cinder 3.62 per-project default volume types
(Sources/BlockStorage/API/CinderAPI+DefaultTypes.swift, VolumeService+Types.swift), volume type
encryption specs (CinderAPI+TypeEncryption.swift, VolumeService+Encryption.swift) and Nova's
shelve / unshelve of volume-backed servers (ComputeService+Shelve.swift, ComputeService+Volumes.swift
`terminateConnections`, ComputeService+Nodes.swift, ComputeAgent.swift).

Expected behaviour is real OpenStack's (/work/.mirror/openstack+cinder, /work/.mirror/openstack+nova):
cinder/api/v3/default_types.py, cinder/api/api_utils.py validate_project_and_authorize,
cinder/volume/volume_types.py get_default_volume_type, cinder/db/sqlalchemy _volume_type_get_query,
cinder/api/contrib/volume_type_encryption.py, cinder/api/schemas/volume_type_encryption.py,
cinder/db/api.py volume_detached / _get_statuses_from_attachments, nova/compute/api.py (shelve,
_attach_volume_shelved_offloaded, _detach_volume_shelved_offloaded, unshelve),
nova/compute/manager.py (shelve_offload_instance, _terminate_volume_connections, unshelve_instance).

One module-scoped cloud on the fake compute driver (volumes are real qcow2 files, attachments real
NBD exports); the kill -9 test has a cloud of its own.

The first part holds one test per finding (each fails on the build under review); the second part
("held") pins what was attacked and found right.
"""

from __future__ import annotations

import os
import time
import unicodedata
import uuid

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud
from test_adversarial_review_bfv import _env, kenv, new_snapshot  # noqa: F401 (kenv: the kill -9 cloud fixture)
from test_adversarial_review_volume_attach import (Who, admin, attach, cinder, detach, member,
                                                   new_volume, race, settle, volume, wait_volume)
from test_boot_from_volume import boot, delete_server, wait_gone, wait_server

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"),
                                reason="volume exports need root and qemu-storage-daemon")

V62 = "3.62"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-types-shelve"), "fake", {"compute": {"agent_interval_s": "1"}})
    try:
        e = _env(cloud)
        name = f"rv-ma-{uuid.uuid4().hex[:6]}"
        r = cinder(e, "POST", "/types", admin(e), json={"volume_type": {"name": name, "extra_specs": {"multiattach": "<is> True"}}})
        assert r.status_code == 200, r.text
        e.ma_type = name
        yield e
    finally:
        stop_compute_cloud(cloud, data)



# ---- helpers ------------------------------------------------------------------------------------

def new_type(env, name=None, **extra) -> dict:
    if "is_public" in extra:
        extra["os-volume-type-access:is_public"] = extra.pop("is_public")
    r = cinder(env, "POST", "/types", admin(env), json={"volume_type": {"name": name or f"rv-t-{uuid.uuid4().hex[:8]}", **extra}})
    assert r.status_code == 200, r.text
    return r.json()["volume_type"]


def set_default(env, project, type_name_or_id, who: Who | None = None) -> requests.Response:
    return cinder(env, "PUT", f"/default-types/{project}", who or admin(env), version=V62,
                  json={"default_type": {"volume_type": type_name_or_id}})


def encrypt(env, type_id, who: Who | None = None, **spec) -> requests.Response:
    body = {"encryption": {"provider": "luks", "control_location": "front-end", "cipher": "aes-xts-plain64", "key_size": 256, **spec}}
    return cinder(env, "POST", f"/types/{type_id}/encryption", who or admin(env), json=body)


def volume_backed(env, who: Who, dot=False, extra_bdm=()) -> tuple[str, str]:
    """A volume-backed server (image -> new 1 GiB root volume): (server id, root volume id)."""
    bdm = [{"uuid": env.image, "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1,
            "delete_on_termination": dot}, *extra_bdm]
    sid = boot(env, who, bdm).json()["server"]["id"]
    s = wait_server(env, who, sid)
    root = s["os-extended-volumes:volumes_attached"][0]["id"]
    wait_volume(env, who, root, "in-use")
    return sid, root


def attachments(env, who: Who, vid) -> list[dict]:
    r = cinder(env, "GET", f"/attachments/detail?volume_id={vid}", who)
    assert r.status_code == 200, r.text
    return r.json()["attachments"]


def shelve_offloaded(env, who: Who, sid) -> dict:
    r = env.action(sid, {"shelve": None}, token=who.token)
    assert r.status_code == 202, r.text
    return wait_server(env, who, sid, "SHELVED_OFFLOADED")


def unshelved(env, who: Who, sid, body=None) -> dict:
    r = env.action(sid, {"unshelve": body}, token=who.token)
    assert r.status_code == 202, r.text
    return wait_server(env, who, sid)


def nova_volumes(env, who: Who, sid) -> list[str]:
    r = env.nova("GET", f"/servers/{sid}/os-volume_attachments", token=who.token)
    assert r.status_code == 200, r.text
    return sorted(a["volumeId"] for a in r.json()["volumeAttachments"])


def connected_to(env, who: Who, vid, sid):
    """The volume is in-use with exactly one attachment, to `sid`, attached with a connection."""
    v = settle(env, who, vid)
    assert v and v["status"] == "in-use", v
    atts = [a for a in attachments(env, who, vid) if a["instance"] == sid]
    assert [(a["status"], bool(a["connection_info"])) for a in atts] == [("attached", True)], atts


# =================================================================================================
# Findings (each fails now)
# =================================================================================================

def test_a_default_type_for_a_project_that_does_not_exist_is_404(env):
    """SEVERITY LOW (a row for nothing; an admin's typo succeeds silently).  Cinder's PUT and GET
    /default-types/{project_id} call validate_project_and_authorize (cinder/api/api_utils.py), which
    asks Keystone for the project: an unknown one is 404 'Project with id X not found.'.  Nimbus only
    looks at the id's bytes, so PUT /default-types/<an id no project has> answers 200 and the row
    shows in GET /default-types; the type it names can then no longer be deleted."""
    t = new_type(env)
    ghost = uuid.uuid4().hex
    r = set_default(env, ghost, t["id"])
    assert r.status_code == 404, (r.status_code, r.text)
    assert "not found" in r.text.lower(), r.text
    r = cinder(env, "GET", f"/default-types/{ghost}", admin(env), version=V62)
    assert r.status_code == 404, r.text
    listed = cinder(env, "GET", "/default-types", admin(env), version=V62).json()["default_types"]
    assert ghost not in [d["project_id"] for d in listed], listed
    assert cinder(env, "DELETE", f"/types/{t['id']}", admin(env)).status_code == 202


def test_a_private_default_type_the_project_cannot_see_is_not_used(env):
    """SEVERITY MEDIUM (a project gets volumes of a private type it was never given).  An admin sets
    project P's default to a private type (Cinder allows it: the admin's context finds it), then the
    type's access for P is removed, or it never had it.  Cinder resolves a project's default with the
    caller's context (cinder/volume/volume_types.py get_default_volume_type -> get_volume_type(contxt,
    ...) -> _volume_type_get_query filters non-admins to public types and types their project was
    given): a member of P gets 404 VolumeTypeNotFound for GET /types/default and for a volume create
    that names no type.  Nimbus' defaultType(project:) ignores visibility: the member sees the
    private type as its default and gets volumes of it."""
    who = member(env)
    t = new_type(env, is_public=False)
    r = cinder(env, "POST", f"/types/{t['id']}/action", admin(env), json={"addProjectAccess": {"project": who.project}})
    assert r.status_code == 202, r.text
    assert set_default(env, who.project, t["id"]).status_code == 200
    # While P has access the default is used.
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1}})
    assert r.status_code == 202, r.text
    first = r.json()["volume"]["id"]
    assert r.json()["volume"]["volume_type"] == t["name"]
    wait_volume(env, who, first, "available")
    # Access removed: the type is no longer P's to use.
    r = cinder(env, "POST", f"/types/{t['id']}/action", admin(env), json={"removeProjectAccess": {"project": who.project}})
    assert r.status_code == 202, r.text
    assert cinder(env, "GET", f"/types/{t['id']}", who).status_code == 404
    r = cinder(env, "GET", "/types/default", who)
    assert r.status_code == 404, (r.status_code, r.text[:300])
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1}})
    made = r.json().get("volume", {}) if r.status_code == 202 else {}
    if made:
        settle(env, who, made["id"])
        cinder(env, "DELETE", f"/volumes/{made['id']}", who)
    assert r.status_code == 404, f"a volume of private type {t['name']} was made for a project without access: {made}"


# =================================================================================================
# Held: default types
# =================================================================================================

def test_held_default_types_are_for_admins_only(env):
    """cinder/policies/default_types.py: all four rules are admin_api (legacy defaults)."""
    who = member(env)
    reader = member(env, role="reader", project=who.project)
    t = new_type(env)
    for w in (who, reader):
        assert set_default(env, w.project, t["id"], who=w).status_code == 403
        assert cinder(env, "GET", f"/default-types/{w.project}", w, version=V62).status_code == 403
        assert cinder(env, "GET", "/default-types", w, version=V62).status_code == 403
        assert cinder(env, "DELETE", f"/default-types/{w.project}", w, version=V62).status_code == 403
    # Also through the unprefixed route.
    h = {"X-Auth-Token": who.token, "OpenStack-API-Version": "volume 3.62"}
    r = requests.put(f"{env.base}/volume/v3/default-types/{who.project}", headers=h, json={"default_type": {"volume_type": t["id"]}}, timeout=30)
    assert r.status_code == 403, r.text
    # Before 3.62 the routes do not exist.
    assert cinder(env, "GET", "/default-types", admin(env), version="3.61").status_code == 404
    assert cinder(env, "GET", f"/default-types/{who.project}", admin(env), version=V62).status_code == 404


def test_held_default_type_bodies_and_odd_project_ids(env):
    """The schema (cinder/api/schemas/default_types.py): default_type an object with only a
    string volume_type of 1..255 characters; an unknown type is 400. Odd ids are 404, never 500."""
    who = member(env)
    p = who.project
    t = new_type(env)
    bad = [
        {"default_type": {"volume_type": 5}},
        {"default_type": {"volume_type": None}},
        {"default_type": {"volume_type": ""}},
        {"default_type": {"volume_type": "x" * 256}},
        {"default_type": {"volume_type": t["id"], "extra": 1}},
        {"default_type": {}},
        {"default_type": [t["id"]]},
        {"default_type": "x"},
        {"default_type": {"volume_type": {"a": [[[[[[[[[[1]]]]]]]]]]}}},
        {"default_type": {"volume_type": f"no-such-{uuid.uuid4().hex}"}},
    ]
    for body in bad:
        r = cinder(env, "PUT", f"/default-types/{p}", admin(env), version=V62, json=body)
        assert r.status_code == 400, (body, r.status_code, r.text[:300])
    deep = '{"default_type": ' * 5000 + "1" + "}" * 5000
    h = {"X-Auth-Token": env.admin, "OpenStack-API-Version": "volume 3.62", "Content-Type": "application/json"}
    for raw in (deep.encode(), b"\xff\xfe{", b"[]", b"null", b""):
        r = requests.put(f"{env.base}/volume/v3/{env.admin_project}/default-types/{p}", headers=h, data=raw, timeout=30)
        assert r.status_code == 400, (raw[:20], r.status_code, r.text[:300])
    for odd in ["a%2Fb", "x" * 300, "%00", "%FF", "%20", "..", "a%2F..%2Fb"]:
        for method in ("GET", "PUT"):
            r = cinder(env, method, f"/default-types/{odd}", admin(env), version=V62, json={"default_type": {"volume_type": t["id"]}})
            assert r.status_code in (400, 404), (method, odd, r.status_code, r.text[:300])
        r = cinder(env, "DELETE", f"/default-types/{odd}", admin(env), version=V62)
        assert r.status_code in (204, 400, 404), (odd, r.status_code, r.text[:300])
    assert cinder(env, "GET", f"/default-types/{p}", admin(env), version=V62).status_code == 404
    listed = cinder(env, "GET", "/default-types", admin(env), version=V62)
    assert listed.status_code == 200
    assert p not in [d["project_id"] for d in listed.json()["default_types"]]


def test_held_canonically_equivalent_type_names_are_distinct(env):
    """Type names are compared byte for byte (Cinder's SQL equality on the name column): a type
    named in NFD is not the NFC one, and the project default names the one asked for."""
    who = member(env)
    base = f"caf\u00e9-{uuid.uuid4().hex[:6]}"
    nfc, nfd = unicodedata.normalize("NFC", base), unicodedata.normalize("NFD", base)
    assert nfc.encode() != nfd.encode()
    t1 = new_type(env, name=nfc)
    r = cinder(env, "POST", "/types", admin(env), json={"volume_type": {"name": nfd}})
    if r.status_code == 200:
        t2 = r.json()["volume_type"]
        assert t2["id"] != t1["id"]
        d = set_default(env, who.project, nfd)
        assert d.status_code == 200 and d.json()["default_type"]["volume_type_id"] == t2["id"], d.text
        d = set_default(env, who.project, nfc)
        assert d.status_code == 200 and d.json()["default_type"]["volume_type_id"] == t1["id"], d.text
    else:
        assert r.status_code == 409, r.text
    assert cinder(env, "DELETE", f"/default-types/{who.project}", admin(env), version=V62).status_code == 204


def test_held_default_raced_with_the_types_delete(env):
    """A PUT of a project's default raced with the type's delete: either the type is gone and no
    default names it, or the default names it and the delete was refused (400)."""
    who = member(env)
    for _ in range(6):
        t = new_type(env)

        def go(i):
            if i % 2:
                return set_default(env, who.project, t["id"]).status_code
            return cinder(env, "DELETE", f"/types/{t['id']}", admin(env)).status_code
        codes = race(4, go)
        exists = cinder(env, "GET", f"/types/{t['id']}", admin(env)).status_code == 200
        d = cinder(env, "GET", f"/default-types/{who.project}", admin(env), version=V62)
        named = d.status_code == 200 and d.json()["default_type"]["volume_type_id"] == t["id"]
        assert not named or exists, (codes, "a project default names a deleted type")
        assert all(c in (200, 202, 400, 404) for c in codes), codes
        # Volumes of the project still get a type that exists.
        r = cinder(env, "GET", "/types/default", who)
        assert r.status_code == 200, r.text
        cinder(env, "DELETE", f"/default-types/{who.project}", admin(env), version=V62)


# =================================================================================================
# Held: encryption
# =================================================================================================

def test_held_encryption_is_for_admins_and_checks_its_body(env):
    who = member(env)
    t = new_type(env)
    tid = t["id"]
    for method, path in [("GET", ""), ("POST", ""), ("GET", "/cipher"), ("PUT", "/x"), ("DELETE", "/x")]:
        body = {"encryption": {"provider": "luks", "control_location": "front-end"}} if method in ("POST", "PUT") else None
        r = cinder(env, method, f"/types/{tid}/encryption{path}", who, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
    bad = [
        {"encryption": {"provider": "luks"}},
        {"encryption": {"control_location": "front-end"}},
        {"encryption": {"provider": "luks", "control_location": "middle"}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": -1}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": "abc"}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": 1.5}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": 2 ** 31}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": 10 ** 30}},
        {"encryption": {"provider": "p" * 256, "control_location": "front-end"}},
        {"encryption": {"provider": 5, "control_location": "front-end"}},
        {"encryption": {"provider": "luks", "control_location": "front-end", "cipher": ["a"]}},
        {"encryption": [1]},
        {"encryption": None},
        {"encryption": {"provider": "luks", "control_location": "front-end"}, "other": 1},
        {},
    ]
    for body in bad:
        r = cinder(env, "POST", f"/types/{tid}/encryption", admin(env), json=body)
        assert r.status_code == 400, (body, r.status_code, r.text[:300])
    assert cinder(env, "GET", f"/types/{tid}/encryption", admin(env)).json() == {}
    # Unknown type: 404 for each verb.
    ghost = str(uuid.uuid4())
    assert cinder(env, "GET", f"/types/{ghost}/encryption", admin(env)).status_code == 404
    assert encrypt(env, ghost).status_code == 404
    assert cinder(env, "PUT", f"/types/{ghost}/encryption/x", admin(env), json={"encryption": {}}).status_code == 404
    assert cinder(env, "DELETE", f"/types/{ghost}/encryption/x", admin(env)).status_code == 404
    # No encryption yet: update and delete are 404.
    assert cinder(env, "PUT", f"/types/{tid}/encryption/x", admin(env), json={"encryption": {"cipher": None}}).status_code == 404
    assert cinder(env, "DELETE", f"/types/{tid}/encryption/x", admin(env)).status_code == 404
    # A big additional member is accepted (additionalProperties) but nothing breaks.
    r = encrypt(env, tid, junk={"k": ["v" * 1000] * 100})
    assert r.status_code == 200, r.text[:300]
    assert encrypt(env, tid).status_code == 400   # exists already
    got = cinder(env, "GET", f"/types/{tid}/encryption", admin(env)).json()
    assert got["provider"] == "luks" and got["key_size"] == 256 and "junk" not in got, got
    assert cinder(env, "GET", f"/types/{tid}/encryption/junk", admin(env)).status_code == 404
    r = cinder(env, "PUT", f"/types/{tid}/encryption/any", admin(env), json={"encryption": {"key_size": "512"}})
    assert r.status_code == 200, r.text
    assert cinder(env, "GET", f"/types/{tid}/encryption/key_size", admin(env)).json() == {"key_size": 512}
    assert cinder(env, "DELETE", f"/types/{tid}/encryption/any", admin(env)).status_code == 202
    assert cinder(env, "GET", f"/types/{tid}/encryption", admin(env)).json() == {}


def test_held_no_path_makes_a_volume_of_an_encrypted_type(env):
    """No key manager: creates (plain, from a snapshot, a source volume, a backup, the project's
    3.62 default), retypes and restores to an encrypted type are all refused, nothing is left."""
    who = member(env)
    plain = new_type(env, is_public=True)
    enc = new_type(env, is_public=True)
    assert encrypt(env, enc["id"]).status_code == 200
    src = new_volume(env, who, volume_type=plain["name"])
    snap = new_snapshot(env, who, src)
    before = {v["id"] for v in cinder(env, "GET", "/volumes", who).json()["volumes"]}
    for extra in ({}, {"snapshot_id": snap}, {"source_volid": src}):
        r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "volume_type": enc["name"], **extra}})
        assert r.status_code == 400, (extra, r.status_code, r.text[:300])
        r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "volume_type": enc["id"], **extra}})
        assert r.status_code == 400, (extra, r.status_code, r.text[:300])
    # The project's default is the encrypted type: a create without a type is refused.
    assert set_default(env, who.project, enc["id"]).status_code == 200
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1}})
    assert r.status_code == 400, r.text[:300]
    # Retype.
    assert cinder(env, "DELETE", f"/snapshots/{snap}", who).status_code == 202
    deadline = time.monotonic() + 30
    while cinder(env, "GET", f"/snapshots/{snap}", who).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    r = cinder(env, "POST", f"/volumes/{src}/action", who, json={"os-retype": {"new_type": enc["name"]}})
    assert r.status_code == 400, r.text[:300]
    after = {v["id"] for v in cinder(env, "GET", "/volumes", who).json()["volumes"]}
    assert after == before, after - before
    assert volume(env, who, src)["volume_type"] == plain["name"]
    cinder(env, "DELETE", f"/default-types/{who.project}", admin(env), version=V62)
    assert cinder(env, "DELETE", f"/volumes/{src}", who).status_code == 202


def test_held_encryption_raced_with_volume_creates(env):
    """Encryption specs created while volumes of the type are being created: either the specs
    were refused ('Volume type in use') or no volume of the type exists."""
    who = member(env)
    for _ in range(4):
        t = new_type(env)

        def go(i):
            if i == 0:
                return ("enc", encrypt(env, t["id"]).status_code)
            r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "volume_type": t["id"]}})
            return ("vol", r.status_code, r.json()["volume"]["id"] if r.status_code == 202 else None)
        out = race(4, go)
        encrypted = cinder(env, "GET", f"/types/{t['id']}/encryption", admin(env)).json() != {}
        made = [o[2] for o in out if o[0] == "vol" and o[1] == 202]
        assert not (encrypted and made), (out, "a volume of a type that is encrypted")
        for vid in made:
            settle(env, who, vid)
            assert cinder(env, "DELETE", f"/volumes/{vid}", who).status_code == 202


# =================================================================================================
# Shelve of volume-backed servers
# =================================================================================================

def test_offloaded_volume_backed_servers_volumes_are_reserved(env):
    """SEVERITY LOW (status).  Nova's _terminate_volume_connections creates a new attachment without
    a connector and deletes the connected one; Cinder's volume_detached then derives the volume's
    statuses from what is left (_get_statuses_from_attachments): only a reserved attachment, so the
    volume is `reserved`, attach_status `reserved`."""
    who = member(env)
    data = new_volume(env, who)
    sid, root = volume_backed(env, who)
    assert attach(env, sid, data, who).status_code == 200
    wait_volume(env, who, data, "in-use")
    shelve_offloaded(env, who, sid)
    for vid in (root, data):
        atts = attachments(env, who, vid)
        assert [(a["instance"], a["status"], bool(a["connection_info"])) for a in atts] == [(sid, "reserved", False)], atts
        # (`settle` would wait for `reserved` to pass: it is where the volume rests while offloaded.)
        assert wait_volume(env, who, vid, "reserved")["status"] == "reserved", vid
    unshelved(env, who, sid)
    for vid in (root, data):
        connected_to(env, who, vid, sid)
    delete_server(env, who, sid)
    for vid in (root, data):
        assert settle(env, who, vid)["status"] == "available"


def test_held_shelve_with_data_and_multiattach_volumes(env):
    """A volume-backed server with a data volume and a multiattach volume also attached to a
    second server: offloading swaps only this server's attachments; the other server's stays
    connected; unshelve connects everything again."""
    who = member(env)
    data = new_volume(env, who)
    r = cinder(env, "POST", "/volumes", who, json={"volume": {"size": 1, "volume_type": env.ma_type}})
    assert r.status_code == 202, r.text
    shared = r.json()["volume"]["id"]
    wait_volume(env, who, shared, "available")
    other, _ = volume_backed(env, who, dot=True)
    sid, root = volume_backed(env, who)
    assert attach(env, sid, data, who).status_code == 200
    wait_volume(env, who, data, "in-use")
    for s in (sid, other):
        r = attach(env, s, shared, who)
        assert r.status_code == 200, r.text
        wait_volume(env, who, shared, "in-use")
    deadline = time.monotonic() + 30
    while len([a for a in attachments(env, who, shared) if a["status"] == "attached"]) != 2:
        assert time.monotonic() < deadline, attachments(env, who, shared)
        time.sleep(0.3)
    shelve_offloaded(env, who, sid)
    assert nova_volumes(env, who, sid) == sorted([root, data, shared])
    mine = [(a["status"], bool(a["connection_info"])) for a in attachments(env, who, shared) if a["instance"] == sid]
    theirs = [(a["status"], bool(a["connection_info"])) for a in attachments(env, who, shared) if a["instance"] == other]
    assert mine == [("reserved", False)] and theirs == [("attached", True)], (mine, theirs)
    unshelved(env, who, sid)
    for vid in (root, data, shared):
        atts = [a for a in attachments(env, who, vid) if a["instance"] == sid]
        assert [(a["status"], bool(a["connection_info"])) for a in atts] == [("attached", True)], (vid, atts)
    assert [(a["status"]) for a in attachments(env, who, shared) if a["instance"] == other] == ["attached"]
    delete_server(env, who, sid)
    delete_server(env, who, other)
    for vid in (root, data, shared):
        v = settle(env, who, vid)
        assert v["status"] == "available" and v["attachments"] == [], v


def test_detach_and_attach_while_offloaded(env):
    """SEVERITY MEDIUM (a data volume cannot be taken off a shelved server).  Nimbus answers the
    detach of a data volume from a SHELVED_OFFLOADED volume-backed server 400 'Unable to detach
    volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.': the
    offload swapped its attachment for a reserved one, and the detach still runs Cinder's
    begin_detaching check.  Nova skips begin_detaching for attachment-id mappings
    (nova/compute/api.py _detach_volume_shelved_offloaded: 'The begin_detaching() call only works
    with in-use volumes, which will not be the case for ... reserved status') and deletes the
    attachment: 202, the volume available.  (terminateConnections runs after every offload, so
    image-backed offloaded servers are affected as well.)
    Nova's _detach_volume_shelved_offloaded / _attach_volume_shelved_offloaded: a data volume is
    detached (available, its attachment gone), a new one attached (in-use at once) and connected at
    unshelve; the root volume cannot be detached ('Cannot detach a root device volume', 400)."""
    who = member(env)
    data, later = new_volume(env, who), new_volume(env, who)
    sid, root = volume_backed(env, who)
    assert attach(env, sid, data, who).status_code == 200
    wait_volume(env, who, data, "in-use")
    shelve_offloaded(env, who, sid)
    r = detach(env, sid, root, who)
    assert r.status_code == 400, r.text
    r = detach(env, sid, data, who)
    assert r.status_code == 202, r.text
    v = settle(env, who, data)
    assert v["status"] == "available" and attachments(env, who, data) == [], v
    r = attach(env, sid, later, who)
    assert r.status_code == 200, r.text
    v = settle(env, who, later)
    assert v["status"] == "in-use", v
    assert nova_volumes(env, who, sid) == sorted([root, later])
    unshelved(env, who, sid)
    connected_to(env, who, root, sid)
    connected_to(env, who, later, sid)
    assert settle(env, who, data)["status"] == "available"
    delete_server(env, who, sid)
    for vid in (root, later, data):
        assert settle(env, who, vid)["status"] == "available"


def test_held_delete_while_offloaded_frees_or_deletes_the_volumes(env):
    who = member(env)
    data = new_volume(env, who)
    sid, root = volume_backed(env, who, dot=True)
    assert attach(env, sid, data, who, delete_on_termination=True).status_code == 200
    wait_volume(env, who, data, "in-use")
    keep = new_volume(env, who)
    assert attach(env, sid, keep, who).status_code == 200
    wait_volume(env, who, keep, "in-use")
    shelve_offloaded(env, who, sid)
    delete_server(env, who, sid)
    wait_gone(env, who, root)
    wait_gone(env, who, data)
    v = settle(env, who, keep)
    assert v["status"] == "available" and v["attachments"] == [] and attachments(env, who, keep) == [], v


def test_held_unshelve_twice_offload_again_and_zones(env):
    """shelveOffload of an offloaded server and an unshelve raced with itself are 409 for all but
    one; an unknown availability_zone is 400, the existing one accepted (2.77)."""
    who = member(env)
    sid, root = volume_backed(env, who)
    shelve_offloaded(env, who, sid)
    assert env.action(sid, {"shelveOffload": None}).status_code == 409
    assert env.action(sid, {"shelve": None}, token=who.token).status_code == 409
    r = env.action(sid, {"unshelve": {"availability_zone": "no-such-zone"}}, token=who.token)
    assert r.status_code == 400, r.text
    zone = env.nova("GET", f"/servers/{sid}", token=who.token).json()["server"]["OS-EXT-AZ:availability_zone"]
    zones = [z["zoneName"] for z in env.nova("GET", "/os-availability-zone", token=who.token).json()["availabilityZoneInfo"]]
    codes = race(3, lambda i: env.action(sid, {"unshelve": {"availability_zone": zones[0]}}, token=who.token).status_code)
    assert sorted(codes) == [202, 409, 409], (codes, zone)
    wait_server(env, who, sid)
    connected_to(env, who, root, sid)
    assert len(attachments(env, who, root)) == 1
    # A second cycle, then the other project's member: 404 for everything.
    shelve_offloaded(env, who, sid)
    stranger = member(env)
    for body in ({"unshelve": None}, {"shelve": None}, {"shelveOffload": None}):
        assert env.action(sid, body, token=stranger.token).status_code == 404
    r = detach(env, sid, root, stranger)
    assert r.status_code == 404, r.text
    unshelved(env, who, sid)
    connected_to(env, who, root, sid)
    delete_server(env, who, sid)
    assert settle(env, who, root)["status"] == "available"


def test_held_shelve_right_after_an_attach_or_a_detach(env):
    """Shelve sent right after a volume attach or detach: whatever is accepted, nothing is left in
    attaching/detaching/reserved once the server is ACTIVE again."""
    who = member(env)
    a, b = new_volume(env, who), new_volume(env, who)
    sid, root = volume_backed(env, who)
    assert attach(env, sid, b, who).status_code == 200
    wait_volume(env, who, b, "in-use")
    assert attach(env, sid, a, who).status_code == 200
    assert detach(env, sid, b, who).status_code == 202
    r = env.action(sid, {"shelve": None}, token=who.token)
    assert r.status_code in (202, 409), r.text
    if r.status_code == 202:
        wait_server(env, who, sid, "SHELVED_OFFLOADED")
        unshelved(env, who, sid)
    deadline = time.monotonic() + 30
    while set(nova_volumes(env, who, sid)) != {root, a} or settle(env, who, b)["status"] != "available":
        assert time.monotonic() < deadline, (nova_volumes(env, who, sid), volume(env, who, b)["status"])
        time.sleep(0.5)
    connected_to(env, who, root, sid)
    connected_to(env, who, a, sid)
    assert attachments(env, who, b) == []
    delete_server(env, who, sid)
    for vid in (root, a, b):
        assert settle(env, who, vid)["status"] == "available"


def test_held_kill_9_while_offloaded_then_unshelve(kenv):
    env = kenv
    who = member(env)
    data = new_volume(env, who)
    sid, root = volume_backed(env, who, dot=True)
    assert attach(env, sid, data, who).status_code == 200
    wait_volume(env, who, data, "in-use")
    shelve_offloaded(env, who, sid)
    env.cloud.nimbus.kill()
    env.cloud.nimbus.start(timeout=60)
    s = wait_server(env, who, sid, "SHELVED_OFFLOADED")
    assert sorted(x["id"] for x in s["os-extended-volumes:volumes_attached"]) == sorted([root, data])
    for vid in (root, data):
        atts = attachments(env, who, vid)
        assert [(x["instance"], x["status"]) for x in atts] == [(sid, "reserved")], atts
    unshelved(env, who, sid)
    connected_to(env, who, root, sid)
    connected_to(env, who, data, sid)
    # Killed again right after a shelve was accepted: it still ends offloaded or active, consistent.
    assert env.action(sid, {"shelve": None}, token=who.token).status_code == 202
    env.cloud.nimbus.kill()
    env.cloud.nimbus.start(timeout=60)
    deadline = time.monotonic() + 90
    while True:
        s = env.nova("GET", f"/servers/{sid}", token=who.token).json()["server"]
        if s["OS-EXT-STS:task_state"] is None and s["status"] in ("SHELVED_OFFLOADED", "ACTIVE", "SHUTOFF", "ERROR"):
            break
        assert time.monotonic() < deadline, (s["status"], s["OS-EXT-STS:task_state"])
        time.sleep(0.5)
    assert s["status"] != "ERROR", s.get("fault")
    if s["status"] == "SHELVED_OFFLOADED":
        unshelved(env, who, sid)
    elif s["status"] == "SHUTOFF":
        assert env.action(sid, {"os-start": None}, token=who.token).status_code == 202
        wait_server(env, who, sid)
    connected_to(env, who, root, sid)
    connected_to(env, who, data, sid)
    delete_server(env, who, sid)
    wait_gone(env, who, root)
    assert settle(env, who, data)["status"] == "available"
