"""What SDKs call: the snapshot (with ETag), the stream, server-side evaluation and exposure counts."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from flask import Flask, Response, current_app, g, request
from gate_sdk import etag_for, evaluate

from gate import schemas as s
from gate.api.auth import VERSIONS_READ, bearer, principal
from gate.api.boundary import Blueprint, names_etag, not_modified
from gate.errors import Unavailable
from gate.metrics import observe
from gate.runtime import runtime
from gate.services import streams
from gate.services.context import current, now
from gate.services.exposures import record_exposures
from gate.services.snapshots import BuiltSnapshot
from gate.services.sockets import under_gevent

if TYPE_CHECKING:
    from gate.services.streams import Holder

blp = Blueprint("sdk", __name__, description="For SDKs: snapshot, stream, evaluation, exposures")


ROLE_HEADER = "Gate-Token-Role"  # on what SDKs fetch: the SDK warns when its key is not an sdk token


class StreamsFull(Unavailable):
    title, type = "Too many streams", "/problems/streams-full"
    retry_after = 5  # SDKs poll meanwhile, and come back spread over 5 to 7.5 s


def current_snapshot() -> BuiltSnapshot:
    """This worker's snapshot, at least as new as the version read for this request."""
    return runtime().snapshots.get(g.snapshot_version)


@blp.route("/sdk/snapshot")
@blp.requires("sdk")
@blp.response(200, s.SnapshotOut)
@blp.alt_response(304, description="unchanged since If-None-Match")
def snapshot() -> Response:
    """Every ring and flag, for local evaluation. ETag is the version; If-None-Match answers 304."""
    unchanged = not_modified(etag_for(g.snapshot_version))
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
        environ[VERSIONS_READ] = state
        etag = etag_for(state[0])
        if not names_etag(environ["HTTP_IF_NONE_MATCH"], etag):
            return self.wsgi(environ, start_response)
        start_response("304 NOT MODIFIED", [("ETag", etag), (ROLE_HEADER, who.role), *self.headers])
        observe("GET", "sdk.snapshot", 304, started)
        return []


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
    engine, who = runtime().streams, principal()
    token_id = cast(int, who.token_id)  # whoever calls the API holds a token (people sign in to pages only)
    refused = engine.slots.take(token_id)
    if refused is not None:
        raise StreamsFull(f"{refused}: poll the snapshot and retry later")
    try:
        engine.watcher.ensure_running()
        built = current_snapshot()
        current().sessions.remove()
    except BaseException:
        engine.slots.give(token_id)
        raise
    first = None if request.headers.get("Last-Event-ID", "").strip() == str(built.version) else built
    patches = bool(args["patches"])
    expires_in = math.inf if who.expires_at is None else (who.expires_at - now()).total_seconds()
    sock = request.environ.get("gunicorn.socket")
    # gunicorn frames a GET's answer over HTTP/1.1 as chunks (no length is known): the stream can send its
    # events in the same frames itself (HTTP/1.0, through a proxy that speaks it, is sent as it is)
    chunked = request.method == "GET" and request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
    if engine.hub is not None and sock is not None and chunked and under_gevent():
        # answered here, then the worker's one send loop holds the connection (StreamAdoption)
        request.environ[ADOPT] = Adoption(token_id, built.version, patches, min(engine.max_seconds, expires_in), first)
        return _stream_response(who.role)
    events = engine.events(
        first=first,
        known=built.version,
        token=(token_id, g.tokens_version),
        patches=patches,
        expires_in=expires_in,
    )
    body = streams.StreamBody(
        events,
        engine.slots,
        token_id,
        sock,
        send_timeout=float(current_app.config["STREAM_SEND_TIMEOUT"]),
        buffer=int(current_app.config["STREAM_SEND_BUFFER"]),
        frames=engine.frames if sock is not None and chunked else None,
    )
    engine.reaper.watch(body)
    response = _stream_response(who.role, body)
    # the events are bytes already: the server iterates the stream itself, without werkzeug's per-event
    # encoding and closing layers (closing it still gives the slot back: StreamBody.close)
    response.direct_passthrough = True
    return response


def _stream_response(role: str, body: Any = b"") -> Response:
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.headers[ROLE_HEADER] = role
    return response


STREAM_PATH, ADOPT = "/api/v1/sdk/stream", "gate.stream.adopt"


class Adoption(NamedTuple):
    """A stream answered by the view, for the worker's send loop to hold: its token, the version its first
    events bring the client to, whether it takes patches, how long it may last, the snapshot it starts with."""

    token_id: int
    known: int
    patches: bool
    ends_in: float
    first: BuiltSnapshot | None


class StreamAdoption:
    """WSGI middleware: a stream the view marked for adoption is answered here, on gunicorn's socket: the
    head the app made (without a length, with chunked framing and `Connection: close`) and the first
    events, then a duplicate of the socket goes to the worker's `StreamHub`. Raising StopIteration tells
    gunicorn the connection is done with (it closes its own descriptor, not the connection), so the
    request's greenlet and objects go; the stream costs the worker what the hub holds for it."""

    def __init__(self, app: Flask, wsgi: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.wsgi = app, wsgi

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STREAM_PATH:
            return self.wsgi(environ, start_response)
        answered: list[tuple[str, list[tuple[str, str]]]] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answered[:] = [(status, headers)]
            return start_response(status, headers, exc_info) if ADOPT not in environ else lambda _: None

        body = self.wsgi(environ, keep)
        adoption: Adoption | None = environ.pop(ADOPT, None)
        if adoption is None:
            return body
        engine = runtime(self.app).streams
        try:
            if hasattr(body, "close"):
                body.close()
            fd = os.dup(environ["gunicorn.socket"].fileno())
        except BaseException:
            engine.slots.give(adoption.token_id)
            raise
        hub = cast("Holder", engine.hub)
        hub.adopt(
            fd,
            _head(*answered[0]),
            engine.opening(adoption.first),
            token_id=adoption.token_id,
            known=adoption.known,
            patches=adoption.patches,
            ends_in=adoption.ends_in,
        )
        raise StopIteration  # gunicorn lets its socket go; the hub holds the connection


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers if k.lower() != "content-length")]
    lines += [f"Date: {formatdate(usegmt=True)}", "Transfer-Encoding: chunked", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


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
