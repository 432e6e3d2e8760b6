"""One error tree: what Gate answers when it refuses, as plain exceptions (gate.api.problems renders them).

GateError                 500 (never raised on purpose)
├── BadRequest            400 malformed input
├── Unauthorized          401 no or bad token
├── Forbidden             403 wrong role
├── NotFound              404 unknown thing
├── Conflict              409 the state forbids it
│   └── GateRefused       409 a gate did not pass; carries its checks
├── PayloadTooLarge       413
├── UnsupportedMediaType  415
├── InvalidInput          422 well-formed but invalid; carries errors by field
└── Unavailable           503 try again later (Retry-After)
    └── DatabaseUnavailable   the database cannot be reached now
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.domain.gate import Check

PROBLEM_JSON = "application/problem+json"
# app.extensions key: a renderer that answers an error as an HTML page when a browser asked for a page
# (the dashboard registers it; the API's problem renderer asks it first, and never imports the dashboard)
ERROR_PAGE = "gate.error_page"


class GateError(Exception):
    """Base of every error Gate answers with; subclasses set status, title and type."""

    status = 500
    title = "Internal server error"
    type = "about:blank"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        checks: Sequence[Check] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.checks = checks

    def to_problem(self) -> dict[str, Any]:
        """Render the RFC 9457 body."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = {k: list(v) for k, v in self.errors.items()}
        if self.checks is not None:
            body["checks"] = [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]
        return body


class BadRequest(GateError):
    status, title, type = 400, "Bad request", "/problems/bad-request"


class Unauthorized(GateError):
    status, title, type = 401, "Unauthorized", "/problems/unauthorized"


class Forbidden(GateError):
    status, title, type = 403, "Forbidden", "/problems/forbidden"


class NotFound(GateError):
    status, title, type = 404, "Not found", "/problems/not-found"


class MethodNotAllowed(GateError):
    status, title, type = 405, "Method not allowed", "/problems/method-not-allowed"


class Conflict(GateError):
    status, title, type = 409, "Conflict", "/problems/conflict"


class GateRefused(Conflict):
    title, type = "Gate refused", "/problems/gate-refused"


class PayloadTooLarge(GateError):
    status, title, type = 413, "Payload too large", "/problems/payload-too-large"


class UnsupportedMediaType(GateError):
    status, title, type = 415, "Unsupported media type", "/problems/unsupported-media-type"


class InvalidInput(GateError):
    status, title, type = 422, "Invalid input", "/problems/invalid-input"


class Unavailable(GateError):
    status, title, type = 503, "Service unavailable", "/problems/unavailable"
    retry_after = 2


class DatabaseUnavailable(Unavailable):
    title, type = "Database unavailable", "/problems/database-unavailable"


BY_STATUS: dict[int, type[GateError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidInput,
    )
}
