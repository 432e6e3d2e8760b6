"""Units of work: one transaction per use case, and compare-and-set for the races the database settles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gate.errors import Conflict
from gate.services.audit import PENDING, log_committed
from gate.services.context import current, session
from gate.services.outbox import WAKE
from gate.services.versions import NUDGE

T = TypeVar("T")


@contextmanager
def transaction() -> Iterator[Session]:
    """Run one unit of work: commit at the end, roll back on any error; races become 409."""
    s = session()
    started = time.monotonic()
    try:
        yield s
        s.commit()
        log_committed(s.info.pop(PENDING, []))
        if s.info.pop(WAKE, False):  # it queued a page, an e-mail or a webhook: deliver it now
            current().wake_outbox()
        if s.info.pop(NUDGE, False):  # it moved a version: this host's streams hear of it now
            current().nudge()
    except IntegrityError:
        s.rollback()
        raise Conflict("a concurrent change got there first; read again and retry") from None
    except OperationalError as exc:
        s.rollback()
        text = str(exc)
        # SQLite answers "locked" at once when two writers race (a conflict), or after its whole busy
        # timeout when another process holds the store (it is unavailable: 503 through the error handler)
        busy = current().sqlite_busy_timeout
        raced = "locked" in text and time.monotonic() - started < busy * 0.9
        if raced or "deadlock" in text or "could not serialize" in text:
            raise Conflict("the store was busy with a concurrent change; retry") from None
        raise
    except BaseException:
        s.rollback()
        raise
    finally:
        s.info.pop(PENDING, None)  # a transaction that did not commit logs nothing
        s.info.pop(WAKE, None)
        s.info.pop(NUDGE, None)


def changed(statement: Any) -> bool:
    """Run a conditional UPDATE; True if it changed a row (compare-and-set: a concurrent writer loses)."""
    result = cast("CursorResult[Any]", session().execute(statement.execution_options(synchronize_session=False)))
    return result.rowcount == 1


def changed_to(statement: Any, entity: type[T]) -> T | None:
    """Run a conditional UPDATE of one `entity` row and read back what it wrote in the same statement (the
    session's copy of the row is refreshed with it); None if it changed no row (a concurrent writer won)."""
    result = session().execute(
        statement.returning(entity), execution_options={"synchronize_session": False, "populate_existing": True}
    )
    return cast("T | None", result.scalar_one_or_none())
