"""Tokens and the audit log."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gate.api.schemas.base import PageQuery, StrictSchema
from gate.domain.roles import ROLES


class AuditQuery(PageQuery):
    feature = fields.String(load_default=None)
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class TokenIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


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
