"""Change notification for streams: one thread per worker polls the shared version; streams wait on it.

Every `gate serve` process and worker reads the same row, so a write through any of them reaches the
streams of every other within one poll interval, whatever the database.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class VersionWatcher:
    """Tracks the snapshot version with one background poll per process; wakes every waiting stream."""

    def __init__(self, read_version: Callable[[], int], *, interval: float = 0.05) -> None:
        self._read = read_version
        self._interval = interval
        self._changed = threading.Condition()
        self._version = -1
        self._pid: int | None = None
        self._stop = threading.Event()

    @property
    def version(self) -> int:
        """The newest version seen."""
        return self._version

    def ensure_running(self) -> None:
        """Start the poll thread in this process (again after a fork)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._version = self._read()
        threading.Thread(target=self._run, name="gate-version-watcher", daemon=True).start()

    @property
    def stopped(self) -> bool:
        """Whether the process is shutting down: streams should end."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop polling and wake every stream so that it ends (the worker is shutting down)."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def wait_newer(self, than: int, timeout: float) -> int:
        """Block until the version differs from `than`, the watcher stops, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != than or self._stop.is_set(), timeout=timeout)
            return self._version

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval):
            try:
                version = self._read()
            except Exception:  # the store may blink; streams keep their last version meanwhile
                log.warning("version poll failed", exc_info=True)
                continue
            if version != self._version:
                with self._changed:
                    self._version = version
                    self._changed.notify_all()
