"""`[image] default_store = object`: image data lives in the object store (container `glance`
of the account `.glance`, which no project owns), replicated like any object; upload, ranged
download and delete go through it, a restart keeps the data, and through the Swift API only a
ResellerAdmin reaches the images."""

import hashlib
import os
import secrets
import subprocess
from pathlib import Path

import requests

from object_support import admin_account

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"image": {"default_store": "object", "register_test_image": "false"}}


def test_images_in_the_object_store(object_nimbus, tmp_path):
    nimbus = object_nimbus(config=CONFIG)
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(nimbus.clouds_yaml)}
    openstack = str(REPO / ".venv" / "bin" / "openstack")

    def cli(*args: str) -> str:
        return subprocess.run([openstack, "--os-cloud", "nimbus", *args], env=env, check=True,
                              capture_output=True, text=True, timeout=120).stdout

    data = secrets.token_bytes(3 * 1024 * 1024 + 5)
    src = tmp_path / "disk.raw"
    src.write_bytes(data)
    image_id = cli("image", "create", "--file", str(src), "--disk-format", "raw", "--container-format", "bare",
                   "-f", "value", "-c", "id", "obj-image").strip()

    acct = admin_account(nimbus)
    store_url = acct.url.rsplit("/", 1)[0] + "/.glance"
    # The admin (an operator of its own account only) cannot reach the images' account ...
    r = requests.get(store_url + "/glance", headers={"X-Auth-Token": acct.token}, timeout=30)
    assert r.status_code == 403, (r.status_code, r.text)
    assert acct.req("GET", "glance").status_code == 404
    # ... a ResellerAdmin can, and finds the image there.
    cli("role", "add", "--user", "admin", "--project", "admin", "ResellerAdmin")
    reseller = admin_account(nimbus)
    r = requests.get(store_url + "/glance", params={"format": "json"}, headers={"X-Auth-Token": reseller.token}, timeout=30)
    assert r.status_code == 200, r.text
    listing = r.json()
    assert [o["name"] for o in listing] == [image_id]
    assert listing[0]["bytes"] == len(data) and listing[0]["hash"] == hashlib.md5(data).hexdigest()

    out = tmp_path / "out.raw"
    cli("image", "save", "--file", str(out), image_id)
    assert out.read_bytes() == data
    r = requests.get(f"{nimbus.base_url}/image/v2/images/{image_id}/file", headers={"X-Auth-Token": acct.token, "Range": "bytes=100-199"},
                     timeout=30)
    assert r.status_code == 206 and r.content == data[100:200]

    # Survives a restart (the index row and the replicas are durable).
    port = nimbus.port
    nimbus.kill()
    nimbus = object_nimbus(config=CONFIG, port=port)
    cli("image", "save", "--file", str(out), image_id)
    assert out.read_bytes() == data

    cli("image", "delete", image_id)
    r = requests.get(store_url + "/glance", params={"format": "json"}, headers={"X-Auth-Token": admin_account(nimbus).token}, timeout=30)
    assert r.status_code == 200 and r.json() == [], r.text
