"""OFREP, the OpenFeature Remote Evaluation Protocol: OpenFeature's OFREP providers work unchanged."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response
from gate_sdk import EvaluationDetails, Snapshot, evaluate
from gate_sdk import openfeature_shape as openfeature

from gate import schemas as s
from gate.api.boundary import Blueprint, not_modified
from gate.api.sdk import current_snapshot
from gate.errors import NotFound

blp = Blueprint("ofrep", __name__, description="OpenFeature Remote Evaluation Protocol")


class FlagNotFound(NotFound):
    """A 404 that OFREP clients read too: `errorCode` and `errorDetails` beside the problem fields."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no flag {key!r}")
        self.key = key

    def to_problem(self) -> dict[str, Any]:
        return {**super().to_problem(), "key": self.key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": self.detail}


def gate_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """OFREP context → Gate context: `targetingKey` is the user; tenant and groups as they are."""
    context = context or {}
    return openfeature.gate_context(context.get("targetingKey"), context)


def ofrep_result(result: EvaluationDetails) -> dict[str, Any]:
    """One flag's OFREP answer; Gate's own reason, ring and version in the metadata."""
    return {
        "key": result.flag,
        "value": result.enabled,
        "variant": openfeature.variant(result),
        "reason": openfeature.openfeature_reason(result),
        "metadata": openfeature.flag_metadata(result),
    }


@blp.route("/evaluate/flags/<key>", methods=["POST"])
@blp.requires("sdk")
@blp.arguments(s.OfrepIn)
@blp.response(200, s.OfrepFlagOut)
def evaluate_one(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Evaluate one flag; an unknown flag is 404 with errorCode FLAG_NOT_FOUND."""
    snapshot = current_snapshot().parsed
    if key not in snapshot.flags:
        raise FlagNotFound(key)
    return ofrep_result(evaluate(snapshot, key, gate_context(body["context"])))


def _bulk_etag(snapshot: Snapshot, context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f'"{snapshot.version}-{digest}"'


@blp.route("/evaluate/flags", methods=["POST"])
@blp.requires("sdk")
@blp.arguments(s.OfrepIn)
@blp.response(200, s.OfrepBulkOut)
@blp.alt_response(304, description="unchanged since If-None-Match")
def evaluate_all(body: dict[str, Any]) -> Response | dict[str, Any]:
    """Evaluate every flag for a context; the ETag covers the snapshot version and the context."""
    snapshot = current_snapshot().parsed
    context = gate_context(body["context"])
    etag = _bulk_etag(snapshot, context)
    unchanged = not_modified(etag)
    if unchanged is not None:
        return unchanged
    flags = [ofrep_result(evaluate(snapshot, key, context)) for key in sorted(snapshot.flags)]
    response = Response(json.dumps({"flags": flags}), mimetype="application/json")
    response.headers["ETag"] = etag
    return response
