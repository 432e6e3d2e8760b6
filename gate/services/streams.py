"""SDK streams without HTTP: who may hold one (the host's cap and each token's share of it), what a stream
sends (contract 4 and 7.2), and the reaper that frees the slot of a client that went away.

The API's view (gate/api/sdk.py) only adapts this to a response: it takes a slot, builds the events and
wraps them in a `StreamBody`. Nothing here is a module-level global: `gate serve` makes one `StreamSlots`
before gunicorn forks and hands it to each worker's app; a lone app makes its own.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gate.services.context import current
from gate.services.sockets import ChunkFrames, _os_epoll

if TYPE_CHECKING:
    from gate.services.snapshots import BuiltSnapshot, SnapshotCache
    from gate.services.tokens import TokenCache
    from gate.services.watch import VersionWatcher

log = logging.getLogger(__name__)
TOKEN_BUCKETS = 65_536  # per-token counts in shared memory, by token id modulo this (512 KiB)
REAP_SECONDS = 1.0  # how soon the slot of a client that hung up is free again


class StreamSlots:
    """Caps open streams for a host (or a worker) and gives each token at most `per_token` of them.

    Made before gunicorn forks, its counts live in memory every worker shares, so the cap holds for the
    host however unevenly the kernel hands out connections. Tokens are counted by id modulo TOKEN_BUCKETS:
    two tokens whose ids collide share one count (a refusal a little early, never a stream over the cap)."""

    def __init__(self, limit: int, per_token: int | None = None) -> None:
        self.limit = limit
        self.per_token = per_token if per_token is not None else max(1, limit // 2)
        self._open = multiprocessing.Value("q", 0)  # its lock guards both counts
        self._by_token = multiprocessing.Array("q", TOKEN_BUCKETS, lock=False)

    def take(self, token_id: int) -> str | None:
        """Take a slot for a stream of `token_id`; None when taken, else why not in words."""
        bucket = token_id % TOKEN_BUCKETS
        with self._open.get_lock():
            if self._open.value >= self.limit:
                return f"this host holds all the streams it may ({self.limit})"
            if self._by_token[bucket] >= self.per_token:
                return f"this token holds its share of the streams ({self.per_token}); other tokens still may"
            self._open.value += 1
            self._by_token[bucket] += 1
            return None

    def give(self, token_id: int) -> None:
        bucket = token_id % TOKEN_BUCKETS
        with self._open.get_lock():
            self._open.value = max(0, self._open.value - 1)
            self._by_token[bucket] = max(0, self._by_token[bucket] - 1)

    @property
    def open(self) -> int:
        return int(self._open.value)


class StreamBody:
    """A stream's response body: gives its slot back once, when the server closes it or the reaper finds
    its client gone, whichever comes first."""

    def __init__(
        self,
        events: Iterator[bytes],
        slots: StreamSlots,
        token_id: int,
        sock: Any,
        *,
        send_timeout: float,
        buffer: int,
        frames: ChunkFrames | None = None,
    ) -> None:
        """`frames`: send each event after the first straight to `sock`, framed as an HTTP/1.1 chunk (the
        server frames its answer so: a GET over HTTP/1.1 without a length); None: hand each to the server."""
        self._events, self._slots, self._token_id, self._frames = events, slots, token_id, frames
        self._given = False
        self._lock = threading.Lock()
        self.sock, self._timeout = sock, None
        if sock is not None and hasattr(sock, "settimeout"):
            # a client that stops reading fills its stream's bounded send buffer; a send that cannot go on
            # for send_timeout drops it, and the others never wait for it
            self._timeout = sock.gettimeout()
            sock.settimeout(send_timeout)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)

    def __iter__(self) -> Iterator[bytes]:
        return self._events if self._frames is None or self.sock is None else self._sent_directly(self._frames)

    def _sent_directly(self, frames: ChunkFrames) -> Iterator[bytes]:
        """The first event goes through the server, which sends the headers with it. Each later one goes
        straight to the socket, framed once for all of the worker's streams, in one `send` while the buffer
        has room; the server gets an empty item, which it neither frames nor sends. Through the server's
        layers an event cost a stream about a fifth more CPU."""
        events, sock = self._events, self.sock
        for event in events:
            yield event
            break
        for event in events:
            framed = frames.of(event)
            sent = sock.send(framed)
            if sent < len(framed):
                sock.sendall(framed[sent:])  # what did not fit, within the send timeout, or the stream ends
            yield b""

    def release(self) -> None:
        """Give the slot back (once)."""
        with self._lock:
            if self._given:
                return
            self._given = True
        self._slots.give(self._token_id)

    def close(self) -> None:
        self._events.close()  # type: ignore[attr-defined]
        self.release()
        if self.sock is not None and hasattr(self.sock, "settimeout"):
            with contextlib.suppress(OSError):
                self.sock.settimeout(self._timeout)


class Reaper:
    """One thread per worker that looks, every REAP_SECONDS, for streams whose client hung up (its socket
    reads end-of-file) and gives their slots back at once, instead of at the next keepalive's failed write.

    Each stream's socket is registered once with an epoll of the system's, so a look costs what is ready
    (a client that hung up, or sent something), not every open stream: polling all 10,000 every second
    took a worker 25 ms of CPU a second. A closed socket leaves the epoll by itself."""

    def __init__(self, interval: float = REAP_SECONDS) -> None:
        self.interval = interval
        self._streams: dict[int, weakref.ref[StreamBody]] = {}  # by file descriptor
        self._lock = threading.Lock()
        self._poller: Any = None
        self._thread: threading.Thread | None = None

    def watch(self, body: StreamBody) -> None:
        if body.sock is None or not hasattr(body.sock, "fileno"):
            return  # no socket of its own to look at (a test client)
        try:
            fd = body.sock.fileno()
        except (OSError, ValueError):
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._poller = _os_epoll()
                self._streams.clear()
                self._thread = threading.Thread(target=self._run, name="gate-stream-reaper", daemon=True)
                self._thread.start()
            self._streams[fd] = weakref.ref(body)
            try:
                self._poller.register(fd, _READY)
            except FileExistsError:  # a kept-alive connection's earlier stream: the same socket
                self._poller.modify(fd, _READY)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                for body in self.gone():
                    body.release()
            except Exception as exc:  # never let a look at sockets end the reaper
                log.warning("stream reaper: %s", exc)

    def gone(self) -> list[StreamBody]:
        """The streams whose client has hung up: their socket is ready and a peek reads end-of-file."""
        ended = []
        for fd, _ in self._poller.poll(0):
            with self._lock:
                ref = self._streams.get(fd)
            body = ref() if ref is not None else None
            if body is not None:
                try:
                    peeked = body.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:  # reset: gone
                    peeked = b""
                if peeked != b"":
                    continue  # the client sent something; it is still there
                ended.append(body)
            with self._lock:  # gone, or its stream ended and the connection stays: no more looks
                self._streams.pop(fd, None)
                with contextlib.suppress(OSError):
                    self._poller.unregister(fd)
        return ended


_READY = select.EPOLLIN | select.EPOLLRDHUP


class Holder(Protocol):
    """What holds the worker's streams once their requests are answered (stream_hub.StreamHub)."""

    def adopt(
        self, fd: int, head: bytes, first: Iterable[bytes], *, token_id: int, known: int, patches: bool, ends_in: float
    ) -> None: ...

    def end_all(self) -> None: ...

    def __len__(self) -> int: ...


