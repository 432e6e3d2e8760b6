"""The worker's one send loop for the streams it holds (gate/services/stream_hub.py), over real sockets and a
real app: what each stream receives, byte for byte as HTTP/1.1 chunks, and when it ends."""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from gate.runtime import runtime
from gate.services.stream_hub import END, StreamHub
from gate.services.streams import StreamEngine
from tests.support import Api, FeatureBuilder

HEAD = b"HTTP/1.1 200 OK\r\n\r\n"


class Client:
    """The far end of a held stream: reads its chunks back into events."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""
        sock.settimeout(5)

    def chunks(self, count: int) -> list[bytes]:
        found: list[bytes] = []
        while len(found) < count:
            size, sep, rest = self.buffer.partition(b"\r\n")
            if sep and len(rest) >= int(size, 16) + 2:
                n = int(size, 16)
                found.append(rest[:n])
                self.buffer = rest[n + 2 :]
                continue
            data = self.sock.recv(65536)
            assert data, f"the stream ended after {found}"
            self.buffer += data
        return found

    def head(self) -> bytes:
        while HEAD not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, self.buffer = self.buffer[: len(HEAD)], self.buffer[len(HEAD) :]
        return head

    def ended(self) -> bool:
        """The answer's last chunk came, then the connection closed."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return self.buffer.endswith(END)
            self.buffer += data


@pytest.fixture
def engine(app: Flask, api: Api) -> Iterator[StreamEngine]:
    api.apply(FeatureBuilder("checkout"))
    engine = runtime(app).streams
    engine.watcher.ensure_running()
    yield engine
    engine.watcher.stop()
    if engine.hub is not None:
        engine.hub.end_all()
    for client in OPEN:
        client.sock.close()
    OPEN.clear()


OPEN: list[Client] = []


def hold(
    engine: StreamEngine,
    token_id: int = 1,
    *,
    patches: bool = True,
    ends_in: float = 600,
    known: int | None = None,
    then: tuple[bytes, ...] = (),
    fd: int | None = None,
) -> Client:
    """A stream the hub holds; `then`: events it sends after the first ones (a comment too large for the
    socket's buffers leaves the stream behind at once); `fd`: the descriptor the hub holds it by."""
    hub = engine.hub
    assert hub is not None
    ours, theirs = socket.socketpair()
    assert engine.slots.take(token_id) is None
    with engine.scope():
        built = engine.snapshots.get(engine.watcher.state[0])
    first = built if known is None else None
    hub.adopt(
        os.dup(ours.fileno()) if fd is None else os.dup2(ours.fileno(), fd),
        HEAD,
        [*engine.opening(first), *then],
        token_id=token_id,
        known=built.version if known is None else known,
        patches=patches,
        ends_in=ends_in,
    )
    ours.close()
    client = Client(theirs)
    OPEN.append(client)
    assert client.head() == HEAD
    return client


def until(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_held_stream_gets_its_first_events_then_each_change_as_its_client_asked(
    engine: StreamEngine, api: Api
) -> None:
    patched, whole = hold(engine, 1), hold(engine, 2, patches=False)
    retry, snapshot = patched.chunks(2)
    assert retry == b"retry: 1000\n\n" and snapshot.startswith(b"event: snapshot\nid: ")
    assert whole.chunks(2)[0] == retry
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    (patch,) = patched.chunks(1)
    (again,) = whole.chunks(1)
    version = engine.watcher.state[0]
    assert patch.startswith(b"event: patch\n") and b'"version":%d' % version in patch.replace(b" ", b"")
    assert again.startswith(b"event: snapshot\nid: %d\n" % version)
    assert engine.hub is not None and len(engine.hub) == 2


def test_a_client_that_has_the_snapshot_gets_no_first_one_and_a_change_before_adoption_is_caught_up(
    engine: StreamEngine, api: Api
) -> None:
    before = engine.watcher.state[0]
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    assert until(lambda: engine.watcher.state[0] > before)
    client = hold(engine, 1, known=before)  # its client is one change behind what the hub has sent
    retry, caught_up = client.chunks(2)
    newest = engine.watcher.state[0]
    assert retry == b"retry: 1000\n\n" and caught_up.startswith(b"event: snapshot\nid: %d\n" % newest)


def test_a_revoked_token_ends_its_streams_and_only_its_own(engine: StreamEngine, api: Api) -> None:
    ids = {t["name"]: t["id"] for t in api.get("/api/v1/tokens").json}
    token_id = ids["sdk"]
    doomed, kept = hold(engine, token_id), hold(engine, ids["admin"])
    doomed.chunks(2), kept.chunks(2)
    open_before = engine.slots.open
    api.delete(f"/api/v1/tokens/{token_id}")
    assert doomed.ended()
    assert until(lambda: engine.slots.open == open_before - 1)
    assert engine.hub is not None and len(engine.hub) == 1  # the other token's stream goes on


def test_a_stream_ends_at_its_deadline_and_a_client_that_hangs_up_frees_its_slot(engine: StreamEngine) -> None:
    short = hold(engine, 1, ends_in=0.3)
    short.chunks(2)
    assert short.ended()
    assert until(lambda: engine.slots.open == 0)  # its slot is given back just after its socket closes
    gone = hold(engine, 2)
    assert engine.slots.open == 1
    gone.sock.close()
    assert until(lambda: engine.slots.open == 0, timeout=2)


def test_each_stream_ends_at_its_own_deadline_the_later_one_too(engine: StreamEngine) -> None:
    early, late = hold(engine, 1, ends_in=0.2), hold(engine, 2, ends_in=0.8)
    started = time.monotonic()
    early.chunks(2)
    late.chunks(2)
    assert early.ended()
    late.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):  # still open once the earlier one ended: the loop looks again later
        late.sock.recv(1)
    late.sock.settimeout(5)
    assert late.ended() and time.monotonic() - started >= 0.8
    assert until(lambda: engine.slots.open == 0)


