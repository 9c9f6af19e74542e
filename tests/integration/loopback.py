"""Waiting on processes that serve on loopback: a free port, whether a port answers, a condition
with a deadline. Plain functions with no configuration, shared by the test harness, the private
services of the fault tests and the benchmarks that start those services."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def parse_queue_depths(listing):
    """{queue: messages} from `rabbitmqctl list_queues --quiet --no-table-headers name messages`."""
    depths = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            depths[parts[0]] = int(parts[1])
    return depths


def tcp_answers(port, timeout=5):
    """True when something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
