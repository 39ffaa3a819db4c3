#!/usr/bin/env bash
# Builds krew (sigs.k8s.io/krew, from the Go module proxy) into .dev/bin/krew, or the path given as
# $1, for the release test (tests/e2e/release.test.ts installs the krew archive with it; about 20 s
# cold; cached afterwards: scripts/go-install.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=v0.4.3 # the newest version on the Go module proxy
exec bash "$here/go-install.sh" krew sigs.k8s.io/krew/cmd/krew "$version" "${1:-$here/../.dev/bin/krew}" "$here/build-krew.sh" \
  "-X sigs.k8s.io/krew/internal/version.gitTag=$version"
