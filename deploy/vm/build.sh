#!/usr/bin/env bash
# build.sh - build, or find in the cache, the images of the netrv VM tier.
#
#   deploy/vm/build.sh [--kernel 6.1|6.12] [--quiet]
#
# Four pieces, each cached under deploy/vm/cache/ (or $NETRV_VM_CACHE) in a
# directory named after a hash of its inputs, so a piece is rebuilt only when
# one of its inputs changes:
#   kernel-PKG_VERSION/  Debian's kernel package (apt-get download, dpkg-deb -x,
#                        depmod -b): vmlinuz and its modules.
#   base-HASH/           debootstrap --variant=minbase of bookworm with the
#                        packages of rootfs.list.  Inputs: rootfs.list, suite,
#                        mirror.  Shared read-only with the guests over 9p.
#   layer-HASH/          netrv's files over the base: the DLM workload and the
#                        clock tool (compiled here against libdlm-dev), the
#                        guest scripts of guest/, and build/agent/netrv-agent
#                        when it exists.  Inputs: those files.
#   initramfs-HASH.cpio.gz  busybox-static, the modules needed to mount the
#                        rootfs (virtio, 9p, overlay) plus configfs and dlm, and
#                        guest/initramfs-init.  Inputs: kernel, those files.
# It writes cache/images-KERNEL.env (VMLINUZ INITRD BASE LAYER KVER) for
# cluster.sh, which runs this script itself before every start.
#
# Needs root (debootstrap), network access to the Debian mirror, and the
# packages of deploy/deps/vm.list.  The kernel is the one the configured apt
# sources offer: 6.1 is bookworm's default (linux-image-amd64), 6.12 is the
# newest linux-image-6.12.*+deb12-amd64 from bookworm's updates.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${NETRV_VM_CACHE:-$here/cache}
mirror=${NETRV_VM_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
kernel=6.1
quiet=0
# Bump when the way a piece is made changes (not its inputs).
recipe_base=1 recipe_layer=1 recipe_initramfs=1

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?--kernel needs 6.1 or 6.12}; shift ;;
	--quiet) quiet=1 ;;
	-h|--help) usage 0 ;;
	*) echo "build.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { [ $quiet -eq 1 ] || echo "vm-build: $*" >&2; }
die() { echo "vm-build: $*" >&2; exit 1; }
hash_of() { sha256sum | cut -c1-16; }
# Files, and file names, that make an input set.
hash_files() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		printf '%s\n' "${f#"$repo"/}"
		sha256sum <"$f"
	done
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, dpkg-deb ownership): run it with sudo"
for t in apt-get dpkg-deb depmod debootstrap busybox cpio gzip cc; do
	command -v "$t" >/dev/null ||
		die "'$t' is missing: run deploy/install-deps.sh (deploy/deps/vm.list)"
done
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one build at a time per cache

# --- kernel ---------------------------------------------------------------
case "$kernel" in
6.1)
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\./ { print $2; exit }') ;;
6.12)
	kpkg=$(apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
		awk '{ print $1 }' | sort -V | tail -n 1) ;;
