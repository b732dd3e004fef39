"""Adversarial: names are bytes in the Image service (Glance v2).

Glance keeps image names, tags and extra-property keys as the str decoded from JSON or
from the path (webob, UTF-8), stores them in SQL (glance/db/sqlalchemy/models.py: `images.
name`, `image_tags.value`, `image_properties.name`) and compares them with Python `==` /
sets (glance/domain/__init__.py Image.tags is a set; extra_properties a dict): two
canonically equivalent but byte-different strings are two names, two tags, two keys.
Query strings are parsed by webob (`req.params`): '+' is a space.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from hypothesis import given

from adversarial_support import PROPERTY, equivalent_names, name_text, raw_request
from image_support import Glance


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


_CLIENT: dict = {}


def _client(glance):
    """One user per test function, shared by its hypothesis examples (keyed on that test's
    Glance fixture, kept referenced so its id cannot be reused)."""
    if _CLIENT.get("glance") is not glance:
        _CLIENT.update(glance=glance, client=glance.user())
    return _CLIENT["client"]


def _path_q(s: str) -> str:
    return quote(s, safe="")


@PROPERTY(15)
@given(pair=equivalent_names())
def test_equivalent_image_names_filter_by_bytes(glance, pair):
    """GET /v2/images?name=X is an SQL equality on images.name (glance/db/sqlalchemy/api.py
    _make_conditions_from_filters): only the image with exactly those bytes is listed."""
    c = _client(glance)
    a, b = pair
    tag = uuid.uuid4().hex[:8]
    ia = c.create(name=a + tag)
    ib = c.create(name=b + tag)
    assert ia["name"] == a + tag and ib["name"] == b + tag
    assert c.list_ids(name=a + tag) == [ia["id"]]
    assert c.list_ids(name=b + tag) == [ib["id"]]


@PROPERTY(15)
@given(pair=equivalent_names())
def test_equivalent_tags_are_two_tags(glance, pair):
    """Image tags are a set of str (glance/domain/__init__.py; image_tags rows): `café` and
    `cafe\\u0301` are both kept, whether given at create or added with PUT .../tags/{tag};
    deleting one keeps the other."""
    c = _client(glance)
    a, b = pair
    img = c.create(tags=[a, b])
    assert sorted(img["tags"]) == sorted([a, b]), img["tags"]
    assert sorted(c.get(img["id"])["tags"]) == sorted([a, b])
    img2 = c.create()
    for t in (a, b):
        r = c.req("PUT", f"/v2/images/{img2['id']}/tags/{_path_q(t)}")
        assert r.status_code == 204, (t, r.status_code, r.text[:300])
    assert sorted(c.get(img2["id"])["tags"]) == sorted([a, b])
    r = c.req("DELETE", f"/v2/images/{img2['id']}/tags/{_path_q(a)}")
    assert r.status_code == 204, r.text
    assert c.get(img2["id"])["tags"] == [b]
    assert c.list_ids(tag=b).count(img2["id"]) == 1
    assert img2["id"] not in c.list_ids(tag=a)


def _pointer(token: str) -> str:
    """A JSON pointer token (RFC 6901): `~` and `/` escaped, as jsonpatch expects them."""
    return token.replace("~", "~0").replace("/", "~1")


@PROPERTY(15)
@given(pair=equivalent_names())
def test_equivalent_property_keys_are_two_properties(glance, pair):
    """Extra properties are a dict keyed by str (glance/domain ExtraProperties;
    image_properties.name): two equivalent, byte-different keys are two properties, after
    create and after a JSON-patch add."""
    c = _client(glance)
    a, b = pair
    ka, kb = "k" + a, "k" + b
    img = c.create(**{ka: "1", kb: "2"})
    assert img.get(ka) == "1" and img.get(kb) == "2", {k: v for k, v in img.items() if k.startswith("k")}
    got = c.get(img["id"])
    assert got.get(ka) == "1" and got.get(kb) == "2"
    img2 = c.create(**{ka: "1"})
    patched = c.patch_ok(img2["id"], [{"op": "add", "path": "/" + _pointer(kb), "value": "2"}])
    assert patched.get(ka) == "1" and patched.get(kb) == "2", {k: v for k, v in patched.items() if k.startswith("k")}
    patched = c.patch_ok(img2["id"], [{"op": "remove", "path": "/" + _pointer(ka)}])
    assert ka not in patched and patched.get(kb) == "2"


@PROPERTY(20)
@given(name=name_text(1, 40), tag=name_text(1, 30, exclude="/"))
def test_random_image_names_and_tags_round_trip(glance, name, tag):
    """Any valid Unicode image name (schema: string, maxLength 255) and tag (maxLength 255)
    is stored and returned as given, found by ?name= / ?tag=, and the tag can be deleted."""
    c = _client(glance)
    name = name + uuid.uuid4().hex[:6]
    img = c.create(name=name)
    assert img["name"] == name
    assert c.get(img["id"])["name"] == name
    assert c.list_ids(name=name) == [img["id"]]
    r = c.req("PUT", f"/v2/images/{img['id']}/tags/{_path_q(tag)}")
    assert r.status_code == 204, (tag, r.status_code, r.text[:300])
    assert c.get(img["id"])["tags"] == [tag]
    assert img["id"] in c.list_ids(tag=tag)
    r = c.req("DELETE", f"/v2/images/{img['id']}/tags/{_path_q(tag)}")
    assert r.status_code == 204, (tag, r.status_code, r.text[:300])
    assert c.get(img["id"])["tags"] == []


BAD = ["%FF", "%ED%A0%80", "a%C3", "%C0%AF", "%F4%90%80%80", "a%00b"]


@pytest.mark.parametrize("bad", BAD)
def test_invalid_utf8_in_paths_and_queries_is_a_4xx(glance, bad):
    """Invalid UTF-8, an encoded surrogate or NUL in an image id, a tag or a query value is
    refused with a 4xx (an id that is no UUID is a 404; a tag or filter that cannot be
    decoded a 400) -- never a 5xx."""
    c = _client(glance)
    img = c.create()
    h = {"X-Auth-Token": c.token, "Accept": "application/json"}
    base = c.url.split("//", 1)[1].split("/", 1)[1]
    base = "/" + base if base else ""
    checks = [("GET", f"{base}/v2/images/{bad}"), ("DELETE", f"{base}/v2/images/{bad}"),
              ("PUT", f"{base}/v2/images/{img['id']}/tags/{bad}"),
              ("DELETE", f"{base}/v2/images/{img['id']}/tags/{bad}"),
              ("GET", f"{base}/v2/images?name={bad}"), ("GET", f"{base}/v2/images?tag={bad}"),
              ("GET", f"{base}/v2/images?marker={bad}"), ("GET", f"{base}/v2/images?foo{bad}=1"),
              ("GET", f"{base}/v2/images/{img['id']}/members/{bad}")]
    for method, path in checks:
        r = raw_request(c.cloud.base_url, method, path, h)
        assert 400 <= r.status < 500, (method, path, r.status, r.text[:300])
    assert c.get(img["id"])["tags"] == []


def test_plus_in_query_is_a_space(glance):
    """webob parses the query with '+' as a space (webob.multidict / parse_qsl_text):
    GET /v2/images?name=a+b lists the image "a b", %2B is a literal '+'."""
    c = _client(glance)
    tag = uuid.uuid4().hex[:8]
    spaced = c.create(name=f"a b {tag}")
    plus = c.create(name=f"a+b+{tag}")
    h = {"X-Auth-Token": c.token, "Accept": "application/json"}
    base = "/" + c.url.split("//", 1)[1].split("/", 1)[1]
    r = raw_request(c.cloud.base_url, "GET", f"{base}/v2/images?name=a+b+{tag}", h)
    assert r.status == 200 and [i["id"] for i in r.json()["images"]] == [spaced["id"]], r.text[:500]
    r = raw_request(c.cloud.base_url, "GET", f"{base}/v2/images?name=a%2Bb%2B{tag}", h)
    assert r.status == 200 and [i["id"] for i in r.json()["images"]] == [plus["id"]], r.text[:500]


def test_double_encoded_path_is_decoded_once(glance):
    """webob decodes the path once: `%252F` in a tag is the three characters `%2F`
    (PUT /v2/images/{id}/tags/a%252Fb adds the tag `a%2Fb`, which DELETE with the same path
    removes), and an image id followed by `%252F` is no image (404)."""
    c = _client(glance)
    img = c.create()
    h = {"X-Auth-Token": c.token, "Accept": "application/json"}
    base = "/" + c.url.split("//", 1)[1].split("/", 1)[1]
    r = raw_request(c.cloud.base_url, "PUT", f"{base}/v2/images/{img['id']}/tags/a%252Fb", h)
    assert r.status == 204, (r.status, r.text[:300])
    assert c.get(img["id"])["tags"] == ["a%2Fb"]
    r = raw_request(c.cloud.base_url, "GET", f"{base}/v2/images/{img['id']}%252F", h)
    assert r.status == 404, (r.status, r.text[:300])
    r = raw_request(c.cloud.base_url, "DELETE", f"{base}/v2/images/{img['id']}/tags/a%252Fb", h)
    assert r.status == 204, (r.status, r.text[:300])
    assert c.get(img["id"])["tags"] == []
