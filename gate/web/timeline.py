"""The feature timeline in words: each audit entry as a sentence, not as JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gate.domain.exposure import format_percent, parse_percent
from gate.domain.plans import ACTIONS as PLAN_ACTIONS
from gate.domain.words import counted


def exposure(state: Mapping[str, Any] | None) -> str:
    """'internal at 40%', 'off', 'internal at 100% (killed)'."""
    if not state or not state.get("ring"):
        where = "off"
    else:
        try:
            percent = format_percent(parse_percent(state.get("percent")))
        except ValueError:
            percent = "?"
        where = f"{state['ring']} at {percent}"
    return where + (" (killed)" if state and state.get("killed") else "")


def _move(verb: str) -> Callable[[Any], str]:
    return lambda e: f"{verb}: {exposure(e.before)} → {exposure(e.after)}" + _reason(e.after)


def _reason(after: Any) -> str:
    reason = after.get("reason") if isinstance(after, Mapping) else None
    return f" ({reason})" if reason else ""


def _vote(e: Any) -> str:
    a = e.after or {}
    criterion = e.target.split("/", 1)[-1]
    comment = f": “{a['comment']}”" if a.get("comment") else ""
    return f"voted {a.get('vote', '?')} on {criterion} (revision {a.get('revision', '?')}){comment}"


def _criteria(e: Any) -> str:
    items = (e.after or {}).get("criteria") or []
    named = ", ".join(f"{c.get('id')} before {c.get('ring')}" for c in items if isinstance(c, Mapping))
    return f"applied the product file: {counted(len(items), 'criterion', 'criteria')}" + (
        f" ({named})" if named else ""
    )


def _incident(e: Any) -> str:
    a = e.after or {}
    return f"incident #{a.get('id', '?')} opened, severity {a.get('severity', '?')}: {a.get('title', '')}"


_WORDS: dict[str, Callable[[Any], str]] = {
    "promote": _move("promoted"),
    "rollout": _move("rollout changed"),
    "rollback": _move("rolled back"),
    "kill": _move("killed"),
    "revive": _move("revived"),
    "override": lambda e: f"overrode the gate for {(e.after or {}).get('ring', '?')}" + _reason(e.after),
    "vote": _vote,
    "criteria.apply": _criteria,
    "feature.archive": lambda e: "archived the feature",
    "incident.open": _incident,
    "bug.open": lambda e: f"bug #{(e.after or {}).get('id', '?')} opened: {(e.after or {}).get('title', '')}",
    "change.report": lambda e: f"recorded change {(e.after or {}).get('sha', '?')}",
    "evidence.report": lambda e: (
        f"{'✓' if e.after['passed'] else '✗'} evidence for {e.target.rsplit('/', 1)[-1]} from build "
        f"{e.after['build']}: {e.after['detail']}"
    ),
    "token.create": lambda e: f"created token {(e.after or {}).get('name', '?')}" + _role(e.after),
    "token.revoke": lambda e: f"revoked token {(e.before or {}).get('name', '?')}" + _role(e.before),
    "incident.ack": lambda e: f"acknowledged {e.target.replace('incident:', 'incident #')}",
    "incident.resolve": lambda e: f"resolved {e.target.replace('incident:', 'incident #')}",
    "rca.open": lambda e: (
        f"added RCA item “{(e.after or {}).get('title', '')}” to incident #{(e.after or {}).get('incident', '?')}"
    ),
    "rca.close": lambda e: f"closed RCA item #{e.target.split(':', 1)[-1]}",
    **{action: (lambda e: f"plan: {(e.after or {})['detail']}") for action in PLAN_ACTIONS},
}


def _role(after: Any) -> str:
    role = after.get("role") if isinstance(after, Mapping) else None
    return f" (role {role})" if role else ""


def in_words(entry: Any) -> str:
    """One audit entry as people say it; an action without words of its own is shown by name and target."""
    words = _WORDS.get(entry.action)
    if words is None:
        return f"{entry.action.replace('.', ' ')} {entry.target}"
    try:
        return words(entry)
    except (AttributeError, TypeError, KeyError):  # an entry written by an older release in another shape
        return f"{entry.action.replace('.', ' ')} {entry.target}"
