# Shared by the tools/build-*.sh scripts that build one Go tool pinned by a go.mod under tools/:
# the binary is rebuilt only when the stamp (Go toolchain, go.mod, go.sum, the calling script and
# any extra files) changed, the scheme of tools/build-control-plane.sh. Source it, then call
#   build_go_tool NAME MODULE_DIR PACKAGE BIN_DIR [EXTRA_STAMP_FILE ...]
# which builds PACKAGE (a main package of MODULE_DIR's module, or `.`) into BIN_DIR/NAME.
#
# Environment:
#   VIREO_BUILD_JOBS     parallel compile jobs (default: 2; the machines have 2 cores)
#   VIREO_FORCE_BUILD=1  rebuild even when the stamp matches

build_go_tool() {
  local name=$1 module_dir=$2 package=$3 bin_dir=$4
  shift 4
  local started=$SECONDS jobs=${VIREO_BUILD_JOBS:-2} stamp_file="$bin_dir/.build-stamp" stamp
  log() { printf '[build-%s +%ss] %s\n' "$name" "$((SECONDS - started))" "$*"; }
  fail() {
    printf '[build-%s] ERROR: %s\n' "$name" "$*" >&2
    exit 1
  }
  command -v go >/dev/null 2>&1 || fail "Go is not on PATH: install Go 1.26+ and retry"
  stamp=$({ go env GOVERSION GOOS GOARCH; cat "$module_dir/go.mod" "$module_dir/go.sum" "$0" "$@"; } | sha256sum | cut -d' ' -f1)
  if [[ ${VIREO_FORCE_BUILD:-0} != 1 && -f $stamp_file && $(cat "$stamp_file") == "$stamp" && -x $bin_dir/$name ]]; then
    log "up to date in $bin_dir (set VIREO_FORCE_BUILD=1 to rebuild)"
    return 0
  fi
  mkdir -p "$bin_dir"
  rm -f "$stamp_file"
  log "building $name into $bin_dir with $(go env GOVERSION), $jobs jobs"
  # -mod=readonly: the committed go.sum must be complete; GOTOOLCHAIN=local: never download a
  # toolchain; CGO_ENABLED=0: a static binary, no C compiler needed.
  (
    cd "$module_dir"
    GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}" GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -p "$jobs" -trimpath -ldflags="-s -w" -o "$bin_dir/$name" "$package"
  ) || fail "go build failed in $module_dir (see the compiler output above)"
  printf '%s\n' "$stamp" >"$stamp_file"
  log "built in $((SECONDS - started))s"
}
