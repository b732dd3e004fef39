"""The same binary on PostgreSQL: `nimbus up --database postgresql://…` against a throwaway
cluster (scripts/pg-test-cluster.sh), driven by the real CLI, surviving kill -9 and restart."""

import os
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
