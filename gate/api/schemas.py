"""marshmallow schemas: the API's edge. They validate input and declare the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate

from gate.domain.documents import MAX_ID
from gate.domain.exposure import FULL, parse_percent, percent_number
from gate.domain.features import MAX_TEXT
from gate.domain.incidents import LISTED_STATUSES, SEVERITIES, STATUSES
from gate.domain.incidents import status as incident_status
from gate.domain.roles import ROLES

Text = validate.Length(max=MAX_TEXT)


class StrictSchema(Schema):
    """Refuses unknown fields, as the contract asks."""

    class Meta:
        unknown = RAISE


class Percent(fields.Field[int]):
    """A percent in (0, 100] with at most two decimals, loaded as hundredths (an int)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str):  # JSON carries numbers; a form's text is turned into one before it gets here
            raise ValidationError("must be a number")
        try:
            return parse_percent(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | int | None:
        return None if value is None else percent_number(int(value))


class Id(fields.Integer):
    """A row id: a positive integer below 2^63, as every store can hold."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class Timestamp(fields.AwareDateTime):
    """An ISO-8601 instant (UTC when no offset is given) in the years 1970 to 9999."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("must be in the years 1970 to 9999") from None
        if not 1970 <= utc.year <= 9999:
            raise ValidationError("must be in the years 1970 to 9999")
        return utc


# ---- input ---------------------------------------------------------------------------------------


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))


class AuditQuery(PageQuery):
    feature = fields.String(load_default=None)


class GateQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    ring = fields.String(load_default=None)


class CriterionDocument(StrictSchema):
    id = fields.String(required=True, metadata={"pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"})
    description = fields.String(required=True)
    ring = fields.String(required=True)
    required_yes = fields.Integer(load_default=1)


class FeatureDocument(StrictSchema):
    """The product YAML (or the same as JSON); validated by the domain parser, declared here."""

    feature = fields.String(required=True, metadata={"pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"})
    name = fields.String(required=True)
    owner = fields.String(required=True)
    description = fields.String()
    design = fields.String()
    criteria = fields.List(fields.Nested(CriterionDocument), required=True)


class VoteIn(StrictSchema):
    vote = fields.String(required=True, validate=validate.OneOf(["yes", "no"]))
    comment = fields.String(load_default=None, allow_none=True, validate=Text)


class PromoteIn(StrictSchema):
    ring = fields.String(required=True)
    percent = Percent(load_default=FULL, metadata={"type": "number", "default": 100})
    override_reason = fields.String(load_default=None, validate=validate.Length(min=1, max=MAX_TEXT))


class RolloutIn(StrictSchema):
    percent = Percent(required=True, metadata={"type": "number"})


class RollbackIn(StrictSchema):
    ring = fields.String(required=True, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=Text)


class KillIn(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=Text)


class EmptyIn(StrictSchema):
    """No fields: an empty object or no body at all."""


class TokenIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class ExposureIn(StrictSchema):
    flag = fields.String(required=True, validate=validate.Length(min=1, max=64))
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**40))


class ExposuresIn(StrictSchema):
    exposures = fields.List(fields.Nested(ExposureIn), required=True, validate=validate.Length(max=10000))


class ExposuresOut(Schema):
    accepted = fields.Integer(metadata={"description": "evaluations counted"})
    unknown_flags = fields.List(
        fields.String(), data_key="unknown", metadata={"description": "flags Gate does not know (not counted)"}
    )


class OfrepIn(Schema):
    """OFREP request: only `context` is defined; other fields are ignored, as OFREP providers may add some."""

    class Meta:
        unknown = EXCLUDE

    context = fields.Dict(keys=fields.String(), load_default=dict, allow_none=True)


class OfrepFlagOut(Schema):
    key = fields.String()
    value = fields.Boolean()
    variant = fields.String()
    reason = fields.String()
    metadata = fields.Dict()


class OfrepBulkOut(Schema):
    flags = fields.List(fields.Nested(OfrepFlagOut))


class EvaluateIn(StrictSchema):
    flag = fields.String(required=True)
    context = fields.Dict(keys=fields.String(), load_default=dict)


# ---- output --------------------------------------------------------------------------------------


class CheckOut(Schema):
    name = fields.String()
    passed = fields.Boolean()
    detail = fields.String()


class GateOut(Schema):
    feature = fields.String()
    ring = fields.String()
    passed = fields.Boolean()
    checks = fields.List(fields.Nested(CheckOut))


class StateOut(Schema):
    ring = fields.String(allow_none=True)
    percent = Percent(attribute="percent_bp")
    killed = fields.Boolean()
    soak_started_at = fields.DateTime(attribute="full_since", allow_none=True)


