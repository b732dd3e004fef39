"""Adversarial review of moves between compute hosts (commit ca3d517): cold migration with
confirm / revert, os-migrateLive, evacuate, GET /servers/{id}/migrations, and the node-to-node
disk copy endpoints. Fake driver on two nodes, as tests/test_compute_moves.py: node-a runs inside
`nimbus up`, node-b is a `nimbus compute` process that some tests kill and start again.

The first part holds one test per finding: each fails while the bug is there. The expected
behaviour is real Nova's, read from its source (the file is named in each docstring). The second
part ("held") guards what the review probed and found right.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from compute_support import ComputeNodeProcess, start_compute_cloud, stop_compute_cloud, wait_registered
from test_compute_servers import image_id

TIMEOUT = 30
NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}


# ---- fixture and helpers ----------------------------------------------------------------------

class Env:
    def __init__(self, cloud, node_b):
        self.cloud = cloud
        self.node_b = node_b
        self.base = cloud.base_url
        self.admin = cloud.token()
        self.image = image_id(cloud)
        self.key = (cloud.nimbus.data_dir / "compute" / "agent-key").read_text().strip()
        self._demo = None

    @property
    def demo(self):
        if self._demo is None:
            self._demo = self.cloud.token("demo", self.cloud.nimbus.read_password("demo"), "demo")
        return self._demo

    def nova(self, method, path, token=None, version="2.96", **kw):
        h = {"X-Auth-Token": token or self.admin, "OpenStack-API-Version": f"compute {version}"}
        return requests.request(method, f"{self.base}/compute/v2.1{path}", headers=h, timeout=TIMEOUT, **kw)

    def action(self, sid, body, version="2.96", token=None):
        return self.nova("POST", f"/servers/{sid}/action", token=token, version=version, json=body)

    def boot(self, name, host=None, token=None):
        body = {"server": {"name": name, "imageRef": self.image, "flavorRef": "42", "networks": "none"}}
        if host:
            body["server"]["availability_zone"] = f"nova:{host}"
        r = self.nova("POST", "/servers", token=token, json=body)
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        s = self.settle(sid, token=token)
        assert s["status"] == "ACTIVE", s
        if host:
            assert s["OS-EXT-SRV-ATTR:host"] == host, s
        return sid

    def show(self, sid, token=None):
        r = self.nova("GET", f"/servers/{sid}", token=token)
        return r.json()["server"] if r.status_code == 200 else None

    def settle(self, sid, token=None, timeout=60, status=None):
        """Waits until the server has no task (and `status`, if given); returns it."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.show(sid, token=token)
            if last is None:
                return None
            if last.get("OS-EXT-STS:task_state") is None and last["status"] not in ("BUILD",) and (status is None or last["status"] == status):
                return last
            time.sleep(0.25)
        raise AssertionError(f"server {sid} still busy after {timeout}s: {last and (last['status'], last.get('OS-EXT-STS:task_state'))}")

    def delete(self, sid, timeout=60):
        self.nova("DELETE", f"/servers/{sid}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nova("GET", f"/servers/{sid}").status_code == 404:
                return
            time.sleep(0.25)

    def migrations(self, sid):
        r = self.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80")
        assert r.status_code == 200, r.text
        return r.json()["migrations"]

    def providers(self):
        r = requests.get(f"{self.base}/placement/resource_providers", headers={"X-Auth-Token": self.admin}, timeout=TIMEOUT)
        return {p["uuid"]: p["name"] for p in r.json()["resource_providers"]}

    def alloc_hosts(self, consumer):
        r = requests.get(f"{self.base}/placement/allocations/{consumer}", timeout=TIMEOUT,
                         headers={"X-Auth-Token": self.admin, "OpenStack-API-Version": "placement 1.30"})
        names = self.providers()
        return sorted(names.get(p, p) for p in r.json().get("allocations", {}))

    def service_id(self, host):
        services = self.nova("GET", "/os-services?binary=nova-compute", version="2.53").json()["services"]
        return next(s["id"] for s in services if s["host"] == host)

    def set_service(self, host, **fields):
        r = self.nova("PUT", f"/os-services/{self.service_id(host)}", version="2.53", json=fields)
        assert r.status_code == 200, r.text

    def restart_node_b(self):
        self.node_b.kill()
        self.node_b.start()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-moves"), "fake",
                                      {"compute": {"host": "node-a", "agent_interval_s": "2"}})
    node = ComputeNodeProcess(cloud, "node-b", data / "node-b")
    try:
        node.start()
        wait_registered(cloud, node, ["node-a", "node-b"])
        yield Env(cloud, node)
    finally:
        node.kill()
        node.start()  # so that the servers left on node-b can be deleted
        stop_compute_cloud(cloud, data)
        node.stop()


