"""A release plan as the feature page draws it: one row per step, done, current, next or later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gate.domain.durations import format_duration
from gate.domain.words import duration
from gate.services.plans import PlanView


@dataclass(frozen=True)
class StepRow:
    """One step: what it does, where the plan is with it, and a note in words (when taken, time left, blockers)."""

    number: int
    text: str
    status: str  # done, current, next, later
    note: str
    blocked_by: tuple[str, ...] = ()


def step_rows(plan: PlanView, at: datetime) -> list[StepRow]:
    """The plan's steps with the run laid over them."""
    taken_at = {item.step: item.at for item in plan.history if item.action == "step" and item.step is not None}
    rows = []
    for i, step in enumerate(plan.spec.steps):
        text = step.describe() + (f", hold {format_duration(step.hold)}" if step.hold else "")
        when = taken_at.get(i)
        if plan.step is not None and i <= plan.step and plan.state != "idle":
            status = "current" if i == plan.step and plan.state != "done" else "done"
            note = f"taken {when:%Y-%m-%d %H:%M} UTC" if when else "already there at the start"
            if status == "current" and plan.step_at is not None and step.hold:
                left = plan.step_at + step.hold - at
                note += f"; {duration(left.total_seconds())} left of its hold" if left.total_seconds() > 0 else "; held"
            rows.append(StepRow(i + 1, text, status, note))
        elif plan.next is not None and plan.next.step == i:
            ready = not plan.next.blocked_by
            when_text = f"not before {plan.next.not_before:%Y-%m-%d %H:%M} UTC" if plan.next.not_before else ""
            note = "ready: taken at the next check" if ready else when_text
            rows.append(StepRow(i + 1, text, "next", note, plan.next.blocked_by))
        else:
            rows.append(StepRow(i + 1, text, "later", ""))
    return rows
