"""Evidence from CI (contract §8.2): upload a report for a criterion, list what was reported."""

from __future__ import annotations

from typing import Any

from gate import schemas as s
from gate.api.auth import ANY, actor
from gate.api.boundary import Blueprint, report_body, report_type
from gate.api.pagination import page
from gate.domain.reports import MEDIA_TYPES
from gate.services import evidence
from gate.services.evidence import EvidenceView

blp = Blueprint("evidence", __name__, description="CI reports that decide criteria beside QA votes")

_REPORT = {"schema": {"type": "string", "format": "binary"}}
_BODY = {
    "requestBody": {
        "required": True,
        "description": "the report itself, read by its content: JUnit or Cobertura XML, coverage.py JSON, "
        'SARIF 2.1.0, {"measures": {...}} or LCOV; Content-Encoding: gzip accepted',
        "content": {media: _REPORT for media in sorted(MEDIA_TYPES)},
    }
}


@blp.route("/features/<key>/criteria/<criterion>/evidence", methods=["POST"])
@blp.requires("ci")
@blp.arguments(s.EvidenceQuery, location="query")
@blp.response(201, s.EvidenceOut)
@blp.doc(**_BODY)
def report(args: dict[str, Any], key: str, criterion: str) -> EvidenceView:
    """Report a CI run's evidence for a criterion: the verdict is kept with its build and link."""
    return evidence.report(
        key=key,
        criterion=criterion,
        body=report_body(),
        media_type=report_type(),
        build=args["build"],
        link=args["link"],
        actor=actor(),
    )


@blp.route("/features/<key>/criteria/<criterion>/evidence")
@blp.requires(*ANY)
@blp.arguments(s.EvidenceListQuery, location="query")
@blp.response(200, s.EvidenceOut(many=True))
def listing(args: dict[str, Any], key: str, criterion: str) -> list[EvidenceView]:
    """The evidence reported for a criterion, newest first, across its revisions (of one build, with ?build=)."""
    return evidence.history(key=key, criterion=criterion, build=args["build"], **page(args))
