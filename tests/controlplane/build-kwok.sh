#!/usr/bin/env bash
# Builds KWOK (sigs.k8s.io/kwok, see kwok/main.go) into .dev/bin/kwok, or the path given as $1: the
# fake kubelet that gives the local control plane's pods real exec, attach, port-forward and logs.
# Its own binary, next to .dev/bin/controlplane (build.sh): KWOK v0.8.0 needs k8s.io modules
# v0.36.x, the kube-apiserver is built from v0.34.x. Like build.sh, it reuses the binary while a
# hash of its inputs (kwok/go.mod, kwok/go.sum, kwok/*.go, kwok/patches/*.patch, this script, the
# Go toolchain) is unchanged; progress goes to stderr; concurrent callers wait on a lock.
#
# kwok/patches/*.patch are applied to a copy of KWOK's sources ($out.src), which a Go workspace
# puts in place of the module for this build (the module cache stays untouched): exit codes and
# stdin end-of-file for exec, and client-certificate-only serving. Next to the binary, $out.d/ receives KWOK's CRDs and its "fast" node and pod stages,
# copied from the same module version.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$here/kwok
root=$(cd "$here/../.." && pwd)
out=${1:-$root/.dev/bin/kwok}
mkdir -p "$(dirname "$out")"

say() { printf 'kwok build: %s\n' "$*" >&2; }
lib=$here/../../scripts/lib/go-build.sh
# shellcheck source=../../scripts/lib/go-build.sh
source "$lib"

if ! command -v go >/dev/null 2>&1; then
  say "the Go toolchain is required (go 1.26 or newer on PATH, or GOTOOLCHAIN=auto) to build KWOK"
  exit 1
fi

kwok_version=$(awk '$1 == "sigs.k8s.io/kwok" && $2 ~ /^v/ { print $2; exit }' "$src/go.mod")
if [[ ! $kwok_version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  say "cannot read the sigs.k8s.io/kwok version from $src/go.mod"
  exit 1
fi

inputs_hash() {
  (
    cd "$src"
    cat go.mod go.sum "$here/build-kwok.sh" "$lib"
    for f in *.go patches/*.patch; do printf '%s\n' "$f"; cat "$f"; done
    go version
    go env GOOS GOARCH CGO_ENABLED
  ) | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
data="$out.d"
go_build_lock "$out" "$hash" "$data"

if [[ -x $out ]]; then
  say "inputs changed: rebuilding KWOK $kwok_version (incremental, usually under a minute)…"
else
  say "building KWOK $kwok_version from Go modules (first time takes a few minutes)…"
fi
cd "$src"
say "resolving Go modules (a cold machine downloads about 50 MB from the module proxy)…"
total=$(go list -deps . | wc -l)
module_dir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)

tmp="$out.tmp.$$"
work="$out.work.$$"
trap 'rm -rf "$tmp" "$work"' EXIT
mkdir -p "$work/data/crds" "$work/data/stages"

# KWOK's sources, patched, in $src_copy (a stable path, so the Go build cache is reused); a Go
# workspace replaces the module with it for this build only.
src_copy="$out.src"
rm -rf "$src_copy"
cp -r "$module_dir" "$src_copy"
chmod -R u+w "$src_copy"
for p in patches/*.patch; do
  if ! patch --quiet --no-backup-if-mismatch -p1 -d "$src_copy" <"$p"; then
    say "$p does not apply to sigs.k8s.io/kwok $kwok_version"
    exit 1
  fi
done
printf 'go 1.26.0\n\nuse %s\n\nreplace sigs.k8s.io/kwok %s => %s\n' "$src" "$kwok_version" "$src_copy" >"$work/go.work"

for kind in clusterexecs clusterattaches clusterlogs clusterportforwards; do
  cp "$module_dir/kustomize/crd/bases/kwok.x-k8s.io_$kind.yaml" "$work/data/crds/"
done
cp "$module_dir"/kustomize/stage/node/fast/node-initialize.yaml "$module_dir"/kustomize/stage/pod/fast/pod-*.yaml "$work/data/stages/"
chmod -R u+w "$work/data"

jobs=${CONTROLPLANE_BUILD_JOBS:-2}
say "compiling up to $total packages with -p $jobs ($(go_build_elapsed) so far)…"
ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}"

# `go build -v` names each package as it compiles it: a coarse progress report.
if ! go_build_progress "$total" env GOWORK="$work/go.work" go build -p "$jobs" -trimpath -buildvcs=false -v -ldflags "$ldflags" -o "$tmp" .; then
  say "go build failed after $(go_build_elapsed)"
  exit 1
fi
rm -rf "$data"
mv "$work/data" "$data"
mv -f "$tmp" "$out"
printf '%s\n' "$hash" >"$out.inputs"
say "built $out in $(go_build_elapsed)"
