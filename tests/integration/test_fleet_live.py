"""A fleet against a real `gate serve` (gevent workers): hundreds of streams, a stalled reader, slow
clients, the host's stream cap. Functional checks with generous bounds; the timed figures are in
benchmarks/fleet.py."""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.conftest import Served, start_gate
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


def _address(served: Served) -> tuple[str, int]:
    where = urlsplit(served.url)
    return where.hostname or "127.0.0.1", where.port or 80


def open_stream(
    served: Served, token: str, path: str = "/api/v1/sdk/stream?patches=1", **options: int
) -> socket.socket:
    sock = socket.socket()
    for option, value in options.items():
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, option), value)
    sock.connect(_address(served))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: gate\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def first_snapshot(sock: socket.socket, timeout: float = 10) -> bytes:
    """Read up to the end of the stream's first snapshot event (the body is chunked: sizes between)."""
    data = read_until(sock, b"event: snapshot", timeout)
    while b"\n\n" not in data.partition(b"event: snapshot")[2]:
        data += read_until(sock, b"\n\n", timeout)
    return data


def test_hundreds_of_streams_each_get_a_change_as_a_patch(served: Served) -> None:
    assert served.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
    sdk = served.token("fleet", "sdk")
    streams = [open_stream(served, sdk) for _ in range(300)]
    try:
        for sock in streams:
            assert first_snapshot(sock).startswith(b"HTTP/1.1 200")
        assert served.call("POST", "/api/v1/features/checkout/kill", json={"reason": "fleet drill"}).ok
        selector = selectors.DefaultSelector()
        for sock in streams:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, b"")
        reached: set[socket.socket] = set()
        deadline = time.monotonic() + 10
        while len(reached) < len(streams) and time.monotonic() < deadline:
            for key, _ in selector.select(0.1):
                seen = key.data + key.fileobj.recv(65536)  # type: ignore[union-attr]
                selector.modify(key.fileobj, selectors.EVENT_READ, seen[-200:])
                if b"event: patch" in seen and b'"killed":true' in seen:
                    reached.add(key.fileobj)  # type: ignore[arg-type]
        assert len(reached) == len(streams)
    finally:
        for sock in streams:
            sock.close()


def test_a_stream_never_read_is_dropped_and_the_others_go_on(database_url: str, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2, env={"GATE_STREAM_SEND_TIMEOUT": "1"})
    try:
        for i in range(150):  # whole snapshots of about 10 KB
            assert served.call("PUT", f"/api/v1/features/f{i:03d}/criteria", json=FeatureBuilder(f"f{i:03d}").build())
        sdk = served.token("fleet", "sdk")
        # a reader that stops at once, with a tiny window: the server's writes back up within a few events
        stalled = open_stream(served, sdk, "/api/v1/sdk/stream", SO_RCVBUF=1024)
        reader = open_stream(served, sdk)
        first_snapshot(reader)
        for n in range(40):
            action = "revive" if n % 2 else "kill"
            body = {} if n % 2 else {"reason": "drill"}
            started = time.monotonic()
            assert served.call("POST", f"/api/v1/features/f000/{action}", json=body).ok
            assert b"event: patch" in read_until(reader, b"event: patch", 5)
            assert time.monotonic() - started < 2  # the stalled one never holds the others up
        time.sleep(2)
        stalled.settimeout(10)
        total = 0
        while chunk := stalled.recv(65536):  # what was queued, then the end: the server let it go
            total += len(chunk)
        assert total > 0
        stalled.close()
        reader.close()
    finally:
        served.stop()


def test_slow_headers_are_dropped_and_cost_the_others_nothing(served: Served) -> None:
    slow = []
    for _ in range(50):
        sock = socket.create_connection(_address(served))
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        slow.append(sock)
    try:
        for _ in range(20):
            started = time.monotonic()
            assert requests.get(served.url + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 1
        started = time.monotonic()
        sock = slow[0]
        sock.settimeout(15)
        closed = False
        while time.monotonic() - started < 15:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if sock.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - started < 12  # headers must arrive within the 5 s keep-alive
    finally:
        for sock in slow:
            sock.close()


def test_the_host_holds_at_most_its_cap_each_token_its_share_and_a_gone_client_frees_its_slot(
    database_url: str, tmp_path: Path
) -> None:
    served = start_gate(database_url, tmp_path, workers=2, env={"GATE_MAX_STREAMS": "4"})  # a token: 2 (half)
    try:
        fleet, other, third = (served.token(name, "sdk") for name in ("fleet", "other", "third"))

        def refused(token: str) -> requests.Response:
            return requests.get(
                served.url + "/api/v1/sdk/stream", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )

        mine = [open_stream(served, fleet) for _ in range(2)]
        for sock in mine:
            assert first_snapshot(sock).startswith(b"HTTP/1.1 200")
        greedy = refused(fleet)  # one token cannot take every slot
        assert greedy.status_code == 503 and greedy.headers["Retry-After"] == "5"
        assert greedy.json()["detail"].startswith("this token holds its share of the streams (2)")
        theirs = [open_stream(served, other) for _ in range(2)]
        for sock in theirs:
            assert first_snapshot(sock).startswith(b"HTTP/1.1 200")
        full = refused(third)
        assert full.status_code == 503 and full.json()["title"] == "Too many streams"
        assert full.json()["detail"].startswith("this host holds all the streams it may (4)")
        mine.pop().close()  # a client goes away: its slot is free within a second or two, not at the 15 s keepalive
        gone = time.monotonic()
        again = None
        while time.monotonic() - gone < 5:
            again = open_stream(served, fleet)
            if read_until(again, b"\r\n", 5).startswith(b"HTTP/1.1 200"):
                break
            again.close()
            again = None
            time.sleep(0.1)
        assert again is not None and time.monotonic() - gone < 3
        for sock in [*mine, *theirs, again]:
            sock.close()
    finally:
        served.stop()
