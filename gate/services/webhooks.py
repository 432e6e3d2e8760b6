"""Outgoing webhooks (contract 7.5): every audited exposure change, incident and plan step, to each configured
URL, through the outbox (written in the change's own transaction, retried until delivered). How a delivery
is signed, or shaped for Slack, is gate/services/delivery.py's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from gate.domain.plans import ACTIONS as PLAN_ACTIONS
from gate.models import SharedRow
from gate.services.context import alerting, session
from gate.services.outbox import enqueue

EVENTS = frozenset(
    {
        "promote",
        "override",
        "rollout",
        "rollback",
        "kill",
        "revive",
        "incident.open",
        "incident.ack",
        "incident.resolve",
        "component.late",  # once per component, whichever host sees it first (services/components.py)
        *PLAN_ACTIONS,
    }
)


# events their service sends when they matter, not at every audit entry of that action
ON_CHANGE = frozenset({"evidence.report"})  # when a report changes its criterion's pass state


def queue(*, event: str, feature: str | None, actor: str, at: datetime, detail: Any) -> None:
    """Add one delivery per configured URL to the current transaction, if `event` is one webhooks carry."""
    urls = alerting().webhook_urls
    if (event not in EVENTS and event not in ON_CHANGE) or not urls:
        return
    s = session()
    version = s.scalar(select(SharedRow.version).where(SharedRow.id == 1))
    payload = {"event": event, "feature": feature, "actor": actor, "at": at.isoformat(), "version": version}
    payload["detail"] = detail
    for url in urls:
        enqueue("webhook", {"url": url, "payload": payload}, at=at)
