#!/usr/bin/env bash
# Build Nimbus' small CirrOS-like test guest from Debian packages only:
# Debian's kernel with a few driver modules, busybox-static, dropbear, curl, blkid and the
# /init in scripts/test-image/rootfs, as an initramfs on a FAT "superfloppy"
# that syslinux boots (no -kernel needed; SeaBIOS boots it from any disk bus).
#
#   scripts/build-test-image.sh [--force] [CACHE_DIR]
#
# CACHE_DIR (default $NIMBUS_IMAGE_CACHE, else ~/.cache/nimbus/images) gets
# nimbus-test.raw and nimbus-test.qcow2; their paths are printed on stdout,
# one a line.  The build is skipped while both images are newer than this
# script and scripts/test-image/ and were built from the same inputs (files,
# package versions); --force rebuilds.  Same inputs give byte-identical
# images (fixed times from SOURCE_DATE_EPOCH, sorted archive, no random ids).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$REPO/scripts/build-test-image.sh
OVERLAY=$REPO/scripts/test-image/rootfs
NAME=nimbus-test
IMAGE_MIB=32
# Fixed times for every file in the image unless the caller sets one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}   # 2024-01-01
export LC_ALL=C TZ=UTC
umask 022

# Drivers for the disks, NICs and file systems a hypervisor may give the
# guest: virtio (PCI), IDE/AHCI CD-ROMs (config drives), e1000; vfat and
# iso9660 for the config drive.  Dependencies come from modules.dep.
MODULES=(
    virtio_pci virtio_blk virtio_net virtio_scsi virtio-rng
    e1000 scsi_mod sd_mod sr_mod ata_piix ahci
    isofs vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8
    af_packet button evdev
)
declare -A MODULE_PARAMS=([scsi_mod]="scan=sync")   # disks are there when insmod returns

# What the build needs, and the packages (in scripts/install-deps.sh) it uses.
PACKAGES=(linux-image-amd64 busybox-static dropbear-bin curl util-linux isc-dhcp-client syslinux syslinux-common
          mtools dosfstools qemu-utils cpio kmod)
TOOLS=(mkfs.fat mcopy syslinux qemu-img cpio depmod /bin/busybox /usr/sbin/dropbear
       /usr/bin/dropbearkey /usr/bin/dbclient /usr/bin/curl /sbin/blkid /sbin/dhclient /usr/lib/syslinux/modules/bios/ldlinux.c32)

die() { echo "build-test-image.sh: $*" >&2; exit 1; }
say() { echo "build-test-image.sh: $*" >&2; }

force=
cache=${NIMBUS_IMAGE_CACHE:-$HOME/.cache/nimbus/images}
while (($#)); do
    case $1 in
    --force) force=1 ;;
    -h|--help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$SELF"; exit 0 ;;
    -*) die "unknown option $1 (usage: $0 [--force] [CACHE_DIR])" ;;
    *) cache=$1 ;;
    esac
    shift
done

