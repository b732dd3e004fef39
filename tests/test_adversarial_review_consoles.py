"""Adversarial review of the remote consoles (commit a5e03c0): the console proxy (noVNC's
files, the websocket; at /compute-console then, on a listener of its own since), `remote-consoles`, the `os-get*Console` actions,
`os-console-auth-tokens`, and a `nimbus compute` node's console stream. Fake driver on two nodes,
as tests/test_compute_consoles.py: node-a inside `nimbus up`, node-b a `nimbus compute` process.

The first part holds one test per finding: each FAILS while the bug is there. Expected behaviour
is Nova's (nova/console/websocketproxy.py on websockify, nova/api/openstack/compute/
remote_consoles.py) and RFC 6455 / RFC 9110 where Nova just relies on websockify and the HTTP
server. The second part ("held") guards what the review probed and found right.

Several findings were not in the console code itself but came from it: the commit had moved
both API listeners (`nimbus up`, `nimbus compute`) onto Hummingbird's websocket-upgrade
pipeline, which changed how EVERY request on those ports is parsed before the first request
head is complete. Fixed by giving the consoles listeners of their own (the controller's console
proxy, a node's console streams) and closing idle or unparseable connections there; the API
listeners are Hummingbird's plain HTTP/1.1 again. Two findings stay known gaps (xfail, strict).

The slow test (idle connections) is last and waits until 130 s after the module's cloud started,
the controller's idle timeout being 120 s; the whole file takes about 2.5 minutes.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import time
from urllib.parse import urlparse

import pytest
import requests

from compute_support import ComputeNodeProcess, ConsoleSocket, start_compute_cloud, stop_compute_cloud, wait_registered
from test_compute_servers import image_id

TIMEOUT = 30


# ---- fixture and helpers ----------------------------------------------------------------------

class Env:
    def __init__(self, cloud, node_b):
        self.cloud = cloud
        self.node_b = node_b
        self.base = cloud.base_url
        self.port = int(self.base.rsplit(":", 1)[1])
        self._cport = None
        self.admin = cloud.token()
        self.image = image_id(cloud)
        self.key = (cloud.nimbus.data_dir / "compute" / "agent-key").read_text().strip()
        self._demo = None
        self.servers: dict[str, str] = {}
        # Opened as the module starts, checked by the last test (idle timeout).
        self.idle_socks: dict[str, socket.socket] = {}
        self.idle_opened_at = 0.0

    @property
    def cport(self):
        """The console proxy's port (a listener of its own since the review)."""
        if self._cport is None:
            self._cport = int(urlparse(self.console_url(self.server("node-a"))).port)
        return self._cport

    @property
    def demo(self):
        if self._demo is None:
            self._demo = self.cloud.token("demo", self.cloud.nimbus.read_password("demo"), "demo")
        return self._demo

    def nova(self, method, path, token=None, version="2.96", **kw):
        h = {"X-Auth-Token": token or self.admin, "OpenStack-API-Version": f"compute {version}"}
        return requests.request(method, f"{self.base}/compute/v2.1{path}", headers=h, timeout=TIMEOUT, **kw)

    def boot(self, name, host):
        body = {"server": {"name": name, "imageRef": self.image, "flavorRef": "42", "networks": "none",
                           "availability_zone": f"nova:{host}"}}
        r = self.nova("POST", "/servers", json=body)
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        self.cloud.wait_server(sid, "ACTIVE", timeout=60)
        return sid

    def server(self, host):
        """A long-lived server on `host` shared by the tests that do not change it."""
        if host not in self.servers:
            self.servers[host] = self.boot(f"adv-console-{host}", host)
        return self.servers[host]

    def console_url(self, sid, protocol="serial", type_="serial", token=None):
        r = self.nova("POST", f"/servers/{sid}/remote-consoles", token=token, version="2.6",
                      json={"remote_console": {"protocol": protocol, "type": type_}})
        assert r.status_code == 200, r.text
        return r.json()["remote_console"]["url"]

    def serial_token(self, sid):
        return self.console_url(sid).split("token=", 1)[1]

    def rss_mb(self, pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) // 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("adv-consoles"), "fake",
                                      {"compute": {"host": "node-a", "agent_interval_s": "2"}})
    node = ComputeNodeProcess(cloud, "node-b", data / "node-b")
    e = None
    try:
        node.start()
        wait_registered(cloud, node, ["node-a", "node-b"])
        e = Env(cloud, node)
        # slowloris-style connections, checked at the end of the module
        e.idle_opened_at = time.monotonic()
        for name, data_ in [("nothing sent", b""), ("half a request head", b"GET /identity/v3 HTTP/1.1\r\nHost: x\r\n"),
                            ("half a websocket handshake", b"GET /websockify?token=x HTTP/1.1\r\nUpgrade: websocket\r\n")]:
            s = socket.create_connection(("127.0.0.1", e.port), timeout=10)
            if data_:
                s.sendall(data_)
            e.idle_socks[name] = s
        # the same on the console listeners (their idle timeout is 60 s)
        for name, port in [("console proxy", e.cport), ("node console streams", node.console_port)]:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /websockify?token=x HTTP/1.1\r\nUpgrade: websocket\r\n")
            e.idle_socks[name] = s
        yield e
    finally:
        if e:
            for s in e.idle_socks.values():
                s.close()
        stop_compute_cloud(cloud, data)
        node.stop()


