"""Shared helpers for the adversarial suite, tests/test_adversarial_*.py.

Each adversarial test proves one finding of an adversarial probe of Nimbus: it fails
while the bug is there and passes once it is fixed.  The expected behaviour is the real
OpenStack service's, read from its source (swift, keystone, glance); every test's
docstring names the file.

Here:
* `raw_request` / `raw_exchange`: HTTP on a plain socket, for paths that must reach the
  server byte for byte (`%FF`, `%00`, `%252F`) and for bodies that end before their
  Content-Length or before the last chunk (the client half-closes, then reads the answer).
* hypothesis settings (`PROPERTY`): few examples, no deadline, derandomized, so CI is
  repeatable and quick; the function-scoped fixtures are fine to share between examples
  because every example makes its own, uniquely named resources.
* Unicode material: pairs of canonically equivalent but byte-different strings
  (`EQUIVALENT_PAIRS`), and text strategies for names.
* Identity shortcuts (trusts, application credentials) used by several modules.
"""

from __future__ import annotations

import json
import socket
import time
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlparse

import requests
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

TIMEOUT = 30


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- hypothesis ---------------------------------------------------------------------

def PROPERTY(max_examples: int = 20):
    """Settings for the property tests: small, deterministic, no per-example deadline."""
    # no shrinking: a failing example is already small, and shrinking against a live
    # server multiplies the run time of a failing test
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# Canonically equivalent (NFC/NFD-equal) but byte-different strings.  Swift's String `==`
# says each pair is equal; every OpenStack service compares names as bytes (Python str
# equality is code point equality; SQL compares the stored bytes), so they are different
# names there.
EQUIVALENT_PAIRS: list[tuple[str, str]] = [
    ("\u00e9", "e\u0301"),                 # é precomposed / e + COMBINING ACUTE ACCENT
    ("\u00c5", "A\u030a"),                 # Å / A + COMBINING RING ABOVE
    ("\u00c5", "\u212b"),                  # Å / ANGSTROM SIGN
    ("A\u030a", "\u212b"),                 # A + ring / ANGSTROM SIGN
    ("K", "\u212a"),                       # K / KELVIN SIGN
    (";", "\u037e"),                       # ; / GREEK QUESTION MARK
    ("\u03a9", "\u2126"),                  # Ω / OHM SIGN
    ("\u00f1", "n\u0303"),                 # ñ / n + COMBINING TILDE
    ("\uac00", "\u1100\u1161"),            # 가 / conjoining jamo
    ("\u0323\u0307", "\u0307\u0323"),      # two combining marks in either order (ccc 220/230)
    ("\u1e0d\u0307", "d\u0323\u0307"),     # ḍ + dot above / d + dot below + dot above
]
for _a, _b in EQUIVALENT_PAIRS:
    assert _a != _b and unicodedata.normalize("NFD", _a) == unicodedata.normalize("NFD", _b), (_a, _b)

# Material around the pair: plain letters, private-use characters (U+E000..U+E0FF),
# combining marks (so a name can start with one), other scripts.
_AROUND = st.text(alphabet=st.sampled_from(
    list("abcxyz019-_.~") + ["\ue000", "\ue0ff", "\uf8ff", "\u0301", "\u0308", "\u0901",
                             "\u00df", "\u4e2d", "\U0001f600", "\u200d", "\ufeff"]),
    min_size=0, max_size=6)


@st.composite
def equivalent_names(draw, prefix_required: bool = False):
    """(a, b): two names that differ only in one canonically equivalent pair, so
    a != b as code points (and bytes) but NFC(a) == NFC(b)."""
    x, y = draw(st.sampled_from(EQUIVALENT_PAIRS))
    if draw(st.booleans()):
        x, y = y, x
    before = draw(_AROUND)
    after = draw(_AROUND)
    if prefix_required:   # start with a plain letter, so no name starts with a mark
        before = "n" + before
    a, b = before + x + after, before + y + after
    assert a != b and unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)
    return a, b


def name_text(min_size: int = 1, max_size: int = 20, exclude: str = "", no_controls: bool = False):
    """Random valid Unicode text: no surrogates, no NUL, none of `exclude`."""
    categories = ["Cs"] + (["Cc"] if no_controls else [])
    return st.text(alphabet=st.characters(exclude_categories=categories,
                                          exclude_characters="\x00" + exclude),
                   min_size=min_size, max_size=max_size)


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


