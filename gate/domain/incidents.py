"""Incident policy: response deadlines and who is told, by severity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SEVERITIES = (0, 1, 2, 3)
STATUSES = ("open", "acknowledged", "resolved")
LISTED_STATUSES = ("open", "resolved")  # "open" lists acknowledged incidents too: everything not resolved
RESPONSE_TIME = {
    0: timedelta(minutes=30),  # outage, data loss, DDoS
    1: timedelta(hours=1),  # a major feature down
    2: timedelta(hours=24),  # degraded, with a workaround
    3: timedelta(hours=48),  # user-reported
}
MEANING = {
    0: "outage, data loss, DDoS",
    1: "a major feature down",
    2: "degraded, with a workaround",
    3: "user-reported",
}
PAGED = (0, 1)
EMAILED = (2,)
RESTORE_COUNTS_AT_OR_BELOW = 2  # incidents of severity 0..2 count for time to restore and change failure


def status(acknowledged_at: datetime | None, resolved_at: datetime | None) -> str:
    """'resolved', 'acknowledged' or 'open'."""
    if resolved_at is not None:
        return "resolved"
    return "acknowledged" if acknowledged_at is not None else "open"


def response_deadline(severity: int, opened_at: datetime) -> datetime:
    """When the incident must be acknowledged."""
    return opened_at + RESPONSE_TIME[severity]


def notification(severity: int) -> str | None:
    """'page' for severity 0 and 1, 'email' for 2, None for 3."""
    if severity in PAGED:
        return "page"
    if severity in EMAILED:
        return "email"
    return None


def auto_kills(severity: int, threshold: int | None) -> bool:
    """Whether an incident this severe kills its feature's flag at once (0 is the most severe)."""
    return threshold is not None and severity <= threshold


AUTO_KILL = "auto-kill: "  # the start of the reason an incident's kill records; pages find it by this


def auto_kill_reason(incident_id: int, severity: int) -> str:
    """The reason an auto-kill records: 'auto-kill: incident #12 (severity 1)'."""
    return f"{AUTO_KILL}incident #{incident_id} (severity {severity})"


def deadline_met(
    deadline: datetime, acknowledged: datetime | None, resolved: datetime | None, now: datetime
) -> bool | None:
    """True if acknowledged (or resolved) in time, False if not, None while it still can be."""
    answered = min((t for t in (acknowledged, resolved) if t is not None), default=None)
    if answered is not None:
        return answered <= deadline
    return False if now > deadline else None


@dataclass(frozen=True)
class Alert:
    """What the outbox delivers: a page (PagerDuty Events API v2 body) or an e-mail."""

    kind: str
    body: dict[str, Any]


def page(
    *, routing_key: str, action: str, dedup_key: str, summary: str, severity: int, source: str, details: dict[str, Any]
) -> Alert:
    """A PagerDuty Events API v2 event: trigger, acknowledge or resolve."""
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {
            "summary": summary[:1024],
            "severity": "critical" if severity == 0 else "error",
            "source": source,
            "component": details.get("feature") or "gate",
            "custom_details": details,
        }
    return Alert("page", body)


def email(*, subject: str, text: str) -> Alert:
    """An e-mail to the alert address."""
    return Alert("email", {"subject": subject, "text": text})
