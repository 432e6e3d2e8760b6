"""The shared versions row, and its one owner: the snapshot version and the tokens version, read and advanced."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from sqlalchemy import text, update
from sqlalchemy.engine import Engine

from gate.models import SharedRow
from gate.services.context import engine, session
from gate.services.outage import OUTAGE

_VERSIONS_SQL = "SELECT version, tokens_version FROM gate_state WHERE id = 1"
CHANNEL = "gate_state"  # PostgreSQL: each advance is announced here, delivered when its transaction commits


def current_versions() -> tuple[int, int]:
    """The snapshot and tokens versions, through the sessions' engine: what every read must be at least as new as.

    Requests that arrive together share one read (see `SharedRead`), so a busy worker reads the row a few
    hundred times a second however many requests it answers, and every answer still reflects every write
    acknowledged before its request arrived."""
    bound = engine()
    shared = _SHARED.get(bound)
    if shared is None:
        with _SHARED_LOCK:
            shared = _SHARED.setdefault(bound, SharedRead(lambda: read_versions(bound)))
    return shared()


class SharedRead:
    """One read at a time, shared by every caller that arrived before it started.

    A caller never takes the answer of a read already in flight when it arrived: that read may have begun
    before a write the caller has seen acknowledged. It waits for the next read to start (or starts it),
    whose statement begins after the caller arrived and so sees every commit before that. Under load the
    callers that pile up during one round trip all share the next one: the consistency of a read per
    request at the cost of one read per round trip. A failed read fails the callers that waited for it.
    """

    def __init__(self, read: Callable[[], tuple[int, int]]) -> None:
        self._read = read
        self._changed = threading.Condition(threading.Lock())
        self._started = 0  # reads begun, numbered from 1; at most one runs at a time
        self._finished = 0  # the number of the last read that ended
        self._running = False
        self._outcome: tuple[int, int] | BaseException = (0, 0)

    def __call__(self) -> tuple[int, int]:
        with self._changed:
            wanted = self._started + 1  # the first read that begins after this moment
            while self._finished < wanted and self._running:
                self._changed.wait()
            if self._finished < wanted:  # nobody is reading: this caller reads for itself and the rest
                self._running, self._started = True, wanted
                outcome: tuple[int, int] | BaseException | None = None
            else:
                outcome = self._outcome
        if outcome is None:
            try:
                outcome = self._read()
            except BaseException as error:
                outcome = error
            with self._changed:
                self._running, self._finished, self._outcome = False, wanted, outcome
                self._changed.notify_all()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


_SHARED: weakref.WeakKeyDictionary[Engine, SharedRead] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def read_versions(engine: Engine) -> tuple[int, int]:
    """Read both versions in one pooled DBAPI round trip, no ORM session: it runs on every request."""
    connection = engine.raw_connection()
    driver = connection.driver_connection
    # psycopg outside a transaction: no BEGIN before the read and nothing for the pool's reset to roll
    # back, so one round trip instead of three (a single-row read is consistent on its own)
    autocommit = engine.dialect.name == "postgresql" and not driver.autocommit  # type: ignore[union-attr]
    try:
        if autocommit:
            driver.autocommit = True  # type: ignore[union-attr]
        cursor = connection.cursor()
        cursor.execute(_VERSIONS_SQL)
        row = cursor.fetchone()
        cursor.close()
        if autocommit:
            driver.autocommit = False  # type: ignore[union-attr]
    except BaseException:
        connection.invalidate()  # broken mid-statement (a server stopping): never back to the pool
        raise
    connection.close()  # back to the pool
    if row is None:
        raise RuntimeError("the gate_state row is missing: run `gate db upgrade`")
    OUTAGE.succeeded()
    return int(row[0]), int(row[1])


# built once: every exposure change runs it
_BUMP = update(SharedRow).where(SharedRow.id == 1).values(version=SharedRow.version + 1).returning(SharedRow.version)


def bump_version() -> int:
    """Advance the snapshot version inside the current transaction and return it."""
    result = session().execute(_BUMP)
    _announce()
    return int(result.scalar_one())


def bump_tokens_version() -> None:
    """Advance the tokens version inside the current transaction: every worker reloads its token cache."""
    session().execute(update(SharedRow).where(SharedRow.id == 1).values(tokens_version=SharedRow.tokens_version + 1))
    _announce()


NUDGE = "gate.nudge"  # session info: the transaction moved a version; nudge the host's watchers at commit


def _announce() -> None:
    """Wake every listening process at commit (PostgreSQL's NOTIFY), and this host's watchers (`Nudge`);
    the other hosts' poll the row."""
    s = session()
    s.info[NUDGE] = True
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"NOTIFY {CHANNEL}"))
