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
    reported, never fatal.

    With `longest`, the work knows when it is next due: it returns the seconds until then (None: nothing is
    ahead), and the loop sleeps that long, at least `interval` and at most `longest`, instead of waking every
    `interval` to find nothing to do. After a failed pass it looks again in `interval`."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Any],
        *,
        interval: float,
        scope: Callable[[], AbstractContextManager[Any]] = nullcontext,
        wake: threading.Event | None = None,
        longest: float | None = None,
    ) -> None:
        self.name = name
        self.work = work
        self.scope = scope
        self.interval = interval
        self.longest = longest
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
        wait = self.interval
        while True:
            self.wake.wait(wait)
            self.wake.clear()
            if self._stop.is_set():
                return
            wait = self.interval
            try:
                due_in = self.run_once()
            except Exception as exc:  # the store may blink; keep the thread alive
                background_failure(exc, log, f"{self.name} pass")
                continue
            if self.longest is not None:
                wait = self.longest if due_in is None else min(self.longest, max(self.interval, due_in))
