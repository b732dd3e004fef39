"""Container sync (Swift's container_sync middleware and container-sync daemon) on a separate
`nimbus up` that syncs to itself: the realms file names this cloud's public URL as cluster
`name1` of realm `realm1`, and containers in two projects sync to each other through it.

Expected behaviour from swift/common/middleware/container_sync.py, swift/container/sync.py,
swift/common/container_sync_realms.py and validate_sync_to in swift/common/utils."""

import hashlib
import hmac
import time
import uuid
from urllib.parse import quote, urlparse

import requests

from nimbus_launcher import free_port
from object_support import Account, admin_account, login, unique, wait_until

REALM_KEY = "realm1key"
REALM_KEY2 = "realm1key2"


def _start(object_nimbus, tmp_path, endpoint_port=None, interval=1):
    port = free_port()
    realms = tmp_path / "container-sync-realms.conf"
    _write_realms(realms, port, endpoint_port or port)
    n = object_nimbus(config={"object_storage": {
        "container_sync_realms_file": realms, "container_sync_current": "//realm1/name1",
        "container_sync_interval": interval}}, port=port)
    return n, realms


def _write_realms(path, port, dead_port):
    path.write_text(f"""[DEFAULT]
mtime_check_interval = 1

[realm1]
key = {REALM_KEY}
key2 = {REALM_KEY2}
cluster_name1 = http://127.0.0.1:{port}/object/v1/
cluster_down = http://127.0.0.1:{dead_port}/object/v1/
""")


def _demo_account(n) -> Account:
    from types import SimpleNamespace
    password = n.read_password("demo")
    token, url, body = login(n.auth_url, "demo", password, "demo")
    user = SimpleNamespace(name="demo", password=password, id=body["token"]["user"]["id"],
                           project="demo", project_id=body["token"]["project"]["id"], role="member")
    return Account(SimpleNamespace(base_url=n.base_url, auth_url=n.auth_url), user, token, url)


def _sync_to(acct, container, cluster="name1"):
    return f"//realm1/{cluster}/{acct.name}/{container}"


def _listing(acct, c):
    return {e["name"]: (e["hash"], e["bytes"], e["content_type"], e["last_modified"]) for e in acct.listing(c)}


def _sign(method, path, timestamp, nonce, realm_key, user_key):
    msg = b"%s\n%s\n%s\n%s\n%s" % (method.encode(), path.encode(), timestamp.encode(), nonce.encode(), user_key.encode())
    return hmac.new(realm_key.encode(), msg, hashlib.sha1).hexdigest()


def _synced(acct, c, name, method, timestamp, realm="realm1", realm_key=REALM_KEY, user_key="sync-key", **kw):
    """A request as the sync daemon sends it: no token, X-Container-Sync-Auth."""
    url = acct.url_for(c, name)
    nonce = uuid.uuid4().hex
    sig = _sign(method, urlparse(url).path, timestamp, nonce, realm_key, user_key)
    headers = {"X-Timestamp": timestamp, "X-Container-Sync-Auth": f"{realm} {nonce} {sig}", **kw.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kw)


def test_two_projects_sync_both_ways(object_nimbus, tmp_path):
    n, _ = _start(object_nimbus, tmp_path)
    _sync_both_ways(n)


def test_sync_on_postgres(tmp_path):
    """The change log's triggers and the sync points on PostgreSQL (scripts/pg-test-cluster.sh)."""
    import subprocess
    from nimbus_launcher import REPO, Nimbus, random_password
    from object_support import write_config
    script = REPO / "scripts" / "pg-test-cluster.sh"
    proc = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"could not start PostgreSQL: {proc.stderr}"
    url = proc.stdout.strip().splitlines()[-1]
    n = None
    try:
        port = free_port()
        realms = tmp_path / "container-sync-realms.conf"
        _write_realms(realms, port, port)
        conf = write_config(tmp_path / "nimbus.conf", {"object_storage": {
            "container_sync_realms_file": realms, "container_sync_interval": 1}})
        n = Nimbus(tmp_path / "data", port=port, admin_password=random_password(), demo_password=random_password(),
                   extra_args=["--database", url, "--config-file", str(conf)])
        n.start(timeout=60)
        _sync_both_ways(n)
    finally:
        if n is not None:
            n.kill()
        subprocess.run([str(script), "stop", url], capture_output=True, timeout=60)


