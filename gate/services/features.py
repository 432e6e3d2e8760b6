"""Features and their criteria: apply product YAML, archive, read with votes and state."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from gate.domain.durations import format_duration
from gate.domain.evidence import EvidenceSpec
from gate.domain.exposure import percent_number
from gate.domain.features import CriterionSpec, FeatureSpec, plan_criteria
from gate.domain.gate import CriterionStatus, Exposure, criterion_status, latest_votes
from gate.domain.roles import Principal
from gate.errors import Forbidden, NotFound
from gate.models import CriterionRevision, DeploymentEvent, Feature, SharedRow, Vote
from gate.services import components, plan_runs
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.criteria import current_revisions
from gate.services.evidence_reads import latest_evidence, need_of
from gate.services.transactions import changed, transaction
from gate.services.values import copy_row
from gate.services.versions import bump_version


def exposure_of(feature: Feature) -> Exposure:
    """The domain's view of a feature's exposure."""
    return Exposure(
        ring=feature.ring, percent=feature.percent_bp / 100, killed=feature.killed, full_since=feature.full_since
    )


def exposure_json(feature: Feature) -> dict[str, object]:
    """The exposure as the API and the audit log show it."""
    return {"ring": feature.ring, "percent": percent_number(feature.percent_bp), "killed": feature.killed}


@dataclass(frozen=True)
class CurrentVote:
    """A voter's current vote on a criterion revision."""

    voter: str
    vote: str
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class CriterionView:
    """A criterion's current revision, its status and its current votes."""

    id: str
    description: str
    ring: str
    required_yes: int
    revision: int
    status: CriterionStatus
    votes: tuple[CurrentVote, ...]
    evidence: dict[str, Any] | None  # the spec as written, or None: votes only
    max_age: str | None
    passed: bool  # votes and evidence, judged now
    detail: str


@dataclass(frozen=True)
class FeatureSummary:
    """A feature as a list shows it: what it is and where it stands, detached from the session."""

    key: str
    name: str
    owner: str
    description: str | None
    design: str | None
    ring: str | None
    percent_bp: int
    killed: bool
    full_since: datetime | None
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None


@dataclass(frozen=True)
class FeatureView(FeatureSummary):
    """A feature as its own page shows it: with its criteria, their votes, and the snapshot version."""

    criteria: tuple[CriterionView, ...]
    version: int

    @classmethod
    def of(cls, feature: Feature, criteria: tuple[CriterionView, ...], version: int) -> FeatureView:
        """Copy what a reader needs out of the row."""
        return copy_row(cls, feature, criteria=criteria, version=version)


@dataclass(frozen=True)
class ExposureChange:
    """The outcome of an exposure write: the feature's new state, the snapshot version, the event recorded."""

    feature: str
    ring: str | None
    percent_bp: int
    killed: bool
    version: int
    deployment: int | None  # the id of the event recorded; None when nothing changed

    @classmethod
    def of(cls, feature: Feature, version: int, event: DeploymentEvent | None) -> ExposureChange:
        """Copy the new state out of the row."""
        deployment = event.id if event is not None else None
        return cls(feature.key, feature.ring, feature.percent_bp, feature.killed, version, deployment)


def authorize_write(principal: Principal, key: str | None, *, new_owner: str | None = None) -> None:
    """Refuse (403) a write outside the token's owner scope (contract 8.1): to a feature whose stored owner
    it does not list or, for a product file, one that names such an owner. The API and the dashboard both
    ask here; a feature that does not exist yet is the service's to refuse (404) or create."""
    if principal.owners is None:
        return
    owners = [new_owner] if new_owner is not None else []
    if key is not None:
        stored = session().scalar(select(Feature.owner).where(Feature.key == key, Feature.archived_at.is_(None)))
        owners += [stored] if stored is not None else []
    for owner in owners:
        if not principal.may_write(owner):
            scope = ", ".join(sorted(principal.owners))
            raise Forbidden(f"this token writes only to features owned by {scope}; {owner!r} is not one of them")


def key_of(feature_id: int | None) -> str | None:
    """The key of a feature by its id (None for none)."""
    if feature_id is None:
        return None
    return session().scalar(select(Feature.key).where(Feature.id == feature_id))


def find_feature(key: str) -> Feature:
    """Load a live (not archived) feature or raise NotFound."""
    feature = session().scalars(select(Feature).where(Feature.key == key, Feature.archived_at.is_(None))).first()
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    return feature


