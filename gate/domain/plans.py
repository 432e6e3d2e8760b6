"""Release plans: the steps a feature takes by itself, and when the next one may be taken.

A plan is parsed once from the product file into a frozen `PlanSpec`. `next_step` decides, from explicit
inputs only (the gate facts, the step taken last and when, a guard reading, the time), whether the next
step may be taken now and, if not, everything that blocks it, in words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gate.domain.durations import format_duration, parse_duration
from gate.domain.errors import Problems
from gate.domain.exposure import FULL, format_percent, parse_percent, percent_number
from gate.domain.gate import GateFacts, evaluate_gate, killed_check, soak_ends
from gate.domain.rings import Ring, RingsConfig
from gate.domain.windows import Window, parse_window
from gate.domain.words import duration


class PlanState(StrEnum):
    """Where a plan's run stands."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    DONE = "done"


class PlanAction(StrEnum):
    """What happens to a plan: each an audit entry of the feature (its history, logged, sent to webhooks)."""

    START = "plan.start"
    STEP = "plan.step"
    PAUSE = "plan.pause"
    RESUME = "plan.resume"
    CANCEL = "plan.cancel"
    HALT = "plan.halt"
    CHANGE = "plan.change"


STATES = tuple(PlanState)
ACTIONS = tuple(PlanAction)
ON_INCIDENT = ("pause", "rollback", "kill")
ON_BREACH = ("pause", "rollback")
MAX_STEPS = 50
STOPPING_SEVERITY = 2  # an incident of severity 0 to 2 on the feature applies the plan's on_incident
MAX_QUERY = 2000
_PLAN_KEYS = {"steps", "on_incident", "windows", "guard"}
_STEP_KEYS = {"ring", "percent", "hold"}
_GUARD_KEYS = {"query", "max", "on_breach"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # PromQL may span lines; nothing else unprintable


@dataclass(frozen=True)
class Step:
    """Expose the feature to `percent_bp` of `ring`, then stay at least `hold` before the next step."""

    ring: str
    percent_bp: int = FULL
    hold: timedelta = timedelta(0)

    def describe(self) -> str:
        """'preview at 10%'."""
        return f"{self.ring} at {format_percent(self.percent_bp)}"

    def to_json(self) -> dict[str, Any]:
        return {"ring": self.ring, "percent": percent_number(self.percent_bp), "hold": format_duration(self.hold)}


@dataclass(frozen=True)
class Guard:
    """A Prometheus query that must stay at or below `max` while a step holds."""

    query: str
    max: float
    on_breach: str = "rollback"

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "max": self.max, "on_breach": self.on_breach}


@dataclass(frozen=True)
class PlanSpec:
    """A feature's release plan as its product file declares it."""

    steps: tuple[Step, ...]
    on_incident: str = "pause"
    window: Window | None = None
    guard: Guard | None = None

    def to_json(self) -> dict[str, Any]:
        """The plan in the product file's own shape (what is stored, compared and shown)."""
        return {
            "steps": [s.to_json() for s in self.steps],
            "on_incident": self.on_incident,
            "windows": self.window.to_json() if self.window is not None else None,
            "guard": self.guard.to_json() if self.guard is not None else None,
        }


def parse_plan(raw: Any, rings: RingsConfig, problems: Problems, path: str = "plan") -> PlanSpec | None:
    """Read a `plan:` block; every problem is recorded with its path and the plan is None."""
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping with steps (and optionally on_incident, windows, guard)")
        return None
    before = len(problems.errors)
    problems.unknown_keys(raw, _PLAN_KEYS, path)
    steps = _steps(raw.get("steps"), rings, f"{path}.steps", problems)
    on_incident = raw.get("on_incident", "pause")
    if on_incident not in ON_INCIDENT:
        problems.add(f"{path}.on_incident", f"must be one of {', '.join(ON_INCIDENT)}")
    window = parse_window(raw["windows"], f"{path}.windows", problems) if raw.get("windows") is not None else None
    guard = _guard(raw["guard"], f"{path}.guard", problems) if raw.get("guard") is not None else None
    if len(problems.errors) != before:
        return None
    return PlanSpec(steps=steps, on_incident=str(on_incident), window=window, guard=guard)


def plan_from_json(data: dict[str, Any], rings: RingsConfig) -> PlanSpec:
    """A stored plan back as a spec (it was valid when stored; a ring removed since fails loudly)."""
    problems = Problems()
    spec = parse_plan(data, rings, problems)
    problems.raise_if_any()
    assert spec is not None
    return spec