def nova_error(r, status):
    """Nova's fault body {"<name>": {"code": status, "message": ...}} (nova/api/openstack/wsgi.py Fault)."""
    assert r.status_code == status, (r.request.method, r.request.url, r.request.body, r.status_code, r.text[:400])
    body = r.json()
    assert set(body) == {NAMES[status]}, body
    assert body[NAMES[status]]["code"] == status and isinstance(body[NAMES[status]]["message"], str), body
    return body[NAMES[status]]["message"]


def race(*calls):
    """Runs the calls at once (each after its own delay in seconds); returns their responses."""
    out = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(k, delay, fn):
        barrier.wait()
        if delay:
            time.sleep(delay)
        out[k] = fn()

    threads = [threading.Thread(target=run, args=(k, d, fn)) for k, (d, fn) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT + 5)
    return out


def migrate_to_verify(env, sid):
    r = env.action(sid, {"migrate": None})
    assert r.status_code == 202, r.text
    s = env.settle(sid)
    assert s["status"] == "VERIFY_RESIZE", s
    return s


def check_claims(env, sid, what):
    """The server's allocation is on its host alone and no migration of it holds anything."""
    s = env.show(sid)
    problems = []
    if env.alloc_hosts(sid) != [s["OS-EXT-SRV-ATTR:host"]]:
        problems.append(f"instance on {s['OS-EXT-SRV-ATTR:host']} but allocated on {env.alloc_hosts(sid)}")
    for m in env.migrations(sid):
        if m["status"] in ("confirmed", "reverted", "error", "completed", "failed", "done") and env.alloc_hosts(m["uuid"]):
            problems.append(f"migration {m['uuid']} ({m['status']}) still holds {env.alloc_hosts(m['uuid'])}")
    assert not problems, f"{what}: {problems}"


# ---- findings (each fails while the bug is there) ---------------------------------------------

def test_two_migrate_requests_at_once_leave_the_allocation_where_the_server_is(env):
    """Nova (nova/compute/api.py resize): `check_instance_state` first, then
    `instance.save(expected_task_state=[None])`; the loser of two concurrent migrates gets 409
    and touches nothing, the allocations are moved by the conductor only for the winner.

    Nimbus (ComputeService+Migrate.swift startColdMove): both requests pass the first state
    check and both `claimMove` (the instance's consumer replaced by a claim on the
    destination); the loser's `instances.modify` fails and its `undoMoveClaims` writes the
    instance's allocation back onto the SOURCE. The winner's move completes: the server runs on
    node-b while Placement holds it on node-a (and after confirm node-b's usage is missing)."""
    sid = env.boot("race-migrate", "node-a")
    codes = [r.status_code for r in race((0, lambda: env.action(sid, {"migrate": None})), (0, lambda: env.action(sid, {"migrate": None})))]
    assert sorted(codes)[0] == 202 and all(c < 500 for c in codes), codes
    s = env.settle(sid)
    assert s["status"] == "VERIFY_RESIZE", s
    assert env.action(sid, {"confirmResize": None}).status_code == 204
    s = env.settle(sid, status="ACTIVE")
    try:
        check_claims(env, sid, f"after two concurrent migrates ({codes}) and confirm")
    finally:
        env.delete(sid)


def test_confirm_and_revert_at_once_leave_the_allocation_where_the_server_is(env):
    """Nova (nova/compute/api.py revert_resize / confirm_resize): both are
    `check_instance_state(vm_state=[RESIZED])` and set their task with
    `save(expected_task_state=[None])` BEFORE anything is claimed or released, so one of the
    two gets 409 and changes nothing.

    Nimbus (ComputeService+Resize.swift revertResize): the revert puts the instance's
    allocation back on the source and drops the migration's (`placement.replace`) before its
    `instances.modify` checks the state again; when a confirm wins that race the revert answers
    409 but its Placement write stays: the server is confirmed on node-b and allocated on node-a."""
    sid = env.boot("race-confirm", "node-a")
    try:
        for delay in (0.0, 0.005, 0.015, 0.03):
            migrate_to_verify(env, sid)
            revert, confirm = race((0, lambda: env.action(sid, {"revertResize": None})),
                                   (delay, lambda: env.action(sid, {"confirmResize": None})))
            assert revert.status_code < 500 and confirm.status_code < 500, (revert.text, confirm.text)
            assert (revert.status_code == 202) != (confirm.status_code == 204), (revert.status_code, confirm.status_code)
            env.settle(sid, status="ACTIVE")
            time.sleep(1)
            check_claims(env, sid, f"revert {revert.status_code} / confirm {confirm.status_code} (delay {delay})")
    finally:
        env.delete(sid)


