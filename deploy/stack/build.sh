# shellcheck shell=bash
# deploy/stack.sh's builds: the C tree with CMake, and the Go programs the stack runs (the FerretDB
# launcher, the provider test doubles, the deployment file checker). Sourced by deploy/stack.sh.

# Sets GO (a go command) and GO_ENV (environment for it) to a toolchain that can build FerretDB 1.24.
find_go() {
  GO=$(command -v go || true)
  if [[ -z $GO && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
  if [[ -z $GO ]]; then
    apt_install golang-go
    GO=/usr/bin/go
  fi
  GO_ENV=()
  local version minor
  version=$("$GO" env GOVERSION)
  if [[ ! $version =~ go1\.([0-9]+) ]]; then return 0; fi # a development build: assume it is new
  minor=${BASH_REMATCH[1]}
  if ((minor >= 24)); then
    return 0
  elif ((minor >= 21)); then
    # Go 1.21+ fetches the pinned toolchain from the module proxy by itself.
    GO_ENV=("GOTOOLCHAIN=${GOTOOLCHAIN:-$GO_PINNED_TOOLCHAIN}")
  else
    # Debian 12's golang-go is 1.19, which predates GOTOOLCHAIN; fetch the toolchain module from
    # the proxy ourselves and run its go. Module zips drop the executable bits; put them back.
    say "Go $version is too old for FerretDB 1.24; fetching $GO_PINNED_TOOLCHAIN through the module proxy"
    local tmp dir
    tmp=$(mktemp -d)
    dir=$(cd "$tmp" && "$GO" mod download -json \
      "golang.org/toolchain@v0.0.1-$GO_PINNED_TOOLCHAIN.$("$GO" env GOOS)-$("$GO" env GOARCH)" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    rmdir "$tmp"
    [[ -n $dir && -f $dir/bin/go ]] || die "could not download the Go toolchain $GO_PINNED_TOOLCHAIN"
    chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
    GO=$dir/bin/go
  fi
}

# Builds the FerretDB launcher when it is missing or older than its sources.
build_ferretdb() {
  local src stale=""
  [[ -x $FERRETDB_BIN ]] || stale=1
  for src in "$FERRETDB_SRC"/*.go "$FERRETDB_SRC"/go.mod "$FERRETDB_SRC"/go.sum; do
    if [[ $src -nt $FERRETDB_BIN ]]; then stale=1; fi
  done
  [[ -n $stale ]] || return 0
  find_go
  say "building the FerretDB launcher with $(env "${GO_ENV[@]}" "$GO" env GOVERSION) (about a minute the first time)"
  (cd "$FERRETDB_SRC" && env "${GO_ENV[@]}" "$GO" build -o "$FERRETDB_BIN" .) ||
    die "building the FerretDB launcher in $FERRETDB_SRC failed"
}

# Builds the deployment file checker when it is missing or older than its sources.
build_deploy_validate() {
  local src stale=""
  [[ -x $DEPLOY_VALIDATE_BIN ]] || stale=1
  for src in "$DEPLOY_VALIDATE_SRC"/*.go "$DEPLOY_VALIDATE_SRC"/go.mod "$DEPLOY_VALIDATE_SRC"/go.sum; do
    if [[ $src -nt $DEPLOY_VALIDATE_BIN ]]; then stale=1; fi
  done
  [[ -n $stale ]] || return 0
  find_go
  say "building the deployment file checker (a minute or two the first time)"
  (cd "$DEPLOY_VALIDATE_SRC" && env "${GO_ENV[@]}" "$GO" build -o "$DEPLOY_VALIDATE_BIN" .) ||
    die "building the deployment file checker in $DEPLOY_VALIDATE_SRC failed"
}

# Builds the provider test doubles when missing or older than their sources (tests excluded).
build_doubles() {
  local newer
  if [[ -x $DOUBLES_BIN ]]; then
    newer=$(find "$DOUBLES_SRC" -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
      ! -name '*_test.go' -newer "$DOUBLES_BIN" -print -quit)
    [[ -n $newer ]] || return 0
  fi
  find_go
  say "building the provider test doubles with $(env "${GO_ENV[@]}" "$GO" env GOVERSION)"
  (cd "$DOUBLES_SRC" && env "${GO_ENV[@]}" "$GO" build -o "$DOUBLES_BIN" .) ||
    die "building the provider test doubles in $DOUBLES_SRC failed"
}

# Configures and builds a tree; says plainly when the C code does not build (yet).
cmake_build() { # build-dir cmake-args...
  local dir=$1
  shift
  [[ -f $ROOT/CMakeLists.txt ]] || die "no CMakeLists.txt in $ROOT: there is no C code to build yet"
  say "building in ${dir#"$ROOT"/}"
  if ! wavecom_cmake_build "$dir" "$@"; then
    die "the C build in ${dir#"$ROOT"/} failed (compiler output above). The services keep running; fix the code and rerun, or stop them with: deploy/stack.sh down"
  fi
}