def _steps(raw: Any, rings: RingsConfig, path: str, problems: Problems) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(path, "must be a non-empty list of steps like {ring: preview, percent: 10, hold: 1h}")
        return ()
    if len(raw) > MAX_STEPS:
        problems.add(path, f"must hold at most {MAX_STEPS} steps, not {len(raw)}")
        return ()
    steps: list[Step] = []
    last: tuple[int, int] | None = None
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.add(where, "must be a mapping with ring (and optionally percent, hold)")
            continue
        before = len(problems.errors)
        problems.unknown_keys(item, _STEP_KEYS, where)
        ring = item.get("ring")
        index = rings.index(ring) if isinstance(ring, str) else None
        if index is None:
            problems.add(f"{where}.ring", f"must be one of the rings: {', '.join(rings.names)}")
        try:
            percent = parse_percent(item.get("percent", 100))
        except ValueError as exc:
            problems.add(f"{where}.percent", str(exc))
            percent = FULL
        hold = timedelta(0)
        try:
            hold = parse_duration(item.get("hold", "0s"))
        except ValueError as exc:
            problems.add(f"{where}.hold", str(exc))
        if len(problems.errors) != before:
            continue
        assert index is not None  # a ring not among the rings was recorded above
        if last is not None and (index, percent) <= last:
            problems.add(where, "steps must go in exposure order: each a later ring, or a higher percent of the same")
        last = (index, percent)
        steps.append(Step(ring=str(ring), percent_bp=percent, hold=hold))
    return tuple(steps)


def _guard(raw: Any, path: str, problems: Problems) -> Guard | None:
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping with query and max (and optionally on_breach)")
        return None
    before = len(problems.errors)
    problems.unknown_keys(raw, _GUARD_KEYS, path)
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        problems.add(f"{path}.query", "is required: a PromQL query whose value must stay at or below max")
    elif len(query) > MAX_QUERY or _CONTROL.search(query):
        problems.add(f"{path}.query", f"must be at most {MAX_QUERY} characters, with no control characters")
    limit: Any = raw.get("max")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
        problems.add(f"{path}.max", "is required: a number")
    on_breach = raw.get("on_breach", "rollback")
    if on_breach not in ON_BREACH:
        problems.add(f"{path}.on_breach", f"must be one of {', '.join(ON_BREACH)}")
    if len(problems.errors) != before:
        return None
    return Guard(query=str(query), max=float(limit), on_breach=str(on_breach))


def stops_plan(severity: int) -> bool:
    """Whether an incident this severe applies a running plan's `on_incident`."""
    return severity <= STOPPING_SEVERITY


def position(spec: PlanSpec, rings: RingsConfig, ring: str | None, percent_bp: int) -> int | None:
    """The last step at or below an exposure: where a plan started (or resumed) from there stands."""
    index = rings.index(ring)
    if index is None:
        return None
    taken = None
    for i, step in enumerate(spec.steps):
        if (rings.index(step.ring), step.percent_bp) <= (index, percent_bp):
            taken = i
    return taken


@dataclass(frozen=True)
class Reading:
    """A guard's value, or why there is none (a failed or empty query is never read as zero)."""

    value: float | None = None
    error: str | None = None

    def breaches(self, guard: Guard) -> bool:
        """The value is above the guard's maximum."""
        return self.value is not None and self.value > guard.max


@dataclass(frozen=True)
class NextStep:
    """The next step of a running plan: when it may start and everything that blocks it now."""

    step: int
    not_before: datetime | None
    blocked_by: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.blocked_by


def next_step(
    spec: PlanSpec,
    rings: RingsConfig,
    facts: GateFacts,
    *,
    step: int | None,
    step_at: datetime | None,
    reading: Reading | None,
    now: datetime,
) -> NextStep | None:
    """Whether the step after `step` (taken at `step_at`) may be taken at `now`; None when none is left."""
    index = 0 if step is None else step + 1
    if index >= len(spec.steps):
        return None
    target = spec.steps[index]
    blocked: list[str] = []
    not_before = now
    if step is not None and step_at is not None:
        held = spec.steps[step]
        ends = step_at + held.hold
        if now < ends:
            left = duration((ends - now).total_seconds())
            blocked.append(f"hold: {held.describe()} for {duration(held.hold.total_seconds())}, {left} left")
            not_before = ends
    ring = rings.get(target.ring)
    assert ring is not None  # the plan was parsed against these rings
    blocked.extend(_gate_words(rings, ring, facts, now))
    soaked = soak_ends(rings, ring, facts.exposure)  # None inside one ring: there is no soak to serve there
    not_before = max(not_before, soaked) if soaked is not None else not_before
    if spec.window is not None:
        if not spec.window.contains(now):
            opens = spec.window.next_opening(now)
            blocked.append(f"window: outside {spec.window.describe()}; it opens {spec.window.local(opens)}")
        not_before = spec.window.next_opening(not_before)
    if spec.guard is not None:
        blocked.extend(_guard_words(spec.guard, reading))
    return NextStep(step=index, not_before=not_before, blocked_by=tuple(blocked))


def _gate_words(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> list[str]:
    """The gate of the step's ring, when it enters one; inside a ring only the order matters (not killed)."""
    exposure = facts.exposure
    if exposure.ring == ring.name:
        return [f"order: {killed_check(exposure.ring).detail}"] if exposure.killed else []
    result = evaluate_gate(rings, ring, facts, now=now)
    return [f"{c.name}: {c.detail}" for c in result.failed]


def _guard_words(guard: Guard, reading: Reading | None) -> list[str]:
    if reading is None or (reading.value is None and reading.error is None):
        return ["guard: not read yet"]
    if reading.value is None:
        return [f"guard: {reading.error}; no step is taken without a reading"]
    if reading.breaches(guard):
        return [f"guard: {reading.value:g} is above the maximum {guard.max:g}"]
    return []
