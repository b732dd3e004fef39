"""The compute API's resources other than servers themselves, on a cloud whose compute node runs
the fake driver: quota sets and classes, limits, availability zones, hypervisors, services,
aggregates, server groups, simple tenant usage, os-migrations, server metadata and server tags,
through the `openstack` CLI and plain requests, with the isolation between projects Nova keeps.

Expected behaviour: nova/api/openstack/compute/{quota_sets,quota_classes,limits,
availability_zone,hypervisors,services,aggregates,server_groups,simple_tenant_usage,migrations,
server_metadata,server_tags}.py and their schemas, nova/quota.py, nova/compute/api.py
(AggregateAPI, update_instance_metadata), nova/policies/*.py."""

import tempfile
import time

import pytest

from compute_support import start_compute_cloud, stop_compute_cloud


@pytest.fixture(scope="module")
def fake_cloud(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("resources"), "fake")
    try:
        yield cloud
    finally:
        stop_compute_cloud(cloud, data)


@pytest.fixture(scope="module")
def demo(fake_cloud):
    """A token of the demo user (member of project demo)."""
    return fake_cloud.token("demo", fake_cloud.nimbus.read_password("demo"), "demo")


def project_id(cloud, name):
    return next(p["ID"] for p in cloud.cli("project", "list", "-f", "json") if p["Name"] == name)


def user_id(cloud, name):
    return next(u["ID"] for u in cloud.cli("user", "list", "-f", "json") if u["Name"] == name)


def compute_host(cloud):
    for _ in range(60):
        hosts = cloud.nova("GET", "/os-hypervisors", version="2.53").json()["hypervisors"]
        if hosts:
            return hosts[0]["hypervisor_hostname"]
        time.sleep(0.5)
    raise AssertionError("no compute node registered")


def image_id(cloud):
    images = cloud.cli("image", "list", "-f", "json")
    if not any(i["Name"] == "tiny-raw" for i in images):
        with tempfile.NamedTemporaryFile(suffix=".raw") as f:
            f.write(b"\0" * 1024 * 1024)
            f.flush()
            cloud.cli("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare", "--file", f.name, "tiny-raw")
    return next(i["ID"] for i in cloud.cli("image", "list", "-f", "json") if i["Name"] == "tiny-raw")


def boot(cloud, name, token=None, wait=True):
    body = {"server": {"name": name, "imageRef": image_id(cloud), "flavorRef": "42", "networks": "none"}}
    r = cloud.nova("POST", "/servers", json=body, token=token)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    if wait:
        cloud.wait_server(sid, "ACTIVE", timeout=60, token=token)
    return sid


def delete_server(cloud, sid):
    cloud.cli("server", "delete", "--wait", sid, timeout=120)


def fault(r, name, status):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()[name]["message"]


# --- quota sets and classes ---------------------------------------------------------------------

def test_quota_defaults_and_views_by_microversion(fake_cloud):
    admin = project_id(fake_cloud, "admin")
    shown = {r["Resource"]: r["Limit"] for r in fake_cloud.cli("quota", "show", "--compute", "-f", "json")}
    assert shown["instances"] == 10 and shown["cores"] == 20 and shown["ram"] == 51200, shown
    assert shown["server-groups"] == 10 and shown["server-group-members"] == 10 and shown["key-pairs"] == 100, shown
    q = fake_cloud.nova("GET", f"/os-quota-sets/{admin}", version="2.35").json()["quota_set"]
    assert q["id"] == admin and q["metadata_items"] == 128 and q["injected_files"] == 5 and q["floating_ips"] == -1, q
    assert q["injected_file_content_bytes"] == 10240 and q["injected_file_path_bytes"] == 255, q
    q = fake_cloud.nova("GET", f"/os-quota-sets/{admin}", version="2.36").json()["quota_set"]
    assert "floating_ips" not in q and "security_groups" not in q and q["injected_files"] == 5, q
    q = fake_cloud.nova("GET", f"/os-quota-sets/{admin}", version="2.57").json()["quota_set"]
    assert set(q) == {"id", "instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups", "server_group_members"}, q
    d = fake_cloud.nova("GET", f"/os-quota-sets/{admin}/defaults").json()["quota_set"]
    assert d["id"] == admin and d["instances"] == 10, d
    detail = fake_cloud.nova("GET", f"/os-quota-sets/{admin}/detail").json()["quota_set"]
    assert detail["cores"] == {"in_use": 0, "limit": 20, "reserved": 0}, detail
    # quota classes: server group quotas only from 2.50, nova-network ones hidden from 2.50
    c = fake_cloud.nova("GET", "/os-quota-class-sets/default", version="2.1").json()["quota_class_set"]
    assert c["id"] == "default" and "server_groups" not in c and c["fixed_ips"] == -1, c
    c = fake_cloud.nova("GET", "/os-quota-class-sets/default", version="2.50").json()["quota_class_set"]
    assert c["server_groups"] == 10 and "fixed_ips" not in c and c["injected_files"] == 5, c
    # 2.75: unknown query parameters are refused
    r = fake_cloud.nova("GET", f"/os-quota-sets/{admin}?foo=1", version="2.75")
    assert "Additional properties are not allowed" in fault(r, "badRequest", 400)
    assert fake_cloud.nova("GET", f"/os-quota-sets/{admin}?foo=1", version="2.74").status_code == 200


