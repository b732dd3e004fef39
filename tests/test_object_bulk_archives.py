"""Bulk upload: `PUT ...?extract-archive=tar|tar.gz|tar.bz2` (swift/common/middleware/bulk.py
`handle_extract_iter`, which reads the body with Python's tarfile in stream mode `r|`, `r|gz`,
`r|bz2`).  The answer is always a 200 whose body reports the outcome ("Response Status",
"Response Body", "Number Files Created", "Errors"), as text, JSON or XML by Accept.

Nimbus decompresses and parses the body as it arrives and stores each member as it is read,
so memory stays bounded whatever the archive's size (checked here on the server's VmRSS), and
a compressed archive may expand to 256 MiB, then at most 100 times the compressed bytes
received (decompression bombs stop with a 413 in the report)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import threading
import time
import xml.etree.ElementTree as ET
import zlib
import bz2

import pytest
import requests
import swiftclient.client as swift_client

from object_support import admin_account, md5hex

FORMATS = ["tar", "tar.gz", "tar.bz2"]


# ---- archives ---------------------------------------------------------------------

def _compressor(fmt: str):
    if fmt == "tar.gz":
        return zlib.compressobj(6, zlib.DEFLATED, 31)
    if fmt == "tar.bz2":
        return bz2.BZ2Compressor(9)
    return None


def _compress(data: bytes, fmt: str) -> bytes:
    c = _compressor(fmt)
    return data if c is None else c.compress(data) + c.flush()


def _tar(entries, fmt: str = "tar", tar_format=tarfile.PAX_FORMAT) -> bytes:
    """entries: (name, data) for files (name str, or bytes for names that are not UTF-8);
    (name, None) for a directory; (name, "->target") for a symlink; or a ready TarInfo with data."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tar_format, encoding="utf-8", errors="surrogateescape") as tar:
        for entry in entries:
            if isinstance(entry[0], tarfile.TarInfo):
                info, data = entry
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
                continue
            name, data = entry
            if isinstance(name, bytes):
                name = name.decode("utf-8", "surrogateescape")
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return _compress(buf.getvalue(), fmt)


def _extract(acct, body, fmt: str, container: str | None = None, prefix: str | None = None,
             accept: str | None = "application/json", headers: dict | None = None, timeout: float = 120):
    h = dict(headers or {})
    if accept:
        h["Accept"] = accept
    r = acct.req("PUT", container, prefix, params={"extract-archive": fmt}, data=body, headers=h, timeout=timeout)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r


def _report(r) -> dict:
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    return json.loads(r.content)


# ---- extraction --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_extract_each_format_with_utf8_names(new_account, fmt):
    """tar, tar.gz and tar.bz2 at the account level: the first path component names the
    container (created); files at the top are skipped; directories and symlinks are not
    objects; precomposed and decomposed names are two objects."""
    acct = new_account()
    files = {
        "photos/caf\u00e9.txt": b"precomposed",
        "photos/cafe\u0301.txt": b"decomposed",
        "photos/deep/\u65e5\u672c/\u00fc.bin": bytes(range(256)) * 40,
        "docs/readme.md": b"# hi\n",
        "docs/empty": b"",
    }
    entries = [("photos", None), ("top-level.txt", b"skipped"), ("photos/link", "->caf\u00e9.txt")]
    entries += list(files.items())
    r = _extract(acct, _tar(entries, fmt), fmt)
    assert _report(r) == {"Number Files Created": 5, "Response Status": "201 Created",
                          "Response Body": "", "Errors": []}
    assert sorted(acct.names()) == ["docs", "photos"]
    assert sorted(acct.names("photos")) == sorted(n.split("/", 1)[1] for n in files if n.startswith("photos/"))
    for name, data in files.items():
        c, o = name.split("/", 1)
        got = acct.req("GET", c, o)
        assert got.status_code == 200 and got.content == data, name
        assert got.headers["Etag"] == md5hex(data)
    # Content types are guessed from the names, as the proxy does for a PUT without one.
    assert acct.req("HEAD", "docs", "readme.md").headers["Content-Type"].startswith("text/markdown")


