"""Read models for the dashboard, without Flask (the pages render them): the board, a feature's page, stale flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from gate.domain.exposure import FULL, format_percent, is_released
from gate.domain.gate import GateFacts, GateResult, evaluate_gate, latest_votes, next_ring
from gate.domain.incidents import AUTO_KILL
from gate.domain.rings import RingsConfig
from gate.domain.words import counted
from gate.errors import NotFound
from gate.models import AuditEntry, CriterionRevision, Feature, Plan, Vote
from gate.services.context import now, rings, session
from gate.services.criteria import current_revisions
from gate.services.evidence_reads import BuildPoint, recent
from gate.services.facts import gather, gather_many
from gate.services.features import FeatureView, find_feature, get_feature
from gate.services.plan_runs import ACTIVE
from gate.services.plan_timeline import StepRow, step_rows
from gate.services.plans import PlanView, get_plan

RELEASED_LONG_AGO = timedelta(days=30)
NOT_EVALUATED_FOR = timedelta(days=7)
FIRST_EVALUATION_GRACE = timedelta(minutes=15)  # a flag exposed seconds ago is not "never evaluated" yet
STATES = ("off", "rolling-out", "released", "killed", "stale")


@dataclass(frozen=True)
class Cell:
    """One ring of one feature on the board: a state and the words for it."""

    state: str  # on, off, rollout, killed
    text: str  # words and a symbol, so that colour is never the only signal


KILLED_MARK = "⨯"  # noqa: RUF001  # the cross the board and the banners mark a kill with
ON, OFF, KILLED = Cell("on", "● on"), Cell("off", "○ off"), Cell("killed", f"{KILLED_MARK} killed")


@dataclass(frozen=True)
class BoardRow:
    feature: Any  # a Feature row
    cells: tuple[Cell, ...]
    gate: GateResult | None  # the next ring's gate; None once released everywhere
    stale: str | None
    state: str
    plan: str | None = None  # the state of the feature's release plan while it has a run: running, paused, halted

    @property
    def gate_class(self) -> str:
        return "" if self.gate is None else ("pass" if self.gate.passed else "fail")

    @property
    def gate_text(self) -> str:
        """The next gate in words, with a mark, so that colour is never the only signal."""
        if self.gate is None:
            return "released everywhere"
        if self.gate.passed:
            return f"✓ {self.gate.ring} gate passes"
        failing = sum(1 for c in self.gate.checks if not c.passed)
        return f"✗ {self.gate.ring}: {failing} check{'' if failing == 1 else 's'} failing"


def cells(config: RingsConfig, feature: Feature) -> tuple[Cell, ...]:
    """What each ring sees of the feature."""
    reached = config.index(feature.ring)
    out = []
    for ring in config.rings:
        if reached is None or ring.index > reached:
            out.append(OFF)  # a kill takes nothing from a ring the feature never reached
        elif feature.killed:
            out.append(KILLED)
        elif ring.index < reached or feature.percent_bp == FULL:
            out.append(ON)
        else:
            out.append(Cell("rollout", "◐ " + format_percent(feature.percent_bp)))
    return tuple(out)


def released(config: RingsConfig, feature: Any) -> bool:
    """On for everyone: at 100% in the last ring, not killed."""
    return is_released(feature.ring, feature.percent_bp, feature.killed, last_ring=config.last.name)


def next_gate(config: RingsConfig, feature: Any, facts: GateFacts, at: datetime) -> GateResult | None:
    """The gate of the feature's next ring; None once it is released everywhere."""
    if released(config, feature):
        return None
    return evaluate_gate(config, next_ring(config, feature.ring), facts, now=at)


def stale_reason(config: RingsConfig, feature: Feature, at: datetime) -> str | None:
    """Why a flag looks stale: released everywhere for long (remove it), or not evaluated lately."""
    if released(config, feature) and feature.full_since:
        age = at - feature.full_since
        if age >= RELEASED_LONG_AGO:
            return f"released to everyone {counted(age.days, 'day')} ago: time to remove the flag"
    if feature.ring is not None and not feature.killed:
        if feature.last_evaluated_at is None:
            if at - feature.updated_at < FIRST_EVALUATION_GRACE:
                return None
            return "exposed but never evaluated by an SDK"
        idle = at - feature.last_evaluated_at
        if idle >= NOT_EVALUATED_FOR:
            return f"not evaluated for {counted(idle.days, 'day')}"
    return None


def state_of_row(config: RingsConfig, feature: Feature) -> str:
    if feature.killed:
        return "killed"
    if feature.ring is None:
        return "off"
    if released(config, feature):
        return "released"
    return "rolling-out"


def board(
    *, owner: str | None = None, state: str | None = None, search: str | None = None
) -> tuple[list[BoardRow], list[str]]:
    """Every live feature with its cells, next gate and staleness, filtered (owner, state, and `search` in
    the key or name, ignoring case); and the owners to filter by."""
    config, at = rings(), now()
    # rows with the Feature's attribute names, not ORM objects: loading 500 objects costs more than the page
    columns = Feature.__table__.columns
    features: list[Any] = list(
        session().execute(select(*columns).where(columns.archived_at.is_(None)).order_by(columns.key))
    )
    owners = sorted({f.owner for f in features})
    if owner:
        features = [f for f in features if f.owner == owner]
    if search:
        needle = search.casefold()
        features = [f for f in features if needle in f.key.casefold() or needle in f.name.casefold()]
    facts = gather_many(features)
    plans: dict[int, str] = {
        feature_id: state
        for feature_id, state in session().execute(select(Plan.feature_id, Plan.state).where(Plan.state.in_(ACTIVE)))
    }
    rows = []
    for f in features:
        gate = next_gate(config, f, facts[f.id], at)
        row = BoardRow(f, cells(config, f), gate, stale_reason(config, f, at), state_of_row(config, f), plans.get(f.id))
        if (state == "stale" and row.stale is None) or (state and state != "stale" and row.state != state):
            continue
        rows.append(row)
    return rows, owners