def test_quota_set_usage_and_delete(fake_cloud, demo):
    demo_project = project_id(fake_cloud, "demo")
    sid = boot(fake_cloud, "quota-user", token=demo)
    try:
        fake_cloud.cli("quota", "set", "--instances", "5", "--cores", "7", "demo")
        rows = {r["Resource"]: r for r in fake_cloud.cli("quota", "show", "--compute", "--usage", "demo", "-f", "json")}
        assert rows["instances"]["Limit"] == 5 and rows["instances"]["In Use"] == 1, rows
        assert rows["cores"]["Limit"] == 7 and rows["cores"]["In Use"] == 1, rows
        assert rows["ram"]["In Use"] == 128, rows
        # below what is used: Nova's 400, unless forced
        r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json={"quota_set": {"instances": 0}})
        assert fault(r, "badRequest", 400) == ("Quota limit 0 for instances must be greater than or equal to already used "
                                               "and reserved 1.")
        r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json={"quota_set": {"instances": "0", "force": True}})
        assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 0 and "id" not in r.json()["quota_set"], r.text
        # server create enforces the project's limit
        body = {"server": {"name": "one-too-many", "imageRef": image_id(fake_cloud), "flavorRef": "42", "networks": "none"}}
        r = fake_cloud.nova("POST", "/servers", json=body, token=demo)
        assert fault(r, "forbidden", 403) == "Quota exceeded for instances: Requested 1, but already used 1 of 0 instances"
        # the demo member reads its own quotas, not admin's, and changes none
        assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}", token=demo).json()["quota_set"]["instances"] == 0
        admin = project_id(fake_cloud, "admin")
        r = fake_cloud.nova("GET", f"/os-quota-sets/{admin}", token=demo)
        assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
        assert fake_cloud.nova("GET", f"/os-quota-sets/{admin}/detail", token=demo).status_code == 403
        r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json={"quota_set": {"instances": 50}}, token=demo)
        assert r.status_code == 403, r.text
        assert fake_cloud.nova("DELETE", f"/os-quota-sets/{demo_project}", token=demo).status_code == 403
        assert fake_cloud.nova("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"cores": 1}}, token=demo).status_code == 403
        # the defaults are anybody's to read
        assert fake_cloud.nova("GET", f"/os-quota-sets/{admin}/defaults", token=demo).status_code == 200
        # DELETE returns the project to the defaults
        r = fake_cloud.nova("DELETE", f"/os-quota-sets/{demo_project}")
        assert r.status_code == 202 and r.text == "", r.text
        assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}").json()["quota_set"]["instances"] == 10
    finally:
        delete_server(fake_cloud, sid)


def test_quota_set_validation(fake_cloud):
    demo_project = project_id(fake_cloud, "demo")
    cases = [
        ({"quota_set": {"instances": "abc"}}, "Invalid input for field/attribute instances. Value: abc. 'abc' does not match '^-?[0-9]+$'"),
        ({"quota_set": {"instances": -2}}, "Invalid input for field/attribute instances. Value: -2. -2 is less than the minimum of -1"),
        ({"quota_set": {"bogus": 1}}, "Additional properties are not allowed ('bogus' was unexpected)"),
        ({"quota_set": {"floating_ips": 1}}, "Additional properties are not allowed ('floating_ips' was unexpected)"),
        ({}, "'quota_set' is a required property"),
    ]
    for body, message in cases:
        r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json=body)
        assert message in fault(r, "badRequest", 400), (body, r.text)
    # before 2.36 the nova-network quotas may still be set
    r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json={"quota_set": {"floating_ips": 3}}, version="2.35")
    assert r.status_code == 200 and r.json()["quota_set"]["floating_ips"] == 3, r.text
    # a user's limit may not exceed what the project has left
    demo_user = user_id(fake_cloud, "demo")
    r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}?user_id={demo_user}", json={"quota_set": {"instances": 11}})
    assert fault(r, "badRequest", 400) == "Quota limit 11 for instances must be less than or equal to 10."
    r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}?user_id={demo_user}", json={"quota_set": {"instances": 4}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 4, r.text
    assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}?user_id={demo_user}").json()["quota_set"]["instances"] == 4
    assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}").json()["quota_set"]["instances"] == 10
    # the project's limit may not drop below what its users were given
    r = fake_cloud.nova("PUT", f"/os-quota-sets/{demo_project}", json={"quota_set": {"instances": 3}})
    assert fault(r, "badRequest", 400) == "Quota limit 3 for instances must be greater than or equal to already used and reserved 4."
    assert fake_cloud.nova("DELETE", f"/os-quota-sets/{demo_project}").status_code == 202
    assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}?user_id={demo_user}").json()["quota_set"]["instances"] == 10


def test_default_quota_class_and_keypair_quota(fake_cloud, demo):
    try:
        fake_cloud.cli("quota", "set", "--default", "--key-pairs", "1")
        defaults = {r["Resource"]: r["Limit"] for r in fake_cloud.cli("quota", "show", "--default", "--compute", "-f", "json")}
        assert defaults["key-pairs"] == 1, defaults
        demo_project = project_id(fake_cloud, "demo")
        assert fake_cloud.nova("GET", f"/os-quota-sets/{demo_project}", token=demo).json()["quota_set"]["key_pairs"] == 1
        # enforced: the demo user's second keypair is over quota
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm0oYwM0fTqFq0mDeFz9bXb1oSPNvOjC7pQm3E6yKn3 t@x"
        r = fake_cloud.nova("POST", "/os-keypairs", json={"keypair": {"name": "k1", "public_key": key}}, token=demo)
        assert r.status_code in (200, 201), r.text
        r = fake_cloud.nova("POST", "/os-keypairs", json={"keypair": {"name": "k2", "public_key": key}}, token=demo)
        assert fault(r, "forbidden", 403) == "Quota exceeded, too many key pairs."
        fake_cloud.nova("DELETE", "/os-keypairs/k1", token=demo)
    finally:
        fake_cloud.nova("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"key_pairs": 100}})


def test_limits(fake_cloud, demo):
    sid = boot(fake_cloud, "limits-user", token=demo)
    try:
        shown = {r["Name"]: r["Value"] for r in fake_cloud.cli("limits", "show", "--absolute", "-f", "json", cloud="nimbus-demo")}
        assert shown["max_total_instances"] == 10 and shown["total_instances_used"] == 1, shown
        assert shown["total_cores_used"] == 1 and shown["total_ram_used"] == 128 and shown["max_server_groups"] == 10, shown
        r = fake_cloud.nova("GET", "/limits", token=demo, version="2.1").json()["limits"]
        assert r["rate"] == [] and r["absolute"]["maxImageMeta"] == 128 and r["absolute"]["maxPersonality"] == 5, r
        assert r["absolute"]["totalFloatingIpsUsed"] == 0 and r["absolute"]["maxSecurityGroups"] == -1, r
        a = fake_cloud.nova("GET", "/limits", token=demo, version="2.39").json()["limits"]["absolute"]
        assert "maxImageMeta" not in a and "maxSecurityGroups" not in a and a["maxPersonality"] == 5, a
        a = fake_cloud.nova("GET", "/limits", token=demo, version="2.57").json()["limits"]["absolute"]
        assert "maxPersonality" not in a and "maxPersonalitySize" not in a and a["maxServerMeta"] == 128, a
        # another project's limits: admins only
        demo_project = project_id(fake_cloud, "demo")
        a = fake_cloud.nova("GET", f"/limits?tenant_id={demo_project}").json()["limits"]["absolute"]
        assert a["totalInstancesUsed"] == 1, a
        assert fake_cloud.nova("GET", "/limits").json()["limits"]["absolute"]["totalInstancesUsed"] == 0
        r = fake_cloud.nova("GET", f"/limits?tenant_id={project_id(fake_cloud, 'admin')}", token=demo)
        assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:limits:other_project to be performed."
    finally:
        delete_server(fake_cloud, sid)


# --- availability zones, hypervisors, services ---------------------------------------------------

def test_availability_zones(fake_cloud, demo):
    host = compute_host(fake_cloud)
    zones = fake_cloud.nova("GET", "/os-availability-zone", token=demo).json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}], zones
    assert fake_cloud.nova("GET", "/os-availability-zone/detail", token=demo).status_code == 403
    detail = {z["zoneName"]: z for z in fake_cloud.nova("GET", "/os-availability-zone/detail").json()["availabilityZoneInfo"]}
    assert detail["nova"]["hosts"][host]["nova-compute"]["available"] is True, detail
    assert detail["nova"]["hosts"][host]["nova-compute"]["active"] is True, detail
    assert set(detail["internal"]["hosts"][next(iter(detail["internal"]["hosts"]))]) == {"nova-scheduler", "nova-conductor"}, detail
    listed = {z["Zone Name"] for z in fake_cloud.cli("availability", "zone", "list", "--compute", "-f", "json")}
    assert "nova" in listed, listed


