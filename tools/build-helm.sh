#!/usr/bin/env bash
# Builds helm for the chart tests (test/helm/) into .cache/helm/bin/:
#   helm    helm 4, from helm.sh/helm/v4 pinned by tools/helm/go.mod and go.sum
#   helm3   helm 3, from helm.sh/helm/v3 pinned by tools/helm3/go.mod and go.sum
# (see docs/testing-cluster.md).
#
# Skipped when a stamp file shows that the binaries were built from the same go.mod/go.sum, the
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
readonly MODULE_DIRS=("$REPO_ROOT/tools/helm" "$REPO_ROOT/tools/helm3")
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
  [[ $minor =~ ^[0-9]+$ && $minor -ge $MIN_GO_MINOR ]] || fail "Go $version is too old: tools/helm*/go.mod need Go 1.${MIN_GO_MINOR}+"
}

compute_stamp() {
  {
    go env GOVERSION GOOS GOARCH
    local dir
    for dir in "${MODULE_DIRS[@]}"; do cat "$dir/go.mod" "$dir/go.sum"; done
    cat "${BASH_SOURCE[0]}"
  } | sha256sum | cut -d' ' -f1
}

# The version of module $2 pinned in $1/go.mod, for `helm version`.
pinned_version() {
  awk -v module="$2" '$1 == module { print $2 }' "$1/go.mod" | head -1
}

# build_helm MODULE_DIR MAJOR OUTPUT: one helm, with its version stamped in.
build_helm() {
  local module_dir=$1 major=$2 output=$3 version started
  version=$(pinned_version "$module_dir" "helm.sh/helm/$major")
  [[ $version =~ ^$major\. ]] || fail "cannot read the helm.sh/helm/$major version from $module_dir/go.mod"
  # helm 3 defaults `helm template` and `helm lint` to Kubernetes 1.20 unless told the version of
  # its client-go at link time (as helm's own release build does); helm 4 reads it at run time.
  local ldflags="-X helm.sh/helm/$major/internal/version.version=$version" client_go minor package
  if [[ $major == v3 ]]; then
    client_go=$(pinned_version "$module_dir" k8s.io/client-go)
    [[ $client_go =~ ^v0\.([0-9]+)\. ]] || fail "cannot read the k8s.io/client-go version from $module_dir/go.mod"
    minor=${BASH_REMATCH[1]}
    for package in pkg/chartutil pkg/lint/rules; do
      ldflags+=" -X helm.sh/helm/v3/$package.k8sVersionMajor=1 -X helm.sh/helm/v3/$package.k8sVersionMinor=$minor"
    done
  fi
  started=$SECONDS
  log "building helm $version into $output with $(go env GOVERSION), $JOBS jobs"
  # -mod=readonly: the committed go.sum must be complete; GOTOOLCHAIN=local: never download a
  # toolchain; CGO_ENABLED=0: a static binary, no C compiler needed.
  (
    cd "$module_dir"
    GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -p "$JOBS" -trimpath \
      -ldflags="-s -w $ldflags" \
      -o "$output" "helm.sh/helm/$major/cmd/helm"
  ) || fail "go build failed in $module_dir (see the compiler output above)"
  "$output" version --short >/dev/null || fail "the built $output does not run"
  log "built $("$output" version --short) in $((SECONDS - started))s"
}

main() {
  check_go
  local stamp
  stamp=$(compute_stamp)
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$stamp" && -x $BIN_DIR/helm && -x $BIN_DIR/helm3 ]]; then
    log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
    return 0
  fi
  mkdir -p "$BIN_DIR"
  rm -f "$STAMP_FILE"
  build_helm "$REPO_ROOT/tools/helm" v4 "$BIN_DIR/helm"
  build_helm "$REPO_ROOT/tools/helm3" v3 "$BIN_DIR/helm3"
  printf '%s\n' "$stamp" >"$STAMP_FILE"
}

main "$@"
