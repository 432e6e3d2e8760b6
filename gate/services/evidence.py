"""Evidence from CI (contract §8.2): read a report, judge it against its criterion, keep the verdict; the latest
of each criterion (of one build, when asked) for the gate, and the last builds for the dashboard's chart."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gate.domain.evidence import EvidenceSpec, judge
from gate.domain.reports import Report, ReportError, read_report
from gate.errors import InvalidInput
from gate.models import CriterionRevision, Evidence
from gate.services import components, facts, webhooks
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.criteria import current_revision, every_revision
from gate.services.features import find_feature
from gate.services.transactions import transaction


@dataclass(frozen=True)
class EvidenceView:
    """One piece of evidence as readers see it."""

    id: int
    feature: str
    criterion: str
    revision: int
    current_revision: bool
    build: str
    kind: str
    format: str
    summary: dict[str, Any]
    passed: bool
    detail: str
    link: str | None
    reporter: str
    at: datetime


def _view(row: Evidence, key: str, rev: CriterionRevision) -> EvidenceView:
    return EvidenceView(
        row.id,
        key,
        rev.criterion,
        rev.revision,
        rev.retired_at is None,
        row.build,
        row.kind,
        row.format,
        dict(row.summary),
        row.passed,
        row.detail,
        row.link,
        row.reporter,
        row.created_at,
    )


def _criterion_passes(feature: Any, criterion: str, at: datetime) -> bool:
    status = next(c for c in facts.gather(feature).criteria if c.id == criterion)
    return status.verdict(at)[0]


def report(
    *,
    key: str,
    criterion: str,
    body: Iterable[bytes],
    media_type: str,
    build: str,
    link: str | None,
    actor: str,
) -> EvidenceView:
    """Read a CI report, judge it against the criterion's evidence spec and keep the verdict. A report that
    cannot be read, or of another kind than the criterion asks for, is refused (422) and nothing is stored."""
    with transaction() as s:
        feature = find_feature(key)
        revision = current_revision(feature.id, criterion)
        if not revision.evidence:
            raise InvalidInput(
                f"criterion {criterion!r} asks for QA votes, not evidence",
                errors={"criterion": ["has no evidence spec in the product file"]},
            )
        spec = EvidenceSpec.from_json(revision.evidence)
        found = _read(body, media_type)
        if found.kind != spec.kind:
            raise InvalidInput(
                f"the body is a {_FORMATS[found.format]} report ({found.kind}), but criterion {criterion!r} "
                f"asks for {spec.kind} evidence",
                errors={"body": [f"must be a report of kind {spec.kind}"]},
            )
        summary = found.summary
        if spec.kind == "measure":
            name = str(spec.name)
            if name not in summary:
                raise InvalidInput(
                    f"the report has no measure {name!r}", errors={"body": [f"must hold the measure {name!r}"]}
                )
            summary = {name: summary[name]}  # what this criterion asks; the report may carry others
        passed, detail = judge(spec, summary)
        at = now()
        was = _criterion_passes(feature, criterion, at)
        parts = components.before_change(feature)
        row = Evidence(
            revision_id=revision.id,
            build=build,
            kind=found.kind,
            format=found.format,
            summary=summary,
            passed=passed,
            detail=detail,
            link=link,
            reporter=actor,
            created_at=at,
        )
        s.add(row)
        s.flush()
        is_now = _criterion_passes(feature, criterion, at)
        components.after_change(parts, revision, actor, at)
        after = {
            "id": row.id,
            "build": build,
            "kind": found.kind,
            "summary": summary,
            "passed": passed,
            "detail": detail,
            "link": link,
            "revision": revision.revision,
            "criterion_passed": is_now,
        }
        audit(
            actor=actor,
            action="evidence.report",
            target=f"criterion:{key}/{criterion}",
            feature=key,
            before={"criterion_passed": was},
            after=after,
            at=at,
        )
        if was != is_now:  # the webhook fires when the criterion's pass state changes
            webhooks.queue(event="evidence.report", feature=key, actor=actor, at=at, detail=after)
        return _view(row, key, revision)


_FORMATS = {
    "junit": "JUnit XML",
    "cobertura": "Cobertura XML",
    "coverage-json": "coverage.py JSON",
    "lcov": "LCOV",
    "sarif": "SARIF",
    "measures": "measures JSON",
}


def _read(body: Iterable[bytes], media_type: str) -> Report:
    try:
        return read_report(body, media_type)
    except ReportError as exc:
        raise InvalidInput(f"the report cannot be read: {exc}", errors={"body": [str(exc)]}) from None


def history(*, key: str, criterion: str, build: str | None, limit: int, before: int | None) -> list[EvidenceView]:
    """Every piece of evidence on the criterion, all revisions, newest first (of one build, when given)."""
    feature = find_feature(key)
    revisions = every_revision(feature.id, criterion)
    query = select(Evidence).where(Evidence.revision_id.in_(list(revisions))).order_by(Evidence.id.desc()).limit(limit)
    if build is not None:
        query = query.where(Evidence.build == build)
    if before is not None:
        query = query.where(Evidence.id < before)
    return [_view(row, key, revisions[row.revision_id]) for row in session().scalars(query)]
