"""The REST API: blueprints registered on the flask-smorest Api, which writes the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from gate.api import admin, features, incidents, meta, ofrep, plans, releases, sdk
from gate.api.boundary import IdConverter
from gate.api.problems import http_problem
from gate.domain.documents import MAX_ID
from gate.errors import PROBLEM_JSON
from gate.schemas import ProblemOut


class GateApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, leaving error rendering to gate.errors (problem+json)."""

    ERROR_SCHEMA = ProblemOut
    DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON  # what errors answer; views declare JSON (api.boundary)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render werkzeug's and webargs' HTTP errors as problem+json (flask-smorest's documented hook)."""
        return http_problem(error)


def make_api() -> GateApi:
    """An unbound Api."""
    return GateApi()


def register_blueprints(app: Flask, api: GateApi) -> None:
    """Mount every blueprint and describe security and errors in the OpenAPI document."""
    api.init_app(app)
    api.register_converter(IdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    problem: dict[str, Any] = {"content": {PROBLEM_JSON: {"schema": "ProblemOut"}}}
    for name, what in (("Unauthorized", "no or bad token"), ("Forbidden", "the token's role may not do this")):
        api.spec.components.response(name, {"description": what, **problem})
    api.register_blueprint(meta.blp)
    for module in (features, releases, plans, incidents, admin, sdk):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    api.register_blueprint(ofrep.blp, url_prefix="/ofrep/v1")
