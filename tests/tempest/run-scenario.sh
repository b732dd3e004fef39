#!/usr/bin/env bash
# Run Tempest's scenario tests against a Nimbus cloud with real guests on a real datapath, then
# check tests/tempest/must-pass-scenario.txt.
#
#   tests/tempest/run-scenario.sh [--update] [-- extra `tempest run` args]
#
# The cloud and Tempest share one network namespace made for the run, `nimbus-ts<id>`, which is
# also the outside of the `public` network: Tempest pings and SSHes guests through their floating
# IPs from there, and reaches the API on its loopback.  The cloud's hosts (bridges, taps, QEMU)
# live in a second one, `nimbus-th<id>` (`[network] host_namespace`).  Nothing is sent from the
# host's own namespace.  Both namespaces, the router and DHCP namespaces, the guests and dnsmasq
# are removed at the end, whatever happened.
# Knobs: TEMPEST_SCENARIO_REGEX (default: the tests of must-pass-scenario.txt and the candidates
# below), TEMPEST_SCENARIO_WORK (default tests/.tempest-scenario), TEMPEST_COMPUTE_ACCELERATOR
# (auto), NIMBUS_BIN.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${TEMPEST_SCENARIO_WORK:-$REPO/tests/.tempest-scenario}
VENV=$REPO/.venv
UPDATE=()
if [[ ${1:-} == --update ]]; then UPDATE=(--update); shift; fi
if [[ ${1:-} == -- ]]; then shift; fi
((EUID == 0)) || { echo "run-scenario.sh: needs root (network namespaces)" >&2; exit 1; }

[[ -x $VENV/bin/tempest ]] || "$REPO/scripts/venv.sh"
export PATH=$VENV/bin:$PATH PYTHON=$VENV/bin/python
export PYTHONPATH=$HERE/plugin${PYTHONPATH:+:$PYTHONPATH}
IMAGE_FILE=$("$REPO/scripts/build-test-image.sh" | grep '\.qcow2$')

rm -rf "$WORK"
mkdir -p "$WORK/etc" "$WORK/logs" "$WORK/lock"
DATA=$WORK/nimbus-data
ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
OUT=nimbus-ts$ID HOSTNS=nimbus-th$ID
# The datapath's run directory and nftables tables are named after the data directory.
DIGEST=$(printf '%s' "$DATA" | sha256sum | cut -c1-12)
RUN_DIR=/run/nimbus-network-$DIGEST

