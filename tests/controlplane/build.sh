#!/usr/bin/env bash
# Builds the local control plane (embedded etcd + kube-apiserver, see main.go) into
# .dev/bin/controlplane, or the path given as $1. The binary is reused while a hash of its inputs
# (go.mod, go.sum, *.go, this script, the Go toolchain) is unchanged, so only the first run pays
# the several-minute compile. Progress goes to stderr; concurrent callers wait on a lock.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/.dev/bin/controlplane}
mkdir -p "$(dirname "$out")"

say() { printf 'controlplane build: %s\n' "$*" >&2; }
lib=$root/scripts/lib/go-build.sh
# shellcheck source=../../scripts/lib/go-build.sh
source "$lib"

if ! command -v go >/dev/null 2>&1; then
  say "the Go toolchain is required (go 1.24 or newer on PATH) to build kube-apiserver"
  exit 1
fi

# The Kubernetes version the binary reports is the module version it is built from.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")
if [[ ! $k8s_version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
  say "cannot read the k8s.io/kubernetes version from $here/go.mod"
  exit 1
fi
major=${BASH_REMATCH[1]}
minor=${BASH_REMATCH[2]}

inputs_hash() {
  (
    cd "$here"
    cat go.mod go.sum build.sh "$lib"
    for f in *.go; do printf '%s\n' "$f"; cat "$f"; done
    go version
    go env GOOS GOARCH CGO_ENABLED
  ) | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
go_build_lock "$out" "$hash"

if [[ -x $out ]]; then
  say "inputs changed: rebuilding kube-apiserver $k8s_version (incremental, usually under a minute)…"
else
  say "building kube-apiserver $k8s_version from Go modules (first time takes several minutes)…"
fi
cd "$here"
say "resolving Go modules (a cold machine downloads about 500 MB from the module proxy)…"
total=$(go list -deps . | wc -l)
say "compiling up to $total packages with -p ${CONTROLPLANE_BUILD_JOBS:-2} ($(go_build_elapsed) so far)…"

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
ldflags="-s -w"
ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=$major"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"
ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=$major"
ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"

# `go build -v` names each package as it compiles it: a coarse progress report.
if ! go_build_progress "$total" go build -p "${CONTROLPLANE_BUILD_JOBS:-2}" -trimpath -buildvcs=false -v -ldflags "$ldflags" -o "$tmp" .; then
  say "go build failed after $(go_build_elapsed)"
  exit 1
fi
mv -f "$tmp" "$out"
printf '%s\n' "$hash" >"$out.inputs"
say "built $out in $(go_build_elapsed)"
