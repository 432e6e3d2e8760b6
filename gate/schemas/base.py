"""Shared schema pieces: strict loading, percents, ids, timestamps, paging, problems."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate

from gate.domain.documents import MAX_ID
from gate.domain.exposure import parse_percent, percent_number
from gate.domain.features import MAX_TEXT
from gate.errors import InvalidInput

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


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))


class EmptyIn(StrictSchema):
    """No fields: an empty object or no body at all."""


class CheckOut(Schema):
    name = fields.String()
    passed = fields.Boolean()
    detail = fields.String()


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


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into a path → messages map."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "$": messages}
    if isinstance(messages, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            if key == "_schema":
                path = prefix or "$"
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten(value, path).items():
                out.setdefault(k, []).extend(v)
        return out
    return {prefix or "$": [str(messages)]}


def invalid_input(messages: Any) -> InvalidInput:
    """An InvalidInput carrying marshmallow's messages, flattened to path → messages."""
    errors = flatten(messages)
    return InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors=errors)


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Load `data` through `schema`, or raise InvalidInput naming every field: what the API's bodies and the
    dashboard's forms both obey."""
    try:
        return cast(dict[str, Any], schema.load(data))
    except ValidationError as exc:
        raise invalid_input(exc.messages) from None
