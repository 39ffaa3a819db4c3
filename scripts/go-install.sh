#!/usr/bin/env bash
# `go install PACKAGE@VERSION` of a Go tool from the Go module proxy into OUT, shared by
# build-helm.sh and build-krew.sh (their callers pass what differs):
#   go-install.sh NAME PACKAGE VERSION OUT CALLER [LDFLAG...]
# Like tests/controlplane/build.sh, the binary is reused while a hash of its inputs (the version,
# the calling script and this one, the Go toolchain) is unchanged; progress goes to stderr;
# concurrent callers wait on a lock. The tool builds with its own go.mod and go.sum, checked
# against the Go checksum database, so nothing but the module proxy is needed.
set -euo pipefail

name=$1
package=$2
version=$3
out=$4
caller=$5
shift 5

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

say() { printf '%s build: %s\n' "$name" "$*" >&2; }
# shellcheck source=lib/go-build.sh
source "$here/lib/go-build.sh"

if ! command -v go >/dev/null 2>&1; then
  say "the Go toolchain is required (go 1.24 or newer on PATH) to build $name"
  exit 1
fi

inputs_hash() {
  (
    printf '%s %s\n' "$package" "$version"
    cat "$caller" "$here/go-install.sh" "$here/lib/go-build.sh"
    go version
    go env GOOS GOARCH CGO_ENABLED
  ) | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
go_build_lock "$out" "$hash"

say "building $name $version from Go modules (the first time downloads its modules)…"
work="$out.work.$$"
tmpbin="$work/bin"
trap 'rm -rf "$work"' EXIT
mkdir -p "$tmpbin"

jobs=${CONTROLPLANE_BUILD_JOBS:-2}
ldflags="-s -w"
for flag in "$@"; do ldflags+=" $flag"; done

# `go install -v` names each package as it compiles it: a coarse progress report.
say "downloading and compiling with -p $jobs…"
install_tool() {
  cd "$work" && GOBIN="$tmpbin" GOFLAGS=-buildvcs=false GO111MODULE=on \
    go install -p "$jobs" -trimpath -v -ldflags "$ldflags" "$package@$version"
}
if ! go_build_progress "" install_tool; then
  say "go install failed after $(go_build_elapsed)"
  exit 1
fi
mv -f "$tmpbin/$(basename "$package")" "$out"
printf '%s\n' "$hash" >"$out.inputs"
say "built $out ($version) in $(go_build_elapsed)"
