"""The app factory: settings, extensions, blueprints, error handlers. No app at import time."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from flask import Flask, appcontext_pushed, g
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, scoped_session

from gate import logs
from gate.api import make_api, register_blueprints
from gate.api import sdk as sdk_api
from gate.api.boundary import register_boundary
from gate.api.problems import register_error_handlers
from gate.config import Alerting, ensure_sqlite_dir, instance_dir, load_settings, stream_share
from gate.domain.rings import RingsConfig
from gate.extensions import db
from gate.metrics import register_metrics
from gate.ringsfile import check_rings_in_use, load_rings_file
from gate.runtime import KEY, Runtime
from gate.services.alerts import escalate_overdue
from gate.services.components import announce_late
from gate.services.context import Services, bind, unbind
from gate.services.guards import Guards
from gate.services.outage import OUTAGE, is_outage
from gate.services.outbox import Dispatcher
from gate.services.periodic import Periodic
from gate.services.plan_checks import check_plans
from gate.services.prometheus import reader
from gate.services.snapshots import SnapshotCache
from gate.services.stream_hub import StreamHub
from gate.services.streams import Reaper, StreamEngine, StreamSlots
from gate.services.tokens import TokenCache
from gate.services.versions import read_versions
from gate.services.watch import SAFETY_POLL_SECONDS, Listener, Nudge, VersionWatcher
from gate.web import SECURITY_HEADERS, register_web

STREAM_POLL_SECONDS = 0.05  # how soon a change made through a process that cannot nudge reaches every stream


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build a Gate app from defaults, GATE_* environment variables and `test_config`."""
    settings = load_settings(test_config)
    app = Flask("gate", instance_path=instance_dir(), static_folder=None)  # the dashboard serves its own
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(
            settings["DATABASE_URL"],
            float(settings["DB_CONNECT_TIMEOUT"]),
            float(settings["SQLITE_BUSY_TIMEOUT"]),
            int(settings["DB_POOL_SIZE"]),
        ),
        API_TITLE="Gate",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # "off → internal", not "off \u2192 internal"
    logs.configure(str(settings["LOG_LEVEL"]), str(settings["LOG_FORMAT"]))
    rings = load_rings_file(settings["RINGS_FILE"])
    register_boundary(app)
    register_extensions(app, rings)
    register_web(app)
    register_error_handlers(app)
    register_metrics(app)
    app.wsgi_app = sdk_api.Revalidation(app, app.wsgi_app, SECURITY_HEADERS)  # type: ignore[method-assign]
    app.wsgi_app = sdk_api.StreamAdoption(app, app.wsgi_app)  # type: ignore[method-assign]
    with app.app_context():
        try:
            check_rings_in_use(db.session(), rings)
        except Exception as exc:
            db.session.remove()
            if not is_outage(exc):
                db.engine.dispose()
                raise
            # a worker (re)started during an outage boots anyway; `gate serve` checks once the store is back
            OUTAGE.failed(exc)
        db.session.remove()
    return app


def engine_options(
    url: str, connect_timeout: float = 5, busy_timeout: float = 30, pool_size: int = 10
) -> dict[str, Any]:
    """Pool and driver settings per database."""
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        # the busy timeout: how long a write waits for another writer's lock before the store counts as unavailable
        return {"connect_args": {"timeout": float(busy_timeout), "check_same_thread": False}}
    # a silent network drop is an outage, not a hang: connect and pool waits are bounded. A fixed pool, no
    # overflow: requests queue for a connection instead of opening (and closing) sessions under load
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": 5,
        "connect_args": {"connect_timeout": int(connect_timeout)},
    }


