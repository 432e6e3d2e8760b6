"""What SDKs send and receive: exposures, server-side evaluation, OFREP, the snapshot."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from gate.schemas.base import StrictSchema


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


class StreamQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    patches = fields.Boolean(
        load_default=False, metadata={"description": "1: after the first snapshot, send only what changed"}
    )
