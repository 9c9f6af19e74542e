#!/usr/bin/env bash
# deploy/stack.sh: run WaveCom on this machine without containers.
#
#   deploy/stack.sh up         install what is missing, start the services, build, run API + worker
#   deploy/stack.sh down       stop everything this script started
#   deploy/stack.sh status     one line per component: running or not, and whether its port answers
#   deploy/stack.sh test [..]  install, start the services, build with sanitizers, run ctest [args]
#   deploy/stack.sh install    (internal) Debian packages, the FerretDB launcher, the provider doubles
#   deploy/stack.sh services   (internal) start only RabbitMQ, FerretDB, the SMTP catcher, the doubles
#
# Everything the stack writes lives under .wavecom/ (gitignored): run/*.pid, log/*.log, rabbitmq/,
# postgres/ (FerretDB's storage), ferretdb/ (its socket, or its SQLite files), maildir/ (every mail
# the catcher received), doubles/ (the credentials the provider test doubles generated), bin/,
# dev.env.
# Every service listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.wavecom
RUN_DIR=$STATE/run
LOG_DIR=$STATE/log
BIN_DIR=$STATE/bin
MAILDIR=$STATE/maildir
RMQ_DIR=$STATE/rabbitmq
FERRETDB_DATA=$STATE/ferretdb
DEV_ENV=$STATE/dev.env

# What CMakeLists.txt produces.
BUILD_DIR=$ROOT/build
TEST_BUILD_DIR=$ROOT/build-test
API_BIN=$BUILD_DIR/api/wavecom-api
WORKER_BIN=$BUILD_DIR/worker/wavecom-worker
CTL_BIN=$BUILD_DIR/ctl/wavecomctl

FERRETDB_SRC=$ROOT/deploy/ferretdb
FERRETDB_BIN=$BIN_DIR/wavecom-ferretdb
# The Go release FerretDB 1.24 was built with; the module proxy serves it as a toolchain module.
GO_PINNED_TOOLCHAIN=go1.24.3

# --- provider test doubles (loadtest/doubles): fake Twilio, FCM, APNs and webhook receiver
DOUBLES_SRC=$ROOT/loadtest/doubles
DOUBLES_BIN=$BIN_DIR/wavecom-doubles
DOUBLES_DIR=$STATE/doubles # the service account, APNs key and TLS certificate they generate
DOUBLES_CONTROL_PORT=${WAVECOM_DOUBLES_CONTROL_PORT:-4000}
DOUBLES_TWILIO_PORT=${WAVECOM_DOUBLES_TWILIO_PORT:-4010}
DOUBLES_FCM_PORT=${WAVECOM_DOUBLES_FCM_PORT:-4020}
DOUBLES_APNS_PORT=${WAVECOM_DOUBLES_APNS_PORT:-4030}
DOUBLES_WEBHOOK_PORT=${WAVECOM_DOUBLES_WEBHOOK_PORT:-4040}
# Fixed development credentials, accepted by the doubles only; nothing secret.
DOUBLES_TWILIO_SID=AC0123456789abcdef0123456789abcdef
DOUBLES_TWILIO_TOKEN=wavecom-dev-twilio-auth-token
DOUBLES_APNS_KEY_ID=ABC123DEFG
DOUBLES_APNS_TEAM_ID=DEF123GHIJ
# --- end of provider test doubles

# The offline checker of docker-compose.yml and deploy/k8s (tests/repository/test_deploy.py).
DEPLOY_VALIDATE_SRC=$ROOT/deploy/validate
DEPLOY_VALIDATE_BIN=$BIN_DIR/wavecom-deploy-validate

LOOPBACK=127.0.0.1
RABBITMQ_PORT=${WAVECOM_RABBITMQ_PORT:-5672}
RABBITMQ_MGMT_PORT=${WAVECOM_RABBITMQ_MGMT_PORT:-15672}
RABBITMQ_DIST_PORT=${WAVECOM_RABBITMQ_DIST_PORT:-25672}
RABBITMQ_NODE=wavecom@localhost
# Not /usr/sbin/rabbitmq-server: that wrapper insists on switching to the rabbitmq user.
RABBITMQ_LIBEXEC=/usr/lib/rabbitmq/bin
EPMD_PORT=4369
FERRETDB_PORT=${WAVECOM_FERRETDB_PORT:-27017}
# FerretDB stores in PostgreSQL by default. Its SQLite backend is the lighter choice, but measured
# here it costs ~30 ms per findAndModify on a 2,000-document collection (PostgreSQL: ~3 ms), growing
# with the collection, which makes the fault tests crawl. WAVECOM_FERRETDB_BACKEND=sqlite selects it.
FERRETDB_BACKEND=${WAVECOM_FERRETDB_BACKEND:-postgresql}
POSTGRES_PORT=${WAVECOM_POSTGRES_PORT:-5433}
POSTGRES_DIR=$STATE/postgres
SMTP_CATCHER_PORT=${WAVECOM_SMTP_CATCHER_PORT:-1025}

START_TIMEOUT=60 # seconds a service gets to answer on its port
STOP_TIMEOUT=35  # the worker drains in-flight deliveries on SIGTERM; give it time before SIGKILL

# The build packages and the build steps are shared with deploy/Dockerfile's build stage.
# shellcheck source=deploy/build-deps.sh
. "$ROOT/deploy/build-deps.sh"

