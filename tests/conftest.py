"""Fixtures for Nimbus' integration tests.

`cloud` (session): one `nimbus up` on a free loopback port and a temp data dir,
with helpers to drive it through the real `openstack` CLI, openstacksdk and
plain requests.  `new_user` (per test): a factory for a fresh user in a fresh
project with a given role, so tests do not depend on each other.

NIMBUS_BIN overrides the binary (default .build/debug/nimbus).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from nimbus_launcher import REPO, Nimbus, NimbusError, find_binary, random_password

CLI_TIMEOUT = 90


def catalog_endpoint(token_body: dict, service_type: str) -> str:
    """The public endpoint of `service_type` in a v3 token's catalog (no trailing slash)."""
    for service in token_body["token"].get("catalog", []):
        if service["type"] == service_type:
            for ep in service["endpoints"]:
                if ep["interface"] == "public":
                    return ep["url"].rstrip("/")
    raise AssertionError(f"no public {service_type} endpoint in the catalog: "
                         f"{[s['type'] for s in token_body['token'].get('catalog', [])]}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def openstack_cli() -> str:
    """The `openstack` next to this interpreter (the venv), else .venv's, else PATH's."""
    for cand in (Path(sys.executable).parent / "openstack", REPO / ".venv/bin/openstack"):
        if cand.exists():
            return str(cand)
    found = shutil.which("openstack")
    if not found:
        raise RuntimeError("python-openstackclient not installed: run scripts/venv.sh")
    return found


@dataclass
class TestUser:
    """A user with `role` on its own project, all in domain Default."""
    __test__ = False  # not a test class

    name: str
    password: str
    id: str
    project: str
    project_id: str
    role: str
    domain: str = "Default"


class Cloud:
    def __init__(self, nimbus: Nimbus):
        self.nimbus = nimbus
        self.base_url = nimbus.base_url
        self.auth_url = nimbus.auth_url
        self.identity_url = f"{nimbus.base_url}/identity"
        self.data_dir = nimbus.data_dir
        self.admin_password = nimbus.read_password("admin")
        self.demo_password = nimbus.read_password("demo")
        self.clouds_yaml = nimbus.clouds_yaml
        self._admin_token: str | None = None
        self._ids: dict[str, str] = {}

    # ---- openstack CLI -------------------------------------------------
    def cli(self, *args: str, cloud: str = "nimbus", check: bool = True,
            clouds_yaml: Path | str | None = None, timeout: float = CLI_TIMEOUT):
        """Run `openstack --os-cloud CLOUD ARGS...`.

        check=True: raise on non-zero exit; return the parsed JSON when
        `-f json` is among the args, else the CompletedProcess.
        check=False: always return the CompletedProcess (returncode/stdout/stderr)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml or self.clouds_yaml)
        cmd = [openstack_cli(), "--os-cloud", cloud, *map(str, args)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if not check:
            return proc
        if proc.returncode != 0:
            raise AssertionError(
                f"`openstack {' '.join(cmd[1:])}` exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        if _wants_json(args):
            return json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc

    # ---- openstacksdk --------------------------------------------------
    def sdk(self, cloud: str = "nimbus", clouds_yaml: Path | str | None = None):
        import openstack.config
        import openstack.connection
        config = openstack.config.OpenStackConfig(
            config_files=[str(clouds_yaml or self.clouds_yaml)], load_envvars=False)
        return openstack.connection.Connection(config=config.get_one(cloud=cloud))

    # ---- plain HTTP ----------------------------------------------------
    def token_response(self, user: str, password: str, project: str | None = None,
                       domain: str = "Default") -> requests.Response:
        body = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "password": password, "domain": {"name": domain}}}}}}
        if project:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
        return requests.post(f"{self.auth_url}/auth/tokens", json=body, timeout=30)

    def token(self, user: str, password: str, project: str | None = None,
              domain: str = "Default") -> tuple[str, dict]:
        """Password auth via POST /v3/auth/tokens; asserts 201; returns (token, body)."""
        r = self.token_response(user, password, project, domain)
        assert r.status_code == 201, f"token for {user}: {r.status_code} {r.text}"
        return r.headers["X-Subject-Token"], r.json()

    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self.token("admin", self.admin_password, "admin")[0]
        return self._admin_token

    def api(self, method: str, path: str, token: str | None = "admin", **kw) -> requests.Response:
        """Request against the identity v3 API (path relative to /identity/v3).
        token="admin" uses a cached admin token; None sends no token."""
        headers = dict(kw.pop("headers", {}) or {})
        if token == "admin":
            token = self.admin_token()
        if token:
            headers["X-Auth-Token"] = token
        kw.setdefault("timeout", 30)
        return requests.request(method, f"{self.auth_url}{path}", headers=headers, **kw)

    def id_of(self, kind: str, name: str) -> str:
        """ID of a role/project/domain/user by name (admin API), cached for roles/domains."""
        key = f"{kind}:{name}"
        if key not in self._ids:
            r = self.api("GET", f"/{kind}s", params={"name": name})
            assert r.status_code == 200, r.text
            items = r.json()[f"{kind}s"]
            assert len(items) == 1, f"{kind} {name!r}: {items}"
            if kind not in ("role", "domain"):
                return items[0]["id"]
            self._ids[key] = items[0]["id"]
        return self._ids[key]

    # ---- clouds.yaml for other users -----------------------------------
    def write_clouds_yaml(self, path: Path | str, name: str = "test", **auth) -> Path:
        """Write a clouds.yaml with one cloud `name`.  `auth` goes into its auth
        section (auth_url is added); pass auth_type="v3applicationcredential"
        and application_credential_id/secret for an application credential."""
        auth_type = auth.pop("auth_type", "password")
        entry = {"auth_type": auth_type, "auth": {"auth_url": self.auth_url, **auth},
                 "region_name": "RegionOne", "identity_api_version": 3,
                 "interface": "public"}
        if auth_type == "password":
            entry["auth"].setdefault("user_domain_name", "Default")
            if "project_name" in auth:
                entry["auth"].setdefault("project_domain_name", "Default")
        path = Path(path)
        path.write_text(yaml.safe_dump({"clouds": {name: entry}}))
        return path

    def clouds_yaml_for(self, user: TestUser, directory: Path) -> Path:
        return self.write_clouds_yaml(Path(directory) / f"clouds-{user.name}.yaml", "test",
                                      username=user.name, password=user.password,
                                      project_name=user.project)

    def user_cli(self, user: TestUser, directory: Path):
        """A cli() bound to `user`'s own clouds.yaml (cloud name "test")."""
        path = self.clouds_yaml_for(user, directory)

        def run(*args, check=True, **kw):
            return self.cli(*args, cloud="test", clouds_yaml=path, check=check, **kw)
        return run

    # ---- setup helpers (plain REST, so a CLI bug doesn't break setup) ---
    def create_project(self, name: str | None = None, **fields) -> dict:
        body = {"project": {"name": name or unique("proj"), "domain_id": "default", **fields}}
        r = self.api("POST", "/projects", json=body)
        assert r.status_code == 201, r.text
        return r.json()["project"]

    def create_user(self, name: str | None = None, password: str | None = None,
                    project_id: str | None = None) -> dict:
        body = {"user": {"name": name or unique("user"), "domain_id": "default",
                         "password": password or random_password(), "enabled": True}}
        if project_id:
            body["user"]["default_project_id"] = project_id
        r = self.api("POST", "/users", json=body)
        assert r.status_code == 201, r.text
        return r.json()["user"]

    def grant(self, role: str, user_id: str, project_id: str) -> None:
        r = self.api("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.id_of('role', role)}")
        assert r.status_code in (200, 204), r.text


def assert_forbidden(proc) -> None:
    """A CLI run that the server refused with 403.  OSC words it either as
    "... (HTTP 403) ..." or as "ForbiddenException: 403: ...", depending on the command."""
    assert proc.returncode != 0, f"expected a 403, but it succeeded: {proc.stdout}"
    assert re.search(r"\b403\b", proc.stderr), proc.stderr


def _wants_json(args) -> bool:
    args = list(map(str, args))
    return any(a in ("-f", "--format") and i + 1 < len(args) and args[i + 1] == "json"
               for i, a in enumerate(args)) or "--format=json" in args or "-fjson" in args


# Under pytest-xdist (`make test` runs two workers) every file is one work unit, so its module
# fixtures start once.  The files that boot real guests or touch the host's network stack form
# one unit together: they run one after another on one worker, first, so two TCG guests never
# share the two cores and the checks that look at the whole host (no namespace, tap or dnsmasq
# left) see only their own cloud's.  The other worker takes the API suites meanwhile.
# (A scheduler of our own: xdist 3.8's `xdist_group` marks are not applied under pytest 9.)
HOST_SUITES = frozenset((
    "test_compute_qemu.py", "test_compute_qemu_moves.py", "test_guest_image.py",
    "test_network_datapath.py", "test_network_multihost.py",
    "test_adversarial_review_multihost.py", "test_adversarial_review_network.py",
    "test_network_port_forwarding.py", "test_volume_attach_qemu.py", "test_adversarial_review_volume_attach.py",
    "test_boot_from_volume_qemu.py",
))


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: absent under -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class HostSuitesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "host-suites" if Path(file).name in HOST_SUITES else file

    return HostSuitesTogether(config, log)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in HOST_SUITES)  # stable: files keep their order


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    try:
        find_binary()
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    data_dir = tmp_path_factory.mktemp("nimbus-data")
    nimbus = Nimbus(data_dir, admin_password=random_password(), demo_password=random_password())
    try:
        nimbus.start(timeout=30)
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield Cloud(nimbus)
    finally:
        nimbus.stop(grace=10)


