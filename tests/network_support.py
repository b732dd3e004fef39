"""Shared helpers for the Networking tests (Neutron API v2.0), tests/test_network_*.py.

Networking is reached the way clients reach it: a Keystone v3 token and the `network` public URL
from the token's catalog (`http://127.0.0.1:<port>/network`); the API is under `<that>/v2.0`.

* `Net` is one logged-in user (or the admin): `req()` sends a request with the user's token,
  `ok()` asserts the status and returns the JSON body, `create()/show()/update()/delete()/list()`
  speak Neutron's envelope (`{"network": {...}}`, `{"networks": [...]}`), and `network()`,
  `subnet()`, `port()`, `router()`, `security_group()` make uniquely named resources.
  `cli()` runs the real `openstack` CLI as that user, `sdk()` gives an openstacksdk connection.
* Fixtures (import them into a test module): `admin_net` (session: the bootstrap admin, after
  the network API and the `public` network that `nimbus up` creates are there) and `net_user`
  (factory: `net_user(role="member")` -> a `Net` for a fresh user in a fresh project).
* `assert_error(r, status, type_)` pins Neutron's error body,
  `{"NeutronError": {"type": ..., "message": ..., "detail": ""}}`
  (neutron/api/api_common.py convert_exception_to_http_exc / get_exception_data).
* `next_cidr4()` / `next_cidr6()` hand out CIDRs unique within the session, so no two tests
  ever ask for overlapping subnets (whatever `allow_overlapping_ips` is).

Expected behaviour is real Neutron's (neutron master and neutron-lib, read from their source);
each test's docstring names the files it follows.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from client_support import UserClients, api_request
from conftest import catalog_endpoint

TIMEOUT = 30

# Neutron's standard-attr timestamps: whole seconds, UTC, "Z"
# (neutron/services/timestamp/timestamp_db.py TIME_FORMAT_WHOLE_SECONDS + 'Z').
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Generated MACs keep base_mac's first three octets (neutron/conf/common.py base_mac fa:16:3e:00:00:00).
GENERATED_MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# URL path of each resource's collection (the body key is the singular resource name).
COLLECTIONS = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "router": "routers",
    "floatingip": "floatingips",
    "security_group": "security-groups",
    "security_group_rule": "security-group-rules",
    "rbac_policy": "rbac-policies",
}
# JSON key of a list response (collection with underscores).
LIST_KEYS = {k: v.replace("-", "_") for k, v in COLLECTIONS.items()}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- addresses ----------------------------------------------------------------------------

_v4_counter = itertools.count(random.randrange(0, 4000))
_v6_global_id = random.getrandbits(40)
_v6_counter = itertools.count(random.randrange(0, 30000))


def next_cidr4() -> str:
    """A /24 in 10.100.0.0 - 10.249.255.0, unique within the session (clear of DevStack's
    10.0.0.0/26 private and 172.24.4.0/24 public ranges)."""
    n = next(_v4_counter) % (150 * 256)
    return f"10.{100 + n // 256}.{n % 256}.0/24"


def next_cidr6() -> str:
    """A /64 of a random ULA /48 (fdxx:xxxx:xxxx::/48), unique within the session, in the
    canonical compressed form Neutron returns."""
    gid = _v6_global_id
    hextets = [0xfd00 | (gid >> 32), (gid >> 16) & 0xffff, gid & 0xffff, next(_v6_counter) & 0xffff]
    text = ":".join(f"{h:x}" for h in hextets) + "::/64"
    return str(ipaddress.IPv6Network(text))


def host(cidr: str, n: int) -> str:
    """The n-th address of `cidr` (negative counts from the end), as Neutron spells it."""
    net = ipaddress.ip_network(cidr)
    return str(net[n])


def in_pools(address: str, pools: list[dict]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(p["start"]) <= ip <= ipaddress.ip_address(p["end"]) for p in pools)


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of `mac` in the /64 `cidr` (neutron_lib.utils.net / ipv6_utils
    get_ipv6_addr_by_EUI64: EUI-64 of the MAC with the universal/local bit flipped)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xff, 0xfe] + octets[3:]
    net = ipaddress.IPv6Network(cidr)
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


# ---- errors -------------------------------------------------------------------------------

def assert_error(r: requests.Response, status: int | tuple[int, ...],
                 type_: str | tuple[str, ...] | None = None, fragment: str | None = None) -> dict:
    """A Neutron error: the status, a JSON body of exactly {"NeutronError": {type, message,
    detail}} with detail "" (get_exception_data), and (if given) the exception class name as
    `type` and a fragment of the message."""
    statuses = (status,) if isinstance(status, int) else tuple(status)
    assert r.status_code in statuses, (r.request.method, r.url, r.status_code, r.text[:2000])
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.headers, r.text[:500])
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"NeutronError"}, body
    err = body["NeutronError"]
    assert isinstance(err, dict) and set(err) == {"type", "message", "detail"}, err
    assert isinstance(err["type"], str) and err["type"], err
    assert isinstance(err["message"], str), err
    assert err["detail"] == "", err
    if type_ is not None:
        types = (type_,) if isinstance(type_, str) else tuple(type_)
        assert err["type"] in types, (types, err)
    if fragment is not None:
        assert fragment in err["message"], (fragment, err)
    return err


def assert_forbidden_cli(proc) -> None:
    assert proc.returncode != 0, f"expected a 403, but it succeeded: {proc.stdout}"
    assert re.search(r"\b403\b", proc.stderr), proc.stderr


# ---- catalog ------------------------------------------------------------------------------

def network_endpoint(token_body: dict) -> str:
    return catalog_endpoint(token_body, "network")


# ---- the client ---------------------------------------------------------------------------

@dataclass
class Net(UserClients):
    cloud: Any
    token: str
    endpoint: str            # <base>/network, from the catalog
    project_id: str
    user: Any = None         # conftest.TestUser; None for the bootstrap admin / demo
    cloud_name: str | None = None   # a cloud of nimbus' clouds.yaml (admin: "nimbus")
    workdir: Path | None = None      # where the user's clouds.yaml goes (a temp dir if unset)
    _clouds_yaml: Path | None = None

    @classmethod
    def login(cls, cloud, user, workdir: Path | None = None) -> "Net":
        token, body = cloud.token(user.name, user.password, user.project)
        net = cls(cloud, token, network_endpoint(body), body["token"]["project"]["id"], user=user)
        if workdir is not None:
            net.workdir = Path(workdir)
        return net

    @classmethod
    def admin(cls, cloud) -> "Net":
        token, body = cloud.token("admin", cloud.admin_password, "admin")
        return cls(cloud, token, network_endpoint(body), body["token"]["project"]["id"], cloud_name="nimbus")

    @classmethod
    def demo(cls, cloud) -> "Net":
        token, body = cloud.token("demo", cloud.demo_password, "demo")
        return cls(cloud, token, network_endpoint(body), body["token"]["project"]["id"], cloud_name="nimbus-demo")

    @property
    def url(self) -> str:
        return self.endpoint + "/v2.0"

    # -- HTTP ----------------------------------------------------------------------------
    def req(self, method: str, path: str, *, token: str | None | bool = True,
            headers: dict | None = None, **kw) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        return api_request(method, url, token=self.token if token is True else token, service="network", version=None, headers=headers, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:2000])
        return r.json() if r.content else None

    def create(self, resource: str, status: int = 201, **attrs) -> dict:
        body = self.ok("POST", f"/{COLLECTIONS[resource]}", status=status, json={resource: attrs})
        return body[resource]

    def create_response(self, resource: str, **attrs) -> requests.Response:
        return self.req("POST", f"/{COLLECTIONS[resource]}", json={resource: attrs})

    def show(self, resource: str, ident: str, **params) -> dict:
        return self.ok("GET", f"/{COLLECTIONS[resource]}/{ident}", params=params or None)[resource]

    def update(self, resource: str, ident: str, headers: dict | None = None, **attrs) -> dict:
        return self.ok("PUT", f"/{COLLECTIONS[resource]}/{ident}", json={resource: attrs},
                       headers=headers)[resource]

    def delete(self, resource: str, ident: str, status: int = 204) -> None:
        self.ok("DELETE", f"/{COLLECTIONS[resource]}/{ident}", status=status)

    def list(self, resource: str, **params) -> list[dict]:
        return self.ok("GET", f"/{COLLECTIONS[resource]}", params=params or None)[LIST_KEYS[resource]]

    def ids(self, resource: str, **params) -> set[str]:
        return {item["id"] for item in self.list(resource, **params)}

    # -- building blocks -----------------------------------------------------------------
    def network(self, name: str | None = None, **kw) -> dict:
        return self.create("network", name=name or unique("net"), **kw)

    def subnet(self, network_id: str, cidr: str | None = None, ip_version: int | None = None,
               name: str | None = None, **kw) -> dict:
        cidr = cidr or next_cidr4()
        ip_version = ip_version or ipaddress.ip_network(cidr, strict=False).version
        return self.create("subnet", network_id=network_id, cidr=cidr, ip_version=ip_version,
                           name=name or unique("subnet"), **kw)

    def network_with_subnet(self, cidr: str | None = None, **subnet_kw) -> tuple[dict, dict]:
        net = self.network()
        sub = self.subnet(net["id"], cidr, **subnet_kw)
        return net, sub

    def port(self, network_id: str, name: str | None = None, **kw) -> dict:
        return self.create("port", network_id=network_id, name=name or unique("port"), **kw)

    def router(self, name: str | None = None, **kw) -> dict:
        return self.create("router", name=name or unique("router"), **kw)

    def security_group(self, name: str | None = None, **kw) -> dict:
        return self.create("security_group", name=name or unique("sg"), **kw)

    def default_security_group(self) -> dict:
        groups = self.list("security_group", name="default", project_id=self.project_id)
        assert len(groups) == 1, groups
        return groups[0]

    def add_interface(self, router_id: str, status: int = 200, **info) -> dict:
        return self.ok("PUT", f"/routers/{router_id}/add_router_interface", status=status, json=info)

    def remove_interface(self, router_id: str, status: int = 200, **info) -> dict:
        return self.ok("PUT", f"/routers/{router_id}/remove_router_interface", status=status, json=info)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value (which is returned)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, AssertionError, KeyError, ValueError) as e:
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"{what} not reached after {timeout}s (last error: {last_exc!r})")


# ---- fixtures (import into a test module) -------------------------------------------------

@pytest.fixture(scope="session")
def admin_net(cloud) -> Net:
    """The bootstrap admin, once the network API answers and `nimbus up`'s topology
    (`public`, `public-subnet`) exists."""
    net = Net.admin(cloud)

    def public_ready():
        r = net.req("GET", "/networks", params={"name": "public"}, timeout=5)
        if r.status_code != 200:
            return None
        nets = r.json()["networks"]
        return nets and nets[0]["subnets"]
    wait_for(public_ready, timeout=30, what="the network API with the `public` network")
    return net


@pytest.fixture
def net_user(cloud, new_user, admin_net, tmp_path):
    """Factory: net_user(role="member") -> Net for a new user with `role` in a fresh project."""
    count = itertools.count()

    def make(role: str = "member") -> Net:
        user = new_user(role)
        return Net.login(cloud, user, workdir=tmp_path / f"u{next(count)}")
    return make


@pytest.fixture(scope="session")
def public(admin_net) -> dict:
    """`nimbus up`'s external network `public` (as the admin sees it) with its subnet under
    the key "subnet" (the one named `public-subnet`)."""
    nets = admin_net.list("network", name="public")
    assert len(nets) == 1, nets
    net = nets[0]
    subs = admin_net.list("subnet", network_id=net["id"], name="public-subnet")
    assert len(subs) == 1, subs
    return {**net, "subnet": subs[0]}


def run_in_private_netns(script_text: str, work: Path, timeout: float) -> dict:
    """Runs a Python script as root in a private network and mount namespace (tmpfs on /run, so
    its /run/netns and a datapath's run directory are private too: everything it makes dies
    with the namespace) and returns the JSON of its last `RESULT {...}` line. Skips without
    root, unshare, ip, nft or dnsmasq. The script finds the tests in $ADV_TESTS_DIR and the
    binary in $NIMBUS_BIN."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from nimbus_launcher import REPO, find_binary

    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "ip", "nft", "dnsmasq")):
        pytest.skip("needs root, unshare, ip, nft and dnsmasq")
    script = work / "script.py"
    script.write_text(script_text)
    inner = f"mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up && exec {sys.executable} {script}"
    env = {**os.environ, "ADV_TESTS_DIR": str(REPO / "tests"), "NIMBUS_BIN": str(find_binary())}
    proc = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", inner],
                          capture_output=True, text=True, timeout=timeout, env=env)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


# ---- subnet pools and port forwardings ----------------------------------------------------

def block4(length: int = 16) -> ipaddress.IPv4Network:
    """A random block in 100.64.0.0/10 (shared address space): pools here never meet the /24s
    the other network tests use."""
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    size = 1 << (32 - length)
    return ipaddress.IPv4Network((base + random.randrange((1 << 22) // size) * size, length))


def block6(length: int = 48) -> ipaddress.IPv6Network:
    """A random ULA block (fdxx::/length)."""
    value = (0xFD << 120) | (random.getrandbits(40) << 80)
    return ipaddress.IPv6Network((value, length)).supernet(new_prefix=length)


def forwarding_setup(me, public):
    """A network whose subnet a router joins to `public`, two ports on it, a floating IP."""
    net, sub = me.network_with_subnet()
    router = me.router(external_gateway_info={"network_id": public["id"]})
    me.add_interface(router["id"], subnet_id=sub["id"])
    port = me.port(net["id"])
    other = me.port(net["id"])
    fip = me.create("floatingip", floating_network_id=public["id"])
    return {"net": net, "sub": sub, "router": router, "port": port, "other": other, "fip": fip,
            "ip": port["fixed_ips"][0]["ip_address"]}
