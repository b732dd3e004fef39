"""The same binary on PostgreSQL: `nimbus up --database postgresql://…` against a throwaway
cluster (scripts/pg-test-cluster.sh), driven by the real CLI, surviving kill -9 and restart."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import unique
from nimbus_launcher import Nimbus, NimbusError, find_binary

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pg_url():
    script = REPO / "scripts" / "pg-test-cluster.sh"
    proc = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"could not start PostgreSQL: {proc.stderr}", pytrace=False)
    url = proc.stdout.strip().splitlines()[-1]
    yield url
    subprocess.run([str(script), "stop", url], capture_output=True, timeout=60)


def cli(nimbus, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(nimbus.clouds_yaml)
    openstack = REPO / ".venv" / "bin" / "openstack"
    proc = subprocess.run([str(openstack), "--os-cloud", "nimbus", *args], env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cloud_on_postgres_survives_kill(pg_url, tmp_path):
    try:
        find_binary()
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    first = Nimbus(tmp_path / "data", admin_password="pg-admin-pw", extra_args=["--database", pg_url])
    first.start(timeout=30)
    try:
        name = unique("pgproj")
        cli(first, "project", "create", name)
        assert name in cli(first, "project", "list", "-f", "value", "-c", "Name")
        assert not (first.data_dir / "nimbus.sqlite").exists()
    finally:
        first.kill()
    second = Nimbus(tmp_path / "data", admin_password="pg-admin-pw", extra_args=["--database", pg_url])
    second.start(timeout=30)
    try:
        assert name in cli(second, "project", "list", "-f", "value", "-c", "Name")
        cli(second, "token", "issue")
    finally:
        second.stop()


def test_two_controllers_share_one_database(pg_url, tmp_path):
    """Two `nimbus up` processes on one PostgreSQL act as one cloud: a token from one validates on
    the other, and a revocation on one takes effect on the other within the poll interval."""
    import time

    import requests

    env_key = "NIMBUS_IDENTITY_CHANGE_POLL_INTERVAL_MS"
    os.environ[env_key] = "200"
    try:
        a = Nimbus(tmp_path / "a", admin_password="pg-admin-pw", extra_args=["--database", pg_url])
        a.start(timeout=30)
        # The second controller shares the database and the token keys.
        (tmp_path / "b" / "keys").mkdir(parents=True)
        (tmp_path / "b" / "keys" / "token-keys").write_bytes((a.data_dir / "keys" / "token-keys").read_bytes())
        b = Nimbus(tmp_path / "b", admin_password="pg-admin-pw", extra_args=["--database", pg_url])
        b.start(timeout=30)
    finally:
        os.environ.pop(env_key, None)
    try:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "password": "pg-admin-pw", "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        r = requests.post(f"{a.auth_url}/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        token = r.headers["X-Subject-Token"]
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        assert requests.get(f"{b.auth_url}/auth/tokens", headers=headers, timeout=30).status_code == 200
        r = requests.delete(f"{a.auth_url}/auth/tokens", headers=headers, timeout=30)
        assert r.status_code == 204, r.text
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline:
            status = requests.get(f"{b.auth_url}/projects", headers={"X-Auth-Token": token}, timeout=30).status_code
            if status == 401:
                break
            time.sleep(0.1)
        assert status == 401

        # An OAuth1 request signed once is spent on every controller: replayed on the other
        # one it is refused (the nonce is a row of the shared database, not a process's memory).
        from test_identity_oauth1 import signed
        r = requests.post(f"{a.auth_url}/auth/tokens", json=body, timeout=30)
        admin = {"X-Auth-Token": r.headers["X-Subject-Token"]}
        r = requests.post(f"{a.auth_url}/OS-OAUTH1/consumers", json={"consumer": {"description": "two"}}, headers=admin, timeout=30)
        assert r.status_code == 201, r.text
        consumer = r.json()["consumer"]
        project_id = requests.get(f"{a.auth_url}/projects", params={"name": "admin"}, headers=admin, timeout=30).json()["projects"][0]["id"]
        for first, second in ((a, b), (b, a)):
            url = f"{first.auth_url}/OS-OAUTH1/request_token"
            h = signed(url, consumer["id"], consumer["secret"], headers={"Requested-Project-Id": project_id}, callback_uri="oob")
            assert requests.post(url, headers=h, timeout=30).status_code == 201
            # The same nonce and timestamp at the other controller, signed for its URL (behind a
            # load balancer both would have one URL, and the very same header would be replayed).
            replay = f"{second.auth_url}/OS-OAUTH1/request_token"
            nonce = re.search(r'oauth_nonce="([^"]+)"', h["Authorization"]).group(1)
            ts = re.search(r'oauth_timestamp="([^"]+)"', h["Authorization"]).group(1)
            h2 = signed(replay, consumer["id"], consumer["secret"], headers={"Requested-Project-Id": project_id},
                        callback_uri="oob", nonce=nonce, timestamp=ts)
            r = requests.post(replay, headers=h2, timeout=30)
            assert r.status_code == 400 and "Nonce already used" in r.text, r.text
    finally:
        b.stop()
        a.stop()