def exchange(port, data: bytes, wait: float = 8.0) -> tuple[bytes, str]:
    """Sends `data` on a new connection and reads until the server closes or `wait` passes.
    Returns (what came back, "closed" | "open")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return b"", "closed"
        except socket.timeout:
            return b"", "open"   # the server stopped reading and kept the connection
        out = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out, "closed"
            if not chunk:
                return out, "closed"
            out += chunk
        return out, "open"
    finally:
        s.close()


def status_of(response: bytes) -> int:
    try:
        return int(response.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def ws_head(target, host, extra=(), method="GET", key=True, version="13", upgrade=True) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
    if key:
        lines.append("Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode())
    if version:
        lines.append("Sec-WebSocket-Version: " + version)
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode: int, payload: bytes, fin=True, mask=True) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    k = os.urandom(4)
    return head + k + bytes(b ^ k[i % 4] for i, b in enumerate(payload))


def frames_until_quiet(ws: ConsoleSocket, wait: float = 3.0) -> list:
    """Frames the server sends until it closes ("EOF") or is quiet for `wait` s ("QUIET")."""
    ws.sock.settimeout(wait)
    got = []
    try:
        while True:
            f = ws.receive()
            if f is None:
                got.append("EOF")
                return got
            got.append(f)
    except socket.timeout:
        got.append("QUIET")
    except ConnectionResetError:
        got.append("EOF")
    return got


def open_serial(env, host="node-a") -> ConsoleSocket:
    ws = ConsoleSocket(env.console_url(env.server(host)), protocol=None, timeout=10)
    assert ws.status == 101, ws.response
    return ws


def api_healthy(env):
    r = requests.get(env.base + "/identity/v3", timeout=10)
    assert r.status_code == 200, r.text


# ==== findings: each of these fails against a5e03c0 =============================================

@pytest.mark.parametrize("where", ["controller", "compute-node"])
def test_h2c_upgrade_header_is_ignored_not_answered_with_an_empty_reply(env, where):
    """FINDING (high). `curl --http2 http://…` (and any client or proxy that sends an Upgrade it
    may ignore) gets "Empty reply from server" on EVERY endpoint of both listeners since they moved
    onto the websocket-upgrade pipeline. RFC 9110 §7.8: a server MAY ignore Upgrade and answer over
    HTTP/1.1 — as every endpoint did before this commit and as Nova's eventlet/uwsgi servers do."""
    port = env.port if where == "controller" else env.node_b.port
    path = "/identity/v3" if where == "controller" else "/healthcheck"
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n").encode()
    out, _ = exchange(port, req, wait=5)
    assert status_of(out) == 200, out[:300]


