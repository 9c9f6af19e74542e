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
# WAVECOM_RABBITMQ_NODES=3 deploy/stack.sh up runs a 3-node RabbitMQ cluster instead of one node
# (deploy/stack/cluster.sh); `test` always uses the single node.
#
# Everything the stack writes lives under .wavecom/ (gitignored): run/*.pid, log/*.log, rabbitmq/,
# rabbitmq-cluster/ (the cluster's nodes),
# postgres/ (FerretDB's storage), ferretdb/ (its socket, or its SQLite files), maildir/ (every mail
# the catcher received), doubles/ (the credentials the provider test doubles generated), bin/,
# dev.env.
# Every service listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# One file per job; all are read before any runs, since the jobs call each other.
# shellcheck source=deploy/stack/settings.sh
. "$ROOT/deploy/stack/settings.sh"
# shellcheck source=deploy/stack/common.sh
. "$ROOT/deploy/stack/common.sh"
# shellcheck source=deploy/stack/install.sh
. "$ROOT/deploy/stack/install.sh"
# shellcheck source=deploy/stack/build.sh
. "$ROOT/deploy/stack/build.sh"
# shellcheck source=deploy/stack/services.sh
. "$ROOT/deploy/stack/services.sh"
# shellcheck source=deploy/stack/cluster.sh
. "$ROOT/deploy/stack/cluster.sh"
# shellcheck source=deploy/stack/run.sh
. "$ROOT/deploy/stack/run.sh"
# shellcheck source=deploy/stack/test.sh
. "$ROOT/deploy/stack/test.sh"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
