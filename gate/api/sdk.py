"""What SDKs call: the snapshot (with ETag) and server-side evaluation."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, current_app, g, request
from flask_smorest import Blueprint
from gate_sdk import evaluate

from gate.api import schemas as s
from gate.api.auth import requires
from gate.services.snapshots import BuiltSnapshot, SnapshotCache

blp = Blueprint("sdk", __name__, description="For SDKs: snapshot and evaluation")


def current_snapshot() -> BuiltSnapshot:
    """This worker's snapshot, at least as new as the version read for this request."""
    cache = cast(SnapshotCache, current_app.extensions["gate.snapshots"])
    return cache.get(g.state_version)


@blp.route("/sdk/snapshot")
@requires("sdk")
@blp.response(200, s.SnapshotOut)
@blp.alt_response(304, description="unchanged since If-None-Match")
def snapshot() -> Response:
    """Every ring and flag, for local evaluation. ETag is the version; If-None-Match answers 304."""
    etag = f'"{g.state_version}"'
    if request.if_none_match.contains_weak(etag.strip('"')):
        response = Response(status=304)
        response.headers["ETag"] = etag
        return response
    built = current_snapshot()
    response = Response(built.body, mimetype="application/json")
    response.headers["ETag"] = built.etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/sdk/evaluate", methods=["POST"])
@requires("sdk")
@blp.arguments(s.EvaluateIn)
@blp.response(200, s.EvaluationOut)
def evaluate_flag(body: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one flag on the server, with the same algorithm the SDK runs."""
    result = evaluate(current_snapshot().parsed, body["flag"], body["context"])
    return result._asdict()
