"""GET /v2/images: filters, sorting, limit/marker pagination with `next` links, through
plain requests (exact statuses and links), openstacksdk and the `openstack image list` CLI.

Every listing is narrowed with a per-test unique tag (or name) so images of other tests
never matter.  Expected behaviour: docs/research/glance-v2.md §5 (and §2.1 for fields)."""

import time

import pytest

from conftest import unique
from image_support import Glance, assert_error, pattern, query_of


@pytest.fixture
def glance(cloud, new_user, tmp_path):
    """Image-API clients for fresh users (image_support.Glance); their images are deleted after the test."""
    with Glance(cloud, new_user, tmp_path) as g:
        yield g


def _image_set(c, tag):
    """Five images of project `c`, all tagged `tag`, created in a non-alphabetical order:
        a  raw/bare   10 B  private, property nimbus_flavor=x
        b  ami/ami    40 B
        c  raw/ovf    20 B
        d  aki/aki    30 B  protected
        e  qcow2/bare  —    (queued, no data)
    Returns {letter: image} (as shown after the uploads)."""
    prefix = unique("lst")
    specs = {
        "c": dict(disk_format="raw", container_format="ovf", size=20),
        "a": dict(disk_format="raw", container_format="bare", size=10, visibility="private", nimbus_flavor="x"),
        "e": dict(disk_format="qcow2", container_format="bare", size=None),
        "b": dict(disk_format="ami", container_format="ami", size=40),
        "d": dict(disk_format="aki", container_format="aki", size=30, protected=True),
    }
    made = {}
    for letter, spec in specs.items():
        spec = dict(spec)
        size = spec.pop("size")
        img = c.create(name=f"{prefix}-{letter}", tags=[tag], **spec)
        if size is not None:
            c.upload_ok(img["id"], pattern(size, seed=ord(letter)))
        made[letter] = c.get(img["id"])
    return made


def _ids(imgs, letters):
    return [imgs[x]["id"] for x in letters]


def _letters(imgs, ids):
    back = {img["id"]: letter for letter, img in imgs.items()}
    return [back.get(i, i) for i in ids]


# ---- filters --------------------------------------------------------------------------

def test_filters(glance):
    c = glance.user()
    tag = unique("tag")
    imgs = _image_set(c, tag)

    def got(**params):
        return sorted(_letters(imgs, c.list_ids(**{"tag": tag, **params})))

    assert got() == ["a", "b", "c", "d", "e"]
    # name: value, eq:value, in:list
    assert got(name=imgs["b"]["name"]) == ["b"]
    assert got(name=f"eq:{imgs['d']['name']}") == ["d"]
    assert got(name=f"in:{imgs['a']['name']},{imgs['c']['name']}") == ["a", "c"]
    assert got(name=unique("nothing")) == []
    # status
    assert got(status="queued") == ["e"]
    assert got(status="active") == ["a", "b", "c", "d"]
    assert got(status="in:queued,active") == ["a", "b", "c", "d", "e"]
    # visibility (the owner sees its private and shared images)
    assert got(visibility="private") == ["a"]
    assert got(visibility="shared") == ["b", "c", "d", "e"]
    assert got(visibility="public") == []
    assert got(visibility="all") == ["a", "b", "c", "d", "e"]
    # owner
    assert got(owner=c.project_id) == ["a", "b", "c", "d", "e"]
    assert got(owner=glance.admin.project_id) == []
    # formats
    assert got(disk_format="raw") == ["a", "c"]
    assert got(disk_format="in:ami,aki") == ["b", "d"]
    assert got(container_format="bare") == ["a", "e"]
    assert got(container_format="ovf") == ["c"]
    # size_min / size_max are inclusive; images without data have no size
    assert got(size_min=20) == ["b", "c", "d"]
    assert got(size_max=30) == ["a", "c", "d"]
    assert got(size_min=20, size_max=30) == ["c", "d"]
    assert got(size_min=41) == []
    # protected
    assert got(protected="true") == ["d"]
    assert got(protected="false") == ["a", "b", "c", "e"]
    # an unknown key filters on an extra property
    assert got(nimbus_flavor="x") == ["a"]
    assert got(nimbus_flavor="y") == []
    # several tags: all of them
    assert c.req("PUT", f"/v2/images/{imgs['b']['id']}/tags/second").status_code == 204
    assert got(tag=[tag, "second"]) == ["b"]
    # id and checksum
    assert got(id=imgs["c"]["id"]) == ["c"]
    assert got(checksum=imgs["d"]["checksum"]) == ["d"]


