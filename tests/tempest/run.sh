#!/usr/bin/env bash
# Run tempest's API tests for every area Nimbus serves (identity, object_storage, image,
# compute) against Nimbus, then check each area's must-pass-<area>.txt.
#
#   tests/tempest/run.sh [--update] [-- extra `tempest run` args]
#
# By default it starts its own `nimbus up` (NIMBUS_BIN or .build/debug/nimbus).
# To test a cloud that is already running, set NIMBUS_AUTH_URL
# (http://HOST:PORT/identity/v3) and NIMBUS_ADMIN_PASSWORD.
# Other knobs: TEMPEST_AREAS (default "identity object_storage image compute network volume"),
# TEMPEST_REGEX (default: the areas' tests),
# TEMPEST_CONCURRENCY (2), TEMPEST_CONF_EXTRA (a file appended to tempest.conf).
# Compute: the cloud's own compute node uses TEMPEST_COMPUTE_DRIVER (default fake: in memory;
# qemu: real guests booting the test image scripts/build-test-image.sh builds, which today
# takes over 10 minutes, mostly 60 s waits for guests stopped while they still boot) with
# TEMPEST_COMPUTE_ACCELERATOR (default auto).  On the fake driver the tests in
# skipped-compute-fake.txt (they need a real guest) are excluded too.  image_ref is the image
# nimbus-test, image_ref_alt a copy of it (tests/tempest/compute_setup.py).
# Results (TEMPEST_WORK, default tests/.tempest-work): {results.subunit,results.txt,etc/tempest.conf,logs/}.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${TEMPEST_WORK:-$REPO/tests/.tempest-work}
VENV=$REPO/.venv
UPDATE=()
if [[ ${1:-} == --update ]]; then UPDATE=(--update); shift; fi
if [[ ${1:-} == -- ]]; then shift; fi

[[ -x $VENV/bin/tempest ]] || "$REPO/scripts/venv.sh"
read -r -a AREAS <<< "${TEMPEST_AREAS:-identity object_storage image compute network volume}"
has_area() { [[ " ${AREAS[*]} " == *" $1 "* ]]; }
NOVA=False; if has_area compute; then NOVA=True; fi
# Cinder is on in every pass when its area runs: the compute tests that need volumes run with the others.
CINDER=False; if has_area volume; then CINDER=True; fi
COMPUTE_DRIVER=${TEMPEST_COMPUTE_DRIVER:-fake}
# stestr starts its workers with ${PYTHON:-python}: make that the venv's.
export PATH=$VENV/bin:$PATH PYTHON=$VENV/bin/python
# Nimbus' tempest plugin (tests/tempest/plugin/nimbus_tempest_plugin.py): lets the compute
# classes that tempest skips without Neutron run on Nimbus, which boots servers without one.
export PYTHONPATH=$HERE/plugin${PYTHONPATH:+:$PYTHONPATH}

rm -rf "$WORK"
mkdir -p "$WORK/etc" "$WORK/logs" "$WORK/lock"