have_tools() {
    local t
    for t in "${TOOLS[@]}"; do
        if [[ $t == /* ]]; then [[ -e $t ]] || return 1
        else command -v "$t" >/dev/null || return 1
        fi
    done
    dpkg-query -W -f='${Status}' linux-image-amd64 2>/dev/null | grep -q 'install ok installed'
}
if ! have_tools; then
    say "installing packages with scripts/install-deps.sh"
    "$REPO/scripts/install-deps.sh"
    have_tools || die "still missing tools after scripts/install-deps.sh"
fi

# The kernel linux-image-amd64 points at.
kver=$(dpkg-query -W -f='${Depends}' linux-image-amd64 | sed -n 's/.*linux-image-\([^ ,]*-amd64\).*/\1/p')
[[ -n $kver && -r /boot/vmlinuz-$kver && -d /lib/modules/$kver ]] ||
    die "cannot find the kernel of linux-image-amd64 (got '$kver')"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
raw=$cache/$NAME.raw
qcow2=$cache/$NAME.qcow2
stamp=$cache/$NAME.inputs

# One build at a time per cache directory.
exec 9>"$cache/.$NAME.lock"
flock 9

# --- up to date?
fingerprint() {
    {
        echo "kernel $kver epoch $SOURCE_DATE_EPOCH size $IMAGE_MIB root $((EUID == 0))"
        dpkg-query -W -f='${Package} ${Version}\n' "${PACKAGES[@]}" "linux-image-$kver"
        sha256sum "$SELF"
        # the overlay: names, types, which files are executable, contents
        (cd "$OVERLAY" && find . -print0 | sort -z | xargs -0 stat -c '%n %F' &&
            find . -type f -perm /111 | sort &&
            find . -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
}
want=$(fingerprint)
if [[ -z $force && -f $raw && -f $qcow2 && -f $stamp && $(cat "$stamp") == "$want" ]] &&
   [[ $raw -nt $SELF && $qcow2 -nt $SELF ]] &&
   [[ -z $(find "$OVERLAY" -newer "$qcow2" -print -quit) ]]; then
    say "up to date (--force rebuilds)"
    printf '%s\n' "$raw" "$qcow2"
    exit 0
fi

start=$SECONDS
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"

# --- root file system: the overlay, busybox and its applets
cp -R "$OVERLAY/." "$root/"
# Modes as git would check them out with umask 022, whatever this one's was.
find "$root" -type d -exec chmod 755 {} +
find "$root" -type f -perm /111 -exec chmod 755 {} +
find "$root" -type f ! -perm /111 -exec chmod 644 {} +
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,run,tmp,mnt,root,var/log,etc/nimbus,etc/dropbear}
ln -s ../run "$root/var/run"
chmod 700 "$root/root"
chmod 600 "$root/etc/shadow"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
while read -r applet; do
    [[ $applet == linuxrc || -e $root/$applet || -L $root/$applet ]] && continue
    ln -s /bin/busybox "$root/$applet"
done < <(/bin/busybox --list-full)
# The kernel opens /dev/console before /init runs.  Its built-in initramfs
# has one too, so a build without root (no mknod; image bytes then differ
# from a root build's) boots as well.
if ((EUID == 0)); then mknod -m 600 "$root/dev/console" c 5 1; fi

# --- dropbear, curl and util-linux's blkid and lsblk (CirrOS has them; Tempest's scenarios read the
# metadata service with curl and find the config drive with `blkid -L config-2`), and the
# shared libraries they need (ISC dhclient's too: it only needs libc)
binaries=(/usr/sbin/dropbear /usr/bin/dropbearkey /usr/bin/dbclient /usr/bin/curl /sbin/blkid /usr/bin/lsblk)
for bin in "${binaries[@]}"; do
    rm -f "$root$bin"     # busybox may have an applet of that name
    cp "$bin" "$root$bin"
done
ln -s dbclient "$root/usr/bin/ssh"
# ISC dhclient, for DHCPv6 (busybox has no client for it), lies on the boot disk, not in the
# initramfs: its 2.7 MB unpacked there would not leave a 128 MB guest (m1.nano) enough memory to
# boot. Tests that want DHCPv6 start it (/persist is the boot disk) with
# /usr/share/dhclient/dhclient6.script.
ln -s /persist/dhclient "$root/sbin/dhclient"
libs=$(ldd "${binaries[@]}" |
       awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)
for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# --- kernel modules: MODULES and what modules.dep says they need, in load order
kdir=/lib/modules/$kver
declare -A dep_of=() seen=()
while IFS=: read -r mod deps; do dep_of[$mod]=$deps; done < "$kdir/modules.dep"
load_order=()
add_module() {   # path relative to $kdir
    local m=$1 d deps i
    [[ -n ${seen[$m]:-} ]] && return
    seen[$m]=1
    read -ra deps <<<"${dep_of[$m]:-}"
    # modules.dep lists a module's dependencies so that loading them last to
    # first works (it is what modprobe does).
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "${deps[i]}"; done
    load_order+=("$m")
}
for name in "${MODULES[@]}"; do
    file=
    for alt in "$name" "${name//-/_}" "${name//_/-}"; do
        file=$(grep -m1 -oE "^([^:]*/)?$alt\.ko(\.xz|\.zst|\.gz)?:" "$kdir/modules.dep" | tr -d :) && break
    done
    if [[ -n $file ]]; then
        add_module "$file"
    elif grep -qE "/(${name//-/_}|${name//_/-})\.ko$" "$kdir/modules.builtin"; then
        say "module $name is built into $kver"
    else
        die "module $name not found for $kver"
    fi
done
for m in "${load_order[@]}"; do
    [[ $m == *.ko ]] || die "compressed module $m: not supported by busybox insmod here"
    mkdir -p "$root/$kdir/$(dirname "$m")"
    cp "$kdir/$m" "$root/$kdir/$m"
    base=$(basename "$m" .ko)
    echo "$m${MODULE_PARAMS[${base//-/_}]:+ ${MODULE_PARAMS[${base//-/_}]}}"
done > "$root/etc/nimbus/modules.load"
cp "$kdir"/modules.{order,builtin,builtin.modinfo} "$root/$kdir/"
depmod -b "$root" "$kver"     # so that modprobe works in the guest shell
say "kernel $kver, ${#load_order[@]} modules: $(for m in "${load_order[@]}"; do basename "$m" .ko; done | tr '\n' ' ')"

cat > "$root/etc/nimbus/build-info" <<EOF
image=$NAME
kernel=$kver
$(dpkg-query -W -f='${Package}=${Version}\n' busybox-static dropbear-bin curl util-linux isc-dhcp-client "linux-image-$kver")
EOF

# --- initramfs: sorted, fixed times and owners
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . -print0 | sort -z |
    cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) |
    gzip -9 -n > "$work/initrd.gz"

# --- the boot disk: syslinux on a FAT superfloppy
cp "/boot/vmlinuz-$kver" "$work/vmlinuz"
cp /sbin/dhclient "$work/dhclient"
cat > "$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT nimbus
LABEL nimbus
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=tty0 console=ttyS0,115200n8
EOF
touch -d "@$SOURCE_DATE_EPOCH" "$work"/{vmlinuz,initrd.gz,syslinux.cfg,dhclient}
truncate -s "${IMAGE_MIB}M" "$work/$NAME.raw"
mkfs.fat -F 16 -n NIMBUSTEST --invariant "$work/$NAME.raw" >/dev/null
mcopy -m -i "$work/$NAME.raw" "$work/vmlinuz" "$work/initrd.gz" "$work/syslinux.cfg" "$work/dhclient" ::
syslinux --install "$work/$NAME.raw"
qemu-img convert -f raw -O qcow2 "$work/$NAME.raw" "$work/$NAME.qcow2"

mv -f "$work/$NAME.raw" "$raw"
mv -f "$work/$NAME.qcow2" "$qcow2"
echo "$want" > "$stamp"
say "built in $((SECONDS - start)) s: initrd $(du -k "$work/initrd.gz" | cut -f1) KiB," \
    "kernel $(du -k "$work/vmlinuz" | cut -f1) KiB, qcow2 $(du -k "$qcow2" | cut -f1) KiB"
printf '%s\n' "$raw" "$qcow2"
