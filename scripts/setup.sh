#!/usr/bin/env bash
# setup.sh: make this Debian 12 machine (root) ready to build, run and test
# vch. Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "setup: run as root (vch runs QEMU VMs and manages their state under /var/lib/vch)" >&2
	exit 1
fi

export PATH=/usr/local/go/bin:/root/go/bin:$PATH
if ! command -v go >/dev/null; then
	echo "setup: Go is required at /usr/local/go/bin (https://go.dev/dl)" >&2
	exit 1
fi

# Debian packages: QEMU for container VMs, e2fsprogs for their disks, the
# registry and busybox for the tests' own images, docker.io only as the
# peer the benchmarks compare with (never left running), compose v1, and
# pytest with paramiko for docker-py's integration tests (make dockerpy),
# ISOLINUX for the bundle's ISOs and xorriso to check them, qemu-img
# (qemu-utils) for the writable layers of vsimtest.QEMUHost's VMs.
pkgs=(qemu-system-x86 qemu-utils e2fsprogs docker-registry busybox-static iptables iproute2 cpio ca-certificates procps psmisc curl docker.io docker-compose python3-pytest python3-paramiko xorriso isolinux syslinux-common)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	apt-get update -q
	# policy-rc.d keeps the docker.io and docker-registry packages from
	# starting system services during installation.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	rm -f /usr/sbin/policy-rc.d
	trap - EXIT
fi
# No system dockerd or registry may keep running: tests and benchmarks start their own.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	systemctl disable --now docker.service docker.socket docker-registry.service >/dev/null 2>&1 || true
else
	service docker stop >/dev/null 2>&1 || true
	service docker-registry stop >/dev/null 2>&1 || true
fi

# The guest kernel: Debian's cloud kernel, unpacked into a cache, never
# installed on the host.
scripts/fetch-kernel.sh "${VCH_KERNEL_DIR:-/var/cache/vch/kernel}"

# Debian's nginx and redis, unpacked (never installed) for the tests' app
# images, and Compose v2 built once from the Go module proxy.
scripts/fetch-debs.sh >/dev/null
scripts/build-compose.sh >/dev/null

# Every module go.mod lists in the module cache, those that only other
# platforms import included: `make docker-context` (go mod vendor) then
# runs offline, as the e2e test of the root Dockerfile does inside its
# network namespace. A build alone fetches only what Linux needs.
go mod download

# staticcheck, pinned, for make test.
if ! staticcheck -version 2>/dev/null | grep -q "(0.8.2)"; then
	echo "setup: installing staticcheck"
	GOBIN=/root/go/bin go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
echo "setup: done"
