#!/usr/bin/env bash
# Builds swarmdeck's release binaries: static (CGO_ENABLED=0), stripped,
# with the version and commit stamped from git by the Go toolchain, and
# their SHA-256 sums.
#
#   scripts/release.sh                      linux/amd64 and linux/arm64 into dist/
#   scripts/release.sh linux/arm64 …        only these platforms
#   OUT=/some/dir scripts/release.sh        elsewhere
#
# Writes OUT/swarmdeck-OS-ARCH and OUT/SHA256SUMS (check with
# `cd dist && sha256sum -c SHA256SUMS`). Build from a git clone: Go does
# not stamp the commit in a `git worktree`, whose .git is a file.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-dist}
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(linux/amd64 linux/arm64)
if [ ! -d .git ]; then
  echo "release: warning: $(pwd)/.git is not a folder: the binaries will say 'commit unknown' (build from a git clone)" >&2
fi
mkdir -p "$OUT"
bins=()
for p in "${platforms[@]}"; do
  os=${p%/*} arch=${p#*/}
  case "$p" in */*) ;; *) echo "release: platform '$p': want OS/ARCH, such as linux/arm64" >&2; exit 2 ;; esac
  bin="swarmdeck-$os-$arch"
  # GOFLAGS is cleared so that a -buildvcs=false in the environment cannot
  # drop the version stamp.
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS= go build -trimpath -buildvcs=auto -ldflags "-s -w" -o "$OUT/$bin" .
  bins+=("$bin")
done
(cd "$OUT" && sha256sum "${bins[@]}" > SHA256SUMS && cat SHA256SUMS)
