"""The use cases run with no Flask app: from a script, a scheduler thread or a test, given their Services."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, pool, select
from sqlalchemy.orm import scoped_session, sessionmaker

from gate import migrate
from gate.domain.exposure import FULL
from gate.domain.features import parse_feature
from gate.domain.roles import Principal, Role
from gate.models import AuditEntry, OutboxMessage, Vote
from gate.ringsfile import load_rings_file
from gate.services import context, features, incidents, releases, votes
from gate.services.context import Services
from tests.support import RINGS, FeatureBuilder

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    yield Services(
        sessions=scoped_session(sessionmaker(engine, expire_on_commit=False)),
        rings=load_rings_file(str(RINGS)),
        clock=lambda: START,
    )
    engine.dispose()


def test_importing_the_services_loads_no_web_framework() -> None:
    code = (
        "import importlib, pkgutil, sys, gate.services as s\n"
        "for m in pkgutil.iter_modules(s.__path__): importlib.import_module('gate.services.' + m.name)\n"
        "web = {'flask', 'werkzeug', 'marshmallow', 'flask_sqlalchemy'}\n"
        "print(sorted({k.split('.')[0] for k in sys.modules} & web))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_script_moves_a_feature_through_its_first_ring(services: Services) -> None:
    admin = Principal(token_id=1, name="release-bot", roles=frozenset({Role.ADMIN}))
    spec = parse_feature(FeatureBuilder("checkout").criterion("unit", ring="internal").build(), services.rings)
    with services.bound():
        assert features.apply_criteria(spec=spec, actor="pm").key == "checkout"
        vote = votes.cast_vote(key="checkout", criterion="unit", vote="yes", comment=None, actor="qa")
        change = releases.promote(
            key="checkout", ring="internal", percent_bp=FULL, override_reason=None, principal=admin
        )
    assert vote.voter == "qa" and vote.at == START
    assert (change.ring, change.percent_bp, change.killed) == ("internal", FULL, False)
    with services.bound() as bound:
        s = bound.sessions()
        assert s.scalar(select(func.count()).select_from(Vote)) == 1
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "promote")) == "release-bot"


def test_a_thread_binds_its_own_services_and_alerts_wait_in_the_outbox(services: Services) -> None:
    """A new thread starts with no services bound (context variables are not inherited): it binds its own."""
    seen: list[object] = []

    def scheduler() -> None:
        try:
            context.now()
        except RuntimeError as exc:
            seen.append(str(exc))
        with services.bound():
            seen.append(
                incidents.open_incident(
                    title="checkout down",
                    severity=0,
                    feature=None,
                    ring=None,
                    description=None,
                    dedup_key=None,
                    actor="oncall",
                )
            )

    thread = threading.Thread(target=scheduler)
    thread.start()
    thread.join(10)
    assert "no Services bound" in str(seen[0])
    view, new = seen[1]  # type: ignore[misc]
    assert new and view.notified == "none"  # no channel configured: recorded, nothing queued
    with services.bound() as bound:
        assert bound.sessions().scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_bound_services_nest_and_restore(services: Services) -> None:
    later = Services(sessions=services.sessions, rings=services.rings, clock=lambda: START + timedelta(hours=1))
    with services.bound():
        with later.bound():
            assert context.now() == START + timedelta(hours=1)
        assert context.now() == START
    with pytest.raises(RuntimeError, match="no Services bound"):
        context.now()


def test_a_writer_holding_an_old_read_loses_the_compare_and_set_and_writes_nothing(services: Services) -> None:
    """Two release managers read the feature, both kill: the second one's read is old, it gets 409."""
    from gate.errors import Conflict
    from gate.models import DeploymentEvent, Feature
    from gate.services.transactions import transaction

    spec = parse_feature(FeatureBuilder("checkout").build(), services.rings)
    with services.bound() as bound:
        features.apply_criteria(spec=spec, actor="pm")
        s = bound.sessions()
        stale = s.scalar(select(Feature).where(Feature.key == "checkout"))
        assert stale is not None
        s.expunge(stale)  # its own copy, as another worker's request would hold
        s.commit()
        first = releases.kill(key="checkout", reason="outage", actor="first")
        with pytest.raises(Conflict, match="changed meanwhile"), transaction():
            releases.kill_feature(stale, reason="outage too", actor="second", at=START)
        row = s.scalar(select(Feature).where(Feature.key == "checkout"))
        assert row is not None and (row.killed, row.exposure_rev) == (True, stale.exposure_rev + 1)
        assert first.killed and s.scalar(select(func.count()).select_from(DeploymentEvent)) == 1
        assert s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "kill")).all() == ["first"]
