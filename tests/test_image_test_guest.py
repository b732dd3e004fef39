"""`nimbus up` registers the built test guest image as the public image `nimbus-test`
(what `make run` does on a fresh machine): `openstack image list` shows it, any project can
see it, and its bytes are the qcow2 the build script made."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

from object_support import wait_until

REPO = Path(__file__).resolve().parents[1]


def test_nimbus_up_registers_the_test_image(object_nimbus, tmp_path):
    cache = tmp_path / "image-cache"
    out = subprocess.run(["bash", str(REPO / "scripts" / "build-test-image.sh"), str(cache)], check=True, timeout=600,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    qcow2 = next(Path(p) for p in out if p.endswith(".qcow2"))
    os.environ["NIMBUS_IMAGE_CACHE"] = str(cache)
    try:
        nimbus = object_nimbus()
    finally:
        del os.environ["NIMBUS_IMAGE_CACHE"]
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(nimbus.clouds_yaml)}
    openstack = str(REPO / ".venv" / "bin" / "openstack")

    def listed(cloud):
        rows = json.loads(subprocess.run([openstack, "--os-cloud", cloud, "image", "list", "-f", "json"], env=env,
                                         check=True, capture_output=True, text=True, timeout=60).stdout)
        return [r for r in rows if r["Name"] == "nimbus-test" and r["Status"] == "active"]

    rows = wait_until(lambda: listed("nimbus"), timeout=60, what="nimbus-test to be active")
    assert listed("nimbus-demo"), "a member of another project sees the public image"
    shown = json.loads(subprocess.run([openstack, "--os-cloud", "nimbus", "image", "show", rows[0]["ID"], "-f", "json"], env=env,
                                      check=True, capture_output=True, text=True, timeout=60).stdout)
    data = qcow2.read_bytes()
    assert shown["visibility"] == "public" and shown["disk_format"] == "qcow2" and shown["container_format"] == "bare"
    assert shown["size"] == len(data) and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["virtual_size"] and shown["virtual_size"] > len(data)
    # Registered once: a restart does not add a second copy.
    import time
    nimbus.stop()
    os.environ["NIMBUS_IMAGE_CACHE"] = str(cache)
    try:
        object_nimbus(port=nimbus.port)
    finally:
        del os.environ["NIMBUS_IMAGE_CACHE"]
    time.sleep(2)  # registration runs in the background right after start
    assert len(listed("nimbus")) == 1
