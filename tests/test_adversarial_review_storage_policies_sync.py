"""Adversarial review of storage policies, node-to-node replication, container sync and OS-OAUTH1
nonces: what an attacker (forged or replayed signatures, injected backend headers, decoy
metadata, hostile timestamps and URLs) and a careless client (clocks ahead, odd spellings) would
send. Each test runs on its own `nimbus up` (object_nimbus) and leaves nothing behind.

Expected behaviour from Swift (container_sync.py, utils.Timestamp, the proxy's 202 for a write
older than the stored object) and RFC 5849 3.3 for nonces."""

import concurrent.futures
import hashlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from nimbus_launcher import free_port
from object_support import admin_account, unique
from test_object_container_sync import REALM_KEY, _demo_account, _sign, _start, _synced
from test_object_storage_policies import config as policy_config, data_files
from test_object_storage_nodes import cluster  # noqa: F401 (the three-node fixture)


def _db_count(nimbus, sql: str, *args) -> int:
    con = sqlite3.connect(f"file:{Path(nimbus.data_dir) / 'nimbus.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


# --- container sync: the receiving side ---------------------------------------------------------

def test_a_client_write_that_loses_to_a_newer_synced_one_is_a_202(object_nimbus, tmp_path):
    """A sync peer whose clock is ahead (or hostile) stores a version newer than anything the
    cluster's clock makes: a client's PUT or COPY over it loses and must say so (Swift's proxy
    answers 202 when the object servers keep a newer version), not claim a 201."""
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a = admin_account(n)
    c = a.put_container(unique("dest"), headers={"X-Container-Sync-Key": "sync-key"})
    future = f"{time.time() + 10**8:.5f}"
    r = _synced(a, c, "o", "PUT", future, data=b"from the future")
    assert r.status_code == 201, r.text
    r = a.req("PUT", c, "o", data=b"mine")
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.text == "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>"
    a.put_object(c, "src", b"copied")
    r = a.req("COPY", c, "src", headers={"Destination": f"{c}/o"})
    assert r.status_code == 202, (r.status_code, r.text)
    r = a.req("PUT", c, "o", headers={"X-Copy-From": f"{c}/src"})
    assert r.status_code == 202, (r.status_code, r.text)
    assert a.get_body(c, "o") == b"from the future"
    assert a.req("HEAD", c, "o").headers["X-Timestamp"] == future
    # The owner can still get rid of it, and write again.
    assert a.req("DELETE", c, "o").status_code == 204
    assert a.req("PUT", c, "o", data=b"mine").status_code == 201
    assert a.get_body(c, "o") == b"mine"


def test_synced_timestamps_are_swift_timestamps(object_nimbus, tmp_path):
    """utils.Timestamp: rounded to 10 us first, then refused at 10^10 s; Python's float()
    (no hex). A value that rounds up to 10^10 once became a 17-character timestamp that sorts
    before every real one."""
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a = admin_account(n)
    c = a.put_container(unique("dest"), headers={"X-Container-Sync-Key": "sync-key"})
    for ts in ("9999999999.999999", "10000000000", "0x10", "0x1p3", "1e10", "nan", "-1"):
        r = _synced(a, c, "bad", "PUT", ts, data=b"x")
        assert r.status_code == 400, (ts, r.status_code, r.text)
        assert r.text.startswith("X-Timestamp should be a UNIX timestamp float value"), (ts, r.text)
    assert a.req("HEAD", c, "bad").status_code == 404
    for ts, stored in (("9999999999.99999", "9999999999.99999"), ("9999999999.999994", "9999999999.99999"),
                       ("1e9", "1000000000.00000"), ("1700000000.123456", "1700000000.12346"),
                       ("-0.000001", "0000000000.00000")):
        name = unique("ok")
        r = _synced(a, c, name, "PUT", ts, data=b"x")
        assert r.status_code == 201, (ts, r.text)
        assert a.req("HEAD", c, name).headers["X-Timestamp"] == stored, ts
        assert a.req("DELETE", c, name).status_code == 204


def test_signatures_are_bound_to_account_container_and_name_bytes(object_nimbus, tmp_path):
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a, b = admin_account(n), _demo_account(n)
    same = unique("same")
    ca, ca2 = a.put_container(same, headers={"X-Container-Sync-Key": "k"}), a.put_container(unique("c2"), headers={"X-Container-Sync-Key": "k"})
    cb = b.put_container(same, headers={"X-Container-Sync-Key": "k"})
    ts = f"{time.time() - 10:.5f}"

    def replay(signed_for: str, sent_to: str, method="PUT", **kw):
        nonce = uuid.uuid4().hex
        sig = _sign(method, urlparse(signed_for).path, ts, nonce, REALM_KEY, "k")
        return requests.request(method, sent_to, headers={"X-Timestamp": ts, "X-Container-Sync-Auth": f"realm1 {nonce} {sig}"},
                                timeout=30, **kw)

    # Another container of the account, the same container name in another account, and a name
    # canonically equivalent to the signed one (names are bytes): all 401.
    for signed_for, sent_to in ((a.url_for(ca, "o"), a.url_for(ca2, "o")), (a.url_for(ca, "o"), b.url_for(cb, "o")),
                                (a.url_for(ca, "cafe\u0301"), a.url_for(ca, "caf\u00e9")),
                                (a.url_for(ca, "o"), a.url_for(ca, "o") + "%00")):
        r = replay(signed_for, sent_to, data=b"forged")
        assert r.status_code in (400, 401, 412), (sent_to, r.status_code, r.text)
    assert a.names(ca2) == [] and b.names(cb) == [] and a.names(ca) == []
    # A signature for the container itself authorizes neither its listing nor its deletion.
    assert a.req("PUT", ca, "keep", data=b"x").status_code == 201
    for method in ("GET", "DELETE", "POST"):
        r = replay(a.url_for(ca), a.url_for(ca), method=method)
        assert r.status_code == 401 and "keep" not in r.text, (method, r.status_code, r.text)
    assert a.names(ca) == ["keep"]
    # A signed request to an account: the header means nothing there (no token: 401).
    r = replay(a.url_for(), a.url_for(), method="GET")
    assert r.status_code == 401 and same not in r.text


def test_a_metadata_value_spelled_like_sync_to_does_not_log_writes(object_nimbus, tmp_path):
    """The triggers once tested `metadata LIKE '%"x-container-sync-to"%'`: a container whose
    user metadata value was `x-container-sync-to` logged every write in object_sync_log, and the
    daemon never cleaned it (the same test kept it): unbounded growth for any writer."""
    n, _ = _start(object_nimbus, tmp_path, interval=1)
    a = admin_account(n)
    decoy = a.put_container(unique("decoy"), headers={"X-Container-Meta-A": "x-container-sync-to",
                                                        "X-Container-Meta-X-Container-Sync-To": '","x-container-sync-to":'})
    for i in range(5):
        a.put_object(decoy, f"o{i}", b"x")
    a.req("DELETE", decoy, "o0")
    time.sleep(2.5)  # two daemon passes
    assert _db_count(n, "SELECT COUNT(*) FROM object_sync_log WHERE container = ?", decoy) == 0
    # A real sync-to among other metadata still logs (and the daemon sends it).
    b = _demo_account(n)
    dest = b.put_container(unique("dest"))
    r = b.req("POST", dest, headers={"X-Container-Sync-Key": "k"})
    assert r.status_code == 204
    real = a.put_container(unique("real"), headers={"X-Container-Meta-A": "1", "X-Container-Meta-Z": "2",
                                                    "X-Container-Sync-To": f"//realm1/name1/{b.name}/{dest}",
                                                    "X-Container-Sync-Key": "k"})
    a.put_object(real, "synced", b"data")
    from object_support import wait_until
    wait_until(lambda: b.names(dest) == ["synced"], timeout=30, what="object synced")


def test_only_owners_configure_sync_and_full_urls_stay_on_allowed_hosts(object_nimbus, tmp_path):
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a, b = admin_account(n), _demo_account(n)
    c = a.put_container(unique("c"))
    # A container write ACL lets b write objects, not configure the container.
    assert a.req("POST", c, headers={"X-Container-Write": f"{b.user.project_id}:*",
                                     "X-Container-Read": f"{b.user.project_id}:*"}).status_code == 204
    w = b.on(a)
    assert w.req("PUT", c, "o", data=b"x").status_code == 201
    r = w.req("POST", c, headers={"X-Container-Sync-To": f"//realm1/name1/{b.name}/x", "X-Container-Sync-Key": "stolen"})
    assert r.status_code == 403, (r.status_code, r.text)
    r = w.req("PUT", c, headers={"X-Container-Sync-To": f"//realm1/name1/{b.name}/x", "X-Container-Sync-Key": "stolen"})
    assert r.status_code in (202, 403), (r.status_code, r.text)
    h = a.req("HEAD", c).headers
    assert "X-Container-Sync-To" not in h and "X-Container-Sync-Key" not in h
    # Full URLs: the host the daemon would reach is the one checked against allowed_sync_hosts,
    # whatever user info, ports or escapes surround it.
    for value in ("http://127.0.0.1@example.com/v1/a/c", "http://127.0.0.1:80@example.com/v1/a/c",
                  "http://example.com#@127.0.0.1/v1/a/c", "http://127.0.0.1.example.com/v1/a/c",
                  "http://[::ffff:127.0.0.1]/v1/a/c", "http://2130706433/v1/a/c", "http://localhost/v1/a/c",
                  "http://127.0.0.1\\@example.com/v1/a/c", "http:///v1/a/c", "file:///etc/passwd"):
        r = a.req("POST", c, headers={"X-Container-Sync-To": value})
        assert r.status_code == 400, (value, r.status_code, r.text)
    assert "X-Container-Sync-To" not in a.req("HEAD", c).headers


# --- node-to-node replication: push orders ----------------------------------------------------

def _junk_server(status_line: bytes):
    """A loopback server that answers every request at once with `status_line`, without reading
    the body: an address in the ring that is no storage node."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(status_line + b"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_push_orders_to_odd_peers(cluster):
    nimbus, (n1, n2, n3), key = cluster
    a = admin_account(nimbus)
    c = a.put_container(unique("push"))
    body = os.urandom(3 * 1024 * 1024 + 5)
    a.put_object(c, "o", body)
    f = n1.data_files()[0]
    part, (h, file) = f.parent.name, f.name.split(".", 1)
    digest = hashlib.md5(f.read_bytes()).hexdigest()

    def push(to, device, file=file):
        return n1.request("POST", f"/storage/n1/{part}/{h}/push", key, body=json.dumps({"file": file, "to": to, "device": device}).encode())

    # To itself: the file stays whole.
    status, out = push(n1.address, "n1")
    assert status == 200 and out.endswith(b"ok\n"), out
    assert [p.name for p in n1.data_files()] == [f.name] and hashlib.md5(f.read_bytes()).hexdigest() == digest
    # Nothing listening, the proxy (not a node), a device the peer does not serve: failed, quickly.
    port = urlparse(nimbus.base_url).port
    for to, device in ((f"127.0.0.1:{free_port()}", "n2"), (f"127.0.0.1:{port}", "n2"), (n2.address, "nope")):
        t = time.monotonic()
        status, out = push(to, device)
        assert status == 200 and b"\nfailed: " in out and not out.endswith(b"ok\n"), (to, out)
        assert time.monotonic() - t < 10
    # A file the node does not have (a .meta never written).
    assert push(n2.address, "n2", file=file.replace(".data", ".meta"))[0] == 404
    # Something that answers 200 (or 204) at once, before the commit: not a replica, neither
    # of the data nor of a .meta (a POST's).
    assert a.req("POST", c, "o", headers={"X-Object-Meta-Color": "blue"}).status_code == 202
    metas = [p.name.split(".", 1)[1] for p in f.parent.iterdir() if p.name.startswith(h) and p.name.endswith(".meta")]
    assert len(metas) == 1, list(f.parent.iterdir())
    for line in (b"HTTP/1.1 200 OK", b"HTTP/1.1 204 No Content"):
        srv = _junk_server(line)
        try:
            status, out = push(f"127.0.0.1:{srv.getsockname()[1]}", "n2")
            assert status == 200 and b"\nfailed: " in out and not out.endswith(b"ok\n"), (line, out)
            status, out = push(f"127.0.0.1:{srv.getsockname()[1]}", "n2", file=metas[0])
            assert status == 502, (line, status, out)
        finally:
            srv.close()
    # A peer that redirects: the storage key and the replica go nowhere else.
    elsewhere, reached = _recording_server("127.0.0.2", lambda port: b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    redirector, asked = _recording_server("127.0.0.1", lambda port: (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:{elsewhere.getsockname()[1]}/storage/n2/{part}/{h}/x\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
    try:
        for f_ in (file, metas[0]):
            status, out = push(f"127.0.0.1:{redirector.getsockname()[1]}", "n2", file=f_)
            assert (status == 200 and b"\nfailed: " in out) or status == 502, (f_, status, out)
        assert asked and reached == [], (asked, reached)
    finally:
        redirector.close()
        elsewhere.close()
    # A real peer takes the .meta (it once read back as corrupt: its trailer's size is the object's).
    assert push(n2.address, "n2", file=metas[0])[0] == 201
    assert n1.request("GET", f"/storage/n1/{part}/{h}/{metas[0]}", key)[0] == 200
    assert a.get_body(c, "o") == body


# --- storage policies --------------------------------------------------------------------------

def test_clients_cannot_pick_a_policy_index_or_change_a_policy(object_nimbus):
    """The backend's X-Backend-Storage-Policy-Index is the proxy's to set: a client's is ignored
    (the files go where the container's policy puts them); a POST does not change a policy."""
    nimbus = object_nimbus(config=policy_config())
    a = admin_account(nimbus)
    g = a.put_container(unique("g"))
    s = a.put_container(unique("s"), headers={"X-Storage-Policy": "silver"})
    before = (len(data_files(nimbus, 0)), len(data_files(nimbus, 1)), len(data_files(nimbus, 2)))
    r = a.req("PUT", g, "o", data=b"gold data", headers={"X-Backend-Storage-Policy-Index": "2"})
    assert r.status_code == 201
    assert len(data_files(nimbus, 0)) > before[0]
    assert (len(data_files(nimbus, 1)), len(data_files(nimbus, 2))) == before[1:]
    assert a.req("GET", g, "o", headers={"X-Backend-Storage-Policy-Index": "1"}).content == b"gold data"
    assert a.req("POST", s, headers={"X-Storage-Policy": "gold"}).status_code == 204
    assert a.req("HEAD", s).headers["X-Storage-Policy"] == "silver"
    assert a.req("PUT", s, headers={"X-Storage-Policy": "GOLD"}).status_code == 409
    for junk in ("x" * 4000, "0", "gold,silver", "gold silver"):
        r = a.req("PUT", unique("p"), headers={"X-Storage-Policy": junk})
        assert r.status_code == 400 and r.text.startswith("Invalid X-Storage-Policy"), (junk[:10], r.status_code, r.text[:100])


def test_a_removed_policy_is_a_503_not_a_crash(object_nimbus):
    """Swift asks that a used policy be deprecated, never removed; an operator who removes its
    section anyway must not let any client's PUT into such a container kill the process (a
    force-unwrapped ring did)."""
    n = object_nimbus(config=policy_config())
    a = admin_account(n)
    s = a.put_container(unique("s"), headers={"X-Storage-Policy": "silver"})
    a.put_object(s, "o", b"silver data")
    n.kill()
    n = object_nimbus(config={"storage-policy:0": {"name": "gold", "default": "yes"}}, port=n.port, data_dir=n.data_dir)
    a = admin_account(n)
    for method, obj, kw in (("PUT", "p", {"data": b"x"}), ("POST", "o", {"headers": {"X-Object-Meta-A": "b"}}),
                            ("PUT", "p", {"headers": {"X-Copy-From": f"{s}/o"}})):
        r = a.req(method, s, obj, **kw)
        assert r.status_code == 503, (method, obj, r.status_code, r.text)
    assert a.req("HEAD").status_code == 204
    assert a.names(s) == ["o"]
    g = a.put_container(unique("g"))
    assert a.req("PUT", g, "fine", data=b"x").status_code == 201


# --- OS-OAUTH1 nonces --------------------------------------------------------------------------

def test_oauth_nonces_only_signed_requests_spend_and_only_once(object_nimbus):
    pytest.importorskip("oauthlib.oauth1")
    from test_identity_oauth1 import signed
    n = object_nimbus()
    r = requests.post(f"{n.auth_url}/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"},
                                                                     "password": n.read_password("admin")}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    admin = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    project_id = r.json()["token"]["project"]["id"]
    r = requests.post(f"{n.auth_url}/OS-OAUTH1/consumers", json={"consumer": {"description": "x"}}, headers=admin, timeout=30)
    consumer = r.json()["consumer"]
    url = f"{n.auth_url}/OS-OAUTH1/request_token"
    hdr = {"Requested-Project-Id": project_id}
    count = lambda: _db_count(n, "SELECT COUNT(*) FROM identity_oauth_nonces")
    start = count()
    # Unsigned, wrongly signed, unknown consumers, stale timestamps: no nonce is spent.
    for i in range(20):
        bad = (signed(url, consumer["id"], "0" * 32, headers=hdr, callback_uri="oob"),
               signed(url, "f" * 32, consumer["secret"], headers=hdr, callback_uri="oob"),
               signed(url, consumer["id"], consumer["secret"], headers=hdr, callback_uri="oob", timestamp=str(int(time.time()) - 7200)),
               {**hdr, "Authorization": f'OAuth oauth_consumer_key="{consumer["id"]}", oauth_nonce="n{i}"'})
        for h in bad:
            assert requests.post(url, headers=h, timeout=30).status_code in (400, 401, 404)
    assert count() == start
    # One signed request sent eight times at once: one token, seven replays refused.
    h = signed(url, consumer["id"], consumer["secret"], headers=hdr, callback_uri="oob")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.post(url, headers=h, timeout=30), range(8)))
    assert sorted(r.status_code for r in answers) == [201] + [400] * 7, [(r.status_code, r.text) for r in answers]
    assert all("Nonce already used" in r.text for r in answers if r.status_code == 400)
    assert count() == start + 1
    # The same nonce with another timestamp is another request (it must be signed again).
    nonce = re.search(r'oauth_nonce="([^"]+)"', h["Authorization"]).group(1)
    h2 = signed(url, consumer["id"], consumer["secret"], headers=hdr, callback_uri="oob", nonce=nonce,
                timestamp=str(int(time.time()) + 1))
    assert requests.post(url, headers=h2, timeout=30).status_code == 201