# ---- raw HTTP -------------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict            # lower-cased names
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


def _parse_response(data: bytes, elapsed: float) -> RawResponse:
    if not data:
        raise AssertionError("the server closed the connection without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0].startswith("HTTP/"), lines[0]
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                break
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return RawResponse(status, headers, body, elapsed)


def raw_exchange(base_url: str, head: bytes, body: bytes = b"", *, half_close: bool = True,
                 timeout: float = 15.0) -> RawResponse:
    """Send `head` (the request line and headers, ending in CRLF CRLF) and `body` on a new
    connection, half-close it (shutdown(SHUT_WR)) and read the answer until the server
    closes or the first complete response is in."""
    u = urlparse(base_url)
    started = time.monotonic()
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as sock:
        try:
            sock.sendall(head + body)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered (and closed) before reading everything: read that answer
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    return _parse_response(data, time.monotonic() - started)


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return body.endswith(b"0\r\n\r\n")
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def raw_request(base_url: str, method: str, path: str, headers: dict | None = None,
                body: bytes = b"", *, declared_length: int | None = None, chunked: bool = False,
                finish_chunks: bool = True, half_close: bool = True,
                timeout: float = 15.0) -> RawResponse:
    """One request with `path` sent exactly as given (no quoting).

    declared_length: the Content-Length to announce (default len(body)); a larger one
    makes a truncated body.  chunked=True sends `body` as one chunk; finish_chunks=False
    leaves out the last-chunk (a chunked body that ends early)."""
    u = urlparse(base_url)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n") if body else b""
        if finish_chunks:
            payload += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body) if declared_length is None else declared_length}")
        payload = body
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return raw_exchange(base_url, head, payload, half_close=half_close, timeout=timeout)


def pct(s: str, safe: str = "") -> str:
    """Percent-encode every byte of s's UTF-8 but the unreserved ones (and `safe`)."""
    return quote(s, safe=safe)


# ---- identity shortcuts ---------------------------------------------------------------

def password_token(auth_url: str, user_id: str, password: str, project_id: str | None = None) -> tuple[str, dict]:
    """Password auth by user id; asserts 201."""
    body = {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {"id": user_id, "password": password}}}}}
    if project_id:
        body["auth"]["scope"] = {"project": {"id": project_id}}
    r = requests.post(f"{auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, f"password token for {user_id}: {r.status_code} {r.text}"
    return r.headers["X-Subject-Token"], r.json()


def trust_token(auth_url: str, trustee_token: str, trust_id: str) -> tuple[str, dict]:
    """A trust-scoped token from the trustee's token (token method); asserts 201."""
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": trustee_token}},
                     "scope": {"OS-TRUST:trust": {"id": trust_id}}}}
    r = requests.post(f"{auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, f"trust token: {r.status_code} {r.text}"
    return r.headers["X-Subject-Token"], r.json()


def app_cred_token(auth_url: str, cred_id: str, secret: str) -> tuple[str, dict]:
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": cred_id, "secret": secret}}}}
    r = requests.post(f"{auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, f"app cred token: {r.status_code} {r.text}"
    return r.headers["X-Subject-Token"], r.json()


def validate(auth_url: str, admin_token: str, subject: str) -> int:
    """GET /v3/auth/tokens status for `subject`, checked with the admin's token."""
    return requests.get(f"{auth_url}/auth/tokens", timeout=TIMEOUT,
                        headers={"X-Auth-Token": admin_token, "X-Subject-Token": subject}).status_code


def used(auth_url: str, token: str) -> int:
    """Status of a request made with `token` (GET /v3/auth/tokens on itself)."""
    return requests.get(f"{auth_url}/auth/tokens", timeout=TIMEOUT,
                        headers={"X-Auth-Token": token, "X-Subject-Token": token}).status_code


def assert_keystone_error(r, status: int) -> dict:
    """Keystone's error format (keystone/exception.py, keystone/server/flask/application.py):
    {"error": {"code": <status>, "title": ..., "message": ...}}."""
    assert r.status_code == status, (r.request.method if hasattr(r, "request") else "",
                                     r.status_code, r.text[:1000])
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == status, body
    assert isinstance(body["error"].get("message"), str), body
    return body