def test_hidden_images(glance):
    c = glance.user()
    tag = unique("tag")
    shown = c.create(name=unique("shown"), tags=[tag])
    hidden = c.create(name=unique("hidden"), tags=[tag], os_hidden=True)
    assert c.list_ids(tag=tag) == [shown["id"]]                       # hidden excluded by default
    assert c.list_ids(tag=tag, os_hidden="true") == [hidden["id"]]    # true: only hidden ones
    assert c.list_ids(tag=tag, os_hidden="false") == [shown["id"]]
    assert c.get(hidden["id"])["os_hidden"] is True                   # still shown by id
    rows = c.cli("image", "list", "--hidden", "--tag", tag, "-f", "json")
    assert [r["ID"] for r in rows] == [hidden["id"]], rows
    # openstacksdk's find() falls back to ?os_hidden=true, so the CLI finds it by name
    out = c.cli("image", "show", hidden["name"], "-f", "json")
    assert out["id"] == hidden["id"], out


def test_created_at_and_updated_at_operators(glance):
    c = glance.user()
    tag = unique("tag")
    first = c.create(name=unique("first"), tags=[tag])
    time.sleep(1.1)                        # timestamps have second precision
    second = c.create(name=unique("second"), tags=[tag])
    time.sleep(1.1)
    c.patch_ok(first["id"], [{"op": "add", "path": "/nimbus_touch", "value": "1"}])
    first = c.get(first["id"])
    assert first["created_at"] < second["created_at"], (first, second)
    assert first["updated_at"] > second["updated_at"], (first, second)   # updated after the PATCH

    def got(**params):
        ids = c.list_ids(tag=tag, **params)
        return sorted("first" if i == first["id"] else "second" if i == second["id"] else i for i in ids)

    t1, t2 = first["created_at"], second["created_at"]
    assert got(created_at=f"gt:{t1}") == ["second"]
    assert got(created_at=f"gte:{t1}") == ["first", "second"]
    assert got(created_at=f"lte:{t1}") == ["first"]
    assert got(created_at=f"lt:{t2}") == ["first"]
    assert got(created_at=f"eq:{t2}") == ["second"]
    assert got(created_at=f"neq:{t2}") == ["first"]
    assert got(created_at=t1) == ["first"]                    # a bare timestamp means eq
    u1, u2 = second["updated_at"], first["updated_at"]
    assert got(updated_at=f"gt:{u1}") == ["first"]
    assert got(updated_at=f"lte:{u1}") == ["second"]
    assert got(updated_at=f"gte:{u2}") == ["first"]
    # bad time / bad operator
    assert_error(c.req("GET", "/v2/images", params={"created_at": "gt:yesterday"}), 400)
    assert_error(c.req("GET", "/v2/images", params={"updated_at": f"after:{u1}"}), 400)


def test_cli_list_filters(glance):
    c = glance.user()
    tag = unique("tag")
    imgs = _image_set(c, tag)

    def cli_ids(*args):
        return sorted(_letters(imgs, [r["ID"] for r in c.cli("image", "list", *args, "-f", "json")]))

    assert cli_ids("--name", imgs["c"]["name"]) == ["c"]
    assert cli_ids("--private", "--tag", tag) == ["a"]
    rows = c.cli("image", "list", "--tag", tag, "--long", "-f", "json")
    by_id = {r["ID"]: r for r in rows}
    assert set(by_id) == {img["id"] for img in imgs.values()}, rows
    b = by_id[imgs["b"]["id"]]
    assert (b["Disk Format"], b["Container Format"], b["Size"], b["Checksum"]) == \
        ("ami", "ami", 40, imgs["b"]["checksum"]), b
    assert b["Visibility"] == "shared" and b["Project"] == c.project_id, b
    # the admin filters by owner (--project)
    assert sorted(_letters(imgs, [r["ID"] for r in glance.admin.cli(
        "image", "list", "--project", c.project_id, "--tag", tag, "-f", "json")])) == ["a", "b", "c", "d", "e"]


# ---- sorting ----------------------------------------------------------------------------

