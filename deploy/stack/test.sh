# shellcheck shell=bash
# deploy/stack.sh test: the services in a clean state for the tests, the sanitizer build, the Go
# tests and ctest. Sourced by deploy/stack.sh.

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
  if cluster_enabled; then
    # The suite's tests share one node; the cluster's fault test starts a cluster of its own.
    say "WAVECOM_RABBITMQ_NODES=$RABBITMQ_NODE_COUNT is for up and services; the tests use the single node"
    RABBITMQ_NODE_COUNT=1
  fi
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
  export WAVECOM_TEST_MAILDIR2=${WAVECOM_TEST_MAILDIR2:-$MAILDIR2}
  export WAVECOM_TEST_SMTP2_PORT=${WAVECOM_TEST_SMTP2_PORT:-$SMTP2_CATCHER_PORT}
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