def test_hypervisors(fake_cloud, demo):
    host = compute_host(fake_cloud)
    listed = fake_cloud.cli("hypervisor", "list", "-f", "json")
    assert [h["Hypervisor Hostname"] for h in listed] == [host], listed
    uuid = listed[0]["ID"]
    shown = fake_cloud.cli("hypervisor", "show", uuid, "-f", "json")
    assert shown["hypervisor_type"] == "fake" and shown["state"] == "up" and shown["status"] == "enabled", shown
    stats = fake_cloud.cli("hypervisor", "stats", "show", "-f", "json")
    assert stats["count"] == 1 and stats["vcpus"] == 64 and stats["memory_mb_used"] == 512, stats
    sid = boot(fake_cloud, "on-hypervisor")
    try:
        old = fake_cloud.nova("GET", "/os-hypervisors/detail", version="2.1").json()["hypervisors"][0]
        assert isinstance(old["id"], int) and old["vcpus_used"] == 1 and old["memory_mb_used"] == 512 + 128, old
        assert old["running_vms"] == 1 and old["local_gb_used"] == 1 and isinstance(old["cpu_info"], str), old
        assert fake_cloud.nova("GET", f"/os-hypervisors/{old['id']}", version="2.1").json()["hypervisor"]["hypervisor_hostname"] == host
        assert isinstance(fake_cloud.nova("GET", "/os-hypervisors/detail", version="2.28").json()["hypervisors"][0]["cpu_info"], dict)
        new = fake_cloud.nova("GET", f"/os-hypervisors/{uuid}?with_servers=true", version="2.88").json()["hypervisor"]
        assert new["servers"] == [{"name": "on-hypervisor", "uuid": sid}] and "vcpus" not in new and "uptime" in new, new
        found = fake_cloud.nova("GET", f"/os-hypervisors?hypervisor_hostname_pattern={host[:2]}", version="2.53").json()["hypervisors"]
        assert [h["id"] for h in found] == [uuid], found
        # uptime and statistics went away at 2.88
        r = fake_cloud.nova("GET", f"/os-hypervisors/{uuid}/uptime", version="2.53")
        assert r.status_code == 200 and " up " in r.json()["hypervisor"]["uptime"], r.text
        assert fault(fake_cloud.nova("GET", f"/os-hypervisors/{uuid}/uptime", version="2.88"), "itemNotFound", 404) == \
            "The resource could not be found."
        assert fake_cloud.nova("GET", "/os-hypervisors/statistics", version="2.88").status_code == 404
        # pre-2.53 search and servers routes
        s = fake_cloud.nova("GET", f"/os-hypervisors/{host}/servers", version="2.52").json()["hypervisors"][0]
        assert s["servers"] == [{"name": "on-hypervisor", "uuid": sid}], s
    finally:
        delete_server(fake_cloud, sid)
    assert fault(fake_cloud.nova("GET", "/os-hypervisors/nope", version="2.53"), "badRequest", 400) == "Invalid uuid nope"
    assert fault(fake_cloud.nova("GET", "/os-hypervisors/nope", version="2.52"), "itemNotFound", 404) == \
        "Hypervisor with ID 'nope' could not be found."
    r = fake_cloud.nova("GET", "/os-hypervisors?hypervisor_hostname_pattern=zzz-none", version="2.53")
    assert fault(r, "itemNotFound", 404) == "No hypervisor matching 'zzz-none' could be found."
    r = fake_cloud.nova("GET", "/os-hypervisors?hypervisor_hostname_pattern=a&limit=1", version="2.53")
    assert "Paging over hypervisors" in fault(r, "badRequest", 400)
    page = fake_cloud.nova("GET", "/os-hypervisors?limit=1", version="2.53").json()
    assert len(page["hypervisors"]) == 1 and "marker=" in page["hypervisors_links"][0]["href"], page
    # admins only
    for path in ("/os-hypervisors", "/os-hypervisors/detail", f"/os-hypervisors/{uuid}"):
        r = fake_cloud.nova("GET", path, token=demo)
        assert r.status_code == 403, (path, r.text)


