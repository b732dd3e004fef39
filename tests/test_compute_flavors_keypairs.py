"""Compute API (Nova v2.1) basics: version documents and microversion negotiation, Nova's fault
bodies, flavors (with extra specs and access lists) and keypairs, through the `openstack` CLI,
openstacksdk and plain requests.

Expected behaviour is Nova's: nova/api/openstack/compute/{flavors,flavor_manage,
flavors_extraspecs,flavor_access,keypairs}.py, nova/api/openstack/wsgi.py (faults) and
nova/api/openstack/api_version_request.py."""

import json
import subprocess

import pytest
import requests

from conftest import assert_forbidden, unique


def compute_url(cloud):
    _, body = cloud.token("admin", cloud.admin_password, "admin")
    svc = [s for s in body["token"]["catalog"] if s["type"] == "compute"]
    assert len(svc) == 1 and svc[0]["name"] == "nova", svc
    return next(e["url"] for e in svc[0]["endpoints"] if e["interface"] == "public")


def nova(cloud, method, path, token=None, version=None, **kw):
    headers = dict(kw.pop("headers", {}) or {})
    headers["X-Auth-Token"] = token or cloud.admin_token()
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return requests.request(method, compute_url(cloud) + path, headers=headers, timeout=30, **kw)


def test_catalog_and_version_documents(cloud):
    assert compute_url(cloud) == f"{cloud.base_url}/compute/v2.1"
    r = requests.get(f"{cloud.base_url}/compute", timeout=30)
    assert r.status_code == 200, r.text
    ids = [v["id"] for v in r.json()["versions"]]
    assert ids == ["v2.0", "v2.1"], ids
    r = requests.get(f"{cloud.base_url}/compute/v2.1", timeout=30)
    v = r.json()["version"]
    assert v["id"] == "v2.1" and v["status"] == "CURRENT" and v["min_version"] == "2.1", v
    assert int(v["version"].split(".")[1]) >= 96, v


def test_microversions_are_negotiated_and_echoed(cloud):
    r = nova(cloud, "GET", "/flavors", version="2.60")
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "compute 2.60"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert "OpenStack-API-Version" in r.headers["Vary"]
    # no header: the minimum
    r = nova(cloud, "GET", "/flavors")
    assert r.headers["OpenStack-API-Version"] == "compute 2.1"
    # latest: the maximum
    r = nova(cloud, "GET", "/flavors", version="latest")
    assert r.headers["OpenStack-API-Version"].startswith("compute 2.9")
    # malformed: 400, out of range: 406 (api_version_request.py)
    r = nova(cloud, "GET", "/flavors", version="2.x")
    assert r.status_code == 400 and "badRequest" in r.json(), r.text
    r = nova(cloud, "GET", "/flavors", version="2.999")
    assert r.status_code == 406, r.text
    r = nova(cloud, "GET", "/flavors", version="3.0")
    assert r.status_code == 406, r.text