DEBIAN_PACKAGES=(
  "${WAVECOM_BUILD_PACKAGES[@]}"
  rabbitmq-server python3-aiosmtpd python3-pymongo curl postgresql
  python3-jsonschema python3-yaml # the OpenAPI conformance test
  python3-prometheus-client        # the metrics test parses both endpoints with it
  wrk                             # loadtest/intake.sh
  openjdk-17-jre-headless maven   # loadtest/rabbitmq_ceiling.sh runs RabbitMQ PerfTest
  "${WAVECOM_FUZZ_PACKAGES[@]}"   # the libFuzzer harnesses (tests/fuzz)
  python3-venv                    # the venv of schemathesis, the API-level fuzzer
  procps # ps and pgrep, which this script uses to find what it started
  chromium nodejs     # the dashboard's browser test (tests/browser); npm: install_browser_test_modules
)

# Decided before any defaults are filled in: a user who points us at a real MongoDB gets no FerretDB.
USER_MONGODB_URI=${WAVECOM_MONGODB_URI:-}
USER_TEST_MONGODB_URI=${WAVECOM_TEST_MONGODB_URI:-}
USER_TEST_AMQP_URL=${WAVECOM_TEST_AMQP_URL:-}

# The environment of our RabbitMQ node, shared by the server and every rabbitmqctl call. HOME is
# where Erlang keeps the cookie, so the node and its CLI agree on it without touching ~/.erlang.cookie.
RMQ_ENV=(
  "HOME=$RMQ_DIR"
  "RABBITMQ_NODENAME=$RABBITMQ_NODE"
  "RABBITMQ_NODE_IP_ADDRESS=$LOOPBACK"
  "RABBITMQ_NODE_PORT=$RABBITMQ_PORT"
  "RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT"
  "ERL_EPMD_ADDRESS=$LOOPBACK"
  "RABBITMQ_CONF_ENV_FILE=$RMQ_DIR/rabbitmq-env.conf"
  "RABBITMQ_CONFIG_FILE=$RMQ_DIR/rabbitmq.conf"
  "RABBITMQ_ADVANCED_CONFIG_FILE=$RMQ_DIR/advanced.config"
  "RABBITMQ_ENABLED_PLUGINS_FILE=$RMQ_DIR/enabled_plugins"
  "RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia"
  "RABBITMQ_LOG_BASE=$RMQ_DIR/log"
  "RABBITMQ_PID_FILE=$RMQ_DIR/$RABBITMQ_NODE.pid"
  # Erlang distribution listens on all interfaces unless told otherwise.
  "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
)

# A fragment of each component's command line. A pid file is trusted only when its process still
# shows this fragment, so a stale pid file that now names someone else's process is never signalled.
declare -A CMDLINE_MATCH=(
  [rabbitmq]=rabbitmq-server
  [epmd]=epmd
  [ferretdb]=wavecom-ferretdb
  [postgres]="postgres -D"
  [smtp-catcher]=aiosmtpd
  [doubles]=wavecom-doubles
  [api]=wavecom-api
  [worker]=wavecom-worker
)

# Services this invocation started (not reused), so that `test` can stop exactly those afterwards.
STARTED_HERE=()

# ---------------------------------------------------------------------------------------------
# Small helpers

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

make_state_dirs() {
  # Python's mailbox.Maildir creates new/, cur/ and tmp/ only along with the top directory, so
  # make them here; a bare maildir/ would make every delivery fail.
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$BIN_DIR" "$MAILDIR"/{new,cur,tmp} "$RMQ_DIR" "$FERRETDB_DATA"
}

# True when something accepts TCP connections on 127.0.0.1:PORT. Bash's /dev/tcp needs no extra tools.
port_answers() {
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$LOOPBACK" "$1" 2>/dev/null
}

# The live, non-zombie processes of process group PGID (zombies linger if init does not reap them).
group_members() {
  ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# Prints the pid of component NAME and succeeds when the process in its pid file is still ours.
live_pid() {
  local file=$RUN_DIR/$1.pid pid cmdline
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"${CMDLINE_MATCH[$1]}"* ]] || return 1
  printf '%s\n' "$pid"
}

# Starts component NAME running COMMAND... in the background, in its own session: Ctrl-C on this
# script or a closed terminal leaves it alone, and `down` can signal its whole process group.
# Output is appended to log/NAME.log, the pid goes to run/NAME.pid. (Without job control the
# background child is no group leader, so setsid(1) does not fork and $! is the service's pid.)
spawn() {
  local name=$1
  shift
  printf '\n=== %s starting: %s\n' "$(date -Is)" "$*" >>"$LOG_DIR/$name.log"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo "$!" >"$RUN_DIR/$name.pid"
}

# Reports that NAME failed to start, with the end of its logs, and exits.
fail_start() {
  local name=$1 why=$2 extra_log=${3:-}
  printf 'error: %s %s. Last lines of %s:\n' "$name" "$why" "$LOG_DIR/$name.log" >&2
  tail -n 25 "$LOG_DIR/$name.log" >&2 || true
  if [[ -n $extra_log && -f $extra_log ]]; then
    printf -- '--- last lines of %s:\n' "$extra_log" >&2
    tail -n 25 "$extra_log" >&2 || true
  fi
  exit 1
}