def test_compute_services(fake_cloud, demo):
    host = compute_host(fake_cloud)
    services = fake_cloud.cli("compute", "service", "list", "-f", "json")
    assert {s["Binary"] for s in services} == {"nova-compute", "nova-scheduler", "nova-conductor"}, services
    compute = next(s for s in services if s["Binary"] == "nova-compute")
    assert compute["Host"] == host and compute["Zone"] == "nova" and compute["State"] == "up", compute
    assert {s["Zone"] for s in services if s["Binary"] != "nova-compute"} == {"internal"}, services
    only = fake_cloud.cli("compute", "service", "list", "--service", "nova-compute", "-f", "json")
    assert [s["Binary"] for s in only] == ["nova-compute"], only
    old = fake_cloud.nova("GET", "/os-services?binary=nova-compute", version="2.10").json()["services"][0]
    assert isinstance(old["id"], int) and "forced_down" not in old, old
    try:
        fake_cloud.cli("compute", "service", "set", "--disable", "--disable-reason", "maintenance", host, "nova-compute")
        s = fake_cloud.nova("GET", f"/os-services?host={host}&binary=nova-compute", version="2.53").json()["services"][0]
        assert s["status"] == "disabled" and s["disabled_reason"] == "maintenance", s
        # a disabled compute host's zone is not available any more
        zones = fake_cloud.nova("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
        assert zones == [{"zoneName": "nova", "zoneState": {"available": False}, "hosts": None}], zones
        # the pre-2.53 actions
        r = fake_cloud.nova("PUT", "/os-services/enable", json={"host": host, "binary": "nova-compute"}, version="2.11")
        assert r.json() == {"service": {"host": host, "binary": "nova-compute", "status": "enabled"}}, r.text
        r = fake_cloud.nova("PUT", "/os-services/force-down", json={"host": host, "binary": "nova-compute", "forced_down": True}, version="2.11")
        assert r.json()["service"]["forced_down"] is True, r.text
        assert fake_cloud.nova("GET", f"/os-hypervisors/{s['id']}", version="2.53").json()["hypervisor"]["state"] == "down"
        r = fake_cloud.nova("PUT", "/os-services/force-down", json={"host": host, "binary": "nova-compute", "forced_down": False}, version="2.10")
        assert fault(r, "itemNotFound", 404) == "Unknown action"
        r = fake_cloud.nova("PUT", "/os-services/disable-log-reason", json={"host": host, "binary": "nova-compute"}, version="2.11")
        assert fault(r, "badRequest", 400) == "Missing disabled reason field"
        r = fake_cloud.nova("PUT", "/os-services/disable", json={"host": "nohost", "binary": "nova-compute"}, version="2.11")
        assert fault(r, "itemNotFound", 404) == "Host 'nohost' is not mapped to any cell"
        # 2.53: by uuid
        r = fake_cloud.nova("PUT", f"/os-services/{s['id']}", json={"forced_down": False, "status": "enabled"}, version="2.53")
        assert r.status_code == 200 and r.json()["service"]["forced_down"] is False and r.json()["service"]["status"] == "enabled", r.text
        r = fake_cloud.nova("PUT", f"/os-services/{s['id']}", json={"status": "enabled", "disabled_reason": "x"}, version="2.53")
        assert fault(r, "badRequest", 400) == "Specifying 'disabled_reason' with status 'enabled' is invalid."
        r = fake_cloud.nova("PUT", f"/os-services/{s['id']}", json={}, version="2.53")
        assert fault(r, "badRequest", 400) == "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        assert fault(fake_cloud.nova("PUT", "/os-services/abc", json={"status": "enabled"}, version="2.53"), "badRequest", 400) == "Invalid uuid abc"
        scheduler = next(x for x in fake_cloud.nova("GET", "/os-services", version="2.53").json()["services"] if x["binary"] == "nova-scheduler")
        r = fake_cloud.nova("PUT", f"/os-services/{scheduler['id']}", json={"status": "disabled"}, version="2.53")
        assert fault(r, "badRequest", 400) == ("Updating a nova-scheduler service is not supported. Only nova-compute services "
                                               "can be updated.")
        assert fake_cloud.nova("DELETE", f"/os-services/{scheduler['id']}", version="2.53").status_code == 409
        # a host with instances cannot be deleted
        sid = boot(fake_cloud, "pins-host")
        try:
            r = fake_cloud.nova("DELETE", f"/os-services/{s['id']}", version="2.53")
            assert fault(r, "conflictingRequest", 409).startswith("Unable to delete compute service that is hosting instances.")
        finally:
            delete_server(fake_cloud, sid)
        assert fault(fake_cloud.nova("DELETE", "/os-services/x", version="2.52"), "badRequest", 400) == \
            "Invalid input received: id must be an integer"
        assert fake_cloud.nova("DELETE", "/os-services/99999", version="2.52").status_code == 404
        # admins only
        assert fake_cloud.nova("GET", "/os-services", token=demo).status_code == 403
        assert fake_cloud.nova("PUT", f"/os-services/{s['id']}", json={"status": "disabled"}, token=demo, version="2.53").status_code == 403
        assert fake_cloud.nova("DELETE", f"/os-services/{s['id']}", token=demo, version="2.53").status_code == 403
    finally:
        fake_cloud.nova("PUT", "/os-services/enable", json={"host": host, "binary": "nova-compute"}, version="2.11")
        fake_cloud.nova("PUT", "/os-services/force-down", json={"host": host, "binary": "nova-compute", "forced_down": False}, version="2.11")


# --- aggregates -----------------------------------------------------------------------------------

def test_aggregates_and_zones(fake_cloud, demo):
    host = compute_host(fake_cloud)
    agg = fake_cloud.cli("aggregate", "create", "--zone", "az-one", "rack1", "-f", "json")
    other = fake_cloud.cli("aggregate", "create", "rack2", "-f", "json")
    try:
        assert agg["availability_zone"] == "az-one" and agg["name"] == "rack1", agg
        r = fake_cloud.nova("POST", "/os-aggregates", json={"aggregate": {"name": "rack1"}})
        assert fault(r, "conflictingRequest", 409) == "Aggregate rack1 already exists."
        fake_cloud.cli("aggregate", "add", "host", "rack1", host)
        zones = {z["zoneName"] for z in fake_cloud.nova("GET", "/os-availability-zone").json()["availabilityZoneInfo"]}
        assert zones == {"az-one"}, zones
        services = fake_cloud.nova("GET", "/os-services?binary=nova-compute").json()["services"]
        assert services[0]["zone"] == "az-one", services
        # a host in two zones: Nova's 409 (add_host) and 400 (set zone / set_metadata)
        fake_cloud.cli("aggregate", "set", "--zone", "az-two", "rack2")
        r = fake_cloud.nova("POST", f"/os-aggregates/{other['id']}/action", json={"add_host": {"host": host}})
        assert fault(r, "conflictingRequest", 409) == \
            f"Cannot add host to aggregate {other['id']}. Reason: One or more hosts already in availability zone(s) ['az-one']."
        fake_cloud.nova("PUT", f"/os-aggregates/{other['id']}", json={"aggregate": {"availability_zone": "az-one"}})
        fake_cloud.cli("aggregate", "add", "host", "rack2", host)   # same zone: allowed
        r = fake_cloud.nova("PUT", f"/os-aggregates/{other['id']}", json={"aggregate": {"availability_zone": "az-three"}})
        assert fault(r, "badRequest", 400) == \
            f"Cannot update aggregate {other['id']}. Reason: One or more hosts already in availability zone(s) ['az-one']."
        r = fake_cloud.nova("POST", f"/os-aggregates/{other['id']}/action", json={"set_metadata": {"metadata": {"availability_zone": None}}})
        assert "does not support empty named availability zone" in fault(r, "badRequest", 400)
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"add_host": {"host": host}})
        assert fault(r, "conflictingRequest", 409) == f"Aggregate {agg['id']} already has host {host}."
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"add_host": {"host": "ghost"}})
        assert fault(r, "itemNotFound", 404) == "Compute host ghost could not be found."
        # metadata, null removes a key; uuid from 2.41
        fake_cloud.cli("aggregate", "set", "--property", "ssd=true", "--property", "gpu=no", "rack1")
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"set_metadata": {"metadata": {"gpu": None}}}, version="2.41")
        a = r.json()["aggregate"]
        assert a["metadata"] == {"availability_zone": "az-one", "ssd": "true"} and a["hosts"] == [host] and "uuid" in a, a
        assert "uuid" not in fake_cloud.nova("GET", f"/os-aggregates/{agg['id']}", version="2.40").json()["aggregate"]
        # an aggregate with hosts cannot be deleted; a zone cannot change under instances
        r = fake_cloud.nova("DELETE", f"/os-aggregates/{agg['id']}")
        assert fault(r, "badRequest", 400) == f"Cannot remove host from aggregate {agg['id']}. Reason: Host aggregate is not empty."
        sid = boot(fake_cloud, "in-zone")
        try:
            assert fake_cloud.nova("GET", f"/servers/{sid}").json()["server"]["OS-EXT-AZ:availability_zone"] == "az-one"
            r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"set_metadata": {"metadata": {"availability_zone": "az-x"}}})
            assert "One or more hosts already in availability zone(s)" in fault(r, "badRequest", 400) or \
                "One or more hosts contain instances in this zone" in r.text
            fake_cloud.cli("aggregate", "remove", "host", "rack2", host)   # another aggregate still gives az-one
            r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"remove_host": {"host": host}})
            assert "The host cannot be removed from the aggregate as the availability zone of the host would change" in \
                fault(r, "conflictingRequest", 409)
        finally:
            delete_server(fake_cloud, sid)
        fake_cloud.cli("aggregate", "remove", "host", "rack1", host)
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"remove_host": {"host": host}})
        assert fault(r, "itemNotFound", 404) == f"Cannot remove host {host} in aggregate {agg['id']}"
        zones = {z["zoneName"] for z in fake_cloud.nova("GET", "/os-availability-zone").json()["availabilityZoneInfo"]}
        assert zones == {"nova"}, zones
        # bad input
        assert fault(fake_cloud.nova("GET", "/os-aggregates/abc"), "badRequest", 400) == "Invalid input received: id must be an integer"
        assert fault(fake_cloud.nova("GET", "/os-aggregates/9999"), "itemNotFound", 404) == "Aggregate 9999 could not be found."
        # Nova's oneOf [az_name, null] reports the oneOf failure, not the InvalidName under it
        r = fake_cloud.nova("POST", "/os-aggregates", json={"aggregate": {"name": "x", "availability_zone": "a:b"}})
        assert fault(r, "badRequest", 400) == ("Invalid input for field/attribute availability_zone. Value: a:b. "
                                               "'a:b' is not valid under any of the given schemas")
        r = fake_cloud.nova("POST", "/os-aggregates", json={"aggregate": {"name": " x"}})
        assert fault(r, "badRequest", 400) == ("An invalid 'name' value was provided. The name must be: printable characters. "
                                               "Can not start or end with whitespace.")
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"bogus": {}})
        assert fault(r, "badRequest", 400) == "There is no such action: bogus"
        # admins only
        assert fake_cloud.nova("GET", "/os-aggregates", token=demo).status_code == 403
        assert fake_cloud.nova("POST", "/os-aggregates", json={"aggregate": {"name": "mine"}}, token=demo).status_code == 403
        r = fake_cloud.nova("POST", f"/os-aggregates/{agg['id']}/action", json={"add_host": {"host": host}}, token=demo)
        assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-aggregates:add_host to be performed."
    finally:
        for a in (agg, other):
            shown = fake_cloud.nova("GET", f"/os-aggregates/{a['id']}").json().get("aggregate", {})
            for h in shown.get("hosts", []):
                fake_cloud.nova("POST", f"/os-aggregates/{a['id']}/action", json={"remove_host": {"host": h}})
            fake_cloud.nova("DELETE", f"/os-aggregates/{a['id']}")
    assert fake_cloud.cli("aggregate", "list", "-f", "json") == []


