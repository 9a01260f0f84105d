#!/usr/bin/env bash
# bundle.sh OUT: pack vic-bundle.tar.gz, the self-contained download a user
# unpacks on a Debian 12 host with QEMU: vic-machine-linux, vchd, the
# tether and the guest kernel it boots (the initramfs inputs), the vSphere
# ISOs (bootstrap.iso: kernel + the tether's initramfs, the container VMs'
# CD-ROM; appliance.iso: kernel + vch-appliance as /init with static vchd
# and vic-machine, the endpoint VM's),
# and a README.
# `./vic-machine-linux create` run from the unpacked directory finds them
# beside itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bundle.sh OUT.tar.gz}
kernel=${VCH_KERNEL_DIR:-/var/cache/vch/kernel}
# ISOLINUX from Debian's isolinux and syslinux-common packages.
isolinux=${VCH_ISOLINUX_BIN:-/usr/lib/ISOLINUX/isolinux.bin}
ldlinux=${VCH_LDLINUX:-/usr/lib/syslinux/modules/bios/ldlinux.c32}
for f in bin/vic-machine bin/vchd bin/tether bin/mkiso bin/vch-appliance bin/appliance/vchd bin/appliance/vic-machine "$kernel/vmlinuz" "$kernel/version" "$isolinux" "$ldlinux"; do
	[ -e "$f" ] || { echo "bundle: missing $f (run make build and scripts/setup.sh)" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/vic
mkdir -p "$dir/kernel"
cp bin/vic-machine "$dir/vic-machine-linux"
cp bin/vchd bin/tether "$dir/"
# The kernel tree as scripts/fetch-kernel.sh leaves it (vmlinuz and
# modules are relative links into boot/ and lib/).
cp -a "$kernel/." "$dir/kernel/"
bin/mkiso bootstrap -o "$dir/bootstrap.iso" -tether bin/tether -kernel-dir "$kernel" -isolinux "$isolinux" -ldlinux "$ldlinux"
bin/mkiso appliance -o "$dir/appliance.iso" -init bin/vch-appliance -vchd bin/appliance/vchd -vic-machine bin/appliance/vic-machine -kernel-dir "$kernel" -isolinux "$isolinux" -ldlinux "$ldlinux"
version=$(bin/vic-machine version)
cat > "$dir/README" <<README
vic-bundle: a Virtual Container Host for the stock docker CLI, each
container in its own QEMU microvm.
$version
Kernel: $(cat "$kernel/version") (Debian's cloud kernel)

Needs: Debian 12 (or alike), root, qemu-system-x86, e2fsprogs, iptables,
iproute2.

  ./vic-machine-linux create --name vch1
  # prints the DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH lines
  # to export; then: docker run --rm busybox echo hello
  ./vic-machine-linux ls
  ./vic-machine-linux delete --name vch1 --force

vic-machine-linux finds vchd, the tether and kernel/ beside itself.
On vSphere (--target), create uploads appliance.iso and bootstrap.iso
from beside itself to the image datastore.
README
mkdir -p "$(dirname "$out")"
tar -C "$stage" -czf "$out.tmp" vic
mv "$out.tmp" "$out"
echo "$out"
