"""Image data: upload and download through `openstack image create --file` / `image save`,
openstacksdk and plain requests; checksums (md5 `checksum`, sha512 `os_hash_value`,
`Content-MD5`), ranges, downloads without data, an interrupted upload, and a 30 MiB
round trip.

Expected behaviour: docs/research/glance-v2.md §6 (upload, download, ranges, checksums)."""

import hashlib
import os
import time

import pytest

from conftest import unique
from image_support import (EMPTY_MD5, OCTET, Glance, PartialUpload, assert_error, md5hex, pattern,
                           sha512hex)


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g

MIB = 1024 * 1024


def test_cli_save_returns_the_uploaded_bytes(glance, tmp_path):
    c = glance.user()
    data = os.urandom(200 * 1024 + 3)
    src, dst = tmp_path / "in.raw", tmp_path / "out.raw"
    src.write_bytes(data)
    out = c.cli("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare",
                unique("img"), "-f", "json")
    iid = glance.track(out["id"])
    assert out["status"] == "active" and out["checksum"] == md5hex(data), out

    img = c.get(iid)
    assert img["size"] == len(data)
    assert img["checksum"] == md5hex(data)
    assert img["os_hash_algo"] == "sha512" and img["os_hash_value"] == sha512hex(data)

    # `image save` verifies os_hash_value itself (openstack/image/_download.py)
    c.cli("image", "save", "--file", dst, iid)
    assert dst.read_bytes() == data

    r = c.download(iid)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.content == data
    assert r.headers["Content-Type"] == OCTET, r.headers
    assert r.headers["Content-Length"] == str(len(data)), r.headers
    assert r.headers["Content-MD5"] == md5hex(data), r.headers   # hex, not base64

    conn = c.sdk()
    try:
        assert conn.image.download_image(iid).content == data
    finally:
        conn.close()


def test_30mib_round_trip_via_cli(glance, tmp_path):
    c = glance.user()
    src, dst = tmp_path / "big.raw", tmp_path / "big.out"
    data = os.urandom(30 * MIB)
    src.write_bytes(data)
    out = c.cli("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare",
                unique("big"), "-f", "json", timeout=120)
    iid = glance.track(out["id"])
    assert out["status"] == "active" and out["size"] == 30 * MIB, out
    img = c.get(iid)
    assert img["checksum"] == md5hex(data) and img["os_hash_value"] == sha512hex(data)
    c.cli("image", "save", "--file", dst, iid, timeout=120)
    assert dst.stat().st_size == 30 * MIB
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_sdk_and_chunked_uploads(glance):
    c = glance.user()
    data = pattern(300 * 1024 + 1, seed=3)
    conn = c.sdk()
    try:
        # openstacksdk: create + PUT /file with X-OpenStack-Image-Size; compares the md5
        img = conn.image.create_image(unique("sdk"), data=data, disk_format="raw", container_format="bare",
                                      allow_duplicates=True, validate_checksum=True)
        glance.track(img.id)
        got = c.get(img.id)
        assert got["status"] == "active" and got["checksum"] == md5hex(data), got
        assert conn.image.download_image(img.id).content == data
    finally:
        conn.close()

    # chunked transfer encoding, no Content-Length (how Tempest uploads)
    iid = c.create(disk_format="raw", container_format="bare")["id"]
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    r = c.upload(iid, iter(chunks))
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    got = c.get(iid)
    assert got["status"] == "active" and got["size"] == len(data), got
    assert got["checksum"] == md5hex(data) and got["os_hash_value"] == sha512hex(data), got
    assert c.download(iid).content == data


def test_empty_upload(glance):
    c = glance.user()
    iid = c.create(disk_format="raw", container_format="bare")["id"]
    r = c.upload(iid, b"")
    assert r.status_code == 204, (r.status_code, r.text)
    img = c.get(iid)
    assert img["status"] == "active" and img["size"] == 0, img
    assert img["checksum"] == EMPTY_MD5 and img["os_hash_value"] == sha512hex(b""), img
    assert img["virtual_size"] is None, img
    r = c.download(iid)
    assert r.status_code == 200 and r.content == b"", (r.status_code, r.content[:100])


def test_download_of_image_without_data_is_204(glance):
    c = glance.user()
    iid = c.create(disk_format="raw", container_format="bare")["id"]
    r = c.download(iid)
    assert r.status_code == 204, (r.status_code, r.text)
    assert r.content == b""
    # no data also means no checksum yet
    img = c.get(iid)
    assert img["status"] == "queued" and img["checksum"] is None and img["size"] is None


# ---- ranges (§6.3) -------------------------------------------------------------------

def test_range_downloads(glance):
    c = glance.user()
    data = pattern(100, seed=11)
    iid = c.active_image(data)["id"]
    cases = [
        ("bytes=0-9", 0, 9),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=95-200", 95, 99),          # end clipped to size-1
        ("bytes=-500", 0, 99),             # suffix longer than the image: all of it
        ("bytes=42-42", 42, 42),
    ]
    for spec, start, end in cases:
        r = c.download(iid, headers={"Range": spec})
        assert r.status_code == 206, (spec, r.status_code, r.text[:200])
        assert r.content == data[start:end + 1], spec
        assert r.headers["Content-Range"] == f"bytes {start}-{end}/100", (spec, r.headers)
        assert r.headers["Content-Length"] == str(end - start + 1), (spec, r.headers)
        assert r.headers["Content-MD5"] == md5hex(data), (spec, r.headers)   # of the whole image


def test_bad_ranges(glance):
    c = glance.user()
    iid = c.active_image(pattern(100, seed=12))["id"]
    for spec in ("bytes=100-", "bytes=150-160"):
        assert_error(c.download(iid, headers={"Range": spec}), 416, "Invalid start position in Range header")
    for spec in ("bytes=5-2", "bytes=abc"):
        assert_error(c.download(iid, headers={"Range": spec}), 416, "Invalid Range header.")
    assert_error(c.download(iid, headers={"Range": "bytes=0-1,3-4"}), 400,
                 "Requests with multiple ranges are not supported in Glance.")


# ---- interrupted upload (§6.1: any failure after `saving` goes back to `queued`) ------

def test_interrupted_upload_leaves_image_queued(glance):
    c = glance.user()
    iid = c.create(disk_format="raw", container_format="bare")["id"]
    data = pattern(2 * MIB, seed=5)
    with PartialUpload(c, iid, declared=len(data), data=data[:256 * 1024]):
        time.sleep(0.5)            # let the server take the first bytes
        assert c.get(iid)["status"] in ("queued", "saving")
    # the client went away after 256 KiB of 2 MiB
    img = c.wait_status(iid, "queued", timeout=20)
    for key in ("size", "virtual_size", "checksum", "os_hash_value"):
        assert img[key] is None, (key, img)
    r = c.download(iid)
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.content[:100])
    assert iid in c.list_ids(status="queued", id=iid)

    # the upload can be retried
    c.upload_ok(iid, data)
    img = c.get(iid)
    assert img["status"] == "active" and img["size"] == len(data), img
    assert img["checksum"] == md5hex(data) and img["os_hash_value"] == sha512hex(data)
    assert c.download(iid).content == data
