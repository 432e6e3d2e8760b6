"""Change notification for streams: one thread per worker follows the shared state row; streams wait on it.

On PostgreSQL the thread LISTENs for the NOTIFY each write sends at commit and reads the row when woken
(and at least every second, should a notification be lost to a reconnect). Under `gate serve` a commit also
nudges this host's watchers at once (`Nudge`); on a SQLite file every writer does, so the row is polled only
as a safety net. A lone app polls the row.

The state is the pair (snapshot version, tokens version): a new snapshot is sent on, a token change makes
each stream check that its token still stands.

Every `gate serve` process and worker reads the same row, so a write through any of them reaches the
streams of every other within one poll interval, whatever the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gate.services.outage import OUTAGE, is_outage
from gate.services.sockets import wait_readable
from gate.services.versions import CHANNEL

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

log = logging.getLogger(__name__)
State = tuple[int, int]
NOTIFY_FALLBACK_SECONDS = 0.5
SAFETY_POLL_SECONDS = NOTIFY_FALLBACK_SECONDS  # a poll that only catches what a nudge or a NOTIFY missed
RELISTEN_SECONDS = 1.0  # after a failed LISTEN, poll this long before trying again


class Nudge:
    """Tells this host's watchers at once that a change was committed, instead of at their next poll, so a
    change made through one worker reaches the streams of the others within milliseconds. Each process's
    watcher listens on a datagram socket in `folder`, and a commit sends a byte to each. Waiting costs
    nothing while nothing changes.

    `gate serve` makes one before it forks, with a folder only it uses; changes from other hosts arrive by
    PostgreSQL's NOTIFY, or the poll. A SQLite file is written only from its own host (its WAL needs shared
    memory), so `Nudge.of_store` gives every `gate serve` and CLI command writing one file the same folder:
    then no writer goes unheard (`whole_store`), and the poll is only a safety net."""

    def __init__(self, folder: str, *, whole_store: bool = False) -> None:
        self.folder, self.whole_store = folder, whole_store
        self._sock: socket.socket | None = None
        self._pid: int | None = None

    @classmethod
    def of_store(cls, url: URL) -> Nudge | None:
        """The nudge every writer of the SQLite file `url` on this host shares: a folder (0700) in the
        temporary folder named after the file. None for another database, a store without a file, or where
        that folder is not this user's alone (another user could otherwise deafen or fake the nudges)."""
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        key = hashlib.sha256(os.path.realpath(str(url.database)).encode()).hexdigest()[:16]
        folder = os.path.join(tempfile.gettempdir(), f"gate-nudge-{key}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
        try:
            found = os.lstat(folder)
        except OSError:  # pragma: no cover - removed between the two calls
            return None
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
            return None
        return cls(folder, whole_store=True)

    def listen(self) -> socket.socket:
        """This process's socket (made again after a fork)."""
        if self._sock is None or self._pid != os.getpid():
            self._pid = os.getpid()
            path = os.path.join(self.folder, f"{self._pid}.{id(self):x}")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a process of this number and object that ended without its cleanup
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(path)
            self._sock.setblocking(False)
        return self._sock

    def bump(self) -> None:
        """A byte to every process listening on this host (its own included); a gone one is forgotten."""
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.setblocking(False)
        try:
            for name in os.listdir(self.folder):
                try:
                    sender.sendto(b"!", os.path.join(self.folder, name))
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.folder, name))
                except OSError:  # its queue is full: it is waking already
                    pass
        except OSError:
            pass
        finally:
            sender.close()

    def close(self) -> None:
        """This process stops listening: its socket and its name in the folder go."""
        sock, self._sock = self._sock, None
        if sock is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(sock.getsockname())
            sock.close()

    def wait(self, timeout: float) -> bool:
        """Until a nudge comes or `timeout` passes; whether one came (every waiting byte is read)."""
        sock = self.listen()
        wait_readable(sock.fileno(), timeout)
        came = False
        while True:
            try:
                sock.recv(64)
                came = True
            except (BlockingIOError, InterruptedError):
                return came


