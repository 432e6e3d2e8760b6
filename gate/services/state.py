"""The shared state row: the snapshot version and the tokens version."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from gate.extensions import db
from gate.services.outage import OUTAGE

_STATE_SQL = "SELECT version, tokens_version FROM gate_state WHERE id = 1"


def current_state() -> tuple[int, int]:
    """The snapshot and tokens versions, through the app's engine: what every read must be at least as new as."""
    return read_state(db.engine)


def read_state(engine: Engine) -> tuple[int, int]:
    """Read both versions in one pooled DBAPI round trip, no ORM session: it runs on every request."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_STATE_SQL)
        row = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()  # back to the pool, which rolls back
    if row is None:
        raise RuntimeError("the gate_state row is missing: run `gate db upgrade`")
    OUTAGE.succeeded()
    return int(row[0]), int(row[1])
