"""Second adversarial review of the compute API: shelve / unshelve, rescue, os-resetState,
forceDelete / restore, the server list's filters, sort and paging (ServerListQuery, LinearRegex),
server groups on create, and resize records. Fake driver, one module-scoped cloud.

The cloud runs with `shelved_offload_time = -1` (never offload by itself), so a shelved server
stays SHELVED (keeping its host and allocation) until an admin's shelveOffload: both states are
reachable.

The first part holds one test per finding: each fails while the bug is there. The expected
behaviour is real Nova's, read from its source (the file is named in each docstring). The second
part ("held") guards what the review probed and found right.

Two tests time a request (the regex cost findings); their bounds are for the debug build that the
suite runs against and are kept small so that the test costs little CPU.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pytest
import requests

from compute_support import start_compute_cloud, stop_compute_cloud
from test_adversarial_review_compute import Env, nova_error

TIMEOUT = 30


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cloud, data = start_compute_cloud(tmp_path_factory.mktemp("review-compute2"), "fake",
                                      extra={"compute": {"shelved_offload_time": -1}})
    try:
        yield Env(cloud)
    finally:
        stop_compute_cloud(cloud, data)


def allocations(env, consumer):
    return env.placement(f"/allocations/{consumer}")["allocations"]


def images_named(env, name):
    r = requests.get(f"{env.base}/image/v2/images?name={quote(name)}", headers={"X-Auth-Token": env.admin}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return [(i["id"], i["status"]) for i in r.json()["images"]]


def server_ids(env, query, token, version="2.96"):
    r = env.nova("GET", "/servers?" + query, token=token, version=version)
    assert r.status_code == 200, (query, r.status_code, r.text[:300])
    return [s["id"] for s in r.json()["servers"]]


def shelve_and_offload(env, sid, token):
    assert env.action(sid, {"shelve": None}, token=token).status_code == 202
    env.wait(sid, "SHELVED", token=token)
    assert env.action(sid, {"shelveOffload": None}).status_code == 202
    return env.wait(sid, "SHELVED_OFFLOADED", token=token)


# =================================================================================================
# Findings (each fails now)
# =================================================================================================

def test_name_filter_empty_group_repeat_is_not_a_cpu_loop(env):
    """GET /servers?name=(?:){N}: LinearRegex's compiler emits the repeated node N times
    (`for _ in 0..<lo { emit(inner) }`); an empty group emits no instruction, so the 1,000
    instruction cap never trips and the loop runs N times (N up to 999,999,999: about 90 s of a
    core in the debug build; nested, `((?:){N}){N}`, for ever). It runs on the cooperative pool:
    with two such requests in flight an identity GET waited 17 s in the review. Python's `re`
    (Nova's `format: regex` check, nova/api/validation/validators.py _validate_regex_format)
    compiles `(?:){999999999}` at once. Any project member can send it; no server needed."""
    token, _, _ = env.new_user()
    started = time.monotonic()
    r = env.nova("GET", "/servers?name=" + quote("(?:){20000000}"), token=token, timeout=120)
    elapsed = time.monotonic() - started
    assert r.status_code in (200, 400), r.text
    assert elapsed < 0.5, f"compiling one name filter took {elapsed:.1f} s"


def test_name_filter_large_character_class_cost_is_bounded(env):
    """LinearRegex bounds a pattern by instruction count (1,000), but a character class is one
    instruction whatever its size, and CharSet.contains scans its ranges linearly. So
    `[bbbb…a]{999}` (a 1.5 KB query string) against one 255-character name costs ~1,000 live
    threads × 1,500 ranges per character: seconds per server in the caller's project (4 KB:
    10.6 s, and the URL may be ~16 KB; name, display_name, description… multiply it). Python's
    `re` matches a class in constant time (a charset/bitmap), so Nova's filter costs nothing
    like it (nova/db/main/api.py _regex_instance_filter)."""
    token, _, _ = env.new_user()
    env.boot("a" * 255, token=token)
    pattern = "[" + "b" * 1500 + "a]{999}"
    started = time.monotonic()
    r = env.nova("GET", "/servers?name=" + quote(pattern), token=token, timeout=120)
    elapsed = time.monotonic() - started
    assert r.status_code in (200, 400), r.text
    assert elapsed < 1.0, f"one name filter took {elapsed:.1f} s"


def test_name_filter_multiple_repeat_is_400(env):
    """`a**`, `a{2}{3}` and `(?:){9}{9}` are "multiple repeat" errors in Python's `re`, so Nova
    answers 400 (schemas/servers.py: name is common_query_regex_param, format 'regex' ->
    re.compile). LinearRegex nests the quantifiers and answers 200, which is also what makes
    `(?:){N}{N}` a quadratic loop."""
    token, _, _ = env.new_user()
    for pattern in ("a**", "a{2}{3}", "(?:){9}{9}", "{1}"):
        nova_error(env.nova("GET", "/servers?name=" + quote(pattern), token=token), 400)


def test_deleting_a_server_while_it_shelves_leaves_no_shelved_image(env):
    """shelve queues the snapshot image `<name>-shelved` and records it only in the task's
    arguments; a DELETE while the task is pending sets task_state deleting, the node's report is
    then ignored, and finishDelete deletes only `shelved_image_id`, which was never set. The
    image stays for ever (queued, or active when the upload won), in the owner's image list and
    quota. Nimbus' own rule (afterTask: "a failed snapshot's image deleted"; finishDelete: "Nova
    deletes a shelved server's image with it") is broken on this path. Nova's manager drops an
    unfinished snapshot image of a server deleted during a snapshot
    (nova/compute/manager.py _snapshot_instance, "Instance disappeared during snapshot");
    its shelve path has no such clean-up either, so this is a leak rather than a Nova
    difference."""
    token, _, _ = env.new_user()
    leaked = []
    for k in range(2):
        name = f"shelve-del-{k}"
        sid = env.boot(name, token=token)
        assert env.action(sid, {"shelve": None}, token=token).status_code == 202
        assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
        env.wait(sid, "DELETED", token=token)
        time.sleep(1)
        assert allocations(env, sid) == {}
        leaked += images_named(env, name + "-shelved")
    assert leaked == [], leaked


def test_unshelve_with_an_empty_object_is_400_at_2_77(env):
    """schemas/shelve.py unshelve_v277 (2.77-2.90): `unshelve` is null or an object that
    *requires* availability_zone, so `{"unshelve": {}}` is 400 before the server's state is
    looked at. Nimbus accepts the empty object (202 on an offloaded server, here a 409 on an
    active one)."""
    token, _, _ = env.new_user()
    sid = env.boot("unshelve-empty", token=token)
    nova_error(env.action(sid, {"unshelve": {}}, token=token, version="2.77"), 400)
    nova_error(env.action(sid, {"unshelve": {}}, token=token, version="2.90"), 400)


def test_invalid_status_filter_is_400_from_2_38(env):
    """servers.py _get_servers: a status that maps to no vm_state/task_state is 400 "Invalid
    status value" from 2.38 (an empty list before). Nimbus answers 200 [] at every version."""
    token, _, _ = env.new_user()
    env.boot("status-bogus", token=token)
    assert server_ids(env, "status=BOGUS", token, version="2.37") == []
    assert "Invalid status value" in nova_error(env.nova("GET", "/servers?status=BOGUS", token=token, version="2.38"), 400)