def test_partial_websocket_headers_on_an_api_request_still_get_an_answer(env):
    """FINDING (high, same cause). `Upgrade: websocket` without `Connection: Upgrade` (what a
    proxy that strips hop-by-hop Connection leaves behind) or without the websocket key on an
    ordinary API GET: the connection is dropped with no response at all."""
    for extra in ("Upgrade: websocket\r\n", "Upgrade: websocket\r\nConnection: Upgrade\r\n"):
        out, _ = exchange(env.port, f"GET /identity/v3 HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode(), wait=5)
        assert status_of(out) == 200, (extra, out[:300])


def test_post_with_an_upgrade_header_is_answered(env):
    """FINDING (medium, same cause). A POST that carries websocket upgrade headers and a body
    (here a token request) gets no response and the connection is held open; it should be
    answered normally (201) or refused (400), not hang."""
    body = ('{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", '
            '"domain": {"id": "default"}, "password": "%s"}}}}}' % env.cloud.admin_password).encode()
    req = (b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    out, state = exchange(env.port, req, wait=8)
    assert status_of(out) in (201, 400), (state, out[:300])


@pytest.mark.parametrize("where", ["controller", "compute-node"])
@pytest.mark.parametrize("request_bytes", [b"GARBAGE GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"], ids=["garbage", "bad-version"])
def test_malformed_request_is_refused_and_closed(env, where, request_bytes):
    """FINDING (high: descriptor exhaustion). A request line the HTTP parser rejects gets neither
    a response nor a close: the connection stays open indefinitely (no idle timeout either, see
    the last test), so anyone can pin file descriptors on the controller and on every node.
    Expected: 400 (or at least the connection closed), as before the websocket pipeline."""
    port = env.port if where == "controller" else env.node_b.port
    out, state = exchange(port, request_bytes, wait=8)
    assert state == "closed" or status_of(out) == 400, (state, out[:200])


def test_oversized_request_head_is_refused_and_closed(env):
    """FINDING (high, same cause). A head over the parser's limit (a 100 KB URL — e.g. a console
    URL with a huge token, or a 200 KB header) is never answered and never closed; the server
    even stops reading, so the client blocks in send. Expected: 414/431/400 and a close."""
    out, state = exchange(env.cport, f"GET /websockify?token={'a' * 100000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), wait=8)
    assert state == "closed" or status_of(out) in (400, 414, 431), (state, out[:200])
    out, state = exchange(env.port, f"GET /identity/v3 HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 200000}\r\n\r\n".encode(), wait=8)
    assert state == "closed" or status_of(out) in (400, 431), (state, out[:200])
    api_healthy(env)


@pytest.mark.xfail(strict=True, reason="known gap: NIO's websocket upgrader drops a handshake it cannot accept "
                   "(the connection is closed at once, no 400/426); nothing is relayed or held")
@pytest.mark.parametrize("case", ["no-key", "version-8", "no-version"])
def test_malformed_websocket_handshake_gets_an_http_error(env, case):
    """FINDING (medium). A console-proxy handshake without Sec-WebSocket-Key, or with a version
    other than 13, is answered with nothing (connection dropped), so a careless client cannot tell
    what went wrong. websockify answers 400 ("Missing Sec-WebSocket-Key header" / unsupported
    version); RFC 6455 §4.2.2 and §4.4: 400, and 426 plus `Sec-WebSocket-Version: 13` for a wrong
    version."""
    target = "/websockify?token=" + env.serial_token(env.server("node-a"))
    kw = {"no-key": {"key": False}, "version-8": {"version": "8"}, "no-version": {"version": None}}[case]
    out, _ = exchange(env.cport, ws_head(target, f"127.0.0.1:{env.cport}", **kw), wait=5)
    assert status_of(out) in (400, 426), out[:300]
    if case == "version-8" and status_of(out) == 426:
        assert b"sec-websocket-version: 13" in out.lower()


def test_websocket_upgrade_only_for_get(env):
    """FINDING (low). POST or PUT with a valid token and upgrade headers is switched to a console
    websocket (101). RFC 6455 §4.1: the handshake MUST be a GET; websockify only upgrades in
    do_GET (other methods: 405/501)."""
    target = "/websockify?token=" + env.serial_token(env.server("node-a"))
    for method in ("POST", "PUT"):
        out, _ = exchange(env.cport, ws_head(target, f"127.0.0.1:{env.cport}", method=method, extra=["Content-Length: 0"]), wait=3)
        assert status_of(out) != 101, (method, out[:200])


@pytest.mark.xfail(strict=True, reason="known gap: swift-websocket passes unmasked client frames and an orphan "
                   "continuation on instead of failing the connection (RFC 6455 5.1/5.4); the bytes only reach the "
                   "caller's own console")
def test_unmasked_and_orphan_continuation_frames_fail_the_connection(env):
    """FINDING (low). A client frame without a mask, and a continuation frame with no message
    to continue, are both relayed to the console (the serial port echoes them back). RFC 6455
    §5.1 / §5.4: the server MUST close the connection (1002); websockify closes on an unmasked
    frame."""
    for bad in (frame(2, b"unmasked", mask=False), frame(0, b"orphan")):
        ws = open_serial(env)
        try:
            ws.sock.sendall(bad)
            got = frames_until_quiet(ws)
            assert got[-1] == "EOF" and not any(isinstance(f, tuple) and f[0] in (1, 2) for f in got), (bad[:2], got)
        finally:
            ws.close()


@pytest.mark.parametrize("host", ["node-a", "node-b"])
def test_console_client_that_never_reads_does_not_grow_memory_without_bound(env, host):
    """FINDING (medium on the fake driver). The fake serial console echoes into an unbounded
    AsyncThrowingStream, so a client that writes without reading makes the process holding the
    console (the controller for node-a, `nimbus compute` for node-b) buffer everything it sent:
    ~370 MB of RSS for 370 MB sent in 40 s, no backpressure. Expected: the proxy stops reading
    the websocket while the console's output is not consumed (the relay's own backpressure works:
    through node-b the controller stays flat), so the sender blocks and memory stays bounded."""
    pid = env.cloud.nimbus.proc.pid if host == "node-a" else env.node_b.proc.pid
    ws = open_serial(env, host)
    try:
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = env.rss_mb(pid)
        payload = b"y" * 65000
        mask = b"\0\0\0\0"   # a zero mask: the payload goes as is
        one = bytes([0x82, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + payload
        ws.sock.settimeout(3)
        sent, start = 0, time.monotonic()
        try:
            while sent < 120 << 20 and time.monotonic() - start < 25:
                ws.sock.sendall(one)
                sent += len(one)
        except socket.timeout:
            pass   # backpressure: the server stopped reading
        grown = env.rss_mb(pid) - before
        assert grown < 48, f"{host}: sent {sent >> 20} MB without reading; the process grew by {grown} MB"
    finally:
        ws.close()
    time.sleep(1)
    api_healthy(env)


def test_origin_is_checked_as_nova_does(env):
    """FINDING (low). The Origin check is looser than Nova's NovaProxyRequestHandler: an Origin
    with no scheme ("127.0.0.1") is accepted (Nova: "Origin header not valid"), as are two Origin
    headers whose first one matches, and `http://[::1]evil.example` when the Host is [::1]
    (Nova compares urlparse(origin).hostname, which is not ::1 there)."""
    target = "/websockify?token=" + env.serial_token(env.server("node-a"))
    cases = [
        (f"127.0.0.1:{env.cport}", ["Origin: 127.0.0.1"]),
        (f"127.0.0.1:{env.cport}", [f"Origin: http://127.0.0.1:{env.cport}", "Origin: http://evil.example"]),
        (f"[::1]:{env.cport}", [f"Origin: http://[::1]evil.example:{env.cport}"]),
    ]
    for host, extra in cases:
        out, _ = exchange(env.cport, ws_head(target, host, extra=extra), wait=3)
        assert status_of(out) == 400, (extra, out[:200])


@pytest.mark.parametrize("host", ["node-a", "node-b"])
def test_open_console_ends_when_its_server_is_deleted(env, host):
    """FINDING (low, fake driver fidelity). A console websocket opened before the server is
    deleted keeps working afterwards: the fake serial port still echoes a deleted instance's
    input. With Nova (and Nimbus' QEMU driver) the guest's console socket goes away with the
    guest, so the proxy closes the websocket."""
    sid = env.boot(f"adv-delete-{host}", host)
    ws = ConsoleSocket(env.console_url(sid), protocol=None, timeout=10)
    try:
        assert ws.status == 101, ws.response
        ws.send(b"before")
        assert ws.receive_data() == b"before"
        assert env.nova("DELETE", f"/servers/{sid}").status_code == 204
        env.cloud.wait_server(sid, "DELETED", timeout=60)
        time.sleep(2)   # the console goes with the guest, not in the same instant as the API's answer
        ws.sock.settimeout(8)
        try:
            ws.send(b"after delete")
            got = ws.receive_data()
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            got = None
        assert got is None, f"the console of deleted {sid} still answers: {got!r}"
    finally:
        ws.close()


def test_node_stream_refuses_an_unknown_instance_before_upgrading(env):
    """FINDING (low). With the right compute key, the node's console stream answers 101 for an
    instance it does not have (or an id that is not an instance id at all) and only then closes,
    where its plain GET /consoles/<id> says 404; and a missing/wrong key is a bare 400 instead of
    the 401 every other node endpoint gives. The controller's relay therefore cannot tell "no such
    console" from "wrong key" from a console that closed."""
    port, host = env.node_b.console_port, f"127.0.0.1:{env.node_b.console_port}"
    other = env.server("node-a")   # not on node-b
    for target in (f"/compute-node/v1/consoles/{other}/stream?kind=serial", "/compute-node/v1/consoles/..%2F..%2Fetc/stream?kind=serial"):
        out, _ = exchange(port, ws_head(target, host, extra=[f"X-Compute-Key: {env.key}"]), wait=3)
        assert status_of(out) in (400, 404), (target, out[:200])
    # a missing key is refused before the upgrade too: a bare 400 on the console listener (as a
    # bad token is at the proxy), not a 101
    out, _ = exchange(port, ws_head(f"/compute-node/v1/consoles/{other}/stream?kind=serial", host), wait=3)
    assert status_of(out) in (400, 401), out[:200]


# ==== held: probed and found right ==============================================================

def test_held_tokens_are_scoped_and_policy_applies(env):
    sid = env.server("node-a")
    # another project's member: not found; the token lookup is admin only
    r = env.nova("POST", f"/servers/{sid}/remote-consoles", token=env.demo, version="2.6",
                 json={"remote_console": {"protocol": "serial", "type": "serial"}})
    assert r.status_code == 404, r.text
    token = env.serial_token(sid)
    assert env.nova("GET", f"/os-console-auth-tokens/{token}", version="2.31", token=env.demo).status_code == 403
    assert requests.get(f"{env.base}/compute/v2.1/os-console-auth-tokens/{token}", timeout=10,
                        headers={"OpenStack-API-Version": "compute 2.31"}).status_code == 401
    assert env.nova("DELETE", f"/os-console-auth-tokens/{token}", version="2.31").status_code == 405
    # schema edge cases
    for body in (None, [], "x", {"remote_console": None}, {"remote_console": {"protocol": "VNC", "type": "novnc"}},
                 {"remote_console": {"protocol": 1, "type": "novnc"}}):
        r = env.nova("POST", f"/servers/{sid}/remote-consoles", version="2.6", json=body)
        assert r.status_code == 400, (body, r.text)
    for v, status in (("2.5", 404), ("2.6", 200), ("2.8", 200), ("2.31", 200), ("latest", 200)):
        r = env.nova("POST", f"/servers/{sid}/remote-consoles", version=v, json={"remote_console": {"protocol": "serial", "type": "serial"}})
        assert r.status_code == status, (v, r.text)


def test_held_bad_tokens_are_refused_and_the_cookie_and_query_work(env):
    sid = env.server("node-a")
    token = env.serial_token(sid)
    host = f"127.0.0.1:{env.cport}"
    for target, extra in [(f"/websockify?token={token.upper()}", []),
                          (f"/websockify?token=bad&token={token}", []),
                          ("/websockify?token=%00", []),
                          (f"/websockify?token={'a' * 60000}", []),
                          (f"/WEBSOCKIFY?token={token}", []),
                          (f"/x/../websockify?token={token}", []),
                          (f"/websockify?token={token}", ["Origin: http://evil.example"]),
                          (f"/websockify?token={token}", ["Origin: null"]),
                          (f"/websockify?token={token}", ["Sec-WebSocket-Protocol: chat"])]:
        out, _ = exchange(env.cport, ws_head(target, host, extra=extra), wait=3)
        assert status_of(out) == 400, (target[:60], extra, out[:200])
    for target, extra in [(f"/websockify?token={token}", [f"Origin: http://127.0.0.1:{env.cport}"]),
                          ("/websockify", [f"Cookie: a=b; token={token}"]),
                          (f"/websockify/?token={token}", [])]:
        out, _ = exchange(env.cport, ws_head(target, host, extra=extra), wait=1)
        assert status_of(out) == 101, (target[:60], extra, out[:200])
    api_healthy(env)


def test_held_static_files_stay_inside_novnc(env):
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/app/..%2f..%2f..%2fetc%2fpasswd", "/%252e%252e/etc/passwd",
                 "/vnc_lite.html%00.png", "//etc/passwd", "/%2fetc%2fpasswd",
                 "/%c0%ae%c0%ae/etc/passwd", "/app", "/" + "a/" * 3000 + "x"):
        out, _ = exchange(env.cport, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), wait=5)
        # (a directory of noVNC's, `/app`, is redirected to `/app/`, which lists nothing)
        assert status_of(out) in (400, 404, 414) or (path == "/app" and status_of(out) == 301), (path[:60], out[:200])
        assert b"root:" not in out, (path[:60], out[:200])
    for method in ("OPTIONS", "DELETE", "PUT", "TRACE"):
        out, _ = exchange(env.cport, f"{method} /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode(), wait=5)
        # refused, never served: Hummingbird's FileMiddleware serves GET and HEAD only
        assert status_of(out) in (404, 405) and b"noVNC" not in out, (method, out[:200])


def test_held_protocol_violations_close_with_the_right_codes(env):
    for bad, code in ((frame(9, b"x" * 200), 1002), (frame(9, b"p", fin=False), 1002), (frame(3, b"x"), 1002),
                      (bytes([0x82, 0xFF]) + (1 << 62).to_bytes(8, "big") + b"abcd", 1009)):
        ws = open_serial(env, "node-b")
        try:
            ws.sock.sendall(bad)
            got = frames_until_quiet(ws)
            closes = [f for f in got if isinstance(f, tuple) and f[0] == 8]
            assert closes and int.from_bytes(closes[0][1][:2], "big") == code and got[-1] == "EOF", (bad[:2], got)
        finally:
            ws.close()
    # fragmented messages pass through
    ws = open_serial(env, "node-b")
    try:
        ws.sock.sendall(frame(2, b"ab", fin=False) + frame(0, b"cd", fin=False) + frame(0, b"ef"))
        got = b""
        while len(got) < 6:
            got += ws.receive_data()
        assert got == b"abcdef"
    finally:
        ws.close()


def test_held_many_concurrent_consoles_and_the_api_stays_responsive(env):
    ua, ub = env.console_url(env.server("node-a")), env.console_url(env.server("node-b"))
    socks = []
    try:
        for i in range(150):
            ws = ConsoleSocket(ua if i % 3 else ub, protocol=None, timeout=10)
            assert ws.status == 101, (i, ws.response)
            socks.append(ws)
        started = time.monotonic()
        api_healthy(env)
        assert time.monotonic() - started < 2
        for ws in socks[-2:]:
            ws.send(b"still echoing")
            assert ws.receive_data() == b"still echoing"
    finally:
        for ws in socks:
            ws.close()


# ---- last: it waits for the idle timeout ------------------------------------------------------

def test_zz_idle_and_slowloris_connections_are_closed_by_the_idle_timeout(env):
    """FINDING (high: descriptor exhaustion). The listener's 120 s idle timeout only starts once
    a request head has been parsed: a connection that sends nothing, half a request head, or
    half a websocket handshake is held open forever (observed: still open after 170 s, not closed
    since). Before this commit Hummingbird's plain HTTP/1 channel applied the idle timeout from
    accept; websockify/Nova's eventlet server drop such clients too. Expected: closed within the
    idle timeout."""
    remaining = env.idle_opened_at + 130 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    still_open = []
    for name, s in env.idle_socks.items():
        r, _, _ = select.select([s], [], [], 0)
        closed = False
        if r:
            try:
                closed = s.recv(65536) == b"" or True   # any answer (a 408/400 then close) is fine
            except (ConnectionResetError, OSError):
                closed = True
        if not closed:
            still_open.append(name)
    assert not still_open, f"still open {round(time.monotonic() - env.idle_opened_at)} s after connecting: {still_open}"
