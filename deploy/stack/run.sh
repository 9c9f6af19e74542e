# shellcheck shell=bash
# deploy/stack.sh up: the API and the worker pool against the services, with a dev tenant and key.
# Sourced by deploy/stack.sh.

# Exports the configuration of the API and the worker, keeping whatever the user already set.
export_app_env() {
  : "${WAVECOM_MONGODB_URI:=mongodb://$LOOPBACK:$FERRETDB_PORT}"
  : "${WAVECOM_MONGODB_DB:=wavecom}"
  if cluster_enabled; then
    # Every node of the cluster, and a replica of each quorum queue on each of them.
    : "${WAVECOM_AMQP_URL:=$(cluster_amqp_urls)}"
    : "${WAVECOM_QUORUM_GROUP_SIZE:=$RABBITMQ_NODE_COUNT}"
  fi
  : "${WAVECOM_AMQP_URL:=amqp://guest:guest@$LOOPBACK:$RABBITMQ_PORT/}"
  : "${WAVECOM_QUORUM_GROUP_SIZE:=0}"
  : "${WAVECOM_SMTP_HOST:=$LOOPBACK}"
  : "${WAVECOM_SMTP_PORT:=$SMTP_CATCHER_PORT}"
  # The email channel's second relay: the second catcher.
  : "${WAVECOM_SMTP2_HOST:=$LOOPBACK}"
  : "${WAVECOM_SMTP2_PORT:=$SMTP2_CATCHER_PORT}"
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
  : "${WAVECOM_WEBHOOK_ALLOW_LOOPBACK:=1}"
  export WAVECOM_MONGODB_URI WAVECOM_MONGODB_DB WAVECOM_AMQP_URL WAVECOM_QUORUM_GROUP_SIZE WAVECOM_SMTP_HOST WAVECOM_SMTP_PORT \
    WAVECOM_SMTP2_HOST WAVECOM_SMTP2_PORT \
    WAVECOM_API_HOST WAVECOM_API_PORT WAVECOM_TWILIO_URL WAVECOM_TWILIO_ACCOUNT_SID \
    WAVECOM_TWILIO_AUTH_TOKEN WAVECOM_TWILIO_FROM WAVECOM_FCM_URL WAVECOM_FCM_SERVICE_ACCOUNT_FILE \
    WAVECOM_APNS_URL WAVECOM_APNS_KEY_FILE WAVECOM_APNS_KEY_ID WAVECOM_APNS_TEAM_ID WAVECOM_APNS_TOPIC \
    WAVECOM_PROVIDER_CA_FILE WAVECOM_WEBHOOK_ALLOW_HTTP WAVECOM_WEBHOOK_ALLOW_LOOPBACK
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
  local mongo=$WAVECOM_MONGODB_URI mgmt_port=$RABBITMQ_MGMT_PORT
  if cluster_enabled; then mgmt_port=$(cluster_mgmt_port 1); fi
  [[ -n $USER_MONGODB_URI ]] || mongo="$mongo (FerretDB 1.24, data in ${FERRETDB_DATA#"$ROOT"/})"
  cat <<EOF

WaveCom is up.
  API             $API_URL
  RabbitMQ        $WAVECOM_AMQP_URL   (management UI http://$LOOPBACK:$mgmt_port/, guest/guest)
  Database        $mongo
  SMTP catcher    smtp://$LOOPBACK:$SMTP_CATCHER_PORT, every mail lands as a file in $MAILDIR/new/
                  (a recipient bounce*@... is refused: 550 5.1.1)
  second relay    smtp://$LOOPBACK:$SMTP2_CATCHER_PORT, mail in $MAILDIR2/new/
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