def test_status_filter_takes_several_values(env):
    """`status` may repeat (servers.py _get_servers: req.GET.getall('status') ->
    common.task_and_vm_state_from_status, a vm_state IN (...) filter): ACTIVE and SHUTOFF lists
    both. Nimbus keeps only the last value and lists the stopped server alone."""
    token, _, _ = env.new_user()
    running = env.boot("st-active", token=token)
    stopped = env.boot("st-stopped", token=token)
    assert env.action(stopped, {"os-stop": None}, token=token).status_code == 202
    env.wait(stopped, "SHUTOFF", token=token)
    assert set(server_ids(env, "status=ACTIVE&status=SHUTOFF", token)) == {running, stopped}


def test_status_deleted_is_admin_only_and_lists_deleted_servers(env):
    """servers.py _get_servers: status=DELETED becomes vm_state ['deleted']; a non-admin gets 403
    "Only administrators may list deleted instances", an admin gets the deleted servers
    (search_opts['deleted'] = True). Nimbus answers 200 [] to both."""
    token, _, project = env.new_user()
    sid = env.boot("st-deleted", token=token)
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    nova_error(env.nova("GET", "/servers?status=DELETED", token=token), 403)
    assert server_ids(env, f"status=DELETED&all_tenants=1&project_id={project}", env.admin) == [sid]


