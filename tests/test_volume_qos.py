"""QoS specs (`/qos-specs`) as Cinder's contrib/qos_specs_manage.py and volume/qos_specs.py
answer: create (consumer `back-end` by default; `front-end`, `both`), list with filters, show,
set keys (numbers as their text, null kept), delete keys (404 at the first missing one), delete
(400 while associated unless `force`), associations with volume types (one specs per type),
admins only; the front-end specs of a volume's type travel in the attachment's
`connection_info` as `qos_specs` (null otherwise), which the compute node applies to the guest's
disk (tests/test_volume_attach_qemu.py measures it)."""

import os
import uuid

import pytest

from volume_support import (  # noqa: F401  (fixtures are used by name)
    Vol,
    assert_fault,
    attach,
    bs_admin,
    bs_cloud,
    bs_user,
    unique,
)


def test_qos_specs_lifecycle(bs_admin: Vol):
    admin = bs_admin
    name = unique("qos")
    made = admin.ok("POST", "/qos-specs", json={"qos_specs": {"name": f"  {name} ", "read_iops_sec": "2000", "total_bytes_sec": 1048576}})
    q = made["qos_specs"]
    assert q["name"] == name and q["consumer"] == "back-end", q
    assert q["specs"] == {"read_iops_sec": "2000", "total_bytes_sec": "1048576"}, q
    assert [link["rel"] for link in made["links"]] == ["self", "bookmark"]
    qid = q["id"]
    assert q in admin.ok("GET", "/qos-specs")["qos_specs"]
    assert admin.ok("GET", f"/qos-specs?name={name}")["qos_specs"] == [q]
    assert admin.ok("GET", "/qos-specs?consumer=both&name=" + name)["qos_specs"] == []
    assert admin.ok("GET", f"/qos-specs/{qid}")["qos_specs"] == q
    # Names are unique (as bytes: a different normalization is another name).
    assert_fault(admin.req("POST", "/qos-specs", json={"qos_specs": {"name": name}}), 409, f"QoS Specs {name} already exists.")
    # Set keys; the consumer is a key too.
    assert admin.ok("PUT", f"/qos-specs/{qid}", json={"qos_specs": {"iops_bytes": "500", "consumer": "front-end"}}) == \
        {"qos_specs": {"iops_bytes": "500", "consumer": "front-end"}}
    shown = admin.ok("GET", f"/qos-specs/{qid}")["qos_specs"]
    assert shown["consumer"] == "front-end" and shown["specs"]["iops_bytes"] == "500", shown
    assert_fault(admin.req("PUT", f"/qos-specs/{qid}", json={"qos_specs": {"consumer": "middle"}}), 400, "Valid consumer of QoS specs are")
    # Delete keys: the ones before the first missing key go, then 404.
    r = admin.req("PUT", f"/qos-specs/{qid}/delete_keys", json={"keys": ["iops_bytes", "nope", "read_iops_sec"]})
    assert_fault(r, 404, f"QoS spec {qid} has no spec with key nope.")
    assert admin.ok("GET", f"/qos-specs/{qid}")["qos_specs"]["specs"] == {"read_iops_sec": "2000", "total_bytes_sec": "1048576"}
    assert admin.req("PUT", f"/qos-specs/{qid}/delete_keys", json={"keys": ["read_iops_sec"]}).status_code == 202
    # Associations: one specs per type.
    types = [admin.ok("POST", "/types", json={"volume_type": {"name": unique("qos-type")}})["volume_type"]["id"] for _ in range(3)]
    for t in types:
        assert admin.req("GET", f"/qos-specs/{qid}/associate?vol_type_id={t}").status_code == 202
    assert admin.req("GET", f"/qos-specs/{qid}/associate?vol_type_id={types[0]}").status_code == 202   # again: nothing changes
    assoc = admin.ok("GET", f"/qos-specs/{qid}/associations")["qos_associations"]
    assert sorted(a["id"] for a in assoc) == sorted(types) and {a["association_type"] for a in assoc} == {"volume_type"}
    assert admin.ok("GET", f"/types/{types[0]}")["volume_type"]["qos_specs_id"] == qid
    other = admin.ok("POST", "/qos-specs", json={"qos_specs": {"name": unique("qos"), "consumer": "both"}})["qos_specs"]["id"]
    assert_fault(admin.req("GET", f"/qos-specs/{other}/associate?vol_type_id={types[0]}"), 400, "is already associated with another qos specs")
    assert_fault(admin.req("GET", f"/qos-specs/{qid}/associate"), 400, "Volume Type id must not be None.")
    assert_fault(admin.req("GET", f"/qos-specs/{qid}/associate?vol_type_id={uuid.uuid4()}"), 404)
    assert admin.req("GET", f"/qos-specs/{qid}/disassociate?vol_type_id={types[0]}").status_code == 202
    assert admin.ok("GET", f"/types/{types[0]}")["volume_type"]["qos_specs_id"] is None
    assert_fault(admin.req("DELETE", f"/qos-specs/{qid}"), 400, "Qos specs still in use.")
    assert admin.req("GET", f"/qos-specs/{qid}/disassociate_all").status_code == 202
    assert admin.ok("GET", f"/qos-specs/{qid}/associations")["qos_associations"] == []
    # Delete; force disassociates first.
    assert admin.req("GET", f"/qos-specs/{other}/associate?vol_type_id={types[1]}").status_code == 202
    assert admin.req("DELETE", f"/qos-specs/{other}?force=True").status_code == 202
    assert admin.ok("GET", f"/types/{types[1]}")["volume_type"]["qos_specs_id"] is None
    assert admin.req("DELETE", f"/qos-specs/{qid}").status_code == 202
    assert_fault(admin.req("GET", f"/qos-specs/{qid}"), 404, f"No such QoS spec {qid}.")
    for t in types:
        assert admin.req("DELETE", f"/types/{t}").status_code == 202