# --- container sync: the sending side -----------------------------------------------------------

def _recording_server(host: str, answer):
    """A loopback HTTP server on `host` that records each request's first line and headers and
    answers `answer(port)` (raw bytes)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, 0))
    srv.listen(16)
    seen = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    head = conn.recv(65536)
                except OSError:
                    continue
                seen.append(head.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
                conn.sendall(answer(srv.getsockname()[1]))
    threading.Thread(target=serve, daemon=True).start()
    return srv, seen


def test_the_sync_daemon_does_not_follow_redirects_off_allowed_hosts(object_nimbus, tmp_path):
    """allowed_sync_hosts checks the host X-Container-Sync-To names; a destination there that
    redirects must not take the daemon (its object, its X-Container-Sync-Key) anywhere else, as
    Swift's daemon (bufferedhttp) follows no redirects."""
    elsewhere, reached = _recording_server("127.0.0.2", lambda port: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    target = f"http://127.0.0.2:{elsewhere.getsockname()[1]}"
    redirector, asked = _recording_server("127.0.0.1", lambda port: (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}/v1/AUTH_x/c/o\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode())
    try:
        n, _ = _start(object_nimbus, tmp_path, interval=1)
        a = admin_account(n)
        c = a.put_container(unique("src"))
        a.put_object(c, "o", b"secret data")
        r = a.req("POST", c, headers={"X-Container-Sync-To": f"http://127.0.0.1:{redirector.getsockname()[1]}/v1/AUTH_x/c",
                                      "X-Container-Sync-Key": "the-sync-key"})
        assert r.status_code == 204, r.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(asked) < 2:
            time.sleep(0.2)
        assert len(asked) >= 2, asked  # the daemon tried (a pass, and the next one)
        time.sleep(0.5)
        assert reached == [], reached
    finally:
        redirector.close()
        elsewhere.close()
