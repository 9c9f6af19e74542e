# shellcheck shell=bash
# deploy/stack.sh's settings: where the stack keeps its state, what CMakeLists.txt produces, the
# ports and versions of the services, and the Debian packages they need. Sourced by deploy/stack.sh.

STATE=$ROOT/.wavecom
RUN_DIR=$STATE/run
LOG_DIR=$STATE/log
BIN_DIR=$STATE/bin
MAILDIR=$STATE/maildir
MAILDIR2=$STATE/maildir2 # the second SMTP relay's catcher
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
DOUBLES_VONAGE_PORT=${WAVECOM_DOUBLES_VONAGE_PORT:-4050}
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
# WAVECOM_RABBITMQ_NODES=3: a cluster of three nodes instead of the single one (deploy/stack/cluster.sh).
RABBITMQ_NODE_COUNT=${WAVECOM_RABBITMQ_NODES:-1}
RABBITMQ_CLUSTER_PORT=${WAVECOM_RABBITMQ_CLUSTER_PORT:-5681}
RMQ_CLUSTER_DIR=$STATE/rabbitmq-cluster
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
SMTP2_CATCHER_PORT=${WAVECOM_SMTP2_CATCHER_PORT:-1026}

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
  [smtp-catcher2]=aiosmtpd
  [doubles]=wavecom-doubles
  [api]=wavecom-api
  [worker]=wavecom-worker
)

# Services this invocation started (not reused), so that `test` can stop exactly those afterwards.
STARTED_HERE=()