# Succeeds while the process in NAME's pid file exists and is not a zombie. Unlike live_pid it
# does not look at the command line, which still reads "bash" until the exec has happened.
spawned_alive() {
  local file=$RUN_DIR/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ -r /proc/$pid/status ]] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# Waits until component NAME answers on each PORT, failing early if its process dies.
wait_for_ports() {
  local name=$1 extra_log=$2
  shift 2
  local deadline=$((SECONDS + START_TIMEOUT)) port
  for port in "$@"; do
    until port_answers "$port"; do
      spawned_alive "$name" ||
        fail_start "$name" "exited before it answered on $LOOPBACK:$port" "$extra_log"
      ((SECONDS < deadline)) ||
        fail_start "$name" "did not answer on $LOOPBACK:$port within ${START_TIMEOUT}s" "$extra_log"
      sleep 0.5
    done
  done
}

# Starts service NAME with function START_FN unless its first port already answers, then waits for
# all its PORTS. A port answered by a process we did not start is reused as it is.
ensure_service() {
  local name=$1 start_fn=$2 extra_log=$3
  shift 3
  local pid
  if pid=$(live_pid "$name"); then
    say "$name: already running (pid $pid)"
  elif port_answers "$1"; then
    say "$name: port $1 already answers (not started by us), reusing it"
    return 0
  else
    say "$name: starting"
    "$start_fn"
    STARTED_HERE+=("$name")
  fi
  wait_for_ports "$name" "$extra_log" "$@"
}

# ---------------------------------------------------------------------------------------------
# install

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

# --- provider test doubles: build, start, test, environment

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

# Runs the Go tests of the provider test doubles and of the FerretDB launcher (a few seconds);
# their failure fails the test run.
test_go_programs() {
  local dir
  find_go
  for dir in "$DOUBLES_SRC" "$FERRETDB_SRC"; do
    say "testing ${dir#"$ROOT"/} (go test)"
    (cd "$dir" && env "${GO_ENV[@]}" "$GO" test -timeout 60s ./...) ||
      die "the Go tests in ${dir#"$ROOT"/} failed (output above)"
  done
}

# Every worker child signs its own APNs provider token, as separate servers sharing one key do; the
# double still refuses a connection that changes its token within 20 minutes, which is what a client
# that re-signed per request would do. The per-key limit would refuse the second child.
start_doubles() {
  mkdir -p "$DOUBLES_DIR"
  spawn doubles "$DOUBLES_BIN" \
    -control-addr "$LOOPBACK:$DOUBLES_CONTROL_PORT" -twilio-addr "$LOOPBACK:$DOUBLES_TWILIO_PORT" \
    -fcm-addr "$LOOPBACK:$DOUBLES_FCM_PORT" -apns-addr "$LOOPBACK:$DOUBLES_APNS_PORT" \
    -webhook-addr "$LOOPBACK:$DOUBLES_WEBHOOK_PORT" \
    -fcm-service-account-out "$DOUBLES_DIR/fcm-service-account.json" \
    -apns-key-out "$DOUBLES_DIR/apns-key.p8" -apns-key-id "$DOUBLES_APNS_KEY_ID" \
    -apns-team-id "$DOUBLES_APNS_TEAM_ID" -tls-cert-out "$DOUBLES_DIR/tls-cert.pem" \
    -twilio-sid "$DOUBLES_TWILIO_SID" -twilio-token "$DOUBLES_TWILIO_TOKEN" \
    -apns-max-token-updates 0
}

ensure_doubles() {
  [[ -x $DOUBLES_BIN ]] || die "$DOUBLES_BIN is missing; run: deploy/stack.sh install"
  ensure_service doubles start_doubles "" "$DOUBLES_CONTROL_PORT" "$DOUBLES_TWILIO_PORT" \
    "$DOUBLES_FCM_PORT" "$DOUBLES_APNS_PORT" "$DOUBLES_WEBHOOK_PORT"
  if live_pid doubles >/dev/null && [[ $DOUBLES_BIN -nt $RUN_DIR/doubles.pid ]]; then
    warn "the doubles were rebuilt after they started; restart them with: kill \$(cat ${RUN_DIR#"$ROOT"/}/doubles.pid) && deploy/stack.sh services"
  fi
}

