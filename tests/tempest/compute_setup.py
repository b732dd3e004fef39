#!/usr/bin/env python3
"""Get a Nimbus cloud ready for tempest's compute tests and print shell variables for them.

    compute_setup.py AUTH_URL ADMIN_PASSWORD  ->  NIMBUS_IMAGE_REF=... NIMBUS_IMAGE_REF_ALT=...
                                                  NIMBUS_COMPUTE_HOST=... NIMBUS_MULTIATTACH_TYPE=...

Waits for the test image `nimbus-test` (registered by `nimbus up` from
scripts/build-test-image.sh's cache), makes a second public copy of it,
`nimbus-test-alt` (tempest's image_ref_alt: rebuilds then really change the
image), waits until a nova-compute service is up with its resource
provider in Placement, and makes the public volume type `multiattach` (extra spec
multiattach="<is> True") when the block storage service runs.  Standard library only.
"""
import json
import shlex
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nimbus_launcher  # noqa: E402,F401  (sets NO_PROXY for loopback)

IMAGE = "nimbus-test"
ALT = "nimbus-test-alt"
MULTIATTACH = "multiattach"


class Cloud:
    def __init__(self, auth_url: str, password: str):
        self.auth_url = auth_url.rstrip("/")
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        req = urllib.request.Request(f"{self.auth_url}/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            self.token = r.headers["X-Subject-Token"]
            catalog = json.load(r)["token"]["catalog"]
        self.endpoints = {s["type"]: next(e["url"] for e in s["endpoints"] if e["interface"] == "public").rstrip("/")
                          for s in catalog if s["endpoints"]}

    def request(self, method: str, service: str, path: str, body=None, data: bytes | None = None,
                headers: dict | None = None, timeout: float = 60):
        h = {"X-Auth-Token": self.token, **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.endpoints[service] + path, data=data, headers=h, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw and "json" in (r.headers.get("Content-Type") or "") else raw)

    def images(self, name: str) -> list[dict]:
        _, body = self.request("GET", "image", f"/v2/images?name={name}")
        return body["images"]


def wait(what: str, timeout: float, probe):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, OSError, KeyError, ValueError) as e:
            last = e
        time.sleep(0.5)
    raise SystemExit(f"compute_setup: {what} not ready after {timeout:.0f} s" + (f" ({last})" if last else ""))


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    cloud = Cloud(sys.argv[1], sys.argv[2])
    image = wait(f"active image {IMAGE} (run scripts/build-test-image.sh)", 120,
                 lambda: next((i for i in cloud.images(IMAGE) if i["status"] == "active"), None))
    alt = next((i for i in cloud.images(ALT) if i["status"] == "active"), None)
    if alt is None:
        _, data = cloud.request("GET", "image", f"/v2/images/{image['id']}/file", timeout=300)
        _, alt = cloud.request("POST", "image", "/v2/images", body={
            "name": ALT, "disk_format": image["disk_format"], "container_format": image["container_format"],
            "visibility": "public", "os_distro": image.get("os_distro", IMAGE)})
        cloud.request("PUT", "image", f"/v2/images/{alt['id']}/file", data=data,
                      headers={"Content-Type": "application/octet-stream"}, timeout=300)

    def compute_up():
        _, body = cloud.request("GET", "compute", "/os-services?binary=nova-compute",
                                headers={"OpenStack-API-Version": "compute 2.96"})
        up = [s for s in body["services"] if s["state"] == "up" and s["status"] == "enabled"]
        if not up:
            return None
        _, rps = cloud.request("GET", "placement", "/resource_providers",
                               headers={"OpenStack-API-Version": "placement 1.39"})
        names = {rp["name"] for rp in rps["resource_providers"]}
        return next((s["host"] for s in up if s["host"] in names or any(n.startswith(s["host"]) for n in names)), None)

    host = wait("an enabled nova-compute service with a resource provider", 120, compute_up)
    # A public volume type that allows multi-attach (tempest's [volume] volume_type_multiattach).
    multiattach = ""
    if "block-storage" in cloud.endpoints:
        _, types = cloud.request("GET", "block-storage", "/types", headers={"OpenStack-API-Version": "volume 3.0"})
        if not any(t["name"] == MULTIATTACH for t in types["volume_types"]):
            cloud.request("POST", "block-storage", "/types", headers={"OpenStack-API-Version": "volume 3.0"},
                          body={"volume_type": {"name": MULTIATTACH, "extra_specs": {"multiattach": "<is> True"}}})
        multiattach = MULTIATTACH
    print(f"compute_setup: images {image['id']} and {alt['id']}, compute host {host}, "
          f"in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(f"NIMBUS_IMAGE_REF={image['id']}")
    print(f"NIMBUS_IMAGE_REF_ALT={alt['id']}")
    print(f"NIMBUS_COMPUTE_HOST={shlex.quote(host)}")
    print(f"NIMBUS_MULTIATTACH_TYPE={multiattach}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
