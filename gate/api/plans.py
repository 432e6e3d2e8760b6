"""Release plans: start, pause, resume, cancel, and the plan view."""

from __future__ import annotations

from typing import Any

from gate import schemas as s
from gate.api.auth import ANY, actor, principal
from gate.api.boundary import Blueprint
from gate.services import plans

blp = Blueprint("plans", __name__, description="Release plans: features that move themselves ring by ring")


@blp.route("/features/<key>/plan")
@blp.requires(*ANY)
@blp.response(200, s.PlanOut)
@blp.alt_response(404, schema=s.ProblemOut, description="no such feature, or its product file has no plan")
def get_plan(key: str) -> plans.PlanView:
    """The plan: its steps, its state, the next step with when it may start and what blocks it, its history."""
    return plans.get_plan(key)


@blp.route("/features/<key>/plan/start", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.PlanOut)
@blp.alt_response(409, schema=s.ProblemOut, description="the plan's state (or a kill) does not allow it")
def start(body: dict[str, Any], key: str) -> plans.PlanView:
    """Start the plan from where the feature stands; its steps act as `plan:<you>`."""
    return plans.start(key=key, actor=actor(), token_id=principal().token_id)


@blp.route("/features/<key>/plan/pause", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.PlanOut)
@blp.alt_response(409, schema=s.ProblemOut, description="the plan's state (or a kill) does not allow it")
def pause(body: dict[str, Any], key: str) -> plans.PlanView:
    """Take no more steps until resumed."""
    return plans.pause(key=key, actor=actor(), token_id=principal().token_id)


@blp.route("/features/<key>/plan/resume", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.PlanOut)
@blp.alt_response(409, schema=s.ProblemOut, description="the plan's state (or a kill) does not allow it")
def resume(body: dict[str, Any], key: str) -> plans.PlanView:
    """Go on from where the feature stands now."""
    return plans.resume(key=key, actor=actor(), token_id=principal().token_id)


@blp.route("/features/<key>/plan/cancel", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.PlanOut)
@blp.alt_response(409, schema=s.ProblemOut, description="the plan's state (or a kill) does not allow it")
def cancel(body: dict[str, Any], key: str) -> plans.PlanView:
    """End the run; the exposure stays where it is."""
    return plans.cancel(key=key, actor=actor(), token_id=principal().token_id)
