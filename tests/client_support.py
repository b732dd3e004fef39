"""What the per-service test clients (network_support.Net, volume_support.Vol, placement_support's
client) share: one request helper with a token and a microversion header, and the openstack CLI
and openstacksdk as the client's user."""

from __future__ import annotations

import tempfile
from pathlib import Path

import requests

TIMEOUT = 30


def api_request(method: str, url: str, *, token: str | None, service: str, version: str | None,
                headers: dict | None = None, **kw) -> requests.Response:
    """`method url` with `X-Auth-Token` and `OpenStack-API-Version: <service> <version>` when given."""
    h = {}
    if token:
        h["X-Auth-Token"] = token
    if version:
        h["OpenStack-API-Version"] = f"{service} {version}"
    h.update(headers or {})
    kw.setdefault("timeout", TIMEOUT)
    return requests.request(method, url, headers=h, **kw)


class UserClients:
    """The CLI and the SDK as the client's user. Needs the attributes `cloud` (conftest.Cloud),
    `user` (conftest.TestUser, or None for a cloud of nimbus' own clouds.yaml), `cloud_name`,
    `workdir` and `_clouds_yaml`."""

    def clouds_yaml(self) -> tuple[str, Path]:
        """(cloud name, clouds.yaml) for the CLI and the SDK as this user."""
        if self.user is None:
            return self.cloud_name or "nimbus", Path(self.cloud.clouds_yaml)
        if self._clouds_yaml is None:
            if self.workdir is None:
                self.workdir = Path(tempfile.mkdtemp(prefix="nimbus-client-"))
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._clouds_yaml = self.cloud.clouds_yaml_for(self.user, self.workdir)
        return "test", self._clouds_yaml

    def cli(self, *args, check: bool = True, **kw):
        """`openstack ARGS` as this user (conftest.Cloud.cli: parsed JSON with -f json)."""
        name, path = self.clouds_yaml()
        return self.cloud.cli(*args, cloud=name, clouds_yaml=path, check=check, **kw)

    def sdk(self):
        name, path = self.clouds_yaml()
        return self.cloud.sdk(cloud=name, clouds_yaml=path)
