import pytest
"""Large objects: DLO (X-Object-Manifest) and SLO (?multipart-manifest=put), and the
`swift upload --segment-size [--use-slo]` round trips.

Behaviour from swift/common/middleware/dlo.py and slo.py."""

import json

from object_support import md5hex, strip_etag, swift_cli

SEGS = [b"aaaaa", b"bbbbb", b"ccccc", b"dd"]  # 17 bytes
WHOLE = b"".join(SEGS)


def _segments(acct, container="segs", prefix="big/"):
    c = acct.put_container(container)
    names = []
    for i, data in enumerate(SEGS):
        name = f"{prefix}{i:04d}"
        acct.put_object(c, name, data)
        names.append(name)
    return c, names


def _slo_manifest(c, names, with_checks=True):
    out = []
    for name, data in zip(names, SEGS):
        seg = {"path": f"/{c}/{name}"}
        if with_checks:
            seg.update(etag=md5hex(data), size_bytes=len(data))
        out.append(seg)
    return out


# ---- DLO ---------------------------------------------------------------------

def test_dlo_concatenates_segments_in_name_order(new_account):
    acct = new_account()
    c, _ = _segments(acct)
    man = acct.put_container("man")
    acct.put_object(man, "big", b"", headers={"X-Object-Manifest": f"{c}/big/",
                                             "Content-Type": "application/x-big"})
    r = acct.req("GET", man, "big")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.content == WHOLE
    assert r.headers["X-Object-Manifest"] == f"{c}/big/"
    assert r.headers["Content-Type"] == "application/x-big"
    # DLO etag: quoted md5 of the concatenated segment etags (dlo.py get_or_head_response)
    expected_etag = md5hex("".join(md5hex(s) for s in SEGS).encode())
    assert r.headers["Etag"] == f'"{expected_etag}"'
    h = acct.req("HEAD", man, "big")
    assert h.headers["Content-Length"] == str(len(WHOLE)) and h.headers["Etag"] == f'"{expected_etag}"'
    # a segment added later shows up (the listing is read at GET time)
    acct.put_object(c, "big/0004", b"e")
    assert acct.get_body(man, "big") == WHOLE + b"e"