def test_forced_live_migration_to_a_disabled_host_goes_there(env):
    """Nova (nova/conductor/tasks/live_migrate.py _execute): with `force: true` and a host
    (2.30-2.67) the scheduler is bypassed: only `_check_host_is_up`, the memory and hypervisor
    checks run - a DISABLED (but up) host is a valid forced destination (operators drain
    hosts this way). Nimbus (moveCandidates): `usable` drops disabled hosts even when forced,
    so the request fails with 400 "No valid host was found." (the same for a forced evacuate)."""
    sid = env.boot("force-disabled", "node-a")
    env.set_service("node-b", status="disabled")
    try:
        r = env.action(sid, {"os-migrateLive": {"host": "node-b", "block_migration": "auto", "force": True}}, version="2.30")
        assert r.status_code == 202, r.text
        s = env.settle(sid)
        assert s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] == "node-b", s
    finally:
        env.set_service("node-b", status="enabled")
        env.delete(sid)


def test_live_migration_from_a_host_that_is_down_fails_instead_of_hanging(env):
    """Nova (nova/conductor/tasks/live_migrate.py _execute): `_check_host_is_up(self.source)`
    is the first check; a down source gives ComputeServiceUnavailable: 400 before 2.34, from
    2.34 a 202 with the migration set to `error` and the task reset at once (conductor
    manager `_live_migrate`), so the server is never left MIGRATING.

    Nimbus (liveMigrate): the source's service is not checked. The destination prepares, the
    dead source never streams, and the server stays in task_state `migrating` (with no timeout)
    - and, since DELETE refuses a migrating server, it cannot even be deleted."""
    sid = env.boot("from-down", "node-b")
    env.node_b.kill()
    env.set_service("node-b", forced_down=True)
    try:
        r = env.action(sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}})
        assert r.status_code in (202, 400), r.text
        deadline = time.monotonic() + 15
        s = env.show(sid)
        while time.monotonic() < deadline and s["OS-EXT-STS:task_state"] is not None:
            time.sleep(0.5)
            s = env.show(sid)
        assert s["OS-EXT-STS:task_state"] is None and s["OS-EXT-SRV-ATTR:host"] == "node-b", \
            f"live migration from a down host: {r.status_code}, server left {s['status']}/{s['OS-EXT-STS:task_state']}"
        if r.status_code == 202:
            assert env.migrations(sid)[0]["status"] == "error", env.migrations(sid)
    finally:
        env.set_service("node-b", forced_down=False)
        env.node_b.start()
        try:
            env.settle(sid, timeout=60)
        except AssertionError:
            pass
        env.delete(sid)


def test_delete_is_accepted_while_a_live_migration_waits(env):
    """Nova (nova/compute/api.py delete): `@check_instance_state(vm_state=None,
    task_state=None)` - a server is deletable in every task state, MIGRATING included (the
    conductor and computes then clean up). Nimbus (ComputeService+Actions.swift deleteServer)
    answers 409 for task_state migrating; with a destination that died after the request
    (it never prepares, nothing times out) the server is neither moved nor deletable."""
    sid = env.boot("del-live", "node-a")
    env.node_b.kill()   # still "up" for the service-down time: the scheduler picks it
    try:
        r = env.action(sid, {"os-migrateLive": {"host": "node-b", "block_migration": "auto"}}, version="2.30")
        assert r.status_code == 202, r.text
        time.sleep(2)
        assert env.show(sid)["OS-EXT-STS:task_state"] == "migrating"
        r = env.nova("DELETE", f"/servers/{sid}")
        assert r.status_code == 204, (r.status_code, r.text)
    finally:
        env.node_b.start()
        try:
            env.settle(sid, timeout=60)
        except AssertionError:
            pass
        env.delete(sid)


