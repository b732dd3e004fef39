"""An IPv6 client for tests, run inside a namespace the test made (`ip netns exec NS python3
ipv6_probe.py IFACE`): it solicits a router advertisement and prints its flags and options
(prefixes with their autonomous flag, RDNSS, DNSSL, MTU), then asks DHCPv6 for an address
(Solicit, Request) and the DNS servers, and prints the JSON of both.

Busybox in the test image has no DHCPv6 client, and none is installed on the test hosts; this
speaks the protocol with real packets on the bridge instead. The client identifier is a
DUID-EN (no MAC in it, as systemd-networkd sends): dnsmasq has to find the MAC of the port on
the link, as it does for guests.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import sys
import time

ALL_ROUTERS = "ff02::2"
DHCP_SERVERS = "ff02::1:2"


def ra(iface: str, timeout: float) -> dict | None:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(iface))
    deadline = time.monotonic() + timeout
    next_rs = 0.0
    try:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_rs:
                s.sendto(struct.pack("!BBHI", 133, 0, 0, 0), (ALL_ROUTERS, 0, 0, socket.if_nametoindex(iface)))
                next_rs = time.monotonic() + 2
            r, _, _ = select.select([s], [], [], 0.5)
            if not r:
                continue
            data, addr = s.recvfrom(2048)
            if len(data) < 16 or data[0] != 134:
                continue
            return parse_ra(data, addr[0])
    finally:
        s.close()
    return None


def parse_ra(data: bytes, source: str) -> dict:
    flags = data[5]
    out = {"source": source.split("%")[0], "managed": bool(flags & 0x80), "other": bool(flags & 0x40),
           "lifetime": struct.unpack("!H", data[6:8])[0], "prefixes": [], "rdnss": [], "dnssl": [], "mtu": None}
    i = 16
    while i + 2 <= len(data):
        kind, length = data[i], data[i + 1] * 8
        if length == 0:
            break
        body = data[i:i + length]
        if kind == 3 and length == 32:
            out["prefixes"].append({"prefix": socket.inet_ntop(socket.AF_INET6, body[16:32]) + "/" + str(body[2]),
                                    "onlink": bool(body[3] & 0x80), "autonomous": bool(body[3] & 0x40)})
        elif kind == 5:
            out["mtu"] = struct.unpack("!I", body[4:8])[0]
        elif kind == 25:
            out["rdnss"] += [socket.inet_ntop(socket.AF_INET6, body[j:j + 16]) for j in range(8, length, 16)]
        elif kind == 31:
            out["dnssl"] += labels(body[8:])
        i += length
    return out


def labels(b: bytes) -> list[str]:
    names, parts, i = [], [], 0
    while i < len(b):
        n = b[i]
        i += 1
        if n == 0:
            if parts:
                names.append(".".join(parts))
            parts = []
            continue
        parts.append(b[i:i + n].decode())
        i += n
    return names


def option(code: int, body: bytes) -> bytes:
    return struct.pack("!HH", code, len(body)) + body


def options(b: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i + 4 <= len(b):
        code, n = struct.unpack("!HH", b[i:i + 4])
        out.append((code, b[i + 4:i + 4 + n]))
        i += 4 + n
    return out


def dhcpv6(iface: str, timeout: float) -> dict | None:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 546))
    index = socket.if_nametoindex(iface)
    duid = struct.pack("!HI", 2, 32473) + os.urandom(8)   # DUID-EN (documentation enterprise number)
    client_id = option(1, duid)
    iana = option(3, struct.pack("!III", 1, 0, 0))
    oro = option(6, struct.pack("!HH", 23, 24))
    elapsed = option(8, b"\0\0")
    try:
        reply = exchange(s, index, 1, client_id + iana + oro + elapsed, 2, timeout)
        if reply is None:
            return {"advertise": None}
        server_id = dict(options(reply[4:])).get(2)
        if server_id is None:
            return {"advertise": describe(reply)}
        got = exchange(s, index, 3, client_id + option(2, server_id) + iana + oro + elapsed, 7, timeout)
        return {"advertise": describe(reply), "reply": describe(got) if got else None}
    finally:
        s.close()


def exchange(s: socket.socket, index: int, kind: int, body: bytes, want: int, timeout: float) -> bytes | None:
    xid = os.urandom(3)
    deadline = time.monotonic() + timeout
    next_send = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_send:
            s.sendto(bytes([kind]) + xid + body, (DHCP_SERVERS, 547, 0, index))
            next_send = time.monotonic() + 1
        r, _, _ = select.select([s], [], [], 0.3)
        if not r:
            continue
        data, _ = s.recvfrom(4096)
        if len(data) >= 4 and data[0] == want and data[1:4] == xid:
            return data
    return None


def describe(msg: bytes) -> dict:
    out = {"addresses": [], "dns": [], "domains": [], "status": None}
    for code, body in options(msg[4:]):
        if code == 3:
            for c, b in options(body[12:]):
                if c == 5:
                    out["addresses"].append(socket.inet_ntop(socket.AF_INET6, b[:16]))
                elif c == 13:
                    out["status"] = struct.unpack("!H", b[:2])[0]
        elif code == 13:
            out["status"] = struct.unpack("!H", body[:2])[0]
        elif code == 23:
            out["dns"] = [socket.inet_ntop(socket.AF_INET6, body[j:j + 16]) for j in range(0, len(body), 16)]
        elif code == 24:
            out["domains"] = labels(body)
    return out


if __name__ == "__main__":
    name = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "both"
    result = {}
    if what in ("ra", "both"):
        result["ra"] = ra(name, 20)
    if what in ("dhcp", "both"):
        result["dhcp"] = dhcpv6(name, 20)
    print(json.dumps(result))