if [[ -z ${NIMBUS_AUTH_URL:-} ]]; then
    # Security compliance on, with the values tempest.conf below tells Tempest to expect.
    export NIMBUS_SECURITY_COMPLIANCE_LOCKOUT_FAILURE_ATTEMPTS=2 NIMBUS_SECURITY_COMPLIANCE_LOCKOUT_DURATION=5 \
        NIMBUS_SECURITY_COMPLIANCE_UNIQUE_LAST_PASSWORD_COUNT=2
    # The compute node in `nimbus up`: its driver, and the test image it registers.
    export NIMBUS_COMPUTE_NODE_DRIVER=$COMPUTE_DRIVER \
        NIMBUS_COMPUTE_NODE_ACCELERATOR=${TEMPEST_COMPUTE_ACCELERATOR:-auto}
    if [[ $NOVA == True ]] || has_area volume; then "$REPO/scripts/build-test-image.sh" > /dev/null; fi
    # Container sync: this cloud is cluster name1 of realm realm1 (tempest's defaults), synced every second.
    TEMPEST_NIMBUS_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '[realm1]\nkey = tempest-realm-key\ncluster_name1 = http://127.0.0.1:%s/object/v1/\n' "$TEMPEST_NIMBUS_PORT" > "$WORK/container-sync-realms.conf"
    export TEMPEST_NIMBUS_PORT NIMBUS_OBJECT_STORAGE_CONTAINER_SYNC_REALMS_FILE=$WORK/container-sync-realms.conf \
        NIMBUS_OBJECT_STORAGE_CONTAINER_SYNC_CURRENT=//realm1/name1 NIMBUS_OBJECT_STORAGE_CONTAINER_SYNC_INTERVAL=1
    python "$HERE/start_cloud.py" "$WORK/nimbus-data" > "$WORK/cloud.env"
    # shellcheck disable=SC1091
    source "$WORK/cloud.env"
    stop_nimbus() {
        kill -TERM "$NIMBUS_PID" 2>/dev/null || return 0
        for _ in $(seq 100); do kill -0 "$NIMBUS_PID" 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL "$NIMBUS_PID" 2>/dev/null || true
    }
    stop_cloud() {
        stop_nimbus
        # Guests outlive `nimbus up` (as under libvirt): stop those of this cloud's data dir.
        local pids
        pids=$(pgrep -f -- "qemu-system.*$WORK/nimbus-data/" || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            sleep 2
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
    }
    trap stop_cloud EXIT
fi
: "${NIMBUS_ADMIN_PASSWORD:?set NIMBUS_ADMIN_PASSWORD with NIMBUS_AUTH_URL}"
# A second compute node (`nimbus compute`, same driver) so the multi-host tests run: cold and
# live migration, evacuation's checks, different-host scheduling.
COMPUTE_NODES=1
if [[ $NOVA == True && -n ${NIMBUS_PID:-} ]]; then
    NODE_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    NODE_CONSOLE_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/node-b"
    # The cloud's network datapath is the fake one (nothing in the kernel); so is this node's agent.
    printf '[compute_node]\ndriver = %s\naccelerator = %s\n[network]\ndatapath = fake\n' "$COMPUTE_DRIVER" "${TEMPEST_COMPUTE_ACCELERATOR:-auto}" > "$WORK/node-b/node.conf"
    "${NIMBUS_BIN:-$REPO/.build/debug/nimbus}" compute --controller "${NIMBUS_AUTH_URL%/identity/v3}" --host tempest-node-b \
        --data-dir "$WORK/node-b" --listen "127.0.0.1:$NODE_PORT" --console-listen "127.0.0.1:$NODE_CONSOLE_PORT" --key-file "$WORK/nimbus-data/compute/agent-key" \
        --config-file "$WORK/node-b/node.conf" --interval 2 > "$WORK/logs/node-b.log" 2>&1 &
    NODE_PID=$!
    stop_node() {
        kill -TERM "$NODE_PID" 2>/dev/null || return 0
        for _ in $(seq 100); do kill -0 "$NODE_PID" 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL "$NODE_PID" 2>/dev/null || true
    }
    stop_all() {
        stop_node
        stop_cloud
        local pids
        pids=$(pgrep -f -- "qemu-system.*$WORK/node-b/" || true)
        # shellcheck disable=SC2086
        if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; fi
    }
    trap stop_all EXIT
    for _ in $(seq 300); do
        if python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "http://127.0.0.1:$NODE_PORT/healthcheck" 2> /dev/null; then COMPUTE_NODES=2; break; fi
        kill -0 "$NODE_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ $COMPUTE_NODES == 2 ]] || { echo "the second compute node did not start:"; tail -20 "$WORK/logs/node-b.log"; exit 1; }
fi
MOVES=False; if [[ $COMPUTE_NODES == 2 ]]; then MOVES=True; fi
MULTIATTACH=False
if [[ $NOVA == True ]] || has_area volume; then
    python "$HERE/compute_setup.py" "$NIMBUS_AUTH_URL" "$NIMBUS_ADMIN_PASSWORD" > "$WORK/compute.env"
    # shellcheck disable=SC1091
    source "$WORK/compute.env"
    if [[ -n ${NIMBUS_MULTIATTACH_TYPE:-} ]]; then MULTIATTACH=True; fi
fi

cat > "$WORK/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $WORK/logs
log_file = tempest.log

[oslo_concurrency]
lock_path = $WORK/lock

[auth]
use_dynamic_credentials = True
create_isolated_networks = False
admin_username = admin
admin_password = $NIMBUS_ADMIN_PASSWORD
admin_project_name = admin
admin_domain_name = Default
admin_user_domain_name = Default
admin_project_domain_name = Default
default_credentials_domain_name = Default

[identity]
uri_v3 = $NIMBUS_AUTH_URL
auth_version = v3
region = RegionOne
v3_endpoint_type = public
admin_role = admin
default_domain_id = default
user_lockout_failure_attempts = 2
user_lockout_duration = 5
user_unique_last_password_count = 2

[identity-feature-enabled]
api_v2 = False
api_v3 = True
trust = True
security_compliance = True
access_rules = True
domain_specific_drivers = False
immutable_user_source = False
api_extensions = all

[enforce_scope]
keystone = False
glance = True
nova = True

[service_available]
nova = $NOVA
glance = True
neutron = False
cinder = $CINDER
swift = True
horizon = False

[image]
catalog_type = image
region = RegionOne
endpoint_type = public
image_caching_enabled = False
# Only the tasks API tests read it (their one enabled test posts no import_from); nothing is fetched.
http_image = http://127.0.0.1:9/nimbus-tempest-http-image.qcow2
container_formats = bare,ami,ari,aki,ovf,ova
disk_formats = qcow2,raw,ami,ari,aki,vhd,vmdk,vdi,iso,vhdx
hashing_algorithm = sha512

[image-feature-enabled]
api_v2 = True
import_image = True
os_glance_reserved = True
manage_locations = False
image_conversion = False
http_store_enabled = False
store_weight_enabled = False
image_format_enforcement = False
do_secure_hash = True

[object-storage]
region = RegionOne
endpoint_type = public
operator_role = member
reseller_admin_role = ResellerAdmin
realm_name = realm1
cluster_name = name1
container_sync_interval = 1
container_sync_timeout = 120

[object-storage-feature-enabled]
discoverable_apis = tempurl,slo,bulk_delete,bulk_upload,versioned_writes,container_quotas,account_quotas,crossdomain,formpost,staticweb,container_sync
container_sync = True
object_versioning = True
discoverability = True
tempurl_digest_hashlib = sha256

[compute]
catalog_type = compute
region = RegionOne
endpoint_type = public
image_ref = ${NIMBUS_IMAGE_REF:-}
image_ref_alt = ${NIMBUS_IMAGE_REF_ALT:-}
flavor_ref = 42
flavor_ref_alt = 84
min_microversion = 2.1
max_microversion = 2.96
build_interval = 1
build_timeout = ${TEMPEST_COMPUTE_BUILD_TIMEOUT:-180}
min_compute_nodes = $COMPUTE_NODES

[compute-feature-enabled]
# What Nimbus' Nova implements (no Neutron, Cinder or metadata service yet; OS-DCF:diskConfig
# is always MANUAL, so disk_config is off).
resize = True
snapshot = True
console_output = True
pause = True
suspend = True
disk_config = False
config_drive = True
enable_instance_password = True
ide_bus = True
unified_limits = False
personality = False
change_password = False
shelve = True
shelve_migrate = False
rescue = True
stable_rescue = True
cold_migration = $MOVES
live_migration = $MOVES
live_migrate_back_and_forth = $MOVES
block_migration_for_live_migration = $MOVES
volume_backed_live_migration = False
interface_attach = False
attach_encrypted_volume = False
swap_volume = False
volume_multiattach = $MULTIATTACH
# Off: Tempest's one serial test (test_live_migration_serial_console) hands str to a helper that
# needs bytes (int('t') in send_frame), so it fails on any cloud; pytest covers the serial console.
serial_console = False
vnc_console = True
spice_console = False
metadata_service = False
hostname_fqdn_sanitization = False
vtpm_live_migration = False
scheduler_enabled_filters = ComputeFilter,AvailabilityZoneFilter,SameHostFilter,DifferentHostFilter
nova_policy_roles = admin,manager,member,reader

[placement]
catalog_type = placement
region = RegionOne
endpoint_type = public

[volume]
catalog_type = block-storage
region = RegionOne
endpoint_type = public
min_microversion = 3.0
max_microversion = 3.71
build_interval = 1
build_timeout = 60
volume_size = 1
volume_type_multiattach = ${NIMBUS_MULTIATTACH_TYPE:-}
vendor_name = Open Source
storage_protocol = nbd
disk_format = raw,qcow2
# Backups go into the object store as Cinder's Swift driver writes them: Tempest then names a
# container per backup and deletes it afterwards with the object-storage client.
backup_driver = swift

[volume-feature-enabled]
multi_backend = False
backup = True
snapshot = True
clone = True
manage_snapshot = False
manage_volume = False
extend_attached_volume = True
api_extensions = all

[validation]
run_validation = False

[network]
project_networks_reachable = False
public_network_id =
floating_network_name =

[network-feature-enabled]
floating_ips = False
ipv6 = False
EOF
if [[ -n ${TEMPEST_CONF_EXTRA:-} ]]; then cat "$TEMPEST_CONF_EXTRA" >> "$WORK/etc/tempest.conf"; fi

TEMPEST_PKG=$(python -c 'import os, tempest; print(os.path.dirname(tempest.__file__))')

# Tests we intentionally skip (skipped-<area>.txt) are excluded from the run; on the fake
# compute driver also those that need a real guest (skipped-compute-fake.txt).
ids_regex() {  # FILE: its test ids (module, class or test) as one alternation
    sed -e 's/#.*//' -e 's/[[:space:]]\+\(—\|--\).*//' -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/[].[()*+?^$|\\]/\\&/g' \
        -e 's/^/^/' -e 's/$/(\\[|$|\\.)/' "$1" | paste -sd'|'
}
skip_files() {  # AREA: its skip lists
    echo "$HERE/skipped-$1.txt"
    if [[ $1 == compute && $COMPUTE_DRIVER == fake ]]; then echo "$HERE/skipped-compute-fake.txt"; fi
}
# One `tempest run` per pass, each in its own directory (stestr keeps one repository per dir):
# the network area runs apart with Neutron on in its tempest.conf, so the other areas' tests
# keep the configuration their must-pass lists were made with.
run_pass() {  # DIR CONF AREA...
    local dir=$1 conf=$2; shift 2
    local areas=("$@")
    mkdir -p "$dir"
    cat > "$dir/.stestr.conf" <<EOF2
[DEFAULT]
test_path=$TEMPEST_PKG/test_discover
top_dir=$(dirname "$TEMPEST_PKG")
group_regex=([^\.]*\.)*
EOF2
    { for area in "${areas[@]}"; do skip_files "$area"; done
      # Compute tests that need Neutron run in the network pass, not in the main one.
      if [[ " ${areas[*]} " == *" compute "* && " ${areas[*]} " != *" network "* ]] && has_area network; then echo "$HERE/network-compute.txt"; fi
      if [[ " ${areas[*]} " == *" network "* ]] && has_area compute; then skip_files compute; fi
    } | while read -r f; do cat "$f" 2>/dev/null || true; done |
    sed -e 's/#.*//' -e 's/[[:space:]]\+\(—\|--\).*//' -e 's/[[:space:]]*$//' -e 's/\[[^]]*\]$//' -e '/^$/d' \
        -e 's/[].[()*+?^$|\\]/\\&/g' -e 's/^/^/' -e 's/$/(\\[|$|\\.)/' > "$dir/exclude-list.txt"
    local regex=${TEMPEST_REGEX:-^tempest\.api\.($(IFS='|'; echo "${areas[*]}"))}
    if [[ " ${areas[*]} " == *" network "* ]] && has_area compute && [[ -z ${TEMPEST_REGEX:-} ]]; then
        regex="$regex|$(ids_regex "$HERE/network-compute.txt")"
    fi
    (
        cd "$dir"
        set +e
        tempest run --config-file "$conf" --regex "$regex" --exclude-list "$dir/exclude-list.txt" \
            --concurrency "${TEMPEST_CONCURRENCY:-2}" "${PASS_ARGS[@]}"
        echo "tempest run exited $?"
        stestr last --subunit > results.subunit || true
    )
    python "$HERE/subunit_results.py" "$dir/results.subunit" >> "$WORK/results.txt"
}
PASS_ARGS=("$@")
: > "$WORK/results.txt"
MAIN_AREAS=()
for area in "${AREAS[@]}"; do [[ $area == network || $area == volume ]] || MAIN_AREAS+=("$area"); done
if ((${#MAIN_AREAS[@]})); then run_pass "$WORK" "$WORK/etc/tempest.conf" "${MAIN_AREAS[@]}"; fi
if has_area network; then
    python "$HERE/network_setup.py" "$NIMBUS_AUTH_URL" "$NIMBUS_ADMIN_PASSWORD" > "$WORK/network.env"
    # shellcheck disable=SC1091
    source "$WORK/network.env"
    # Neutron on; each test project gets its own network, subnet and router (DevStack's default),
    # so the compute tests in this pass boot servers with ports.
    sed -e 's/^neutron = False$/neutron = True/' -e 's/^create_isolated_networks = False$/create_isolated_networks = True/' -e '/^\[network\]$/,$d' "$WORK/etc/tempest.conf" > "$WORK/etc/tempest-network.conf"
    cat >> "$WORK/etc/tempest-network.conf" <<EOF
[network]
catalog_type = network
region = RegionOne
endpoint_type = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_network_v6_cidr = 2001:db8::/48
project_network_v6_mask_bits = 64
project_networks_reachable = False
public_network_id = $NIMBUS_PUBLIC_NETWORK_ID
floating_network_name = public
shared_physical_network = False
build_interval = 1
build_timeout = 60

[network-feature-enabled]
api_extensions = $NIMBUS_NETWORK_EXTENSIONS
ipv6 = True
ipv6_subnet_attributes = True
port_security = True
floating_ips = True
EOF
    if [[ -n ${TEMPEST_CONF_EXTRA:-} ]]; then cat "$TEMPEST_CONF_EXTRA" >> "$WORK/etc/tempest-network.conf"; fi
    run_pass "$WORK/network" "$WORK/etc/tempest-network.conf" network
fi

if has_area volume; then
    # The volume tests in a pass of their own, with Neutron on (as the volume must-pass list was
    # made) and Nova on (also when the compute area does not run), so the volume tests that
    # attach to servers run too.
    sed -e 's/^neutron = False$/neutron = True/' -e 's/^nova = False$/nova = True/' "$WORK/etc/tempest.conf" > "$WORK/etc/tempest-volume.conf"
    run_pass "$WORK/volume" "$WORK/etc/tempest-volume.conf" volume
fi

cd "$WORK"
status=0
for area in "${AREAS[@]}"; do
    echo "== $area"
    grep -E "^[a-z]+ tempest\.api\.$area\." results.txt > "results-$area.txt" || true
    [[ -s results-$area.txt ]] || { echo "no $area results"; status=1; continue; }
    must=$HERE/must-pass-$area.txt skipped=$HERE/skipped-$area.txt
    if [[ $area == compute && $COMPUTE_DRIVER == fake ]]; then
        # Check the must-pass entries the fake driver can run (--update then edits this copy).
        cat "$HERE/skipped-compute.txt" "$HERE/skipped-compute-fake.txt" > skipped-compute.txt
        grep -vxF -f <(sed -e 's/#.*//' -e 's/[[:space:]]\+\(—\|--\).*//' -e '/^[[:space:]]*$/d' \
            "$HERE/skipped-compute-fake.txt") "$must" > must-pass-compute.txt || true
        must=$WORK/must-pass-compute.txt skipped=$WORK/skipped-compute.txt
    fi
    python "$HERE/check_must_pass.py" "${UPDATE[@]}" --skipped "$skipped" "$must" "results-$area.txt" || status=1
done
exit $status
