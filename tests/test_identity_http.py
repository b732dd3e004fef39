"""HTTP-level behaviour: error bodies, status codes, request ids, /metrics."""

import re

import pytest
import requests


def _error(r, code, title):
    assert r.status_code == code, f"{r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code
    assert err["title"] == title
    assert isinstance(err["message"], str) and err["message"]
    return err


def test_unauthenticated_is_401_with_www_authenticate(cloud):
    r = requests.get(f"{cloud.auth_url}/users", timeout=30)
    _error(r, 401, "Unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Keystone uri="), r.headers


def test_bogus_token_is_401(cloud):
    r = requests.get(f"{cloud.auth_url}/users", headers={"X-Auth-Token": "gAAAAbogus"}, timeout=30)
    _error(r, 401, "Unauthorized")
    assert "WWW-Authenticate" in r.headers


def test_malformed_json_is_400(cloud):
    r = cloud.api("POST", "/users", data='{"user": {"name": ',
                  headers={"Content-Type": "application/json"})
    _error(r, 400, "Bad Request")


def test_schema_violation_is_400(cloud):
    r = cloud.api("POST", "/users", json={"user": {"name": 12345}})
    _error(r, 400, "Bad Request")
    r = cloud.api("POST", "/projects", json={"not-a-project": {}})
    _error(r, 400, "Bad Request")


def test_unknown_path_is_404(cloud):
    assert cloud.api("GET", "/no-such-collection").status_code == 404
    r = requests.get(f"{cloud.base_url}/no-such-service/at/all", timeout=30)
    assert r.status_code == 404


def test_unknown_entity_is_404(cloud):
    _error(cloud.api("GET", "/projects/00000000000000000000000000000000"), 404, "Not Found")


def test_wrong_method_is_405(cloud):
    r = cloud.api("PUT", "/users", json={})
    assert r.status_code == 405, r.text
    r = cloud.api("PATCH", "/auth/tokens", json={})
    assert r.status_code == 405, r.text


@pytest.mark.parametrize("method,path,auth", [
    ("GET", "", False),                      # version document, 200
    ("GET", "/users", False),                # 401
    ("GET", "/users", True),                 # 200
    ("GET", "/no-such-collection", True),    # 404
    ("PUT", "/users", True),                 # 405
    ("POST", "/users", True),                # 400 (no body)
])
def test_every_response_has_request_id(cloud, method, path, auth):
    r = cloud.api(method, path, token="admin" if auth else None)
    rid = r.headers.get("x-openstack-request-id", "")
    assert rid.startswith("req-"), f"{method} {path} -> {r.status_code} request id {rid!r}"
    # request ids are unique
    rid2 = cloud.api(method, path, token="admin" if auth else None).headers["x-openstack-request-id"]
    assert rid2 != rid


def test_token_response_has_request_id(cloud):
    r = cloud.token_response("admin", cloud.admin_password, project="admin")
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_metrics_endpoint(cloud):
    cloud.api("GET", "/projects")  # make sure something was counted
    r = requests.get(f"{cloud.base_url}/metrics", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert any(line.startswith("# TYPE ") for line in lines), r.text[:500]
    samples = [line for line in lines if line and not line.startswith("#")]
    assert samples, "no samples"
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfa]+( \d+)?$')
    bad = [line for line in samples if not sample.match(line)]
    assert not bad, f"not Prometheus text format: {bad[:5]}"
