"""The fleet's cost to the server, read by a client that cannot be the bottleneck (issue 26's benchmark).

One asyncio or selector process spends about 20 µs per event it reads: at 10,000 streams it would hide a
fast server. Here the streams are spread over several client processes, each a `fleet.Fleet` (raw
non-blocking sockets on one epoll selector), told what to do over a pipe. For each change (a kill, then a
revive) every client notes when the patch event reached each of its streams, on the machine-wide monotonic
clock, so the parent reads one distribution over all streams. Reported:

- streams held (of those asked for; refused beyond the server's cap, broken);
- change to all streams: p50, p95, max, per change and the median of the changes;
- server CPU per change: user + system time of the master and every worker, from /proc, between just
  before the change and the moment the last stream had it, in ms and in µs per stream;
- server memory per stream: resident memory with the streams open, less the idle figure, per stream;
- the floor, in the same run: as many streams, read the same way, held by a process that does nothing but
  write each change to every socket (fleet_floor.py); its changes and Gate's take turns, so that both meet
  the machine in the same state, and Gate's figures are given as multiples of it.

How the clients read (`--reader`): on loopback the kernel does the reader's side of each send (the TCP
receive, and waking a reader asleep in epoll) in the sender's time, so the client's way of reading moves
the server's CPU figure. `batch` (the default) reads whatever has come every 2 ms and never sleeps in
epoll, as a fleet on other hosts costs the server no wake-ups; its times are late by up to 2 ms. `wake`
sleeps in epoll, so a send to an idle reader also pays for waking it (an interrupt to the other core).
Both readers read Gate and the floor alike.

    .venv/bin/python benchmarks/fleet.py --spread 4 [--streams 10000] [--changes 5] [--reader wake]
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from _fleet import Fleet, kill_and_revive, lift_open_files, percentile
from _server import Server

HERE = Path(__file__).resolve()
NAPS = {"batch": 0.002, "wake": 0.0}  # a reader's nap between two reads (see "How the clients read" above)


def client(port: int, token: str, count: int, source: str) -> None:
    """A client process: open `count` streams from `source`, then answer the parent's commands, a line each."""
    lift_open_files()
    fleet = Fleet(port, token, source)
    fleet.open(count)
    say({"open": fleet.open_streams, "refused": fleet.refused, "broken": fleet.broken})
    for line in sys.stdin:
        command = line.strip()
        if command.startswith("arm"):  # the next patch event on each stream is the change to time
            waiting = fleet.open_streams
            say({"armed": waiting})
            seen = fleet.watch(b"event: patch", timeout=15, nap=float(command.split()[1]))
            say({"seen": sorted(seen.values()), "missed": waiting - len(seen)})
        elif command.startswith("idle "):
            fleet.idle(float(command.split()[1]))
            say({"open": fleet.open_streams})
        else:
            break
    fleet.close()


def say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def sdk_token(server: Server, name: str) -> str:
    """A token per client process, as each service of a fleet has its own (one token gets half the cap)."""
    r = server.session.post(f"{server.url}/api/v1/tokens", json={"name": name, "role": "sdk"})
    r.raise_for_status()
    return str(r.json()["secret"])


class Clients:
    """The client processes, each holding its share of the streams."""

    def __init__(self, port: int, tokens: list[str], streams: int, nap: float = 0.0) -> None:
        self.nap = nap
        processes = len(tokens)
        shares = [streams // processes + (1 if i < streams % processes else 0) for i in range(processes)]
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(HERE), str(port), tokens[i], str(share), f"127.0.0.{2 + i}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=HERE.parent,
            )
            for i, share in enumerate(shares)
        ]
        opened = [self.read(p) for p in self.processes]
        self.open = sum(o["open"] for o in opened)
        self.refused = sum(o["refused"] for o in opened)
        self.broken = sum(o["broken"] for o in opened)

    @staticmethod
    def read(process: subprocess.Popen[str]) -> dict[str, Any]:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("a client process ended")
        return json.loads(line)  # type: ignore[no-any-return]

    def tell(self, command: str) -> None:
        for p in self.processes:
            assert p.stdin is not None
            p.stdin.write(command + "\n")
            p.stdin.flush()

    def time_change(self, server: Any, change: Any) -> tuple[list[float], float, int]:
        """Delays of one change to every stream (seconds), the server's CPU for it, and streams missed."""
        self.tell(f"arm {self.nap}")
        for p in self.processes:
            self.read(p)
        cpu, started = server.cpu_seconds(), time.monotonic()
        change()
        results = [self.read(p) for p in self.processes]
        cpu = server.cpu_seconds() - cpu
        delays = sorted(at - started for r in results for at in r["seen"])
        return delays, cpu, sum(r["missed"] for r in results)

    def close(self) -> None:
        self.tell("quit")
        for p in self.processes:
            p.wait(timeout=60)


