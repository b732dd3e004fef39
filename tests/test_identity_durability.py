"""Restart and crash behaviour, each on its own `nimbus up` and data dir."""

import os
import stat

import pytest
import requests
import yaml

from conftest import unique
from nimbus_launcher import Nimbus, NimbusError, find_binary, random_password

RESTART_BUDGET = float(os.environ.get("NIMBUS_RESTART_BUDGET", "1.0"))


@pytest.fixture
def instance(tmp_path):
    try:
        find_binary()
    except NimbusError as e:
        pytest.fail(str(e), pytrace=False)
    started = []

    def make(**kw):
        n = Nimbus(tmp_path / "data", **kw)
        started.append(n)
        return n
    yield make
    for n in started:
        n.kill()


def _token(auth_url, password):
    r = requests.post(f"{auth_url}/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})
    return r


def test_restart_keeps_generated_password_and_is_fast(instance):
    first = instance()  # no passwords given: nimbus generates them
    first.start(timeout=30)
    pw_file = first.data_dir / "admin-password"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((first.data_dir / "demo-password").stat().st_mode) == 0o600
    password = pw_file.read_text().strip()
    assert len(password) >= 12
    assert _token(first.auth_url, password).status_code == 201
    clouds = yaml.safe_load((first.data_dir / "clouds.yaml").read_text())
    assert clouds["clouds"]["nimbus"]["auth"]["password"] == password

    assert first.stop(grace=10) == 0, "SIGTERM should stop nimbus cleanly (exit 0)\n" + first.log_tail()

    second = instance(port=first.port)
    took = second.start(timeout=30)
    assert took < RESTART_BUDGET, f"second start took {took:.2f} s (budget {RESTART_BUDGET} s)"
    assert pw_file.read_text().strip() == password
    assert _token(second.auth_url, password).status_code == 201
    assert second.stop(grace=10) == 0


def test_project_survives_kill_9(instance):
    admin_pw = random_password()
    n = instance(admin_password=admin_pw, demo_password=random_password())
    n.start(timeout=30)
    token = _token(n.auth_url, admin_pw).headers["X-Subject-Token"]
    name = unique("durable")
    r = requests.post(f"{n.auth_url}/projects", headers={"X-Auth-Token": token}, timeout=30,
                      json={"project": {"name": name, "domain_id": "default"}})
    assert r.status_code == 201, r.text
    project_id = r.json()["project"]["id"]

    assert n.kill() == -9  # SIGKILL, no chance to flush anything

    again = instance(port=n.port, admin_password=admin_pw, demo_password=n.demo_password)
    again.start(timeout=30)
    token = _token(again.auth_url, admin_pw).headers["X-Subject-Token"]
    r = requests.get(f"{again.auth_url}/projects/{project_id}",
                     headers={"X-Auth-Token": token}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["project"]["name"] == name
