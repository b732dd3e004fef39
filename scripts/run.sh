#!/usr/bin/env bash
# `make run`: install what is missing, build, and start the cloud, timing each phase.
#
# Only the Debian packages must come first. The Python venv (the openstack CLI) and the test
# guest image do not need the Swift build, so they are made beside it; on a fresh 2-core machine
# the release build is most of the wait. Each phase's time is printed before the cloud starts
# (and kept in $DATA_DIR/make-run-times.txt).
#
#   scripts/run.sh            CONFIG=release|debug LISTEN=127.0.0.1:5000 DATA_DIR=./data
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/opt/swift/usr/bin
CONFIG=${CONFIG:-release}
LISTEN=${LISTEN:-127.0.0.1:5000}
DATA_DIR=${DATA_DIR:-./data}

start=$SECONDS
logs=$(mktemp -d)
side=()
cleanup() { for p in "${side[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$logs"; }
trap cleanup EXIT

scripts/install-deps.sh
packages=$((SECONDS - start))

# Beside the build: each writes its own log and its time in seconds.
beside() { # name, command...
    local name=$1; shift
    ( s=$SECONDS; "$@" > "$logs/$name.log" 2>&1; echo $((SECONDS - s)) > "$logs/$name.time" ) &
    side+=($!)
}
beside venv scripts/venv.sh
beside image scripts/build-test-image.sh

b=$SECONDS
swift build -c "$CONFIG" --product nimbus
build=$((SECONDS - b))

failed=0
for i in "${!side[@]}"; do
    name=$([[ $i == 0 ]] && echo venv || echo image)
    if ! wait "${side[$i]}" || [[ ! -f $logs/$name.time ]]; then
        echo "run.sh: $name failed:" >&2
        cat "$logs/$name.log" >&2
        failed=1
    fi
done
side=()
((failed == 0)) || exit 1

mkdir -p "$DATA_DIR"
summary="make run: packages ${packages} s; Swift build ($CONFIG) ${build} s, with the venv ($(cat "$logs/venv.time") s) and the test image ($(cat "$logs/image.time") s) made beside it; $((SECONDS - start)) s in all before nimbus starts"
echo "$summary" | tee "$DATA_DIR/make-run-times.txt" >&2
rm -rf "$logs"
trap - EXIT
exec ".build/$CONFIG/nimbus" up --data-dir "$DATA_DIR" --listen "$LISTEN"
