"""Release plans: start, pause, resume, cancel, the plan view, incidents, and the check that takes steps.

`check_plans` is what every `gate serve` worker runs every few seconds. It reads every running plan with its
feature's gate facts in a constant number of queries, decides each with the domain's `next_step`, and takes
each ready step in a transaction of its own: a compare-and-set on the plan's `rev`, then an ordinary promote
or rollout under the gate. Two checkers racing for one step: one takes it, the other's compare-and-set fails.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gate.domain.errors import ParseError
from gate.domain.plans import (
    ACTIONS,
    NextStep,
    PlanAction,
    PlanSpec,
    PlanState,
    next_step,
    plan_from_json,
    position,
    stops_plan,
)
from gate.domain.rings import RingsConfig
from gate.errors import Conflict, NotFound
from gate.models import AuditEntry, Feature, Plan
from gate.services import facts as facts_service
from gate.services.context import guards, now, rings, session
from gate.services.features import find_feature
from gate.services.plan_runs import ACTIVE, actor_of, find_plan, record, set_state
from gate.services.releases import kill_feature, plan_move
from gate.services.transactions import transaction

log = logging.getLogger(__name__)
HISTORY = 200  # the latest entries of the current run a view shows


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to the plan."""

    step: int | None
    action: str
    at: datetime
    actor: str
    detail: str


@dataclass(frozen=True)
class PlanView:
    """A feature's plan: its steps, where the run stands, the next step and what blocks it, and its history."""

    feature: str
    state: str
    step: int | None
    step_at: datetime | None
    started_by: str | None
    reason: str | None
    spec: PlanSpec
    next: NextStep | None
    history: tuple[HistoryItem, ...]


def stored_spec(plan: Plan) -> PlanSpec:
    try:
        return spec_of(json.dumps(plan.spec, separators=(",", ":"), sort_keys=True))
    except ParseError as exc:  # stored before a rule it breaks (or by hand): say so, never a 500
        key = session().scalar(select(Feature.key).where(Feature.id == plan.feature_id))
        raise Conflict(f"the stored plan of {key} cannot be read ({exc}); apply its product file again") from None


def _load(key: str) -> tuple[Feature, Plan, PlanSpec]:
    feature = find_feature(key)
    plan = find_plan(feature.id)
    if plan is None or plan.spec is None:
        raise NotFound(f"{key} has no release plan; add a plan: block to its product file")
    return feature, plan, stored_spec(plan)


def get_plan(key: str) -> PlanView:
    """The plan of a feature, with its next step decided as of now."""
    feature, plan, spec = _load(key)
    return _view(feature, plan, spec)


def _view(feature: Feature, plan: Plan, spec: PlanSpec) -> PlanView:
    at = now()
    step = plan.step if plan.state in ACTIVE else position(spec, rings(), feature.ring, feature.percent_bp)
    upcoming = None
    if plan.state != PlanState.DONE:
        reading = guards().latest(spec.guard.query) if spec.guard is not None else None  # never waits on Prometheus
        facts = facts_service.gather(feature)
        step_at = plan.step_at if plan.state in ACTIVE else None
        upcoming = next_step(spec, rings(), facts, step=step, step_at=step_at, reading=reading, now=at)
        if upcoming is not None and plan.state != PlanState.RUNNING:
            held = "not started" if plan.state == PlanState.IDLE else f"{plan.state}: {plan.reason or 'by hand'}"
            upcoming = NextStep(upcoming.step, upcoming.not_before, (f"plan: {held}", *upcoming.blocked_by))
    return PlanView(
        feature=feature.key,
        state=plan.state,
        step=step,
        step_at=plan.step_at,
        started_by=plan.started_by,
        reason=plan.reason,
        spec=spec,
        next=upcoming,
        history=_history(feature.key),
    )


def _history(key: str) -> tuple[HistoryItem, ...]:
    """The current run's entries, oldest first: from the latest start (the audit log keeps every run)."""
    rows = session().scalars(
        select(AuditEntry)
        .where(AuditEntry.feature == key, AuditEntry.action.in_(ACTIONS))
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY)
    )
    items: list[HistoryItem] = []
    for row in rows:
        after = row.after if isinstance(row.after, dict) else {}
        items.append(
            HistoryItem(
                after.get("step"), row.action.removeprefix("plan."), row.at, row.actor, str(after.get("detail", ""))
            )
        )
        if row.action == PlanAction.START:
            break
    return tuple(reversed(items))


def _from_here(spec: PlanSpec, feature: Feature) -> tuple[int | None, str]:
    """Where a run (re)started now stands: the last step at or below the feature's exposure, and its state."""
    step = position(spec, rings(), feature.ring, feature.percent_bp)
    return step, PlanState.DONE if step == len(spec.steps) - 1 else PlanState.RUNNING


def _where(spec: PlanSpec, step: int | None) -> str:
    if step is None:
        return "before its first step"
    return f"at step {step + 1} of {len(spec.steps)} ({spec.steps[step].describe()})"