def test_faults_are_novas(cloud):
    r = nova(cloud, "GET", "/flavors/does-not-exist")
    assert r.status_code == 404
    assert r.json() == {"itemNotFound": {"code": 404, "message": "Flavor does-not-exist could not be found."}}
    r = requests.get(compute_url(cloud) + "/flavors", timeout=30)
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Keystone uri="), r.headers
    r = nova(cloud, "POST", "/flavors", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "badRequest" in r.json(), r.text


def test_default_flavors_include_small_ones(cloud):
    flavors = {f["Name"]: f for f in cloud.cli("flavor", "list", "-f", "json")}
    for name in ("m1.tiny", "m1.small", "m1.nano", "m1.micro", "cirros256"):
        assert name in flavors, sorted(flavors)
    assert flavors["m1.nano"]["RAM"] == 128


def test_flavor_lifecycle_with_cli(cloud):
    name = unique("flv")
    f = cloud.cli("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "--property", "hw:cpu_policy=shared",
                  "--description", "tiny test", name, "-f", "json")
    assert f["ram"] == 64 and f["vcpus"] == 1 and f["properties"] == {"hw:cpu_policy": "shared"}, f
    shown = cloud.cli("flavor", "show", name, "-f", "json")
    assert shown["id"] == f["id"] and shown["description"] == "tiny test", shown
    cloud.cli("flavor", "set", "--property", "quota:cpu_shares=10", name)
    assert cloud.cli("flavor", "show", name, "-f", "json")["properties"] == {"hw:cpu_policy": "shared", "quota:cpu_shares": "10"}
    cloud.cli("flavor", "unset", "--property", "hw:cpu_policy", name)
    assert cloud.cli("flavor", "show", name, "-f", "json")["properties"] == {"quota:cpu_shares": "10"}
    # duplicate name: 409 (FlavorExists)
    dup = cloud.cli("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", name, check=False)
    assert dup.returncode != 0 and "409" in dup.stderr, dup.stderr
    cloud.cli("flavor", "delete", name)
    assert cloud.cli("flavor", "show", name, check=False).returncode != 0


def test_flavor_validation_messages(cloud):
    r = nova(cloud, "POST", "/flavors", json={"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == \
        "Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1", r.text
    r = nova(cloud, "POST", "/flavors", json={"flavor": {"name": "x", "vcpus": 1, "disk": 1}})
    assert "'ram' is a required property" in r.json()["badRequest"]["message"], r.text
    r = nova(cloud, "POST", "/flavors", json={"flavor": {"name": " lead", "ram": 1, "vcpus": 1, "disk": 1}})
    assert r.status_code == 400 and "An invalid 'name' value was provided" in r.text, r.text
    r = nova(cloud, "POST", "/flavors", json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "bogus": 1}})
    assert r.status_code == 400 and "Additional properties are not allowed ('bogus' was unexpected)" in r.text, r.text
    r = nova(cloud, "POST", "/flavors", json={"flavor": {"name": "x", "id": "bad id!", "ram": 1, "vcpus": 1, "disk": 1}})
    assert r.status_code == 400, r.text


def test_members_cannot_manage_flavors(cloud, new_user, tmp_path):
    cli = cloud.user_cli(new_user("member"), tmp_path)
    assert_forbidden(cli("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", unique("f"), check=False))
    # but they can list and show public flavors
    assert any(f["Name"] == "m1.tiny" for f in cli("flavor", "list", "-f", "json"))


def test_private_flavor_access(cloud, new_user, tmp_path):
    user = new_user("member")
    cli = cloud.user_cli(user, tmp_path)
    name = unique("private")
    cloud.cli("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "--private", name)
    try:
        assert name not in [f["Name"] for f in cli("flavor", "list", "-f", "json")]
        cloud.cli("flavor", "set", "--project", user.project_id, name)
        assert name in [f["Name"] for f in cli("flavor", "list", "-f", "json")]
        access = nova(cloud, "GET", f"/flavors/{cloud.cli('flavor', 'show', name, '-f', 'json')['id']}/os-flavor-access").json()
        assert access["flavor_access"][0]["tenant_id"] == user.project_id, access
        cloud.cli("flavor", "unset", "--project", user.project_id, name)
        assert name not in [f["Name"] for f in cli("flavor", "list", "-f", "json")]
    finally:
        cloud.cli("flavor", "delete", name)


def test_flavor_paging_with_sdk(cloud):
    conn = cloud.sdk()
    all_ids = [f.id for f in conn.compute.flavors()]
    paged = [f.id for f in conn.compute.flavors(limit=3)]
    assert paged == all_ids, (paged, all_ids)


def test_keypairs_import_generate_and_isolation(cloud, new_user, tmp_path):
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    fp = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(key) + ".pub"], check=True, capture_output=True, text=True).stdout.split()[1]
    a, b = new_user("member"), new_user("member")
    cli_a, cli_b = cloud.user_cli(a, tmp_path), cloud.user_cli(b, tmp_path)
    made = cli_a("keypair", "create", "--public-key", str(key) + ".pub", "mine", "-f", "json")
    assert "MD5:" + made["fingerprint"] == fp, (made, fp)
    assert [k["Name"] for k in cli_a("keypair", "list", "-f", "json")] == ["mine"]
    # another user does not see it, and may use the same name
    assert cli_b("keypair", "list", "-f", "json") == []
    cli_b("keypair", "create", "--public-key", str(key) + ".pub", "mine", "-f", "json")
    # duplicate name for the same user: 409
    dup = cli_a("keypair", "create", "--public-key", str(key) + ".pub", "mine", check=False)
    assert dup.returncode != 0 and "409" in dup.stderr, dup.stderr
    # a generated key (before 2.92 Nova makes one)
    token = cloud.token(a.name, a.password, a.project)[0]
    r = nova(cloud, "POST", "/os-keypairs", token=token, version="2.2", json={"keypair": {"name": "gen"}})
    assert r.status_code == 201, r.text
    kp = r.json()["keypair"]
    assert kp["private_key"].startswith("-----BEGIN") and kp["public_key"].startswith("ssh-rsa "), kp
    # a bad key: 400 with Nova's message
    r = nova(cloud, "POST", "/os-keypairs", token=token, version="2.92", json={"keypair": {"name": "bad", "public_key": "ssh-rsa AAAA"}})
    assert r.status_code == 400 and "Keypair data is invalid" in r.text, r.text
    # 2.92 refuses names with other characters, and requires public_key
    r = nova(cloud, "POST", "/os-keypairs", token=token, version="2.92", json={"keypair": {"name": "k!"}})
    assert r.status_code == 400, r.text
    cli_a("keypair", "delete", "mine", "gen")
    cli_b("keypair", "delete", "mine")
    assert cli_a("keypair", "list", "-f", "json") == []
