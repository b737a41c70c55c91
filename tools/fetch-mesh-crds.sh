#!/usr/bin/env bash
# Copies one set of a mesh's CRDs (a row of tools/mesh-crds/modules.tsv) out of its Go module into
# .cache/mesh-crds/<set>/ and prints that directory. The module comes from the Go module proxy
# (`go mod download`, cached in Go's module cache); the copy is skipped when a stamp shows the same
# row was copied before. Used by test/support/mesh-crds.ts; see docs/testing-cluster.md.
#
# Usage: tools/fetch-mesh-crds.sh SET
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly TABLE="$REPO_ROOT/tools/mesh-crds/modules.tsv"
readonly SET=${1:?usage: tools/fetch-mesh-crds.sh SET (a name from tools/mesh-crds/modules.tsv)}

fail() {
  printf '[fetch-mesh-crds] ERROR: %s\n' "$*" >&2
  exit 1
}

row=$(awk -F'\t' -v set="$SET" '$1 == set { print; exit }' "$TABLE")
[[ -n $row ]] || fail "no set '$SET' in $TABLE; known: $(awk -F'\t' '!/^#/ && NF { printf "%s ", $1 }' "$TABLE")"
IFS=$'\t' read -r _ module version files <<<"$row"

readonly OUT_DIR="$REPO_ROOT/.cache/mesh-crds/$SET"
readonly STAMP="$OUT_DIR/.stamp"
if [[ -f $STAMP && $(cat "$STAMP") == "$row" ]]; then
  printf '%s\n' "$OUT_DIR"
  exit 0
fi

command -v go >/dev/null 2>&1 || fail "Go is not on PATH; it fetches $module@$version"
module_dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "$module@$version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[[ -n $module_dir && -d $module_dir ]] || fail "go mod download $module@$version gave no directory"

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
for path in $files; do
  source="$module_dir/$path"
  if [[ -d $source ]]; then
    find "$source" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' \) ! -name 'kustomization.yaml' \
      -exec cp {} "$OUT_DIR/" \;
  elif [[ -f $source ]]; then
    cp "$source" "$OUT_DIR/"
  else
    fail "$module@$version has no $path"
  fi
done
chmod -R u+w "$OUT_DIR"
printf '%s\n' "$row" >"$STAMP"
printf '%s\n' "$OUT_DIR"
