"""Typed rows. The schema changes only through Alembic migrations (gate/migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Plain SQLAlchemy rows (no Flask): constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)


# SQLite integer primary keys must be INTEGER to autoincrement; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, answers aware UTC, on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class SharedRow(Base):
    """One row: the snapshot version, bumped by every exposure change, and the tokens version."""

    __tablename__ = "gate_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    tokens_version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    session_secret: Mapped[str | None] = mapped_column(String(64))  # signs dashboard cookies on every worker


class Token(Base):
    """An API token: only the SHA-256 of its secret is kept."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[str] = mapped_column(String(100), nullable=False)  # comma-separated, in the order given
    owners: Mapped[list[str] | None] = mapped_column(JSON)  # the owner scope; null: every owner
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feature(Base):
    """A feature and its exposure. `exposure_rev` settles concurrent changes by compare-and-set."""

    __tablename__ = "features"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    design: Mapped[str | None] = mapped_column(Text)
    ring: Mapped[str | None] = mapped_column(String(64))
    percent_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # hundredths of a percent
    killed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    full_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exposure_rev: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ComponentSpec.to_json() each (contract 8.3); SQL NULL when none, so that a query can ask without parsing
    components: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    integration: Mapped[str | None] = mapped_column(String(64))  # the integration criterion; set with components


class CriterionRevision(Base):
    """One revision of a criterion; the current one has no `retired_at`. Votes attach to a revision."""

    __tablename__ = "criterion_revisions"
    __table_args__ = (
        UniqueConstraint("feature_id", "criterion", "revision", name="uq_criterion_revisions_revision"),
        Index("ix_criterion_revisions_current", "feature_id", "retired_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    criterion: Mapped[str] = mapped_column(String(64), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    ring: Mapped[str] = mapped_column(String(64), nullable=False)
    required_yes: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # EvidenceSpec.to_json(); SQL NULL for votes only, so that a query can ask without parsing
    evidence: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    max_age_seconds: Mapped[int | None] = mapped_column(Integer)
    # when this revision last began to pass, folded from its votes and evidence (domain.components.passing_since)
    # in the transaction of each, under the feature's row lock; kept for the criteria of features with components
    passing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ComponentEvent(Base):
    """A component's event that must happen once across every host (`late`): the unique row decides who sends."""

    __tablename__ = "component_events"
    __table_args__ = (UniqueConstraint("feature_id", "component", "due", "kind", name="uq_component_events_once"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    component: Mapped[str] = mapped_column(String(64), nullable=False)
    due: Mapped[str] = mapped_column(String(10), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Evidence(Base):
    """A CI report's verdict on one criterion revision; the latest by id is the one that counts."""

    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_revision", "revision_id", "id"),
        Index("ix_evidence_revision_build", "revision_id", "build", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("criterion_revisions.id"), nullable=False)
    build: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    summary: Mapped[Any] = mapped_column(JSON, nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Vote(Base):
    """A QA vote on one criterion revision; a voter's latest by id is their current vote."""

    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_revision", "revision_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("criterion_revisions.id"), nullable=False)
    voter: Mapped[str] = mapped_column(String(200), nullable=False)
    vote: Mapped[str] = mapped_column(String(3), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeploymentEvent(Base):
    """One exposure change: promote, rollout, rollback, kill or revive, with who and when."""

    __tablename__ = "deployment_events"
    __table_args__ = (
        Index("ix_deployment_events_feature", "feature_id", "id"),
        Index("ix_deployment_events_deploys", "is_deployment", "at", "day", "failed"),  # covers the DORA counts
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    ring: Mapped[str | None] = mapped_column(String(64))
    percent_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    from_ring: Mapped[str | None] = mapped_column(String(64))
    from_percent_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    overridden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # a DORA deployment: into the last ring, or a raise of the percent inside it
    is_deployment: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    day: Mapped[date | None] = mapped_column(Date)  # the UTC day of `at`, for deployment days


class AuditEntry(Base):
    """An append-only record of a write that took effect."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_feature", "feature", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    feature: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)


class ExposureCount(Base):
    """How often SDKs evaluated a flag on, and off, per UTC day."""

    __tablename__ = "exposure_counts"
    __table_args__ = (UniqueConstraint("feature_id", "day", name="uq_exposure_counts_day"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    enabled: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    disabled: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Incident(Base):
    """An incident: severity, deadline stored at opening, who caused it, when it was restored."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_feature", "feature_id", "resolved_at"),
        Index("ix_incidents_opened", "opened_at"),
        Index("ix_incidents_caused_by", "caused_by"),
        # one open incident per dedup key: a monitor that retries neither opens nor pages twice
        Index(
            "uq_incidents_open_dedup",
            "dedup_key",
            unique=True,
            postgresql_where=text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
            sqlite_where=text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(Integer, nullable=False)
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("features.id"))
    ring: Mapped[str | None] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    caused_by: Mapped[int | None] = mapped_column(ForeignKey("deployment_events.id"))
    reporter: Mapped[str] = mapped_column(String(200), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified: Mapped[str | None] = mapped_column(String(10))  # page, email or None, decided at opening


class RcaItem(Base):
    """A follow-up from an incident's root-cause analysis."""

    __tablename__ = "rca_items"
    __table_args__ = (Index("ix_rca_items_incident", "incident_id", "closed_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Bug(Base):
    """A bug on a feature; zero bug bounce wants none open."""

    __tablename__ = "bugs"
    __table_args__ = (Index("ix_bugs_feature", "feature_id", "closed_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    severity: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(200), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Change(Base):
    """A commit reported for a feature; `deployed_at` is its feature's first deployment since the report."""

    __tablename__ = "changes"
    __table_args__ = (
        Index("ix_changes_pending", "feature_id", "deployed_at"),
        Index("ix_changes_deployed", "deployed_at", "lead_seconds"),  # covers the lead-time percentiles
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), nullable=False)
    sha: Mapped[str] = mapped_column(String(64), nullable=False)
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reporter: Mapped[str] = mapped_column(String(200), nullable=False)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lead_seconds: Mapped[float | None] = mapped_column(Float)  # deployed_at - committed_at


class OutboxMessage(Base):
    """An alert to deliver: written with the change that caused it, delivered in the background."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    body: Mapped[Any] = mapped_column(JSON, nullable=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # given up: the alert can never be sent


class WebSession(Base):
    """A signed-in dashboard session; the cookie carries its id, and signing out deletes the row. A token's
    (token_id), or a person's who signed in through the identity provider (person, roles)."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's session id
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), nullable=True)
    person: Mapped[str | None] = mapped_column(String(320), nullable=True)  # email, else username, else sub
    roles: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a person's, comma-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Plan(Base):
    """A feature's release plan: the spec from its product file and where the run stands. `rev` settles
    racing checkers (every worker on every host checks running plans) by compare-and-set."""

    __tablename__ = "plans"
    feature_id: Mapped[int] = mapped_column(Id, ForeignKey("features.id"), primary_key=True)
    spec: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: the product file no longer has a plan
    state: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    step: Mapped[int | None] = mapped_column(Integer)  # the last step taken
    step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it was taken (its hold counts from then)
    started_by: Mapped[str | None] = mapped_column(String(200))
    started_token_id: Mapped[int | None] = mapped_column(Id)  # the token that started or resumed it
    reason: Mapped[str | None] = mapped_column(Text)  # why it is paused or halted
    rev: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