# --- server groups --------------------------------------------------------------------------------

def test_server_groups(fake_cloud, demo):
    g = fake_cloud.cli("server", "group", "create", "--policy", "anti-affinity", "spread", "-f", "json")
    assert g["policy"] == "anti-affinity" and g["members"] == "" or g["members"] == [], g
    gid = g["id"]
    try:
        old = fake_cloud.nova("GET", f"/os-server-groups/{gid}", version="2.1").json()["server_group"]
        assert old["policies"] == ["anti-affinity"] and old["metadata"] == {} and "project_id" not in old, old
        new = fake_cloud.nova("GET", f"/os-server-groups/{gid}", version="2.64").json()["server_group"]
        assert new["policy"] == "anti-affinity" and new["rules"] == {} and new["project_id"] == project_id(fake_cloud, "admin"), new
        r = fake_cloud.nova("POST", "/os-server-groups", version="2.64",
                            json={"server_group": {"name": "two-per-host", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}})
        assert r.status_code == 200 and r.json()["server_group"]["rules"] == {"max_server_per_host": 2}, r.text
        fake_cloud.nova("DELETE", f"/os-server-groups/{r.json()['server_group']['id']}")
        r = fake_cloud.nova("POST", "/os-server-groups", version="2.64",
                            json={"server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}})
        assert fault(r, "badRequest", 400) == "Only anti-affinity policy supports rules."
        r = fake_cloud.nova("POST", "/os-server-groups", version="2.14", json={"server_group": {"name": "x", "policies": ["soft-affinity"]}})
        assert "is not one of ['anti-affinity', 'affinity']" in fault(r, "badRequest", 400)
        r = fake_cloud.nova("POST", "/os-server-groups", version="2.64", json={"server_group": {"name": "x", "policies": ["affinity"]}})
        assert fault(r, "badRequest", 400).startswith("Invalid input for field/attribute server_group.") or "policy" in r.text
        # another project's group: 403 (Nova finds it, then its policy refuses), not in demo's list
        r = fake_cloud.nova("GET", f"/os-server-groups/{gid}", token=demo)
        assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-server-groups:show to be performed."
        assert fake_cloud.nova("DELETE", f"/os-server-groups/{gid}", token=demo).status_code == 403
        assert fake_cloud.nova("GET", "/os-server-groups?all_projects=1", token=demo).json()["server_groups"] == []
        mine = fake_cloud.nova("POST", "/os-server-groups", token=demo, version="2.1",
                               json={"server_group": {"name": "demo-g", "policies": ["affinity"]}})
        assert mine.status_code == 200, mine.text
        listed = fake_cloud.nova("GET", "/os-server-groups", token=demo).json()["server_groups"]
        assert [x["name"] for x in listed] == ["demo-g"], listed
        everything = fake_cloud.nova("GET", "/os-server-groups?all_projects=True").json()["server_groups"]
        assert {x["name"] for x in everything} >= {"spread", "demo-g"}, everything
        assert [x["name"] for x in fake_cloud.nova("GET", "/os-server-groups").json()["server_groups"]] == ["spread"]
        assert len(fake_cloud.nova("GET", "/os-server-groups?all_projects=1&limit=1&offset=1").json()["server_groups"]) == 1
        # quota: server_groups
        demo_project = project_id(fake_cloud, "demo")
        fake_cloud.cli("quota", "set", "--server-groups", "1", "demo")
        r = fake_cloud.nova("POST", "/os-server-groups", token=demo, json={"server_group": {"name": "over", "policy": "affinity"}})
        assert fault(r, "forbidden", 403) == "Quota exceeded, too many server groups."
        limits = fake_cloud.nova("GET", "/limits", token=demo).json()["limits"]["absolute"]
        assert limits["totalServerGroupsUsed"] == 1 and limits["maxServerGroups"] == 1, limits
        fake_cloud.nova("DELETE", f"/os-quota-sets/{demo_project}")
        assert fake_cloud.nova("DELETE", f"/os-server-groups/{mine.json()['server_group']['id']}", token=demo).status_code == 204
        assert fault(fake_cloud.nova("GET", "/os-server-groups/nope"), "itemNotFound", 404) == "Instance group nope could not be found."
    finally:
        fake_cloud.cli("server", "group", "delete", gid)
    assert all(x["id"] != gid for x in fake_cloud.nova("GET", "/os-server-groups").json()["server_groups"])


# --- usage and migrations -------------------------------------------------------------------------

def test_simple_tenant_usage(fake_cloud, demo):
    sid = boot(fake_cloud, "usage-user", token=demo)
    demo_project = project_id(fake_cloud, "demo")
    try:
        time.sleep(1.1)
        # openstacksdk sends detailed=True, which Nova reads as not detailed ('1' only): no server list
        listed = fake_cloud.cli("usage", "list", "-f", "json")
        row = next(u for u in listed if u["Project"] in ("demo", demo_project))
        assert row["RAM MB-Hours"] > 0 and row["CPU Hours"] > 0, listed
        shown = fake_cloud.cli("usage", "show", "--project", "demo", "-f", "json")
        assert sid in [x["instance_id"] for x in shown["Servers"]] and shown["RAM MB-Hours"] > 0, shown
        start = "2000-01-01T00:00:00"
        u = fake_cloud.nova("GET", f"/os-simple-tenant-usage/{demo_project}?start={start}", token=demo).json()["tenant_usage"]
        assert u["tenant_id"] == demo_project and u["total_hours"] > 0 and u["start"] == "2000-01-01T00:00:00.000000", u
        s = next(x for x in u["server_usages"] if x["instance_id"] == sid)
        assert s["flavor"] == "m1.nano" and s["memory_mb"] == 128 and s["state"] == "active", s
        assert s["ended_at"] is None and s["local_gb"] == 1 and s["vcpus"] == 1 and s["uptime"] >= 1, s
        assert abs(u["total_memory_mb_usage"] - 128 * u["total_hours"]) < 1e-6, u      # every demo server is an m1.nano
        # summary without detailed=1, everything with it
        all_usage = fake_cloud.nova("GET", f"/os-simple-tenant-usage?start={start}").json()["tenant_usages"]
        assert all("server_usages" not in x for x in all_usage), all_usage
        detailed = fake_cloud.nova("GET", f"/os-simple-tenant-usage?start={start}&detailed=1").json()["tenant_usages"]
        assert any(x["tenant_id"] == demo_project and sid in [y["instance_id"] for y in x["server_usages"]] for x in detailed), detailed
        page = fake_cloud.nova("GET", f"/os-simple-tenant-usage?start={start}&limit=1", version="2.40").json()
        assert "marker=" in page["tenant_usages_links"][0]["href"], page
        # a window that ended before the server launched: nothing
        assert fake_cloud.nova("GET", f"/os-simple-tenant-usage/{demo_project}?start={start}&end=2000-02-01T00:00:00").json() == \
            {"tenant_usage": {}}
        r = fake_cloud.nova("GET", f"/os-simple-tenant-usage/{demo_project}?start=yesterday")
        assert fault(r, "badRequest", 400) == "Invalid datetime string: Datetime is in invalid format"
        r = fake_cloud.nova("GET", f"/os-simple-tenant-usage/{demo_project}?start=2001-01-01T00:00:00&end=2000-01-01T00:00:00")
        assert fault(r, "badRequest", 400) == "Invalid start time. The start time cannot occur after the end time."
        # the demo member: its own project only; listing every project is for admins
        assert fake_cloud.nova("GET", "/os-simple-tenant-usage", token=demo).status_code == 403
        r = fake_cloud.nova("GET", f"/os-simple-tenant-usage/{project_id(fake_cloud, 'admin')}", token=demo)
        assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed."
    finally:
        delete_server(fake_cloud, sid)
    # a deleted server still counts for the window it ran in, as terminated
    u = fake_cloud.nova("GET", f"/os-simple-tenant-usage/{demo_project}?start=2000-01-01T00:00:00").json()["tenant_usage"]
    s = next(x for x in u["server_usages"] if x["instance_id"] == sid)
    assert s["state"] == "terminated" and s["ended_at"], s


def test_migrations_list(fake_cloud, demo):
    assert fake_cloud.nova("GET", "/os-migrations").json() == {"migrations": []}
    assert fake_cloud.nova("GET", "/os-migrations?status=done&host=x", version="2.80").json() == {"migrations": []}
    assert fake_cloud.cli("server", "migration", "list", "-f", "json") == []
    r = fake_cloud.nova("GET", "/os-migrations?bogus=1", version="2.59")
    assert "Additional properties are not allowed" in fault(r, "badRequest", 400)
    r = fake_cloud.nova("GET", "/os-migrations?changes-since=notatime", version="2.59")
    assert fault(r, "badRequest", 400).endswith("'notatime' is not a 'date-time'")
    # project_manager_or_admin: a member is refused
    r = fake_cloud.nova("GET", "/os-migrations", token=demo)
    assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-migrations:index to be performed."


# --- server metadata and tags ---------------------------------------------------------------------

def test_server_metadata(fake_cloud, demo):
    sid = boot(fake_cloud, "meta", token=demo)
    try:
        fake_cloud.cli("server", "set", "--property", "color=blue", "--property", "size=L", sid, cloud="nimbus-demo")
        shown = fake_cloud.cli("server", "show", sid, "-f", "json", cloud="nimbus-demo")
        assert shown["properties"] in ({"color": "blue", "size": "L"}, "color='blue', size='L'"), shown
        fake_cloud.cli("server", "unset", "--property", "size", sid, cloud="nimbus-demo")
        assert fake_cloud.nova("GET", f"/servers/{sid}/metadata", token=demo).json() == {"metadata": {"color": "blue"}}
        assert fake_cloud.nova("GET", f"/servers/{sid}/metadata/color", token=demo).json() == {"meta": {"color": "blue"}}
        assert fault(fake_cloud.nova("GET", f"/servers/{sid}/metadata/none", token=demo), "itemNotFound", 404) == "Metadata item was not found"
        r = fake_cloud.nova("PUT", f"/servers/{sid}/metadata/shape", json={"meta": {"shape": "round"}}, token=demo)
        assert r.status_code == 200 and r.json() == {"meta": {"shape": "round"}}, r.text
        r = fake_cloud.nova("PUT", f"/servers/{sid}/metadata/shape", json={"meta": {"other": "x"}}, token=demo)
        assert fault(r, "badRequest", 400) == "Request body and URI mismatch"
        r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"a": "1"}}, token=demo)
        assert r.json() == {"metadata": {"color": "blue", "shape": "round", "a": "1"}}, r.text
        r = fake_cloud.nova("PUT", f"/servers/{sid}/metadata", json={"metadata": {"only": "this"}}, token=demo)
        assert r.json() == {"metadata": {"only": "this"}}, r.text
        assert fake_cloud.nova("DELETE", f"/servers/{sid}/metadata/only", token=demo).status_code == 204
        # keys and values as Nova's schema allows them; precomposed and decomposed keys are two
        r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"k/ey": "v"}}, token=demo)
        assert "Additional properties are not allowed" in fault(r, "badRequest", 400)
        r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"k": "v" * 256}}, token=demo)
        assert "is too long" in fault(r, "badRequest", 400)
        r = fake_cloud.nova("PUT", f"/servers/{sid}/metadata", json={"metadata": {"v": "caf\u00e9", "w": "cafe\u0301"}}, token=demo)
        assert r.json()["metadata"] == {"v": "caf\u00e9", "w": "cafe\u0301"}, r.text
        # the metadata_items quota (counted over the resulting set)
        demo_project = project_id(fake_cloud, "demo")
        fake_cloud.cli("quota", "set", "--properties", "2", "demo")
        try:
            r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"x": "1"}}, token=demo)
            assert fault(r, "forbidden", 403) == "Maximum number of metadata items exceeds 2"
        finally:
            fake_cloud.nova("DELETE", f"/os-quota-sets/{demo_project}")
        # a locked server refuses its owner (409), not an admin
        fake_cloud.cli("server", "lock", sid, cloud="nimbus-demo")
        r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"x": "1"}}, token=demo)
        assert fault(r, "conflictingRequest", 409) == f"Instance {sid} is locked"
        assert fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"x": "1"}}).status_code == 200
        fake_cloud.cli("server", "unlock", sid, cloud="nimbus-demo")
        # a stopped server may change; a task in progress refuses
        fake_cloud.cli("server", "stop", sid, cloud="nimbus-demo")
        fake_cloud.wait_server(sid, "SHUTOFF", token=demo)
        assert fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"y": "2"}}, token=demo).status_code == 200
        # another project's server: 404 (Nova looks it up in the caller's project)
        assert fake_cloud.nova("GET", f"/servers/{sid}/metadata").status_code == 200           # admin
        other = boot(fake_cloud, "admins-meta")
        try:
            assert fault(fake_cloud.nova("GET", f"/servers/{other}/metadata", token=demo), "itemNotFound", 404) == \
                f"Instance {other} could not be found."
            assert fake_cloud.nova("POST", f"/servers/{other}/metadata", json={"metadata": {"x": "1"}}, token=demo).status_code == 404
            assert fake_cloud.nova("DELETE", f"/servers/{other}/metadata/x", token=demo).status_code == 404
        finally:
            delete_server(fake_cloud, other)
    finally:
        delete_server(fake_cloud, sid)