def test_marker_of_a_server_deleted_since_the_last_page_still_pages(env):
    """Nova resolves the marker with read_deleted='yes' (nova/compute/instance_list.py
    get_marker_record), so a client paging through its servers while one of them is deleted
    gets the next page. Nimbus looks the marker up among live servers only and answers 400
    "marker [...] not found" (an `openstack server list` walking pages fails the same way)."""
    token, _, _ = env.new_user()
    oldest = env.boot("page-0", token=token)
    middle = env.boot("page-1", token=token)
    newest = env.boot("page-2", token=token)
    first = server_ids(env, "limit=2", token)
    assert first == [newest, middle], first
    assert env.nova("DELETE", f"/servers/{middle}", token=token).status_code == 204
    env.wait(middle, "DELETED", token=token)
    assert server_ids(env, f"limit=2&marker={middle}", token) == [oldest]


def test_marker_that_no_longer_matches_the_filters_still_pages(env):
    """The marker only gives the position (instance_list.py get_marker_record reads the row by
    uuid, whatever the filters): paging `status=ACTIVE` while the last server of the page is
    stopped goes on in Nova. Nimbus requires the marker to pass the filters and answers 400."""
    token, _, _ = env.new_user()
    oldest = env.boot("fpage-0", token=token)
    newest = env.boot("fpage-1", token=token)
    assert server_ids(env, "status=ACTIVE&limit=1", token) == [newest]
    assert env.action(newest, {"os-stop": None}, token=token).status_code == 202
    env.wait(newest, "SHUTOFF", token=token)
    assert server_ids(env, f"status=ACTIVE&limit=1&marker={newest}", token) == [oldest]


def test_sort_ties_break_by_created_at_in_the_first_sort_dir(env):
    """nova/db/utils.py process_sort_params appends created_at and id in the direction of the
    first sort_dir, so `sort_key=display_name&sort_dir=asc` lists two servers of one name oldest
    first. Nimbus breaks ties in its listing order (created_at desc): newest first."""
    token, _, _ = env.new_user()
    older = env.boot("same-name", token=token)
    newer = env.boot("same-name", token=token)
    assert server_ids(env, "sort_key=display_name&sort_dir=asc", token) == [older, newer]
    assert server_ids(env, "sort_key=display_name&sort_dir=desc", token) == [newer, older]


def test_power_state_filter_is_a_regex_not_an_integer(env):
    """power_state is a common_query_regex_param (schemas/servers.py) and not one of the exact
    filters (nova/db/main/api.py instance_get_all_by_filters_sort exact_match_filter_names), so
    `power_state=1|4` matches running and shut-down servers and `power_state=x` matches none:
    200 both. Nimbus parses an integer and answers 400 to both."""
    token, _, _ = env.new_user()
    running = env.boot("ps-run", token=token)
    stopped = env.boot("ps-stop", token=token)
    assert env.action(stopped, {"os-stop": None}, token=token).status_code == 202
    env.wait(stopped, "SHUTOFF", token=token)
    assert set(server_ids(env, "power_state=" + quote("1|4"), token)) == {running, stopped}
    assert server_ids(env, "power_state=x", token) == []