def test_sorting(glance):
    c = glance.user()
    tag = unique("tag")
    imgs = _image_set(c, tag)

    def order(**params):
        return _letters(imgs, c.list_ids(tag=tag, **params))

    # default: created_at desc, then id desc
    expected = sorted(imgs, key=lambda x: (imgs[x]["created_at"], imgs[x]["id"]), reverse=True)
    assert order() == expected
    assert order(sort_key="name", sort_dir="asc") == ["a", "b", "c", "d", "e"]
    assert order(sort_key="name") == ["e", "d", "c", "b", "a"]            # no dir: desc
    assert order(sort_key="name", sort_dir="desc") == ["e", "d", "c", "b", "a"]
    # sizes (null sizes left out: their place is the database's)
    assert order(sort_key="size", sort_dir="asc", status="active") == ["a", "c", "d", "b"]
    assert order(sort_key="size", sort_dir="desc", status="active") == ["b", "d", "c", "a"]
    # several keys and dirs
    assert order(sort_key=["disk_format", "name"], sort_dir=["asc", "desc"]) == ["d", "b", "e", "c", "a"]
    assert order(sort_key=["disk_format", "name"], sort_dir="asc") == ["d", "b", "e", "a", "c"]
    # the sort= syntax
    assert order(sort="name:asc") == ["a", "b", "c", "d", "e"]
    assert order(sort="name") == ["e", "d", "c", "b", "a"]                 # default desc
    assert order(sort="disk_format:asc,name:desc") == ["d", "b", "e", "c", "a"]
    assert order(sort="size:desc", status="active") == ["b", "d", "c", "a"]
    # bad combinations
    assert_error(c.req("GET", "/v2/images", params={"sort_key": "name", "sort_dir": "sideways"}), 400,
                 "Invalid sort direction")
    assert_error(c.req("GET", "/v2/images", params={"sort_key": ["name", "size"],
                                                    "sort_dir": ["asc", "desc", "asc"]}), 400,
                 "Number of sort dirs does not match the number of sort keys")
    assert_error(c.req("GET", "/v2/images", params={"sort": "name:asc", "sort_key": "size"}), 400,
                 "Old and new sorting syntax cannot be combined")
    assert_error(c.req("GET", "/v2/images", params={"sort": "name:sideways"}), 400)
    assert_error(c.req("GET", "/v2/images", params={"sort": "owner:asc"}), 400)


# ---- pagination ----------------------------------------------------------------------

def test_limit_marker_and_next_links(glance):
    c = glance.user()
    tag = unique("tag")
    imgs = _image_set(c, tag)
    params = {"tag": tag, "sort_key": "name", "sort_dir": "asc"}

    body = c.list(limit=2, **params)
    assert body["schema"] == "/v2/schemas/images"
    assert query_of(body["first"]) == {"tag": [tag], "sort_key": ["name"], "sort_dir": ["asc"], "limit": ["2"]}
    assert _letters(imgs, [i["id"] for i in body["images"]]) == ["a", "b"]
    nxt = query_of(body["next"])
    assert nxt["marker"] == [imgs["b"]["id"]] and nxt["limit"] == ["2"] and nxt["tag"] == [tag], nxt

    pages = c.pages(limit=2, **params)
    assert [_letters(imgs, [i["id"] for i in p["images"]]) for p in pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert "next" in pages[0] and "next" in pages[1] and "next" not in pages[2], pages
    # `first` never carries the marker
    assert "marker" not in query_of(pages[1]["first"]), pages[1]["first"]

    # a full last page still gets a `next`, which yields an empty page without one
    pages = c.pages(limit=5, **params)
    assert [len(p["images"]) for p in pages] == [5, 0], pages
    assert "next" not in pages[1]

    # marker by hand, default order, and limit=0
    everything = c.list_ids(tag=tag)
    assert c.list_ids(tag=tag, limit=2, marker=everything[1]) == everything[2:4]
    assert c.list_ids(tag=tag, marker=everything[-1]) == []
    assert c.list(tag=tag, limit=0)["images"] == []

    # openstacksdk follows the `next` links (it strips /v2 and appends the rest)
    conn = c.sdk()
    try:
        names = [i.name for i in conn.image.images(tag=tag, limit=2, sort="name:asc")]
    finally:
        conn.close()
    assert names == [imgs[x]["name"] for x in "abcde"], names


def test_cli_limit_and_marker(glance):
    c = glance.user()
    tag = unique("tag")
    _image_set(c, tag)
    everything = c.list_ids(tag=tag)           # the server's default order
    rows = c.cli("image", "list", "--tag", tag, "--limit", "2", "-f", "json")
    assert sorted(r["ID"] for r in rows) == sorted(everything[:2]), (rows, everything)
    rows = c.cli("image", "list", "--tag", tag, "--limit", "2", "--marker", everything[1], "-f", "json")
    assert sorted(r["ID"] for r in rows) == sorted(everything[2:4]), (rows, everything)