def test_a_deadline_ends_only_its_own_stream_not_a_later_one_on_the_same_descriptor(engine: StreamEngine) -> None:
    hub = engine.hub
    assert hub is not None
    fd = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 10, 4000)  # one nothing else in the process takes
    first = hold(engine, 1, ends_in=0.6, fd=fd)
    first.chunks(2)
    first.sock.close()  # it hangs up before its deadline
    assert until(lambda: len(hub) == 0)
    second = hold(engine, 2, fd=fd)  # the descriptor is used again, for a stream that ends much later
    assert list(hub._held) == [fd]
    second.chunks(2)
    time.sleep(0.9)  # the first one's deadline has passed
    assert len(hub) == 1
    second.sock.settimeout(0.05)
    with pytest.raises(TimeoutError):
        second.sock.recv(1)


def test_deadlines_of_streams_gone_early_are_swept(engine: StreamEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.services import stream_hub

    monkeypatch.setattr(stream_hub, "SLACK", 0)
    hub = engine.hub
    assert hub is not None
    clients = [hold(engine, i) for i in range(1, 6)]
    for client in clients[:4]:
        client.sock.close()
    assert until(lambda: len(hub) == 1)
    assert len(hub._deadlines) <= 2  # kept within twice the streams held


def test_a_client_that_reads_nothing_for_the_send_timeout_is_dropped_and_the_others_go_on(
    engine: StreamEngine, api: Api
) -> None:
    hub = engine.hub
    assert hub is not None
    hub.buffer, hub.send_timeout = 4096, 0.3
    stalled = hold(engine, 1, then=(b": " + b"x" * 65_536 + b"\n\n",))  # more than the socket's buffers hold
    reader = hold(engine, 2)
    reader.chunks(2)
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    assert until(lambda: len(hub) == 1 and engine.slots.open == 1)  # the stalled one is gone, its slot free
    (event,) = reader.chunks(1)
    assert event.startswith(b"event: patch\n")
    assert not stalled.ended()  # cut off where it stood: its connection closed without the last chunk


def test_a_stream_behind_on_its_socket_catches_up_as_fast_as_its_client_reads(engine: StreamEngine) -> None:
    hub = engine.hub
    assert hub is not None
    hub.buffer = 4096
    large = b": " + b"x" * 524_288 + b"\n\n"  # some seventy socket buffers' worth
    started = time.monotonic()
    client = hold(engine, 1, then=(large,))
    assert client.chunks(3)[2] == large
    # the loop looks at a stream behind every 10 ms (and whenever its socket has room), not once a tick
    assert time.monotonic() - started < 8


def test_one_keepalive_for_all_when_nothing_was_sent(engine: StreamEngine) -> None:
    hub = engine.hub
    assert hub is not None
    hub.keepalive = 0.2
    client = hold(engine, 1)
    assert client.chunks(3)[2] == b": keepalive\n\n"


def test_a_client_that_does_not_read_gets_the_newest_whole_snapshot_never_a_gap(engine: StreamEngine, api: Api) -> None:
    hub = engine.hub
    assert hub is not None
    hub.buffer = 4096
    padding = b": " + b"x" * 65_536 + b"\n\n"  # more than the socket's buffers hold: it is behind at once
    slow = hold(engine, 1, then=(padding,))
    for percent in (10, 20, 30, 40):  # four changes while the client reads nothing
        api.post(
            "/api/v1/features/checkout/promote", json={"ring": "internal", "percent": percent, "override_reason": "t"}
        )
        time.sleep(0.15)
    newest = engine.watcher.state[0]
    assert any(h.pending for h in hub._held.values())  # it is behind
    events = slow.chunks(3)  # retry, the first snapshot, whole, and the comment it was still sending
    assert events[1].startswith(b"event: snapshot\n") and events[1].endswith(b"}}\n\n")
    assert events[2] == padding
    has = int(events[1].split(b"\n")[1][4:])
    applied = 0
    while has != newest:  # each patch starts where the client stands: never a gap
        (event,) = slow.chunks(1)
        kind, ident, data = event.split(b"\n")[:3]
        if kind == b"event: patch":
            assert json.loads(data[6:])["base"] == has, "a patch from a version the client does not have"
        has, applied = int(ident[4:]), applied + 1
    assert applied < 4  # it missed changes while behind: it got the newest, not each one


def test_a_stopping_worker_ends_every_stream(engine: StreamEngine) -> None:
    clients = [hold(engine, i) for i in (1, 2, 3)]
    for client in clients:
        client.chunks(2)
    engine.watcher.stop()
    assert all(client.ended() for client in clients)
    assert until(lambda: engine.slots.open == 0)


def test_a_hub_is_made_for_every_app(app: Flask) -> None:
    assert isinstance(runtime(app).streams.hub, StreamHub)


def test_a_host_runs_enough_workers_for_its_stream_cap_or_says_how_many_it_holds() -> None:
    from gate.cli.serve import stream_capacity

    held = stream_capacity(50_000, 2, 20_000, 1_000, most_workers=8)  # this machine: 20,000 files a process
    assert (held.streams, held.workers, held.per_worker) == (50_000, 3, 18_744)
    assert stream_capacity(20_000, 2, 20_000, 1_000, most_workers=8).workers == 2  # two hold it: as asked
    assert stream_capacity(20_000, 5, 20_000, 1_000, most_workers=8).workers == 5  # never fewer than asked
    small = stream_capacity(50_000, 2, 1_024, 1_000, most_workers=8)  # a tight ulimit: fewer streams
    assert (small.workers, small.beside, small.streams) == (8, 256, 3_723)


def test_a_nudge_wakes_every_process_listening_on_the_host(tmp_path: object) -> None:
    from gate.services.watch import Nudge

    folder = str(tmp_path)
    one, two = Nudge(folder), Nudge(folder)
    one.listen()
    assert not one.wait(0.01)  # nothing yet
    two.bump()
    two.bump()
    assert one.wait(1.0)  # both bytes read at once
    assert not one.wait(0.01)
    (Path(folder) / "999999999").touch()  # a process gone: its name is forgotten at the next bump
    two.bump()
    assert not (Path(folder) / "999999999").exists() and one.wait(1.0)
    one.listen().close()


def test_a_client_ahead_of_the_loop_never_gets_an_older_version(engine: StreamEngine, api: Api) -> None:
    hold(engine, 1).chunks(2)  # the loop runs, at the watcher's version
    ahead = engine.watcher.state[0] + 1  # its view read the row after a change the loop has not seen yet
    client = hold(engine, 2, known=ahead)
    assert client.chunks(1) == [b"retry: 1000\n\n"]  # no catch-up to an older version
    promote = "/api/v1/features/checkout/promote"
    api.post(promote, json={"ring": "internal", "override_reason": "t"})  # the version it has: nothing sent
    api.post(promote, json={"ring": "preview", "override_reason": "t"})
    (event,) = client.chunks(1)
    assert event.split(b"\n")[1] == b"id: %d" % (ahead + 1)


def test_the_loop_sleeps_until_something_happens_and_wakes_at_once_when_it_does(
    engine: StreamEngine, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tick: with a safety net of a minute, a hang-up still frees its slot, a change still reaches the
    streams and a deadline is still kept at once; and while nothing happens the loop makes no pass."""
    hub = engine.hub
    assert hub is not None
    hub.tick = 60.0
    passes: list[float] = []
    step = hub.step
    monkeypatch.setattr(hub, "step", lambda *state: (passes.append(time.monotonic()), step(*state)))
    stays, leaves = hold(engine, 1), hold(engine, 2)
    stays.chunks(2), leaves.chunks(2)
    time.sleep(0.1)
    before = len(passes)
    time.sleep(0.6)
    assert len(passes) == before  # nothing to do: no pass (the 250 ms tick made two)
    open_before, hung_up = engine.slots.open, time.monotonic()
    leaves.sock.close()
    assert until(lambda: engine.slots.open == open_before - 1, timeout=2)
    assert time.monotonic() - hung_up < 2  # not the minute of its safety net
    changed = time.monotonic()
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    assert stays.chunks(1)[0].startswith(b"event: patch\n") and time.monotonic() - changed < 2
    short = hold(engine, 3, ends_in=0.3)  # adopted while the loop sleeps: it wakes for this deadline
    short.chunks(2)
    started = time.monotonic()
    assert short.ended() and time.monotonic() - started < 2


def test_a_client_that_talks_wakes_nobody_and_keeps_its_stream(
    engine: StreamEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its bytes are never read (an SDK stream has nothing to say): they neither end it nor stir the loop."""
    hub = engine.hub
    assert hub is not None
    hub.tick = 60.0
    passes: list[int] = []
    step = hub.step
    monkeypatch.setattr(hub, "step", lambda *state: (passes.append(1), step(*state)))
    talker = hold(engine, 1)
    talker.chunks(2)
    time.sleep(0.1)
    before = len(passes)
    talker.sock.sendall(b"GET /api/v1/sdk/stream HTTP/1.1\r\nHost: gate\r\n\r\n" * 20)
    time.sleep(0.4)
    assert len(passes) == before and len(hub) == 1
    talker.sock.close()
    assert until(lambda: len(hub) == 0, timeout=1)