@dataclass(frozen=True)
class PastVote:
    voter: str
    vote: str
    comment: str | None
    at: datetime
    revision: int
    stale: bool  # cast on an older revision: kept in history, no longer counted


@dataclass(frozen=True)
class FeaturePage:
    view: FeatureView
    gate: GateResult | None
    history: dict[str, list[PastVote]]  # criterion id → every vote, newest first
    timeline: list[AuditEntry]
    stale: str | None
    my_votes: dict[str, PastVote]  # criterion id → the viewer's vote that counts now (the QA form starts there)
    banners: tuple[Banner, ...] = ()
    plan: PlanView | None = None
    plan_steps: tuple[StepRow, ...] = ()
    evidence: dict[str, list[BuildPoint]] = field(default_factory=dict)  # criterion id → its last 20, oldest first


@dataclass(frozen=True)
class Banner:
    """What an operator must see first on a feature's page: why it is killed, how it got where it is."""

    kind: str  # killed, override, blocked
    text: str


def banners(view: FeatureView, gate: GateResult | None, timeline: list[AuditEntry]) -> tuple[Banner, ...]:
    """The killing entry, an override that let the feature into its current ring, an incident blocking the next."""
    out: list[Banner] = []
    if view.killed:
        kill = next((e for e in timeline if e.action == "kill"), None)
        if kill is not None:
            reason = str((kill.after or {}).get("reason") or "")
            when = kill.at.strftime("%Y-%m-%d %H:%M UTC")
            if reason.startswith(AUTO_KILL):
                cause = reason.removeprefix(AUTO_KILL)  # "incident #12 (severity 1)"
                out.append(
                    Banner("killed", f"{KILLED_MARK} Killed at once by {cause} at {when} (auto-kill): revive when safe")
                )
            else:
                out.append(
                    Banner(
                        "killed", f"{KILLED_MARK} Killed by {kill.actor} at {when}" + (f": {reason}" if reason else "")
                    )
                )
    if view.ring is not None:
        entered = next(
            (e for e in timeline if e.action == "promote" and (e.after or {}).get("ring") == view.ring), None
        )
        override = next(
            (e for e in timeline if e.action == "override" and (e.after or {}).get("ring") == view.ring), None
        )
        if entered is not None and override is not None and override.at == entered.at:
            reason = (override.after or {}).get("reason") or ""
            out.append(Banner("override", f"⚠ Entered {view.ring} with an override by {override.actor}: {reason}"))
    if gate is not None:
        blocking = next((c for c in gate.checks if c.name == "incidents" and not c.passed), None)
        if blocking is not None:
            out.append(Banner("blocked", f"⛔ {gate.ring} is blocked by an {blocking.detail}"))
    return tuple(out)


def feature_page(key: str, viewer: str | None = None) -> FeaturePage:
    """Everything the feature page shows, in a handful of queries; `viewer`'s current votes pre-fill the form."""
    config, at = rings(), now()
    view = get_feature(key)
    feature = find_feature(key)
    gate = next_gate(config, feature, gather(feature), at)
    current = {c.id: c.revision for c in view.criteria}
    history: dict[str, list[PastVote]] = {c.id: [] for c in view.criteria}
    for criterion, revision, voter, vote, comment, cast_at in session().execute(
        select(
            CriterionRevision.criterion,
            CriterionRevision.revision,
            Vote.voter,
            Vote.vote,
            Vote.comment,
            Vote.created_at,
        )
        .join(Vote, Vote.revision_id == CriterionRevision.id)
        .where(CriterionRevision.feature_id == feature.id, CriterionRevision.criterion.in_(list(current)))
        .order_by(Vote.id.desc())
    ):
        history[criterion].append(PastVote(voter, vote, comment, cast_at, revision, revision != current[criterion]))
    timeline = list(
        session().scalars(select(AuditEntry).where(AuditEntry.feature == key).order_by(AuditEntry.id.desc()).limit(200))
    )
    my_votes = {}
    for criterion, votes in history.items():
        counting = latest_votes(reversed([v for v in votes if not v.stale]), lambda v: v.voter)
        if viewer in counting:
            my_votes[criterion] = counting[viewer]
    page_banners = banners(view, gate, timeline)
    try:
        plan: PlanView | None = get_plan(key)
    except NotFound:
        plan = None
    steps = tuple(step_rows(plan, at)) if plan is not None else ()
    stale = stale_reason(config, feature, at)
    asking = {r.id: r.criterion for r in current_revisions(feature.id) if r.evidence}
    evidence = {asking[rev]: points for rev, points in recent(list(asking)).items()}
    return FeaturePage(view, gate, history, timeline, stale, my_votes, page_banners, plan, steps, evidence)
