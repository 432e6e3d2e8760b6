"""Incidents, RCA items, bugs, changes and the DORA metrics."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from gate.domain.incidents import LISTED_STATUSES, SEVERITIES, STATUSES
from gate.domain.incidents import status as incident_status
from gate.schemas.base import Id, PageQuery, StrictSchema, Text, Timestamp

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
    id = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    severity = fields.Integer()
    feature = fields.String(allow_none=True)
    ring = fields.String(allow_none=True)
    dedup_key = fields.String(allow_none=True)
    status = fields.Function(
        lambda v: incident_status(v.acknowledged_at, v.resolved_at),
        metadata={"type": "string", "enum": list(STATUSES)},
    )
    reporter = fields.String()
    caused_by = fields.Integer(allow_none=True)
    opened_at = fields.DateTime()
    deadline = fields.DateTime(attribute="deadline_at")
    deadline_met = fields.Boolean(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    restored_at = fields.DateTime(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    notified = fields.Function(
        lambda v: v.notified,
        metadata={"type": "string", "enum": ["page", "email", "none"], "description": "the channel queued"},
    )
    response_minutes = fields.Function(
        lambda v: _minutes(v.opened_at, v.acknowledged_at or v.resolved_at),
        metadata={"type": "number", "nullable": True},
    )
    resolution_minutes = fields.Function(
        lambda v: _minutes(v.opened_at, v.resolved_at), metadata={"type": "number", "nullable": True}
    )
    restore_minutes = fields.Function(
        lambda v: _minutes(v.opened_at, v.restored_at), metadata={"type": "number", "nullable": True}
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