def test_deleting_an_evacuating_server_releases_the_source_allocation(env):
    """Nova (nova/conductor/manager.py rebuild_instance, nova/compute/manager.py
    _destroy_evacuated_instances): an evacuation keeps the source's allocation on the
    INSTANCE consumer (no migration-based allocation), so deleting the server removes every
    allocation it has, and the source cleans up the `accepted`/`pre-migrating`/`done`
    evacuation records when it comes back.

    Nimbus (evacuate, finishDelete, migrationCleanedUp): the source's resources sit on the
    migration's consumer, released only when the record reaches `done` and the source cleans
    up. A delete during the rebuild (task `deleting` supersedes `rebuilding`) leaves the record
    at `pre-migrating` forever: the allocation on node-a is never released (and node-a's
    guest is never removed)."""
    sid = env.boot("evac-del", "node-a")
    env.node_b.kill()                              # the destination: still up, but not acting yet
    env.set_service("node-a", forced_down=True)    # the source: down
    m = None
    try:
        r = env.action(sid, {"evacuate": {"host": "node-b"}}, version="2.29")
        assert r.status_code == 200, r.text
        m = env.migrations(sid)[0]
        assert m["migration_type"] == "evacuation", m
        assert env.alloc_hosts(m["uuid"]) == ["node-a"], env.alloc_hosts(m["uuid"])
        assert env.nova("DELETE", f"/servers/{sid}").status_code == 204
    finally:
        env.set_service("node-a", forced_down=False)
        env.node_b.start()
    env.delete(sid)
    assert env.nova("GET", f"/servers/{sid}").status_code == 404
    assert env.alloc_hosts(sid) == []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and env.alloc_hosts(m["uuid"]):
        time.sleep(1)
    status = [x["status"] for x in env.migrations(sid)]
    assert env.alloc_hosts(m["uuid"]) == [], f"migration {m['uuid']} ({status}) of the deleted server still holds {env.alloc_hosts(m['uuid'])}"


def test_evacuate_admin_pass_has_no_length_limit(env):
    """Nova (nova/api/validation/parameter_types.py admin_password): `{'type': 'string'}`,
    deliberately without a length limit ("users set sometimes long/strange string as
    password"). An evacuate of a server whose host is up with a 300-character adminPass passes
    validation and gets ComputeServiceInUse: 400 "Compute service of node-a is still in use.".
    Nimbus (NovaSchemas.evacuate) caps adminPass at 255 and answers a schema error instead."""
    sid = env.boot("evac-pass", "node-a")
    try:
        message = nova_error(env.action(sid, {"evacuate": {"adminPass": "p" * 300}}), 400)
        assert "still in use" in message, message
    finally:
        env.delete(sid)


def test_live_migration_prechecks_are_asynchronous_from_2_34(env):
    """Nova (nova/api/openstack/compute/migrate_server.py _migrate_live, nova/conductor/api.py
    live_migrate_instance): from 2.34 the conductor is CAST to; its pre-checks (the driver's
    shared-storage check for `block_migration: false`, the scheduler's NoValidHost for the
    server's own host) no longer answer 400: the API answers 202 and the migration record goes
    to `error`, the server staying ACTIVE where it was.

    Nimbus (liveMigrate) answers those two synchronously with 400 at every microversion (only
    its "no candidates" case is asynchronous). Note: test_compute_moves.py asserts the 400 for
    the first one at 2.96."""
    sid = env.boot("precheck", "node-a")
    try:
        got = []
        for body in ({"host": None, "block_migration": False}, {"host": "node-a", "block_migration": "auto"}):
            before = len(env.migrations(sid))
            r = env.action(sid, {"os-migrateLive": body}, version="2.34")
            s = env.settle(sid)
            ms = env.migrations(sid)
            ok = r.status_code == 202 and len(ms) == before + 1 and ms[0]["status"] == "error" and s["status"] == "ACTIVE" \
                and s["OS-EXT-SRV-ATTR:host"] == "node-a"
            if not ok:
                got.append((body, r.status_code, r.text[:160]))
        assert not got, got
    finally:
        env.delete(sid)


# ---- held: probed and found right --------------------------------------------------------------

