# shellcheck shell=bash
# deploy/stack.sh's small helpers: messages, pid files, ports, and starting a process in the
# background so that `down` can find it again. Sourced by deploy/stack.sh.

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
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$BIN_DIR" "$MAILDIR"/{new,cur,tmp} "$MAILDIR2"/{new,cur,tmp} "$RMQ_DIR" "$FERRETDB_DATA"
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
