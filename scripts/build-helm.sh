#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v3, from the Go module proxy) into .dev/bin/helm, or the path given as
# $1, for the chart's tests (helm lint, helm template, helm install into the local control plane).
# Cold: about 3 min and 0.9 GB on two cores; cached afterwards (scripts/go-install.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=v3.22.0
exec bash "$here/go-install.sh" helm helm.sh/helm/v3/cmd/helm "$version" "${1:-$here/../.dev/bin/helm}" "$here/build-helm.sh" \
  "-X helm.sh/helm/v3/internal/version.version=$version" "-X helm.sh/helm/v3/internal/version.gitTreeState=clean"
