#!/usr/bin/env bash
# Builds dashboard-check (tools/dashboard-check: grafana-foundation-sdk's strict dashboard
# validator) into .cache/dashboard-check/bin, for test/helm/dashboards.test.ts. The module version
# is pinned by tools/dashboard-check/go.mod and go.sum; the build is skipped when a stamp shows
# the same sources, script and Go toolchain (as tools/build-control-plane.sh).
#
# Environment:
#   VIREO_DASHBOARD_CHECK_BIN_DIR  output directory (default: <repo>/.cache/dashboard-check/bin)
#   VIREO_BUILD_JOBS               parallel compile jobs (default: 2)
#   VIREO_FORCE_BUILD=1            rebuild even when the stamp matches
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_DASHBOARD_CHECK_BIN_DIR:-$REPO_ROOT/.cache/dashboard-check/bin}"
readonly STAMP_FILE="$BIN_DIR/.build-stamp"
readonly MODULE_DIR="$REPO_ROOT/tools/dashboard-check"
readonly JOBS="${VIREO_BUILD_JOBS:-2}"

START_SECONDS=$SECONDS
log() { printf '[build-dashboard-check +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }
fail() {
  printf '[build-dashboard-check] ERROR: %s\n' "$*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || fail "Go is not on PATH: install Go 1.26+ and retry"
stamp=$({ go env GOVERSION GOOS GOARCH; cat "$MODULE_DIR"/go.mod "$MODULE_DIR"/go.sum "$MODULE_DIR"/*.go "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1)
if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$stamp" && -x $BIN_DIR/dashboard-check ]]; then
  log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
  exit 0
fi
mkdir -p "$BIN_DIR"
rm -f "$STAMP_FILE"
log "building dashboard-check into $BIN_DIR with $(go env GOVERSION), $JOBS jobs"
(
  cd "$MODULE_DIR"
  GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
    go build -p "$JOBS" -trimpath -ldflags="-s -w" -o "$BIN_DIR/dashboard-check" .
) || fail "go build failed in tools/dashboard-check (see the compiler output above)"
printf '%s\n' "$stamp" >"$STAMP_FILE"
log "built in $((SECONDS - START_SECONDS))s"