def test_held_callers_without_the_right_get_nova_errors(env):
    """Another project's server: 404 for every move and its migrations; the owner (member):
    403 (migrate / migrate_live: project manager or admin; :host, evacuate, show: admin)."""
    admin_sid = env.boot("held-admins", "node-a")
    own = env.boot("held-demos", token=env.demo)
    try:
        bodies = [({"migrate": None}, "2.96"), ({"migrate": {"host": "node-b"}}, "2.56"),
                  ({"os-migrateLive": {"host": None, "block_migration": "auto"}}, "2.96"),
                  ({"os-migrateLive": {"host": "node-b", "block_migration": "auto", "force": True}}, "2.30"),
                  ({"evacuate": {}}, "2.96"), ({"evacuate": {"host": "node-b"}}, "2.29"),
                  ({"confirmResize": None}, "2.96"), ({"revertResize": None}, "2.96")]
        for body, v in bodies:
            nova_error(env.action(admin_sid, body, version=v, token=env.demo), 404)
        for path in ("/migrations", "/migrations/1"):
            nova_error(env.nova("GET", f"/servers/{admin_sid}{path}", token=env.demo), 404)
        for body, v in bodies[:6]:
            nova_error(env.action(own, body, version=v, token=env.demo), 403)
        for path in ("/migrations", "/migrations/1"):
            nova_error(env.nova("GET", f"/servers/{own}{path}", token=env.demo), 403)
        assert env.migrations(own) == [] and env.migrations(admin_sid) == []
    finally:
        env.delete(admin_sid)
        env.delete(own)


def test_held_malformed_bodies_get_400_and_change_nothing(env):
    sid = env.boot("held-bodies", "node-a")
    cases = [
        ({"migrate": {"host": 5}}, "2.56"), ({"migrate": {"host": ""}}, "2.56"), ({"migrate": {"host": "a" * 256}}, "2.56"),
        ({"migrate": {"host": "a" * 100000}}, "2.56"), ({"migrate": {"host": "node-b\u0000"}}, "2.56"),
        ({"migrate": {"host": "nöde-b"}}, "2.56"), ({"migrate": {"host": "ｎｏｄｅ-b"}}, "2.56"), ({"migrate": {"host": "node\u2010b"}}, "2.56"),
        ({"migrate": {"host": "node-b "}}, "2.56"), ({"migrate": {"host": "../node-b"}}, "2.56"), ({"migrate": {"host": ["node-b"]}}, "2.56"),
        ({"migrate": {"host": "node-b", "force": True}}, "2.56"), ({"migrate": "node-b"}, "2.56"), ({"migrate": []}, "2.56"),
        ({"migrate": None, "evacuate": {}}, "2.56"),
        ({"os-migrateLive": None}, "2.96"), ({"os-migrateLive": {"host": "node-b"}}, "2.96"),
        ({"os-migrateLive": {"block_migration": "auto"}}, "2.96"), ({"os-migrateLive": {"host": 1, "block_migration": "auto"}}, "2.96"),
        ({"os-migrateLive": {"host": "node-b\u0000", "block_migration": "auto"}}, "2.96"),
        ({"os-migrateLive": {"host": None, "block_migration": "sometimes"}}, "2.96"),
        ({"os-migrateLive": {"host": None, "block_migration": 1}}, "2.96"),
        ({"os-migrateLive": {"host": None, "block_migration": "auto", "force": True}}, "2.68"),
        ({"os-migrateLive": {"host": "node-b", "block_migration": "auto", "force": "maybe"}}, "2.30"),
        ({"os-migrateLive": {"host": None, "block_migration": "auto", "disk_over_commit": False}}, "2.25"),
        ({"os-migrateLive": {"host": None, "block_migration": False}}, "2.24"),
        ({"os-migrateLive": {"host": None, "block_migration": "auto", "disk_over_commit": False}}, "2.24"),
        ({"evacuate": None}, "2.96"), ({"evacuate": {"host": ["node-b"]}}, "2.96"), ({"evacuate": {"adminPass": 5}}, "2.96"),
        ({"evacuate": {"host": "node-b\u0000"}}, "2.96"), ({"evacuate": {"host": "node-b", "onSharedStorage": False}}, "2.14"),
        ({"evacuate": {}}, "2.13"), ({"evacuate": {"host": "node-b", "force": True}}, "2.68"),
        ({"evacuate": {"force": True}}, "2.29"), ({"evacuate": {"extra": 1}}, "2.96"),
    ]
    try:
        bad = []
        for body, v in cases:
            r = env.action(sid, body, version=v)
            try:
                nova_error(r, 400)
            except AssertionError as e:
                bad.append((body if len(str(body)) < 200 else "huge", v, str(e)[:200]))
        r = requests.post(f"{env.base}/compute/v2.1/servers/{sid}/action", data=b'{"migrate": ', timeout=TIMEOUT,
                          headers={"X-Auth-Token": env.admin, "Content-Type": "application/json"})
        if r.status_code != 400:
            bad.append(("truncated JSON", r.status_code))
        assert not bad, bad
        s = env.show(sid)
        assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None and s["OS-EXT-SRV-ATTR:host"] == "node-a", s
        assert env.migrations(sid) == [] and env.alloc_hosts(sid) == ["node-a"]
    finally:
        env.delete(sid)


