"""Tokens and the audit log."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gate.domain.roles import MAX_LIFETIME, ROLES
from gate.schemas.base import PageQuery, StrictSchema, Timestamp


class AuditQuery(PageQuery):
    feature = fields.String(load_default=None)
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class TokenIn(StrictSchema):
    """`roles` (or the single `role` of contract v2), an optional owner scope and expiry (contract 8.1);
    the rules on roles and owners are the domain's (gate.domain.roles), applied by the service."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(validate=validate.OneOf(ROLES))
    roles = fields.List(fields.String(validate=validate.Length(max=20)), validate=validate.Length(max=len(ROLES)))
    owners = fields.List(fields.String(validate=validate.Length(max=200)), validate=validate.Length(max=100))
    expires_in_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_LIFETIME.days))
    expires_at = Timestamp()

    @validates_schema
    def _one_of_each(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("role" in data) == ("roles" in data):
            raise ValidationError("give roles (a list), or the single role", "roles")
        if "expires_in_days" in data and "expires_at" in data:
            raise ValidationError("give expires_in_days or expires_at, not both", "expires_at")


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
    role = fields.String(metadata={"description": "the roles joined by commas, as listings showed them in v2"})
    roles = fields.List(fields.String())
    owners = fields.List(fields.String(), allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenCreatedOut(TokenOut):
    secret = fields.String(metadata={"description": "shown once; only its hash is kept"})