class Side(NamedTuple):
    """A server measured: its name, the clients holding its streams, its CPU reader, how to change a flag."""

    who: str
    clients: Clients
    server: Any
    change: Any


def run(streams: int, processes: int, changes: int, database_url: str | None = None, reader: str = "batch") -> None:
    lift_open_files()
    server = Server(workers=2, database_url=database_url)
    try:
        doc = "feature: fleet\nname: Fleet\nowner: bench\ncriteria: []\n"
        server.session.put(
            f"{server.url}/api/v1/features/fleet/criteria", data=doc, headers={"Content-Type": "application/yaml"}
        ).raise_for_status()
        time.sleep(2)
        idle = server.memory_mib()
        started = time.monotonic()
        tokens = [sdk_token(server, f"fleet-{i}") for i in range(processes)]
        clients = Clients(server.port, tokens, streams, NAPS[reader])
        print(
            f"streams: {clients.open} held of {streams} over {processes} client processes ({reader} readers) in "
            f"{time.monotonic() - started:.1f} s ({clients.refused} refused, {clients.broken} broken)"
        )
        try:
            cpu, idled = server.cpu_seconds(), time.monotonic()
            clients.tell("idle 15")  # one keepalive period: its one send to every stream counts once
            for p in clients.processes:
                clients.read(p)
            cpu = (server.cpu_seconds() - cpu) / (time.monotonic() - idled)
            print(f"server CPU while nothing changes: {cpu * 1000:.0f} ms a second with the streams open")
            held = server.memory_mib()
            per_stream = (held - idle) * 1024 / max(1, clients.open)
            print(f"server memory: {idle:.0f} MiB idle, {held:.0f} MiB with the streams: {per_stream:.1f} KiB a stream")
            gate = Side("Gate", clients, server, kill_and_revive(server, "fleet"))
            with floor(streams, processes, reader) as the_floor:
                figures = measure([gate] if the_floor is None else [gate, the_floor], changes)
        finally:
            clients.close()
    finally:
        server.stop()
    if "floor" in figures:
        (gate_p95, gate_cpu), (p95, cpu) = figures["Gate"], figures["floor"]
        print(
            f"Gate against the floor, their changes taking turns: p95 {gate_p95 / p95:.2f}x, "
            f"server CPU a change {gate_cpu / max(cpu, 1e-9):.2f}x"
        )


def measure(sides: list[Side], changes: int) -> dict[str, tuple[float, float]]:
    """Time `changes` changes to every stream of each side, the sides taking turns (so that both meet the
    machine as it is at that moment): each change's figures, then each side's medians (p95, CPU a change)."""
    p95s: dict[str, list[float]] = {side.who: [] for side in sides}
    cpus: dict[str, list[float]] = {side.who: [] for side in sides}
    for i in range(changes):
        for side in sides:
            delays, cpu, missed = side.clients.time_change(side.server, side.change)
            p50, p95 = percentile(delays, 0.5), percentile(delays, 0.95)
            p95s[side.who].append(p95)
            cpus[side.who].append(cpu)
            print(
                f"{side.who} change {i + 1}: {len(delays)} streams ({missed} missed); p50 {p50 * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms; server CPU {cpu * 1000:.0f} ms "
                f"({cpu / max(1, len(delays)) * 1e6:.1f} µs a stream)"
            )
            time.sleep(1)
    figures = {}
    for side in sides:
        p95, cpu = statistics.median(p95s[side.who]), statistics.median(cpus[side.who])
        figures[side.who] = (p95, cpu)
        print(
            f"{side.who}: median of {changes} changes at {side.clients.open} streams: p95 {p95 * 1000:.0f} ms, "
            f"server CPU {cpu * 1000:.0f} ms a change ({cpu / max(1, side.clients.open) * 1e6:.1f} µs a stream)"
        )
    return figures


@contextlib.contextmanager
def floor(streams: int, processes: int, reader: str) -> Iterator[Side | None]:
    """The same number of streams, read the same way, held by a process that only sends (fleet_floor.py):
    the machine's own cost. None where one process may not open that many sockets."""
    import resource

    from fleet_floor import FloorServer

    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if streams > files - 100:
        print(f"floor: not measured, one process may open only {files:,} files")
        yield None
        return
    server = FloorServer()
    try:
        clients = Clients(server.port, ["floor"] * processes, streams, NAPS[reader])
        try:
            yield Side("floor", clients, server, server.change)
        finally:
            clients.close()
    finally:
        server.stop()


if __name__ == "__main__":
    client(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4])
