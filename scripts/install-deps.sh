#!/usr/bin/env bash
# Install the Debian packages Nimbus' build, tests and benchmarks need.
# Idempotent and fast: apt is only touched when something is missing.
set -euo pipefail

PKGS=(
    postgresql postgresql-client   # store tests against a throwaway cluster
    libsqlite3-dev                 # default store
    zlib1g-dev libbz2-dev          # object storage: tar.gz and tar.bz2 archives (extract-archive)
    curl jq wrk                    # smoke checks and benchmarks
    python3 ca-certificates make
    # scripts/build-test-image.sh: the small bootable test guest, and booting it
    linux-image-amd64 kmod busybox-static dropbear-bin cpio
    isc-dhcp-client                # dhclient for DHCPv6 in the test guest (busybox has none)
    syslinux syslinux-common mtools dosfstools genisoimage
    qemu-system-x86 qemu-utils
    # the network datapath: bridges and namespaces (ip), DHCP (dnsmasq), security groups and NAT (nft)
    iproute2 dnsmasq-base nftables
    iputils-ping                   # Tempest's scenario tests ping guests' floating IPs
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# python3-venv only matters when `python3 -m venv` does not work here.
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    echo "install-deps.sh: installing ${missing[*]}" >&2
    SUDO=; ((EUID == 0)) || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# noVNC's page and scripts, served by the console proxy (/compute-console/vnc_lite.html). Only
# the files of Debian's novnc package: its dependencies (nodejs, websockify, numpy …) are for
# its own proxy, which Nimbus replaces.
if [[ ! -f /usr/share/novnc/vnc_lite.html && ! -f /usr/local/share/novnc/vnc_lite.html ]]; then
    echo "install-deps.sh: unpacking noVNC into /usr/local/share/novnc" >&2
    SUDO=; ((EUID == 0)) || SUDO=sudo
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    chmod 755 "$tmp"
    if ! (cd "$tmp" && apt-get download -qq novnc 2>/dev/null); then
        $SUDO apt-get update -qq
        (cd "$tmp" && apt-get download -qq novnc)
    fi
    dpkg-deb -x "$tmp"/novnc_*.deb "$tmp/root"
    $SUDO mkdir -p /usr/local/share
    $SUDO cp -a "$tmp/root/usr/share/novnc" /usr/local/share/novnc
fi