def test_server_metadata_and_tags_refused_in_error_state(fake_cloud, demo):
    # with the only compute service disabled the server cannot be scheduled: ERROR
    host = compute_host(fake_cloud)
    fake_cloud.nova("PUT", "/os-services/disable", json={"host": host, "binary": "nova-compute"}, version="2.11")
    try:
        sid = boot(fake_cloud, "unschedulable", token=demo, wait=False)
        fake_cloud.wait_server(sid, "ERROR", timeout=60, token=demo)
    finally:
        fake_cloud.nova("PUT", "/os-services/enable", json={"host": host, "binary": "nova-compute"}, version="2.11")
    try:
        r = fake_cloud.nova("POST", f"/servers/{sid}/metadata", json={"metadata": {"x": "1"}}, token=demo)
        assert fault(r, "conflictingRequest", 409) == f"Cannot 'update metadata' instance {sid} while it is in vm_state error"
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags/t1", token=demo, version="2.26")
        assert fault(r, "conflictingRequest", 409) == f"Cannot 'update tag' instance {sid} while it is in vm_state error"
        assert fake_cloud.nova("GET", f"/servers/{sid}/metadata", token=demo).json() == {"metadata": {}}
    finally:
        delete_server(fake_cloud, sid)


def test_server_tags(fake_cloud, demo):
    sid = boot(fake_cloud, "tagged", token=demo)
    try:
        fake_cloud.cli("--os-compute-api-version", "2.26", "server", "set", "--tag", "blue", "--tag", "red", sid, cloud="nimbus-demo")
        assert fake_cloud.nova("GET", f"/servers/{sid}/tags", token=demo, version="2.26").json() == {"tags": ["blue", "red"]}
        assert fake_cloud.nova("GET", f"/servers/{sid}", token=demo, version="2.26").json()["server"]["tags"] == ["blue", "red"]
        assert fake_cloud.nova("GET", f"/servers/{sid}/tags/blue", token=demo, version="2.26").status_code == 204
        r = fake_cloud.nova("GET", f"/servers/{sid}/tags/green", token=demo, version="2.26")
        assert fault(r, "itemNotFound", 404) == f"Server {sid} has no tag 'green'"
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags/green", token=demo, version="2.26")
        assert r.status_code == 201 and r.headers["Location"].endswith(f"/servers/{sid}/tags/green"), r.text
        assert fake_cloud.nova("PUT", f"/servers/{sid}/tags/green", token=demo, version="2.26").status_code == 204
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags/a,b", token=demo, version="2.26")
        assert fault(r, "badRequest", 400).startswith("Tag 'a,b' is invalid. It must be a non empty string without characters '/' and ','.")
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags/{'x' * 61}", token=demo, version="2.26")
        assert "is too long" in fault(r, "badRequest", 400)
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags", json={"tags": ["caf\u00e9", "cafe\u0301", "z", "z"]}, token=demo, version="2.26")
        assert r.status_code == 200 and r.json()["tags"] == ["cafe\u0301", "caf\u00e9", "z"], r.text
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags", json={"tags": [f"t{i}" for i in range(51)]}, token=demo, version="2.26")
        assert "is too long" in fault(r, "badRequest", 400)
        fake_cloud.nova("PUT", f"/servers/{sid}/tags", json={"tags": [f"t{i}" for i in range(50)]}, token=demo, version="2.26")
        r = fake_cloud.nova("PUT", f"/servers/{sid}/tags/one-more", token=demo, version="2.26")
        assert fault(r, "badRequest", 400) == "The number of tags exceeded the per-server limit 50"
        assert fake_cloud.nova("DELETE", f"/servers/{sid}/tags/t0", token=demo, version="2.26").status_code == 204
        r = fake_cloud.nova("DELETE", f"/servers/{sid}/tags/t0", token=demo, version="2.26")
        assert fault(r, "itemNotFound", 404) == f"Instance {sid} has no tag 't0'"
        assert fake_cloud.nova("DELETE", f"/servers/{sid}/tags", token=demo, version="2.26").status_code == 204
        assert fake_cloud.nova("GET", f"/servers/{sid}/tags", token=demo, version="2.26").json() == {"tags": []}
        # before 2.26 there are no tag routes
        assert fake_cloud.nova("GET", f"/servers/{sid}/tags", token=demo, version="2.25").status_code == 404
        # another project's server: 403 (the mapping is found, the policy refuses)
        other = boot(fake_cloud, "admins-tags")
        try:
            r = fake_cloud.nova("GET", f"/servers/{other}/tags", token=demo, version="2.26")
            assert fault(r, "forbidden", 403) == "Policy doesn't allow os_compute_api:os-server-tags:index to be performed."
            assert fake_cloud.nova("PUT", f"/servers/{other}/tags/mine", token=demo, version="2.26").status_code == 403
        finally:
            delete_server(fake_cloud, other)
        assert fake_cloud.nova("GET", "/servers/00000000-0000-0000-0000-000000000000/tags", version="2.26").status_code == 404
    finally:
        delete_server(fake_cloud, sid)


