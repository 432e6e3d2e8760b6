"""The fleet benchmarks' client: SSE streams on raw non-blocking sockets (fleet.py, fleet_spread.py)."""

from __future__ import annotations

import os
import resource
import select
import selectors
import socket
import time
from typing import Any

STREAM = "/api/v1/sdk/stream?patches=1"


def lift_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Fleet:
    """N SSE clients multiplexed on one selector: connect, ask for the stream, read every event."""

    def __init__(self, port: int, token: str, source: str = "") -> None:
        self.port, self.source = port, source  # source: a loopback address of its own (28,000 ports each)
        self.request = (
            f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.selector = selectors.DefaultSelector()
        self.state: dict[socket.socket, dict[str, object]] = {}
        self.open_streams = 0
        self.refused = 0
        self.broken = 0
        self.marker = b""
        self.seen: dict[socket.socket, float] = {}

    def open(self, n: int, *, batch: int = 250, timeout: float = 300) -> None:
        """Open n streams, at most `batch` handshakes at a time; each counts once its first snapshot is in."""
        deadline = time.monotonic() + timeout
        started = 0
        while (self.open_streams + self.refused + self.broken) < n and time.monotonic() < deadline:
            pending = started - (self.open_streams + self.refused + self.broken)
            while started < n and pending < batch:
                sock = socket.socket()
                sock.setblocking(False)
                if self.source:
                    sock.bind((self.source, 0))
                sock.connect_ex(("127.0.0.1", self.port))
                self.state[sock] = {"phase": "connecting", "buffer": b""}
                self.selector.register(sock, selectors.EVENT_WRITE)
                started += 1
                pending += 1
            self.pump(0.05)

    def pump(self, timeout: float) -> None:
        for key, events in self.selector.select(timeout):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            state = self.state[sock]
            if events & selectors.EVENT_WRITE and state["phase"] == "connecting":
                try:
                    sock.sendall(self.request)
                except OSError:
                    self._drop(sock, broken=True)
                    continue
                state["phase"] = "head"
                self.selector.modify(sock, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._drop(sock, broken=state["phase"] != "refused")
                continue
            self._feed(sock, state, data)

    def _feed(self, sock: socket.socket, state: dict[str, object], data: bytes) -> None:
        phase = state["phase"]
        if phase in ("head", "first"):
            buffer = state["buffer"] + data  # type: ignore[operator]
            if phase == "head" and b"\r\n" in buffer:
                if not buffer.startswith(b"HTTP/1.1 200"):
                    state["phase"] = "refused"
                    self.refused += 1
                    self._drop(sock, broken=False)
                    return
                phase = state["phase"] = "first"
            if phase == "first" and b"\n\n" in buffer.partition(b"event: snapshot")[2]:
                state["phase"] = "streaming"
                self.open_streams += 1
                buffer = b""
            state["buffer"] = buffer[-64:] if state["phase"] == "streaming" else buffer
            return
        if self.marker and sock not in self.seen:
            window = state["buffer"] + data  # type: ignore[operator]
            if self.marker in window:
                self.seen[sock] = time.monotonic()
            state["buffer"] = window[-64:]

    def _drop(self, sock: socket.socket, *, broken: bool) -> None:
        state = self.state.pop(sock, None)
        if state is not None and state["phase"] == "streaming":
            self.open_streams -= 1
            broken = True
        if broken:
            self.broken += 1
        self.selector.unregister(sock)
        sock.close()

    def time_change(self, change: object, marker: bytes, timeout: float = 10) -> list[float]:
        """Run `change()` and return, per open stream, the seconds until `marker` reached it."""
        self.marker, self.seen = marker, {}
        waiting = self.open_streams
        started = time.monotonic()
        change()  # type: ignore[operator]
        while len(self.seen) < waiting and time.monotonic() - started < timeout:
            self.pump(0.01)
        return sorted(t - started for t in self.seen.values()) + [float("inf")] * (waiting - len(self.seen))

    def watch(self, marker: bytes, timeout: float, nap: float = 0.0) -> dict[int, float]:
        """When `marker` reached each open stream: a lean loop (the system's epoll, a read, a search) so
        that the client's cost per event stays small beside the server's it measures.

        With `nap`, the loop reads what has come, then sleeps `nap` seconds instead of waiting in epoll:
        a reader asleep in epoll makes each loopback send wake it, work the kernel bills to the sender
        that a client on another host never puts on the server. Times are then late by up to `nap`."""
        streaming = {sock.fileno(): sock for sock, state in self.state.items() if state["phase"] == "streaming"}
        poller = select.epoll()
        for fd in streaming:
            poller.register(fd, select.EPOLLIN)
        seen: dict[int, float] = {}
        tails = dict.fromkeys(streaming, b"")
        read, now, deadline = os.read, time.monotonic, time.monotonic() + timeout
        try:
            while len(seen) < len(streaming) and now() < deadline:
                ready = poller.poll(0 if nap else 0.005)
                if nap and not ready:
                    time.sleep(nap)
                for fd, _ in ready:
                    data = read(fd, 65536)
                    if fd not in seen:
                        if marker in tails[fd] + data:
                            seen[fd] = now()
                        else:
                            tails[fd] = data[-len(marker) :]
        finally:
            poller.close()
        return seen

    def idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump(0.05)

    def close(self) -> None:
        for sock in list(self.state):
            self.selector.unregister(sock)
            sock.close()
        self.state.clear()


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def kill_and_revive(server: Any, key: str) -> object:
    state = {"killed": bool(server.session.get(f"{server.url}/api/v1/features/{key}").json()["state"]["killed"])}

    def change() -> None:
        action = "revive" if state["killed"] else "kill"
        body = {} if state["killed"] else {"reason": "fleet benchmark"}
        server.session.post(f"{server.url}/api/v1/features/{key}/{action}", json=body).raise_for_status()
        state["killed"] = not state["killed"]

    return change
