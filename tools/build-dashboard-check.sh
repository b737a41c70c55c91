#!/usr/bin/env bash
# Builds dashboard-check (tools/dashboard-check: grafana-foundation-sdk's strict dashboard
# validator) into .cache/dashboard-check/bin, for test/helm/dashboards.test.ts. The module version
# is pinned by tools/dashboard-check/go.mod and go.sum; the build is skipped when a stamp shows
# the same sources, script and Go toolchain (tools/lib/go-tool.sh).
#
# Environment: VIREO_DASHBOARD_CHECK_BIN_DIR, the output directory (default:
# <repo>/.cache/dashboard-check/bin), and those of tools/lib/go-tool.sh (VIREO_BUILD_JOBS,
# VIREO_FORCE_BUILD).
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_DASHBOARD_CHECK_BIN_DIR:-$REPO_ROOT/.cache/dashboard-check/bin}"
readonly MODULE_DIR="$REPO_ROOT/tools/dashboard-check"
source "$REPO_ROOT/tools/lib/go-tool.sh"

build_go_tool dashboard-check "$MODULE_DIR" . "$BIN_DIR" "$MODULE_DIR"/*.go "$REPO_ROOT/tools/lib/go-tool.sh"
