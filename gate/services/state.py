"""The shared state row, and its one owner: the snapshot version and the tokens version, read and advanced."""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.engine import Engine

from gate.models import GateState
from gate.services.context import engine, session
from gate.services.outage import OUTAGE

_STATE_SQL = "SELECT version, tokens_version FROM gate_state WHERE id = 1"
CHANNEL = "gate_state"  # PostgreSQL: each advance is announced here, delivered when its transaction commits


def current_state() -> tuple[int, int]:
    """The snapshot and tokens versions, through the sessions' engine: what every read must be at least as new as."""
    return read_state(engine())


def read_state(engine: Engine) -> tuple[int, int]:
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
        cursor.execute(_STATE_SQL)
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


def bump_version() -> int:
    """Advance the snapshot version inside the current transaction and return it."""
    result = session().execute(
        update(GateState).where(GateState.id == 1).values(version=GateState.version + 1).returning(GateState.version)
    )
    _announce()
    return int(result.scalar_one())


def bump_tokens_version() -> None:
    """Advance the tokens version inside the current transaction: every worker reloads its token cache."""
    session().execute(update(GateState).where(GateState.id == 1).values(tokens_version=GateState.tokens_version + 1))
    _announce()


def _announce() -> None:
    """Wake every listening process at commit (PostgreSQL's NOTIFY); elsewhere they poll the row."""
    s = session()
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"NOTIFY {CHANNEL}"))