def _sync_both_ways(n):
    a, b = admin_account(n), _demo_account(n)
    ca, cb = a.put_container(unique("sync-a")), b.put_container(unique("sync-b"))
    # Objects that exist before sync is turned on are sent too (Swift starts from row 0).
    a.put_object(ca, "before", b"old data", headers={"Content-Type": "text/x-before", "X-Object-Meta-Color": "red"})
    for acct, c, peer, pc in ((a, ca, b, cb), (b, cb, a, ca)):
        r = acct.req("POST", c, headers={"X-Container-Sync-To": _sync_to(peer, pc), "X-Container-Sync-Key": "sync-key"})
        assert r.status_code == 204, r.text
    name_a, name_b = "from-a/caf\u00e9 \u00fc?", "from-b/cafe\u0301"
    a.put_object(ca, name_a, b"data of a")
    b.put_object(cb, name_b, b"data of b", headers={"Content-Disposition": "attachment", "X-Delete-At": str(int(time.time()) + 3600)})
    wait_until(lambda: len(_listing(a, ca)) == 3 and _listing(a, ca) == _listing(b, cb), timeout=60, what="both containers equal")
    assert b.get_body(cb, name_a) == b"data of a"
    assert a.get_body(ca, name_b) == b"data of b"
    r = b.req("GET", cb, "before")
    assert r.content == b"old data" and r.headers["X-Object-Meta-Color"] == "red" and r.headers["Content-Type"] == "text/x-before"
    assert r.headers["X-Timestamp"] == a.req("HEAD", ca, "before").headers["X-Timestamp"], "the sender's timestamp is kept"
    r = a.req("HEAD", ca, name_b)
    assert r.headers["Content-Disposition"] == "attachment" and r.headers["X-Delete-At"]

    # A POST's metadata change arrives (the object is sent again with its new timestamp).
    assert a.req("POST", ca, "before", headers={"X-Object-Meta-Color": "blue"}).status_code == 202
    wait_until(lambda: b.req("HEAD", cb, "before").headers.get("X-Object-Meta-Color") == "blue", timeout=30, what="POST synced")

    # A deletion arrives and is not undone by the other direction.
    assert a.req("DELETE", ca, name_a).status_code == 204
    wait_until(lambda: b.req("HEAD", cb, name_a).status_code == 404, timeout=30, what="delete synced")
    # An overwrite on the other side wins over the older copy.
    b.put_object(cb, "before", b"new data")
    wait_until(lambda: a.get_body(ca, "before") == b"new data", timeout=30, what="overwrite synced back")
    time.sleep(3)
    assert a.req("HEAD", ca, name_a).status_code == 404 and b.req("HEAD", cb, name_a).status_code == 404
    assert _listing(a, ca) == _listing(b, cb) and set(_listing(a, ca)) == {"before", name_b}
    assert b.get_body(cb, "before") == b"new data"


def test_large_objects_and_symlinks_are_synced(object_nimbus, tmp_path):
    """An SLO manifest arrives as a manifest (container_sync.py's slo_override: before or after
    its segments), a DLO as its manifest object, symlinks as links (symlink_override: a static
    link's target is not checked)."""
    import json
    n, _ = _start(object_nimbus, tmp_path)
    a, b = admin_account(n), _demo_account(n)
    segs, objs = unique("segs"), unique("objs")
    for c in (segs, objs):
        b.put_container(c, headers={"X-Container-Sync-Key": "sync-key"})
        a.put_container(c, headers={"X-Container-Sync-Key": "sync-key", "X-Container-Sync-To": _sync_to(b, c)})
    a.put_object(segs, "s1", b"A" * 10)
    a.put_object(segs, "s2", b"B" * 5)
    manifest = [{"path": f"/{segs}/s1"}, {"path": f"/{segs}/s2", "range": "1-3"}]
    a.put_object(objs, "slo", json.dumps(manifest).encode(), params={"multipart-manifest": "put"})
    a.put_object(objs, "dlo", b"", headers={"X-Object-Manifest": f"{segs}/s"})
    a.put_object(objs, "link", b"", headers={"X-Symlink-Target": f"{objs}/slo"})
    etag = hashlib.md5(b"A" * 10).hexdigest()
    a.put_object(objs, "static", b"", headers={"X-Symlink-Target": f"{segs}/s1", "X-Symlink-Target-Etag": etag})
    want = b"A" * 10 + b"BBB"
    assert a.get_body(objs, "slo") == want
    wait_until(lambda: len(b.listing(objs)) == 4 and len(b.listing(segs)) == 2, timeout=60, what="objects synced")
    assert _listing(a, objs) == _listing(b, objs)
    assert b.get_body(objs, "slo") == want
    assert b.req("HEAD", objs, "slo").headers["X-Static-Large-Object"] == "True"
    assert b.get_body(objs, "dlo") == b"A" * 10 + b"B" * 5
    assert b.get_body(objs, "link") == want and b.get_body(objs, "static") == b"A" * 10
    r = b.req("HEAD", objs, "static", params={"symlink": "get"})
    assert r.headers["X-Symlink-Target"] == f"{segs}/s1" and r.headers["X-Symlink-Target-Etag"] == etag
    # Without a sync signature the reserved header is still refused.
    r = b.req("PUT", objs, "forged", data=json.dumps([{"name": f"/{segs}/s1", "hash": "x", "bytes": 10}]),
              headers={"X-Static-Large-Object": "True"})
    assert r.status_code == 400


