"""Features, product files, criteria, votes, the gate and the rings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gate.domain.rings import KEY_PATTERN
from gate.schemas.base import CheckOut, PageQuery, Percent, StrictSchema, Text
from gate.schemas.evidence import BuildQuery
from gate.schemas.plans import PlanDocument


class GateQuery(BuildQuery):
    ring = fields.String(load_default=None)


class CriterionDocument(StrictSchema):
    id = fields.String(required=True, metadata={"pattern": f"^{KEY_PATTERN}$"})
    description = fields.String(required=True)
    ring = fields.String(required=True)
    required_yes = fields.Integer(metadata={"description": "default 1; 0 with evidence unless given"})
    evidence = fields.Dict(metadata={"description": "kind: coverage, tests, findings or measure, and its limits"})
    max_age = fields.String(metadata={"description": "a duration like 7d: older evidence no longer counts"})


class FeatureDocument(StrictSchema):
    """The product YAML (or the same as JSON); validated by the domain parser, declared here."""

    feature = fields.String(required=True, metadata={"pattern": f"^{KEY_PATTERN}$"})
    name = fields.String(required=True)
    owner = fields.String(required=True)
    description = fields.String()
    design = fields.String()
    criteria = fields.List(fields.Nested(CriterionDocument), required=True)
    plan = fields.Nested(PlanDocument, metadata={"description": "optional: the steps the feature takes by itself"})


class VoteIn(StrictSchema):
    vote = fields.String(required=True, validate=validate.OneOf(["yes", "no"]))
    comment = fields.String(load_default=None, allow_none=True, validate=Text)


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
    evidence = fields.Dict(allow_none=True, metadata={"description": "what a CI report must show, or null"})
    max_age = fields.String(allow_none=True)
    passed = fields.Boolean(metadata={"description": "votes and (when asked for) evidence, now"})
    detail = fields.String()
    yes = fields.List(fields.String(), attribute="status.yes")
    no = fields.List(fields.String(), attribute="status.no")
    votes = fields.List(fields.Nested(CurrentVoteOut))


class FeatureQuery(PageQuery):
    owner = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    q = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "in the key or name"}
    )


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
    key = fields.String()
    name = fields.String()
    owner = fields.String()
    description = fields.String(allow_none=True)
    design = fields.String(allow_none=True)
    state = fields.Function(lambda v: StateOut().dump(v))
    criteria = fields.List(fields.Nested(CriterionOut))
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    last_evaluated_at = fields.DateTime(allow_none=True)


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
