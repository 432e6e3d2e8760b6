"""The `gate` console script: serve, migrate, tokens, rings, criteria, status."""

from __future__ import annotations

import gc
import getpass
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click
from flask import Flask

from gate.config import load_settings
from gate.domain.errors import ParseError
from gate.domain.roles import ROLES
from gate.domain.words import counted
from gate.remote import Remote, check_line, exposure_words, plan_headline, remote_options
from gate.remote import register as register_remote

if TYPE_CHECKING:
    from gate.domain.rings import RingsConfig


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def _check_local_setup() -> None:
    """Say what is missing for a local command, naming the paths and variables, before anything is created."""
    from sqlalchemy.engine import make_url

    from gate import migrate
    from gate.config import sqlite_path

    settings = load_settings()
    hint = "(or give --url and --token to work against a server)"
    rings = os.path.abspath(settings["RINGS_FILE"])
    if not os.path.exists(rings):
        _fail(f"no rings file at {rings}: set GATE_RINGS_FILE or run from the folder that holds it {hint}")
    url = settings["DATABASE_URL"]
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        _fail(f"no database at {path}: run `gate db upgrade` there, or set GATE_DATABASE_URL {hint}")
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        current = migrate.is_current(url)
    except Exception as exc:
        _fail(f"cannot use the database {shown} (GATE_DATABASE_URL): {exc.__class__.__name__}")
    if not current:
        _fail(f"the database {shown} is not at the newest migration: run `gate db upgrade`")


@contextmanager
def _app() -> Iterator[Flask]:
    from gate.app import create_app

    _check_local_setup()
    try:
        app = create_app()
    except ParseError as exc:
        _fail("\n".join(f"{path}: {msg}" for path, msgs in exc.errors.items() for msg in msgs))
    with app.app_context():
        try:
            yield app
        finally:
            from gate.extensions import db

            db.session.remove()
            db.engine.dispose()


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate", message="gate %(version)s")
def main() -> None:
    """Gate: release gates and feature flags for ring deployments."""


# ---- serve ---------------------------------------------------------------------------------------


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT to listen on")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--worker-class",
    type=click.Choice(["gevent", "gthread"]),
    default="gevent",
    show_default=True,
    help="gevent: a connection costs memory, not a thread (fleets of streams); gthread: a thread each",
)
@click.option("--threads", default=32, show_default=True, type=click.IntRange(2, 1024), help="gthread: per worker")
def serve(bind: str, workers: int, worker_class: str, threads: int) -> None:
    """Serve Gate under gunicorn with production settings."""
    if worker_class == "gevent":
        # first of all: the database driver and every socket must be the cooperative ones (psycopg picks
        # its wait function when it is imported)
        from gevent import monkey

        monkey.patch_all()
    # before anything imports prometheus_client: metrics are then shared by every worker
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gate-metrics-")
    settings = load_settings()
    if worker_class == "gevent":
        from gate.api import sdk

        # one cap for the host, counted across its workers: the kernel does not spread connections evenly,
        # so any worker may hold them all
        streams = int(settings["MAX_STREAMS"])
        sdk.HOST_STREAMS = sdk.StreamSlots(streams)
        connections = streams + int(settings["CONNECTIONS_BESIDE_STREAMS"])
        _raise_open_files(connections + 256)  # per process: each worker holds its own connections
    else:  # a quarter of each worker's threads stay free for ordinary requests, however many SDKs stream
        streams, connections = max(1, threads * 3 // 4), threads
    os.environ.setdefault("GATE_STREAMS_PER_WORKER", str(streams))
    from gate import migrate as migrations

    url = settings["DATABASE_URL"]
    for warning in start_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    try:
        current: bool | None = migrations.is_current(url)
    except Exception as exc:
        from gate.services.outage import is_outage

        if not is_outage(exc):
            raise
        click.echo(f"waiting for the database ({exc.__class__.__name__}); serving /healthz meanwhile", err=True)
        current = None  # gunicorn starts; a thread of its master finishes the start when the store answers
    if current is False:
        _fail("the database is not at the newest migration: run `gate db upgrade` first")
    if current:
        _bootstrap()
    try:
        GateServer(
            bind=bind,
            workers=workers,
            worker_class=worker_class,
            connections=connections,
            database_ready=bool(current),
        ).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _raise_open_files(wanted: int) -> None:
    """Lift this process's open-file limit towards `wanted` (each stream is a socket), up to the hard cap."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        click.echo(f"warning: at most {target} open files (ulimit -n): fewer streams than GATE_MAX_STREAMS", err=True)


def _bootstrap() -> None:
    """Check the rings against the store and, on an empty one, create and print the admin token."""
    with _app():
        from gate.services.tokens import bootstrap_admin

        secret = bootstrap_admin()
        if secret is not None:
            click.echo(f"Created the admin token bootstrap-admin; it is shown this once:\n{secret}")


def _when_ready(server: Any) -> None:
    """In gunicorn's master, once it is up: say where Gate listens (each worker binds its own socket)."""
    workers, kind = server.cfg.workers, server.cfg.worker_class_str
    addresses = ", ".join(f"http://{address}" for address in server.cfg.bind)
    server.log.info("Gate is listening at %s (%d %s workers, pid %d)", addresses, workers, kind, server.pid)


def _wait_for_database(server: Any) -> None:
    """In gunicorn's master: once the store answers, finish the start that `serve` could not."""
    _when_ready(server)
    from gate import migrate as migrations
    from gate.services.outage import is_outage

    url = load_settings()["DATABASE_URL"]

    def wait() -> None:
        while True:
            try:
                current = migrations.is_current(url)
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                time.sleep(1.0)
        if not current:
            click.echo("the database is not at the newest migration: run `gate db upgrade`; stopping", err=True)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        click.echo("the database is available", err=True)
        try:
            _bootstrap()
        except SystemExit:  # the rings file does not fit the store: stop as a start would have
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="gate-wait-for-database", daemon=True).start()


