#!/usr/bin/env bash
# Builds fortio (Istio's load generator) into .cache/fortio/bin, for the fixed-rate pass of the
# router benchmark (bench/proxy.ts, `npm run bench:router`; docs/adr/0037-router-latency-at-a-fixed-rate.md).
# The version is pinned by tools/fortio/go.mod and go.sum: v1.68.2, the newest whose dependencies
# the Go module proxy serves here (from v1.69 fortio needs grol.io/grol, which it refuses).
#
# Environment: VIREO_FORTIO_BIN_DIR, the output directory (default: <repo>/.cache/fortio/bin), and
# those of tools/lib/go-tool.sh (VIREO_BUILD_JOBS, VIREO_FORCE_BUILD).
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_FORTIO_BIN_DIR:-$REPO_ROOT/.cache/fortio/bin}"
source "$REPO_ROOT/tools/lib/go-tool.sh"

build_go_tool fortio "$REPO_ROOT/tools/fortio" fortio.org/fortio "$BIN_DIR" "$REPO_ROOT/tools/lib/go-tool.sh"
"$BIN_DIR/fortio" version >/dev/null || fail "the built $BIN_DIR/fortio does not run"
