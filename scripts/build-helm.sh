#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v3, from the Go module proxy) into .dev/bin/helm, or the path given as
# $1, for the chart's tests (helm lint, helm template, helm install into the local control plane).
# Like tests/controlplane/build.sh, the binary is reused while a hash of its inputs (the version
# pinned below, this script, the Go toolchain) is unchanged; progress goes to stderr; concurrent
# callers wait on a lock. `go install module@version` builds with helm's own go.mod and go.sum,
# checked against the Go checksum database, so nothing but the module proxy is needed.
set -euo pipefail

helm_version=v3.22.0

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$root/.dev/bin/helm}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

say() { printf 'helm build: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  say "the Go toolchain is required (go 1.24 or newer on PATH) to build helm"
  exit 1
fi

inputs_hash() {
  (
    printf '%s\n' "$helm_version"
    cat "$here/build-helm.sh"
    go version
    go env GOOS GOARCH CGO_ENABLED
  ) | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
stamp="$out.inputs"
if [[ -x $out && -f $stamp && $(cat "$stamp") == "$hash" ]]; then
  exit 0
fi

exec 9>"$out.lock"
if ! flock -n 9; then
  say "another build is running, waiting for it"
  flock 9
  if [[ -x $out && -f $stamp && $(cat "$stamp") == "$hash" ]]; then
    exit 0
  fi
fi

start=$(date +%s)
elapsed() { local s=$(($(date +%s) - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

say "building helm $helm_version from Go modules (first time takes a few minutes)…"
work="$out.work.$$"
tmpbin="$work/bin"
trap 'rm -rf "$work"' EXIT
mkdir -p "$tmpbin"

jobs=${CONTROLPLANE_BUILD_JOBS:-2}
ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=$helm_version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"

# `go install -v` names each package as it compiles it: turn that into a coarse progress report.
say "downloading and compiling with -p $jobs (a cold machine downloads about 100 MB from the module proxy)…"
count=0
status=1
last=$(date +%s)
while IFS= read -r line; do
  if [[ $line == "__exit "* ]]; then
    status=${line#__exit } # go install's own exit status, appended below
    continue
  fi
  if [[ $line == *" "* || $line == *:* ]]; then
    printf '%s\n' "$line" >&2 # download, compiler or linker message, not a package name
    continue
  fi
  count=$((count + 1))
  now=$(date +%s)
  if ((now - last >= 20)); then
    say "compiled $count packages ($(elapsed))…"
    last=$now
  fi
done < <(cd "$work" && GOBIN="$tmpbin" GOFLAGS=-buildvcs=false GO111MODULE=on \
  go install -p "$jobs" -trimpath -v -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$helm_version" 2>&1; echo "__exit $?")
if [[ $status != 0 ]]; then
  say "go install failed (exit $status) after $(elapsed)"
  exit 1
fi
mv -f "$tmpbin/helm" "$out"
printf '%s\n' "$hash" >"$stamp"
say "built $out ($("$out" version --short)) in $(elapsed)"