*) die "unknown kernel '$kernel': use 6.1 or 6.12" ;;
esac
[ -n "$kpkg" ] || die "no Debian $kernel kernel package in the apt lists: run 'apt-get update'"
kver_deb=$(apt-cache policy "$kpkg" | awk '/Candidate:/ { print $2 }')
kdir=$cache/kernel-${kpkg}_$kver_deb
if [ ! -f "$kdir/done" ]; then
	say "kernel: fetching $kpkg $kver_deb"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp/root"
	(cd "$kdir.tmp" && apt-get download -q "$kpkg=$kver_deb" >/dev/null 2>&1) ||
		die "apt-get download $kpkg=$kver_deb failed: check the apt sources and network"
	dpkg-deb -x "$kdir.tmp"/*.deb "$kdir.tmp/root"
	rm -f "$kdir.tmp"/*.deb
	kv=$(ls "$kdir.tmp/root/lib/modules")
	depmod -b "$kdir.tmp/root" "$kv"
	echo "$kv" >"$kdir.tmp/kver"
	touch "$kdir.tmp/done"
	rm -rf "$kdir"
	mv "$kdir.tmp" "$kdir"
fi
kv=$(cat "$kdir/kver")
vmlinuz=$kdir/root/boot/vmlinuz-$kv
[ -f "$vmlinuz" ] || die "$vmlinuz missing: remove $kdir and retry"

# --- base rootfs ----------------------------------------------------------
packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/rootfs.list" | sort -u)
bhash=$({ echo "$recipe_base $suite $mirror"; echo "$packages"; } | hash_of)
base=$cache/base-$bhash
if [ ! -f "$base.done" ]; then
	say "base: debootstrap --variant=minbase $suite ($(echo "$packages" | wc -l) packages)"
	t0=$(date +%s)
	rm -rf "$base"
	debootstrap --variant=minbase --include="$(echo "$packages" | paste -sd,)" \
		"$suite" "$base" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $cache/debootstrap.log"
	rm -f "$base"/var/cache/apt/archives/*.deb
	# The guests' /dev has no udev: libdlm opens /dev/misc/dlm-control.
	touch "$base.done"
	say "base: done in $(($(date +%s) - t0)) s"
	for old in "$cache"/base-*; do # keep one base
		case "$old" in "$base" | "$base.done") continue ;; esac
		rm -rf "$old"
	done
fi

# --- layer: netrv's own files ---------------------------------------------
agent=${NETRV_AGENT_BIN:-$repo/build/agent/netrv-agent}
lhash=$({
	echo "$recipe_layer"
	hash_files "$here"/workload/*.c "$here"/workload/*.h "$here"/guest/* "$agent"
} | hash_of)
layer=$cache/layer-$lhash
if [ ! -f "$layer.done" ]; then
	say "layer: workload, guest scripts"
	[ -f /usr/include/libdlm.h ] ||
		die "libdlm-dev is missing (the workload is built here): apt-get install libdlm-dev"
	rm -rf "$layer"
	mkdir -p "$layer/usr/local/bin" "$layer/usr/local/sbin" "$layer/dev/misc"
	cc -O2 -g -Wall -Wextra -Werror -std=gnu11 -o "$layer/usr/local/bin/netrv-dlm-workload" \
		-pthread "$here/workload/dlm-workload.c" -ldlm
	cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$layer/usr/local/bin/netrv-vm-clock" \
		"$here/workload/vm-clock.c"
	install -m 0755 "$here"/guest/netrv-vm-* "$layer/usr/local/sbin/"
	rmdir "$layer/dev/misc" "$layer/dev"
	if [ -x "$agent" ]; then
		install -m 0755 "$agent" "$layer/usr/local/bin/netrv-agent"
		say "layer: netrv-agent from $agent"
	fi
	touch "$layer.done"
	# A running cluster may still use an older layer: keep the last three.
	ls -dt "$cache"/layer-*.done | tail -n +4 | while read -r old; do
		rm -rf "${old%.done}" "$old"
	done
	for old in "$cache"/layer-*; do # unfinished builds
		[ -e "${old%.done}.done" ] || rm -rf "$old"
	done
fi

# --- initramfs --------------------------------------------------------------
modules="virtio_pci virtio_net virtio_rng 9p 9pnet_virtio overlay configfs dlm"
ihash=$({
	echo "$recipe_initramfs $kpkg $kver_deb $modules"
	busybox | head -n 1
	hash_files "$here/guest/initramfs-init"
} | hash_of)
initrd=$cache/initramfs-$kernel-$ihash.cpio.gz
if [ ! -f "$initrd" ]; then
	say "initramfs: busybox + $modules"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp"/{bin,dev,proc,sys,mnt,lib/modules}
	cp /bin/busybox "$tmp/bin/busybox"
	ln -s busybox "$tmp/bin/sh"
	install -m 0755 "$here/guest/initramfs-init" "$tmp/init"
	: >"$tmp/modules.order"
	for m in $modules; do
		modprobe -d "$kdir/root" -S "$kv" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		name=$(basename "$ko")
		case "$name" in
		*.xz) xz -dc "$ko" >"$tmp/lib/modules/${name%.xz}"; name=${name%.xz} ;;
		*.zst) zstd -qdc "$ko" >"$tmp/lib/modules/${name%.zst}"; name=${name%.zst} ;;
		*) cp "$ko" "$tmp/lib/modules/$name" ;;
		esac
		echo "$name" >>"$tmp/modules.order"
	done
	(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -6) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$tmp"
	trap - EXIT
	for old in "$cache"/initramfs-"$kernel"-*.cpio.gz; do
		[ "$old" = "$initrd" ] || rm -f "$old"
	done
fi

env=$cache/images-$kernel.env
cat >"$env.tmp" <<EOF
KVER=$kv
KPKG=${kpkg}_$kver_deb
VMLINUZ=$vmlinuz
INITRD=$initrd
BASE=$base
LAYER=$layer
EOF
mv "$env.tmp" "$env"
say "images ready: $env"
echo "$env"
