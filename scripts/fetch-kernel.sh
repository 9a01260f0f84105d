#!/bin/sh
# fetch-kernel.sh DEST: unpack the guest kernel for container VMs into DEST.
#
# Finds the versioned package behind Debian's linux-image-cloud-amd64
# metapackage, downloads it with apt-get (never installs it on the host),
# extracts it with dpkg-deb -x and leaves:
#   DEST/vmlinuz   symlink to boot/vmlinuz-<version>
#   DEST/modules   symlink to lib/modules/<version>
#   DEST/version   the kernel release string
# Idempotent: if DEST already holds that package's version it does nothing.
set -eu

dest=${1:?usage: fetch-kernel.sh DEST}
meta=${VCH_KERNEL_META:-linux-image-cloud-amd64}

pkg=$(apt-cache depends "$meta" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
if [ -z "$pkg" ]; then
	echo "fetch-kernel: cannot resolve $meta (run apt-get update?)" >&2
	exit 1
fi
ver=${pkg#linux-image-}

if [ -f "$dest/version" ] && [ "$(cat "$dest/version")" = "$ver" ] &&
	[ -e "$dest/vmlinuz" ] && [ -d "$dest/modules/" ]; then
	echo "fetch-kernel: $dest already holds $ver"
	exit 0
fi

mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory; _apt must be able to
# write there when apt drops privileges.
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
deb=$(ls "$tmp"/*.deb)
dpkg-deb -x "$deb" "$tmp/root"

rm -rf "$dest/boot" "$dest/lib" "$dest/vmlinuz" "$dest/modules" "$dest/version"
mv "$tmp/root/boot" "$dest/boot"
mkdir -p "$dest/lib"
mv "$tmp/root/lib/modules" "$dest/lib/modules"
ln -s "boot/vmlinuz-$ver" "$dest/vmlinuz"
ln -s "lib/modules/$ver" "$dest/modules"
echo "$ver" >"$dest/version.tmp"
mv "$dest/version.tmp" "$dest/version"
echo "fetch-kernel: $dest holds $ver"
