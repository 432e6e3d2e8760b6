"""Features, their criteria and QA votes."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from gate import schemas as s
from gate.api.auth import ANY, actor, principal
from gate.api.boundary import YAML_TYPES, Blueprint, json_body
from gate.api.pagination import page
from gate.domain.documents import UnsafeDocument
from gate.domain.errors import ParseError
from gate.domain.features import parse_feature
from gate.errors import BadRequest, InvalidInput, UnsupportedMediaType
from gate.services import features, votes
from gate.services.context import rings
from gate.yamlio import load_yaml

blp = Blueprint("features", __name__, description="Features, release criteria and QA votes")


def product_document() -> Any:
    """Read the request body as product YAML or JSON."""
    if request.mimetype in YAML_TYPES:
        body = request.get_data(cache=False)
        try:
            return load_yaml(body, source="body")
        except UnsafeDocument as exc:
            raise InvalidInput(str(exc), errors=exc.errors) from None
        except ParseError as exc:
            raise BadRequest(str(exc), errors=exc.errors) from None
    if request.mimetype == "application/json":
        return json_body()
    raise UnsupportedMediaType("send application/yaml or application/json")


@blp.route("/features/<key>/criteria", methods=["PUT"])
@blp.requires("product")
@blp.doc(
    summary="Apply a feature's product YAML",
    requestBody={
        "required": True,
        "content": {t: {"schema": s.FeatureDocument} for t in ("application/yaml", "application/json")},
    },
)
@blp.response(200, s.FeatureOut)
def put_criteria(key: str) -> features.FeatureView:
    """Make the feature's criteria what the file says; the same file twice changes nothing."""
    spec = parse_feature(product_document(), rings(), key=key)
    features.authorize_write(principal(), None, new_owner=spec.owner)
    return features.apply_criteria(spec=spec, actor=actor())


@blp.route("/features")
class FeatureList(MethodView):
    @blp.requires(*ANY)
    @blp.arguments(s.FeatureQuery, location="query")
    @blp.response(200, s.FeatureSummaryOut(many=True))
    def get(self, args: dict[str, Any]) -> list[features.FeatureSummary]:
        """List live features with their state and when they were last evaluated; ?owner=, ?q= filter."""
        return features.list_features(owner=args["owner"], q=args["q"], **page(args))


@blp.route("/features/<key>")
class FeatureItem(MethodView):
    @blp.requires(*ANY)
    @blp.response(200, s.FeatureOut)
    def get(self, key: str) -> features.FeatureView:
        """Read a feature: criteria with status and current votes, state and snapshot version."""
        return features.get_feature(key)

    @blp.requires("product")
    @blp.response(200, s.ExposureOut)
    def delete(self, key: str) -> features.ExposureChange:
        """Archive a feature: it leaves the snapshot; its history stays."""
        return features.archive_feature(key=key, actor=actor())


@blp.route("/features/<key>/criteria/<criterion>/votes")
class Votes(MethodView):
    @blp.requires("qa")
    @blp.arguments(s.VoteIn)
    @blp.response(201, s.VoteOut)
    def post(self, body: dict[str, Any], key: str, criterion: str) -> votes.VoteView:
        """Vote yes or no on the criterion's current revision."""
        return votes.cast_vote(key=key, criterion=criterion, actor=actor(), **body)

    @blp.requires(*ANY)
    @blp.arguments(s.PageQuery, location="query")
    @blp.response(200, s.VoteOut(many=True))
    def get(self, args: dict[str, Any], key: str, criterion: str) -> list[votes.VoteView]:
        """Every vote on the criterion, older revisions included, newest first."""
        return votes.vote_history(key=key, criterion=criterion, **page(args))