# =================================================================================================
# Held: what the review probed and found right (regression guards)
# =================================================================================================

def test_held_shelve_lifecycle_images_allocations_and_quota(env):
    token, _, _ = env.new_user()
    sid = env.boot("life", token=token)
    assert env.action(sid, {"shelve": None}, token=token).status_code == 202
    env.wait(sid, "SHELVED", token=token)
    assert [s for _, s in images_named(env, "life-shelved")] == ["active"]
    assert allocations(env, sid) != {}                      # SHELVED keeps its host
    nova_error(env.action(sid, {"shelve": None}, token=token), 409)
    nova_error(env.action(sid, {"os-start": None}, token=token), 409)
    assert env.action(sid, {"shelveOffload": None}).status_code == 202
    shown = env.wait(sid, "SHELVED_OFFLOADED", token=token)
    assert allocations(env, sid) == {}
    assert env.nova("GET", f"/servers/{sid}").json()["server"]["OS-EXT-SRV-ATTR:host"] is None
    assert shown["OS-EXT-STS:power_state"] == 0
    nova_error(env.action(sid, {"shelveOffload": None}), 409)
    # an offloaded server still counts instances, cores and RAM (Nova counts the instances table
    # unless [quota]count_usage_from_placement)
    used = env.nova("GET", "/limits", token=token).json()["limits"]["absolute"]
    assert (used["totalInstancesUsed"], used["totalCoresUsed"], used["totalRAMUsed"]) == (1, 1, 128)
    assert env.action(sid, {"unshelve": None}, token=token).status_code == 202
    env.wait(sid, "ACTIVE", token=token)
    time.sleep(0.5)
    assert images_named(env, "life-shelved") == []
    assert allocations(env, sid) != {}
    actions = [a["action"] for a in env.nova("GET", f"/servers/{sid}/os-instance-actions", token=token).json()["instanceActions"]]
    assert actions == ["unshelve", "shelveOffload", "shelve", "create"], actions


def test_held_unshelve_of_a_shelved_server_and_deletes_leave_nothing(env):
    token, _, _ = env.new_user()
    sid = env.boot("keep", token=token)
    assert env.action(sid, {"shelve": None}, token=token).status_code == 202
    env.wait(sid, "SHELVED", token=token)
    assert env.action(sid, {"unshelve": None}, token=token).status_code == 202
    env.wait(sid, "ACTIVE", token=token)
    time.sleep(0.5)
    assert images_named(env, "keep-shelved") == [] and allocations(env, sid) != {}
    # delete while SHELVED
    assert env.action(sid, {"shelve": None}, token=token).status_code == 202
    env.wait(sid, "SHELVED", token=token)
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    time.sleep(0.5)
    assert images_named(env, "keep-shelved") == [] and allocations(env, sid) == {}
    # delete while SHELVED_OFFLOADED, and right after an unshelve
    for name, unshelve_first in (("off-del", False), ("unsh-del", True)):
        sid = env.boot(name, token=token)
        shelve_and_offload(env, sid, token)
        if unshelve_first:
            assert env.action(sid, {"unshelve": None}, token=token).status_code == 202
        assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
        env.wait(sid, "DELETED", token=token)
        time.sleep(0.5)
        assert images_named(env, name + "-shelved") == [] and allocations(env, sid) == {}, name


def test_held_two_unshelves_at_once_one_wins(env):
    token, _, _ = env.new_user()
    sid = env.boot("twice", token=token)
    shelve_and_offload(env, sid, token)
    out = []
    threads = [threading.Thread(target=lambda: out.append(env.action(sid, {"unshelve": None}, token=token))) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.status_code for r in out) == [202, 409], [r.text for r in out]
    env.wait(sid, "ACTIVE", token=token)
    time.sleep(0.5)
    assert len(allocations(env, sid)) == 1 and images_named(env, "twice-shelved") == []


