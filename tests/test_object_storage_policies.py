"""Storage policies: `[storage-policy:N]` sections as in swift.conf, each policy with its own ring
(`object/ring-N.json`, made at first start on the same devices with the policy's `replicas`)
and its own directory on each device (`objects-N`). Driven with python-swiftclient, the openstack
CLI and raw HTTP: X-Storage-Policy on container PUT (names in any case, aliases, Swift's 400s for
unknown and deprecated names, 409 for another policy on an existing container), HEAD and listings
naming each container's policy, /info, the account's usage per policy, per-policy account quotas,
the replicator restoring a lost replica of a 2-replica policy, and a kill -9 restart."""

import dataclasses
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from swiftclient.exceptions import ClientException

from object_support import admin_account, login, md5hex, swift_connection, wait_until

REPO = Path(__file__).resolve().parents[1]


def config(bronze_deprecated: bool = False) -> dict:
    return {
        "storage-policy:0": {"name": "gold", "aliases": "yellow, orange", "default": "yes"},
        "storage-policy:1": {"name": "silver", "replicas": 2},
        "storage-policy:2": {"name": "bronze", "replicas": 1, "deprecated": "yes" if bronze_deprecated else "no"},
        "object_storage": {"replicator_interval": 1},
    }


def data_files(nimbus, policy: int) -> list[Path]:
    """Every .data file of one policy on the embedded devices (os.walk: files come and go)."""
    root = Path(nimbus.data_dir) / "object" / "devices"
    sub = "objects" if policy == 0 else f"objects-{policy}"
    out = []
    for dev in sorted(root.iterdir()):
        out += [Path(d) / f for d, _, files in os.walk(dev / sub) for f in files if f.endswith(".data")]
    return out


def conn_for(nimbus):
    return swift_connection(nimbus.auth_url, name="admin", password=nimbus.read_password("admin"), project="admin")


def test_containers_take_their_policy_and_keep_it(object_nimbus):
    nimbus = object_nimbus(config=config())
    acct = admin_account(nimbus)
    conn = conn_for(nimbus)

    r = requests.get(nimbus.base_url + "/object/info", timeout=30)
    assert r.status_code == 200
    assert r.json()["swift"]["policies"] == [
        {"name": "gold", "aliases": "gold, yellow, orange", "default": True},
        {"name": "silver", "aliases": "silver"},
        {"name": "bronze", "aliases": "bronze"},
    ]

    conn.put_container("plain")
    conn.put_container("shiny", headers={"X-Storage-Policy": "SILVER"})
    conn.put_container("golden", headers={"X-Storage-Policy": "orange"})
    assert conn.head_container("plain")["x-storage-policy"] == "gold"
    assert conn.head_container("shiny")["x-storage-policy"] == "silver"
    assert conn.head_container("golden")["x-storage-policy"] == "gold"

    # Swift's proxy: unknown names are a 400 naming the header; an existing container keeps its
    # policy (409 for another, 202 for the same or none).
    r = acct.req("PUT", "other", headers={"X-Storage-Policy": "platinum"})
    assert r.status_code == 400 and r.text == "Invalid X-Storage-Policy 'platinum'", r.text
    r = acct.req("PUT", "other", headers={"X-Storage-Policy": "silver\u0301".encode()})
    assert r.status_code == 400, r.text
    assert acct.req("PUT", "shiny", headers={"X-Storage-Policy": "gold"}).status_code == 409
    assert acct.req("PUT", "shiny", headers={"X-Storage-Policy": "silver"}).status_code == 202
    assert acct.req("PUT", "shiny", headers={"X-Storage-Policy": ""}).status_code == 202
    assert conn.head_container("shiny")["x-storage-policy"] == "silver"
    # A POST does not move a container.
    assert acct.req("POST", "shiny", headers={"X-Storage-Policy": "gold"}).status_code == 204
    assert conn.head_container("shiny")["x-storage-policy"] == "silver"

    # Objects land in their policy's directory, on as many devices as its ring has replicas.
    conn.put_object("plain", "a", b"gold bytes")
    conn.put_object("shiny", "a", b"silver bytes!")
    assert len(data_files(nimbus, 0)) == 3
    assert len(data_files(nimbus, 1)) == 2
    assert conn.get_object("shiny", "a")[1] == b"silver bytes!"
    # Listings and the account's usage per policy.
    headers, listing = conn.get_account()
    assert {c["name"]: c["storage_policy"] for c in listing} == {"golden": "gold", "plain": "gold", "shiny": "silver"}
    assert headers["x-account-storage-policy-gold-container-count"] == "2"
    assert headers["x-account-storage-policy-gold-object-count"] == "1"
    assert headers["x-account-storage-policy-gold-bytes-used"] == "10"
    assert headers["x-account-storage-policy-silver-container-count"] == "1"
    assert headers["x-account-storage-policy-silver-bytes-used"] == "13"
    assert "x-account-storage-policy-bronze-container-count" not in headers
    assert headers["x-account-bytes-used"] == "23"
    root = ET.fromstring(acct.req("GET", params={"format": "xml"}).content)
    assert [c.findtext("storage_policy") for c in root.iter("container")] == ["gold", "gold", "silver"]

    # A server-side copy between policies moves the bytes to the destination's policy.
    conn.copy_object("shiny", "a", destination="/plain/from-silver")
    assert conn.get_object("plain", "from-silver")[1] == b"silver bytes!"
    assert len(data_files(nimbus, 0)) == 6


