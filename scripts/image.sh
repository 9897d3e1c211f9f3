#!/usr/bin/env bash
# Builds the swarmdeck container image: the static binary of
# scripts/release.sh, for the engine's architecture, in an image FROM
# scratch that runs as a non-root user. Nothing is pulled: the binary is
# built on this host, so no registry is needed.
#
#   scripts/image.sh [TAG]        default swarmdeck:latest; DOCKER_HOST picks the engine
#
# The build context is made in a temporary folder: the Dockerfile at the
# root of the repository, and rootfs/ with /swarmdeck, /etc/passwd and
# /etc/group (user swarmdeck, 65532), /tmp (for the console's log) and
# this host's CA certificates when it has them (for Consul over TLS).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-swarmdeck:latest}
command -v docker >/dev/null || { echo "image: the docker CLI is needed" >&2; exit 1; }
arch=$(docker version --format '{{.Server.Arch}}')
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
OUT="$ctx/bin" scripts/release.sh "linux/$arch" >/dev/null
root="$ctx/rootfs"
mkdir -p "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$ctx/bin/swarmdeck-linux-$arch" "$root/swarmdeck"
printf 'root:x:0:0:root:/:/sbin/nologin\nswarmdeck:x:65532:65532:swarmdeck:/tmp:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nswarmdeck:x:65532:\n' > "$root/etc/group"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
cp Dockerfile "$ctx/"
# The CLI's BuildKit needs the buildx plugin; without it, the classic
# builder does the same job for an image this simple.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi
docker build -q -t "$TAG" "$ctx" >/dev/null
docker image inspect --format "$TAG {{.Size}} bytes, user {{.Config.User}}, {{.Os}}/{{.Architecture}}" "$TAG"