def test_held_shelve_authorization_locks_and_states(env):
    token, _, project = env.new_user()
    reader, _, _ = env.new_user("reader", project_id=project)
    other, _, _ = env.new_user()
    sid = env.boot("authz", token=token)
    nova_error(env.action(sid, {"shelve": None}, token=reader), 403)
    nova_error(env.action(sid, {"shelve": None}, token=other), 404)
    nova_error(env.action(sid, {"shelveOffload": None}, token=token), 403)
    nova_error(env.action(sid, {"unshelve": None}, token=token), 409)
    assert env.action(sid, {"lock": None}).status_code == 202
    assert "is locked" in nova_error(env.action(sid, {"shelve": None}, token=token), 409)
    assert env.action(sid, {"shelve": None}).status_code == 202           # the admin overrides the lock
    env.wait(sid, "SHELVED", token=token)
    assert "is locked" in nova_error(env.action(sid, {"unshelve": None}, token=token), 409)
    assert env.action(sid, {"unlock": None}).status_code == 202
    nova_error(env.action(sid, {"unshelve": None}, token=reader), 403)
    nova_error(env.action(sid, {"unshelve": None}, token=other), 404)
    # availability_zone / host only for an offloaded server
    nova_error(env.action(sid, {"unshelve": {"availability_zone": "nova"}}, token=token, version="2.77"), 409)
    nova_error(env.action(sid, {"unshelve": {"availability_zone": None}}, token=token, version="2.91"), 409)
    assert env.action(sid, {"shelveOffload": None}).status_code == 202
    env.wait(sid, "SHELVED_OFFLOADED", token=token)
    nova_error(env.action(sid, {"unshelve": {"host": env.host}}, token=token, version="2.91"), 403)
    for version, body in (("2.91", {"unshelve": {"host": "no-such-host"}}), ("2.91", {"unshelve": {"availability_zone": "no-such-az"}}),
                          ("2.77", {"unshelve": {"availability_zone": "no-such-az"}}), ("2.77", {"unshelve": {"host": env.host}}),
                          ("2.91", {"unshelve": {"host": 5}}), ("2.91", {"unshelve": {"availability_zone": 5}}),
                          ("2.77", {"unshelve": "x"}), ("2.91", {"unshelve": {"foo": 1}}),
                          ("2.77", {"unshelve": {"availability_zone": None}})):
        nova_error(env.action(sid, body, version=version), 400)
        assert env.nova("GET", f"/servers/{sid}").json()["server"]["OS-EXT-STS:task_state"] is None, body
    assert env.action(sid, {"unshelve": {"availability_zone": "nova", "host": env.host}}, version="2.91").status_code == 202
    env.wait(sid, "ACTIVE", token=token)


def test_held_unshelve_without_a_valid_host_stays_offloaded(env):
    token, _, _ = env.new_user()
    sid = env.boot("nohost", token=token)
    shelve_and_offload(env, sid, token)
    svc = next(s for s in env.nova("GET", "/os-services", version="2.53").json()["services"] if s["binary"] == "nova-compute")
    assert env.nova("PUT", f"/os-services/{svc['id']}", version="2.53", json={"status": "disabled"}).status_code == 200
    try:
        assert env.action(sid, {"unshelve": None}, token=token).status_code == 202
        shown = env.wait(sid, "SHELVED_OFFLOADED", token=token)
        assert shown["OS-EXT-STS:task_state"] is None
        assert allocations(env, sid) == {}
        assert [s for _, s in images_named(env, "nohost-shelved")] == ["active"]
    finally:
        assert env.nova("PUT", f"/os-services/{svc['id']}", version="2.53", json={"status": "enabled"}).status_code == 200
    assert env.action(sid, {"unshelve": None}, token=token).status_code == 202
    env.wait(sid, "ACTIVE", token=token)