class CurrentVoteOut(Schema):
    voter = fields.String()
    vote = fields.String()
    comment = fields.String(allow_none=True)
    at = fields.DateTime()


class CriterionOut(Schema):
    id = fields.String()
    description = fields.String()
    ring = fields.String()
    required_yes = fields.Integer()
    revision = fields.Integer()
    passed = fields.Boolean(attribute="status.passed")
    detail = fields.String(attribute="status.detail")
    yes = fields.List(fields.String(), attribute="status.yes")
    no = fields.List(fields.String(), attribute="status.no")
    votes = fields.List(fields.Nested(CurrentVoteOut))


class FeatureSummaryOut(Schema):
    key = fields.String()
    name = fields.String()
    owner = fields.String()
    description = fields.String(allow_none=True)
    design = fields.String(allow_none=True)
    state = fields.Function(lambda f: StateOut().dump(f))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    last_evaluated_at = fields.DateTime(allow_none=True)


class FeatureOut(Schema):
    key = fields.String(attribute="row.key")
    name = fields.String(attribute="row.name")
    owner = fields.String(attribute="row.owner")
    description = fields.String(attribute="row.description", allow_none=True)
    design = fields.String(attribute="row.design", allow_none=True)
    state = fields.Function(lambda v: StateOut().dump(v.row))
    criteria = fields.List(fields.Nested(CriterionOut))
    version = fields.Integer()
    created_at = fields.DateTime(attribute="row.created_at")
    updated_at = fields.DateTime(attribute="row.updated_at")
    last_evaluated_at = fields.DateTime(attribute="row.last_evaluated_at", allow_none=True)


class VoteOut(Schema):
    id = fields.Integer()
    feature = fields.String()
    criterion = fields.String()
    revision = fields.Integer()
    current_revision = fields.Boolean()
    voter = fields.String()
    vote = fields.String()
    comment = fields.String(allow_none=True)
    at = fields.DateTime()


class ExposureOut(Schema):
    feature = fields.String(attribute="feature.key")
    ring = fields.String(attribute="feature.ring", allow_none=True)
    percent = Percent(attribute="feature.percent_bp")
    killed = fields.Boolean(attribute="feature.killed")
    version = fields.Integer()
    deployment = fields.Function(
        lambda change: change.event.id if change.event is not None else None,
        metadata={"type": "integer", "nullable": True, "description": "the deployment event recorded, if any"},
    )


class DeploymentOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    ring = fields.String(allow_none=True)
    percent = Percent(attribute="percent_bp")
    from_ring = fields.String(allow_none=True)
    from_percent = Percent(attribute="from_percent_bp")
    actor = fields.String()
    reason = fields.String(allow_none=True)
    overridden = fields.Boolean()
    is_deployment = fields.Boolean()
    failed = fields.Boolean()
    version = fields.Integer()
    at = fields.DateTime()


class AuditOut(Schema):
    id = fields.Integer()
    actor = fields.String()
    action = fields.String()
    target = fields.String()
    feature = fields.String(allow_none=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    at = fields.DateTime()


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenCreatedOut(TokenOut):
    secret = fields.String(metadata={"description": "shown once; only its hash is kept"})


class RingGateOut(Schema):
    soak = fields.Function(
        lambda g: None if g.soak is None else int(g.soak.total_seconds()), metadata={"description": "seconds"}
    )
    block_on_incidents = fields.Integer(allow_none=True)
    zero_bug_bounce = fields.Boolean()
    rca_complete = fields.Boolean()


class RingOut(Schema):
    name = fields.String()
    description = fields.String()
    audience = fields.Function(lambda r: r.audience.to_dict())
    bucket_by = fields.String()
    gate = fields.Nested(RingGateOut)


class EvaluationOut(Schema):
    flag = fields.String()
    enabled = fields.Boolean()
    reason = fields.String()
    ring = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)


class SnapshotOut(Schema):
    version = fields.Integer()
    rings = fields.List(fields.Dict())
    flags = fields.Dict(keys=fields.String(), values=fields.Dict())


