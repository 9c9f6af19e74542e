#!/usr/bin/env bash
# loadtest/rabbitmq_ceiling.sh: what the local RabbitMQ itself sustains for the kind of message
# WaveCom publishes (persistent, to a quorum queue, with publisher confirms), so that the intake
# figures can be stated as a fraction of the broker's own limit.
#
#   loadtest/rabbitmq_ceiling.sh [--duration S] [--producers N] [--size BYTES] [--confirms C]
#
# It runs RabbitMQ PerfTest (resolved from Maven Central with Maven, loadtest/perftest/pom.xml, into
# .wavecom/perftest/lib; Java and Maven are installed with apt-get when missing) against the running
# local broker (deploy/stack.sh services) in a vhost of its own, with one consumer draining the
# queue so that it stays short, as our workers keep ours. It prints ONE summary line and writes
# loadtest/results/rabbitmq_ceiling.json and .md. The vhost is deleted at exit.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DURATION=30
PRODUCERS=1
SIZE=256
CONFIRMS=200
RESULTS=$LT_ROOT/loadtest/results
LIB=$LT_ROOT/.wavecom/perftest/lib
AMQP_BASE=${WAVECOM_LOADTEST_AMQP_BASE:-amqp://guest:guest@127.0.0.1:5672}
COMMAND="loadtest/rabbitmq_ceiling.sh $*"

lt_parse_options lt_header_help --duration=DURATION --producers=PRODUCERS --size=SIZE \
  --confirms=CONFIRMS --results=RESULTS -- "$@"
for v in DURATION PRODUCERS SIZE CONFIRMS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v,,} must be a positive whole number, not '${!v}'"
done

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  lt_apt_install openjdk-17-jre-headless maven
fi
if ! compgen -G "$LIB/perf-test-*.jar" >/dev/null; then
  printf '==> resolving RabbitMQ PerfTest from Maven Central into %s\n' "${LIB#"$LT_ROOT"/}" >&2
  mvn -q -B -f "$LT_ROOT/loadtest/perftest/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIB" -DincludeScope=runtime >&2 || die "mvn could not resolve PerfTest"
fi

STAMP=$(date +%Y%m%d-%H%M%S)
VHOST=wc_bench_ceiling_${STAMP//-/_}
OUT=$LT_ROOT/.wavecom/loadtest/ceiling-$STAMP
mkdir -p "$OUT" "$RESULTS"
trap 'lt_vhost_delete "$VHOST"' EXIT
lt_vhost_fresh "$VHOST"

printf '==> PerfTest: %s producer(s), 1 consumer, %s-byte persistent messages, quorum queue, up to %s unconfirmed, %s s\n' \
  "$PRODUCERS" "$SIZE" "$CONFIRMS" "$DURATION" >&2
java -cp "$LIB/*" com.rabbitmq.perf.PerfTest --uri "$AMQP_BASE/$VHOST" -x "$PRODUCERS" -y 1 \
  -u ceiling -qa x-queue-type=quorum -f persistent -c "$CONFIRMS" -s "$SIZE" -z "$DURATION" \
  -ad false >"$OUT/perftest.log" 2>&1 || die "PerfTest failed (see $OUT/perftest.log)"

"$LT_PYTHON" - "$OUT/perftest.log" "$RESULTS" "$COMMAND" "$PRODUCERS" "$SIZE" "$CONFIRMS" "$DURATION" \
  "$("$LT_RABBITMQCTL" -q version 2>/dev/null || echo unknown)" <<'PY'
import json, os, re, subprocess, sys, time
log, results, command, producers, size, confirms, duration, version = sys.argv[1:]
text = open(log).read()
def avg(label):
    m = re.search(rf"{label} rate avg: (\d+) msg/s", text)
    if not m:
        sys.exit(f"error: no '{label} rate avg' in {log}")
    return int(m.group(1))
def percentiles(label):
    m = re.search(rf"{label} latency min/median/75th/95th/99th (\d+)/(\d+)/(\d+)/(\d+)/(\d+) µs", text)
    return dict(zip(("min", "p50", "p75", "p95", "p99"), (int(v) / 1000 for v in m.groups()))) if m else None
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
result = {
    "benchmark": "rabbitmq_ceiling",
    "meta": {"time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "commit": commit,
             "command": command, "cpus": os.cpu_count(), "rabbitmq": version},
    "config": {"producers": int(producers), "consumers": 1, "message_bytes": int(size),
               "max_unconfirmed": int(confirms), "duration_s": int(duration),
               "queue": "quorum", "delivery": "persistent", "confirms": True},
    "published_per_s": avg("sending"), "consumed_per_s": avg("receiving"),
    "confirm_latency_ms": percentiles("confirm"),
}
with open(os.path.join(results, "rabbitmq_ceiling.json"), "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
c = result["confirm_latency_ms"] or {}
md = [f"### RabbitMQ alone: persistent messages with confirms, {result['meta']['time']}", "",
      f"`{command.strip()}` — RabbitMQ PerfTest 2.22.1 against RabbitMQ {version} on this machine "
      f"({result['meta']['cpus']} cores), commit {commit}.", "",
      "| figure | value |", "|---|---|",
      f"| published and confirmed | {result['published_per_s']:,} msg/s |",
      f"| consumed | {result['consumed_per_s']:,} msg/s |",
      f"| confirm latency p50 / p95 / p99 | {c.get('p50', 0):.1f} / {c.get('p95', 0):.1f} / {c.get('p99', 0):.1f} ms |",
      f"| set-up | {producers} producer(s), 1 consumer, {size}-byte persistent messages, one quorum queue, up to {confirms} unconfirmed per producer, {duration} s |",
      ""]
with open(os.path.join(results, "rabbitmq_ceiling.md"), "w") as f:
    f.write("\n".join(md))
print(f"rabbitmq_ceiling: {result['published_per_s']} msg/s published+confirmed, "
      f"{result['consumed_per_s']} msg/s consumed, confirm p99 {c.get('p99', 0):.1f} ms "
      f"({producers} producer(s), {size} B, quorum, {duration} s)")
PY