def test_qos_specs_bad_input_and_policy(bs_admin: Vol, bs_user):
    admin = bs_admin
    for body, fragment in [({}, "qos_specs"), ({"qos_specs": {}}, "'name' is a required property"),
                           ({"qos_specs": {"name": "   "}}, "name"), ({"qos_specs": {"name": 7}}, "name"),
                           ({"qos_specs": {"name": unique("q"), "consumer": "sideways"}}, "Valid consumer of QoS specs are"),
                           ({"qos_specs": {"name": unique("q"), "k": {"nested": 1}}}, "qos_specs"),
                           ({"qos_specs": {"name": unique("q"), "k": "x" * 256}}, "too long"),
                           ({"qos_specs": {"name": unique("q")}, "extra": 1}, "Additional properties")]:
        assert_fault(admin.req("POST", "/qos-specs", json=body), 400, fragment)
    qid = admin.ok("POST", "/qos-specs", json={"qos_specs": {"name": unique("q")}})["qos_specs"]["id"]
    for body in [{"keys": "a"}, {"keys": [1]}, {"keys": ["a", "a"]}, {}]:
        assert_fault(admin.req("PUT", f"/qos-specs/{qid}/delete_keys", json=body), 400)
    assert_fault(admin.req("PUT", f"/qos-specs/{uuid.uuid4()}", json={"qos_specs": {"a": "1"}}), 404)
    member = bs_user()
    for method, path in [("GET", "/qos-specs"), ("GET", f"/qos-specs/{qid}"), ("DELETE", f"/qos-specs/{qid}"),
                         ("PUT", f"/qos-specs/{qid}"), ("GET", f"/qos-specs/{qid}/associations")]:
        r = member.req(method, path, json={"qos_specs": {"a": "1"}} if method == "PUT" else None)
        assert_fault(r, 403)
    assert_fault(member.req("POST", "/qos-specs", json={"qos_specs": {"name": unique("q")}}), 403)
    assert admin.req("DELETE", f"/qos-specs/{qid}").status_code == 202


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/qemu-storage-daemon"), reason="exports need root and qemu-storage-daemon")
def test_front_end_specs_travel_in_the_connection(bs_admin: Vol):
    admin = bs_admin
    type_id = admin.ok("POST", "/types", json={"volume_type": {"name": unique("qos-fe")}})["volume_type"]["id"]
    qid = admin.ok("POST", "/qos-specs", json={"qos_specs": {"name": unique("fe"), "consumer": "front-end", "total_bytes_sec": "1048576"}})["qos_specs"]["id"]
    assert admin.req("GET", f"/qos-specs/{qid}/associate?vol_type_id={type_id}").status_code == 202
    vid = admin.create_volume(volume_type=type_id)["id"]
    a = attach(admin, vid, {"host": "node-1", "mountpoint": "/dev/vdb"})
    assert a["connection_info"]["data"]["qos_specs"] == {"total_bytes_sec": "1048576"}, a["connection_info"]
    assert admin.req("DELETE", f"/attachments/{a['id']}", version="3.27").status_code == 200
    # Back-end specs stay on the storage side: the connection carries none.
    assert admin.ok("PUT", f"/qos-specs/{qid}", json={"qos_specs": {"consumer": "back-end"}})
    a = attach(admin, vid, {"host": "node-1", "mountpoint": "/dev/vdb"})
    assert a["connection_info"]["data"]["qos_specs"] is None, a["connection_info"]
    assert admin.req("DELETE", f"/attachments/{a['id']}", version="3.27").status_code == 200
    admin.wait_volume(vid, "available")
    assert admin.req("DELETE", f"/volumes/{vid}").status_code == 202
