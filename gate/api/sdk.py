"""What SDKs call: the snapshot (with ETag), the stream, server-side evaluation and exposure counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, g, request
from gate_sdk import etag_for, evaluate

from gate.api import schemas as s
from gate.api.auth import principal
from gate.api.boundary import Blueprint, not_modified
from gate.errors import GateError
from gate.extensions import db
from gate.runtime import runtime
from gate.services.exposures import record_exposures
from gate.services.snapshots import BuiltSnapshot

blp = Blueprint("sdk", __name__, description="For SDKs: snapshot, stream, evaluation, exposures")


class StreamsFull(GateError):
    status, title, type = 503, "Too many streams", "/problems/streams-full"


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
        return unchanged
    built = current_snapshot()
    response = Response(built.body, mimetype="application/json")
    response.headers["ETag"] = built.etag
    response.headers["Cache-Control"] = "no-cache"
    return response


class StreamSlots:
    """Caps the streams one worker holds, so that ordinary requests always find a thread."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)

    def take(self) -> bool:
        return self._slots.acquire(blocking=False)

    def give(self) -> None:
        self._slots.release()


def _event(built: BuiltSnapshot) -> bytes:
    return b"event: snapshot\nid: %d\ndata: %s\n\n" % (built.version, built.body)


def _events(app: Flask, first: BuiltSnapshot | None, known: int, token: tuple[int, int]) -> Iterator[bytes]:
    watcher, cache, tokens = runtime(app).watcher, runtime(app).snapshots, runtime(app).tokens
    token_id, tokens_known = token  # the token, and the tokens version it was authenticated at
    keepalive = float(app.config["STREAM_KEEPALIVE_SECONDS"])
    # streams end now and then, so that reconnecting clients spread over the workers
    deadline = time.monotonic() + float(app.config["STREAM_MAX_SECONDS"])
    yield b"retry: 1000\n\n"
    if first is not None:
        yield _event(first)
    while time.monotonic() < deadline and not watcher.stopped:
        version, tokens_version = watcher.wait_changed((known, tokens_known), timeout=keepalive)
        if watcher.stopped:
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
        with app.app_context():
            built = cache.get(version)
            db.session.remove()
        known = built.version
        yield _event(built)


class _Stream:
    """The response body: gives its slot back when the server closes it, started or not."""

    def __init__(self, events: Iterator[bytes], slots: StreamSlots) -> None:
        self._events, self._slots, self._open = events, slots, True

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        if self._open:
            self._open = False
            self._events.close()  # type: ignore[attr-defined]
            self._slots.give()


@blp.route("/sdk/stream")
@blp.requires("sdk")
@blp.response(200, description="text/event-stream: `event: snapshot`, `id: VERSION`, `data: SNAPSHOT`")
def stream() -> Response:
    """Server-Sent Events: the current snapshot (unless Last-Event-ID names it), then every new one."""
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
    first = None if last == str(built.version) else built
    response = Response(
        _Stream(_events(app, first, built.version, (principal().token_id, g.tokens_version)), slots),
        mimetype="text/event-stream",
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
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
