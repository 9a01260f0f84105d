#!/usr/bin/env bash
# build-compose.sh: build Compose v2 (the docker CLI plugin) from the Go
# module proxy into a cache, once. `go install` of it fails (its go.mod
# has exclude directives), so the module is downloaded, copied out of the
# module cache and built there. Prints the binary's path.
set -euo pipefail
export PATH=/usr/local/go/bin:/root/go/bin:$PATH
version=${VCH_COMPOSE_VERSION:-v2.40.3}
cache=${VCH_COMPOSE_CACHE:-/var/cache/vch/compose}
bin=$cache/docker-compose-$version
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
src=$(go mod download -json "github.com/docker/compose/v2@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
	echo "build-compose: could not download github.com/docker/compose/v2@$version" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/compose"
chmod -R u+w "$work/compose"
echo "build-compose: building Compose $version (a few minutes)" >&2
(cd "$work/compose" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" -o "$bin.tmp" ./cmd)
mv "$bin.tmp" "$bin"
echo "$bin"