def test_dlo_ranges_and_manifest_get(new_account):
    acct = new_account()
    c, _ = _segments(acct)
    acct.put_object(c, "manifest", b"", headers={"X-Object-Manifest": f"{c}/big/"})
    r = acct.req("GET", c, "manifest", headers={"Range": "bytes=3-11"})
    assert r.status_code == 206, (r.status_code, r.text)
    assert r.content == WHOLE[3:12] and r.headers["Content-Range"] == f"bytes 3-11/{len(WHOLE)}"
    r = acct.req("GET", c, "manifest", headers={"Range": "bytes=-4"})
    assert r.status_code == 206 and r.content == WHOLE[-4:]
    r = acct.req("GET", c, "manifest", headers={"Range": "bytes=100-"})
    assert r.status_code == 416, (r.status_code, r.text)
    # multipart-manifest=get returns the manifest object itself
    r = acct.req("GET", c, "manifest", params={"multipart-manifest": "get"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["X-Object-Manifest"] == f"{c}/big/"


def test_dlo_without_segments_is_empty(new_account):
    acct = new_account()
    c = acct.put_container("dlo")
    acct.put_object(c, "m", b"", headers={"X-Object-Manifest": f"{c}/nothing-here/"})
    r = acct.req("GET", c, "m")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Etag"] == f'"{md5hex(b"")}"'


def test_dlo_manifest_header_is_validated(new_account):
    acct = new_account()
    c = acct.put_container("dlo")
    for bad in ("no-slash", "/leading", f"{c}//x", f"{c}/a?b", f"{c}/a&b"):
        r = acct.req("PUT", c, "m", data=b"", headers={"X-Object-Manifest": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert "X-Object-Manifest must be in the format container/prefix" in r.text


# ---- SLO ---------------------------------------------------------------------

def test_slo_put_get_head(new_account):
    acct = new_account()
    c, names = _segments(acct)
    r = acct.req("PUT", c, "slo", params={"multipart-manifest": "put"},
                 data=json.dumps(_slo_manifest(c, names)), headers={"Content-Type": "application/x-slo"})
    assert r.status_code == 201, (r.status_code, r.text)
    slo_etag = md5hex("".join(md5hex(s) for s in SEGS).encode())
    assert strip_etag(r.headers["Etag"]) == slo_etag

    g = acct.req("GET", c, "slo")
    assert g.status_code == 200 and g.content == WHOLE
    assert g.headers["X-Static-Large-Object"].lower() == "true"
    assert g.headers["Etag"] == f'"{slo_etag}"'
    assert g.headers["Content-Length"] == str(len(WHOLE))
    assert g.headers["Content-Type"] == "application/x-slo"
    h = acct.req("HEAD", c, "slo")
    assert h.headers["Content-Length"] == str(len(WHOLE)) and h.headers["Etag"] == f'"{slo_etag}"'
    # the container listing shows the SLO's total size
    entry = next(e for e in acct.listing(c) if e["name"] == "slo")
    assert entry["bytes"] == len(WHOLE) and entry["content_type"] == "application/x-slo"


def test_slo_without_etag_and_size_checks(new_account):
    acct = new_account()
    c, names = _segments(acct)
    manifest = _slo_manifest(c, names, with_checks=False)
    manifest[1]["etag"] = None  # null means "don't check"
    r = acct.req("PUT", c, "slo", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "slo") == WHOLE


def test_slo_ranges_across_segments(new_account):
    acct = new_account()
    c, names = _segments(acct)
    acct.put_object(c, "slo", json.dumps(_slo_manifest(c, names)).encode(),
                    params={"multipart-manifest": "put"})
    for spec, expect in (("bytes=3-11", WHOLE[3:12]), ("bytes=-3", WHOLE[-3:]), ("bytes=15-", WHOLE[15:])):
        r = acct.req("GET", c, "slo", headers={"Range": spec})
        assert r.status_code == 206, (spec, r.status_code, r.text)
        assert r.content == expect, spec
    r = acct.req("GET", c, "slo", headers={"Range": "bytes=3-11"})
    assert r.headers["Content-Range"] == f"bytes 3-11/{len(WHOLE)}"
    assert acct.req("GET", c, "slo", headers={"Range": "bytes=17-"}).status_code == 416


def test_slo_segment_ranges_in_manifest(new_account):
    acct = new_account()
    c, names = _segments(acct)
    manifest = [{"path": f"/{c}/{names[0]}", "range": "1-2"},
                {"path": f"/{c}/{names[2]}", "range": "-2"},
                {"path": f"/{c}/{names[3]}"}]
    r = acct.req("PUT", c, "slo", params={"multipart-manifest": "put"}, data=json.dumps(manifest))
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "slo") == b"aa" + b"cc" + b"dd"
    # etag of ranged segments: md5 of "<etag>:<range>;" (slo.py)
    expected = md5hex((f"{md5hex(SEGS[0])}:1-2;" + f"{md5hex(SEGS[2])}:3-4;" + md5hex(SEGS[3])).encode())
    assert strip_etag(acct.req("HEAD", c, "slo").headers["Etag"]) == expected


def test_slo_manifest_get_returns_the_stored_manifest(new_account):
    acct = new_account()
    c, names = _segments(acct)
    acct.put_object(c, "slo", json.dumps(_slo_manifest(c, names)).encode(),
                    params={"multipart-manifest": "put"})
    r = acct.req("GET", c, "slo", params={"multipart-manifest": "get"})
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    stored = r.json()
    # keys renamed on the way in: path->name, etag->hash, size_bytes->bytes
    assert [s["name"] for s in stored] == [f"/{c}/{n}" for n in names]
    assert [s["hash"] for s in stored] == [md5hex(s) for s in SEGS]
    assert [s["bytes"] for s in stored] == [len(s) for s in SEGS]
    assert all("content_type" in s and "last_modified" in s for s in stored), stored
    # format=raw gives back what the client sent
    r = acct.req("GET", c, "slo", params={"multipart-manifest": "get", "format": "raw"})
    assert r.status_code == 200
    assert [s["path"] for s in r.json()] == [f"/{c}/{n}" for n in names]


def test_slo_plain_delete_keeps_segments(new_account):
    acct = new_account()
    c, names = _segments(acct)
    acct.put_object(c, "slo", json.dumps(_slo_manifest(c, names)).encode(),
                    params={"multipart-manifest": "put"})
    assert acct.req("DELETE", c, "slo").status_code == 204
    assert acct.req("HEAD", c, "slo").status_code == 404
    assert acct.names(c) == names


def test_slo_multipart_manifest_delete_removes_segments(new_account):
    acct = new_account()
    c, names = _segments(acct)
    acct.put_object(c, "slo", json.dumps(_slo_manifest(c, names)).encode(),
                    params={"multipart-manifest": "put"})
    r = acct.req("DELETE", c, "slo", params={"multipart-manifest": "delete"},
                 headers={"Accept": "application/json"})
    assert r.status_code == 200, (r.status_code, r.text)
    body = json.loads(r.content)  # bulk-delete style report (bulk.py handle_delete_iter)
    assert body["Number Deleted"] == len(names) + 1, body
    assert body["Number Not Found"] == 0 and body["Errors"] == [] and body["Response Status"] == "200 OK"
    assert acct.listing(c) == []


def test_slo_bad_manifests_are_400(new_account):
    acct = new_account()
    c, names = _segments(acct)
    good = _slo_manifest(c, names)

    def put(body, **kw):
        return acct.req("PUT", c, "bad", params={"multipart-manifest": "put"}, data=body, **kw)

    not_json = put("this is not json")
    not_list = put(json.dumps({"path": f"/{c}/{names[0]}"}))
    wrong_etag = put(json.dumps([dict(good[0], etag=md5hex(b"nope"))] + good[1:]))
    wrong_size = put(json.dumps([dict(good[0], size_bytes=999)] + good[1:]))
    missing = put(json.dumps(good + [{"path": f"/{c}/no-such-segment"}]))
    for r in (not_json, not_list, wrong_etag, wrong_size, missing):
        assert r.status_code == 400, (r.request.body[:80], r.status_code, r.text)
    # ([{"nopath": 1}] is a 500 in Swift 2.38: bytes.join over str reprs in
    # parse_and_validate_input; the intended answer is this 400)
    for bad in ([{"path": "no-container-part"}], [{"nopath": 1}],
                [dict(good[0], extra="key")], [dict(good[0], range="5-2")]):
        r = put(json.dumps(bad))
        assert r.status_code == 400, (bad, r.status_code, r.text)
    # an Etag header on the manifest PUT must match the SLO etag -> else 422
    r = put(json.dumps(good), headers={"Etag": md5hex(b"wrong")})
    assert r.status_code == 422, (r.status_code, r.text)
    assert acct.req("HEAD", c, "bad").status_code == 404
    # X-Static-Large-Object may not be set by hand
    r = acct.req("PUT", c, "fake", data=b"[]", headers={"X-Static-Large-Object": "true"})
    assert r.status_code == 400, (r.status_code, r.text)
    # Swift's messages (slo.py parse_and_validate_input / handle_multipart_put)
    assert "Manifest must be valid JSON" in not_json.text, not_json.text
    assert "Manifest must be a list" in not_list.text, not_list.text
    assert "Etag Mismatch" in wrong_etag.text, wrong_etag.text
    assert "Size Mismatch" in wrong_size.text, wrong_size.text
    assert f"/{c}/no-such-segment, 404 Not Found" in missing.text, missing.text


# ---- swift CLI -----------------------------------------------------------------

def _upload_download(cloud, acct, tmp_path, *extra):
    data = bytes(range(256)) * 40 + b"tail"  # 10244 bytes -> 11 segments of 1000
    (tmp_path / "big.bin").write_bytes(data)
    swift_cli(cloud, acct.user, "upload", "--segment-size", "1000", *extra,
              "--object-name", "big.bin", "cli", "big.bin", cwd=tmp_path)
    out = tmp_path / "back.bin"
    swift_cli(cloud, acct.user, "download", "-o", str(out), "cli", "big.bin")
    assert out.read_bytes() == data
    assert acct.get_body("cli", "big.bin") == data
    segs = [n for n in acct.names("cli_segments")]
    assert len(segs) == 11, segs
    return data


def test_swift_cli_segmented_upload_dlo(cloud, new_account, tmp_path):
    acct = new_account()
    _upload_download(cloud, acct, tmp_path, "--use-dlo")  # SLO is the default when /info has slo
    h = acct.req("HEAD", "cli", "big.bin").headers
    assert h["X-Object-Manifest"].startswith("cli_segments/big.bin/"), h
    swift_cli(cloud, acct.user, "delete", "cli", "big.bin")
    assert acct.req("HEAD", "cli", "big.bin").status_code == 404
    assert acct.listing("cli_segments") == []


def test_swift_cli_segmented_upload_slo(cloud, new_account, tmp_path):
    acct = new_account()
    data = _upload_download(cloud, acct, tmp_path, "--use-slo")
    h = acct.req("HEAD", "cli", "big.bin").headers
    assert h["X-Static-Large-Object"].lower() == "true" and h["Content-Length"] == str(len(data))
    swift_cli(cloud, acct.user, "delete", "cli", "big.bin")
    assert acct.req("HEAD", "cli", "big.bin").status_code == 404
    assert acct.listing("cli_segments") == []
