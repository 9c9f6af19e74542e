# shellcheck shell=bash
# deploy/stack.sh services, down and status: RabbitMQ, PostgreSQL and FerretDB, the SMTP catcher and
# the provider test doubles, started on loopback, stopped and reported on. Sourced by deploy/stack.sh.

# --- the provider test doubles (loadtest/doubles): fake Twilio, FCM, APNs and webhook receiver

# Every worker child signs its own APNs provider token, as separate servers sharing one key do; the
# double still refuses a connection that changes its token within 20 minutes, which is what a client
# that re-signed per request would do. The per-key limit would refuse the second child.
start_doubles() {
  mkdir -p "$DOUBLES_DIR"
  spawn doubles "$DOUBLES_BIN" \
    -control-addr "$LOOPBACK:$DOUBLES_CONTROL_PORT" -twilio-addr "$LOOPBACK:$DOUBLES_TWILIO_PORT" \
    -fcm-addr "$LOOPBACK:$DOUBLES_FCM_PORT" -apns-addr "$LOOPBACK:$DOUBLES_APNS_PORT" \
    -webhook-addr "$LOOPBACK:$DOUBLES_WEBHOOK_PORT" -vonage-addr "$LOOPBACK:$DOUBLES_VONAGE_PORT" \
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

# --- RabbitMQ, PostgreSQL and FerretDB, the SMTP catcher

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
  # pg_stat_statements keeps each statement's calls, time, rows and buffers: what FerretDB asks of
  # PostgreSQL, which loadtest/pg_stats.py reads (deploy/ferretdb/postgresql.sql creates its view).
  local settings=(-c max_connections=200 -c shared_preload_libraries=pg_stat_statements)
  # Sized for the million-notification database of loadtest/reads.sh (docs/ARCHITECTURE.md §10):
  # its notifications table and indexes take 1.6 GB and the counters 0.36 GB, against 128 MB of
  # buffers by default. Measured there (loadtest/ANALYSIS.md): under the dashboards PostgreSQL
  # asked the kernel for 476 pages/s instead of 5,452 and its backends stopped writing out dirty
  # buffers, but the CPU per notification did not change, nor did it at 20,000 notifications.
  # Checkpoints are spaced out because each one makes the next change of every page log the whole
  # page. fsync, synchronous_commit and full_page_writes keep their defaults (on): nothing here
  # trades durability for speed.
  settings+=(-c shared_buffers=3GB -c effective_cache_size=12GB -c maintenance_work_mem=256MB
    -c max_wal_size=4GB -c min_wal_size=1GB -c checkpoint_timeout=15min -c random_page_cost=1.1)
  spawn postgres "${AS_POSTGRES[@]}" "$bin/postgres" -D "$POSTGRES_DIR/data" -h "$LOOPBACK" \
    -p "$POSTGRES_PORT" -k "$POSTGRES_DIR" "${settings[@]}"
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

# The SMTP catcher is aiosmtpd's Mailbox handler (deploy/stack/smtp_catcher.py adds a hard bounce
# for recipients named bounce*@): every message lands as one file in a Maildir, which tests read
# back directly. Mailpit was the alternative (web UI), but the Go module proxy refuses
# github.com/axllent/mailpit ("not available"), and its UI needs an npm build anyway.
# The second catcher is the email channel's second relay (WAVECOM_SMTP2_HOST), with a Maildir of
# its own, so a test sees which relay delivered.
start_smtp_catcher() {
  spawn smtp-catcher env PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/deploy/stack" /usr/bin/python3 \
    -m aiosmtpd -n -l "$LOOPBACK:$SMTP_CATCHER_PORT" -c smtp_catcher.Catcher "$MAILDIR"
}

start_smtp_catcher2() {
  spawn smtp-catcher2 env PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/deploy/stack" /usr/bin/python3 \
    -m aiosmtpd -n -l "$LOOPBACK:$SMTP2_CATCHER_PORT" -c smtp_catcher.Catcher "$MAILDIR2"
}

# Starts RabbitMQ, the SMTP catcher, the provider doubles and FerretDB, the latter only when the
# MongoDB URI the user gave (the argument) is empty: a user who points us at a real MongoDB needs no
# FerretDB.
start_services() {
  local user_mongodb_uri=$1
  make_state_dirs
  if cluster_enabled; then
    start_rabbitmq_cluster
  else
    write_rabbitmqctl_wrapper
    ensure_service rabbitmq start_rabbitmq "$RMQ_DIR/log/$RABBITMQ_NODE.log" \
      "$RABBITMQ_PORT" "$RABBITMQ_MGMT_PORT"
  fi
  if [[ -z $user_mongodb_uri ]]; then
    [[ -x $FERRETDB_BIN ]] || die "$FERRETDB_BIN is missing; run: deploy/stack.sh install"
    if [[ $FERRETDB_BACKEND == postgresql ]]; then
      ensure_service postgres start_postgres "" "$POSTGRES_PORT"
      ensure_ferretdb_database
    fi
    ensure_service ferretdb start_ferretdb "" "$FERRETDB_PORT"
  fi
  ensure_service smtp-catcher start_smtp_catcher "" "$SMTP_CATCHER_PORT"
  ensure_service smtp-catcher2 start_smtp_catcher2 "" "$SMTP2_CATCHER_PORT"
  ensure_doubles
}

cmd_services() {
  start_services "$USER_MONGODB_URI"
  cmd_status
}

# --- down

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
  stop_components smtp-catcher smtp-catcher2 ferretdb doubles
  stop_components postgres
  stop_rabbitmq
  stop_rabbitmq_cluster
  stop_components epmd
  rm -f "$RUN_DIR"/*.pid
  say "stopped"
}

# --- status

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
  cluster_status_lines
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
  status_line smtp-catcher2 "$(port_state smtp "$SMTP2_CATCHER_PORT"); mails in ${MAILDIR2#"$ROOT"/}"
  status_line doubles "$(doubles_state)"
  status_line api "$(port_state http "${WAVECOM_API_PORT:-5000}")"
  status_line worker ""
}
