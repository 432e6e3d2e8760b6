"""A plan's row and its history, below the use cases: what exposure changes and product files do to a plan.

Every write to a plan's row goes through `set_state`, a compare-and-set on `rev`, so two checkers (workers
or hosts) racing for the same step cannot both take it. The history is the audit log: each `plan.*` entry of
the feature, with the step, the state after it and the reason in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from gate.domain.plans import PlanAction, PlanSpec, PlanState, position
from gate.errors import Conflict
from gate.models import Feature, Plan
from gate.services.audit import audit
from gate.services.context import rings, session
from gate.services.transactions import changed

ACTIVE = (PlanState.RUNNING, PlanState.PAUSED, PlanState.HALTED)


def actor_of(plan: Plan) -> str:
    """Who the plan acts as: `plan:<whoever started it>`."""
    return f"plan:{plan.started_by or 'gate'}"


def find_plan(feature_id: int) -> Plan | None:
    return session().get(Plan, feature_id, populate_existing=True)


def set_state(plan: Plan, **values: Any) -> None:
    """Write `values` only if nobody changed the plan since it was read; a racing writer gets 409."""
    if not changed(
        update(Plan).where(Plan.feature_id == plan.feature_id, Plan.rev == plan.rev).values(rev=plan.rev + 1, **values)
    ):
        raise Conflict("the release plan changed meanwhile; read it again and retry")
    session().refresh(plan)


def record(feature: Feature, plan: Plan, action: str, detail: str, *, actor: str, at: datetime) -> None:
    """One line of the plan's history (an audit entry, so logs and webhooks carry it too)."""
    audit(
        actor=actor,
        action=action,
        target=f"feature:{feature.key}",
        feature=feature.key,
        before=None,
        after={"state": plan.state, "step": plan.step, "detail": detail},
        at=at,
    )


def pause_after_manual_change(feature: Feature, *, kind: str, actor: str, at: datetime) -> None:
    """A promote, rollout, rollback, kill or revive the plan did not make pauses a running plan."""
    plan = session().scalar(select(Plan).where(Plan.feature_id == feature.id, Plan.state == PlanState.RUNNING))
    if plan is None:
        return
    reason = f"{actor} made a {kind} by hand"
    set_state(plan, state=PlanState.PAUSED, reason=reason, updated_at=at)
    record(feature, plan, PlanAction.PAUSE, f"paused: {reason}", actor=actor, at=at)


def end_run(feature: Feature, *, reason: str, actor: str, at: datetime) -> None:
    """Cancel the feature's run, if it has one (the feature leaves: archived)."""
    plan = find_plan(feature.id)
    if plan is not None and plan.state in ACTIVE:
        set_state(plan, state=PlanState.IDLE, reason=reason, updated_at=at)
        record(feature, plan, PlanAction.CANCEL, f"cancelled: {reason}", actor=actor, at=at)


def store_spec(feature: Feature, spec: PlanSpec | None, *, actor: str, at: datetime) -> None:
    """Keep the plan the product file declares. A running plan is not changed (409: pause or cancel it first);
    a paused or halted one goes on under the new plan from where the feature stands when resumed (the hold of
    the step in progress is the new file's); a plan removed from the file ends the run."""
    wanted = spec.to_json() if spec is not None else None
    plan = find_plan(feature.id)
    if plan is None:
        if wanted is not None:
            session().add(Plan(feature_id=feature.id, spec=wanted, state=PlanState.IDLE, rev=0, updated_at=at))
        return
    if plan.spec == wanted:
        return
    if plan.state == PlanState.RUNNING:  # plan control is release's: a product file does not change a run under way
        change = "remove" if spec is None else "change"
        raise Conflict(
            f"the release plan of {feature.key} is running: a release manager pauses or cancels it before a "
            f"product file may {change} it"
        )
    if spec is None:
        if plan.state in ACTIVE:
            set_state(
                plan,
                spec=None,
                state=PlanState.IDLE,
                reason="the plan was removed from the product file",
                updated_at=at,
            )
            record(
                feature, plan, PlanAction.CANCEL, "cancelled: the product file no longer has a plan", actor=actor, at=at
            )
        else:
            set_state(plan, spec=None, updated_at=at)
        return
    step = position(spec, rings(), feature.ring, feature.percent_bp) if plan.state in ACTIVE else plan.step
    set_state(plan, spec=wanted, step=step, updated_at=at)
    if plan.state in ACTIVE:
        where = f"after step {step + 1} ({spec.steps[step].describe()})" if step is not None else "from its first step"
        record(
            feature,
            plan,
            PlanAction.CHANGE,
            f"the product file changed the plan; it goes on {where}",
            actor=actor,
            at=at,
        )
