"""Exposure changes: promote, rollout, rollback, kill, and the deployment history."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gate.domain.exposure import FULL
from gate.domain.features import MAX_TEXT
from gate.schemas.base import Percent, StrictSchema, Text
from gate.schemas.evidence import Build


class PromoteIn(StrictSchema):
    ring = fields.String(required=True)
    percent = Percent(load_default=FULL, metadata={"type": "number", "default": 100})
    override_reason = fields.String(load_default=None, validate=validate.Length(min=1, max=MAX_TEXT))
    build = Build(load_default=None, metadata={"description": "judge only this build's evidence"})


class RolloutIn(StrictSchema):
    percent = Percent(required=True, metadata={"type": "number"})


class RollbackIn(StrictSchema):
    ring = fields.String(required=True, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=Text)


class KillIn(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=Text)


class ExposureOut(Schema):
    feature = fields.String()
    ring = fields.String(allow_none=True)
    percent = Percent(attribute="percent_bp")
    killed = fields.Boolean()
    version = fields.Integer()
    deployment = fields.Integer(allow_none=True, metadata={"description": "the deployment event recorded, if any"})


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