@pytest.fixture
def new_user(cloud):
    """Factory: new_user(role="member") -> TestUser in a fresh project.
    Everything it made is deleted after the test."""
    made: list[tuple[str, str]] = []

    def make(role: str = "member") -> TestUser:
        project = cloud.create_project()
        made.append(("projects", project["id"]))
        password = random_password()
        user = cloud.create_user(password=password, project_id=project["id"])
        made.append(("users", user["id"]))
        cloud.grant(role, user["id"], project["id"])
        return TestUser(user["name"], password, user["id"], project["name"], project["id"], role)

    yield make
    for kind, ident in reversed(made):
        cloud.api("DELETE", f"/{kind}/{ident}")



# ---- object storage (tests/test_object_*.py) ---------------------------------
@pytest.fixture
def new_account(cloud, new_user):
    """Factory: new_account(role="member", project_of=None) -> object_support.Account.

    A fresh user with `role` in a fresh project (or, with project_of=<Account>, in
    that account's project), logged in: token plus object-store URL from the catalog.
    Users made for project_of are deleted after the test (the rest by new_user)."""
    from object_support import Account
    extra: list[str] = []

    def make(role: str = "member", project_of=None):
        if project_of is None:
            return Account.login(cloud, new_user(role))
        owner = project_of.user
        password = random_password()
        made = cloud.create_user(password=password, project_id=owner.project_id)
        extra.append(made["id"])
        cloud.grant(role, made["id"], owner.project_id)
        user = TestUser(made["name"], password, made["id"], owner.project, owner.project_id, role)
        return Account.login(cloud, user)

    yield make
    for ident in extra:
        cloud.api("DELETE", f"/users/{ident}")


@pytest.fixture
def object_nimbus(tmp_path):
    """Factory for separate `nimbus up` instances (object durability / background-loop tests):
    object_nimbus(config={"object_storage": {...}}, port=None, data_dir=None) -> a started
    Nimbus on its own data dir (default tmp_path/"data"); same data_dir + port = a restart.
    Everything started is killed after the test."""
    from object_support import write_config
    try:
        find_binary()
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    started: list[Nimbus] = []
    admin_password, demo_password = random_password(), random_password()

    def make(config: dict | None = None, port: int | None = None, data_dir=None,
             timeout: float = 30) -> Nimbus:
        extra = []
        if config:
            extra = ["--config-file", str(write_config(tmp_path / f"nimbus-{len(started)}.conf", config))]
        n = Nimbus(Path(data_dir or tmp_path / "data"), port=port, admin_password=admin_password,
                   demo_password=demo_password, extra_args=extra)
        started.append(n)
        n.start(timeout=timeout)
        return n

    yield make
    for n in started:
        n.kill()
