"""The floor for the fleet benchmark: the least any server on this machine could spend (issue 26).

One process, nothing but the kernel's work: it answers each stream's request with the head and a first
snapshot event, then, told `change` on stdin, writes one patch event (an HTTP/1.1 chunk of the size Gate
sends) to every open socket in a plain loop, and says `sent`. The same client processes read it as they
read Gate, so the two figures side by side say what Gate costs above the machine's own send.

    python benchmarks/fleet_floor.py   (run by fleet_spread.py; prints its port, then obeys stdin)
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sys
import threading
from pathlib import Path

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
SNAPSHOT = b'event: snapshot\nid: 1\ndata: {"version":1,"rings":[],"flags":{"fleet":{"ring":null}}}\n\n'
PATCH = (
    b'event: patch\nid: %d\ndata: {"base":%d,"version":%d,'
    b'"flags":{"fleet":{"ring":"internal","percent":100,"killed":%s}}}\n\n'
)


def chunk(data: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(data), data)


class Floor:
    """Streams held by a process that does nothing else."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.streams: list[socket.socket] = []
        self.lock = threading.Lock()
        self.version = 1

    def accept(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                conn.close()
                return
            request += data
        conn.sendall(HEAD + chunk(b"retry: 1000\n\n") + chunk(SNAPSHOT))
        conn.setblocking(False)
        with self.lock:
            self.streams.append(conn)

    def change(self) -> None:
        self.version += 1
        framed = chunk(
            PATCH % (self.version, self.version - 1, self.version, b"true" if self.version % 2 else b"false")
        )
        with self.lock:
            streams = list(self.streams)
        for conn in streams:
            with contextlib.suppress(OSError):  # a client gone: nothing to do
                conn.send(framed)


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    floor = Floor()
    threading.Thread(target=floor.accept, daemon=True).start()
    print(floor.listener.getsockname()[1], flush=True)
    for line in sys.stdin:
        if line.strip() == "change":
            floor.change()
            print("sent", flush=True)
        else:
            break
    os._exit(0)


class FloorServer:
    """The floor as fleet_spread.py drives it: a port, a change, CPU time from /proc."""

    def __init__(self) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def change(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("change\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def cpu_seconds(self) -> float:
        from _server import cpu_seconds

        return cpu_seconds([self.process.pid])

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


if __name__ == "__main__":
    main()