def start_warnings(settings: dict[str, Any]) -> list[str]:
    """What an operator should know at start: readable store files, alert channels not configured."""
    from gate.config import Alerting, loose_permissions

    warnings = loose_permissions(str(settings["DATABASE_URL"]))
    alerting = Alerting.from_settings(settings)
    if not alerting.pages:
        warnings.append("GATE_PAGER_URL is not set: incidents of severity 0 and 1 will page nobody")
    if not alerting.emails:
        warnings.append("GATE_SMTP_URL or GATE_ALERT_EMAIL is not set: incidents of severity 2 will e-mail nobody")
    return warnings


def _post_worker_init(worker: Any) -> None:
    """Start this worker's alert dispatcher and plan checker; freeze what startup made; on SIGTERM, end its streams."""
    from gate.runtime import runtime

    runtime(worker.wsgi).outbox.start()
    runtime(worker.wsgi).plans.start()
    # the app, its modules and its caches live as long as the worker: frozen out of the collector's sight, a
    # full collection scans only what connections made since (with 10,000 streams: 300 ms pauses to 150)
    gc.collect()
    gc.freeze()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        runtime(worker.wsgi).watcher.stop()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


try:
    from gunicorn.app.base import BaseApplication
except ImportError:  # pragma: no cover - gunicorn is a dependency; only Windows lacks it
    BaseApplication = object


def _take_turns(worker: Any, request: Any, environ: Any, response: Any) -> None:
    """After each answer, let the worker's other connections run (gevent). A request that waits on nothing
    (a SQLite read, /healthz) never yields, so a keep-alive client sending at once would hold the loop
    while the others queue: measured, a p99 of 240 ms where every request takes under 1 ms."""
    import gevent

    gevent.sleep(0)


class GateServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running Gate's app factory in each worker."""

    def __init__(
        self, *, bind: str, workers: int, worker_class: str, connections: int, database_ready: bool = True
    ) -> None:
        from gate.logs import gunicorn_config

        settings = load_settings()
        # gevent: a stream is a greenlet and a socket; gthread: a stream holds a thread, never a whole worker
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": workers,
            "worker_class": worker_class,
            "threads": connections,
            "worker_connections": connections,
            "backlog": 4096,  # a fleet reconnecting at once after a restart
            # a listening socket per worker: the kernel spreads connections evenly over them (one shared
            # socket lets the busiest worker take most), so every core shares a change's fan-out
            "reuse_port": True,
            "timeout": 60,
            "graceful_timeout": 10,
            # also how long a request's headers may take (gevent): a client trickling them is dropped
            "keepalive": 5,
            "accesslog": "-",  # one line a request, in GATE_LOG_FORMAT (an SDK stream: when it ends)
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
            "logconfig_dict": gunicorn_config(str(settings["LOG_LEVEL"]), str(settings["LOG_FORMAT"])),
            "child_exit": _child_exit,
            "post_worker_init": _post_worker_init,
            "control_socket_disable": True,  # gunicorn's control socket is one per user, shared by every server
        }
        if worker_class == "gevent":
            self.options["post_request"] = _take_turns
        self.options["when_ready"] = _when_ready if database_ready else _wait_for_database
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable came with gunicorn 25.1
                self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        from gate.app import create_app

        return create_app()


