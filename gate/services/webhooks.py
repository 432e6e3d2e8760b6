"""Outgoing webhooks (contract 7.5): every audited exposure change, incident and plan step, to each configured
URL, through the alert outbox (written in the change's own transaction, retried until delivered).

A plain URL gets the event as JSON, signed `X-Gate-Signature-256: sha256=HMAC-SHA256(secret, body)`; a
URL written `slack+https://…` gets a Slack incoming-webhook body, `{"text": …}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from gate.domain.plans import ACTIONS as PLAN_ACTIONS
from gate.models import GateState, OutboxMessage
from gate.services.context import alerting, session

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
        *PLAN_ACTIONS,
    }
)
SLACK = "slack+"


def queue(*, event: str, feature: str | None, actor: str, at: datetime, detail: Any) -> None:
    """Add one delivery per configured URL to the current transaction, if `event` is one webhooks carry."""
    urls = alerting().webhook_urls
    if event not in EVENTS or not urls:
        return
    s = session()
    version = s.scalar(select(GateState.version).where(GateState.id == 1))
    payload = {"event": event, "feature": feature, "actor": actor, "at": at.isoformat(), "version": version}
    payload["detail"] = detail
    for url in urls:
        body = {"url": url, "payload": payload}
        s.execute(
            insert(OutboxMessage).values(kind="webhook", body=body, created_at=at, next_attempt_at=at, attempts=0)
        )


def request_for(url: str, payload: dict[str, Any], secret: str) -> tuple[str, bytes, dict[str, str]]:
    """Where to POST, the body and its headers: Slack's shape, or the event signed with the secret."""
    if url.startswith(SLACK):
        return url[len(SLACK) :], json.dumps({"text": slack_text(payload)}).encode(), {}
    data = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
    return url, data, {"X-Gate-Signature-256": f"sha256={signature}"}


def slack_text(payload: dict[str, Any]) -> str:
    """One line a channel can read: what happened, to which feature, by whom, at which version."""
    subject = f" {payload['feature']}" if payload.get("feature") else ""
    raw = payload.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = f" → {detail['ring']} {detail.get('percent', '')}%".rstrip() if detail.get("ring") else ""
    said = detail.get("reason") or detail.get("detail")  # an exposure change's reason, a plan entry's words
    reason = f": {said}" if said else ""
    return f"Gate: {payload['event']}{subject}{where} by {payload['actor']} (version {payload['version']}){reason}"
