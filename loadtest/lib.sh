# shellcheck shell=bash
# loadtest/lib.sh: the shell the benchmark scripts share. Source it first: it turns on strict mode
# (set -euo pipefail) for the script, defines paths and functions, and starts nothing.
#
# The processes a script starts are remembered (LT_API_PID, LT_WORKER_PID) so that its EXIT trap
# can stop exactly those, by pid, with lt_stop_services.

set -euo pipefail

LT_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
LT_RABBITMQCTL=${WAVECOM_LOADTEST_RABBITMQCTL:-$LT_ROOT/.wavecom/bin/rabbitmqctl}
LT_DOUBLES_DIR=$LT_ROOT/.wavecom/doubles
LT_PYTHON=/usr/bin/python3
LT_API_PID=
LT_WORKER_PID=
LT_CHILD_PID=

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# Fails with a pointer to --help unless option $1 was given a value ($2).
lt_need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }

# Prints the running script's opening comment, the lines after `#!` up to the first that is not a
# comment, without their `# `: the --help of a script that documents itself at its top.
lt_header_help() {
  awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "${BASH_SOURCE[-1]}"
}

# Reads a script's options into its variables, from a table of SPECs: `--OPTION=VARIABLE` takes a
# value (`--OPTION VALUE` sets VARIABLE), `--OPTION=VARIABLE=VALUE` is a switch that sets VARIABLE
# to VALUE. -h and --help run HELP (a function or command) and exit 0; anything else is an error.
lt_parse_options() { # HELP SPEC... -- ARG...
  local help=$1 spec
  local -A lt_option_spec=()
  shift
  while [[ $1 != -- ]]; do
    spec=$1
    lt_option_spec[${spec%%=*}]=${spec#*=}
    shift
  done
  shift
  while (($#)); do
    [[ $1 == -h || $1 == --help ]] && { "$help"; exit 0; }
    spec=${lt_option_spec[$1]:-}
    [[ -n $spec ]] || die "unknown argument '$1' (see --help)"
    if [[ $spec == *=* ]]; then
      printf -v "${spec%%=*}" '%s' "${spec#*=}"
    else
      lt_need_value "$@"
      printf -v "$spec" '%s' "$2"
      shift
    fi
    shift
  done
}

# Fails naming the first VARIABLE whose value is not a whole number (0, 1, 2, ...).
lt_need_whole_numbers() { # VARIABLE...
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "${v,,} must be a whole number, not '${!v}'"
  done
}

# Runs FUNCTION when the script exits, Ctrl-C and SIGTERM included (they become exits 130, 143).
lt_on_exit() { # FUNCTION
  # shellcheck disable=SC2064 # the function's name is fixed now, on purpose
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# At exit: drops the benchmark's database when DROP is 1, else says it is left; nothing when the
# API never started (nothing was written).
lt_drop_or_keep_database() { # URI DB DROP
  if [[ -z $LT_API_PID ]]; then
    return 0
  elif (($3)); then
    lt_drop_database "$1" "$2"
  else
    printf 'note: the database %s is left in place (--drop-db drops it)\n' "$2" >&2
  fi
}

# Installs the Debian packages PKG... with apt-get (through sudo unless root); for the tools only
# a benchmark needs, which deploy/stack.sh does not install for everyone.
lt_apt_install() { # PKG...
  local sudo_cmd=()
  ((EUID == 0)) || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
    die "could not install $* with apt-get"
}

# Builds the three programs in DIR as a Release build without sanitizers (what is measured).
# WAVECOM_LOADTEST_PREBUILT=1 uses DIR as it is instead (the scenario tests run the scripts small
# on the sanitized test build; their figures mean nothing, their reconciliation does).
lt_build() { # DIR
  if [[ ${WAVECOM_LOADTEST_PREBUILT:-0} == 1 ]]; then
    [[ -x $1/api/wavecom-api && -x $1/worker/wavecom-worker && -x $1/ctl/wavecomctl ]] ||
      die "WAVECOM_LOADTEST_PREBUILT=1 but $1 holds no built wavecom-api, wavecom-worker, wavecomctl"
    return 0
  fi
  cmake -S "$LT_ROOT" -B "$1" -DCMAKE_BUILD_TYPE=Release -DWAVECOM_SANITIZE=OFF >/dev/null ||
    die "cmake could not configure $1"
  cmake --build "$1" -j"$(nproc)" --target wavecom-api wavecom-worker wavecomctl >/dev/null ||
    die "the build in $1 failed (run: cmake --build $1)"
}

# Names this run after the time it starts and makes its folder: LT_STAMP (YYYYmmdd-HHMMSS),
# LT_RUN_NAME (wc_bench_NAME_YYYYmmdd_HHMMSS: its database and vhost) and LT_OUT
# (.wavecom/loadtest/FOLDER-LT_STAMP: its logs and raw outputs).
lt_name_run() { # NAME FOLDER
  LT_STAMP=$(date +%Y%m%d-%H%M%S)
  # shellcheck disable=SC2034 # read by the scripts that source this file
  LT_RUN_NAME=wc_bench_$1_${LT_STAMP//-/_}
  LT_OUT=$LT_ROOT/.wavecom/loadtest/$2-$LT_STAMP
  mkdir -p "$LT_OUT"
}

# A RabbitMQ virtual host of the script's own, empty: deleted first if an earlier run left it.
lt_vhost_fresh() { # VHOST
  [[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
  "$LT_RABBITMQCTL" -q delete_vhost "$1" >/dev/null 2>&1 || true
  "$LT_RABBITMQCTL" -q add_vhost "$1" >/dev/null || die "rabbitmqctl add_vhost $1 failed"
  "$LT_RABBITMQCTL" -q set_permissions -p "$1" guest '.*' '.*' '.*' >/dev/null ||
    die "rabbitmqctl set_permissions -p $1 failed"
}

lt_vhost_delete() { # VHOST
  "$LT_RABBITMQCTL" -q delete_vhost "$1" >/dev/null 2>&1 || true
}

# Drops DB; only ever called on a database the calling script created.
lt_drop_database() { # URI DB
  "$LT_PYTHON" -c "import pymongo,sys; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])" \
    "$1" "$2" 2>/dev/null || true
}

# Points the worker's providers at the loopback test doubles, as deploy/stack.sh up does, keeping
# whatever the caller set already.
lt_export_provider_env() {
  : "${WAVECOM_SMTP_HOST:=127.0.0.1}"
  : "${WAVECOM_SMTP_PORT:=${WAVECOM_SMTP_CATCHER_PORT:-1025}}"
  : "${WAVECOM_TWILIO_URL:=http://127.0.0.1:4010}"
  : "${WAVECOM_TWILIO_ACCOUNT_SID:=AC0123456789abcdef0123456789abcdef}"
  : "${WAVECOM_TWILIO_AUTH_TOKEN:=wavecom-dev-twilio-auth-token}"
  : "${WAVECOM_TWILIO_FROM:=+15005550006}"
  : "${WAVECOM_FCM_URL:=http://127.0.0.1:4020}"
  : "${WAVECOM_FCM_SERVICE_ACCOUNT_FILE:=$LT_DOUBLES_DIR/fcm-service-account.json}"
  : "${WAVECOM_APNS_URL:=https://127.0.0.1:4030}"
  : "${WAVECOM_APNS_KEY_FILE:=$LT_DOUBLES_DIR/apns-key.p8}"
  : "${WAVECOM_APNS_KEY_ID:=ABC123DEFG}"
  : "${WAVECOM_APNS_TEAM_ID:=DEF123GHIJ}"
  : "${WAVECOM_APNS_TOPIC:=com.wavecom.dev}"
  : "${WAVECOM_PROVIDER_CA_FILE:=$LT_DOUBLES_DIR/tls-cert.pem}"
  : "${WAVECOM_WEBHOOK_ALLOW_HTTP:=1}"
  : "${WAVECOM_WEBHOOK_ALLOW_LOOPBACK:=1}" # the doubles are on loopback
  export WAVECOM_SMTP_HOST WAVECOM_SMTP_PORT WAVECOM_TWILIO_URL WAVECOM_TWILIO_ACCOUNT_SID \
    WAVECOM_TWILIO_AUTH_TOKEN WAVECOM_TWILIO_FROM WAVECOM_FCM_URL WAVECOM_FCM_SERVICE_ACCOUNT_FILE \
    WAVECOM_APNS_URL WAVECOM_APNS_KEY_FILE WAVECOM_APNS_KEY_ID WAVECOM_APNS_TEAM_ID \
    WAVECOM_APNS_TOPIC WAVECOM_PROVIDER_CA_FILE WAVECOM_WEBHOOK_ALLOW_HTTP WAVECOM_WEBHOOK_ALLOW_LOOPBACK
}

# Succeeds when nothing accepts connections on 127.0.0.1:PORT.
lt_port_free() { # PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts wavecom-api from BUILD (its configuration: the exported WAVECOM_* variables) and waits
# until GET /api/health answers on WAVECOM_API_PORT.
lt_start_api() { # BUILD LOG
  "$1/api/wavecom-api" >>"$2" 2>&1 &
  LT_API_PID=$!
  local i
  for ((i = 0; i < 120; i++)); do
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$WAVECOM_API_PORT/api/health" 2>/dev/null && return 0
    kill -0 "$LT_API_PID" 2>/dev/null || die "wavecom-api exited during start (see $2)"
    sleep 0.5
  done
  die "wavecom-api did not answer /api/health within 60 s (see $2)"
}

lt_start_worker() { # BUILD LOG
  "$1/worker/wavecom-worker" >>"$2" 2>&1 &
  LT_WORKER_PID=$!
}

# The pids of PID's children, one per line (none when it has gone).
lt_children() { # PID
  cat "/proc/$1/task/"*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

# Sends SIGTERM to PID (a child of this shell), waits up to SECONDS for it, then SIGKILLs it and
# the children it had. Never fails.
lt_stop_pid() { # PID SECONDS
  local pid=$1 deadline=$((SECONDS + $2)) kids
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kids=$(lt_children "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    printf 'warning: pid %s did not stop within %s s; killing it\n' "$pid" "$2" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local kid
  for kid in $kids; do
    kill -0 "$kid" 2>/dev/null && kill -KILL "$kid" 2>/dev/null
  done
  return 0
}

# Runs COMMAND in the background as LT_CHILD_PID and waits for it, returning its exit status: a long
# step run so lets a signal to the script act at once (bash runs a trap only after a foreground
# command has finished). The script's EXIT trap stops LT_CHILD_PID when it is set.
lt_run_child() { # COMMAND...
  "$@" &
  LT_CHILD_PID=$!
  local rc=0
  wait "$LT_CHILD_PID" || rc=$?
  LT_CHILD_PID=
  return "$rc"
}

# Succeeds when the worker's LOG says that one of its children was killed or exited.
lt_worker_child_died() { # LOG
  grep -q '"worker-master".*"msg":"worker [0-9]* (pid [0-9]*) \(killed by signal\|exited with code\)' "$1"
}

# Appends a line `epoch role pid VmRSS_kB VmHWM_kB` for the API, the worker master and each worker
# child this script started (role api, worker-master or worker-child) to FILE; processes that are
# not running are left out.
lt_sample_rss() { # FILE
  local now pid role line
  now=$(date +%s)
  # shellcheck disable=SC2046 # one word per child pid
  for pid in $LT_API_PID $LT_WORKER_PID $([[ -n $LT_WORKER_PID ]] && lt_children "$LT_WORKER_PID"); do
    case $pid in
      "$LT_API_PID") role=api ;;
      "$LT_WORKER_PID") role=worker-master ;;
      *) role=worker-child ;;
    esac
    line=$(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r != "") print r, h }' \
      "/proc/$pid/status" 2>/dev/null) || continue
    [[ -n $line ]] && printf '%s %s %s %s\n' "$now" "$role" "$pid" "$line" >>"$1"
  done
  return 0
}

# Stops the worker (drain first) and then the API, those this script started.
lt_stop_services() { # DRAIN_SECONDS
  lt_stop_pid "$LT_WORKER_PID" "$1"
  lt_stop_pid "$LT_API_PID" 30
}

# Creates a tenant and a key with ROLE; sets LT_TENANT and LT_KEY.
lt_tenant_key() { # BUILD NAME ROLE
  LT_TENANT=$("$1/ctl/wavecomctl" tenant create --name "$2" 2>/dev/null) ||
    die "wavecomctl tenant create failed"
  LT_KEY=$("$1/ctl/wavecomctl" apikey create --tenant "$LT_TENANT" --role "$3" 2>/dev/null) ||
    die "wavecomctl apikey create failed"
  [[ $LT_TENANT =~ ^[[:alnum:]_-]+$ && -n $LT_KEY ]] || die "wavecomctl printed no usable tenant or key"
}

# Exports the configuration every benchmark's API and worker run with: database DB, the RabbitMQ
# vhost VHOST, the API on 127.0.0.1:PORT, WORKERS worker processes, the providers at the doubles.
# What the caller exported already wins.
lt_export_run_env() { # MONGODB_URI DB VHOST PORT WORKERS
  export WAVECOM_MONGODB_URI=$1
  export WAVECOM_MONGODB_DB=$2
  export WAVECOM_AMQP_URL=${WAVECOM_LOADTEST_AMQP_BASE:-amqp://guest:guest@127.0.0.1:5672}/$3
  export WAVECOM_API_HOST=127.0.0.1
  export WAVECOM_API_PORT=$4
  export WAVECOM_API_PER_IP_LIMIT=${WAVECOM_API_PER_IP_LIMIT:-1024}
  # An open loop at a low rate leaves a connection idle between requests; keep it open.
  export WAVECOM_API_TIMEOUT_SECONDS=${WAVECOM_API_TIMEOUT_SECONDS:-300}
  export WAVECOM_LOG_LEVEL=${WAVECOM_LOG_LEVEL:-warn}
  export WAVECOM_WORKER_PROCESSES=$5
  export WAVECOM_DRAIN_GRACE_SECONDS=${WAVECOM_DRAIN_GRACE_SECONDS:-30}
}

# The Release build in BUILD, and provider doubles of the run's own built from loadtest/doubles/
# into OUT and started on ports BASE to BASE+50 (lt_start_private_doubles): what the benchmarks
# that take a double down or make one hostile need first.
lt_build_with_private_doubles() { # BUILD OUT BASE
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  say "building $1 (Release, no sanitizers) and the doubles"
  lt_build "$1"
  (cd "$LT_ROOT/loadtest/doubles" && "$go" build -o "$2/wavecom-doubles" .) ||
    die "building the doubles in loadtest/doubles failed"
  lt_start_private_doubles "$2/wavecom-doubles" "$3" "$2/doubles"
}

# Starts provider doubles of the benchmark's own (BIN) on ports BASE (control) to BASE+50, with
# credentials of their own written into DIR (the shared service-account file must not be touched:
# a doubles instance rewrites its token_uri to its own address), and points the providers at them.
# Sets LT_DOUBLES_PID, LT_CONTROL and LT_WEBHOOK_URL.
lt_start_private_doubles() { # BIN BASE DIR
  local bin=$1 b=$2 dd=$3 i
  mkdir -p "$dd"
  "$bin" -control-addr "127.0.0.1:$b" -twilio-addr "127.0.0.1:$((b + 10))" \
    -fcm-addr "127.0.0.1:$((b + 20))" -apns-addr "127.0.0.1:$((b + 30))" \
    -webhook-addr "127.0.0.1:$((b + 40))" -vonage-addr "127.0.0.1:$((b + 50))" \
    -fcm-service-account-out "$dd/fcm-service-account.json" \
    -apns-key-out "$dd/apns-key.p8" -tls-cert-out "$dd/tls-cert.pem" \
    -twilio-sid AC0123456789abcdef0123456789abcdef -twilio-token wavecom-dev-twilio-auth-token \
    -apns-key-id ABC123DEFG -apns-team-id DEF123GHIJ -apns-max-token-updates 0 2>>"$dd/doubles.log" &
  LT_DOUBLES_PID=$!
  LT_CONTROL=http://127.0.0.1:$b
  LT_WEBHOOK_URL=http://127.0.0.1:$((b + 40))
  for ((i = 0; i < 100; i++)); do
    curl -fsS -m 2 -o /dev/null "$LT_CONTROL/_control/info" 2>/dev/null && break
    kill -0 "$LT_DOUBLES_PID" 2>/dev/null || die "the private doubles exited during start (see $dd/doubles.log)"
    sleep 0.2
  done
  curl -fsS -m 2 -o /dev/null "$LT_CONTROL/_control/info" || die "the private doubles did not start"
  export WAVECOM_TWILIO_URL=http://127.0.0.1:$((b + 10))
  export WAVECOM_VONAGE_URL=http://127.0.0.1:$((b + 50))
  export WAVECOM_FCM_URL=http://127.0.0.1:$((b + 20))
  export WAVECOM_FCM_SERVICE_ACCOUNT_FILE=$dd/fcm-service-account.json
  export WAVECOM_APNS_URL=https://127.0.0.1:$((b + 30))
  export WAVECOM_APNS_KEY_FILE=$dd/apns-key.p8
  export WAVECOM_PROVIDER_CA_FILE=$dd/tls-cert.pem
}

# Gives the webhook double at CONTROL the webhook secret of TENANT (read from database DB), so that
# it checks the signature of every webhook sent to a path under PREFIX.
lt_register_webhook_secret() { # CONTROL MONGODB_URI DB TENANT PREFIX
  local secret
  secret=$("$LT_PYTHON" -c "import pymongo,sys; print(pymongo.MongoClient(sys.argv[1])[sys.argv[2]].tenants.find_one({'_id': sys.argv[3]})['webhookSecret'])" \
    "$2" "$3" "$4") || die "could not read the tenant's webhook secret"
  curl -fsS -m 10 -o /dev/null -X POST "$1/_control/webhook/secrets" \
    --data-binary "{\"prefix\":\"$5\",\"secret\":\"$secret\"}" ||
    die "could not register the webhook secret with the double"
}

# Sets every HTTP double at CONTROL to LATENCY_MS of latency and FAILURE_RATE transient failures
# (503 with Retry-After: 1), nothing else failing.
lt_configure_doubles() { # CONTROL LATENCY_MS FAILURE_RATE
  local p body
  for p in twilio fcm apns webhook; do
    body="{\"latency_ms\":$2,\"latency_jitter_ms\":0,\"failure_rate\":$3,"
    body+="\"failure_kind\":\"503\",\"down\":false,\"fail_first_n\":0,\"retry_after_s\":1"
    # A new worker signs a new APNs provider token per child: let the key introduce them.
    [[ $p == apns ]] && body+=",\"max_token_updates\":0"
    curl -fsS -m 10 -o /dev/null -X POST --data-binary "$body}" "$1/_control/$p/config" ||
      die "could not configure the $p double"
  done
}
