#!/usr/bin/env bash
# Builds Contour's control plane into .cache/contour/bin/contour for the contour router's cluster
# test (test/cluster/contour-router.test.ts): run out of cluster against the test API server, it
# marks each HTTPProxy `valid` or `invalid` in its status (docs/testing-cluster.md). The version is
# pinned by tools/contour/go.mod and go.sum (github.com/projectcontour/contour).
#
# Skipped when a stamp file shows that the binary was built from the same go.mod/go.sum, the same
# script and the same Go toolchain; the same scheme as tools/build-helm.sh.
#
# Environment:
#   VIREO_CONTOUR_BIN_DIR  output directory (default: <repo>/.cache/contour/bin)
#   VIREO_BUILD_JOBS       parallel compile jobs (default: 2; the machines have 2 cores)
#   VIREO_FORCE_BUILD=1    rebuild even when the stamp matches
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_CONTOUR_BIN_DIR:-$REPO_ROOT/.cache/contour/bin}"
readonly STAMP_FILE="$BIN_DIR/.build-stamp"
readonly JOBS="${VIREO_BUILD_JOBS:-2}"
readonly MODULE_DIR="$REPO_ROOT/tools/contour"
readonly MIN_GO_MINOR=26

START_SECONDS=$SECONDS
log() { printf '[build-contour +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }
fail() {
  printf '[build-contour] ERROR: %s\n' "$*" >&2
  exit 1
}

check_go() {
  command -v go >/dev/null 2>&1 || fail "Go is not on PATH. Install Go 1.${MIN_GO_MINOR}+ and retry."
  local version minor
  version=$(go env GOVERSION)
  minor=$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$version")
  [[ $minor =~ ^[0-9]+$ && $minor -ge $MIN_GO_MINOR ]] || fail "Go $version is too old: tools/contour/go.mod needs Go 1.${MIN_GO_MINOR}+"
}

compute_stamp() {
  {
    go env GOVERSION GOOS GOARCH
    cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" "${BASH_SOURCE[0]}"
  } | sha256sum | cut -d' ' -f1
}

main() {
  check_go
  local stamp
  stamp=$(compute_stamp)
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$stamp" && -x $BIN_DIR/contour ]]; then
    log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
    return 0
  fi
  mkdir -p "$BIN_DIR"
  rm -f "$STAMP_FILE"
  local version
  version=$(awk '$1 == "github.com/projectcontour/contour" { print $2 }' "$MODULE_DIR/go.mod" | head -1)
  [[ $version =~ ^v1\. ]] || fail "cannot read the github.com/projectcontour/contour version from $MODULE_DIR/go.mod"
  log "building contour $version into $BIN_DIR with $(go env GOVERSION), $JOBS jobs (several minutes when cold)"
  # -mod=readonly: the committed go.sum must be complete; GOTOOLCHAIN=local: never download a
  # toolchain; CGO_ENABLED=0: a static binary, no C compiler needed.
  (
    cd "$MODULE_DIR"
    GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -p "$JOBS" -trimpath -ldflags="-s -w" \
      -o "$BIN_DIR/contour" github.com/projectcontour/contour/cmd/contour
  ) || fail "go build failed in $MODULE_DIR (see the compiler output above)"
  "$BIN_DIR/contour" version >/dev/null 2>&1 || "$BIN_DIR/contour" --help >/dev/null 2>&1 \
    || fail "the built $BIN_DIR/contour does not run"
  log "built contour $version"
  printf '%s\n' "$stamp" >"$STAMP_FILE"
}

main "$@"
