"""`[image] use_keystone_limits = true`: Keystone unified limits of the image service
(registered limits, project limits over them) are enforced on create, upload and stage, and
reported by `GET /v2/info/usage`."""

import json
import os
import subprocess
from pathlib import Path

import requests

from object_support import admin_account

REPO = Path(__file__).resolve().parents[1]


def test_unified_limits(object_nimbus, tmp_path):
    nimbus = object_nimbus(config={"image": {"use_keystone_limits": "true", "register_test_image": "false"}})
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(nimbus.clouds_yaml)}
    openstack = str(REPO / ".venv" / "bin" / "openstack")

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([openstack, "--os-cloud", "nimbus", *args], env=env, check=check,
                              capture_output=True, text=True, timeout=120)

    acct = admin_account(nimbus)
    url = f"{nimbus.base_url}/image/v2"
    h = {"X-Auth-Token": acct.token}
    # No registered limits yet: every resource counts as 0 (oslo.limit), so nothing may be created.
    r = requests.post(f"{url}/images", json={"name": "x"}, headers=h, timeout=30)
    assert r.status_code == 413, r.text

    for name, value in [("image_count_total", 2), ("image_size_total", 1), ("image_stage_total", 1), ("image_count_uploading", 1)]:
        cli("registered", "limit", "create", "--service", "glance", "--default-limit", str(value), name)
    usage = requests.get(f"{url}/info/usage", headers=h, timeout=30).json()["usage"]
    assert usage["image_count_total"] == {"limit": 2, "usage": 0}
    assert usage["image_size_total"] == {"limit": 1, "usage": 0}

    small = tmp_path / "small.raw"
    small.write_bytes(b"x" * 1000)
    big = tmp_path / "big.raw"
    big.write_bytes(b"y" * (2 * 1024 * 1024))
    first = json.loads(cli("image", "create", "--file", str(small), "--disk-format", "raw", "--container-format", "bare",
                           "-f", "json", "one").stdout)
    assert first["status"] == "active"
    # Over image_size_total (1 MiB): the upload is refused and the image stays queued.
    second = requests.post(f"{url}/images", json={"name": "two", "disk_format": "raw", "container_format": "bare"},
                           headers=h, timeout=30).json()
    r = requests.put(f"{url}/images/{second['id']}/file", data=big.read_bytes(),
                     headers={**h, "Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413, r.text
    assert requests.get(f"{url}/images/{second['id']}", headers=h, timeout=30).json()["status"] == "queued"
    # Over image_stage_total (1 MiB) while staging: refused as it streams, back to queued.
    r = requests.put(f"{url}/images/{second['id']}/stage", data=big.read_bytes(),
                     headers={**h, "Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413, r.text
    assert requests.get(f"{url}/images/{second['id']}", headers=h, timeout=30).json()["status"] == "queued"
    # image_count_total is 2: a third image is refused ...
    r = requests.post(f"{url}/images", json={"name": "three"}, headers=h, timeout=30)
    assert r.status_code == 413 and "image_count_total" in r.text, r.text
    usage = requests.get(f"{url}/info/usage", headers=h, timeout=30).json()["usage"]
    assert usage["image_count_total"] == {"limit": 2, "usage": 2}
    # ... until a project limit raises it for this project.
    cli("limit", "create", "--project", "admin", "--service", "glance", "--resource-limit", "3", "image_count_total")
    r = requests.post(f"{url}/images", json={"name": "three"}, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    assert requests.get(f"{url}/info/usage", headers=h, timeout=30).json()["usage"]["image_count_total"] == {"limit": 3, "usage": 3}