def test_new_routes_need_a_token(fake_cloud):
    import requests
    for path in ("/os-quota-sets/x", "/limits", "/os-availability-zone", "/os-hypervisors", "/os-services", "/os-aggregates",
                 "/os-server-groups", "/os-simple-tenant-usage", "/os-migrations", "/servers/x/metadata", "/servers/x/tags"):
        r = requests.get(f"{fake_cloud.base_url}/compute/v2.1{path}", timeout=30)
        assert r.status_code == 401, (path, r.status_code, r.text)


def test_extensions_list_and_show_as_nova(fake_cloud, demo):
    """`GET /extensions` (extension_info.py): Nova's fixed list, for any project user; an
    unknown alias is 404; the CLI's `extension list --compute` reads it."""
    r = fake_cloud.nova("GET", "/extensions", token=demo, version="2.1")
    assert r.status_code == 200, r.text
    exts = r.json()["extensions"]
    assert len(exts) == 99 and "Hosts" in [e["name"] for e in exts]
    assert all(set(e) == {"alias", "description", "links", "name", "namespace", "updated"} for e in exts)
    r = fake_cloud.nova("GET", "/extensions/os-consoles", token=demo)
    assert r.status_code == 200 and r.json()["extension"]["alias"] == "os-consoles", r.text
    assert fake_cloud.nova("GET", "/extensions/os-nope", token=demo).status_code == 404
    assert fake_cloud.nova("GET", "/extensions/OS-CONSOLES", token=demo).status_code == 404, "aliases compare by bytes"
    listed = fake_cloud.cli("extension", "list", "--compute", "-f", "json")
    assert any(e["Alias"] == "os-hosts" for e in listed), listed[:3]
