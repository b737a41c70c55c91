#!/usr/bin/env bash
# Builds the binaries of the test Kubernetes control plane into .cache/kube/bin/:
#   kube-apiserver, kube-controller-manager, kube-scheduler   (tools/kube, k8s.io/kubernetes)
#   kubectl, for the install test's `kubectl apply -k`        (tools/kube, k8s.io/kubernetes)
#   etcd                                                       (tools/etcd, go.etcd.io/etcd)
#   kwok, the simulated kubelet                                (tools/kwok, sigs.k8s.io/kwok)
# Versions are pinned by the go.mod/go.sum files in those directories; see docs/testing-cluster.md.
#
# The build is skipped when a stamp file shows that the binaries were built from the same
# go.mod/go.sum files, the same script and the same Go toolchain.
#
# Environment:
#   VIREO_KUBE_BIN_DIR   output directory (default: <repo>/.cache/kube/bin)
#   VIREO_BUILD_JOBS     parallel compile jobs (default: 2; the machines have 2 cores)
#   VIREO_FORCE_BUILD=1  rebuild even when the stamp matches
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BIN_DIR="${VIREO_KUBE_BIN_DIR:-$REPO_ROOT/.cache/kube/bin}"
readonly STAMP_FILE="$BIN_DIR/.build-stamp"
readonly JOBS="${VIREO_BUILD_JOBS:-2}"
readonly MIN_GO_MINOR=26

readonly KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
readonly ALL_BINARIES=("${KUBE_BINARIES[@]}" etcd kwok)
readonly MODULE_DIRS=(tools/kube tools/etcd tools/kwok)

START_SECONDS=$SECONDS

log() { printf '[build-control-plane +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }

fail() {
  printf '[build-control-plane] ERROR: %s\n' "$*" >&2
  exit 1
}

# ---- system packages -------------------------------------------------------------------------

APT_UPDATED=0

run_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || fail "'$*' needs root; run it yourself or allow passwordless sudo"
  else
    fail "'$*' needs root and sudo is not available; install the package by hand"
  fi
}

# Installs a Debian package only when the command it provides is missing; refreshes the package
# lists only when apt does not know the package yet (a fresh machine has empty lists).
ensure_command() {
  local command_name=$1 package=$2
  command -v "$command_name" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || fail "'$command_name' is missing and apt-get is not available: install '$package'"
  if [[ $APT_UPDATED -eq 0 ]] && ! apt-cache show "$package" >/dev/null 2>&1; then
    log "apt-get update (package lists do not know '$package')"
    run_as_root apt-get update -qq || fail "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $package (for '$command_name')"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
    || fail "apt-get install $package failed"
  command -v "$command_name" >/dev/null 2>&1 || fail "'$package' installed but '$command_name' is still not on PATH"
}

check_go() {
  command -v go >/dev/null 2>&1 \
    || fail "Go is not on PATH. Install Go 1.${MIN_GO_MINOR}+ (Debian's golang package is too old) and retry."
  local version minor
  version=$(go env GOVERSION)
  minor=$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$version")
  [[ $minor =~ ^[0-9]+$ && $minor -ge $MIN_GO_MINOR ]] \
    || fail "Go $version is too old: the pinned k8s.io/kubernetes needs Go 1.${MIN_GO_MINOR}+"
}

# ---- up-to-date check ------------------------------------------------------------------------

compute_stamp() {
  {
    go env GOVERSION GOOS GOARCH
    for dir in "${MODULE_DIRS[@]}"; do
      cat "$REPO_ROOT/$dir"/go.mod "$REPO_ROOT/$dir"/go.sum "$REPO_ROOT/$dir"/*.go 2>/dev/null
    done
    cat "${BASH_SOURCE[0]}"
  } | sha256sum | cut -d' ' -f1
}

binaries_up_to_date() {
  local expected=$1 binary
  [[ ${VIREO_FORCE_BUILD:-0} != 1 ]] || return 1
  [[ -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$expected" ]] || return 1
  for binary in "${ALL_BINARIES[@]}"; do
    [[ -x $BIN_DIR/$binary ]] || return 1
  done
}

# ---- build -----------------------------------------------------------------------------------

# go build from a module dir into `output` (a directory ending in / for several packages, or a
# file name). -mod=readonly: the committed go.sum must be complete, so a build never rewrites
# tracked files; -buildvcs=false: no git metadata needed (these modules sit inside Vireo's repo);
# GOTOOLCHAIN=local: never download another toolchain; CGO_ENABLED=0: static binaries, no C
# compiler needed.
go_build() {
  local module_dir=$1 ldflags=$2 output=$3
  shift 3
  local started=$SECONDS
  log "building $* (in $module_dir)"
  (
    cd "$REPO_ROOT/$module_dir"
    GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -p "$JOBS" -trimpath -ldflags="-s -w $ldflags" -o "$output" "$@"
  ) || fail "go build failed in $module_dir for: $* (see the compiler output above)"
  log "built $(printf '%s ' "$@")in $((SECONDS - started))s"
}

# The k8s.io/kubernetes version pinned in tools/kube/go.mod (single-line or block require).
pinned_kube_version() {
  awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' \
    "$REPO_ROOT/tools/kube/go.mod" | head -1
}

# Without these, the binaries report v0.0.0-master (`/version`, `kubectl version`), which
# confuses clients that check the server version.
kube_version_ldflags() {
  local pkg=k8s.io/component-base/version minor
  [[ $KUBE_VERSION =~ ^v1\.([0-9]+)\. ]] || fail "cannot read the k8s.io/kubernetes version from tools/kube/go.mod"
  minor=${BASH_REMATCH[1]}
  printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
    "$pkg" "$KUBE_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
}

main() {
  check_go
  KUBE_VERSION=$(pinned_kube_version)
  # openssl generates the cluster's certificates at test time (test/support/cluster.ts).
  ensure_command openssl openssl

  local stamp
  stamp=$(compute_stamp)
  if binaries_up_to_date "$stamp"; then
    log "up to date in $BIN_DIR (set VIREO_FORCE_BUILD=1 to rebuild)"
    return 0
  fi

  mkdir -p "$BIN_DIR"
  rm -f "$STAMP_FILE"
  log "building the test control plane into $BIN_DIR with $(go env GOVERSION), $JOBS jobs"
  go_build tools/kube "$(kube_version_ldflags)" "$BIN_DIR/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
  # etcd's main package is the root of its server module, which go would name "server".
  go_build tools/etcd "" "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
  go_build tools/kwok "" "$BIN_DIR/" sigs.k8s.io/kwok/cmd/kwok

  local binary
  for binary in "${ALL_BINARIES[@]}"; do
    [[ -x $BIN_DIR/$binary ]] || fail "the build finished but $BIN_DIR/$binary is missing"
  done
  printf '%s\n' "$stamp" >"$STAMP_FILE"
  log "done: $(cd "$BIN_DIR" && du -ch "${ALL_BINARIES[@]}" | tail -1 | cut -f1) of binaries in $BIN_DIR"
}

main "$@"
