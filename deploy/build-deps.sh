#!/usr/bin/env bash
# deploy/build-deps.sh: what building WaveCom takes, in one place, for both builds we run: the one
# deploy/stack.sh does on a Debian 12 machine (CI, `up`, `test`) and the build stage of
# deploy/Dockerfile. Both source or run this file, so the image is built from the same packages and
# the same CMake steps CI uses; only the CMake flags differ (sanitizers in CI, RelWithDebInfo in
# the image).
#
#   deploy/build-deps.sh packages            print the Debian build packages, one a line
#   deploy/build-deps.sh runtime-packages    print the Debian runtime libraries the binaries need
#   deploy/build-deps.sh install             apt-get install the build packages (a fresh image)
#   deploy/build-deps.sh install-runtime [PKG..]
#                                            apt-get install the runtime libraries, and PKG..
#                                            (a fresh image)
#   deploy/build-deps.sh build DIR [ARGS..]  configure the source tree into DIR with ARGS, build it
#
# Sourced, it only defines WAVECOM_BUILD_PACKAGES, WAVECOM_FUZZ_PACKAGES, WAVECOM_RUNTIME_PACKAGES
# and wavecom_cmake_build; deploy/stack.sh installs the packages with its own apt_install, which skips
# what is already there.

# The compilers, CMake, and the -dev package of every library CMakeLists.txt links (cmocka for the
# unit tests, which every build compiles; the kainjow Mustache header for the API's renderer).
WAVECOM_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  librabbitmq-dev libmongoc-dev libbson-dev libesmtp-dev libcurl4-openssl-dev libssl-dev
  libjson-c-dev libcmocka-dev libmicrohttpd-dev zlib1g-dev libkainjow-mustache-dev
)

# The libFuzzer build of tests/fuzz (CMake option WAVECOM_FUZZ): clang and its fuzzer runtime.
# deploy/stack.sh installs them for the test run; the image does not need them.
WAVECOM_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# The shared libraries wavecom-api, wavecom-worker and wavecomctl link directly, by their Debian 12
# package (the libraries those pull in come as their dependencies). tests/repository checks this
# list against the NEEDED entries of the binaries built here.
WAVECOM_RUNTIME_PACKAGES=(
  librabbitmq4 libmongoc-1.0-0 libbson-1.0-0 libesmtp6 libcurl4 libssl3 libjson-c5
  libmicrohttpd12 zlib1g libstdc++6
)

WAVECOM_SOURCE_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# Configures the source tree into build directory DIR with the CMake arguments given, then builds
# every target. WAVECOM_BUILD_JOBS sets the parallelism (default 2: the machines CI runs on are
# small and shared).
wavecom_cmake_build() { # DIR [CMAKE-ARGS..]
  local dir=$1
  shift
  cmake -S "$WAVECOM_SOURCE_ROOT" -B "$dir" "$@" &&
    cmake --build "$dir" -j"${WAVECOM_BUILD_JOBS:-2}"
}

# apt-get install of the packages given, for a fresh image: no recommends, no lists left behind.
wavecom_apt_install_fresh() {
  apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" &&
    rm -rf /var/lib/apt/lists/*
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    packages) printf '%s\n' "${WAVECOM_BUILD_PACKAGES[@]}" ;;
    runtime-packages) printf '%s\n' "${WAVECOM_RUNTIME_PACKAGES[@]}" ;;
    install) wavecom_apt_install_fresh "${WAVECOM_BUILD_PACKAGES[@]}" ;;
    install-runtime) wavecom_apt_install_fresh "${WAVECOM_RUNTIME_PACKAGES[@]}" "${@:2}" ;;
    build)
      shift
      (($#)) || { echo "usage: $0 build DIR [CMAKE-ARGS..]" >&2; exit 2; }
      wavecom_cmake_build "$@"
      ;;
    *)
      sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
fi
