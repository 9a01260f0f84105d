#!/usr/bin/env bash
# fetch-debs.sh: download Debian's nginx and redis (and the libraries of
# theirs a stock Debian host lacks) and unpack them, never installed, under
# one root that the tests build their nginx, redis and app images from.
# Idempotent; prints the root.
set -euo pipefail
root=${1:-/var/cache/vch/debs/root}
pkgs=(nginx redis-tools libjemalloc2 liblzf1)
stamp=$root/.vch-debs
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pkgs[*]}" ]; then
	echo "$root"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt's _apt user downloads into it.
chmod 755 "$work"
id _apt >/dev/null 2>&1 && chown _apt "$work"
(cd "$work" && apt-get download -q "${pkgs[@]}" >/dev/null)
rm -rf "$root.tmp"
mkdir -p "$root.tmp"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$root.tmp"
done
echo "${pkgs[*]}" > "$root.tmp/.vch-debs"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
