"""Volume type encryption specs (`/types/{id}/encryption`, Cinder's
contrib/volume_type_encryption.py): create (the request's member with the ids), show (every
column, `{}` when none), show one key, update, delete (202, then `{}`), admins only; a type in use
cannot get, change or lose its specs; no key manager runs here, so a volume of an encrypted type
is refused (create and retype) with a clear 400, never made unencrypted."""

import uuid

from volume_support import (  # noqa: F401  (fixtures are used by name)
    Vol,
    assert_fault,
    bs_admin,
    bs_cloud,
    bs_user,
    unique,
)

SPECS = {"provider": "LuksEncryptor", "key_size": 256, "cipher": "aes-xts-plain64", "control_location": "front-end"}


def make_type(admin: Vol) -> dict:
    return admin.ok("POST", "/types", json={"volume_type": {"name": unique("enc")}})["volume_type"]


def test_encryption_specs_lifecycle(bs_admin: Vol):
    admin = bs_admin
    t = make_type(admin)
    tid = t["id"]
    assert admin.ok("GET", f"/types/{tid}/encryption") == {}
    made = admin.ok("POST", f"/types/{tid}/encryption", json={"encryption": {**SPECS, "key_size": "256"}})["encryption"]
    assert {k: made[k] for k in SPECS} == SPECS, made
    assert made["volume_type_id"] == tid and uuid.UUID(made["encryption_id"]), made
    shown = admin.ok("GET", f"/types/{tid}/encryption")
    assert {k: shown[k] for k in SPECS} == SPECS and shown["encryption_id"] == made["encryption_id"], shown
    assert shown["deleted"] is False and shown["created_at"], shown
    assert_fault(admin.req("POST", f"/types/{tid}/encryption", json={"encryption": SPECS}), 400,
                 f"Volume type encryption for type {tid} already exists.")
    eid = made["encryption_id"]
    assert admin.ok("PUT", f"/types/{tid}/encryption/{eid}", json={"encryption": {"key_size": 128, "provider": "SomeProvider"}}) == \
        {"encryption": {"key_size": 128, "provider": "SomeProvider"}}
    assert admin.ok("GET", f"/types/{tid}/encryption/cipher") == {"cipher": "aes-xts-plain64"}
    assert admin.ok("GET", f"/types/{tid}/encryption/key_size") == {"key_size": 128}
    assert_fault(admin.req("GET", f"/types/{tid}/encryption/nope"), 404, f"Volume type encryption for type {tid} does not exist.")
    assert admin.req("DELETE", f"/types/{tid}/encryption/{eid}").status_code == 202
    assert admin.ok("GET", f"/types/{tid}/encryption") == {}
    assert_fault(admin.req("DELETE", f"/types/{tid}/encryption/{eid}"), 404)
    assert_fault(admin.req("PUT", f"/types/{tid}/encryption/{eid}", json={"encryption": {"key_size": 1}}), 404)
    missing = str(uuid.uuid4())
    assert_fault(admin.req("GET", f"/types/{missing}/encryption"), 404, f"Volume type {missing} could not be found.")
    assert_fault(admin.req("POST", f"/types/{missing}/encryption", json={"encryption": SPECS}), 404)


def test_encrypted_types_make_no_volumes(bs_admin: Vol, bs_user):
    admin = bs_admin
    user = bs_user()
    t = make_type(admin)
    admin.ok("POST", f"/types/{t['id']}/encryption", json={"encryption": SPECS})
    r = user.req("POST", "/volumes", json={"volume": {"size": 1, "volume_type": t["name"]}})
    assert_fault(r, 400, "no key manager")
    assert user.ok("GET", "/volumes")["volumes"] == []
    plain = user.create_volume()
    assert_fault(user.action(plain["id"], "os-retype", {"new_type": t["name"]}), 400, "no key manager")
    assert user.show_volume(plain["id"])["volume_type"] == "__DEFAULT__"
    # A type in use keeps its specs as they are.
    used = make_type(admin)
    v = user.create_volume(volume_type=used["name"])
    assert_fault(admin.req("POST", f"/types/{used['id']}/encryption", json={"encryption": SPECS}), 400,
                 "Cannot create encryption specs. Volume type in use.")
    user.ok("DELETE", f"/volumes/{v['id']}", status=202)
    user.wait_gone("volumes", v["id"])
    admin.ok("POST", f"/types/{used['id']}/encryption", json={"encryption": SPECS})


def test_encryption_bad_input_and_policy(bs_admin: Vol, bs_user):
    admin = bs_admin
    member = bs_user()
    tid = make_type(admin)["id"]
    for body, fragment in [({}, "'encryption' is a required property"),
                           ({"encryption": []}, "is not of type 'object'"),
                           ({"encryption": {"provider": "p"}}, "'control_location' is a required property"),
                           ({"encryption": {**SPECS, "control_location": "middle"}}, "is not one of"),
                           ({"encryption": {**SPECS, "key_size": -1}}, "is less than the minimum of 0"),
                           ({"encryption": {**SPECS, "key_size": "12a"}}, "is not a valid key size"),
                           ({"encryption": {**SPECS, "key_size": 1.5}}, "is not of type"),
                           ({"encryption": {**SPECS, "cipher": "c" * 256}}, "is too long"),
                           ({"encryption": {**SPECS, "provider": 7}}, "is not of type 'string'"),
                           ({"encryption": SPECS, "other": 1}, "Additional properties are not allowed")]:
        assert_fault(admin.req("POST", f"/types/{tid}/encryption", json=body), 400, fragment)
    assert admin.ok("GET", f"/types/{tid}/encryption") == {}
    for method, path, body in [("GET", f"/types/{tid}/encryption", None), ("POST", f"/types/{tid}/encryption", {"encryption": SPECS}),
                               ("PUT", f"/types/{tid}/encryption/x", {"encryption": {"key_size": 1}}),
                               ("DELETE", f"/types/{tid}/encryption/x", None)]:
        assert_fault(member.req(method, path, json=body), 403)
