"""Database outages: recognised in one place, logged once when they start, every 30 s while they last,
and once when they end, whichever thread meets them (requests, the version watcher, the outbox)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import exc as sa_exc

log = logging.getLogger("gate.database")
REMIND_EVERY = 30.0
_DRIVERS = ("psycopg", "sqlite3", "sqlalchemy")


def is_outage(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached or cannot answer now (not a bug, not bad input)."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return False
        error = error.orig or error
    # a raw driver error (a pool connecting outside a statement raises it unwrapped), or one of its
    # subclasses: psycopg raises AdminShutdown, an OperationalError, when the server is stopped
    if any(
        cls.__name__ in ("OperationalError", "InterfaceError") and cls.__module__.split(".")[0] in _DRIVERS
        for cls in type(error).__mro__
    ):
        text = str(error).lower()
        # SQLite's operational errors include a missing table: that one is a bug (run `gate db upgrade`)
        return "no such table" not in text and "no such column" not in text
    return isinstance(error, ConnectionError | TimeoutError)


class Outage:
    """This process's view of the database: up or down, with throttled logging of the change."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, remind_every: float = REMIND_EVERY) -> None:
        self._clock, self._remind_every = clock, remind_every
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last_log = 0.0

    @property
    def down(self) -> bool:
        """Whether the last contact with the database failed."""
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        """Record a failed contact; log it if the outage is new or the last word is 30 s old."""
        now = self._clock()
        with self._lock:
            if self._since is None:
                self._since, self._last_log = now, now
                log.error("the database is unavailable: %s", _reason(error))
            elif now - self._last_log >= self._remind_every:
                self._last_log = now
                log.error("the database is still unavailable after %.0f s: %s", now - self._since, _reason(error))

    def succeeded(self) -> None:
        """Record a successful contact; log the end of an outage once."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            lasted, self._since = self._clock() - self._since, None
        log.warning("the database is available again after %.1f s", lasted)


def _reason(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"[:300]


OUTAGE = Outage()  # one per process: every thread of a worker shares what it knows of the database


def background_failure(exc: Exception, logger: logging.Logger, what: str) -> None:
    """A background pass failed: an outage is told once by OUTAGE, anything else is logged with its trace."""
    if is_outage(exc):
        OUTAGE.failed(exc)
    else:
        logger.error("%s failed", what, exc_info=exc)