# ---- db ------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply migrations (Alembic)."""
    from gate import migrate as migrations

    migrations.upgrade(load_settings()["DATABASE_URL"])
    click.echo("database is at the newest migration")


# ---- tokens --------------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
def token_create(name: str, role: str) -> None:
    """Create a token and print its secret, alone, on stdout."""
    from gate.services.tokens import create_token

    with _app():
        _, secret = create_token(name=name, role=role, actor=_cli_actor())
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from gate.services.tokens import list_tokens

    with _app():
        for t in list_tokens(limit=10000):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            click.echo(
                f"{t.id:>5}  {t.name:<24} {t.role:<9} created {t.created_at:%Y-%m-%d %H:%M}  used {used}  {state}"
            )


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token."""
    from gate.errors import GateError
    from gate.services.tokens import revoke_token

    with _app():
        try:
            revoke_token(token_id=token_id, actor=_cli_actor())
        except GateError as exc:
            _fail(exc.detail)
    click.echo(f"revoked token {token_id}")


# ---- rings and criteria --------------------------------------------------------------------------


@main.group()
def rings() -> None:
    """The rings file."""


@rings.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def rings_check(path: str) -> None:
    """Validate a rings file: a summary, or every error with its path."""
    from gate.domain.durations import format_duration
    from gate.ringsfile import load_rings_file

    try:
        config = load_rings_file(path)
        against = _check_rings_against_database(config)
    except ParseError as exc:
        _fail("\n".join(f"{where}: {msg}" for where, msgs in exc.errors.items() for msg in msgs))
    click.echo(f"{path}: {len(config.rings)} rings: {' → '.join(config.names)} ({against})")
    for ring in config.rings:
        asks = []
        if ring.gate.soak:
            asks.append(f"soak {format_duration(ring.gate.soak)}")
        if ring.gate.block_on_incidents is not None:
            asks.append(f"no open incident of severity ≤ {ring.gate.block_on_incidents}")
        if ring.gate.zero_bug_bounce:
            asks.append("zero bugs")
        if ring.gate.rca_complete:
            asks.append("RCA closed")
        click.echo(f"  {ring.name}: {', '.join(asks) or 'criteria only'}")


def _check_rings_against_database(config: RingsConfig) -> str:
    """Refuse (ParseError) a rings file that drops a ring the configured database still uses, as `serve`
    would at start; say what the file was checked against."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from gate import migrate
    from gate.config import sqlite_path
    from gate.ringsfile import check_rings_in_use

    url = load_settings()["DATABASE_URL"]
    shown = make_url(url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        return f"no database at {path} yet: the file alone was checked"
    try:
        current = migrate.is_current(url)
    except Exception as exc:  # unreachable or not a database: the file alone is still worth checking
        return f"the database {shown} cannot be read ({exc.__class__.__name__}): the file alone was checked"
    if not current:
        return f"the database {shown} is not migrated: the file alone was checked"
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            check_rings_in_use(session, config)
    finally:
        engine.dispose()
    return f"every ring in use in {shown} is still there"


@main.group()
def criteria() -> None:
    """Product YAML."""


@criteria.command("apply")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def criteria_apply(paths: tuple[str, ...]) -> None:
    """Apply product YAML files, as PUT /api/v1/features/{key}/criteria does."""
    from gate.domain.features import parse_feature
    from gate.services.context import rings as loaded_rings
    from gate.services.features import apply_criteria
    from gate.yamlio import load_yaml

    with _app():
        specs, errors = [], []
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    specs.append(parse_feature(load_yaml(handle.read(), source="$"), loaded_rings()))
            except ParseError as exc:
                errors += [f"{path}: {where}: {msg}" for where, msgs in exc.errors.items() for msg in msgs]
        if errors:
            _fail("\n".join(errors))
        for spec in specs:
            view = apply_criteria(spec=spec, actor=_cli_actor())
            click.echo(f"{spec.key}: {counted(len(view.criteria), 'criterion', 'criteria')} applied")


# ---- status --------------------------------------------------------------------------------------


@main.command()
@click.argument("feature")
@remote_options
def status(feature: str, remote: Remote | None) -> None:
    """Ring, rollout and gate of a feature (locally, or from the server with --url)."""
    if remote is not None:
        shown, gate = remote.call("GET", f"/features/{feature}"), remote.call("GET", f"/features/{feature}/gate")
        if not remote.json:
            code, plan = remote.request("GET", f"/features/{feature}/plan")
            print_status(shown, gate, plan if code == 200 else None)
        return
    from gate.api.schemas import FeatureOut, GateOut, PlanOut
    from gate.errors import GateError, NotFound
    from gate.services.features import get_feature
    from gate.services.plans import get_plan
    from gate.services.releases import gate_for

    with _app():
        try:
            view = get_feature(feature)
            result = gate_for(key=feature, ring=None)
        except GateError as exc:
            _fail(exc.detail)
        try:
            plan = PlanOut().dump(get_plan(feature))
        except NotFound:
            plan = None
        print_status(FeatureOut().dump(view), GateOut().dump(result), plan)  # the API's words, locally too


def print_status(feature: dict[str, Any], gate: dict[str, Any], plan: dict[str, Any] | None = None) -> None:
    click.echo(f"{feature['key']} — {feature['name']} (owner {feature['owner']})")
    click.echo(f"exposure: {exposure_words(feature['state'])}   snapshot version {feature['version']}")
    print_gate(gate)
    if plan is not None:
        click.echo(f"release {plan_headline(plan)}")


def print_gate(gate: dict[str, Any], err: bool = False) -> None:
    click.echo(f"gate for {gate['ring']}: {'PASSES' if gate['passed'] else 'REFUSED'}", err=err)
    for check in gate["checks"]:
        click.echo(check_line(check), err=err)


# ---- dora ----------------------------------------------------------------------------------------


@main.command("dora")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option("--benchmark", default=None, help="DORA report year of the level table")
@remote_options
def dora_command(days: int, benchmark: str | None, remote: Remote | None) -> None:
    """The DORA metrics over the last N UTC days, for a terminal (locally, or from the server with --url)."""
    if remote is not None:
        query = f"?days={days}" + (f"&benchmark={quote(benchmark)}" if benchmark else "")
        answer = remote.call("GET", "/metrics/dora" + query)
        if not remote.json:
            answer["since"], answer["until"] = (datetime.fromisoformat(answer[k]) for k in ("since", "until"))
            print_dora(answer, days)
        return
    from gate.errors import GateError
    from gate.services.dora import metrics

    with _app():
        try:
            m = metrics(days=days, benchmark=benchmark)
        except GateError as exc:
            _fail(exc.detail)
    print_dora(m, days)


def print_dora(m: dict[str, Any], days: int) -> None:
    """The four metrics in words: the same lines from the local store and from a server."""

    def hours(value: float | None) -> str:
        return "no data" if value is None else f"{value:g} h"

    freq, lead, fail, restore = (
        m[k] for k in ("deployment_frequency", "lead_time_hours", "change_fail_rate", "time_to_restore_hours")
    )
    click.echo(
        f"DORA metrics, {m['since']:%Y-%m-%d} to {m['until']:%Y-%m-%d %H:%M} UTC ({counted(days, 'day')}), "
        f"levels from the {m['benchmark']} report"
    )
    click.echo(
        f"  Deployment frequency  {counted(freq['deployments'], 'deployment')} on "
        f"{counted(freq['deploy_days'], 'day')}, {freq['per_week']:g} a week  [{freq['level']}]"
    )
    click.echo(
        f"  Lead time             median {hours(lead['median'])}, p90 {hours(lead['p90'])} over "
        f"{counted(lead['changes'], 'change')}  [{lead['level'] or '-'}]"
    )
    percent = "no data" if fail["percent"] is None else f"{fail['percent']}%"
    click.echo(
        f"  Change fail rate      {percent} ({fail['failed']} of {fail['deployments']})  [{fail['level'] or '-'}]"
    )
    click.echo(
        f"  Time to restore       median {hours(restore['median'])} over {counted(restore['incidents'], 'incident')}  "
        f"[{restore['level'] or '-'}]"
    )


register_remote(main, print_gate)  # features, show, check, wait, apply, vote, promote … against a server