def test_held_rescue(env):
    token, _, project = env.new_user()
    reader, _, _ = env.new_user("reader", project_id=project)
    other, _, _ = env.new_user()
    h = {"X-Auth-Token": other}
    r = requests.post(f"{env.base}/image/v2/images", headers=h, timeout=TIMEOUT,
                      json={"name": "private-rescue", "disk_format": "raw", "container_format": "bare"})
    private = r.json()["id"]
    requests.put(f"{env.base}/image/v2/images/{private}/file", data=b"\0" * 1024, timeout=TIMEOUT,
                 headers={**h, "Content-Type": "application/octet-stream"})
    sid = env.boot("rescue", token=token)
    # another project's private image is not found for the caller (compute/api.py rescue ->
    # UnsupportedRescueImage, a 400)
    nova_error(env.action(sid, {"rescue": {"rescue_image_ref": private}}, token=token), 400)
    for body in ({"rescue": {"rescue_image_ref": "abc"}}, {"rescue": {"rescue_image_ref": "6b4a1e4e-0000-4000-8000-000000000000"}},
                 {"rescue": {"adminPass": 5}}, {"rescue": {"x": 1}}, {"rescue": "x"}):
        nova_error(env.action(sid, body, token=token), 400)
    assert env.nova("GET", f"/servers/{sid}", token=token).json()["server"]["status"] == "ACTIVE"
    nova_error(env.action(sid, {"rescue": None}, token=reader), 403)
    nova_error(env.action(sid, {"rescue": None}, token=other), 404)
    nova_error(env.action(sid, {"unrescue": None}, token=token), 409)
    assert env.action(sid, {"lock": None}).status_code == 202
    assert "is locked" in nova_error(env.action(sid, {"rescue": None}, token=token), 409)
    r = env.action(sid, {"rescue": {"adminPass": "given", "rescue_image_ref": env.image}})
    assert r.status_code == 200 and r.json() == {"adminPass": "given"}, r.text
    env.wait(sid, "RESCUE", token=token)
    assert "is locked" in nova_error(env.action(sid, {"unrescue": None}, token=token), 409)
    assert env.action(sid, {"unlock": None}).status_code == 202
    for body in ({"rescue": None}, {"os-stop": None}, {"shelve": None}, {"resize": {"flavorRef": "84"}}, {"createImage": {"name": "x"}},
                 {"reboot": {"type": "HARD"}}, {"rebuild": {"imageRef": env.image}}):
        nova_error(env.action(sid, body, token=token), 409)
    nova_error(env.action(sid, {"unrescue": None}, token=reader), 403)
    assert env.action(sid, {"unrescue": None}, token=token).status_code == 202
    env.wait(sid, "ACTIVE", token=token)
    assert env.action(sid, {"rescue": None}, token=token).status_code == 200
    env.wait(sid, "RESCUE", token=token)
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    time.sleep(0.5)
    assert allocations(env, sid) == {}


