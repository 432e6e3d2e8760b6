"""A fleet of SDK streams against one `gate serve` (2 workers, its defaults), measured from another process.

Opens N real TCP streams (default 10,000) with a standard-library client on one selector, then:
- times one change (a kill) from the API call to its patch event on every stream: p50, p95, max;
- times /healthz and GET /api/v1/features (p50, p99) while the streams are open, and again while 1,000
  slow clients trickle their request headers (one line every 2 s, reconnecting when dropped);
- reports the server's resident memory (master and workers);
- as the baseline of the same run, counts the streams the former serving model (`--worker-class gthread`,
  32 threads a worker) accepts out of 200.
With --database-url (PostgreSQL), also times a change made through a second `gate serve` sharing the
database to the streams of the first (cross-host, p95).

Targets (issue 11): 10,000 streams under 1 GiB; change p95 < 1 s, max < 2 s; API p99 < 100 ms;
cross-host p95 < 100 ms.

    .venv/bin/python benchmarks/fleet.py [--streams 10000] [--slow 1000] [--database-url URL]

With --spread N, the cost of the fleet to the server instead, read by clients over N processes
(benchmarks/fleet_spread.py): streams held, change to all p50/p95/max, server CPU per change, memory per
stream (issue 26).
"""

from __future__ import annotations

import argparse
import http.client
import json
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

from _fleet import Fleet, kill_and_revive, lift_open_files, percentile
from _server import Server

HERE = Path(__file__).resolve()


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# ---- helpers run as their own processes, so the fleet's loop does not share their interpreter ----------


def probe(port: int, token: str, count: int) -> None:
    """Time /healthz and GET /api/v1/features, alternately, each on a kept-alive connection."""
    times: dict[str, list[float]] = {"/healthz": [], "/api/v1/features": []}
    conns = {path: http.client.HTTPConnection("127.0.0.1", port, timeout=10) for path in times}
    for _ in range(count):
        for path, conn in conns.items():
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            times[path].append(time.perf_counter() - started)
            assert response.status == 200, (path, response.status)
        time.sleep(0.01)
    print(json.dumps(times))


def trickle(port: int, count: int, seconds: float) -> None:
    """`count` slow clients: each sends a request line, then one header every 2 s; reconnects when dropped."""
    lift_open_files()
    selector = selectors.DefaultSelector()
    sent: dict[socket.socket, float] = {}

    def connect() -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_READ)
        sent[sock] = 0.0

    for _ in range(count):
        connect()
    reconnects, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(0.2):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:  # the server gave up on it: come back, as a slowloris does
                selector.unregister(sock)
                sent.pop(sock, None)
                sock.close()
                reconnects += 1
                connect()
        now = time.monotonic()
        for sock, last in list(sent.items()):
            if now - last >= 2.0:
                try:
                    sock.send(b"GET /healthz HTTP/1.1\r\n" if last == 0.0 else b"X-Slow: 1\r\n")
                    sent[sock] = now
                except OSError:
                    pass
    print(json.dumps({"reconnects": reconnects}))


def helper(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE), *map(str, args)], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
    )


def api_report(server: Server, fleet: Fleet) -> str:
    """Time the API from another process while the fleet keeps reading its streams."""
    probe_process = helper("--probe", server.port, server.admin, 300)
    while probe_process.poll() is None:
        fleet.pump(0.05)
    times = json.loads(probe_process.communicate()[0])
    p99 = max(percentile(v, 0.99) for v in times.values())
    return (
        ", ".join(
            f"{path} p50 {percentile(v, 0.5) * 1000:.1f} ms p99 {percentile(v, 0.99) * 1000:.1f} ms"
            for path, v in times.items()
        )
        + f"  (target p99 < 100 ms: {verdict(p99 < 0.1)})"
    )


# ---- the run -----------------------------------------------------------------------------------------