def register_extensions(app: Flask, rings: RingsConfig) -> None:
    """Bind the database, the API and the per-worker caches."""
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(db.engine, "checkout", _ping_if_idle)
    api = make_api()
    register_blueprints(app, api)
    snapshots = SnapshotCache(rings)
    with app.app_context():
        engine = db.engine

    def prepare(state: tuple[int, int]) -> None:
        with app.app_context():
            snapshots.get(state[0])

    listener = None
    if engine.dialect.name == "postgresql":
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = Listener(conninfo, float(app.config["DB_CONNECT_TIMEOUT"]))
    nudge: Nudge | None = app.config.get("VERSION_NUDGE")  # gate serve's, for its host; a lone app polls
    if app.config.get("NUDGE_STORE"):  # gate serve and the CLI: a SQLite file's writers share one
        nudge = Nudge.of_store(engine.url) or nudge
    interval = SAFETY_POLL_SECONDS if nudge is not None and nudge.whole_store else STREAM_POLL_SECONDS
    watcher = VersionWatcher(
        lambda: read_versions(engine), interval=interval, prepare=prepare, listener=listener, nudge=nudge
    )
    per_worker = int(app.config["STREAMS_PER_WORKER"])
    slots = app.config.get("STREAM_SLOTS") or StreamSlots(per_worker, stream_share(app.config, per_worker))
    clock = app.config.get("CLOCK")
    wake = threading.Event()
    services = Services(
        sessions=cast("scoped_session[Session]", db.session),  # flask-sqlalchemy's Session is a Session
        rings=rings,
        clock=clock if callable(clock) else partial(datetime.now, UTC),
        alerting=Alerting.from_settings(app.config),
        sqlite_busy_timeout=float(app.config["SQLITE_BUSY_TIMEOUT"]),
        wake_outbox=wake.set,
        nudge=nudge.bump if nudge is not None else lambda: None,
        **({"guards": Guards(reader(str(app.config["PROMETHEUS_URL"])))} if app.config.get("PROMETHEUS_URL") else {}),
    )
    _bind_to_app_contexts(app, services)
    dispatcher = Dispatcher(
        services,
        scope=app.app_context,
        wake=wake,
        lease=timedelta(seconds=float(app.config["OUTBOX_LEASE_SECONDS"])),
    )
    dispatcher.before_each.append(escalate_overdue)
    tokens = TokenCache()
    stream_engine = _stream_engine(app, watcher, snapshots, tokens, slots)
    app.extensions[KEY] = Runtime(
        tokens=tokens,
        snapshots=snapshots,
        watcher=watcher,
        streams=stream_engine,
        outbox=dispatcher,
        plans=Periodic(
            "gate-plans", check_plans, scope=app.app_context, interval=float(app.config["PLAN_INTERVAL_SECONDS"])
        ),
        milestones=Periodic(
            "gate-milestones",
            announce_late,
            scope=app.app_context,
            interval=float(app.config["MILESTONE_INTERVAL_SECONDS"]),
        ),
    )


def _stream_engine(
    app: Flask, watcher: VersionWatcher, snapshots: SnapshotCache, tokens: TokenCache, slots: StreamSlots
) -> StreamEngine:
    """The worker's streams: their engine, and the one send loop that holds them under gevent."""
    engine = StreamEngine(
        watcher=watcher,
        snapshots=snapshots,
        tokens=tokens,
        scope=app.app_context,
        slots=slots,
        reaper=Reaper(),
        keepalive=float(app.config["STREAM_KEEPALIVE_SECONDS"]),
        max_seconds=float(app.config["STREAM_MAX_SECONDS"]),
    )
    engine.hub = StreamHub(
        engine,
        keepalive=engine.keepalive,
        send_timeout=float(app.config["STREAM_SEND_TIMEOUT"]),
        buffer=int(app.config["STREAM_SEND_BUFFER"]),
    )
    return engine


def _bind_to_app_contexts(app: Flask, services: Services) -> None:
    """Every context of this app (a request, the watcher, the outbox, a CLI command) runs its use cases
    with `services`: the services themselves never look for an app."""

    def bind_services(_sender: Flask, **_: Any) -> None:
        g._gate_services = bind(services)  # each context keeps its own token: contexts may nest

    def unbind_services(_exc: BaseException | None) -> None:
        token = g.pop("_gate_services", None)
        if token is not None:
            unbind(token)

    appcontext_pushed.connect(bind_services, app, weak=False)
    app.teardown_appcontext(unbind_services)


PING_AFTER_IDLE = 1.0  # seconds; a connection in constant use needs no ping


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a pooled connection that sat idle before handing it out (a database restarted meanwhile
    would fail the request); one in constant use goes out at once, sparing a round trip per request."""
    now = time.monotonic()
    idle = now - record.info.get("gate_used", 0.0)
    record.info["gate_used"] = now
    if idle < PING_AFTER_IDLE:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        if not dbapi_connection.autocommit:
            dbapi_connection.rollback()
    except Exception as exc:
        raise sa_exc.DisconnectionError(str(exc)) from exc  # the pool replaces it and tries again


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
