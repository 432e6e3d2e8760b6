"""`gate serve`: gunicorn with production settings, alert delivery and plan checks in every worker."""

from __future__ import annotations

import gc
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from gate.cli.exits import FAILED, fail
from gate.cli.group import main
from gate.cli.local import local_app, parse_errors
from gate.config import SignOn, load_settings
from gate.domain.errors import ParseError


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT to listen on")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="at least this many; gevent: more when their open files cannot hold GATE_MAX_STREAMS",
)
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
    metrics_dir, master = None, os.getpid()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gate-metrics-")
    nudges = tempfile.mkdtemp(prefix="gate-nudge-")  # where this host's watchers hear of each commit
    settings = load_settings()
    try:
        SignOn.from_settings(settings)  # a wrong identity-provider setting stops the start, in words
    except ParseError as exc:
        fail(FAILED, parse_errors(exc))
    slots = None
    if worker_class == "gevent":
        capacity = _host_capacity(settings, workers)
        streams, connections, workers = capacity.streams, capacity.per_worker + capacity.beside, capacity.workers
        from gate.config import stream_share
        from gate.services.streams import StreamSlots

        slots = StreamSlots(streams, stream_share(settings, streams))  # the host's, counted across its workers
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
        fail(FAILED, "the database is not at the newest migration: run `gate db upgrade` first")
    if current:
        _bootstrap()
    try:
        GateServer(
            bind=bind,
            workers=workers,
            worker_class=worker_class,
            connections=connections,
            database_ready=bool(current),
            stream_slots=slots,
            nudges=nudges,
        ).run()
    finally:
        # a worker leaves through here too (a forked copy of this stack, exiting): only the master cleans up,
        # or the first worker to stop takes the metrics away from the others still answering
        if os.getpid() == master:
            shutil.rmtree(nudges, ignore_errors=True)
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


MOST_FILES = 1 << 20  # what a process asks for when its hard limit is unlimited
SPREAD = 1.1  # the kernel spreads connections over the workers' sockets evenly, to within a tenth
RESERVED_FILES = 256  # a worker's own: the database, logs, pipes, the metrics files


@dataclass(frozen=True)
class Capacity:
    """What one host holds: its stream cap, over how many workers, each with how many open files."""

    streams: int
    workers: int
    files: int  # open files a process may have
    beside: int  # of which connections beside the streams (ordinary requests)

    @property
    def per_worker(self) -> int:
        return max(1, self.files - self.beside - RESERVED_FILES)


def stream_capacity(wanted: int, workers: int, files: int, beside: int, *, most_workers: int) -> Capacity:
    """The streams a host holds (at most `wanted`) with at least `workers` workers, each process allowed
    `files` open files: as many workers as hold `wanted` (up to `most_workers`), else fewer streams."""
    beside = min(beside, files // 4)
    per_worker = Capacity(0, 0, files, beside).per_worker
    workers = max(workers, min(most_workers, math.ceil(wanted * SPREAD / per_worker)))
    return Capacity(min(wanted, int(workers * per_worker / SPREAD)), workers, files, beside)


def _host_capacity(settings: dict[str, Any], workers: int) -> Capacity:
    """One cap for the host, counted across its workers; a worker holds a stream for a socket, so enough
    workers that their open files hold the cap. Said at start."""
    capacity = stream_capacity(
        int(settings["MAX_STREAMS"]),
        workers,
        _raise_open_files(),
        int(settings["CONNECTIONS_BESIDE_STREAMS"]),
        most_workers=max(workers, 4 * (os.cpu_count() or 1)),
    )
    raised = f", raised from {workers}: each may open {capacity.files:,} files" if capacity.workers > workers else ""
    click.echo(
        f"gate serve holds up to {capacity.streams:,} SDK streams: {capacity.workers} workers{raised}, "
        f"up to {capacity.per_worker:,} streams each",
        err=True,
    )
    if capacity.streams < int(settings["MAX_STREAMS"]):
        click.echo(
            f"warning: {capacity.files:,} open files a process (ulimit -n): fewer streams than GATE_MAX_STREAMS",
            err=True,
        )
    return capacity


def _raise_open_files() -> int:
    """Lift this process's open-file limit to its hard cap (each stream is a socket); the limit it has."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MOST_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target if soft == resource.RLIM_INFINITY or soft < target else soft


def _bootstrap() -> None:
    """Check the rings against the store and, on an empty one, create and print the admin token."""
    with local_app(server_hint=False):
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
    if alerting.unsigned_webhooks:
        warnings.append(
            "GATE_WEBHOOK_SECRET is not set: webhooks are sent unsigned to " + ", ".join(alerting.unsigned_webhooks)
        )
    sign_on = SignOn.from_settings(settings)
    if sign_on is not None and (why := _unreachable(sign_on.issuer)):
        warnings.append(
            f"the identity provider {sign_on.issuer} cannot be reached ({why}): the sign-in page offers tokens "
            "only, and Gate keeps trying"
        )
    return warnings


def _unreachable(issuer: str) -> str | None:
    """Why the provider's discovery document cannot be read now; None when it can."""
    from gate import httpout

    try:
        answer = httpout.request("GET", f"{issuer}/.well-known/openid-configuration", timeout=3)
    except httpout.HttpError as exc:
        return str(exc)
    return None if answer.status == 200 else f"discovery answered {answer.status}"


def _post_worker_init(worker: Any) -> None:
    """Start this worker's alert dispatcher, plan checker and milestone watch; freeze what startup made; on
    SIGTERM, end its streams."""
    from gate.runtime import runtime

    runtime(worker.wsgi).outbox.start()
    runtime(worker.wsgi).plans.start()
    runtime(worker.wsgi).milestones.start()
    # the app, its modules and its caches live as long as the worker: frozen out of the collector's sight, a
    # full collection scans only what connections made since (with 10,000 streams: 300 ms pauses to 150)
    gc.collect()
    gc.freeze()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        runtime(worker.wsgi).watcher.stop(wait=False)  # the streams end; _worker_exit joins the watcher
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def _worker_exit(server: Any, worker: Any) -> None:
    """In the worker, once it has left its loop: end the streams its send loop holds (their clients come back
    to another worker), let the watcher hand its connection back."""
    from gate.runtime import runtime

    engine = runtime(worker.wsgi).streams
    engine.watcher.stop()
    if engine.hub is not None:
        engine.hub.end_all()


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
        self,
        *,
        bind: str,
        workers: int,
        worker_class: str,
        connections: int,
        database_ready: bool = True,
        stream_slots: Any = None,
        nudges: str | None = None,
    ) -> None:
        from gate.logs import gunicorn_config

        self.stream_slots = stream_slots  # made here, before the fork: every worker counts in the same memory
        from gate.services.watch import Nudge

        self.nudge = Nudge(nudges) if nudges else None
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
            "worker_exit": _worker_exit,
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

        # the host's: its watchers hear of each commit (on a SQLite file, with every other writer's of it)
        shared: dict[str, Any] = {"VERSION_NUDGE": self.nudge, "NUDGE_STORE": True}
        if self.stream_slots is not None:
            shared["STREAM_SLOTS"] = self.stream_slots
        return create_app(shared)