def _votes_by_revision(revisions: list[CriterionRevision]) -> dict[int, list[Any]]:
    """Every vote on these revisions in server order, as plain rows, in one query."""
    by_revision: dict[int, list[Any]] = defaultdict(list)
    if revisions:
        columns: list[Any] = [Vote.revision_id, Vote.voter, Vote.vote, Vote.comment, Vote.created_at]
        query = select(*columns).where(Vote.revision_id.in_([r.id for r in revisions])).order_by(Vote.id)
        for row in session().execute(query):
            by_revision[int(row[0])].append(row)
    return by_revision


def _status(rev: CriterionRevision, votes: list[Any]) -> CriterionStatus:
    return criterion_status(
        id=rev.criterion,
        ring=rev.ring,
        required_yes=rev.required_yes,
        revision=rev.revision,
        votes=((v[1], v[2]) for v in votes),
    )


def criteria_views(revisions: list[CriterionRevision]) -> tuple[CriterionView, ...]:
    """Criteria with their status, each voter's current vote and the latest evidence, in two queries."""
    votes_by_revision = _votes_by_revision(revisions)
    asking = [r.id for r in revisions if r.evidence]
    seen = latest_evidence(asking) if asking else {}
    at = now()
    views = []
    for rev in revisions:
        votes = votes_by_revision[rev.id]
        latest = latest_votes(votes, lambda vote: str(vote.voter))
        current = tuple(CurrentVote(v.voter, v.vote, v.comment, v.created_at) for v in latest.values())
        status = _status(rev, votes)._replace(evidence=need_of(rev, seen.get(rev.id), None))
        spec = _spec_of(rev)
        passed, detail = status.verdict(at)
        views.append(
            CriterionView(
                rev.criterion,
                rev.description,
                rev.ring,
                rev.required_yes,
                rev.revision,
                status,
                current,
                spec.evidence.to_json() if spec.evidence else None,
                format_duration(spec.max_age) if spec.max_age else None,
                passed,
                detail,
            )
        )
    return tuple(views)


def snapshot_version() -> int:
    """The current snapshot version."""
    return int(session().scalar(select(SharedRow.version).where(SharedRow.id == 1)) or 0)


def get_feature(key: str) -> FeatureView:
    """Read a feature with its criteria, their current votes, its state and the snapshot version."""
    feature = find_feature(key)
    return FeatureView.of(feature, criteria_views(current_revisions(feature.id)), snapshot_version())


def list_features(
    *, limit: int, before: int | None, owner: str | None = None, q: str | None = None
) -> list[FeatureSummary]:
    """Live features, newest first; `owner`: only theirs; `q`: key or name containing it, in any case."""
    query = select(Feature).where(Feature.archived_at.is_(None)).order_by(Feature.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Feature.id < before)
    if owner is not None:
        query = query.where(Feature.owner == owner)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(func.lower(Feature.key).like(pattern, escape="\\"), func.lower(Feature.name).like(pattern, escape="\\"))
        )
    return [copy_row(FeatureSummary, feature) for feature in session().scalars(query)]


def _spec_of(rev: CriterionRevision) -> CriterionSpec:
    return CriterionSpec(
        id=rev.criterion,
        description=rev.description,
        ring=rev.ring,
        required_yes=rev.required_yes,
        evidence=EvidenceSpec.from_json(rev.evidence) if rev.evidence else None,
        max_age=timedelta(seconds=rev.max_age_seconds) if rev.max_age_seconds else None,
    )


FIELDS = ("name", "owner", "description", "design", "components", "integration")


def _feature_fields(spec: FeatureSpec) -> dict[str, Any]:
    """What a product file sets on the feature's row (components and their integration test: contract 8.3)."""
    return {
        "name": spec.name,
        "owner": spec.owner,
        "description": spec.description,
        "design": spec.design,
        "components": [c.to_json() for c in spec.components] or None,
        "integration": spec.integration,
    }