def test_extract_into_a_container_and_prefix_with_swiftclient(new_account):
    """A container (and a pseudo-directory) in the path: every member goes under it, a
    top-level file included (python-swiftclient's put_object with a query string)."""
    acct = new_account()
    acct.put_container("dest")
    body = _tar([("a.txt", b"A"), ("./sub/b.txt", b"B"), ("/abs/c.txt", b"C")], "tar.bz2")
    rd = {}
    swift_client.put_object(acct.url, acct.token, container="dest", name="pre/fix/", contents=body,
                            query_string="extract-archive=tar.bz2", headers={"Accept": "application/json"},
                            response_dict=rd)
    assert rd["status"] == 200
    assert sorted(acct.names("dest")) == ["pre/fix/a.txt", "pre/fix/abs/c.txt", "pre/fix/sub/b.txt"]
    assert acct.get_body("dest", "pre/fix/sub/b.txt") == b"B"


def test_pax_xattrs_and_request_headers_become_metadata(new_account):
    """bulk.py copies X-Delete-After and X-Object-Meta-* from the request, and turns pax
    xattrs user.mime_type / user.meta.* (GNU and libarchive spellings) into headers."""
    acct = new_account()
    info = tarfile.TarInfo("c/with-xattrs")
    info.size = 2
    info.pax_headers = {"SCHILY.xattr.user.mime_type": "application/x-test",
                        "LIBARCHIVE.xattr.user.meta.color": "blue",
                        "SCHILY.xattr.user.other": "ignored"}
    r = _extract(acct, _tar([(info, b"xy"), ("c/plain", b"p")], "tar.gz"), "tar.gz",
                 headers={"X-Object-Meta-Batch": "7", "X-Delete-After": "3600"})
    assert _report(r)["Number Files Created"] == 2
    h = acct.req("HEAD", "c", "with-xattrs").headers
    assert h["Content-Type"] == "application/x-test"
    assert h["X-Object-Meta-Color"] == "blue" and h["X-Object-Meta-Batch"] == "7"
    assert "X-Delete-At" in h
    assert acct.req("HEAD", "c", "plain").headers["X-Object-Meta-Batch"] == "7"