@dataclass
class StreamEngine:
    """One worker's streams: what they wait on, where their snapshots and tokens come from, their slots and
    their reaper. The app makes one; the API's view asks it for each new stream's events."""

    watcher: VersionWatcher
    snapshots: SnapshotCache
    tokens: TokenCache
    scope: Callable[[], AbstractContextManager[Any]]  # binds the services for a read (the app's context)
    slots: StreamSlots
    reaper: Reaper
    frames: ChunkFrames = field(default_factory=ChunkFrames)
    keepalive: float = 15.0
    max_seconds: float = 600.0
    hub: Holder | None = None  # under gevent: one send loop for the worker's streams (stream_hub.StreamHub)

    @staticmethod
    def opening(first: BuiltSnapshot | None) -> list[bytes]:
        """What every stream sends first: `retry`, then the snapshot unless the client has it."""
        return [b"retry: 1000\n\n", first.snapshot_event] if first is not None else [b"retry: 1000\n\n"]

    def events(
        self, *, first: BuiltSnapshot | None, known: int, token: tuple[int, int], patches: bool, expires_in: float
    ) -> Iterator[bytes]:
        """What one stream sends: `retry`, the first snapshot (unless the client has it), then each change as
        a snapshot or a patch event, and a keepalive comment when nothing changed for `keepalive` seconds.
        It ends when the token is revoked or expires, the worker stops, or after `max_seconds` (clients
        come back spread over the workers)."""
        watcher = self.watcher
        token_id, tokens_known = token  # the token, and the tokens version it was authenticated at
        deadline = time.monotonic() + self.max_seconds
        expires = time.monotonic() + expires_in  # an expired token reaches nothing, its open streams included
        yield from self.opening(first)
        while time.monotonic() < deadline and not watcher.stopped:
            left = expires - time.monotonic()
            if left <= 0:
                return
            version, tokens_version = watcher.wait_changed((known, tokens_known), timeout=min(self.keepalive, left))
            if watcher.stopped or time.monotonic() >= expires:
                return
            tokens_changed = tokens_version != tokens_known
            if tokens_changed:
                tokens_known = tokens_version
                with self.scope():
                    revoked = self.tokens.by_id(token_id, tokens_version) is None
                    current().sessions.remove()
                if revoked:  # a revoked token reaches nothing, an open stream included
                    return
            if version == known:
                if not tokens_changed:
                    yield b": keepalive\n\n"
                continue
            built = self.snapshots.fresh(version)  # built once for all of this worker's streams
            if built is None:
                with self.scope():
                    built = self.snapshots.get(version)
                    current().sessions.remove()
            event = built.event_after(known, patches)
            known = built.version
            yield event