def gthread_baseline(attempts: int = 200) -> int:
    server = Server(workers=2, worker_class="gthread")
    try:
        fleet = Fleet(server.port, server.token("sdk"))
        fleet.open(attempts, timeout=60)
        accepted = fleet.open_streams
        fleet.close()
        return accepted
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--slow", type=int, default=1_000)
    parser.add_argument("--changes", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL: also measure a second host")
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--trickle", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--spread", type=int, default=0, help="the cost per stream, clients over N processes")
    parser.add_argument(
        "--reader",
        choices=("batch", "wake"),
        default="batch",
        help="with --spread: clients read every 2 ms (batch), or sleep in epoll and are woken by each send (wake)",
    )
    args = parser.parse_args()
    if args.spread:
        from fleet_spread import run

        return run(args.streams, args.spread, args.changes, args.database_url, args.reader)
    if args.probe:
        return probe(int(args.probe[0]), args.probe[1], int(args.probe[2]))
    if args.trickle:
        return trickle(int(args.trickle[0]), int(args.trickle[1]), float(args.trickle[2]))
    lift_open_files()

    baseline = gthread_baseline()
    print(f"baseline, gthread (the former default): {baseline} of 200 streams accepted")

    server = Server(workers=2, database_url=args.database_url)
    try:
        doc = "feature: fleet\nname: Fleet\nowner: bench\ncriteria: []\n"
        server.session.put(
            f"{server.url}/api/v1/features/fleet/criteria", data=doc, headers={"Content-Type": "application/yaml"}
        ).raise_for_status()
        token = server.token("sdk")
        idle_memory = server.memory_mib()
        fleet = Fleet(server.port, token)
        started = time.monotonic()
        fleet.open(args.streams)
        print(
            f"streams: {fleet.open_streams} open of {args.streams} in {time.monotonic() - started:.1f} s "
            f"({fleet.refused} refused, {fleet.broken} broken)  "
            f"(target all: {verdict(fleet.open_streams == args.streams)})"
        )
        fleet.idle(2)
        memory = server.memory_mib()
        print(
            f"server memory: {memory:.0f} MiB with the streams open ({idle_memory:.0f} MiB idle)  "
            f"(target < 1024 MiB: {verdict(memory < 1024)})"
        )
        change = kill_and_revive(server, "fleet")
        for i in range(args.changes):
            delays = fleet.time_change(change, b"event: patch")
            p50, p95 = percentile(delays, 0.5), percentile(delays, 0.95)
            print(
                f"change {i + 1}: reached {sum(d < 99 for d in delays)} streams; p50 {p50 * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms  "
                f"(target p95 < 1 s, max < 2 s: {verdict(p95 < 1 and delays[-1] < 2)})"
            )
            fleet.idle(1)

        print(f"API with the streams open: {api_report(server, fleet)}")

        slow = helper("--trickle", server.port, args.slow, 20)
        fleet.idle(3)  # the slow clients are all connected and trickling
        report = api_report(server, fleet)
        while slow.poll() is None:
            fleet.pump(0.05)
        reconnects = json.loads(slow.communicate()[0])["reconnects"]
        print(f"API with {args.slow} slow clients as well: {report} (slow clients dropped and back: {reconnects})")
        print(f"streams still open: {fleet.open_streams}")

        fleet.close()
        if args.database_url:  # a small fleet, so that the figure is the hop between hosts, not the fan-out
            other = Server(workers=2, database_url=args.database_url, admin=server.admin)
            small = Fleet(server.port, token)
            try:
                small.open(100)
                # the big fleet's sockets are closed: a write to each draws a reset and the next one fails, so
                # two changes let the server drop them before the hop between hosts is timed
                for _ in range(2):
                    small.time_change(kill_and_revive(other, "fleet"), b"event: patch")
                    small.idle(1)
                delays: list[float] = []
                for _ in range(10):
                    delays += small.time_change(kill_and_revive(other, "fleet"), b"event: patch")
                    small.idle(0.2)
                print(
                    f"cross-host: changes through a second server reached {len(delays) // 10} streams each; "
                    f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p95 {percentile(delays, 0.95) * 1000:.0f} ms  "
                    f"(target p95 < 100 ms: {verdict(percentile(delays, 0.95) < 0.1)})"
                )
            finally:
                small.close()
                other.stop()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
