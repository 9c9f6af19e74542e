# shellcheck shell=bash
# deploy/stack.sh install: the Debian packages, promtool, schemathesis and playwright-core, and the
# Go programs (built by build.sh). Sourced by deploy/stack.sh.

# Installs the Debian packages given that are not installed yet; apt-get runs only when needed.
apt_install() {
  local pkg missing=()
  for pkg in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  # rabbitmq-server's postinst would start the system-wide broker on 5672; keep service starts off
  # for the duration, the way container images do, unless the machine already has a policy.
  local policy=/usr/sbin/policy-rc.d ours=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    ours=1
  fi
  local ok=""
  if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    ok=1
  fi
  if [[ -n $ours ]]; then as_root rm -f "$policy"; fi
  [[ -n $ok ]] || die "apt-get failed to install: ${missing[*]}"
}

# promtool, the Prometheus project's checker of alert rules, scrape configs and metrics text, from
# Debian's prometheus package. Only the binary is unpacked into .wavecom/bin: installing the package
# would also install a Prometheus server as a system service.
install_promtool() {
  [[ -x $BIN_DIR/promtool ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -q prometheus >/dev/null 2>&1); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
      die "apt-get update failed"
    (cd "$tmp" && apt-get download -q prometheus >/dev/null) ||
      die "apt-get download prometheus failed (promtool comes from it)"
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root" &&
    install -m 755 "$tmp/root/usr/bin/promtool" "$BIN_DIR/promtool" ||
    die "cannot unpack promtool from Debian's prometheus package"
  rm -rf "$tmp"
}

# playwright-core for the dashboard's browser test, at the version tests/browser/package-lock.json
# pins, into .wavecom/browser (the test finds it there); it drives Debian's chromium, so no browser
# is downloaded. npm ci runs again only when the lock file changed.
install_browser_test_modules() {
  local dir=$STATE/browser
  if [[ -d $dir/node_modules/playwright-core ]] &&
    cmp -s "$ROOT/tests/browser/package-lock.json" "$dir/package-lock.json"; then
    return 0
  fi
  # Debian's nodejs comes without npm; a nodejs from elsewhere (NodeSource) carries its own and
  # conflicts with Debian's npm package, so install it only when no npm is there.
  command -v npm >/dev/null || apt_install npm
  mkdir -p "$dir"
  cp "$ROOT/tests/browser/package.json" "$ROOT/tests/browser/package-lock.json" "$dir/"
  say "installing playwright-core for the browser test (npm ci)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    die "npm ci of tests/browser's packages failed"
}

# schemathesis, the OpenAPI-driven fuzzer of tests/integration/test_api_fuzz.py, from PyPI into a
# venv of its own; hypothesis is pinned to a release hypothesis-jsonschema still works with.
install_schemathesis() {
  local venv=$STATE/venv-schemathesis
  [[ -x $venv/bin/schemathesis ]] && return 0
  say "installing schemathesis into $venv"
  /usr/bin/python3 -m venv "$venv" &&
    "$venv/bin/pip" install -q 'schemathesis==3.39.16' 'hypothesis==6.112.5' ||
    die "cannot install schemathesis from PyPI"
}

cmd_install() {
  make_state_dirs
  apt_install "${DEBIAN_PACKAGES[@]}"
  install_promtool
  install_schemathesis
  build_go_program "$FERRETDB_SRC" "$FERRETDB_BIN" "the FerretDB launcher"
  build_go_program "$DOUBLES_SRC" "$DOUBLES_BIN" "the provider test doubles"
  build_go_program "$DEPLOY_VALIDATE_SRC" "$DEPLOY_VALIDATE_BIN" "the deployment file checker"
  install_browser_test_modules
  # The SMTP catcher is aiosmtpd from Debian, importable only by Debian's own python3.
  /usr/bin/python3 -c 'import aiosmtpd.handlers' 2>/dev/null ||
    die "/usr/bin/python3 cannot import aiosmtpd (package python3-aiosmtpd)"
}