def _new_event() -> Any:
    """An event all the streams of a process wait on: gevent's own where the worker runs on gevent (its `set`
    wakes every waiter in one pass of the loop), else a thread's."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            from gevent.event import Event

            return Event()
    return threading.Event()


class Listener:
    """One PostgreSQL connection per process, LISTENing on the state channel."""

    def __init__(self, conninfo: str, connect_timeout: float = 5) -> None:
        self._conninfo, self._connect_timeout = conninfo, connect_timeout
        self._conn: Any = None
        self._retry_at = 0.0

    def forget(self) -> None:
        """Drop the connection without closing it (after a fork it is the parent's)."""
        self._conn = None

    def wait(self, timeout: float) -> bool:
        """Block until a change is announced or `timeout` passes; False if listening failed."""
        import psycopg  # only PostgreSQL deployments listen

        if time.monotonic() < self._retry_at:
            return False
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
                )
                self._conn.execute(f"LISTEN {CHANNEL}")
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                pass
            return True
        except psycopg.Error as exc:
            OUTAGE.failed(exc)
            self.close()
            self._retry_at = time.monotonic() + RELISTEN_SECONDS
            return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


class VersionWatcher:
    """Tracks the snapshot version with one background poll per process; wakes every waiting stream."""

    def __init__(
        self,
        read_versions: Callable[[], State],
        *,
        interval: float = 0.05,
        prepare: Callable[[State], None] | None = None,
        listener: Listener | None = None,
        nudge: Nudge | None = None,
    ) -> None:
        """`prepare(state)` runs once per change before the streams wake (the snapshot is built there,
        once, instead of by the first of ten thousand streams while the rest wait)."""
        self._read = read_versions
        self._prepare = prepare
        self._listener = listener
        self._nudge = nudge
        self._interval = interval
        self._changed = _new_event()  # set once when the state leaves what it was; a fresh one each change
        self._state: State = (-1, -1)
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` (it must not block) after each change of state and when the watcher stops, for a
        loop that waits on more than this watcher (the send loop: its sockets too)."""
        self._listeners.append(listener)

    def _tell(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def state(self) -> State:
        """The newest state seen."""
        return self._state

    def ensure_running(self) -> None:
        """Start the poll thread in this process (again after a fork)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        if self._listener is not None:
            self._listener.forget()  # a connection opened by the parent process is not this one's
        self._stop = threading.Event()
        self._changed = _new_event()  # not one a stop before a fork left set: its waiters would never wait
        self._state = self._read()
        self._thread = threading.Thread(target=self._run, name="gate-version-watcher", daemon=True)
        self._thread.start()

    @property
    def stopped(self) -> bool:
        """Whether the process is shutting down: streams should end."""
        return self._stop.is_set()

    def stop(self, wait: bool = True) -> None:
        """Stop polling and wake every stream so that it ends (the worker is shutting down). `wait=False` from
        a signal handler: under gevent it runs in the event loop's callback, where nothing may block."""
        self._stop.set()
        self._changed.set()
        self._tell()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=1.0)  # its last poll hands its connection back before the pool goes
            if not thread.is_alive() and self._nudge is not None:
                self._nudge.close()  # a folder shared by a SQLite file's writers keeps no dead name

    def wait_changed(self, than: State, timeout: float) -> State:
        """Block until the state differs from `than`, the watcher stops, or `timeout` passes."""
        changed = self._changed  # read before the state: a change after this sets this very event
        if self._state == than and not self._stop.is_set():
            changed.wait(timeout)
        return self._state

    def _wait(self, stop: threading.Event) -> bool:
        """Wait for the next look at the row; False when the watcher stops."""
        if self._listener is None or not self._listener.wait(NOTIFY_FALLBACK_SECONDS):
            return self._poll_wait(stop)  # polling, or listening failed (an outage): poll meanwhile
        return not stop.is_set()

    def _poll_wait(self, stop: threading.Event) -> bool:
        """Until the next poll, or sooner when a process of this host committed a change."""
        if self._nudge is None:
            return not stop.wait(self._interval)
        self._nudge.wait(self._interval)
        return not stop.is_set()

    def _run(self) -> None:
        stop = self._stop
        while self._wait(stop):
            try:
                state = self._read()
            except Exception as exc:  # the store may blink; streams keep their last version meanwhile
                if is_outage(exc):
                    OUTAGE.failed(exc)
                else:
                    log.warning("version poll failed", exc_info=True)
                continue
            if state != self._state:
                if self._prepare is not None:
                    try:
                        self._prepare(state)
                    except Exception as exc:  # the streams build it themselves then
                        if is_outage(exc):
                            OUTAGE.failed(exc)
                        else:
                            log.warning("preparing version %s failed", state[0], exc_info=True)
                # the state first, then a fresh event for the next change, then every waiter of this one
                changed, self._state = self._changed, state
                self._changed = _new_event()
                changed.set()
                self._tell()
        if self._listener is not None:
            self._listener.close()  # here, in its own thread: never under a wait in progress
