"""The REST API: blueprints registered on the flask-smorest Api, which writes the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from gate.api import admin, components, evidence, features, incidents, meta, ofrep, plans, releases, sdk
from gate.api.boundary import IdConverter
from gate.api.problems import http_problem
from gate.domain.documents import MAX_ID
from gate.errors import PROBLEM_JSON
from gate.schemas import ProblemOut


class GateApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, leaving error rendering to gate.errors (problem+json)."""

    ERROR_SCHEMA = ProblemOut
    DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON  # what errors answer; views declare JSON (api.boundary)

    def __init__(self) -> None:
        super().__init__()
        self._undocumented: list[tuple[Any, str, Any]] = []

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Mount a blueprint now, and describe it in the OpenAPI document when the document is first asked
        for: building it is most of what making an app costs, and an app that serves no one the document
        (a test's, a CLI command's) need not pay for it."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def document(self) -> None:
        """Describe every blueprint mounted so far in the OpenAPI document (once each)."""
        while self._undocumented:
            blp, name, parameters = self._undocumented.pop(0)
            blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
            self.spec.tag({"name": name, "description": blp.description})

    def _openapi_json(self) -> Response:
        self.document()
        return super()._openapi_json()  # type: ignore[no-any-return]

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
    for module in (features, evidence, components, releases, plans, incidents, admin, sdk):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    api.register_blueprint(ofrep.blp, url_prefix="/ofrep/v1")