def test_held_reset_state_force_delete_and_restore(env):
    token, _, project = env.new_user()
    reader, _, _ = env.new_user("reader", project_id=project)
    sid = env.boot("reset", token=token)
    nova_error(env.action(sid, {"os-resetState": {"state": "error"}}, token=token), 403)
    for body in ({"os-resetState": None}, {"os-resetState": {}}, {"os-resetState": {"state": "ACTIVE"}},
                 {"os-resetState": {"state": "error", "x": 1}}, {"os-resetState": {"state": 1}}, {"os-resetState": "error"}):
        nova_error(env.action(sid, body), 400)
    assert env.action(sid, {"os-resetState": {"state": "error"}}).status_code == 202
    assert env.nova("GET", f"/servers/{sid}", token=token).json()["server"]["status"] == "ERROR"
    assert env.nova("GET", f"/servers/{sid}/os-instance-actions", token=token).json()["instanceActions"][0]["action"] == "resetState"
    nova_error(env.action(sid, {"restore": None}, token=token), 409)
    assert env.action(sid, {"lock": None}).status_code == 202
    assert "is locked" in nova_error(env.action(sid, {"forceDelete": None}, token=token), 409)
    assert env.action(sid, {"unlock": None}).status_code == 202
    nova_error(env.action(sid, {"forceDelete": None}, token=reader), 403)
    assert env.action(sid, {"forceDelete": None}, token=token).status_code == 202
    env.wait(sid, "DELETED", token=token)
    time.sleep(0.5)
    assert allocations(env, sid) == {}


def test_held_server_list_markers_sort_and_limits(env):
    token, _, _ = env.new_user()
    other, _, _ = env.new_user()
    ids = [env.boot(f"lst-{k}", token=token) for k in range(3)]
    foreign = env.boot("foreign", token=other)
    # another project's server is no marker (stricter than Nova, whose elevated marker lookup
    # accepts it; nothing of the other project shows)
    assert "not found" in nova_error(env.nova("GET", f"/servers?marker={foreign}", token=token), 400)
    nova_error(env.nova("GET", "/servers?marker=", token=token), 400)
    nova_error(env.nova("GET", "/servers?sort_key=host", token=token), 403)
    nova_error(env.nova("GET", "/servers?sort_key=display_name&sort_dir=up", token=token), 400)
    nova_error(env.nova("GET", "/servers?sort_key=vcpus", token=token), 400)
    assert server_ids(env, "sort_key=vcpus", token, version="2.74") == ids[::-1]
    nova_error(env.nova("GET", "/servers?limit=-1", token=token), 400)
    assert server_ids(env, "limit=0", token) == []
    # paging a sorted, filtered list with markers yields each server once, in order
    seen, marker = [], None
    for _ in range(5):
        page = server_ids(env, "name=" + quote("^lst-") + "&sort_key=display_name&sort_dir=asc&limit=1" +
                          (f"&marker={marker}" if marker else ""), token)
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == ids
    r = env.nova("GET", "/servers?limit=2", token=token)
    assert "marker=" + ids[1] in r.json()["servers_links"][0]["href"]


def test_held_name_regex_matches_python_re_on_common_patterns(env):
    import re
    token, _, _ = env.new_user()
    names = ["web-01", "Web.02", "db_1", "\u00fcn\u00efcode", "a.b", "x{2}", "\u0663three"]
    ids = {env.boot(n, token=token, wait=False): n for n in names}
    for pattern in (r"^web", r"web-\d+$", r"[Ww]eb", r"\.", r"a.b", r"^[a-z]+$", r"\w+_\d", "\u00fc", r"\u00fc", r"x{2}", r"x\{2\}",
                    r"^.{6}$", r"[^\w]", r"\W", r"(web|db)", r"(?:web|db)_?", r"e{,2}", r"\bdb", r"\d", r"[\d]", r"^\w+$", r"[a-]",
                    r"[]a]", r"1$", r"\Z", r"[\]]", r"(?P<n>web)", r"a{1,}?", r"[\w-]+", r"^-?\d", "\\", "(", ")", "[", "a{", "*a",
                    r"[z-a]", r"a{2,1}"):
        try:
            expected = sorted(n for n in names if re.search(pattern, n))
        except re.error:
            expected = None
        r = env.nova("GET", "/servers?name=" + quote(pattern), token=token)
        if expected is None:
            nova_error(r, 400)
        else:
            assert r.status_code == 200, (pattern, r.text)
            assert sorted(ids[s["id"]] for s in r.json()["servers"]) == expected, pattern