def test_settings_validation_visibility_and_info(object_nimbus, tmp_path):
    from object_support import swift_connection
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a, b = admin_account(n), _demo_account(n)
    c = a.put_container(unique("sync"))
    bad = {
        "//realm1/name1/a": "Invalid X-Container-Sync-To format '//realm1/name1/a'",
        "//nope/name1/a/c": "No realm key for 'nope'",
        "//realm1/other/a/c": "No cluster endpoint for 'realm1' 'other'",
        "ftp://127.0.0.1/v1/a/c": "Invalid scheme 'ftp' in X-Container-Sync-To, must be \"//\", \"http\", or \"https\".",
        "http://127.0.0.1": "Path required in X-Container-Sync-To",
        "http://127.0.0.1/v1/a/c?x=1": "Params, queries, and fragments not allowed in X-Container-Sync-To",
        "http://example.com/v1/a/c": "Invalid host 'example.com' in X-Container-Sync-To",
    }
    for value, message in bad.items():
        for method in ("PUT", "POST"):
            r = a.req(method, c, headers={"X-Container-Sync-To": value})
            assert r.status_code == 400 and r.text == message, (value, r.status_code, r.text)
    # A full URL on an allowed host (allow_full_urls is on by default) is accepted.
    assert a.req("POST", c, headers={"X-Container-Sync-To": "http://127.0.0.1:1/v1/AUTH_x/c"}).status_code == 204
    conn = swift_connection(n.auth_url, name=a.user.name, password=a.user.password, project="admin")
    conn.post_container(c, {"X-Container-Sync-To": _sync_to(b, "x"), "X-Container-Sync-Key": "k\u00e9y"})
    h = conn.head_container(c)
    assert h["x-container-sync-to"] == _sync_to(b, "x") and h["x-container-sync-key"] == "k\u00e9y"
    # A user the account ACL makes read-write may neither set nor see them.
    import json
    assert a.req("POST", headers={"X-Account-Access-Control": json.dumps({"read-write": [f"{b.user.project_id}:*"]})}).status_code == 204
    rw = b.on(a)
    assert rw.req("POST", c, headers={"X-Container-Sync-To": "//realm1/name1/AUTH_y/z", "X-Container-Sync-Key": "other"}).status_code == 204
    h = rw.req("HEAD", c).headers
    assert "X-Container-Sync-To" not in h and "X-Container-Sync-Key" not in h
    assert a.req("HEAD", c).headers["X-Container-Sync-To"] == _sync_to(b, "x")
    # Sync and object versioning exclude each other.
    v = a.put_container(unique("versioned"), headers={"X-Versions-Enabled": "true"})
    r = a.req("POST", v, headers={"X-Container-Sync-To": _sync_to(b, "x")})
    assert r.status_code == 400 and r.text == "Cannot configure container sync on a container with object versioning configured."
    r = a.req("POST", c, headers={"X-Versions-Enabled": "true"})
    assert r.status_code == 400 and r.text == "Cannot enable object versioning on a container configured as source of container syncing."
    info = requests.get(f"{n.base_url}/info", timeout=30).json()
    assert info["container_sync"] == {"realms": {"REALM1": {"clusters": {"NAME1": {"current": True}, "DOWN": {}}}}}