def apply_criteria(*, spec: FeatureSpec, actor: str) -> FeatureView:
    """Make the feature and its criteria what `spec` says; applying the same spec again changes nothing."""
    at = now()
    with transaction() as s:
        feature, created = _feature_for(spec, at)
        plan_runs.store_spec(feature, spec.plan, actor=actor, at=at)
        revisions = current_revisions(feature.id)
        before_fields = {k: getattr(feature, k) for k in FIELDS}
        plan = plan_criteria([_spec_of(r) for r in revisions], spec.criteria)
        fields_changed = before_fields != _feature_fields(spec)
        if not (created or plan.changed or fields_changed):
            return FeatureView.of(feature, criteria_views(revisions), snapshot_version())
        _revise(feature, spec, revisions, plan, at)
        for k, v in _feature_fields(spec).items():
            setattr(feature, k, v)
        feature.updated_at = at
        s.flush()
        components.refresh(feature)
        if created:
            bump_version()
        audit(
            actor=actor,
            action="criteria.apply",
            target=f"feature:{spec.key}",
            feature=spec.key,
            before=None
            if created
            else {**before_fields, "criteria": [_criterion_json(_spec_of(r)) for r in revisions]},
            after={**_feature_fields(spec), "criteria": [_criterion_json(c) for c in spec.criteria]},
            at=at,
        )
        s.flush()
    return get_feature(spec.key)


def _feature_for(spec: FeatureSpec, at: datetime) -> tuple[Feature, bool]:
    """The feature a product file names, and whether it is new: made if unknown, brought back if archived."""
    s = session()
    feature = s.scalars(select(Feature).where(Feature.key == spec.key)).first()
    if feature is None:
        feature = Feature(
            key=spec.key,
            created_at=at,
            updated_at=at,
            ring=None,
            percent_bp=0,
            killed=False,
            exposure_rev=0,
            **_feature_fields(spec),
        )
        s.add(feature)
        s.flush()
        return feature, True
    if feature.archived_at is None:
        return feature, False
    # an archived feature comes back off, as if new; its history stays
    feature.archived_at, feature.ring, feature.percent_bp, feature.killed, feature.full_since = (
        None,
        None,
        0,
        False,
        None,
    )
    feature.exposure_rev += 1
    return feature, True


def _revise(feature: Feature, spec: FeatureSpec, revisions: list[CriterionRevision], plan: Any, at: datetime) -> None:
    """Retire the criteria the file dropped or changed and add a new revision of each changed or new one."""
    s = session()
    by_id = {r.criterion: r for r in revisions}
    for rev in revisions:
        if rev.criterion in plan.dropped or rev.criterion in {c.id for c in plan.revised}:
            rev.retired_at = at
    for position, c in enumerate(spec.criteria):
        old = by_id.get(c.id)
        if old is not None and old.retired_at is None:
            old.position = position
            continue
        last = s.scalar(
            select(CriterionRevision.revision)
            .where(CriterionRevision.feature_id == feature.id, CriterionRevision.criterion == c.id)
            .order_by(CriterionRevision.revision.desc())
            .limit(1)
        )
        s.add(
            CriterionRevision(
                feature_id=feature.id,
                criterion=c.id,
                revision=(last or 0) + 1,
                position=position,
                description=c.description,
                ring=c.ring,
                required_yes=c.required_yes,
                evidence=c.evidence.to_json() if c.evidence else None,
                max_age_seconds=int(c.max_age.total_seconds()) if c.max_age else None,
                created_at=at,
            )
        )


def _criterion_json(c: CriterionSpec) -> dict[str, object]:
    data: dict[str, object] = {"id": c.id, "description": c.description, "ring": c.ring, "required_yes": c.required_yes}
    if c.evidence is not None:
        data["evidence"] = c.evidence.to_json()
    if c.max_age is not None:
        data["max_age"] = format_duration(c.max_age)
    return data


def archive_feature(*, key: str, actor: str) -> ExposureChange:
    """Archive a feature: gone from snapshots, history kept."""
    at = now()
    with transaction():
        feature = find_feature(key)
        if not changed(  # pragma: no cover - a concurrent archive won the race
            update(Feature)
            .where(Feature.id == feature.id, Feature.archived_at.is_(None))
            .values(archived_at=at, updated_at=at)
        ):
            raise NotFound(f"no feature {key!r}")
        version = bump_version()
        plan_runs.end_run(feature, reason="the feature was archived", actor=actor, at=at)
        audit(
            actor=actor,
            action="feature.archive",
            target=f"feature:{key}",
            feature=key,
            before=exposure_json(feature),
            after={"archived": True},
            at=at,
        )
    return ExposureChange.of(feature, version, None)
