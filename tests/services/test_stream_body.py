"""A stream's events sent straight to its socket as HTTP/1.1 chunks, framed as the server frames its answer."""

from __future__ import annotations

import socket
import threading

from gate.services.sockets import ChunkFrames
from gate.services.streams import Reaper, StreamBody, StreamSlots

KEEPALIVE = b": keepalive\n\n"


def test_after_the_first_event_each_goes_to_the_socket_as_one_chunk_however_big() -> None:
    ours, theirs = socket.socketpair()
    slots = StreamSlots(10)
    assert slots.take(7) is None
    big = b"event: snapshot\ndata: " + b"x" * 1_000_000 + b"\n\n"  # far more than the send buffer holds
    body = StreamBody(
        (e for e in [b"retry: 1000\n\n", KEEPALIVE, big, KEEPALIVE]),
        slots,
        7,
        ours,
        send_timeout=5,
        buffer=4096,
        frames=ChunkFrames(),
    )
    received = bytearray()

    def read() -> None:
        while chunk := theirs.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    handed = list(body)
    body.close()
    ours.close()
    reader.join(10)
    theirs.close()
    # the first goes through the server (it sends the headers with it); the rest it is handed empty
    assert handed == [b"retry: 1000\n\n", b"", b"", b""]
    chunk = b"D\r\n" + KEEPALIVE + b"\r\n"  # 13 bytes: D in hex
    assert bytes(received) == chunk + b"%X\r\n" % len(big) + big + b"\r\n" + chunk
    assert slots.open == 0  # closing gave the slot back


def test_without_frames_or_a_socket_the_server_sends_every_event() -> None:
    events = [b"retry: 1000\n\n", KEEPALIVE]
    slots = StreamSlots(10)
    plain = StreamBody(iter(events), slots, 1, None, send_timeout=5, buffer=4096, frames=ChunkFrames())
    assert list(plain) == events
    ours, theirs = socket.socketpair()
    handed = StreamBody(iter(events), slots, 1, ours, send_timeout=5, buffer=4096)
    assert list(handed) == events
    ours.close(), theirs.close()


def test_each_event_is_framed_once_for_every_stream() -> None:
    frames = ChunkFrames(keep=2)
    event = b"event: patch\ndata: {}\n\n"
    assert frames.of(event) is frames.of(event) and frames.of(event) == b"17\r\n" + event + b"\r\n"
    frames.of(b"a"), frames.of(b"b")  # two newer ones push it out: framed again, the same bytes
    assert frames.of(event) == b"17\r\n" + event + b"\r\n"


def test_the_reaper_finds_only_the_clients_that_hung_up_and_each_once() -> None:
    reaper = Reaper(interval=3600)  # looked at by hand here
    slots = StreamSlots(10)
    pairs = [socket.socketpair() for _ in range(3)]
    bodies = []
    for token, (ours, _) in enumerate(pairs):
        assert slots.take(token) is None
        body = StreamBody((e for e in [KEEPALIVE]), slots, token, ours, send_timeout=5, buffer=4096)
        reaper.watch(body)
        bodies.append(body)
    assert reaper.gone() == []  # every client is there and quiet
    pairs[0][1].close()  # hangs up
    pairs[1][1].sendall(b"GET / HTTP/1.1\r\n")  # says something: still there
    assert reaper.gone() == [bodies[0]]
    assert reaper.gone() == []  # found once
    assert pairs[1][0].recv(100) == b"GET / HTTP/1.1\r\n"  # the server reads its next request
    reaper.watch(bodies[1])  # a kept-alive connection's next stream: the same socket, watched again
    pairs[1][1].close()
    assert reaper.gone() == [bodies[1]]
    for body in bodies:
        body.release()
    assert slots.open == 0
    for ours, theirs in pairs:
        ours.close(), theirs.close()