def test_held_moves_in_the_wrong_state_get_409(env):
    paused = env.boot("held-paused", "node-a")
    suspended = env.boot("held-suspended", "node-a")
    shelved = env.boot("held-shelved", "node-a")
    resized = env.boot("held-resized", "node-a")
    gone = env.boot("held-gone", "node-a")
    try:
        assert env.action(paused, {"pause": None}).status_code == 202
        assert env.action(suspended, {"suspend": None}).status_code == 202
        assert env.action(shelved, {"shelve": None}).status_code == 202
        env.settle(paused, status="PAUSED")
        env.settle(suspended, status="SUSPENDED")
        env.settle(shelved)
        migrate_to_verify(env, resized)
        env.delete(gone)
        live = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        for sid, body in [(paused, {"migrate": None}), (paused, {"evacuate": {}}), (suspended, live), (suspended, {"migrate": None}),
                          (shelved, {"migrate": None}), (shelved, live), (shelved, {"evacuate": {}}), (resized, {"migrate": None}),
                          (resized, live), (resized, {"evacuate": {}})]:
            nova_error(env.action(sid, body), 409)
        nova_error(env.action(paused, {"confirmResize": None}), 409)
        nova_error(env.action(gone, {"migrate": None}), 404)
        nova_error(env.nova("GET", f"/servers/{gone}/migrations"), 404)
        # a paused guest live-migrates and stays paused
        r = env.action(paused, live)
        assert r.status_code == 202, r.text
        s = env.settle(paused)
        assert s["status"] == "PAUSED" and s["OS-EXT-SRV-ATTR:host"] == "node-b", s
        check_claims(env, paused, "paused live migration")
    finally:
        for sid in (paused, suspended, shelved, resized):
            env.delete(sid)


def test_held_moves_to_a_disabled_or_down_host_are_refused_and_claim_nothing(env):
    sid = env.boot("held-disabled", "node-a")
    try:
        for fields, undo in (({"status": "disabled"}, {"status": "enabled"}), ({"forced_down": True}, {"forced_down": False})):
            env.set_service("node-b", **fields)
            try:
                nova_error(env.action(sid, {"migrate": {"host": "node-b"}}, version="2.56"), 400)
                nova_error(env.action(sid, {"migrate": None}), 400)
                nova_error(env.action(sid, {"os-migrateLive": {"host": "node-b", "block_migration": "auto"}}, version="2.30"), 400)
            finally:
                env.set_service("node-b", **undo)
        # evacuating a server whose host is up
        message = nova_error(env.action(sid, {"evacuate": {"host": "node-b"}}), 400)
        assert "still in use" in message, message
        s = env.show(sid)
        assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None and s["OS-EXT-SRV-ATTR:host"] == "node-a", s
        assert env.alloc_hosts(sid) == ["node-a"]
        for m in env.migrations(sid):
            assert env.alloc_hosts(m["uuid"]) == [], m
    finally:
        env.delete(sid)


