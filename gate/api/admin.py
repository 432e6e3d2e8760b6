"""Tokens and the audit log: admin only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView

from gate import schemas as s
from gate.api.auth import actor
from gate.api.boundary import Blueprint
from gate.api.pagination import page
from gate.services import audit, tokens

blp = Blueprint("admin", __name__, description="Tokens and the audit log")


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.requires("admin")
    @blp.arguments(s.PageQuery, location="query")
    @blp.response(200, s.TokenOut(many=True))
    def get(self, args: dict[str, Any]) -> list[tokens.TokenView]:
        """List tokens: name, role, created, last used; never the secret."""
        return tokens.list_tokens(**page(args))

    @blp.requires("admin")
    @blp.arguments(s.TokenIn)
    @blp.response(201, s.TokenCreatedOut)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a token; its secret is in this answer and nowhere else, ever (and never cached)."""
        token, secret = tokens.create_token(**tokens.creation(body), actor=actor())
        return {**asdict(token), "role": token.role, "secret": secret}, 201, {"Cache-Control": "no-store"}


@blp.route("/tokens/<id:token_id>", methods=["DELETE"])
@blp.requires("admin")
@blp.response(200, s.TokenOut)
def revoke(token_id: int) -> tokens.TokenView:
    """Revoke a token at once, on every worker."""
    return tokens.revoke_token(token_id=token_id, actor=actor())


@blp.route("/audit")
@blp.requires("admin")
@blp.arguments(s.AuditQuery, location="query")
@blp.response(200, s.AuditOut(many=True))
def list_audit(args: dict[str, Any]) -> list[audit.AuditView]:
    """Every write that took effect, newest first; ?feature=, ?actor=, ?action= narrow it."""
    return audit.list_audit(feature=args["feature"], actor=args["actor"], action=args["action"], **page(args))
