"""What SDKs call: the snapshot (with ETag), the stream, server-side evaluation and exposure counts."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask import Flask, Response, current_app, g, request
from gate_sdk import etag_for, evaluate

from gate.api import schemas as s
from gate.api.auth import STATE_READ, bearer, principal
from gate.api.boundary import Blueprint, names_etag, not_modified
from gate.errors import Unavailable
from gate.extensions import db
from gate.metrics import observe
from gate.runtime import runtime
from gate.services.context import now
from gate.services.exposures import record_exposures
from gate.services.snapshots import BuiltSnapshot

blp = Blueprint("sdk", __name__, description="For SDKs: snapshot, stream, evaluation, exposures")


ROLE_HEADER = "Gate-Token-Role"  # on what SDKs fetch: the SDK warns when its key is not an sdk token


class StreamsFull(Unavailable):
    title, type = "Too many streams", "/problems/streams-full"
    retry_after = 5  # SDKs poll meanwhile, and come back spread over 5 to 7.5 s


def current_snapshot() -> BuiltSnapshot:
    """This worker's snapshot, at least as new as the version read for this request."""
    return runtime().snapshots.get(g.state_version)


@blp.route("/sdk/snapshot")
@blp.requires("sdk")
@blp.response(200, s.SnapshotOut)
@blp.alt_response(304, description="unchanged since If-None-Match")
def snapshot() -> Response:
    """Every ring and flag, for local evaluation. ETag is the version; If-None-Match answers 304."""
    unchanged = not_modified(etag_for(g.state_version))
    if unchanged is not None:
        unchanged.headers[ROLE_HEADER] = principal().role
        return unchanged
    built = current_snapshot()
    gzipped = request.accept_encodings.quality("gzip") > 0
    response = Response(built.gzipped if gzipped else built.body, mimetype="application/json")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = built.etag
    response.headers["Cache-Control"] = "no-cache"
    response.headers[ROLE_HEADER] = principal().role
    return response


SNAPSHOT_PATH = "/api/v1/sdk/snapshot"


class Revalidation:
    """WSGI middleware for the fleet's most frequent request: "has the snapshot changed?" answered 304
    without the framework, by the same rules as the view (`bearer`, the state read, `names_etag`).

    Only a plain `GET /api/v1/sdk/snapshot` with If-None-Match is looked at. Whatever is not a 304 for a
    valid sdk token (a changed snapshot, no token, an outage) goes on to the app, which answers it in
    full and reuses the state read made here, so nothing is read twice.
    """

    def __init__(self, app: Flask, wsgi: Callable[..., Iterable[bytes]], headers: Mapping[str, str]) -> None:
        self.app, self.wsgi, self.headers = app, wsgi, list(headers.items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != SNAPSHOT_PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or not environ.get("HTTP_IF_NONE_MATCH")
        ):
            return self.wsgi(environ, start_response)
        started = time.perf_counter()
        try:
            with self.app.app_context():
                who, state = bearer(environ.get("HTTP_AUTHORIZATION", ""), ("sdk",))
        except Exception:  # the app answers it, with the problem document it deserves
            return self.wsgi(environ, start_response)
        environ[STATE_READ] = state
        etag = etag_for(state[0])
        if not names_etag(environ["HTTP_IF_NONE_MATCH"], etag):
            return self.wsgi(environ, start_response)
        start_response("304 NOT MODIFIED", [("ETag", etag), (ROLE_HEADER, who.role), *self.headers])
        observe("GET", "sdk.snapshot", 304, started)
        return []


