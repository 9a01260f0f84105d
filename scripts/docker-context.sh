#!/usr/bin/env bash
# docker-context.sh: put into dist/context/ what the root Dockerfile needs
# besides the sources, so that `docker build .` runs offline:
#   dist/context/vendor  the module sources (go mod vendor; the build
#                        stage uses -mod=vendor and GOPROXY=off)
#   dist/context/kernel  the guest kernel tree that make bundle packs
#                        (scripts/fetch-kernel.sh's cache; hard links
#                        where the file system allows, else a copy)
#   dist/context/isolinux  ISOLINUX's isolinux.bin and ldlinux.c32 (Debian's
#                        isolinux, syslinux-common) for the bundle's ISOs
#   dist/context/mkfs    this host's mke2fs with the libraries ldd names,
#                        at their paths, and /etc/mke2fs.conf: the
#                        bootstrap ISO's tether makes new volumes' file
#                        systems with it (VCH_MKFS_ROOT in the Dockerfile)
# Run it again after go.mod changes or a new kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
kernel=${VCH_KERNEL_DIR:-/var/cache/vch/kernel}
for f in "$kernel/vmlinuz" "$kernel/version"; do
	[ -e "$f" ] || { echo "docker-context: missing $f (run scripts/setup.sh)" >&2; exit 1; }
done
ctx=dist/context
mkdir -p dist
tmp=$(mktemp -d dist/.context.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
go mod vendor -o "$tmp/vendor"
cp -al "$kernel" "$tmp/kernel" 2>/dev/null || { rm -rf "$tmp/kernel"; cp -a "$kernel" "$tmp/kernel"; }
mkdir -p "$tmp/isolinux"
cp "${VCH_ISOLINUX_BIN:-/usr/lib/ISOLINUX/isolinux.bin}" "${VCH_LDLINUX:-/usr/lib/syslinux/modules/bios/ldlinux.c32}" "$tmp/isolinux/"
mkdir -p "$tmp/mkfs/sbin" "$tmp/mkfs/etc"
cp -L /sbin/mke2fs "$tmp/mkfs/sbin/mke2fs"
[ ! -e /etc/mke2fs.conf ] || cp /etc/mke2fs.conf "$tmp/mkfs/etc/"
for lib in $(ldd /sbin/mke2fs | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
	mkdir -p "$tmp/mkfs$(dirname "$lib")"
	cp -L "$lib" "$tmp/mkfs$lib"
done
rm -rf "$ctx"
mv "$tmp" "$ctx"
trap - EXIT
echo "docker-context: $ctx ($(du -sh "$ctx" | cut -f1)) holds vendor/ and kernel/ ($(cat "$ctx/kernel/version"))"
