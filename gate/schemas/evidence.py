"""Evidence from CI (contract §8.2): the upload's query, the listing's, and what both answer."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from gate.domain.documents import is_http_url
from gate.schemas.base import PageQuery

MAX_BUILD = 64


class Build(fields.String):
    """A commit or build id: 1 to 64 printable characters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= len(text) <= MAX_BUILD or not text.isprintable():
            raise ValidationError(f"must be 1 to {MAX_BUILD} printable characters")
        return text


class Link(fields.String):
    """An http(s) URL: a page renders it as a link, so no other scheme gets in."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_http_url(text):
            raise ValidationError("must be an http or https URL")
        return text


class EvidenceQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    build = Build(required=True, metadata={"description": "the commit or build the report came from"})
    link = Link(load_default=None, metadata={"description": "the CI run, an http(s) URL"})


class EvidenceListQuery(PageQuery):
    build = Build(load_default=None)


class EvidenceOut(Schema):
    id = fields.Integer()
    feature = fields.String()
    criterion = fields.String()
    revision = fields.Integer()
    current_revision = fields.Boolean()
    build = fields.String()
    kind = fields.String()
    format = fields.String(metadata={"description": "junit, cobertura, coverage-json, lcov, sarif or measures"})
    summary = fields.Dict()
    passed = fields.Boolean()
    detail = fields.String()
    link = fields.String(allow_none=True)
    reporter = fields.String()
    at = fields.DateTime()


class BuildQuery(Schema):
    """`?build=` on the gate: judge only that build's evidence."""

    class Meta:
        unknown = EXCLUDE

    build = Build(load_default=None, metadata={"description": "judge only this build's evidence"})
