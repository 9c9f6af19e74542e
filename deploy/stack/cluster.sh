# shellcheck shell=bash
# deploy/stack.sh's RabbitMQ cluster: with WAVECOM_RABBITMQ_NODES=N (2 to 5; 1, the default, is the
# single node of services.sh) `up` and `services` start N RabbitMQ nodes on loopback instead, joined
# into one cluster, and point the API and the worker at all of them. Sourced by deploy/stack.sh.
#
# Node i is rabbit-<i>@localhost, with AMQP on RABBITMQ_CLUSTER_PORT+i-1 (5681 up), management on
# 10000 above it and Erlang distribution on 20000 above it, so nothing collides with the single
# node (5672, 15672, 25672); its data and logs are in .wavecom/rabbitmq-cluster/node-<i>/. The nodes
# and their rabbitmqctl share one HOME, hence one Erlang cookie, written before the first start.

cluster_enabled() {
  check_cluster_size
  ((RABBITMQ_NODE_COUNT > 1))
}

cluster_node_name() { printf 'rabbit-%s@localhost\n' "$1"; }
cluster_amqp_port() { printf '%s\n' $((RABBITMQ_CLUSTER_PORT + $1 - 1)); }
cluster_mgmt_port() { printf '%s\n' $((RABBITMQ_CLUSTER_PORT + $1 - 1 + 10000)); }
cluster_dist_port() { printf '%s\n' $((RABBITMQ_CLUSTER_PORT + $1 - 1 + 20000)); }

# Fills CLUSTER_ENV with the environment of node I, shared by its server and its rabbitmqctl.
cluster_node_env() {
  local i=$1 dir=$RMQ_CLUSTER_DIR/node-$1 name
  name=$(cluster_node_name "$i")
  CLUSTER_ENV=(
    "HOME=$RMQ_CLUSTER_DIR"
    "RABBITMQ_NODENAME=$name"
    "RABBITMQ_NODE_IP_ADDRESS=$LOOPBACK"
    "RABBITMQ_NODE_PORT=$(cluster_amqp_port "$i")"
    "RABBITMQ_DIST_PORT=$(cluster_dist_port "$i")"
    "ERL_EPMD_ADDRESS=$LOOPBACK"
    "RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf"
    "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf"
    "RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
    "RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins"
    "RABBITMQ_MNESIA_BASE=$dir/mnesia"
    "RABBITMQ_LOG_BASE=$dir/log"
    "RABBITMQ_PID_FILE=$dir/$name.pid"
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  )
}

# rabbitmqctl against node I: cluster_rmqctl I ARGS...
cluster_rmqctl() {
  local i=$1
  shift
  cluster_node_env "$i"
  env "${CLUSTER_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmqctl" "$@"
}

check_cluster_size() {
  [[ $RABBITMQ_NODE_COUNT =~ ^[1-5]$ ]] ||
    die "WAVECOM_RABBITMQ_NODES=$RABBITMQ_NODE_COUNT: must be 1 (one node) or 2 to 5 (a cluster)"
}

# The cookie every node and rabbitmqctl of the cluster authenticate with; made once, kept.
write_cluster_cookie() {
  local cookie=$RMQ_CLUSTER_DIR/.erlang.cookie
  mkdir -p "$RMQ_CLUSTER_DIR"
  [[ -s $cookie ]] && return 0
  (
    umask 077
    od -An -N20 -tx1 /dev/urandom | tr -d ' \n' >"$cookie.new"
  ) || die "could not write the cluster's Erlang cookie"
  chmod 400 "$cookie.new"
  mv "$cookie.new" "$cookie"
}

write_cluster_node_config() {
  local i=$1 dir=$RMQ_CLUSTER_DIR/node-$1
  mkdir -p "$dir/mnesia" "$dir/log"
  echo '# Deliberately empty: keeps /etc/rabbitmq/rabbitmq-env.conf away from this node.' \
    >"$dir/rabbitmq-env.conf"
  cat >"$dir/rabbitmq.conf" <<CONF
# Written by deploy/stack.sh on every start; edit deploy/stack/cluster.sh, not this file.
listeners.tcp.default = $LOOPBACK:$(cluster_amqp_port "$i")
management.tcp.ip = $LOOPBACK
management.tcp.port = $(cluster_mgmt_port "$i")
CONF
  echo '[rabbitmq_management].' >"$dir/enabled_plugins"
}

