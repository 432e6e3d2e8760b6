"""Components and milestones (contract 8.3): every component of every live feature, with its delivery."""

from __future__ import annotations

from typing import Any

from gate.api.auth import ANY
from gate.api.boundary import Blueprint
from gate.schemas.components import ComponentOut, ComponentQuery
from gate.services import components
from gate.services.components import ComponentView

blp = Blueprint("components", __name__, description="Components other teams deliver, and their milestones")


@blp.route("/components")
@blp.requires(*ANY)
@blp.arguments(ComponentQuery, location="query")
@blp.response(200, ComponentOut(many=True))
def listing(args: dict[str, Any]) -> list[ComponentView]:
    """Every component of every live feature: its team, due day, contract, delivery and lateness."""
    return components.listing(team=args["team"], late=args["late"])
