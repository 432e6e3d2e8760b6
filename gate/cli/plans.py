"""Release plans against a server: start, pause, resume, cancel, show."""

from __future__ import annotations

from typing import Any

import click

from gate.cli.client import Remote, needs_server, quoted
from gate.cli.group import main

PLAN_HELP = {
    "start": "Start a feature's release plan from where it stands; its steps act as plan:<you>.",
    "pause": "Pause a running plan: no more steps until resumed.",
    "resume": "Resume a paused or halted plan from where the feature stands now.",
    "cancel": "Cancel the plan's run; the exposure stays where it is.",
    "show": "Show the plan: its steps, its state, the next step and everything that blocks it, its history.",
}


@main.group("plan")
def plan() -> None:
    """Release plans: start, pause, resume, cancel, show (against a server)."""


def _plan_command(action: str) -> None:
    def command(key: str, remote: Remote) -> None:
        path = f"/features/{quoted(key)}/plan"
        answer = remote.call("GET", path) if action == "show" else remote.call("POST", f"{path}/{action}", {})
        if not remote.json:
            print_plan(answer)

    command.__doc__ = PLAN_HELP[action]
    command.__name__ = f"plan_{action}"
    plan.command(action)(click.argument("key")(needs_server(command)))


for _action in PLAN_HELP:
    _plan_command(_action)


def plan_headline(answer: dict[str, Any]) -> str:
    """'plan running, step 2 of 5', with why it is paused or halted."""
    steps, taken = answer["steps"], answer["step"]
    where = f"step {taken + 1} of {len(steps)}" if taken is not None else f"no step of {len(steps)} taken"
    return f"plan {answer['state']}, {where}" + (f" ({answer['reason']})" if answer["reason"] else "")


def print_plan(answer: dict[str, Any]) -> None:
    """A plan in words: one line per step, the next step and what blocks it, the latest history."""
    steps, taken = answer["steps"], answer["step"]
    upcoming = answer["next"]
    click.echo(f"{answer['feature']}: {plan_headline(answer)}")
    for i, step in enumerate(steps):
        taken_already = taken is not None and i <= taken
        mark = "x" if taken_already else (">" if upcoming and upcoming["step"] == i else " ")
        hold = f", hold {step['hold']}" if step["hold"] != "0s" else ""
        click.echo(f"  [{mark}] {i + 1}. {step['ring']} at {step['percent']:g}%{hold}")
    if upcoming is not None:
        when = f", not before {_utc(upcoming['not_before'])}" if upcoming["not_before"] else ""
        blocked = upcoming["blocked_by"]
        click.echo(f"next: step {upcoming['step'] + 1}{when}" + ("; blocked by:" if blocked else "; ready"))
        for line in blocked:
            click.echo(f"  - {line}")
    for item in answer["history"][-5:]:
        click.echo(f"  {_utc(item['at'])}  {item['action']}  {item['actor']}: {item['detail']}")


def _utc(stamp: str) -> str:
    """An API timestamp (always UTC) to the second: '2026-11-30 21:50:25 UTC'."""
    return stamp[:19].replace("T", " ") + " UTC"
