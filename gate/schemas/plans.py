"""Release plans: the `plan:` block of the product file, and the plan view."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gate.domain.plans import ON_BREACH, ON_INCIDENT, STATES
from gate.domain.windows import DAYS
from gate.schemas.base import StrictSchema


class PlanStepDocument(StrictSchema):
    ring = fields.String(required=True)
    percent = fields.Float(metadata={"default": 100, "description": "of the ring, 0 < percent <= 100"})
    hold = fields.String(metadata={"default": "0s", "description": "how long to stay before the next step: 30m, 1h"})


class WindowDocument(StrictSchema):
    days = fields.List(fields.String(validate=validate.OneOf(DAYS)), metadata={"default": list(DAYS)})
    hours = fields.String(metadata={"default": "00:00-24:00", "example": "09:00-16:00"})
    timezone = fields.String(metadata={"default": "UTC", "example": "Europe/Berlin"})


class GuardDocument(StrictSchema):
    query = fields.String(required=True, metadata={"description": "PromQL, read from GATE_PROMETHEUS_URL"})
    max = fields.Float(required=True)
    on_breach = fields.String(validate=validate.OneOf(ON_BREACH), metadata={"default": "rollback"})


class PlanDocument(StrictSchema):
    """A release plan, as the product file's `plan:` block writes it."""

    steps = fields.List(fields.Nested(PlanStepDocument), required=True)
    on_incident = fields.String(validate=validate.OneOf(ON_INCIDENT), metadata={"default": "pause"})
    windows = fields.Nested(WindowDocument)
    guard = fields.Nested(GuardDocument)


class NextStepOut(Schema):
    step = fields.Integer(metadata={"description": "the index of the step, from 0"})
    not_before = fields.DateTime(allow_none=True, metadata={"description": "the earliest it may be taken"})
    blocked_by = fields.List(fields.String(), metadata={"description": "everything that blocks it now, in words"})


class PlanHistoryOut(Schema):
    step = fields.Integer(allow_none=True)
    action = fields.String(metadata={"description": "start, step, pause, resume, cancel, halt or change"})
    at = fields.DateTime()
    actor = fields.String()
    detail = fields.String()


class PlanOut(Schema):
    feature = fields.String()
    state = fields.String(metadata={"enum": list(STATES)})
    step = fields.Integer(allow_none=True, metadata={"description": "the index of the last step taken"})
    step_at = fields.DateTime(allow_none=True, metadata={"description": "when it was taken"})
    started_by = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why it is paused or halted"})
    next = fields.Nested(NextStepOut, allow_none=True)
    steps = fields.Function(lambda view: [s.to_json() for s in view.spec.steps])
    on_incident = fields.Function(lambda view: view.spec.on_incident)
    windows = fields.Function(lambda view: view.spec.window.to_json() if view.spec.window else None)
    guard = fields.Function(lambda view: view.spec.guard.to_json() if view.spec.guard else None)
    history = fields.List(fields.Nested(PlanHistoryOut))