# Exports where the doubles listen and what they accept, for the tests (keeping what is set).
export_doubles_env() {
  export WAVECOM_TEST_DOUBLES_CONTROL=${WAVECOM_TEST_DOUBLES_CONTROL:-http://$LOOPBACK:$DOUBLES_CONTROL_PORT}
  export WAVECOM_TEST_TWILIO_URL=${WAVECOM_TEST_TWILIO_URL:-http://$LOOPBACK:$DOUBLES_TWILIO_PORT}
  export WAVECOM_TEST_TWILIO_SID=${WAVECOM_TEST_TWILIO_SID:-$DOUBLES_TWILIO_SID}
  export WAVECOM_TEST_TWILIO_TOKEN=${WAVECOM_TEST_TWILIO_TOKEN:-$DOUBLES_TWILIO_TOKEN}
  export WAVECOM_TEST_FCM_URL=${WAVECOM_TEST_FCM_URL:-http://$LOOPBACK:$DOUBLES_FCM_PORT}
  export WAVECOM_TEST_FCM_SERVICE_ACCOUNT=${WAVECOM_TEST_FCM_SERVICE_ACCOUNT:-$DOUBLES_DIR/fcm-service-account.json}
  export WAVECOM_TEST_APNS_URL=${WAVECOM_TEST_APNS_URL:-https://$LOOPBACK:$DOUBLES_APNS_PORT}
  export WAVECOM_TEST_APNS_KEY=${WAVECOM_TEST_APNS_KEY:-$DOUBLES_DIR/apns-key.p8}
  export WAVECOM_TEST_APNS_KEY_ID=${WAVECOM_TEST_APNS_KEY_ID:-$DOUBLES_APNS_KEY_ID}
  export WAVECOM_TEST_APNS_TEAM_ID=${WAVECOM_TEST_APNS_TEAM_ID:-$DOUBLES_APNS_TEAM_ID}
  export WAVECOM_TEST_PROVIDER_CA=${WAVECOM_TEST_PROVIDER_CA:-$DOUBLES_DIR/tls-cert.pem}
  export WAVECOM_TEST_WEBHOOK_URL=${WAVECOM_TEST_WEBHOOK_URL:-http://$LOOPBACK:$DOUBLES_WEBHOOK_PORT}
}

# The doubles' line of `status`: their control port, then which provider ports do not answer.
doubles_state() {
  local entry down=()
  for entry in "twilio:$DOUBLES_TWILIO_PORT" "fcm:$DOUBLES_FCM_PORT" "apns:$DOUBLES_APNS_PORT" \
    "webhook:$DOUBLES_WEBHOOK_PORT"; do
    port_answers "${entry#*:}" || down+=("$entry")
  done
  port_state control "$DOUBLES_CONTROL_PORT"
  if ((${#down[@]})); then printf '; not answering: %s' "${down[*]}"; else printf '; twilio, fcm, apns, webhook answer'; fi
}

# --- end of provider test doubles

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
  build_ferretdb
  build_doubles
  build_deploy_validate
  install_browser_test_modules
  # The SMTP catcher is aiosmtpd from Debian, importable only by Debian's own python3.
  /usr/bin/python3 -c 'import aiosmtpd.handlers' 2>/dev/null ||
    die "/usr/bin/python3 cannot import aiosmtpd (package python3-aiosmtpd)"
}

# ---------------------------------------------------------------------------------------------
# services

rmqctl() {
  env "${RMQ_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmqctl" "$@"
}

# Writes the node's configuration. Rewritten on every start so port overrides take effect.
write_rabbitmq_config() {
  mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
  echo '# Deliberately empty: keeps /etc/rabbitmq/rabbitmq-env.conf away from this node.' \
    >"$RMQ_DIR/rabbitmq-env.conf"
  cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by deploy/stack.sh on every start; edit the script, not this file.
listeners.tcp.default = $LOOPBACK:$RABBITMQ_PORT
management.tcp.ip = $LOOPBACK
management.tcp.port = $RABBITMQ_MGMT_PORT
EOF
  echo '[rabbitmq_management].' >"$RMQ_DIR/enabled_plugins"
}

# Writes bin/rabbitmqctl, a rabbitmqctl bound to our node, for tests and for people.
write_rabbitmqctl_wrapper() {
  {
    echo '#!/usr/bin/env bash'
    echo "# Written by deploy/stack.sh: rabbitmqctl for the local node $RABBITMQ_NODE."
    printf 'exec env'
    printf ' %q' "${RMQ_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmqctl"
    printf ' "$@"\n'
  } >"$BIN_DIR/rabbitmqctl.new"
  chmod 755 "$BIN_DIR/rabbitmqctl.new"
  mv "$BIN_DIR/rabbitmqctl.new" "$BIN_DIR/rabbitmqctl"
}

start_rabbitmq() {
  write_rabbitmq_config
  # The node starts epmd (Erlang's port mapper) when none runs; `down` stops it only in that case.
  local epmd_was_running=""
  if port_answers "$EPMD_PORT"; then epmd_was_running=1; fi
  spawn rabbitmq env "${RMQ_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmq-server"
  if [[ -z $epmd_was_running ]]; then
    local deadline=$((SECONDS + 15)) pid
    until port_answers "$EPMD_PORT" || ((SECONDS >= deadline)); do sleep 0.2; done
    if pid=$(pgrep -n -x epmd); then echo "$pid" >"$RUN_DIR/epmd.pid"; fi
  fi
}

start_ferretdb() {
  local backend=()
  if [[ $FERRETDB_BACKEND == postgresql ]]; then
    # A bounded pool, well inside the server's max_connections (set in start_postgres).
    backend=(-postgresql-url "postgres://postgres@$LOOPBACK:$POSTGRES_PORT/ferretdb?pool_max_conns=64")
  fi
  spawn ferretdb "$FERRETDB_BIN" -listen "$LOOPBACK:$FERRETDB_PORT" -data "$FERRETDB_DATA" "${backend[@]}"
}

# PostgreSQL's programs, newest installed version.
postgres_bin() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir ]] || die "PostgreSQL is not installed; run: deploy/stack.sh install"
  printf '%s\n' "$dir"
}

# The prefix that runs a command as the PostgreSQL owner: the postgres user when we are root
# (PostgreSQL refuses to run as root), nothing otherwise. setpriv execs in place, so the pid that
# spawn records is the server's own.
AS_POSTGRES=()
if ((EUID == 0)); then AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
as_postgres() { "${AS_POSTGRES[@]}" "$@"; }

# A private cluster under .wavecom/postgres, trusting local connections, listening on loopback only.
start_postgres() {
  local bin
  bin=$(postgres_bin)
  if [[ ! -f $POSTGRES_DIR/data/PG_VERSION ]]; then
    mkdir -p "$POSTGRES_DIR"
    if ((EUID == 0)); then chown postgres: "$POSTGRES_DIR"; fi
    say "creating a PostgreSQL cluster in ${POSTGRES_DIR#"$ROOT"/}"
    as_postgres "$bin/initdb" -D "$POSTGRES_DIR/data" -A trust -U postgres -E UTF8 --no-sync \
      >>"$LOG_DIR/postgres.log" 2>&1 || fail_start postgres "could not be initialised"
  fi
  spawn postgres "${AS_POSTGRES[@]}" "$bin/postgres" -D "$POSTGRES_DIR/data" -h "$LOOPBACK" \
    -p "$POSTGRES_PORT" -k "$POSTGRES_DIR" -c max_connections=200
}

# FerretDB's database inside the cluster; created once.
ensure_ferretdb_database() {
  local bin
  bin=$(postgres_bin)
  if ! as_postgres "$bin/psql" -h "$LOOPBACK" -p "$POSTGRES_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" postgres 2>>"$LOG_DIR/postgres.log" | grep -q 1; then
    as_postgres "$bin/createdb" -h "$LOOPBACK" -p "$POSTGRES_PORT" -U postgres ferretdb \
      >>"$LOG_DIR/postgres.log" 2>&1 || fail_start postgres "refused to create the ferretdb database"
  fi
  # Indexes that let FerretDB find a document by _id without scanning its table (see the file).
  as_postgres "$bin/psql" -h "$LOOPBACK" -p "$POSTGRES_PORT" -U postgres -v ON_ERROR_STOP=1 -q \
    -f "$ROOT/deploy/ferretdb/postgresql.sql" ferretdb >>"$LOG_DIR/postgres.log" 2>&1 ||
    fail_start postgres "refused deploy/ferretdb/postgresql.sql"
}

# The SMTP catcher is aiosmtpd's Mailbox handler: every message lands as one file in a Maildir,
# which tests read back directly. Mailpit was the alternative (web UI), but the Go module proxy
# refuses github.com/axllent/mailpit ("not available"), and its UI needs an npm build anyway.
start_smtp_catcher() {
  spawn smtp-catcher env PYTHONUNBUFFERED=1 /usr/bin/python3 -m aiosmtpd -n \
    -l "$LOOPBACK:$SMTP_CATCHER_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR"
}

# Starts RabbitMQ, the SMTP catcher, the provider doubles and FerretDB, the latter only when the
# MongoDB URI the user gave (the argument) is empty: a user who points us at a real MongoDB needs no
# FerretDB.
start_services() {
  local user_mongodb_uri=$1
  make_state_dirs
  write_rabbitmqctl_wrapper
  ensure_service rabbitmq start_rabbitmq "$RMQ_DIR/log/$RABBITMQ_NODE.log" \
    "$RABBITMQ_PORT" "$RABBITMQ_MGMT_PORT"
  if [[ -z $user_mongodb_uri ]]; then
    [[ -x $FERRETDB_BIN ]] || die "$FERRETDB_BIN is missing; run: deploy/stack.sh install"
    if [[ $FERRETDB_BACKEND == postgresql ]]; then
      ensure_service postgres start_postgres "" "$POSTGRES_PORT"
      ensure_ferretdb_database
    fi
    ensure_service ferretdb start_ferretdb "" "$FERRETDB_PORT"
  fi
  ensure_service smtp-catcher start_smtp_catcher "" "$SMTP_CATCHER_PORT"
  ensure_doubles
}

cmd_services() {
  start_services "$USER_MONGODB_URI"
  cmd_status
}

# ---------------------------------------------------------------------------------------------
# down

# Signals SIG to component NAME: to its process when it still runs, else to what is left of its
# process group (a pid cannot be reused while it names a live group, so the group is still ours).
# Prints the process group to wait for; fails when nothing of it runs.
signal_component() {
  local name=$1 sig=$2 file=$RUN_DIR/$1.pid pid
  if pid=$(live_pid "$name"); then
    kill "-$sig" "$pid" 2>/dev/null || true
  elif [[ -f $file ]] && pid=$(<"$file") && [[ $pid =~ ^[0-9]+$ ]] && [[ -n $(group_members "$pid") ]]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || true
  else
    return 1
  fi
  printf '%s\n' "$pid"
}

# Stops components NAME...: SIGTERM to each at once, up to STOP_TIMEOUT seconds for their process
# groups to empty, then SIGKILL to what is left.
stop_components() {
  local name pid groups=() names=()
  for name; do
    if pid=$(signal_component "$name" TERM); then
      say "stopping $name (pid $pid)"
      groups+=("$pid")
      names+=("$name")
    fi
  done
  local deadline=$((SECONDS + STOP_TIMEOUT)) i busy
  while :; do
    busy=""
    for pid in "${groups[@]}"; do [[ -z $(group_members "$pid") ]] || busy=1; done
    [[ -n $busy && $SECONDS -lt $deadline ]] || break
    sleep 0.5
  done
  for i in "${!groups[@]}"; do
    if [[ -n $(group_members "${groups[i]}") ]]; then
      warn "${names[i]} did not stop within ${STOP_TIMEOUT}s; killing it"
      kill -KILL -- "-${groups[i]}" 2>/dev/null || true
    fi
  done
  # Give init a moment to reap them, so that nothing of ours shows up in ps, not even as a zombie.
  for pid in "${groups[@]}"; do
    for _ in {1..30}; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  for name; do rm -f "$RUN_DIR/$name.pid"; done
}

stop_rabbitmq() {
  local pid
  if pid=$(live_pid rabbitmq); then
    # The orderly way first; stop_components below then waits for the wrapper and Erlang to exit.
    say "stopping rabbitmq (pid $pid) with rabbitmqctl stop"
    timeout 60 env "${RMQ_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmqctl" stop "$RMQ_DIR/$RABBITMQ_NODE.pid" \
      >>"$LOG_DIR/rabbitmq.log" 2>&1 || warn "rabbitmqctl stop failed; signalling the node instead"
  fi
  stop_components rabbitmq
}

cmd_down() {
  [[ -d $RUN_DIR ]] || {
    say "nothing to stop"
    return 0
  }
  stop_components api worker
  stop_components smtp-catcher ferretdb doubles
  stop_components postgres
  stop_rabbitmq
  stop_components epmd
  rm -f "$RUN_DIR"/*.pid
  say "stopped"
}

# ---------------------------------------------------------------------------------------------
# status

port_state() { # label port
  if port_answers "$2"; then printf '%s %s:%s answers' "$1" "$LOOPBACK" "$2"; else printf '%s %s:%s not answering' "$1" "$LOOPBACK" "$2"; fi
}

status_line() { # name port-description
  local name=$1 state pid
  if pid=$(live_pid "$name"); then state="running (pid $pid)"; else state=stopped; fi
  printf '%-13s %-20s %s\n' "$name" "$state" "$2"
}

cmd_status() {
  local mails
  mails=$( (find "$MAILDIR/new" "$MAILDIR/cur" -type f 2>/dev/null || true) | wc -l)
  status_line rabbitmq "$(port_state amqp "$RABBITMQ_PORT"); $(port_state management "$RABBITMQ_MGMT_PORT")"
  status_line epmd "$(port_state epmd "$EPMD_PORT")"
  if [[ -n $USER_MONGODB_URI ]]; then
    printf '%-13s %-20s %s\n' ferretdb "not used" "WAVECOM_MONGODB_URI=$USER_MONGODB_URI"
  else
    status_line ferretdb "$(port_state mongodb "$FERRETDB_PORT") ($FERRETDB_BACKEND)"
    if [[ $FERRETDB_BACKEND == postgresql ]]; then
      status_line postgres "$(port_state postgresql "$POSTGRES_PORT")"
    fi
  fi
  status_line smtp-catcher "$(port_state smtp "$SMTP_CATCHER_PORT"); $mails mails in ${MAILDIR#"$ROOT"/}"
  status_line doubles "$(doubles_state)"
  status_line api "$(port_state http "${WAVECOM_API_PORT:-5000}")"
  status_line worker ""
}

# ---------------------------------------------------------------------------------------------
# up

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

# Exports the configuration of the API and the worker, keeping whatever the user already set.
export_app_env() {
  : "${WAVECOM_MONGODB_URI:=mongodb://$LOOPBACK:$FERRETDB_PORT}"
  : "${WAVECOM_MONGODB_DB:=wavecom}"
  : "${WAVECOM_AMQP_URL:=amqp://guest:guest@$LOOPBACK:$RABBITMQ_PORT/}"
  : "${WAVECOM_SMTP_HOST:=$LOOPBACK}"
  : "${WAVECOM_SMTP_PORT:=$SMTP_CATCHER_PORT}"
  : "${WAVECOM_API_HOST:=$LOOPBACK}"
  : "${WAVECOM_API_PORT:=5000}"
  # SMS, push and webhooks go to the loopback test doubles unless real providers are configured.
  : "${WAVECOM_TWILIO_URL:=http://$LOOPBACK:$DOUBLES_TWILIO_PORT}"
  : "${WAVECOM_TWILIO_ACCOUNT_SID:=$DOUBLES_TWILIO_SID}"
  : "${WAVECOM_TWILIO_AUTH_TOKEN:=$DOUBLES_TWILIO_TOKEN}"
  : "${WAVECOM_TWILIO_FROM:=+15005550006}"
  : "${WAVECOM_FCM_URL:=http://$LOOPBACK:$DOUBLES_FCM_PORT}"
  : "${WAVECOM_FCM_SERVICE_ACCOUNT_FILE:=$DOUBLES_DIR/fcm-service-account.json}"
  : "${WAVECOM_APNS_URL:=https://$LOOPBACK:$DOUBLES_APNS_PORT}"
  : "${WAVECOM_APNS_KEY_FILE:=$DOUBLES_DIR/apns-key.p8}"
  : "${WAVECOM_APNS_KEY_ID:=$DOUBLES_APNS_KEY_ID}"
  : "${WAVECOM_APNS_TEAM_ID:=$DOUBLES_APNS_TEAM_ID}"
  : "${WAVECOM_APNS_TOPIC:=com.wavecom.dev}"
  : "${WAVECOM_PROVIDER_CA_FILE:=$DOUBLES_DIR/tls-cert.pem}"
  : "${WAVECOM_WEBHOOK_ALLOW_HTTP:=1}"
  # The provider doubles listen on loopback, which webhooks may not target elsewhere (SSRF).
  : "${WAVECOM_WEBHOOK_ALLOW_PRIVATE:=1}"
  export WAVECOM_MONGODB_URI WAVECOM_MONGODB_DB WAVECOM_AMQP_URL WAVECOM_SMTP_HOST WAVECOM_SMTP_PORT \
    WAVECOM_API_HOST WAVECOM_API_PORT WAVECOM_TWILIO_URL WAVECOM_TWILIO_ACCOUNT_SID \
    WAVECOM_TWILIO_AUTH_TOKEN WAVECOM_TWILIO_FROM WAVECOM_FCM_URL WAVECOM_FCM_SERVICE_ACCOUNT_FILE \
    WAVECOM_APNS_URL WAVECOM_APNS_KEY_FILE WAVECOM_APNS_KEY_ID WAVECOM_APNS_TEAM_ID WAVECOM_APNS_TOPIC \
    WAVECOM_PROVIDER_CA_FILE WAVECOM_WEBHOOK_ALLOW_HTTP WAVECOM_WEBHOOK_ALLOW_PRIVATE
  API_URL="http://$WAVECOM_API_HOST:$WAVECOM_API_PORT"
}

# Starts the built program BIN as component NAME unless it already runs.
start_app() {
  local name=$1 bin=$2 pid
  [[ -x $bin ]] || die "$bin was not built; is it a target of CMakeLists.txt?"
  if pid=$(live_pid "$name"); then
    say "$name: already running (pid $pid)"
    [[ $bin -nt $RUN_DIR/$name.pid ]] &&
      warn "$name was rebuilt after it started; run 'deploy/stack.sh down' and 'up' to use the new build"
    return 0
  fi
  say "$name: starting"
  spawn "$name" "$bin"
}

wait_for_api() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until curl -fsS -m 2 -o /dev/null "$API_URL/api/health" 2>/dev/null; do
    spawned_alive api || fail_start api "exited before $API_URL/api/health answered"
    ((SECONDS < deadline)) || fail_start api "did not answer $API_URL/api/health within ${START_TIMEOUT}s"
    sleep 0.5
  done
}

# Makes sure .wavecom/dev.env holds an admin key the API accepts, creating a tenant and key if not.
ensure_dev_key() {
  local key="" code tenant
  if [[ -f $DEV_ENV ]]; then key=$(sed -n 's/^WAVECOM_API_KEY=//p' "$DEV_ENV" | tail -n 1); fi
  if [[ -n $key ]]; then
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
      "$API_URL/api/notifications/000000000000000000000000" || true)
    case $code in
      404 | 200) ;;
      401 | 403) key="" ;; # the database was reset or the key revoked
      *) warn "could not check the key in ${DEV_ENV#"$ROOT"/} (HTTP $code); keeping it" ;;
    esac
  fi
  if [[ -z $key ]]; then
    say "creating a dev tenant and an admin API key"
    tenant=$("$CTL_BIN" tenant create --name dev) || die "wavecomctl tenant create failed"
    [[ $tenant =~ ^[[:alnum:]_-]+$ ]] || die "wavecomctl tenant create printed '$tenant', not a tenant id"
    key=$("$CTL_BIN" apikey create --tenant "$tenant" --role admin) || die "wavecomctl apikey create failed"
    [[ -n $key && $key != *[[:space:]]* ]] || die "wavecomctl apikey create printed no usable key"
  fi
  (
    umask 077
    printf 'WAVECOM_API_URL=%s\nWAVECOM_API_KEY=%s\n' "$API_URL" "$key" >"$DEV_ENV.new"
  )
  mv "$DEV_ENV.new" "$DEV_ENV"
  DEV_KEY=$key
}

print_summary() {
  local mongo=$WAVECOM_MONGODB_URI
  [[ -n $USER_MONGODB_URI ]] || mongo="$mongo (FerretDB 1.24, data in ${FERRETDB_DATA#"$ROOT"/})"
  cat <<EOF

WaveCom is up.
  API             $API_URL
  RabbitMQ        $WAVECOM_AMQP_URL   (management UI http://$LOOPBACK:$RABBITMQ_MGMT_PORT/, guest/guest)
  Database        $mongo
  SMTP catcher    smtp://$LOOPBACK:$SMTP_CATCHER_PORT, every mail lands as a file in $MAILDIR/new/
  Doubles         control API $WAVECOM_TEST_DOUBLES_CONTROL, fake providers (loadtest/doubles/README.md):
    Twilio        $WAVECOM_TEST_TWILIO_URL  (SID $WAVECOM_TEST_TWILIO_SID, token $WAVECOM_TEST_TWILIO_TOKEN)
    FCM           $WAVECOM_TEST_FCM_URL  (service account $WAVECOM_TEST_FCM_SERVICE_ACCOUNT)
    APNs          $WAVECOM_TEST_APNS_URL  (key $WAVECOM_TEST_APNS_KEY, id $WAVECOM_TEST_APNS_KEY_ID, team $WAVECOM_TEST_APNS_TEAM_ID; CA $WAVECOM_TEST_PROVIDER_CA)
    Webhooks      $WAVECOM_TEST_WEBHOOK_URL
  Logs            $LOG_DIR/
  Credentials     $DEV_ENV  (load with: set -a; . .wavecom/dev.env; set +a)
  Stop it all     deploy/stack.sh down

Send a notification:
  curl -sS -X POST "$API_URL/api/notifications" -H "Authorization: Bearer $DEV_KEY" -H 'Content-Type: application/json' -d '{"type":"EMAIL","recipient":"user@example.com","subject":"Welcome to WaveCom","message":"Thank you for signing up!","priority":"HIGH"}'

Then follow it (use the _id from the answer above):
  curl -sS "$API_URL/api/notifications/<_id>" -H "Authorization: Bearer $DEV_KEY"

Or watch it in the dashboard: $API_URL/  (sign in with the API key $DEV_KEY)
EOF
}

cmd_up() {
  cmd_install
  start_services "$USER_MONGODB_URI"
  cmake_build "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  export_app_env
  if ! live_pid api >/dev/null && port_answers "$WAVECOM_API_PORT"; then
    die "port $WAVECOM_API_PORT already answers, but not with our wavecom-api; free it or set WAVECOM_API_PORT"
  fi
  start_app api "$API_BIN"
  start_app worker "$WORKER_BIN"
  wait_for_api
  live_pid worker >/dev/null || fail_start worker "exited during start"
  ensure_dev_key
  export_doubles_env
  print_summary
}

# ---------------------------------------------------------------------------------------------
# test

# Stops the services this invocation started; those that were already up stay up.
stop_started_here() {
  local i
  ((${#STARTED_HERE[@]})) || return 0
  say "stopping the services this test run started: ${STARTED_HERE[*]}"
  for ((i = ${#STARTED_HERE[@]} - 1; i >= 0; i--)); do
    if [[ ${STARTED_HERE[i]} == rabbitmq ]]; then
      stop_rabbitmq
      stop_components epmd
    else
      stop_components "${STARTED_HERE[i]}"
    fi
  done
}

# Gives the tests a RabbitMQ virtual host of their own, empty at every run.
reset_test_vhost() {
  if [[ -n $USER_TEST_AMQP_URL ]]; then
    say "WAVECOM_TEST_AMQP_URL is set; leaving its broker as it is"
    return 0
  fi
  say "rabbitmq: recreating the vhost wavecom_test"
  rmqctl -q delete_vhost wavecom_test >/dev/null 2>&1 || true
  if ! rmqctl -q add_vhost wavecom_test ||
    ! rmqctl -q set_permissions -p wavecom_test guest '.*' '.*' '.*'; then
    die "could not create the vhost wavecom_test with rabbitmqctl on node $RABBITMQ_NODE (is another RabbitMQ on port $RABBITMQ_PORT?)"
  fi
}

# Removes the databases earlier test runs left (each test works in a wc_test_* database of its own
# and leaves it, since dropping one while other clients work can stall FerretDB's PostgreSQL
# backend). Only on our own FerretDB, and only now, while nothing else uses it.
drop_old_test_databases() {
  [[ -z $USER_TEST_MONGODB_URI ]] || return 0
  /usr/bin/python3 - "mongodb://$LOOPBACK:$FERRETDB_PORT" <<'PY' || die "could not remove old test databases"
import sys
import pymongo
client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)
for name in client.list_database_names():
    if name.startswith("wc_test_"):
        client.drop_database(name)
PY
}

cmd_test() {
  cmd_install
  trap stop_started_here EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_services "$USER_TEST_MONGODB_URI"
  reset_test_vhost
  drop_old_test_databases
  export_doubles_env
  test_go_programs
  cmake_build "$TEST_BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DWAVECOM_SANITIZE=ON -DWAVECOM_WERROR=ON

  export WAVECOM_TEST_AMQP_URL=${USER_TEST_AMQP_URL:-amqp://guest:guest@$LOOPBACK:$RABBITMQ_PORT/wavecom_test}
  export WAVECOM_TEST_MONGODB_URI=${USER_TEST_MONGODB_URI:-mongodb://$LOOPBACK:$FERRETDB_PORT}
  export WAVECOM_TEST_MAILDIR=${WAVECOM_TEST_MAILDIR:-$MAILDIR}
  export WAVECOM_TEST_SMTP_PORT=${WAVECOM_TEST_SMTP_PORT:-$SMTP_CATCHER_PORT}
  export WAVECOM_TEST_RABBITMQCTL=${WAVECOM_TEST_RABBITMQCTL:-$BIN_DIR/rabbitmqctl}
  export WAVECOM_TEST_PROMTOOL=${WAVECOM_TEST_PROMTOOL:-$BIN_DIR/promtool}
  export WAVECOM_TEST_DEPLOY_VALIDATE=${WAVECOM_TEST_DEPLOY_VALIDATE:-$DEPLOY_VALIDATE_BIN}
  export WAVECOM_BUILD_DIR=$TEST_BUILD_DIR
  # Undefined behaviour fails a test instead of scrolling past in its output.
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

  local rc=0
  ctest --test-dir "$TEST_BUILD_DIR" --output-on-failure --timeout 600 --no-tests=error "$@" || rc=$?
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ $# -eq 0 ]] || shift
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    test) cmd_test "$@" ;;
    install) cmd_install ;;
    services) cmd_services ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