def test_held_server_group_members_quota_and_policies(env):
    token, _, project = env.new_user()
    other, _, _ = env.new_user()
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 2}}).status_code == 200
    r = env.nova("POST", "/os-server-groups", token=token, version="2.64",
                 json={"server_group": {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}})
    assert r.status_code == 200, r.text
    gid = r.json()["server_group"]["id"]

    def body(name, **extra):
        return {"server": {"name": name, "imageRef": env.image, "flavorRef": "42", "networks": "none", **extra},
                "os:scheduler_hints": {"group": gid}}
    out = []
    threads = [threading.Thread(target=lambda k=k: out.append(env.nova("POST", "/servers", token=token, json=body(f"par-{k}"))))
               for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.status_code for r in out) == [202, 202, 403, 403], [r.text[:100] for r in out]
    members = env.nova("GET", f"/os-server-groups/{gid}", token=token).json()["server_group"]["members"]
    assert len(members) == 2
    for sid in members:
        env.wait(sid, "ACTIVE", token=token)
    # a third member fits the quota but not max_server_per_host on the one host
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 10}}).status_code == 200
    r = env.nova("POST", "/servers", token=token, json=body("third"))
    assert r.status_code == 202, r.text
    third = r.json()["server"]["id"]
    env.wait(third, "ERROR", token=token)
    assert allocations(env, third) == {}
    # a multi-create over the group quota writes nothing
    assert env.nova("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 4}}).status_code == 200
    before = len(env.nova("GET", "/servers", token=token).json()["servers"])
    nova_error(env.nova("POST", "/servers", token=token, json=body("multi", min_count=2, max_count=2)), 403)
    assert len(env.nova("GET", "/servers", token=token).json()["servers"]) == before
    assert len(env.nova("GET", f"/os-server-groups/{gid}", token=token).json()["server_group"]["members"]) == 3
    # another project's group
    nova_error(env.nova("POST", "/servers", token=other, json=body("intruder")), 400)


def test_held_resize_records_and_allocations(env):
    token, user, project = env.new_user()
    other, _, other_project = env.new_user()
    sid = env.boot("rz", token=token)
    assert env.action(sid, {"resize": {"flavorRef": "84"}}, token=token).status_code == 202
    env.wait(sid, "VERIFY_RESIZE", token=token)
    migrations = env.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80").json()["migrations"]
    assert len(migrations) == 1 and migrations[0]["project_id"] == project
    for t in (token, other):
        nova_error(env.nova("GET", f"/os-migrations?instance_uuid={sid}", token=t), 403)
    assert env.nova("GET", f"/os-migrations?project_id={other_project}", version="2.80").json()["migrations"] == []
    assert len(env.nova("GET", f"/os-migrations?user_id={user}", version="2.80").json()["migrations"]) == 1
    assert allocations(env, migrations[0]["uuid"]) != {}
    assert env.nova("DELETE", f"/servers/{sid}", token=token).status_code == 204
    env.wait(sid, "DELETED", token=token)
    time.sleep(0.5)
    assert allocations(env, sid) == {} and allocations(env, migrations[0]["uuid"]) == {}
    assert env.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80").json()["migrations"][0]["status"] == "confirmed"
    # revert gives back the migration's allocation
    sid = env.boot("rz-revert", token=token)
    assert env.action(sid, {"resize": {"flavorRef": "84"}}, token=token).status_code == 202
    env.wait(sid, "VERIFY_RESIZE", token=token)
    assert env.action(sid, {"revertResize": None}, token=token).status_code == 202
    env.wait(sid, "ACTIVE", token=token)
    time.sleep(0.5)
    migration = env.nova("GET", f"/os-migrations?instance_uuid={sid}", version="2.80").json()["migrations"][0]
    assert migration["status"] == "reverted" and allocations(env, migration["uuid"]) == {}
    resources = next(iter(allocations(env, sid).values()))["resources"]
    assert resources["MEMORY_MB"] == 128, resources
