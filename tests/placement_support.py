"""Shared helpers for the Placement tests, tests/test_placement_*.py.

Placement is reached the way clients reach it: a Keystone v3 token and the `placement`
public URL from the token's catalog (`http://127.0.0.1:<port>/placement`).
`PlacementClient.req(method, path, version=..., ...)` sends a request with the user's token
and `OpenStack-API-Version: placement <version>` (default: latest); `cli(...)` runs the
`openstack` CLI (osc-placement) as the bootstrap admin with `--os-placement-api-version`.

Expected behaviour is OpenStack Placement's (placement/handlers, placement/objects and the
gabbi tests under placement/tests/functional/gabbits, which these tests follow).
"""

from __future__ import annotations

import dataclasses
import uuid

import requests

from client_support import api_request
from conftest import catalog_endpoint

TIMEOUT = 30
LATEST = "1.39"


def placement_endpoint(token_body: dict) -> str:
    return catalog_endpoint(token_body, "placement")


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass
class PlacementClient:
    cloud: object
    token: str
    url: str
    project_id: str

    @classmethod
    def login(cls, cloud, user: str, password: str, project: str) -> "PlacementClient":
        token, body = cloud.token(user, password, project)
        return cls(cloud, token, placement_endpoint(body), body["token"]["project"]["id"])

    def req(self, method: str, path: str, *, version: str | None = LATEST, token: str | None | bool = True,
            headers: dict | None = None, **kw) -> requests.Response:
        kw.setdefault("timeout", TIMEOUT)
        return api_request(method, self.url + path, token=self.token if token is True else token, service="placement", version=version,
                           headers=headers, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text[:2000])
        return r.json() if r.content else None

    # -- building blocks ---------------------------------------------------------------
    def provider(self, name: str | None = None, parent: str | None = None, inventory: dict | None = None,
                 traits: list | None = None, aggregates: list | None = None) -> str:
        body = {"name": name or f"rp-{uuid.uuid4().hex[:10]}"}
        if parent:
            body["parent_provider_uuid"] = parent
        rp = self.ok("POST", "/resource_providers", json=body)
        u = rp["uuid"]
        if inventory:
            self.ok("PUT", f"/resource_providers/{u}/inventories",
                    json={"resource_provider_generation": self.generation(u), "inventories": inventory})
        if traits:
            for t in traits:
                if t.startswith("CUSTOM_"):
                    self.req("PUT", f"/traits/{t}")
            self.ok("PUT", f"/resource_providers/{u}/traits",
                    json={"resource_provider_generation": self.generation(u), "traits": traits})
        if aggregates:
            self.ok("PUT", f"/resource_providers/{u}/aggregates",
                    json={"resource_provider_generation": self.generation(u), "aggregates": aggregates})
        return u

    def generation(self, rp: str) -> int:
        return self.ok("GET", f"/resource_providers/{rp}")["generation"]

    def claim(self, consumer: str, allocations: dict, project: str = "p", user: str = "u",
              generation=None, consumer_type: str = "INSTANCE", **kw) -> requests.Response:
        body = {"allocations": {rp: {"resources": res} for rp, res in allocations.items()},
                "project_id": project, "user_id": user, "consumer_generation": generation,
                "consumer_type": consumer_type}
        return self.req("PUT", f"/allocations/{consumer}", json=body, **kw)

    def cleanup(self, providers: list[str]) -> None:
        """Deletes the providers (children first) with their consumers' allocations."""
        for rp in reversed(providers):
            r = self.req("GET", f"/resource_providers/{rp}/allocations")
            if r.status_code == 200:
                for consumer in r.json()["allocations"]:
                    self.req("DELETE", f"/allocations/{consumer}")
            self.req("DELETE", f"/resource_providers/{rp}")


def assert_error(r: requests.Response, status: int, fragment: str | None = None,
                 code: str | None = "placement.undefined_code") -> dict:
    """Placement's error body: {"errors": [{"status", "title", "detail", "request_id", "code"}]}."""
    assert r.status_code == status, (r.request.method, r.url, r.status_code, r.text[:2000])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    e = body["errors"][0]
    assert e["status"] == status, e
    assert e["request_id"] == r.headers["x-openstack-request-id"], (e, r.headers)
    if code is not None:
        assert e.get("code") == code, e
    if fragment is not None:
        assert fragment in e["detail"], (fragment, e["detail"])
    return e
