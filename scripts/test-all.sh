#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what the tests need
# (Debian packages, the Kubernetes control plane built from Go modules, npm dependencies),
# builds, lints and runs every suite. Each step is cached and skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd, kwok)"
bash tools/build-control-plane.sh

step "npm dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date"
fi

step "build"
npm run build

step "lint and format check"
npm run lint

step "tests: unit, property, cluster"
npm test

printf '\nall done in %ss\n' "$((SECONDS - started))"
