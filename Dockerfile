# Builds vic-bundle.tar.gz, the same bundle as `make bundle`, in a
# container. The build runs offline: first `make docker-context` (the
# vendored modules, the guest kernel and ISOLINUX into dist/context), then
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#       --build-arg COMMIT=$(git rev-parse --short HEAD) -t vic-bundle .
#   docker create --name vic-bundle vic-bundle /vic-bundle.tar.gz
#   docker cp vic-bundle:/vic-bundle.tar.gz dist/ && docker rm vic-bundle
#
# (with BuildKit, `docker build -o dist .` writes dist/vic-bundle.tar.gz).
# GO_IMAGE is any image with Go >= go.mod's version, a POSIX shell, bash,
# make, tar and gzip; the default is Docker Hub's official image.
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
ARG VERSION=dev
ARG COMMIT=unknown
# Static binaries, built from the vendored modules only; -trimpath for all
# of them (the tether has it anyway) so the standard library is compiled
# once.
ENV CGO_ENABLED=0 GOFLAGS="-mod=vendor -trimpath" GOPROXY=off GOTOOLCHAIN=local \
    GOCACHE=/tmp/gocache VCH_KERNEL_DIR=/src/dist/context/kernel \
    VCH_ISOLINUX_BIN=/src/dist/context/isolinux/isolinux.bin \
    VCH_LDLINUX=/src/dist/context/isolinux/ldlinux.c32 \
    VCH_MKFS_ROOT=/src/dist/context/mkfs
WORKDIR /src
COPY . .
RUN if [ ! -d dist/context/vendor ] || [ ! -e dist/context/kernel/vmlinuz ] || [ ! -e dist/context/isolinux/isolinux.bin ]; then \
        echo "Dockerfile: dist/context lacks vendor/, kernel/ or isolinux/: run make docker-context first" >&2; exit 1; \
    fi && \
    mv dist/context/vendor vendor && \
    make bundle VERSION="$VERSION" COMMIT="$COMMIT" && \
    rm -rf /tmp/gocache

# Only the bundle: docker create + docker cp (or build -o) takes it out.
FROM scratch
COPY --from=build /src/dist/vic-bundle.tar.gz /vic-bundle.tar.gz
