"""Adversarial review (second probe) of the Image service: what the fixes of issues 13/14 left open.

Each test fails on the binary built from main after those fixes and states what Glance does,
with the file it comes from (openstack/glance, master).
"""

from __future__ import annotations

import pytest

from image_support import Glance

# 'os_glance' followed by COMBINING ACUTE ACCENT: its code points (and bytes) start with
# 'os_glance', but Swift's String.hasPrefix compares grapheme clusters ("e" + U+0301 is one
# Character, "é"), so `key.hasPrefix("os_glance")` is false for it.
SPOOF = "os_glance\u0301"


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


@pytest.mark.parametrize("key", [SPOOF + "_import_task", SPOOF])
def test_reserved_property_namespace_is_a_code_point_prefix(glance, key):
    """glance/api/v2/images.py RequestDeserializer._check_allowed (create) and
    _validate_change (PATCH): `if any(key.startswith(ns) for ns in self._reserved_namespaces)`
    with GLANCE_RESERVED_NS = 'os_glance' -> 403 "Attribute '...' is reserved.".  Python's
    startswith compares code points, so 'os_glance\\u0301...' is reserved.  Nimbus's
    Image.isReserved uses String.hasPrefix and lets it through (201 / 200)."""
    c = glance.user()
    r = c.create_response(name="spoof", **{key: "v"})
    assert r.status_code == 403, (key, r.status_code, r.text[:200])
    img = c.create(name="plain")
    r = c.patch(img["id"], [{"op": "add", "path": "/" + key, "value": "v"}])
    assert r.status_code == 403, (key, r.status_code, r.text[:200])


def test_spoofed_reserved_keys_do_not_escape_the_property_quota(glance):
    """image_property_quota (default 128, glance/common/config.py) counts every extra
    property; Nimbus leaves keys whose *bytes* start with 'os_glance' out of the count
    (ImageService.checkLimits, hasBytePrefix) while its reserved check (hasPrefix, grapheme
    clusters) lets users create such keys: 2000 properties of 255 bytes each on one image,
    and as many more by PATCH.  Glance refuses the first of them (403, reserved); either way
    more than 128 properties must never be stored."""
    c = glance.user()
    props = {f"{SPOOF}{i:04d}": "v" * 255 for i in range(200)}
    r = c.create_response(name="many", **props)
    assert r.status_code in (403, 413), (r.status_code, f"{len(r.json()) if r.status_code == 201 else ''} keys stored")
