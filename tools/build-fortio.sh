#!/usr/bin/env bash
# Builds fortio (Istio's load generator) into .cache/fortio/bin, for the fixed-rate pass of the
# router benchmark (bench/proxy.ts, `npm run bench:router`; docs/adr/0037-router-latency-at-a-fixed-rate.md).
# The version is pinned by tools/fortio/go.mod and go.sum: v1.68.2, the newest whose dependencies
# the Go module proxy serves here (from v1.69 fortio needs grol.io/grol, which it refuses). The
# build is skipped when a stamp shows the same sources, script and Go toolchain (as
# tools/build-control-plane.sh).
#
# Environment:
#   VIREO_FORTIO_BIN_DIR  output directory (default: <repo>/.cache/fortio/bin)
#   VIREO_BUILD_JOBS      parallel compile jobs (default: 2)
#   VIREO_FORCE_BUILD=1   rebuild even when the stamp matches
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_FORTIO_BIN_DIR:-$REPO_ROOT/.cache/fortio/bin}"
readonly STAMP_FILE="$BIN_DIR/.build-stamp"
readonly MODULE_DIR="$REPO_ROOT/tools/fortio"
readonly JOBS="${VIREO_BUILD_JOBS:-2}"

START_SECONDS=$SECONDS
log() { printf '[build-fortio +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }
fail() {
  printf '[build-fortio] ERROR: %s\n' "$*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || fail "Go is not on PATH: install Go 1.26+ and retry"
stamp=$({ go env GOVERSION GOOS GOARCH; cat "$MODULE_DIR"/go.mod "$MODULE_DIR"/go.sum "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1)
if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$stamp" && -x $BIN_DIR/fortio ]]; then
  log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
  exit 0
fi
mkdir -p "$BIN_DIR"
rm -f "$STAMP_FILE"
log "building fortio into $BIN_DIR with $(go env GOVERSION), $JOBS jobs"
(
  cd "$MODULE_DIR"
  GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
    go build -p "$JOBS" -trimpath -ldflags="-s -w" -o "$BIN_DIR/fortio" fortio.org/fortio
) || fail "go build failed in tools/fortio (see the compiler output above)"
"$BIN_DIR/fortio" version >/dev/null || fail "the built $BIN_DIR/fortio does not run"
printf '%s\n' "$stamp" >"$STAMP_FILE"
log "built fortio $("$BIN_DIR/fortio" version) in $((SECONDS - START_SECONDS))s"