class ProblemOut(Schema):
    """RFC 9457 problem details; extension members are allowed (OFREP's errorCode, for one)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    checks = fields.List(fields.Nested(CheckOut))


# ---- incidents, RCA, bugs, changes, DORA ---------------------------------------------------------

Severity = validate.OneOf(SEVERITIES)
Title = validate.Length(min=1, max=500)


class IncidentIn(StrictSchema):
    title = fields.String(required=True, validate=Title)
    severity = fields.Integer(required=True, strict=True, validate=Severity)
    feature = fields.String(load_default=None, allow_none=True)
    ring = fields.String(load_default=None, allow_none=True)
    description = fields.String(load_default=None, allow_none=True, validate=Text)
    dedup_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255))


class IncidentPatch(StrictSchema):
    severity = fields.Integer(strict=True, validate=Severity)
    feature = fields.String(allow_none=True)
    caused_by = Id(allow_none=True, metadata={"description": "a deployment id, or null"})


class IncidentQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(LISTED_STATUSES))


class RcaIn(StrictSchema):
    title = fields.String(required=True, validate=Title)


class BugIn(StrictSchema):
    title = fields.String(required=True, validate=Title)
    severity = fields.Integer(load_default=None, allow_none=True, strict=True, validate=Severity)
    description = fields.String(load_default=None, allow_none=True, validate=Text)


class BugQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "closed"]))


class ChangeIn(StrictSchema):
    sha = fields.String(
        required=True, validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$", error="1 to 64 printable characters")
    )
    committed_at = Timestamp(required=True)


class DoraQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3650))
    benchmark = fields.String(load_default=None, metadata={"description": "DORA report year of the level table"})


class RcaOut(Schema):
    id = fields.Integer()
    incident = fields.Integer(attribute="incident_id")
    title = fields.String()
    status = fields.Function(lambda r: "closed" if r.closed_at else "open")
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


def _minutes(start: Any, end: Any) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 60, 2)


class IncidentOut(Schema):
    id = fields.Integer(attribute="row.id")
    title = fields.String(attribute="row.title")
    description = fields.String(attribute="row.description", allow_none=True)
    severity = fields.Integer(attribute="row.severity")
    feature = fields.String(allow_none=True)
    ring = fields.String(attribute="row.ring", allow_none=True)
    dedup_key = fields.String(attribute="row.dedup_key", allow_none=True)
    status = fields.Function(
        lambda v: incident_status(v.row.acknowledged_at, v.row.resolved_at),
        metadata={"type": "string", "enum": list(STATUSES)},
    )
    reporter = fields.String(attribute="row.reporter")
    caused_by = fields.Integer(attribute="row.caused_by", allow_none=True)
    opened_at = fields.DateTime(attribute="row.opened_at")
    deadline = fields.DateTime(attribute="row.deadline_at")
    deadline_met = fields.Boolean(allow_none=True)
    acknowledged_at = fields.DateTime(attribute="row.acknowledged_at", allow_none=True)
    resolved_at = fields.DateTime(attribute="row.resolved_at", allow_none=True)
    restored_at = fields.DateTime(attribute="row.restored_at", allow_none=True)
    escalated_at = fields.DateTime(attribute="row.escalated_at", allow_none=True)
    notified = fields.Function(
        lambda v: v.row.notified or "none",
        metadata={"type": "string", "enum": ["page", "email", "none"], "description": "the channel queued"},
    )
    response_minutes = fields.Function(
        lambda v: _minutes(v.row.opened_at, v.row.acknowledged_at or v.row.resolved_at),
        metadata={"type": "number", "nullable": True},
    )
    resolution_minutes = fields.Function(
        lambda v: _minutes(v.row.opened_at, v.row.resolved_at), metadata={"type": "number", "nullable": True}
    )
    restore_minutes = fields.Function(
        lambda v: _minutes(v.row.opened_at, v.row.restored_at), metadata={"type": "number", "nullable": True}
    )
    rca_items = fields.List(fields.Nested(RcaOut))


class BugOut(Schema):
    id = fields.Integer()
    feature = fields.String()
    title = fields.String()
    severity = fields.Integer(allow_none=True)
    description = fields.String(allow_none=True)
    reporter = fields.String()
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class ChangeOut(Schema):
    id = fields.Integer()
    feature = fields.String()
    sha = fields.String()
    committed_at = fields.DateTime()
    reported_at = fields.DateTime()
    deployed_at = fields.DateTime(allow_none=True)


class _Frequency(Schema):
    deployments = fields.Integer()
    deploy_days = fields.Integer()
    per_week = fields.Float()
    level = fields.String()


class _LeadTime(Schema):
    median = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)
    changes = fields.Integer()
    level = fields.String(allow_none=True)


class _FailRate(Schema):
    failed = fields.Integer()
    deployments = fields.Integer()
    percent = fields.Float(allow_none=True)
    level = fields.String(allow_none=True)


class _Restore(Schema):
    median = fields.Float(allow_none=True)
    incidents = fields.Integer()
    level = fields.String(allow_none=True)


class DoraOut(Schema):
    days = fields.Integer()
    since = fields.DateTime()
    until = fields.DateTime()
    benchmark = fields.String()
    deployment_frequency = fields.Nested(_Frequency)
    lead_time_hours = fields.Nested(_LeadTime)
    change_fail_rate = fields.Nested(_FailRate)
    time_to_restore_hours = fields.Nested(_Restore)
