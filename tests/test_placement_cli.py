"""Placement through the `openstack` CLI with osc-placement: providers, inventories, classes,
traits, aggregates, allocations, usages and allocation candidates, as an operator (and Nova's
scheduler, through the same API) would use them."""

import pytest

from conftest import unique
from placement_support import PlacementClient, new_uuid

V = ["--os-placement-api-version", "1.39"]


@pytest.fixture(scope="module")
def admin(cloud):
    return PlacementClient.login(cloud, "admin", cloud.admin_password, "admin")


def test_provider_inventory_traits_aggregates_and_candidates(cloud, admin):
    name = unique("cn")
    rp = cloud.cli("resource", "provider", "create", name, *V, "-f", "json")
    assert rp["name"] == name and rp["generation"] == 0 and rp["root_provider_uuid"] == rp["uuid"]
    u = rp["uuid"]
    child = cloud.cli("resource", "provider", "create", unique("numa"), "--parent-provider", u, *V, "-f", "json")
    try:
        inv = cloud.cli("resource", "provider", "inventory", "set", u, "--resource", "VCPU=8", "--resource", "VCPU:allocation_ratio=4.0",
                        "--resource", "MEMORY_MB=4096", "--resource", "MEMORY_MB:reserved=512", *V, "-f", "json")
        by_class = {row["resource_class"]: row for row in inv}
        assert by_class["VCPU"]["total"] == 8 and by_class["VCPU"]["allocation_ratio"] == 4.0
        assert by_class["MEMORY_MB"]["reserved"] == 512
        admin.req("PUT", "/traits/CUSTOM_GOLD")
        traits = cloud.cli("resource", "provider", "trait", "set", u, "--trait", "CUSTOM_GOLD", "--trait", "HW_CPU_X86_AVX2", *V, "-f", "json")
        assert sorted(t["name"] for t in traits) == ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"]
        agg = new_uuid()
        aggs = cloud.cli("resource", "provider", "aggregate", "set", u, "--aggregate", agg, "--generation", str(admin.generation(u)), *V, "-f", "json")
        assert [a["uuid"] for a in aggs] == [agg]
        listed = cloud.cli("resource", "provider", "list", "--in-tree", child["uuid"], "--required", "CUSTOM_GOLD", *V, "-f", "json")
        assert [p["uuid"] for p in listed] == [u]
        cands = cloud.cli("allocation", "candidate", "list", "--resource", "VCPU=2", "--resource", "MEMORY_MB=1024",
                          "--required", "CUSTOM_GOLD", "--member-of", agg, *V, "-f", "json")
        assert len(cands) == 1
        assert cands[0]["resource provider"] == u
        assert "VCPU=2" in cands[0]["allocation"] and "MEMORY_MB=1024" in cands[0]["allocation"]
        # Allocations and usages.
        consumer, project, user = new_uuid(), new_uuid(), new_uuid()
        alloc = cloud.cli("resource", "provider", "allocation", "set", consumer, "--allocation", f"rp={u},VCPU=2,MEMORY_MB=1024",
                          "--project-id", project, "--user-id", user, "--consumer-type", "INSTANCE", *V, "-f", "json")
        assert alloc[0]["resources"] == {"VCPU": 2, "MEMORY_MB": 1024}
        # (osc-placement prints 1.38's per-consumer-type usages as they come; 1.37 gives its table)
        totals = cloud.cli("resource", "usage", "show", project, "--os-placement-api-version", "1.37", "-f", "json")
        assert {r["resource_class"]: r["usage"] for r in totals} == {"VCPU": 2, "MEMORY_MB": 1024}
        assert admin.ok("GET", f"/resource_providers/{u}/usages")["usages"] == {"VCPU": 2, "MEMORY_MB": 1024}
        cloud.cli("resource", "provider", "allocation", "delete", consumer, *V)
        assert admin.ok("GET", f"/allocations/{consumer}") == {"allocations": {}}
    finally:
        cloud.cli("resource", "provider", "delete", child["uuid"], *V, check=False)
        admin.req("DELETE", f"/resource_providers/{u}")
    assert admin.req("GET", f"/resource_providers/{u}").status_code == 404


def test_resource_classes_and_traits(cloud, admin):
    cls = "CUSTOM_" + unique("fpga").upper().replace("-", "_")
    cloud.cli("resource", "class", "create", cls, *V)
    names = [c["name"] for c in cloud.cli("resource", "class", "list", *V, "-f", "json")]
    assert names[:3] == ["VCPU", "MEMORY_MB", "DISK_GB"] and cls in names
    assert admin.req("DELETE", f"/resource_classes/{cls}").status_code == 204
    standard = cloud.cli("trait", "list", "--name", "startswith:HW_CPU_X86_AVX", *V, "-f", "json")
    assert "HW_CPU_X86_AVX2" in [t["name"] for t in standard]
    refused = cloud.cli("trait", "delete", "HW_CPU_X86_AVX2", *V, check=False)
    assert refused.returncode != 0 and "400" in refused.stderr
