"""Catalog, service, endpoint and region CRUD."""

from conftest import unique


def test_catalog_list_shows_identity(cloud):
    rows = cloud.cli("catalog", "list", "-f", "json")
    identity = [r for r in rows if r["Type"] == "identity"]
    assert len(identity) == 1, rows
    text = str(identity[0]["Endpoints"])
    assert cloud.identity_url in text
    for interface in ("public", "internal", "admin"):
        assert interface in text


def test_service_crud(cloud):
    name, stype = unique("svc"), unique("type")
    s = cloud.cli("service", "create", "--name", name, "--description", "d1", stype, "-f", "json")
    assert s["name"] == name and s["type"] == stype and s["description"] == "d1"
    assert s["enabled"] is True
    assert name in {r["Name"] for r in cloud.cli("service", "list", "-f", "json")}
    assert cloud.cli("service", "show", s["id"], "-f", "json")["type"] == stype

    cloud.cli("service", "set", "--name", name + "-x", "--disable", s["id"])
    shown = cloud.cli("service", "show", s["id"], "-f", "json")
    assert shown["name"] == name + "-x" and shown["enabled"] is False

    cloud.cli("service", "delete", s["id"])
    assert cloud.cli("service", "show", s["id"], check=False).returncode != 0


def test_endpoint_crud_and_catalog(cloud):
    stype = unique("type")
    svc = cloud.cli("service", "create", "--name", unique("svc"), stype, "-f", "json")
    url = "http://127.0.0.1:9/v1"
    ep = cloud.cli("endpoint", "create", "--region", "RegionOne", svc["id"], "public", url,
                   "-f", "json")
    assert ep["url"] == url and ep["interface"] == "public"
    assert ep["region"] == "RegionOne" and ep["service_id"] == svc["id"]
    assert ep["enabled"] is True

    listed = cloud.cli("endpoint", "list", "--service", svc["id"], "-f", "json")
    assert [e["ID"] for e in listed] == [ep["id"]]
    assert cloud.cli("endpoint", "list", "--interface", "public", "--region", "RegionOne",
                     "-f", "json")

    # a fresh token's catalog has the new service
    shown = cloud.cli("catalog", "show", stype, "-f", "json")
    assert url in str(shown["endpoints"])

    cloud.cli("endpoint", "set", "--url", url + "/x", "--interface", "internal", ep["id"])
    shown = cloud.cli("endpoint", "show", ep["id"], "-f", "json")
    assert shown["url"] == url + "/x" and shown["interface"] == "internal"

    proc = cloud.cli("endpoint", "create", svc["id"], "bogus-interface", url, check=False)
    assert proc.returncode != 0

    cloud.cli("endpoint", "delete", ep["id"])
    assert cloud.cli("endpoint", "show", ep["id"], check=False).returncode != 0
    assert cloud.cli("endpoint", "list", "--service", svc["id"], "-f", "json") == []
    cloud.cli("service", "delete", svc["id"])


def test_region_crud(cloud):
    parent, child = unique("reg"), unique("reg")
    r = cloud.cli("region", "create", "--description", "p", parent, "-f", "json")
    assert r["region"] == parent and r["description"] == "p"
    c = cloud.cli("region", "create", "--parent-region", parent, child, "-f", "json")
    assert c["parent_region"] == parent

    regions = {x["Region"]: x for x in cloud.cli("region", "list", "-f", "json")}
    assert regions[child]["Parent Region"] == parent
    assert {"RegionOne", parent, child} <= set(regions)

    cloud.cli("region", "set", "--description", "changed", parent)
    assert cloud.cli("region", "show", parent, "-f", "json")["description"] == "changed"

    cloud.cli("region", "delete", child)
    cloud.cli("region", "delete", parent)
    assert cloud.cli("region", "show", parent, check=False).returncode != 0
