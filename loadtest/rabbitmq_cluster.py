"""A RabbitMQ cluster of a benchmark's own on loopback, for as long as this process lives.

    rabbitmq_cluster.py --nodes 3 --url-out FILE

Starts NODES nodes on free ports in a temporary directory, joined into one cluster (the private
cluster of the fault tests, tests/integration/private_services.py), writes their URL list (the
form of WAVECOM_AMQP_URL) to FILE once every node runs, and waits. SIGTERM or SIGINT stops and
removes the cluster; the nodes also die with this process if it is killed (they are started with
a parent-death signal), so a benchmark that dies leaves no node behind.
"""
import argparse
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from private_services import PrivateRabbitMQCluster  # noqa: E402 (after the path it needs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--url-out", required=True)
    args = parser.parse_args()
    if not 2 <= args.nodes <= 5:
        parser.error("--nodes must be 2 to 5")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    cluster = PrivateRabbitMQCluster(size=args.nodes)
    try:
        cluster.start()
        tmp = args.url_out + ".new"
        with open(tmp, "w") as f:
            f.write(cluster.url + "\n")
        os.replace(tmp, args.url_out)
        stop.wait()
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
