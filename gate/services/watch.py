"""Change notification for streams: one thread per worker polls the shared state row; streams wait on it.

The state is the pair (snapshot version, tokens version): a new snapshot is sent on, a token change makes
each stream check that its token still stands.

Every `gate serve` process and worker reads the same row, so a write through any of them reaches the
streams of every other within one poll interval, whatever the database.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from gate.services.outage import OUTAGE, is_outage

log = logging.getLogger(__name__)
State = tuple[int, int]


class VersionWatcher:
    """Tracks the snapshot version with one background poll per process; wakes every waiting stream."""

    def __init__(self, read_state: Callable[[], State], *, interval: float = 0.05) -> None:
        self._read = read_state
        self._interval = interval
        self._changed = threading.Condition()
        self._state: State = (-1, -1)
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> State:
        """The newest state seen."""
        return self._state

    def ensure_running(self) -> None:
        """Start the poll thread in this process (again after a fork)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._state = self._read()
        self._thread = threading.Thread(target=self._run, name="gate-version-watcher", daemon=True)
        self._thread.start()

    @property
    def stopped(self) -> bool:
        """Whether the process is shutting down: streams should end."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop polling and wake every stream so that it ends (the worker is shutting down)."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=1.0)  # its last poll hands its connection back before the pool goes

    def wait_changed(self, than: State, timeout: float) -> State:
        """Block until the state differs from `than`, the watcher stops, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._state != than or self._stop.is_set(), timeout=timeout)
            return self._state

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval):
            try:
                state = self._read()
            except Exception as exc:  # the store may blink; streams keep their last version meanwhile
                if is_outage(exc):
                    OUTAGE.failed(exc)
                else:
                    log.warning("version poll failed", exc_info=True)
                continue
            if state != self._state:
                with self._changed:
                    self._state = state
                    self._changed.notify_all()
