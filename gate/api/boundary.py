"""Where requests enter: body size and media type, ids in paths, text in paths, queries and forms, JSON.

Every class of hostile input is refused here once, for every endpoint, before a view or a store sees it.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, Response, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.http import parse_etags
from werkzeug.routing import BaseConverter, ValidationError

from gate.api.auth import authenticated, security_doc
from gate.domain.documents import MAX_ID, UnsafeDocument, text_problem
from gate.domain.errors import ParseError
from gate.domain.reports import MEDIA_TYPES as REPORT_TYPES
from gate.errors import BadRequest, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from gate.jsonio import load_json

MAX_BODY = 1024 * 1024
MAX_REPORT = 10 * 1024 * 1024  # a CI report as sent (contract 8.2)
MAX_INFLATED = 50 * 1024 * 1024  # a gzip report once inflated
_REPORT_PATH = re.compile(r"/api/v1/features/[^/]+/criteria/[^/]+/evidence/?\Z")
_REPORT_ENDPOINTS = frozenset({"evidence.report"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_YAML_ENDPOINTS = frozenset({"features.put_criteria"})
_CHUNK = 64 * 1024


class IdConverter(BaseConverter):
    """`<id:name>`: a positive integer below 2^63; anything else matches no route (404)."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class BodyLimit:
    """WSGI middleware: read a body sent without Content-Length (chunked) up to the limit, or answer 413.

    What passes on has a Content-Length like any other request, so the media-type check and every
    reader downstream see the whole body instead of a silently cut one.
    """

    def __init__(self, app: Callable[..., Any], limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Transfer-Encoding outranks Content-Length (RFC 9112 6.3), as werkzeug also reads it
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        limit = MAX_REPORT if _REPORT_PATH.match(environ.get("PATH_INFO", "")) else self.limit
        stream, body = environ["wsgi.input"], bytearray()
        while len(body) <= limit:
            chunk = stream.read(min(_CHUNK, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if len(body) > limit:
            problem = PayloadTooLarge(f"the body is larger than {limit} bytes")
            payload = json.dumps(problem.to_problem()).encode()
            start_response(
                "413 Request Entity Too Large",
                [("Content-Type", "application/problem+json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(bytes(body)), str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def not_modified(etag: str) -> Response | None:
    """A 304 when the request's If-None-Match names `etag` (weakly), else None."""
    if not names_etag(request.headers.get("If-None-Match"), etag):
        return None
    response = Response(status=304)
    response.headers["ETag"] = etag
    return response


def names_etag(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (the weak comparison, RFC 9110 13.1.2; `*` names any)."""
    return parse_etags(if_none_match).contains_weak(etag.strip('"'))


def check_request() -> None:
    """Refuse, before any view runs, text no store can keep and bodies of the wrong type."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and text_problem(value) is not None:
            raise NotFound("no such thing")
    _check_fields(request.args.items(multi=True))
    if request.endpoint in _REPORT_ENDPOINTS:
        _check_report()
        return
    if request.method not in BODY_METHODS or not request.content_length:
        return
    if request.blueprint == "web":
        _check_fields(request.form.items(multi=True))
    elif request.mimetype != "application/json" and not (
        request.endpoint in _YAML_ENDPOINTS and request.mimetype in YAML_TYPES
    ):
        raise UnsupportedMediaType(f"send application/json, not {request.mimetype or 'an untyped body'}")


def _check_report() -> None:
    """A CI report: up to 10 MiB as sent, of a type a reader knows, plain or gzip (contract 8.2)."""
    request.max_content_length = MAX_REPORT
    if request.content_length is not None and request.content_length > MAX_REPORT:
        raise PayloadTooLarge(f"a report may be at most {MAX_REPORT} bytes as sent")
    if not request.content_length:
        raise InvalidInput("the body is empty: send the report itself", errors={"body": ["is required"]})
    if request.mimetype not in REPORT_TYPES:
        raise UnsupportedMediaType(f"send a report as one of {', '.join(sorted(REPORT_TYPES))}")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r}: send the report plain or as gzip")


def report_type() -> str:
    """The media type of the report being uploaded (checked by `check_request`)."""
    return request.mimetype


def report_body() -> Iterator[bytes]:
    """The report's bytes, chunk by chunk, inflated when sent as gzip: at most 50 MiB come out of it (413 as
    soon as more would), and a cut-short or corrupt gzip stream is 422. Nothing is held but a chunk."""
    stream = request.stream
    gzipped = request.headers.get("Content-Encoding", "identity").strip().lower() != "identity"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    out = 0
    while chunk := stream.read(_CHUNK):
        if inflater is None:
            yield chunk
            continue
        try:
            while chunk:
                part = inflater.decompress(chunk, _CHUNK)
                out += len(part)
                if out > MAX_INFLATED:
                    raise PayloadTooLarge(f"the report inflates past {MAX_INFLATED} bytes")
                yield part
                chunk = inflater.unconsumed_tail
        except zlib.error as exc:
            raise InvalidInput(f"the gzip body is corrupt: {exc}", errors={"body": ["is not valid gzip"]}) from None
    if inflater is not None and not inflater.eof:
        raise InvalidInput("the gzip body is cut short", errors={"body": ["is not a whole gzip stream"]})


def _check_fields(items: Iterable[tuple[str, str]]) -> None:
    errors: dict[str, list[str]] = {}
    for name, value in items:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            errors.setdefault(name if text_problem(name) is None else "$", []).append(problem)
    if errors:
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors=errors)


def json_body() -> Any:
    """The request's JSON body, parsed once under the limits every document obeys; None without a body."""
    if "json_body" not in g:
        data = request.get_data(cache=True)
        try:
            g.json_body = load_json(data) if data else None
        except UnsafeDocument as exc:
            raise InvalidInput(str(exc), errors=exc.errors) from None
        except ParseError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
    return g.json_body


class _Parser(FlaskParser):
    """webargs reading JSON through `json_body`, so every schema sees a checked document."""

    def _raw_load_json(self, req: Any) -> Any:
        if request.mimetype != "application/json" or not request.content_length:
            return core.missing
        return json_body()


class Blueprint(SmorestBlueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint with Gate's argument parser; answers are JSON, errors problem+json."""

    ARGUMENTS_PARSER = _Parser()

    def requires(self, *roles: str) -> Callable[[Any], Any]:
        """Let only tokens holding one of `roles` (or admin) call the view, and say so in the OpenAPI document."""

        def decorator(view: Any) -> Any:
            return self.doc(**security_doc(roles))(authenticated(*roles)(view))

        return decorator

    def response(self, status_code: int, schema: Any = None, **kwargs: Any) -> Any:
        if int(status_code) < 400:
            kwargs.setdefault("content_type", "application/json")
        return super().response(status_code, schema, **kwargs)

    def alt_response(self, status_code: int, *args: Any, **kwargs: Any) -> Any:
        if int(status_code) < 400:
            kwargs.setdefault("content_type", "application/json")
        return super().alt_response(status_code, *args, **kwargs)


def register_boundary(app: Flask) -> None:
    """Install the id converter, the body limit and the request checks."""
    app.url_map.converters["id"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.wsgi_app = BodyLimit(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(check_request)
