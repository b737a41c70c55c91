#!/usr/bin/env bash
# Builds helm, for the chart tests (test/helm/), into .cache/helm/bin/helm from the
# helm.sh/helm/v4 module pinned by tools/helm/go.mod and go.sum (see docs/testing-cluster.md).
#
# Skipped when a stamp file shows that the binary was built from the same go.mod/go.sum, the
# same script and the same Go toolchain; the same scheme as tools/build-control-plane.sh.
#
# Environment:
#   VIREO_HELM_BIN_DIR   output directory (default: <repo>/.cache/helm/bin)
#   VIREO_BUILD_JOBS     parallel compile jobs (default: 2; the machines have 2 cores)
#   VIREO_FORCE_BUILD=1  rebuild even when the stamp matches
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_HELM_BIN_DIR:-$REPO_ROOT/.cache/helm/bin}"
readonly STAMP_FILE="$BIN_DIR/.build-stamp"
readonly JOBS="${VIREO_BUILD_JOBS:-2}"
readonly MODULE_DIR="$REPO_ROOT/tools/helm"
readonly MIN_GO_MINOR=26

START_SECONDS=$SECONDS
log() { printf '[build-helm +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }
fail() {
  printf '[build-helm] ERROR: %s\n' "$*" >&2
  exit 1
}

check_go() {
  command -v go >/dev/null 2>&1 || fail "Go is not on PATH. Install Go 1.${MIN_GO_MINOR}+ and retry."
  local version minor
  version=$(go env GOVERSION)
  minor=$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$version")
  [[ $minor =~ ^[0-9]+$ && $minor -ge $MIN_GO_MINOR ]] || fail "Go $version is too old: tools/helm/go.mod needs Go 1.${MIN_GO_MINOR}+"
}

compute_stamp() {
  { go env GOVERSION GOOS GOARCH; cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1
}

# The helm.sh/helm/v4 version pinned in tools/helm/go.mod, for `helm version`.
pinned_helm_version() {
  awk '$1 == "helm.sh/helm/v4" { print $2 }' "$MODULE_DIR/go.mod" | head -1
}

main() {
  check_go
  local stamp version started
  stamp=$(compute_stamp)
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$stamp" && -x $BIN_DIR/helm ]]; then
    log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
    return 0
  fi
  version=$(pinned_helm_version)
  [[ $version =~ ^v4\. ]] || fail "cannot read the helm.sh/helm/v4 version from tools/helm/go.mod"
  mkdir -p "$BIN_DIR"
  rm -f "$STAMP_FILE"
  started=$SECONDS
  log "building helm $version into $BIN_DIR with $(go env GOVERSION), $JOBS jobs"
  # -mod=readonly: the committed go.sum must be complete; GOTOOLCHAIN=local: never download a
  # toolchain; CGO_ENABLED=0: a static binary, no C compiler needed.
  (
    cd "$MODULE_DIR"
    GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -p "$JOBS" -trimpath \
      -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version" \
      -o "$BIN_DIR/helm" helm.sh/helm/v4/cmd/helm
  ) || fail "go build failed in tools/helm (see the compiler output above)"
  "$BIN_DIR/helm" version --short >/dev/null || fail "the built helm does not run"
  printf '%s\n' "$stamp" >"$STAMP_FILE"
  log "built $("$BIN_DIR/helm" version --short) in $((SECONDS - started))s"
}

main "$@"
