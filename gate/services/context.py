"""What every service needs from the running app: the session, the rings, the clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gate.domain.rings import RingsConfig
from gate.errors import Conflict
from gate.extensions import db
from gate.models import AuditEntry, GateState
from gate.runtime import runtime


@dataclass(frozen=True)
class Principal:
    """Who is acting: the token's id, its name (the actor of every write) and its role."""

    token_id: int
    name: str
    role: str


def session() -> Session:
    """The request's database session."""
    return cast(Session, db.session)


def rings() -> RingsConfig:
    """The rings as loaded at start."""
    return runtime().rings


def now() -> datetime:
    """The current time, from the app's clock (tests may set GATE's CLOCK)."""
    return runtime().clock()


def bump_version() -> int:
    """Advance the snapshot version inside the current transaction and return it."""
    result = session().execute(
        update(GateState).where(GateState.id == 1).values(version=GateState.version + 1).returning(GateState.version)
    )
    return int(result.scalar_one())


def audit(*, actor: str, action: str, target: str, feature: str | None, before: Any, after: Any, at: datetime) -> None:
    """Append one audit entry to the current transaction."""
    session().execute(
        insert(AuditEntry).values(
            actor=actor, action=action, target=target, feature=feature, before=before, after=after, at=at
        )
    )


@contextmanager
def transaction() -> Iterator[Session]:
    """Run one unit of work: commit at the end, roll back on any error; races become 409."""
    s = session()
    started = time.monotonic()
    try:
        yield s
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict("a concurrent change got there first; read again and retry") from None
    except OperationalError as exc:
        s.rollback()
        text = str(exc)
        # SQLite answers "locked" at once when two writers race (a conflict), or after its whole busy
        # timeout when another process holds the store (it is unavailable: 503 through the error handler)
        busy = runtime().sqlite_busy_timeout
        raced = "locked" in text and time.monotonic() - started < busy * 0.9
        if raced or "deadlock" in text or "could not serialize" in text:
            raise Conflict("the store was busy with a concurrent change; retry") from None
        raise
    except BaseException:
        s.rollback()
        raise


def changed(statement: Any) -> bool:
    """Run a conditional UPDATE; True if it changed a row (compare-and-set: a concurrent writer loses)."""
    result = cast("CursorResult[Any]", session().execute(statement.execution_options(synchronize_session=False)))
    return result.rowcount == 1
