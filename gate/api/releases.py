"""The gate and exposure changes: promote, rollout, rollback, kill, revive."""

from __future__ import annotations

from typing import Any

from gate import schemas as s
from gate.api.auth import ANY, actor, principal
from gate.api.boundary import Blueprint
from gate.api.pagination import page
from gate.services import releases
from gate.services.features import ExposureChange

blp = Blueprint("releases", __name__, description="Gates and ring exposure")


@blp.route("/features/<key>/gate")
@blp.requires(*ANY)
@blp.arguments(s.GateQuery, location="query")
@blp.response(200, s.GateOut)
def get_gate(args: dict[str, Any], key: str) -> dict[str, Any]:
    """The gate for a ring (default: the next one), every check with its reason."""
    result = releases.gate_for(key=key, ring=args["ring"], build=args["build"])
    return {"feature": key, "ring": result.ring, "passed": result.passed, "checks": result.checks}


@blp.route("/features/<key>/promote", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.PromoteIn)
@blp.response(200, s.ExposureOut)
@blp.alt_response(409, schema=s.ProblemOut, description="the gate refused; `checks` says why")
def promote(body: dict[str, Any], key: str) -> ExposureChange:
    """Expose the feature to the next ring when its gate passes."""
    return releases.promote(
        key=key,
        ring=body["ring"],
        percent_bp=body["percent"],
        override_reason=body["override_reason"],
        principal=principal(),
        build=body["build"],
    )


@blp.route("/features/<key>/rollout", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.RolloutIn)
@blp.response(200, s.ExposureOut)
def rollout(body: dict[str, Any], key: str) -> ExposureChange:
    """Change the rollout percent inside the current ring."""
    return releases.rollout(key=key, percent_bp=body["percent"], actor=actor())


@blp.route("/features/<key>/rollback", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.RollbackIn)
@blp.response(200, s.ExposureOut)
def rollback(body: dict[str, Any], key: str) -> ExposureChange:
    """Go back to an earlier ring at 100%, or off with `ring: null`."""
    return releases.rollback(key=key, ring=body["ring"], reason=body["reason"], actor=actor())


@blp.route("/features/<key>/kill", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.KillIn)
@blp.response(200, s.ExposureOut)
def kill(body: dict[str, Any], key: str) -> ExposureChange:
    """Turn the feature off for everyone at once."""
    return releases.kill(key=key, reason=body["reason"], actor=actor())


@blp.route("/features/<key>/revive", methods=["POST"])
@blp.requires("release")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.ExposureOut)
def revive(body: dict[str, Any], key: str) -> ExposureChange:
    """Restore the exposure held at the kill."""
    return releases.revive(key=key, actor=actor())


@blp.route("/features/<key>/deployments")
@blp.requires(*ANY)
@blp.arguments(s.PageQuery, location="query")
@blp.response(200, s.DeploymentOut(many=True))
def deployments(args: dict[str, Any], key: str) -> list[releases.DeploymentView]:
    """The feature's exposure history, newest first."""
    return releases.deployments(key=key, **page(args))
