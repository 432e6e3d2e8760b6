"""What every service needs from the running app: the session, the rings, the clock."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from gate.domain.rings import RingsConfig
from gate.extensions import db
from gate.runtime import runtime


def session() -> Session:
    """The request's database session."""
    return cast(Session, db.session)


def rings() -> RingsConfig:
    """The rings as loaded at start."""
    return runtime().rings


def now() -> datetime:
    """The current time, from the app's clock (tests may set GATE's CLOCK)."""
    return runtime().clock()
