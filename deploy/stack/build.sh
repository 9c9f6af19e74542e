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

# Builds the Go program in folder SRC into BIN when BIN is missing or older than one of SRC's
# sources (its tests excluded; the JSON schemas it embeds included); WHAT names the program in
# messages.
build_go_program() { # SRC BIN WHAT
  local src=$1 bin=$2 what=$3 newer
  if [[ -x $bin ]]; then
    newer=$(find "$src" -maxdepth 1 -type f \( -name '*.go' -o -name '*.json' -o -name go.mod -o -name go.sum \) \
      ! -name '*_test.go' -newer "$bin" -print -quit)
    [[ -n $newer ]] || return 0
  fi
  find_go
  say "building $what with $(env "${GO_ENV[@]}" "$GO" env GOVERSION) (a minute or two the first time)"
  (cd "$src" && env "${GO_ENV[@]}" "$GO" build -o "$bin" .) || die "building $what in $src failed"
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