def test_receiving_side_checks_signatures_and_timestamps(object_nimbus, tmp_path):
    n, _ = _start(object_nimbus, tmp_path, interval=300)
    a = admin_account(n)
    c = a.put_container(unique("dest"), headers={"X-Container-Sync-Key": "sync-key"})
    ts = f"{time.time() - 100:.5f}"
    r = _synced(a, c, "o", "PUT", ts, data=b"synced", headers={"Content-Type": "text/x-synced"})
    assert r.status_code == 201, r.text
    h = a.req("HEAD", c, "o").headers
    assert h["X-Timestamp"] == ts and h["Content-Type"] == "text/x-synced"
    # key2 is accepted too; an older write is accepted (202) and changes nothing.
    r = _synced(a, c, "o", "PUT", f"{float(ts) - 10:.5f}", realm_key=REALM_KEY2, data=b"older")
    assert r.status_code == 202 and a.get_body(c, "o") == b"synced"
    r = _synced(a, c, "o", "DELETE", f"{float(ts) - 10:.5f}")
    assert r.status_code == 409 and a.req("HEAD", c, "o").status_code == 200
    # HEAD, as the daemon asks before sending.
    assert _synced(a, c, "o", "HEAD", "0").headers["X-Timestamp"] == ts
    # Bad signatures, unknown realms, a wrong user key, a malformed header: 401, Swift's body.
    for r in (_synced(a, c, "o", "PUT", ts, realm_key="wrong", data=b"x"),
              _synced(a, c, "o", "PUT", ts, realm="nope", data=b"x"),
              _synced(a, c, "o", "PUT", ts, user_key="other", data=b"x"),
              _synced(a, c, "o", "PUT", ts, user_key="sync-ke\u0301y", data=b"x"),
              requests.put(a.url_for(c, "o"), headers={"X-Container-Sync-Auth": "realm1 only-two"}, data=b"x", timeout=30),
              _synced(a, c, "o", "DELETE", f"{float(ts) + 1:.5f}", headers={"X-Timestamp": f"{float(ts) + 2:.5f}"})):
        assert r.status_code == 401, r.text
        assert r.text == "X-Container-Sync-Auth header not valid; contact cluster operator for support."
        assert r.headers["WWW-Authenticate"].startswith("SwiftContainerSync")
    # The signature covers the path: another object is refused.
    url = a.url_for(c, "o")
    nonce = uuid.uuid4().hex
    sig = _sign("PUT", urlparse(url).path, ts, nonce, REALM_KEY, "sync-key")
    r = requests.put(a.url_for(c, "other"), headers={"X-Timestamp": ts, "X-Container-Sync-Auth": f"realm1 {nonce} {sig}"}, data=b"x", timeout=30)
    assert r.status_code == 401
    # A container without a sync key accepts no sync requests.
    plain = a.put_container(unique("nokey"))
    assert _synced(a, plain, "o", "PUT", ts, data=b"x").status_code == 401
    # A client's own X-Timestamp is ignored (gatekeeper).
    a.put_object(c, "mine", b"x", headers={"X-Timestamp": "1000000000.00000"})
    assert float(a.req("HEAD", c, "mine").headers["X-Timestamp"]) > time.time() - 100
    r = _synced(a, c, "o", "PUT", "not-a-time", data=b"x")
    assert r.status_code == 400
    r = _synced(a, c, "o", "DELETE", f"{float(ts) + 1:.5f}")
    assert r.status_code == 204 and a.req("HEAD", c, "o").status_code == 404
    assert _synced(a, c, "o", "DELETE", f"{float(ts) + 2:.5f}").status_code == 404


def test_unreachable_or_missing_destination_is_retried(object_nimbus, tmp_path):
    dead = free_port()
    n, realms = _start(object_nimbus, tmp_path, endpoint_port=dead)
    a, b = admin_account(n), _demo_account(n)
    down, missing, good = (a.put_container(unique(p)) for p in ("down", "missing", "good"))
    dest = b.put_container(unique("dest"), headers={"X-Container-Sync-Key": "sync-key"})
    dest_missing = unique("later")
    for c in (down, missing, good):
        a.put_object(c, "obj", c.encode())
    heads = {"X-Container-Sync-Key": "sync-key"}
    assert a.req("POST", down, headers={**heads, "X-Container-Sync-To": _sync_to(b, dest + "-down", "down")}).status_code == 204
    assert a.req("POST", missing, headers={**heads, "X-Container-Sync-To": _sync_to(b, dest_missing)}).status_code == 204
    assert a.req("POST", good, headers={**heads, "X-Container-Sync-To": _sync_to(b, dest)}).status_code == 204
    # The others do not hold up the good one.
    wait_until(lambda: b.req("HEAD", dest, "obj").status_code == 200, timeout=30, what="good container synced")
    assert b.get_body(dest, "obj") == good.encode()
    # The missing destination appears: the next passes send the object.
    b.put_container(dest_missing, headers={"X-Container-Sync-Key": "sync-key"})
    wait_until(lambda: b.req("HEAD", dest_missing, "obj").status_code == 200, timeout=30, what="missing destination synced")
    # The dead cluster comes back (its endpoint now this cloud): the realms file is read again.
    b.put_container(dest + "-down", headers={"X-Container-Sync-Key": "sync-key"})
    _write_realms(realms, n.port, n.port)
    wait_until(lambda: b.req("HEAD", dest + "-down", "obj").status_code == 200, timeout=30, what="down destination synced")
    assert n.proc.poll() is None