def start(*, key: str, actor: str, token_id: int | None = None) -> PlanView:
    """Start the plan from where the feature stands: the next step is the first one above its exposure."""
    at = now()
    with transaction():
        feature, plan, spec = _load(key)
        if plan.state in ACTIVE:
            raise Conflict(f"the plan of {key} is already {plan.state}; resume or cancel it instead")
        if feature.killed:
            raise Conflict(f"{key} is killed; revive it before starting its plan")
        step, state = _from_here(spec, feature)
        set_state(
            plan,
            state=state,
            step=step,
            step_at=at,
            started_by=actor,
            started_token_id=token_id,
            reason=None,
            updated_at=at,
        )
        record(feature, plan, PlanAction.START, f"started by {actor} {_where(spec, step)}", actor=actor, at=at)
    return get_plan(key)


def pause(*, key: str, actor: str, token_id: int | None = None) -> PlanView:
    """Stop taking steps until resumed; the exposure stays where it is."""
    at = now()
    with transaction():
        feature, plan, _ = _load(key)
        if plan.state != PlanState.RUNNING:
            raise Conflict(f"the plan of {key} is {plan.state}, not running")
        set_state(plan, state=PlanState.PAUSED, reason=f"{actor} paused it", updated_at=at)
        record(feature, plan, PlanAction.PAUSE, f"paused by {actor}", actor=actor, at=at)
    return get_plan(key)


def resume(*, key: str, actor: str, token_id: int | None = None) -> PlanView:
    """Go on from where the feature stands now (it may have been moved by hand while paused)."""
    at = now()
    with transaction():
        feature, plan, spec = _load(key)
        if plan.state not in (PlanState.PAUSED, PlanState.HALTED):
            raise Conflict(f"the plan of {key} is {plan.state}; only a paused or halted plan resumes")
        if feature.killed:
            raise Conflict(f"{key} is killed; revive it before resuming its plan")
        step, state = _from_here(spec, feature)
        step_at = plan.step_at if step == plan.step else at
        # from now on its steps act in the name of whoever resumed it: they vouched for going on
        values = {"started_by": actor, "started_token_id": token_id}
        set_state(plan, state=state, step=step, step_at=step_at, reason=None, updated_at=at, **values)
        record(feature, plan, PlanAction.RESUME, f"resumed by {actor} {_where(spec, step)}", actor=actor, at=at)
    return get_plan(key)


def cancel(*, key: str, actor: str, token_id: int | None = None) -> PlanView:
    """End the run; the exposure stays where it is. The plan can be started again."""
    at = now()
    with transaction():
        feature, plan, _ = _load(key)
        if plan.state not in ACTIVE:
            raise Conflict(f"the plan of {key} is {plan.state}; there is no run to cancel")
        set_state(plan, state=PlanState.IDLE, reason=f"cancelled by {actor}", updated_at=at)
        record(feature, plan, PlanAction.CANCEL, f"cancelled by {actor}", actor=actor, at=at)
    return get_plan(key)


def running_plan(feature_id: int, severity: int) -> Plan | None:
    """The feature's plan if it is running and an incident this severe stops it (read before an incident's
    auto-kill pauses it)."""
    plan = find_plan(feature_id) if stops_plan(severity) else None
    return plan if plan is not None and plan.state == PlanState.RUNNING and plan.spec is not None else None


def apply_on_incident(feature: Feature, plan: Plan, *, incident: int, severity: int, at: datetime) -> None:
    """A severity 0-2 incident opened on a feature whose plan was running: pause, roll back one step, or kill."""
    spec = stored_spec(plan)
    reason = f"incident #{incident} (severity {severity}) opened"
    actor = actor_of(plan)
    if spec.on_incident == "pause":
        set_state(plan, state=PlanState.PAUSED, reason=reason, updated_at=at)
        record(feature, plan, PlanAction.PAUSE, f"paused: {reason}", actor=actor, at=at)
        return
    if spec.on_incident == "kill":
        if not feature.killed:
            kill_feature(feature, reason=reason, actor=actor, at=at, pauses_plan=False)
        set_state(plan, state=PlanState.HALTED, reason=reason, updated_at=at)
        record(feature, plan, PlanAction.HALT, f"halted and killed: {reason}", actor=actor, at=at)
        return
    step_back(feature, plan, spec, reason, at)


def step_back(feature: Feature, plan: Plan, spec: PlanSpec, reason: str, at: datetime) -> None:
    """Roll back to the step before the last one taken (off, before the first) and halt."""
    actor = actor_of(plan)
    back = None if plan.step is None or plan.step == 0 else plan.step - 1
    if plan.step is not None:
        target = spec.steps[back] if back is not None else None
        ring, percent = (target.ring, target.percent_bp) if target is not None else (None, 0)
        plan_move(feature, "rollback", ring, percent, actor=actor, at=at, reason=reason)
    set_state(plan, state=PlanState.HALTED, step=back, step_at=at, reason=reason, updated_at=at)
    where = f"step {back + 1} ({spec.steps[back].describe()})" if back is not None else "off"
    record(feature, plan, PlanAction.HALT, f"halted and rolled back to {where}: {reason}", actor=actor, at=at)


# (the rings, a stored plan's text) → its spec: a check parses only plans it has not seen. The rings are part
# of the key because a plan is parsed against them (one rings file per process, but tests run many apps)
def spec_of(stored: str) -> PlanSpec:
    """The plan a product file stored, parsed once per stored text and rings (a check reads every running
    plan's text on every pass; parsing each again would cost more than the rest of the check)."""
    return _parsed(stored, rings())


@functools.lru_cache(maxsize=10_000)
def _parsed(stored: str, config: RingsConfig) -> PlanSpec:
    return plan_from_json(json.loads(stored), config)