# Component names of the nodes (run/rabbitmq-<i>.pid, log/rabbitmq-<i>.log); each runs rabbitmq-server.
for ((node_index = 1; node_index <= 5; node_index++)); do
  CMDLINE_MATCH["rabbitmq-$node_index"]=rabbitmq-server
done
unset node_index

start_cluster_node() {
  cluster_node_env "$CLUSTER_NODE"
  write_cluster_node_config "$CLUSTER_NODE"
  spawn "rabbitmq-$CLUSTER_NODE" env "${CLUSTER_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmq-server"
}

# True when node I already counts the first node among its cluster's running nodes.
cluster_node_joined() {
  local first
  first=$(cluster_node_name 1)
  cluster_rmqctl "$1" -q cluster_status --formatter json 2>/dev/null |
    /usr/bin/python3 -c 'import json, sys; sys.exit(0 if sys.argv[1] in json.load(sys.stdin).get("running_nodes", []) else 1)' "$first"
}

# Starts the nodes that are not running, then joins every node but the first to the first (a node
# that is already a member is left alone; joining wipes a node's own data, it has none yet).
start_rabbitmq_cluster() {
  local i first
  check_cluster_size
  write_cluster_cookie
  first=$(cluster_node_name 1)
  for ((i = 1; i <= RABBITMQ_NODE_COUNT; i++)); do
    CLUSTER_NODE=$i
    ensure_service "rabbitmq-$i" start_cluster_node "$RMQ_CLUSTER_DIR/node-$i/log/$(cluster_node_name "$i").log" \
      "$(cluster_amqp_port "$i")" "$(cluster_mgmt_port "$i")"
  done
  for ((i = 2; i <= RABBITMQ_NODE_COUNT; i++)); do
    cluster_node_joined "$i" && continue
    say "rabbitmq-$i: joining the cluster of $first"
    if ! { cluster_rmqctl "$i" -q await_startup && cluster_rmqctl "$i" -q stop_app &&
      cluster_rmqctl "$i" -q join_cluster "$first" && cluster_rmqctl "$i" -q start_app; } \
      >>"$LOG_DIR/rabbitmq-$i.log" 2>&1; then
      fail_start "rabbitmq-$i" "could not join the cluster of $first"
    fi
  done
  say "rabbitmq: a cluster of $RABBITMQ_NODE_COUNT nodes on AMQP ports $(cluster_amqp_port 1)-$(cluster_amqp_port "$RABBITMQ_NODE_COUNT")"
}

# Stops every node that runs, the last first, the orderly way and then by signal. The first node
# stops last, so that it starts first next time without waiting for the others (a RabbitMQ node
# waits at start for the peers that outlived it).
stop_rabbitmq_cluster() {
  local i pid
  for ((i = 5; i >= 1; i--)); do
    if pid=$(live_pid "rabbitmq-$i"); then
      say "stopping rabbitmq-$i (pid $pid) with rabbitmqctl stop"
      cluster_node_env "$i"
      timeout 60 env "${CLUSTER_ENV[@]}" "$RABBITMQ_LIBEXEC/rabbitmqctl" stop \
        "$RMQ_CLUSTER_DIR/node-$i/$(cluster_node_name "$i").pid" >>"$LOG_DIR/rabbitmq-$i.log" 2>&1 ||
        warn "rabbitmqctl stop failed; signalling rabbitmq-$i instead"
    fi
    [[ -f $RUN_DIR/rabbitmq-$i.pid ]] && stop_components "rabbitmq-$i"
  done
  return 0
}

# The URL list of the cluster's nodes, for WAVECOM_AMQP_URL.
cluster_amqp_urls() {
  local i urls=()
  for ((i = 1; i <= RABBITMQ_NODE_COUNT; i++)); do
    urls+=("amqp://guest:guest@$LOOPBACK:$(cluster_amqp_port "$i")/")
  done
  (
    IFS=,
    printf '%s\n' "${urls[*]}"
  )
}

cluster_status_lines() {
  local i
  for ((i = 1; i <= 5; i++)); do
    [[ $i -le $RABBITMQ_NODE_COUNT || -f $RUN_DIR/rabbitmq-$i.pid ]] || continue
    cluster_enabled || [[ -f $RUN_DIR/rabbitmq-$i.pid ]] || continue
    status_line "rabbitmq-$i" "$(port_state amqp "$(cluster_amqp_port "$i")"); $(port_state management "$(cluster_mgmt_port "$i")")"
  done
}
