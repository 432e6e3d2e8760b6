"""One send loop per worker for the SDK streams it holds under gevent (issue 26).

A stream's request is answered as any other: authenticated, its slot taken, its first events built. Then the
worker adopts its connection (a duplicate of the socket's descriptor, so the server can let its own go) and the
request's greenlet, its stack and its request objects are gone. What is left of a stream is a `Held`: the
socket, its token, the version its client has and when it ends. One loop per worker then does for all of
them what a greenlet per stream did:

- a change is framed once (an HTTP/1.1 chunk) and written to each socket in one non-blocking `send`;
- a client that does not read keeps the unsent end of its chunk; it is sent when the socket has room, and a
  client that missed a change meanwhile gets the newest whole snapshot, never a gap (contract 7.2);
- one keepalive comment for all, when nothing was sent for `keepalive` seconds;
- a stream ends (its last chunk, then the socket closes) when its token is revoked or expires, after
  `max_seconds`, or when the worker stops; a client that hung up frees its slot at once.

Between two passes the loop sleeps on its epoll: it wakes when a change is announced (the watcher writes a
byte to the loop's pipe), when a client hangs up or a slow reader's socket has room, or at the next thing
it has to do by the clock (a deadline, the keepalive), and at the latest after `tick` seconds (a safety
net). While nothing happens a worker wakes only for those.

The same events as `StreamEngine.events` sends, in the same order; the greenlet-per-stream path remains for
servers that do not hand Gate their socket (gthread workers, HTTP/1.0, the test client).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from gate.services.context import current
from gate.services.sockets import _os_epoll, os_socket, wait_readable

if TYPE_CHECKING:
    from gate.services.snapshots import BuiltSnapshot
    from gate.services.streams import StreamEngine

log = logging.getLogger(__name__)
TICK = 5.0  # the longest the loop sleeps: a safety net (whatever it has to do wakes it, or is scheduled)
CATCH_UP_TICK = 0.01  # how often it looks while a stream is behind on its socket (its send timeout runs)
YIELD_EVERY = 512  # sends between two yields to the worker's other connections
END = b"0\r\n\r\n"  # the last chunk: the answer is complete
SLACK = 1024  # deadlines of streams gone early kept before the list is swept (beyond twice the streams held)
_HUNG_UP = 0x2000 | 0x10 | 0x8  # EPOLLRDHUP | EPOLLHUP | EPOLLERR: what a stream's socket is watched for
_READABLE = 0x1  # EPOLLIN: the loop's own pipe (a stream's client has nothing to say: its bytes wake nobody)
_WRITABLE = 0x4  # EPOLLOUT: a slow reader's socket has room


class Held:
    """What is left of one stream once its request is answered."""

    __slots__ = ("ends_at", "fd", "known", "patches", "pending", "since", "sock", "token_id")

    def __init__(self, sock: socket.socket, token_id: int, known: int, patches: bool, ends_at: float) -> None:
        self.sock, self.fd, self.token_id = sock, sock.fileno(), token_id
        self.known, self.patches, self.ends_at = known, patches, ends_at
        self.pending = b""  # the unsent end of a chunk
        self.since = 0.0  # when the pending bytes began to wait


class StreamHub:
    """One worker's held streams and the loop that sends to them."""

    def __init__(
        self,
        engine: StreamEngine,
        *,
        keepalive: float,
        send_timeout: float,
        buffer: int,
        clock: Callable[[], float] = time.monotonic,
        tick: float = TICK,
    ) -> None:
        self.engine, self.keepalive, self.send_timeout, self.buffer = engine, keepalive, send_timeout, buffer
        self.clock, self.tick = clock, tick
        self.frames = engine.frames  # the worker's one framing of each event
        self._held: dict[int, Held] = {}
        self._lagging: dict[int, Held] = {}  # the held streams with bytes still to send
        # the held streams by deadline, soonest first (a stream dropped earlier stays until its deadline
        # passes, and is then passed over): a tick looks at none of them before one is due
        self._deadlines: list[tuple[float, int, Held]] = []
        self._adopted = itertools.count()  # orders streams with the same deadline
        self._lock = threading.Lock()
        self._poller: Any = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._version = -1  # the newest version this loop has sent
        self._tokens = -1
        self._last_sent = 0.0
        self._stirring: tuple[int, int] | None = None  # this process's pipe that wakes the loop: (read, write)
        engine.watcher.on_change(self._stir)

    def __len__(self) -> int:
        return len(self._held)

    def adopt(
        self, fd: int, head: bytes, first: Iterable[bytes], *, token_id: int, known: int, patches: bool, ends_in: float
    ) -> None:
        """Hold the connection on `fd` (a duplicate this hub now owns): send the answer's head and first
        events, then every change from the version `known` on."""
        sock = os_socket(fd)
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.buffer)
        held = Held(sock, token_id, known, patches, self.clock() + ends_in)
        self._ensure_running()
        with self._lock:
            self._held[held.fd] = held
            heapq.heappush(self._deadlines, (held.ends_at, next(self._adopted), held))
            self._poller.register(held.fd, _HUNG_UP)
        self._send(held, head + b"".join(self.frames.of(event) for event in first))
        if not held.pending and self._holds(held):  # a change since its first events: the newest
            self._catch_up(held)
        if held.pending or held.ends_at < self.clock() + self.tick:
            self._stir()  # the loop may be asleep past this stream's deadline, or its send timeout

    def _ensure_running(self) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid, self._held, self._poller = os.getpid(), {}, _os_epoll()
            self._lagging, self._deadlines = {}, []
            read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._poller.register(read, _READABLE)
            self._stirring = (read, write)
            self._version, self._tokens = self.engine.watcher.state
            self._last_sent = self.clock()
            self._thread = threading.Thread(target=self._run, name="gate-stream-hub", daemon=True)
            self._thread.start()

    # ---- the loop ----------------------------------------------------------------------------------

    def _stir(self) -> None:
        """Wake the loop (from the watcher, or a request adopting a stream): a byte in its pipe."""
        stirring = self._stirring
        if stirring is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):  # full: it is awake already
                os.write(stirring[1], b"!")

    def _sleep(self) -> None:
        """Until a change, a hang-up, room for a slow reader (the epoll has news), or the next thing due."""
        now, deadlines = self.clock(), self._deadlines  # one list: a request's thread may sweep it meanwhile
        due = min(self._last_sent + self.keepalive, deadlines[0][0] if deadlines else now + self.tick)
        wait = CATCH_UP_TICK if self._lagging else min(self.tick, max(0.0, due - now))
        wait_readable(self._poller.fileno(), wait)

    def _run(self) -> None:
        watcher = self.engine.watcher
        while not watcher.stopped:
            try:
                if watcher.state == (self._version, self._tokens):
                    self._sleep()
                self.step(*watcher.state)
            except Exception as exc:  # one stream's fault (or the store's) never ends the others'
                log.warning("stream hub: %s", exc, exc_info=True)
        self.end_all()

    def step(self, version: int, tokens: int) -> None:
        """One pass: tokens that lapsed, a new version, slow readers, hang-ups, deadlines, the keepalive."""
        if tokens != self._tokens:
            self._tokens = tokens
            self._drop_lapsed(tokens)
        if version != self._version:
            self._version = version
            self._send_change(self._built(version))
        now = self.clock()
        self._look_at_sockets(now)
        deadlines = self._deadlines  # one list: a request's thread may sweep it into a new one meanwhile
        if deadlines and deadlines[0][0] <= now:
            self._end_due(now)
        if now - self._last_sent >= self.keepalive:
            self._send_all(self.frames.of(b": keepalive\n\n"))

    def _built(self, version: int) -> BuiltSnapshot:
        built = self.engine.snapshots.fresh(version)
        if built is None:
            with self.engine.scope():
                built = self.engine.snapshots.get(version)
                current().sessions.remove()
        return built

    def _send_change(self, built: BuiltSnapshot) -> None:
        """Each stream gets the change as its client can apply it: a patch from its own version when it
        asked for patches, else the whole snapshot. A stream still sending an earlier chunk waits. Both
        are framed once; the loop does no more per stream than choose, send and note the version."""
        version, base = built.version, built.base
        whole = self.frames.of(built.snapshot_event)
        patch = self.frames.of(built.patch_event) if built.patch_event is not None else whole
        held_now = self._held
        for count, held in enumerate(list(held_now.values()), 1):
            if held.pending or held.known >= version or held.fd not in held_now:
                continue  # behind on its socket (it gets the newest later), or it has this version already
            data = patch if held.patches and held.known == base else whole
            held.known = version
            self._send(held, data)
            if count % YIELD_EVERY == 0:
                time.sleep(0)  # under gevent: the worker's requests go on between batches
        self._last_sent = self.clock()

    def _send_all(self, framed: bytes) -> None:
        for held in list(self._held.values()):
            if not held.pending:
                self._send(held, framed)
        self._last_sent = self.clock()

    def _send(self, held: Held, data: bytes) -> None:
        try:
            sent = held.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # reset, or a broken pipe: the client is gone
            self._drop(held)
            return
        if sent < len(data):
            self._behind(held, data[sent:])

    def _behind(self, held: Held, rest: bytes) -> None:
        """Its client reads slower than the changes come: keep the end of the chunk, look for room."""
        held.pending, held.since = rest, self.clock()
        self._lagging[held.fd] = held
        with contextlib.suppress(OSError):
            self._poller.modify(held.fd, _HUNG_UP | _WRITABLE)  # tell the loop when it has room

    def _flush(self, held: Held) -> None:
        """A slow reader's socket has room: the rest of its chunk, then what it missed meanwhile."""
        try:
            sent = held.sock.send(held.pending)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(held)
            return
        held.pending = held.pending[sent:]
        if held.pending:
            return
        self._lagging.pop(held.fd, None)
        with contextlib.suppress(OSError):
            self._poller.modify(held.fd, _HUNG_UP)
        self._catch_up(held)  # a change went by while it was behind: the newest

    def _catch_up(self, held: Held) -> None:
        """A stream behind the loop's version gets the newest: a patch from its own version when it asked
        for patches and one starts there, else the whole snapshot."""
        if held.known < self._version:
            built = self._built(self._version)
            event = built.event_after(held.known, held.patches)
            held.known = built.version
            self._send(held, self.frames.of(event))

    def _look_at_sockets(self, now: float) -> None:
        stirring = self._stirring
        for fd, events in self._poller.poll(0):
            held = self._held.get(fd)
            if held is None:
                if stirring is not None and fd == stirring[0]:
                    with contextlib.suppress(OSError):
                        os.read(fd, 4096)  # every byte waiting: one pass answers them all
                continue
            if events & _HUNG_UP:
                self._drop(held)
            elif held.pending and events & _WRITABLE:
                self._flush(held)
        for held in [h for h in self._lagging.values() if now - h.since >= self.send_timeout]:
            self._drop(held)  # it has not read for send_timeout: the others never wait for it

    def _drop_lapsed(self, tokens: int) -> None:
        """End the streams of tokens revoked or expired since the tokens version moved."""
        ids = {h.token_id for h in self._held.values()}
        with self.engine.scope():
            lapsed = {i for i in ids if self.engine.tokens.by_id(i, tokens) is None}
            current().sessions.remove()
        for held in [h for h in self._held.values() if h.token_id in lapsed]:
            self._end(held)

    # ---- ends --------------------------------------------------------------------------------------

    def _end_due(self, now: float) -> None:
        """End the streams whose deadline has come (a stream already gone is passed over)."""
        due = []
        with self._lock:
            while self._deadlines and self._deadlines[0][0] <= now:
                due.append(heapq.heappop(self._deadlines)[2])
        for held in due:
            if self._holds(held):
                self._end(held)

    def _holds(self, held: Held) -> bool:
        """Whether `held` is still held (its descriptor may since be another stream's)."""
        return self._held.get(held.fd) is held

    def _end(self, held: Held) -> None:
        """The answer's last chunk, when the socket takes it, then the socket closes and the slot is free."""
        if not held.pending:
            with contextlib.suppress(OSError):
                held.sock.send(END)
        self._drop(held)

    def _drop(self, held: Held) -> None:
        with self._lock:
            if self._held.pop(held.fd, None) is None:
                return
            self._lagging.pop(held.fd, None)
            if len(self._deadlines) > 2 * len(self._held) + SLACK:  # mostly streams gone before their deadline
                self._deadlines = [entry for entry in self._deadlines if self._holds(entry[2])]
                heapq.heapify(self._deadlines)
            with contextlib.suppress(OSError, ValueError):
                self._poller.unregister(held.fd)
        with contextlib.suppress(OSError):
            held.sock.close()
        self.engine.slots.give(held.token_id)

    def end_all(self) -> None:
        """The worker stops: every stream ends now (its clients reconnect to another worker)."""
        for held in list(self._held.values()):
            self._end(held)