def test_deprecated_policy_serves_existing_containers_only(object_nimbus, tmp_path):
    nimbus = object_nimbus(config=config())
    conn = conn_for(nimbus)
    conn.put_container("old", headers={"X-Storage-Policy": "bronze"})
    conn.put_object("old", "o", b"one replica")
    assert len(data_files(nimbus, 2)) == 1

    port = nimbus.port
    nimbus.kill()  # -9: what was acknowledged stays
    nimbus = object_nimbus(config=config(bronze_deprecated=True), port=port)
    acct = admin_account(nimbus)
    conn = conn_for(nimbus)
    r = requests.get(nimbus.base_url + "/object/info", timeout=30)
    assert [p["name"] for p in r.json()["swift"]["policies"]] == ["gold", "silver"]
    r = acct.req("PUT", "new", headers={"X-Storage-Policy": "bronze"})
    assert r.status_code == 400 and r.text == "Storage Policy 'bronze' is deprecated", r.text
    assert conn.head_container("old")["x-storage-policy"] == "bronze"
    assert conn.get_object("old", "o")[1] == b"one replica"
    conn.put_object("old", "p", b"still writable")
    assert conn.get_object("old", "p")[1] == b"still writable"


def test_policy_quotas_and_the_replicator(object_nimbus):
    nimbus = object_nimbus(config=config())
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(nimbus.clouds_yaml)}
    openstack = str(REPO / ".venv" / "bin" / "openstack")
    owner = admin_account(nimbus)
    # Only a reseller admin sets quotas (account_quotas.py): 403 for the account's admin.
    r = owner.req("POST", headers={"X-Account-Quota-Bytes-Policy-silver": "10"})
    assert r.status_code == 403, r.text
    # The reseller is the demo user (a reseller is bound by no quota, so the owner must not be one).
    subprocess.run([openstack, "--os-cloud", "nimbus", "role", "add", "--user", "demo", "--project", "demo", "ResellerAdmin"],
                   env=env, check=True, capture_output=True, timeout=120)
    token, url, _ = login(nimbus.auth_url, "demo", nimbus.read_password("demo"), "demo")
    reseller = dataclasses.replace(owner, token=token)
    assert reseller.req("POST", headers={"X-Account-Quota-Bytes-Policy-silver": "ten"}).status_code == 400
    assert reseller.req("POST", headers={"X-Account-Quota-Bytes-Policy-silver": "10",
                                         "X-Account-Quota-Count-Policy-gold": "2"}).status_code == 204
    h = owner.req("HEAD").headers
    assert h["X-Account-Quota-Bytes-Policy-silver"] == "10" and h["X-Account-Quota-Count-Policy-gold"] == "2"
    # The reseller's own sysmeta stays hidden.
    assert not any(k.lower().startswith("x-account-sysmeta") for k in h)

    # Tempest's test_storage_policy_quota_limit: 11 bytes into a silver container is a 413.
    conn = conn_for(nimbus)
    conn.put_container("s", headers={"X-Storage-Policy": "silver"})
    with pytest.raises(ClientException) as e:
        conn.put_object("s", "big", b"x" * 11)
    assert e.value.http_status == 413 and b"Upload exceeds policy quota." in (e.value.http_response_content or b"")
    conn.put_object("s", "fits", b"x" * 10)
    # Gold: two objects at most, whatever their size; silver's quota does not count there.
    conn.put_container("g")
    conn.put_object("g", "1", b"y" * 100)
    conn.put_object("g", "2", b"y" * 100)
    with pytest.raises(ClientException) as e:
        conn.put_object("g", "3", b"y")
    assert e.value.http_status == 413
    assert reseller.req("POST", headers={"X-Remove-Account-Quota-Count-Policy-gold": "x"}).status_code == 204
    conn.put_object("g", "3", b"y")

    # A lost replica of the 2-replica policy comes back in objects-1, nowhere else.
    silver = data_files(nimbus, 1)
    assert len(silver) == 2
    silver[0].unlink()
    wait_until(lambda: len(data_files(nimbus, 1)) == 2, timeout=30, what="the silver replica restored")
    assert sorted(p.name for p in data_files(nimbus, 1)) == sorted(p.name for p in silver)
    assert conn.get_object("s", "fits")[1] == b"x" * 10
    assert md5hex(b"x" * 10) == conn.head_object("s", "fits")["etag"]


def test_bad_policy_configuration_stops_the_start(object_nimbus):
    with pytest.raises(Exception):
        object_nimbus(config={"storage-policy:1": {"name": "silver", "default": "yes"}}, timeout=10)