def check_disk_endpoint(env, base, sid, m):
    """The disk endpoints of one outgoing instance (`base` ends in /migrations)."""
    url = f"{base}/{m}/instances/{sid}/disks"
    k = {"X-Compute-Key": env.key}
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers={"X-Compute-Key": env.key + "x"}, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers={"X-Compute-Key": ""}, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers={"X-Auth-Token": env.admin}, timeout=TIMEOUT).status_code == 401
    assert requests.get(url + "/disk", timeout=TIMEOUT).status_code == 401
    r = requests.get(url, headers=k, timeout=TIMEOUT)
    assert r.status_code == 200 and [d["name"] for d in r.json()] == ["disk"], r.text
    r = requests.get(url + "/disk", headers=k, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content.startswith(f"fake root disk of {sid}".encode()), r.content[:100]
    bad = []
    for path in [f"{base}/{uuid.uuid4()}/instances/{sid}/disks", f"{base}/{uuid.uuid4()}/instances/{sid}/disks/disk",
                 f"{base}/{m}/instances/{uuid.uuid4()}/disks", f"{base}/{m}/instances/instance.json/disks",
                 f"{base}/{m}/instances/%2e%2e/disks", f"{base}/{m}/instances/..%2f..%2f{sid}/disks",
                 f"{base}/{m}/instances/{sid}%00/disks",
                 f"{url}/..%2fdisk", f"{url}/%2e%2e", f"{url}/instance.json", f"{url}/qemu.pid", f"{url}/disk.eph0",
                 f"{url}/disk%00", f"{url}/..%2f..%2f..%2fagent-key", f"{url}/DISK"]:
        r = requests.get(path, headers=k, timeout=TIMEOUT)
        if r.status_code not in (400, 404):
            bad.append((path, r.status_code, r.content[:80]))
    assert not bad, bad


def test_held_disk_endpoints_check_key_migration_and_names(env):
    a = env.boot("held-disk-a", "node-a")
    b = env.boot("held-disk-b", "node-b")
    try:
        migrate_to_verify(env, a)
        migrate_to_verify(env, b)
        ma, mb = env.migrations(a)[0], env.migrations(b)[0]
        # the controller serves node-a's (in-process) disks, node-b its own
        check_disk_endpoint(env, f"{env.base}/compute-agent/v1/node/migrations", a, ma["uuid"])
        check_disk_endpoint(env, f"http://127.0.0.1:{env.node_b.port}/compute-node/v1/migrations", b, mb["uuid"])
        # the wrong node for the pair
        r = requests.get(f"{env.base}/compute-agent/v1/node/migrations/{mb['uuid']}/instances/{b}/disks",
                         headers={"X-Compute-Key": env.key}, timeout=TIMEOUT)
        assert r.status_code == 404, r.text
        # GET /servers/{id}/migrations lists live migrations only; a cold one's id is not found
        assert env.nova("GET", f"/servers/{a}/migrations").json()["migrations"] == []
        nova_error(env.nova("GET", f"/servers/{a}/migrations/{ma['id']}"), 404)
        nova_error(env.nova("GET", f"/servers/{a}/migrations/not-a-number"), 404)
        assert env.action(a, {"confirmResize": None}).status_code == 204
        assert env.action(b, {"revertResize": None}).status_code == 202
        env.settle(a, status="ACTIVE")
        env.settle(b, status="ACTIVE")
        time.sleep(1)
        for base, sid, m in ((f"{env.base}/compute-agent/v1/node/migrations", a, ma["uuid"]),
                             (f"http://127.0.0.1:{env.node_b.port}/compute-node/v1/migrations", b, mb["uuid"])):
            r = requests.get(f"{base}/{m}/instances/{sid}/disks", headers={"X-Compute-Key": env.key}, timeout=TIMEOUT)
            assert r.status_code == 404, (base, r.status_code, r.text)
        check_claims(env, a, "confirmed")
        check_claims(env, b, "reverted")
    finally:
        env.delete(a)
        env.delete(b)


def test_held_delete_during_a_cold_move_releases_everything(env):
    """The source (node-b) dies with the move at resize_prep; the server is deleted, the
    source comes back: no allocation is left under the instance or the migration, and the
    migration is no longer in progress."""
    sid = env.boot("held-del-cold", "node-b")
    env.node_b.kill()
    try:
        r = env.action(sid, {"migrate": None})
        assert r.status_code == 202, r.text
        assert env.show(sid)["OS-EXT-STS:task_state"] == "resize_prep"
        m = env.migrations(sid)[0]
        assert env.nova("DELETE", f"/servers/{sid}").status_code == 204
    finally:
        env.node_b.start()
    env.delete(sid)
    assert env.nova("GET", f"/servers/{sid}").status_code == 404
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (env.alloc_hosts(sid) or env.alloc_hosts(m["uuid"])):
        time.sleep(0.5)
    assert env.alloc_hosts(sid) == [] and env.alloc_hosts(m["uuid"]) == []
    assert env.migrations(sid)[0]["status"] not in ("pre-migrating", "migrating", "post-migrating"), env.migrations(sid)
