"""Remote consoles: `POST /servers/{id}/remote-consoles` (2.6+), the `os-get*Console` actions
(up to 2.5), `os-console-auth-tokens`, and the console proxy on its own listener (noVNC's page
and the websocket) — on the fake driver, whose consoles are an RFB 3.8 handshake and an echoing
serial port, on the node inside `nimbus up` (node-a) and on a `nimbus compute` node (node-b,
relayed by the controller over a websocket). The real QEMU consoles are in test_compute_qemu.py.

Expected behaviour: nova/api/openstack/compute/remote_consoles.py and console_auth_tokens.py,
their schemas, nova/compute/api.py and manager.py (get_vnc_console, get_serial_console), Nova's
websocketproxy (token and Origin checks), Tempest's test_novnc.py and NoVNCValidateMixin."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from compute_support import ConsoleSocket, two_node_cloud
from test_compute_moves import boot


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with two_node_cloud(tmp_path_factory, "consoles", {"consoleauth": {"token_ttl": "4"}}) as cloud:
        yield cloud


def remote_console(cloud, sid, protocol, type_, version="2.6", token=None):
    return cloud.nova("POST", f"/servers/{sid}/remote-consoles", json={"remote_console": {"protocol": protocol, "type": type_}},
                      version=version, token=token)


def vnc_url(cloud, sid):
    r = remote_console(cloud, sid, "vnc", "novnc")
    assert r.status_code == 200, r.text
    body = r.json()["remote_console"]
    assert body["protocol"] == "vnc" and body["type"] == "novnc", body
    return body["url"]


@pytest.mark.parametrize("host", ["node-a", "node-b"])
def test_novnc_page_and_rfb_handshake_through_the_proxy(cloud, host):
    sid = boot(cloud, f"vnc-{host}", host)
    url = vnc_url(cloud, sid)
    proxy = url.split("/vnc_lite.html")[0]
    assert url.startswith("http://127.0.0.1:") and proxy != cloud.base_url and url.startswith(proxy + "/vnc_lite.html?path=websockify%3Ftoken%3D"), url
    # the page: noVNC's html with its scripts, as Tempest's validate_novnc_html checks
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "noVNC" in page.text and "<script" in page.text and "</html>" in page.text, page.text[:300]
    assert page.headers["Content-Type"].startswith("text/html")
    ws = ConsoleSocket(url)
    try:
        assert ws.status == 101 and "upgrade: websocket" in ws.response.lower(), ws.response
        assert "sec-websocket-protocol: binary" in ws.response.lower(), ws.response
        init = ws.rfb_handshake()
        assert sid.encode() in init, init
    finally:
        ws.close()
    # the token is good for more than one connection until it expires
    again = ConsoleSocket(url)
    try:
        assert again.status == 101
        again.rfb_handshake()
    finally:
        again.close()


def test_serial_console_echoes_through_the_proxy_and_the_cli_shows_urls(cloud):
    for host in ("node-a", "node-b"):
        sid = boot(cloud, f"serial-{host}", host)
        r = remote_console(cloud, sid, "serial", "serial")
        assert r.status_code == 200, r.text
        url = r.json()["remote_console"]["url"]
        assert url.startswith("ws://") and "/websockify?token=" in url, url
        ws = ConsoleSocket(url, protocol=None)
        try:
            assert ws.status == 101, ws.response
            ws.send(b"hello serial\n")
            got = b""
            while b"hello serial" not in got:
                data = ws.receive_data()
                assert data is not None, got
                got += data
        finally:
            ws.close()
    # the CLI (python-openstackclient's `console url show`)
    shown = cloud.cli("console", "url", "show", "--novnc", sid, "-f", "json")
    assert shown["type"] == "novnc" and "/vnc_lite.html?path=" in shown["url"], shown
    shown = cloud.cli("console", "url", "show", "--serial", sid, "-f", "json")
    assert shown["type"] == "serial" and shown["url"].startswith("ws://"), shown


def test_bad_tokens_origins_and_protocols_are_refused_before_the_upgrade(cloud):
    sid = boot(cloud, "refusals", "node-a")
    url = vnc_url(cloud, sid)
    q = parse_qs(urlparse(url).query)
    bad = url.split("?")[0] + "?path=" + requests.utils.quote(q["path"][0].replace("token=", "token=bad"))
    for target, kw in [(bad, {}), (url, {"origin": "http://evil.example"}), (url, {"protocol": "base64"})]:
        ws = ConsoleSocket(target, **kw)
        try:
            # a bare 400 and the connection closed: Tempest's test_novnc_bad_token reads nothing
            assert ws.status == 400, ws.response
            assert ws.receive() is None
        finally:
            ws.close()
    # the same host as Origin is fine (noVNC in a browser)
    proxy = url.split("/vnc_lite.html")[0]
    ws = ConsoleSocket(url, origin=proxy)
    try:
        assert ws.status == 101, ws.response
    finally:
        ws.close()
    # a plain GET of the websocket path is a 400, not a hang
    r = requests.get(proxy + "/websockify", timeout=10)
    assert r.status_code == 400, r.text
    # noVNC's files only: no way out of its directory
    for path in ("/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/.hidden", "/app/%2F..%2F..%2Fetc%2Fpasswd"):
        r = requests.get(proxy + path, timeout=10)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert "root:" not in r.text
    r = requests.post(proxy + "/vnc_lite.html", timeout=10)
    assert r.status_code in (404, 405), r.text   # only GET and HEAD serve files
    # the API's own listener has no console routes
    assert requests.get(cloud.base_url + "/vnc_lite.html", timeout=10).status_code == 404


def test_tokens_expire_and_die_with_their_server(cloud):
    sid = boot(cloud, "expiry", "node-a")
    url = vnc_url(cloud, sid)
    time.sleep(5)   # token_ttl is 4 s in this cloud
    ws = ConsoleSocket(url)
    try:
        assert ws.status == 400, ws.response
    finally:
        ws.close()
    url = vnc_url(cloud, sid)
    cloud.nova("DELETE", f"/servers/{sid}")
    cloud.wait_server(sid, "DELETED", timeout=60)
    ws = ConsoleSocket(url)
    try:
        assert ws.status == 400, ws.response
    finally:
        ws.close()


def test_remote_console_errors_as_nova_answers_them(cloud):
    sid = boot(cloud, "errors", "node-a")
    cases = [
        (("spice", "spice-html5", "2.6"), 400, "Unavailable console type spice-html5."),
        (("vnc", "xvpvnc", "2.6"), 400, "Invalid console type xvpvnc"),
        (("rdp", "rdp-html5", "2.6"), 400, "Unavailable console type rdp."),
        (("mks", "webmks", "2.6"), 400, "Invalid input for field/attribute"),
        (("mks", "webmks", "2.8"), 400, "Unavailable console type webmks."),
        (("serial", "novnc", "2.6"), 400, "Invalid console type novnc"),
        (("vnc", "novnc", "2.5"), 404, ""),
    ]
    for (proto, type_, version), status, message in cases:
        r = remote_console(cloud, sid, proto, type_, version=version)
        assert r.status_code == status, (proto, type_, version, r.text)
        if message:
            assert message in r.json()["badRequest"]["message"], r.text
    for body in ({}, {"remote_console": {"protocol": "vnc"}}, {"remote_console": {"protocol": "vnc", "type": "novnc", "x": 1}}):
        r = cloud.nova("POST", f"/servers/{sid}/remote-consoles", json=body, version="2.6")
        assert r.status_code == 400, r.text
    # another project's server is not found; a stopped server has no console (409)
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    r = remote_console(cloud, sid, "vnc", "novnc", token=demo)
    assert r.status_code == 404, r.text
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    cloud.wait_server(sid, "SHUTOFF", timeout=60)
    r = remote_console(cloud, sid, "vnc", "novnc")
    assert r.status_code == 409, r.text
    # the legacy actions, up to 2.5
    assert cloud.nova("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
    cloud.wait_server(sid, "ACTIVE", timeout=60)
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"os-getVNCConsole": {"type": "novnc"}}, version="2.1")
    assert r.status_code == 200 and r.json()["console"]["type"] == "novnc" and "path=" in r.json()["console"]["url"], r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"os-getSerialConsole": {"type": "serial"}}, version="2.1")
    assert r.status_code == 200 and r.json()["console"]["url"].startswith("ws://"), r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"os-getVNCConsole": {"type": "novnc"}}, version="2.6")
    assert r.status_code == 404, r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"os-getVNCConsole": {"type": "bogus"}}, version="2.1")
    assert r.status_code == 400, r.text
    r = cloud.nova("POST", f"/servers/{sid}/action", json={"os-getSPICEConsole": {"type": "spice-html5"}}, version="2.1")
    assert r.status_code == 400 and "Unavailable console type spice-html5." in r.text, r.text


def test_console_auth_tokens_for_admins(cloud):
    sid = boot(cloud, "tokens", "node-b")
    url = vnc_url(cloud, sid)
    token = parse_qs(urlparse(parse_qs(urlparse(url).query)["path"][0]).query)["token"][0]
    r = cloud.nova("GET", f"/os-console-auth-tokens/{token}", version="2.31")
    assert r.status_code == 200, r.text
    assert r.json()["console"] == {"instance_uuid": sid, "host": "node-b", "port": 0, "internal_access_path": None}
    assert cloud.nova("GET", f"/os-console-auth-tokens/{token}", version="2.30").status_code == 400
    assert cloud.nova("GET", "/os-console-auth-tokens/not-a-token", version="2.31").status_code == 404
    assert cloud.nova("GET", "/os-console-auth-tokens/" + "a" * 5000, version="2.31").status_code == 404
    demo = cloud.token("demo", cloud.nimbus.read_password("demo"), "demo")
    r = cloud.nova("GET", f"/os-console-auth-tokens/{token}", version="2.31", token=demo)
    assert r.status_code == 403, r.text
