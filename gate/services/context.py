"""What every service needs, with no Flask: the unit of work's session, the rings, the clock, the alert channels.

A caller binds one `Services` for as long as it runs use cases: the app binds its own to every app
context (requests, the watcher, the outbox); a script, a scheduler thread or a test binds one of its own:

    services = Services(sessions=scoped_session(sessionmaker(engine)), rings=load_rings_file("rings.yaml"))
    with services.bound():
        votes.cast(...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from gate.config import Alerting
from gate.domain.rings import RingsConfig
from gate.services.guards import Guards


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    """No outbox thread to wake (a script's deliveries wait for `gate serve`)."""


@dataclass(frozen=True)
class Services:
    """The dependencies of every use case, passed once instead of read from an app."""

    sessions: scoped_session[Session]  # one session per unit of work's scope (thread or app context)
    rings: RingsConfig
    clock: Callable[[], datetime] = _utc_now
    alerting: Alerting = field(default_factory=Alerting)  # no channel: alerts are recorded, not sent
    sqlite_busy_timeout: float = 30.0  # seconds a write waits for another process's lock
    wake_outbox: Callable[[], None] = _nothing  # a new alert is due: deliver it now, not at the next poll
    nudge: Callable[[], None] = _nothing  # a version moved: this host's watchers read it now
    guards: Guards = field(default_factory=Guards)  # release plans' guard readings (Prometheus)

    @contextmanager
    def bound(self) -> Iterator[Services]:
        """Run the enclosed use cases with these services, then end the scope's session."""
        token = bind(self)
        try:
            yield self
        finally:
            self.sessions.remove()
            unbind(token)


_current: ContextVar[Services] = ContextVar("gate_services")


def bind(services: Services) -> Token[Services]:
    """Make `services` the current ones in this thread or task; `unbind` with the token restores the last."""
    return _current.set(services)


def unbind(token: Token[Services]) -> None:
    _current.reset(token)


def current() -> Services:
    """The bound services; a use case called with none bound is a bug in its caller."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no Services bound: run use cases inside `services.bound()` or an app context") from None


def session() -> Session:
    """The current unit of work's database session."""
    return current().sessions()


def engine() -> Engine:
    """The engine behind the sessions."""
    bind_ = current().sessions.get_bind()
    assert isinstance(bind_, Engine)
    return bind_


def rings() -> RingsConfig:
    """The rings as loaded at start."""
    return current().rings


def now() -> datetime:
    """The current time, from the bound clock (tests set their own)."""
    return current().clock()


def guards() -> Guards:
    """Release plans' guard readings."""
    return current().guards


def alerting() -> Alerting:
    """Where alerts go."""
    return current().alerting