class StreamSlots:
    """Caps open streams: made before gunicorn forks, one count in shared memory holds for every worker of
    the host (however unevenly the kernel hands them connections); made in a worker, for that worker."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = multiprocessing.Value("q", 0)  # a lock-guarded counter in memory the forks share

    def take(self) -> bool:
        with self._open.get_lock():
            if self._open.value >= self.limit:
                return False
            self._open.value += 1
            return True

    def give(self) -> None:
        with self._open.get_lock():
            self._open.value = max(0, self._open.value - 1)

    @property
    def open(self) -> int:
        return int(self._open.value)


HOST_STREAMS: StreamSlots | None = None  # set by `gate serve` in gunicorn's master, before the fork


def _events(
    app: Flask, first: BuiltSnapshot | None, known: int, token: tuple[int, int], patches: bool, expires_in: float
) -> Iterator[bytes]:
    watcher, cache, tokens = runtime(app).watcher, runtime(app).snapshots, runtime(app).tokens
    token_id, tokens_known = token  # the token, and the tokens version it was authenticated at
    keepalive = float(app.config["STREAM_KEEPALIVE_SECONDS"])
    # streams end now and then, so that reconnecting clients spread over the workers
    deadline = time.monotonic() + float(app.config["STREAM_MAX_SECONDS"])
    expires = time.monotonic() + expires_in  # an expired token reaches nothing, its open streams included
    yield b"retry: 1000\n\n"
    if first is not None:
        yield first.snapshot_event
    while time.monotonic() < deadline and not watcher.stopped:
        left = expires - time.monotonic()
        if left <= 0:
            return
        version, tokens_version = watcher.wait_changed((known, tokens_known), timeout=min(keepalive, left))
        if watcher.stopped or time.monotonic() >= expires:
            return
        tokens_changed = tokens_version != tokens_known
        if tokens_changed:
            tokens_known = tokens_version
            with app.app_context():
                revoked = tokens.by_id(token_id, tokens_version) is None
                db.session.remove()
            if revoked:  # a revoked token reaches nothing, an open stream included
                return
        if version == known:
            if not tokens_changed:
                yield b": keepalive\n\n"
            continue
        built = cache.fresh(version)  # built once for all of this worker's streams
        if built is None:
            with app.app_context():
                built = cache.get(version)
                db.session.remove()
        event = built.event_after(known, patches)
        known = built.version
        yield event


def _expires_in() -> float:
    """Seconds until the requesting token expires (infinite for a token that never does)."""
    expires_at = principal().expires_at
    return math.inf if expires_at is None else (expires_at - now()).total_seconds()


class _Stream:
    """The response body: gives its slot back when the server closes it, started or not."""

    def __init__(self, events: Iterator[bytes], slots: StreamSlots, sock: Any) -> None:
        self._events, self._slots, self._open = events, slots, True
        self._sock, self._timeout = sock, None
        if sock is not None and hasattr(sock, "settimeout"):
            # a client that stops reading fills its stream's bounded send buffer; a send that cannot go on
            # for STREAM_SEND_TIMEOUT drops it, and the others never wait for it
            self._timeout = sock.gettimeout()
            sock.settimeout(float(current_app.config["STREAM_SEND_TIMEOUT"]))
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(current_app.config["STREAM_SEND_BUFFER"]))

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        if self._open:
            self._open = False
            self._events.close()  # type: ignore[attr-defined]
            self._slots.give()
            if self._sock is not None and hasattr(self._sock, "settimeout"):
                with contextlib.suppress(OSError):
                    self._sock.settimeout(self._timeout)


@blp.route("/sdk/stream")
@blp.requires("sdk")
@blp.arguments(s.StreamQuery, location="query")
@blp.response(
    200,
    description="text/event-stream: `event: snapshot`, `id: VERSION`, `data: SNAPSHOT`; with ?patches=1, "
    'later changes as `event: patch`, `data: {"base", "version", "flags"}`',
)
def stream(args: dict[str, Any]) -> Response:
    """Server-Sent Events: the current snapshot (unless Last-Event-ID names it), then every new one;
    with ?patches=1, each later change as a patch of only the flags that changed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    slots = runtime(app).stream_slots
    if not slots.take():
        raise StreamsFull("this worker holds all the streams it may; poll the snapshot and retry later")
    try:
        runtime(app).watcher.ensure_running()
        built = current_snapshot()
        db.session.remove()
    except BaseException:
        slots.give()
        raise
    last = request.headers.get("Last-Event-ID", "").strip()
    patches = bool(args["patches"])
    first = None if last == str(built.version) else built
    response = Response(
        _Stream(
            _events(app, first, built.version, (principal().token_id, g.tokens_version), patches, _expires_in()),
            slots,
            request.environ.get("gunicorn.socket"),
        ),
        mimetype="text/event-stream",
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.headers[ROLE_HEADER] = principal().role
    return response


@blp.route("/sdk/evaluate", methods=["POST"])
@blp.requires("sdk")
@blp.arguments(s.EvaluateIn)
@blp.response(200, s.EvaluationOut)
def evaluate_flag(body: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one flag on the server, with the same algorithm the SDK runs."""
    result = evaluate(current_snapshot().parsed, body["flag"], body["context"])
    return result._asdict()


@blp.route("/sdk/exposures", methods=["POST"])
@blp.requires("sdk")
@blp.arguments(s.ExposuresIn)
@blp.response(200, s.ExposuresOut)
def exposures(body: dict[str, Any]) -> dict[str, Any]:
    """Evaluation counts per flag and result, batched by the SDK; they date each flag's last evaluation."""
    accepted, unknown = record_exposures((e["flag"], e["enabled"], e["count"]) for e in body["exposures"])
    return {"accepted": accepted, "unknown_flags": unknown}
