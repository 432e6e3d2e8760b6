"""Components and milestones (contract 8.3): the listing's query and rows."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class ComponentQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    team = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    late = fields.Boolean(load_default=None, metadata={"description": "true: only late ones; false: only the others"})


class ComponentOut(Schema):
    feature = fields.String()
    id = fields.String()
    team = fields.String()
    due = fields.Date()
    contract = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    late = fields.Boolean()
    days_late = fields.Integer()