def test_report_formats(new_account):
    """text/plain by default (keys sorted, then Errors:), XML and JSON by Accept; an Accept
    that matches none of them is a 406 in the report, and nothing is extracted."""
    acct = new_account()
    body = _tar([("c/a", b"1")])
    r = _extract(acct, body, "tar", accept=None)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text.strip() == ("Number Files Created: 1\nResponse Body: \nResponse Status: 201 Created\nErrors:")
    r = _extract(acct, body, "tar", accept="application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "extract" and root.findtext("number_files_created") == "1"
    assert root.findtext("response_status") == "201 Created"
    r = _extract(acct, _tar([("d/a", b"1")]), "tar", accept="good_xml")
    assert "Response Status: 406 Not Acceptable" in r.text
    assert acct.names() == ["c"]


@pytest.mark.parametrize("fmt", ["tgz", "zip", "tar.xz", "gz", ""])
def test_unsupported_format_is_a_400(new_account, fmt):
    """bulk.py: only tar, tar.gz and tar.bz2 (any case, dots around): anything else is a
    plain 400 "Unsupported archive format" before the body is read."""
    acct = new_account()
    r = acct.req("PUT", params={"extract-archive": fmt}, data=_tar([("c/a", b"1")], "tar.gz"))
    assert r.status_code == 400 and "Unsupported archive format" in r.text, (r.status_code, r.text)
    assert acct.names() == []


def test_format_case_and_dots_are_ignored(new_account):
    acct = new_account()
    r = _extract(acct, _tar([("c/a", b"1")], "tar.gz"), ".TAR.GZ.")
    assert _report(r)["Number Files Created"] == 1


def test_anonymous_extract_is_refused(new_account, cloud):
    acct = new_account()
    r = requests.put(acct.url, params={"extract-archive": "tar"}, data=_tar([("c/a", b"1")]), timeout=30)
    assert r.status_code == 401
    assert acct.names() == []


# ---- per-member failures ------------------------------------------------------------

def test_names_that_are_not_utf8_are_412_and_the_rest_is_created(new_account):
    """bulk.py `check_utf8` on each destination: a 412 for that member, reported with its name
    quoted from the bytes; the other members are created."""
    acct = new_account()
    body = _tar([(b"c/caf\xe9", b"latin-1"), ("c/ok", b"fine"), (b"bad\xff/x", b"y")], tar_format=tarfile.GNU_FORMAT)
    rep = _report(_extract(acct, body, "tar"))
    assert rep["Number Files Created"] == 1
    assert rep["Response Status"] == "400 Bad Request"
    assert rep["Errors"] == [["c/caf%E9", "412 Precondition Failed"], ["bad%FF/x", "412 Precondition Failed"]]
    assert acct.names("c") == ["ok"]


def test_object_name_checks_and_quotas_apply_per_member(new_account):
    """Each member goes through the object PUT: a name over 1024 characters is a 400, a
    container quota a 413, both for that member only."""
    acct = new_account()
    acct.put_container("q", headers={"X-Container-Meta-Quota-Bytes": "10"})
    long_name = "c/" + "n" * 1025
    body = _tar([(long_name, b"x"), ("q/small", b"12345"), ("q/big", b"x" * 20), ("c/fine", b"f")])
    rep = _report(_extract(acct, body, "tar"))
    assert rep["Number Files Created"] == 2
    assert rep["Errors"] == [[long_name, "400 Bad Request"], ["q/big", "413 Request Entity Too Large"]]


def test_write_acl_user_extracts_into_a_container_only(new_account):
    """A user of another project with a write ACL: its members are PUT into that container
    (as bulk.py's subrequests are authorized one by one); a container it may not create is
    reported with the object's failure."""
    owner = new_account()
    other = new_account()
    owner.put_container("shared", headers={"X-Container-Write": f"{other.user.project_id}:{other.user.id}"})
    rep = _report(_extract(other.on(owner), _tar([("shared/a", b"1"), ("newc/b", b"2")]), "tar"))
    assert rep["Number Files Created"] == 1
    assert rep["Errors"] == [[f"/v1/{owner.name}/newc", "403 Forbidden"], ["newc/b", "403 Forbidden"]]
    assert owner.names("shared") == ["a"]
    assert owner.names() == ["shared"]


def test_member_over_max_file_size_is_413_for_that_member(object_nimbus):
    """bulk.py: a member larger than max_file_size is that member's 413; its data is skipped
    and the next member is read."""
    nimbus = object_nimbus(config={"object_storage": {"max_file_size": 1 << 20}})
    acct = admin_account(nimbus)
    body = _tar([("c/big", b"b" * ((1 << 20) + 1)), ("c/small", b"s")], "tar.gz")
    rep = _report(_extract(acct, body, "tar.gz"))
    assert rep["Number Files Created"] == 1
    assert rep["Errors"] == [["c/big", "413 Request Entity Too Large"]]
    assert acct.names("c") == ["small"]


# ---- corrupt, truncated and hostile archives ---------------------------------------------

def _garbage(n: int) -> bytes:
    return random.Random(n).randbytes(n)


def _corrupt_gzip() -> bytes:
    gz = bytearray(_tar([("c/a", b"1" * 5000)], "tar.gz"))
    gz[10] = 0xFF  # the first deflate block: reserved block type
    return bytes(gz)


def _corrupt_bzip2() -> bytes:
    bz = bytearray(_tar([("c/a", _garbage(5000))], "tar.bz2"))
    bz[len(bz) // 2] ^= 0x55
    return bytes(bz)


def _flip(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 1
    return bytes(b)


def _tarfile_says(data: bytes, fmt: str) -> str:
    """What bulk.py's loop makes of `data` with Python's own tarfile: the oracle for the cases
    below ("Invalid Tar File: <message>", or "No Valid Files" when it reads no file)."""
    try:
        tar = tarfile.open(mode="r|" + {"tar": "", "tar.gz": "gz", "tar.bz2": "bz2"}[fmt], fileobj=io.BytesIO(data))
        files = 0
        while (info := tar.next()) is not None:
            if info.isfile():
                tar.extractfile(info).read()
                files += 1
        return "Invalid Tar File: No Valid Files" if files == 0 else f"{files} files"
    except (tarfile.TarError, zlib.error) as e:
        return f"Invalid Tar File: {e}"


CORRUPT = {
    "tar-sent-as-gzip": ("tar.gz", lambda: _tar([("c/a", b"1")]), "Invalid Tar File: not a gzip file"),
    "gzip-bad-method": ("tar.gz", lambda: b"\x1f\x8b\x07" + bytes(20), "Invalid Tar File: unsupported compression method"),
    "gzip-corrupt-deflate": ("tar.gz", _corrupt_gzip, "Invalid Tar File: invalid compressed data"),
    "tar-sent-as-bzip2": ("tar.bz2", lambda: _tar([("c/a", b"1")]), "Invalid Tar File: invalid compressed data"),
    "bzip2-corrupt": ("tar.bz2", _corrupt_bzip2, "Invalid Tar File: invalid compressed data"),
    "tar-garbage": ("tar", lambda: _garbage(4096), "Invalid Tar File: invalid header"),
    "tar-bad-checksum": ("tar", lambda: _flip(_tar([("c/a", b"1")]), 0), "Invalid Tar File: bad checksum"),
    "tar-empty": ("tar", lambda: b"", "Invalid Tar File: empty file"),
    "tar-short": ("tar", lambda: _tar([("c/a", b"1")])[:300], "Invalid Tar File: truncated header"),
    "gzip-empty": ("tar.gz", lambda: b"", "Invalid Tar File: not a gzip file"),
    "tar-only-zeros": ("tar", lambda: bytes(10240), "Invalid Tar File: No Valid Files"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("accept", ["application/json", "text/plain", "application/xml"])
def test_corrupt_archives_are_a_400_report(new_account, case, accept):
    """What bulk.py reports for archives tarfile cannot read: a 200 whose report says
    "400 Bad Request" and tarfile's message, in the format asked for; never a 5xx."""
    acct = new_account()
    fmt, make, message = CORRUPT[case]
    body = make()
    assert _tarfile_says(body, fmt) == message
    r = _extract(acct, body, fmt, accept=accept)
    if accept == "application/json":
        rep = _report(r)
        assert (rep["Response Status"], rep["Response Body"]) == ("400 Bad Request", message)
    elif accept == "text/plain":
        assert r.headers["Content-Type"].startswith("text/plain")
        assert f"Response Body: {message}\nResponse Status: 400 Bad Request\n" in r.text
    else:
        root = ET.fromstring(r.content)
        assert (root.findtext("response_status"), root.findtext("response_body")) == ("400 Bad Request", message)
    assert acct.names() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_archive_keeps_what_came_before(new_account, fmt):
    """Cut inside a member's data: the members before it are created, the cut one is not, and
    the report is tarfile's "unexpected end of data"."""
    acct = new_account()
    data = _garbage(200_000)
    full = _tar([("c/first", b"one"), ("c/second", data)])
    cut = _compress(full[:len(full) // 2], fmt)  # a compressed stream of half the archive
    assert _tarfile_says(cut, fmt) == "Invalid Tar File: unexpected end of data"
    rep = _report(_extract(acct, cut, fmt))
    assert (rep["Response Status"], rep["Response Body"]) == ("400 Bad Request", "Invalid Tar File: unexpected end of data")
    assert rep["Number Files Created"] == 1
    assert acct.names("c") == ["first"]


def test_hostile_headers_are_refused_without_5xx(new_account):
    """A GNU long name claiming 1 TiB, a pax header claiming more than the 1 MiB bound, a size
    in GNU base-256 larger than any object, and links or devices with sizes: each ends in a
    report, never a 5xx or a hang."""
    acct = new_account()

    def header(name: bytes, type_: bytes, size_field: bytes) -> bytes:
        h = bytearray(512)
        h[0:len(name)] = name
        h[100:108] = b"0000644\0"
        h[124:136] = size_field
        h[156:157] = type_
        h[257:263] = b"ustar\0"
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\0 " % sum(h)
        return bytes(h)

    tib = b"\x80" + (1 << 40).to_bytes(11, "big")
    huge = b"\x80" + b"\xff" * 11
    cases = {
        "long-name": (header(b"././@LongLink", b"L", tib) + bytes(1024), "Invalid Tar File: extended header of 1099511627776 bytes (at most 1048576)"),
        "pax": (header(b"pax", b"x", b"%011o\0" % ((1 << 20) + 1)) + bytes(1024), "Invalid Tar File: extended header of 1048577 bytes (at most 1048576)"),
        "huge-member": (header(b"c/huge", b"0", huge) + bytes(4096), "Invalid Tar File: unexpected end of data"),
    }
    for name, (body, message) in cases.items():
        rep = _report(_extract(acct, body, "tar"))
        assert (rep["Response Status"], rep["Response Body"]) == ("400 Bad Request", message), name
    # A hard link, a FIFO and a device with sizes carry no data (tarfile): the file after them is read.
    body = b"".join(header(b"c/" + t, t, b"%011o\0" % 7) for t in (b"1", b"3", b"6")) + _tar([("c/after", b"ok")])
    rep = _report(_extract(acct, body, "tar"))
    assert rep["Number Files Created"] == 1 and rep["Errors"] == [], rep
    assert acct.names("c") == ["after"]


def _zeros_member_archive(fmt: str, size: int) -> bytes:
    """A tar holding one member of `size` zero bytes, compressed a piece at a time."""
    c = _compressor(fmt)
    info = tarfile.TarInfo("c/zeros")
    info.size = size
    out = [c.compress(info.tobuf(tarfile.GNU_FORMAT))]
    block = bytes(16 << 20)
    left = size
    while left:
        n = min(left, len(block))
        out.append(c.compress(block[:n]))
        left -= n
    out.append(c.compress(bytes(1024 + (-size) % 512)))
    out.append(c.flush())
    return b"".join(out)


@pytest.mark.parametrize("fmt,size", [("tar.gz", 1 << 30), ("tar.bz2", 320 << 20)])
def test_decompression_bomb_stops_with_413(object_nimbus, fmt, size):
    """A ~1 MB .tar.gz that expands to 1 GiB (and a few hundred bytes of .tar.bz2 that expand
    to 320 MiB): the expansion stops past 256 MiB at more than 100 times the compressed size,
    the report says 413, nothing is stored, and the server's memory stays bounded (64 MiB)."""
    nimbus = object_nimbus()
    acct = admin_account(nimbus)
    bomb = _zeros_member_archive(fmt, size)
    assert len(bomb) < 2 << 20
    with RSSMonitor(nimbus.proc.pid) as rss:
        rep = _report(_extract(acct, bomb, fmt, timeout=300))
    assert rep["Response Status"] == "413 Request Entity Too Large", rep
    assert "100 times its compressed size" in rep["Response Body"]
    assert rep["Number Files Created"] == 0
    assert acct.names("c") == []
    assert rss.growth < 64 << 20, f"RSS grew by {rss.growth >> 20} MiB"


# ---- a large archive, streamed ---------------------------------------------------------

class RSSMonitor:
    """Samples a process's VmRSS every 50 ms; `growth` is the peak over the first sample."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(self.rss())
            time.sleep(0.05)

    def __enter__(self):
        self.samples.append(self.rss())
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(self.rss())

    @property
    def growth(self) -> int:
        return max(self.samples) - self.samples[0]


def test_300_mb_archive_streams_with_bounded_memory(object_nimbus):
    """A 300 MiB .tar.gz sent chunked, generated as it is sent: every member is stored with
    the right bytes while the server's RSS grows by far less than the archive (the archive is
    never held whole on either side)."""
    nimbus = object_nimbus()
    acct = admin_account(nimbus)
    member_size, count = 10 << 20, 30
    digests = {}

    def body():
        c = zlib.compressobj(1, zlib.DEFLATED, 31)
        for i in range(count):
            info = tarfile.TarInfo(f"big/part-{i:02d}")
            info.size = member_size
            yield c.compress(info.tobuf(tarfile.PAX_FORMAT))
            rnd = random.Random(i)
            md5 = hashlib.md5()
            for _ in range(member_size >> 20):
                chunk = rnd.randbytes(1 << 20)
                md5.update(chunk)
                yield c.compress(chunk)
            digests[f"part-{i:02d}"] = md5.hexdigest()
        yield c.compress(bytes(1024))
        yield c.flush()

    with RSSMonitor(nimbus.proc.pid) as rss:
        r = acct.req("PUT", params={"extract-archive": "tar.gz"}, data=body(),
                     headers={"Accept": "application/json"}, timeout=600)
    assert r.status_code == 200, r.text
    rep = _report(r)
    assert (rep["Response Status"], rep["Number Files Created"]) == ("201 Created", count), rep
    listing = acct.listing("big")
    assert {o["name"]: o["hash"] for o in listing} == digests
    assert all(o["bytes"] == member_size for o in listing)
    assert rss.growth < 64 << 20, f"RSS grew by {rss.growth >> 20} MiB for a {count * member_size >> 20} MiB archive"
