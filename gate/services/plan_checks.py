"""The plan checker every `gate serve` worker runs (contract 7.3): read every running plan and its gate facts
in a constant number of queries, decide each with the pure `next_step`, then take each ready step (or apply
each guard breach) in a transaction of its own, exactly once across workers and hosts (compare-and-set on
the plan's `rev`). Plans without a guard go first; guards are read after the read has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select

from gate.domain.errors import ParseError
from gate.domain.plans import PlanAction, PlanSpec, PlanState, Reading, next_step
from gate.errors import GateError
from gate.models import Feature, Plan, Token
from gate.services import facts as facts_service
from gate.services.context import guards, now, rings, session
from gate.services.plan_runs import actor_of, find_plan, record, set_state
from gate.services.plans import spec_of, step_back, stored_spec
from gate.services.releases import Asked, plan_move, promote_feature
from gate.services.transactions import transaction

log = logging.getLogger("gate.services.plans")


@dataclass(frozen=True)
class Tick:
    """What one check of the running plans did."""

    checked: int
    taken: int
    halted: int


def check_plans(read: Callable[[str], Reading] | None = None) -> Tick:
    """Check every running plan once: take each step that is ready, apply each guard breach. The plans
    without a guard go first; the guards are then read outside any transaction (gate/services/guards.py)."""
    at = now()
    rows, facts, lapsed = _running_plans(at)
    session().commit()  # no transaction stays open while guards are read or steps are taken
    work: list[Work] = []
    guarded: list[tuple[Any, PlanSpec]] = []
    for row in rows:
        if row.started_token_id in lapsed:  # nobody vouches for its steps any more: pause, never step
            reason = f"the token of {row.started_by}, in whose name it steps, {lapsed[row.started_token_id]}"
            work.append((_orphaned, (row.id, row.rev, reason)))
            continue
        try:
            spec = spec_of(row.spec)
        except ParseError as exc:  # one plan's fault never stops the others
            log.error("plan of feature %s cannot be read, skipped: %s", row.id, exc)
            continue
        if spec.guard is None:
            work += _decide(row, spec, facts[row.id], None, at)
        else:
            guarded.append((row, spec))
    taken, halted = _carry_out(work, at)
    readings = guards().read_many({spec.guard.query for _, spec in guarded if spec.guard}, read=read)
    work = []
    for row, spec in guarded:
        assert spec.guard is not None
        work += _decide(row, spec, facts[row.id], readings[spec.guard.query], at)
    more_taken, more_halted = _carry_out(work, at)
    return Tick(checked=len(rows), taken=taken + more_taken, halted=halted + more_halted)


Work = tuple[Callable[..., bool], tuple[Any, ...]]


def _running_plans(at: datetime) -> tuple[list[Any], dict[int, Any], dict[int, str]]:
    """Every running plan as a plain row (the plan as its stored text), the gate facts of each, and the
    starters' tokens that lapsed: a constant number of queries however many plans run."""
    running = (
        select(Plan.feature_id)
        .join(Feature, Feature.id == Plan.feature_id)
        .where(Plan.state == PlanState.RUNNING, Feature.archived_at.is_(None))
    )
    rows = (
        session()
        .execute(
            select(
                Feature.id,
                Feature.ring,
                Feature.percent_bp,
                Feature.killed,
                Feature.full_since,
                Feature.components,  # the gate's components check reads them from the row
                Feature.integration,
                Plan.rev,
                Plan.step,
                Plan.step_at,
                Plan.started_by,
                Plan.started_token_id,
                cast(Plan.spec, Text).label("spec"),
            )
            .join(Plan, Plan.feature_id == Feature.id)
            .where(Feature.id.in_(running.scalar_subquery()))  # the same set gather_many reads: SQLite plans it faster
        )
        .all()
    )
    facts = facts_service.gather_many(rows, among=running)
    lapsed = _lapsed_starters({row.started_token_id for row in rows if row.started_token_id is not None}, at)
    return list(rows), facts, lapsed


def _decide(row: Any, spec: PlanSpec, facts: Any, reading: Reading | None, at: datetime) -> list[Work]:
    """What to do with one running plan now: a breach to apply, a step to take, or nothing."""
    if spec.guard is not None and reading is not None and row.step is not None and reading.breaches(spec.guard):
        return [(_breach, (row.id, row.rev, reading.value))]
    try:
        upcoming = next_step(spec, rings(), facts, step=row.step, step_at=row.step_at, reading=reading, now=at)
    except (ArithmeticError, ValueError) as exc:  # one plan's fault never stops the others
        log.error("plan of feature %s cannot be decided, skipped: %s: %s", row.id, type(exc).__name__, exc)
        return []
    if upcoming is None or upcoming.ready:
        return [(_take, (row.id, row.rev, upcoming.step if upcoming else None))]
    return []


