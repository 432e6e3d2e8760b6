"""Liveness, readiness, Prometheus metrics and the rings as loaded."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import text

from gate import metrics
from gate import schemas as s
from gate.api.auth import ANY
from gate.api.boundary import Blueprint
from gate.domain.rings import Ring
from gate.errors import Unavailable
from gate.services.context import rings, session

blp = Blueprint("meta", __name__, description="Health, metrics and rings")


class NotReady(Unavailable):
    title, type = "Not ready", "/problems/not-ready"


@blp.route("/healthz")
@blp.response(200)
def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.response(200)
def readyz() -> dict[str, Any]:
    """Readiness: the database answers."""
    try:
        session().execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the store means not ready
        session().rollback()
        raise NotReady(f"the database is unreachable: {type(exc).__name__}") from None
    return {"status": "ready"}


@blp.route("/metrics")
@blp.response(200)
def prometheus() -> Response:
    """Prometheus text format."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


@blp.route("/api/v1/rings")
@blp.requires(*ANY)
@blp.response(200, s.RingOut(many=True))
def list_rings() -> list[Ring]:
    """The rings as loaded, in exposure order."""
    return list(rings().rings)