in_out() { ip netns exec "$OUT" "$@"; }
# The namespaces this run made (only those are removed: a name taken already is another's).
MADE=()
cleanup() {
    set +e
    # nimbus runs in $OUT: a pid that is no longer there may be another process's by now.
    if [[ -n ${NIMBUS_PID:-} ]] && ip netns pids "$OUT" 2>/dev/null | grep -qx -- "$NIMBUS_PID"; then
        kill -TERM "$NIMBUS_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$NIMBUS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NIMBUS_PID" 2>/dev/null
    fi
    local name pid names=()
    ((${#MADE[@]})) && names=($(cat "$RUN_DIR/owned" 2>/dev/null) "${MADE[@]}")
    # What runs in this run's namespaces is this run's (QEMU in $HOSTNS, dnsmasq in qdhcp-).
    for name in "${names[@]}"; do
        for pid in $(ip netns pids "$name" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    local data_re run_re
    data_re=$(printf '%s' "$DATA/" | sed 's/[][\.^$*+?(){}|]/\\&/g')
    run_re=$(printf '%s' "$RUN_DIR/" | sed 's/[][\.^$*+?(){}|]/\\&/g')
    pkill -KILL -f -- "qemu-system.*$data_re" 2>/dev/null
    pkill -KILL -f -- "dnsmasq.*$run_re" 2>/dev/null
    for name in "${names[@]}"; do
        ip netns del "$name" 2>/dev/null
    done
    if ((${#MADE[@]})); then
        nft delete table bridge "nimbus-ports-$DIGEST" 2>/dev/null
        nft delete table inet "nimbus-sg-$DIGEST" 2>/dev/null
        rm -rf "$RUN_DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$OUT" || exit 1
MADE+=("$OUT")
ip netns add "$HOSTNS" || exit 1
MADE+=("$HOSTNS")
ip -n "$OUT" link set lo up
ip -n "$HOSTNS" link set lo up

# The cloud: QEMU guests (TCG unless KVM works), the Linux datapath on the host namespace.
export NIMBUS_COMPUTE_NODE_DRIVER=qemu NIMBUS_COMPUTE_NODE_ACCELERATOR=${TEMPEST_COMPUTE_ACCELERATOR:-auto} \
    NIMBUS_COMPUTE_AGENT_INTERVAL_S=2 NIMBUS_NETWORK_DATAPATH=linux \
    NIMBUS_NETWORK_OUTSIDE_NAMESPACE=$OUT NIMBUS_NETWORK_HOST_NAMESPACE=$HOSTNS
in_out python "$HERE/start_cloud.py" "$DATA" > "$WORK/cloud.env"
# shellcheck disable=SC1091
source "$WORK/cloud.env"
in_out python "$HERE/compute_setup.py" "$NIMBUS_AUTH_URL" "$NIMBUS_ADMIN_PASSWORD" > "$WORK/compute.env"
in_out python "$HERE/network_setup.py" "$NIMBUS_AUTH_URL" "$NIMBUS_ADMIN_PASSWORD" > "$WORK/network.env"
# shellcheck disable=SC1091
source "$WORK/compute.env"
# shellcheck disable=SC1091
source "$WORK/network.env"

cat > "$WORK/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $WORK/logs
log_file = tempest.log

[oslo_concurrency]
lock_path = $WORK/lock

[auth]
use_dynamic_credentials = True
create_isolated_networks = True
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

[identity-feature-enabled]
api_v2 = False
api_v3 = True

[service_available]
nova = True
glance = True
neutron = True
cinder = True
swift = True
horizon = False

[image]
region = RegionOne
endpoint_type = public
disk_formats = qcow2,raw

[compute]
region = RegionOne
endpoint_type = public
image_ref = $NIMBUS_IMAGE_REF
image_ref_alt = $NIMBUS_IMAGE_REF_ALT
flavor_ref = 42
flavor_ref_alt = 84
min_microversion = 2.1
max_microversion = 2.96
build_interval = 1
build_timeout = 300
min_compute_nodes = 1

[compute-feature-enabled]
config_drive = True
metadata_service = True
interface_attach = True
console_output = True
snapshot = True
resize = True
pause = True
suspend = True
shelve = True
rescue = True
change_password = False
personality = False
cold_migration = False
live_migration = False
serial_console = False
vnc_console = True
attach_encrypted_volume = False
volume_multiattach = False

[validation]
run_validation = True
connect_method = floating
auth_method = keypair
image_ssh_user = root
ip_version_for_ssh = 4
ping_timeout = 120
connect_timeout = 30
ssh_timeout = 300
# ecdsa: Tempest then makes the key pair itself and imports its public key, which Nova requires
# from 2.92 (the 2.93 volume-backed rebuild test makes its validation key pair at 2.93).
ssh_key_type = ecdsa

[network]
catalog_type = network
region = RegionOne
endpoint_type = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_networks_reachable = False
public_network_id = $NIMBUS_PUBLIC_NETWORK_ID
floating_network_name = public
build_interval = 1
build_timeout = 120

[network-feature-enabled]
api_extensions = $NIMBUS_NETWORK_EXTENSIONS
ipv6 = False
port_security = True
floating_ips = True

[volume]
catalog_type = block-storage
region = RegionOne
endpoint_type = public
min_microversion = 3.0
max_microversion = 3.71
build_interval = 1
build_timeout = 300
volume_size = 1
vendor_name = Open Source
storage_protocol = nbd

[volume-feature-enabled]
backup = False
snapshot = True
clone = True
extend_attached_volume = True

[scenario]
dhcp_client = udhcpc
# The scenarios that upload an image of their own (test_minimum_basic) upload the test guest.
img_file = $IMAGE_FILE
img_disk_format = qcow2
img_container_format = bare
# The test guest's / is an initramfs (in RAM); its boot disk's file system is mounted at /persist,
# so the timestamps the volume scenarios write there stay on the disk.
target_dir = /persist
EOF

TEMPEST_PKG=$(python -c 'import os, tempest; print(os.path.dirname(tempest.__file__))')
cat > "$WORK/.stestr.conf" <<EOF
[DEFAULT]
test_path=$TEMPEST_PKG/test_discover
top_dir=$(dirname "$TEMPEST_PKG")
group_regex=([^\.]*\.)*
EOF
# The tests that run: the must-pass list and the candidates (Tempest's scenarios for compute,
# network and volumes), minus the skip list.
ids_regex() {  # FILE: its test ids as one alternation
    sed -e 's/#.*//' -e 's/[[:space:]]\+\(—\|--\).*//' -e 's/[[:space:]]*$//' -e 's/\[[^]]*\]$//' -e '/^$/d' \
        -e 's/[].[()*+?^$|\\]/\\&/g' -e 's/^/^/' -e 's/$/(\\[|$|\\.)/' "$1" | paste -sd'|'
}
CANDIDATES='^tempest\.scenario\.(test_server_basic_ops|test_network_basic_ops|test_security_groups_basic_ops|test_volume_boot_pattern|test_minimum_basic|test_stamp_pattern|test_snapshot_pattern|test_shelve_instance)\.'
# API tests that SSH into their guests (the API passes run without validation): they run here,
# on real guests, and must-pass-scenario.txt lists them with the scenarios.
API_HERE='tempest\.api\.compute\.servers\.(test_server_actions\.ServerActionsV293TestJSON|test_attach_interfaces)\.'
CANDIDATES="$CANDIDATES|^$API_HERE"
MUST=$(ids_regex "$HERE/must-pass-scenario.txt")
REGEX=${TEMPEST_SCENARIO_REGEX:-$CANDIDATES${MUST:+|$MUST}}
sed -e 's/#.*//' -e 's/[[:space:]]\+\(—\|--\).*//' -e 's/[[:space:]]*$//' -e 's/\[[^]]*\]$//' -e '/^$/d' \
    -e 's/[].[()*+?^$|\\]/\\&/g' -e 's/^/^/' -e 's/$/(\\[|$|\\.)/' "$HERE/skipped-scenario.txt" > "$WORK/exclude-list.txt"
(
    cd "$WORK"
    set +e
    # One test at a time: each boots TCG guests, which take a core each.
    in_out tempest run --config-file "$WORK/etc/tempest.conf" --regex "$REGEX" \
        --exclude-list "$WORK/exclude-list.txt" --concurrency 1 "$@"
    echo "tempest run exited $?"
    stestr last --subunit > results.subunit || true
)
python "$HERE/subunit_results.py" "$WORK/results.subunit" > "$WORK/results.txt"
echo "== scenario"
grep -E "^[a-z]+ (tempest\.scenario\.|$API_HERE)" "$WORK/results.txt" > "$WORK/results-scenario.txt" || true
[[ -s $WORK/results-scenario.txt ]] || { echo "no scenario results"; exit 1; }
python "$HERE/check_must_pass.py" "${UPDATE[@]}" --skipped "$HERE/skipped-scenario.txt" \
    "$HERE/must-pass-scenario.txt" "$WORK/results-scenario.txt"