def _carry_out(work: list[Work], at: datetime) -> tuple[int, int]:
    """Run each decided action in its own transaction; how many steps were taken and plans halted."""
    taken = halted = 0
    for action, args in work:
        try:
            done = action(*args, at=at)
        except GateError as exc:  # another checker got there first, or the gate closed meanwhile
            log.info("plan of feature %s: no step this time: %s", args[0], exc)
            continue
        except (ParseError, ArithmeticError, ValueError) as exc:
            log.error("plan of feature %s: its step failed, skipped: %s: %s", args[0], type(exc).__name__, exc)
            continue
        if done:
            taken += action is _take
            halted += action is _breach
    return taken, halted


def _lapsed_starters(token_ids: set[int], at: datetime) -> dict[int, str]:
    """Of the tokens that started running plans, those revoked or expired since, with which."""
    if not token_ids:
        return {}
    rows = session().execute(select(Token.id, Token.revoked_at, Token.expires_at).where(Token.id.in_(token_ids))).all()
    lapsed = {i: "was revoked" for i, revoked, _ in rows if revoked is not None}
    lapsed |= {i: "has expired" for i, revoked, ends in rows if revoked is None and ends is not None and ends <= at}
    return lapsed | {i: "is gone" for i in token_ids - {row[0] for row in rows}}


def _orphaned(feature_id: int, rev: int, reason: str, *, at: datetime) -> bool:
    """Pause a plan whose starter's token no longer works; a release manager resumes it in their own name."""
    with transaction():
        claimed = _claim(feature_id, rev)
        if claimed is None:
            return False
        feature, plan, _ = claimed
        set_state(plan, state=PlanState.PAUSED, reason=reason, updated_at=at)
        record(feature, plan, PlanAction.PAUSE, f"paused: {reason}; a release manager resumes it", actor="gate", at=at)
    return False


def _claim(feature_id: int, rev: int) -> tuple[Feature, Plan, PlanSpec] | None:
    """The plan as the check read it, unless it changed since (then another checker or a person acted)."""
    plan = find_plan(feature_id)
    if plan is None or plan.rev != rev or plan.state != PlanState.RUNNING:
        return None
    feature = session().get(Feature, feature_id, populate_existing=True)
    assert feature is not None
    return feature, plan, stored_spec(plan)


def _take(feature_id: int, rev: int, index: int | None, *, at: datetime) -> bool:
    """Take step `index` (None: the plan has no step left, so it is done), exactly once."""
    with transaction():
        claimed = _claim(feature_id, rev)
        if claimed is None:
            return False
        feature, plan, spec = claimed
        actor = actor_of(plan)
        if index is None:
            set_state(plan, state=PlanState.DONE, updated_at=at)
            record(feature, plan, PlanAction.STEP, "done: every step is taken", actor=actor, at=at)
            return False
        last = index == len(spec.steps) - 1
        step = spec.steps[index]
        # the feature's row first, then the plan's, as every exposure change locks them (no deadlock)
        if feature.ring == step.ring:
            plan_move(feature, "rollout", step.ring, step.percent_bp, actor=actor, at=at, reason=None)
        else:
            ring = rings().get(step.ring)
            assert ring is not None
            promote_feature(feature, ring, step.percent_bp, actor=actor, at=at, asked=Asked(pauses_plan=False))
        set_state(
            plan, step=index, step_at=at, state=PlanState.DONE if last else PlanState.RUNNING, updated_at=at
        )  # the one taker
        detail = f"step {index + 1} of {len(spec.steps)}: {step.describe()}" + (" (the last: done)" if last else "")
        record(feature, plan, PlanAction.STEP, detail, actor=actor, at=at)
    return True


def _breach(feature_id: int, rev: int, value: float, *, at: datetime) -> bool:
    """The guard read above its maximum while a step held: pause, or roll back one step."""
    with transaction():
        claimed = _claim(feature_id, rev)
        if claimed is None:
            return False
        feature, plan, spec = claimed
        assert spec.guard is not None
        reason = f"the guard read {value:g}, above its maximum {spec.guard.max:g}"
        if spec.guard.on_breach == "pause":
            set_state(plan, state=PlanState.PAUSED, reason=reason, updated_at=at)
            record(feature, plan, PlanAction.PAUSE, f"paused: {reason}", actor=actor_of(plan), at=at)
        else:
            step_back(feature, plan, spec, reason, at)
    return True
