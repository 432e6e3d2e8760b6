"""A background thread that runs one unit of work every few seconds, or at once when woken (each `gate serve`
worker runs its own: the plan checker, the outbox)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from gate.services.outage import background_failure

log = logging.getLogger(__name__)


class Periodic:
    """Run `work` inside `scope` every `interval` seconds, and whenever `wake` is set; a database outage is
    reported, never fatal."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Any],
        *,
        interval: float,
        scope: Callable[[], AbstractContextManager[Any]] = nullcontext,
        wake: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.work = work
        self.scope = scope
        self.interval = interval
        self.wake = wake or threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def run_once(self) -> Any:
        """One pass of the work, in its scope."""
        with self.scope():
            return self.work()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.interval)
            self.wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception as exc:  # the store may blink; keep the thread alive
                background_failure(exc, log, f"{self.name} pass")
