"""Sending one outbox message to its receiver: a page (PagerDuty Events API v2), an e-mail, a webhook.

Every HTTP send goes through `gate.httpout`: no redirect followed (a 3xx is a failed attempt, retried on
the backoff, and its `Location` never receives the signed body), one deadline for the whole answer.

A webhook to a plain URL carries the event as JSON with contract 7.5's `X-Gate-Signature-256:
sha256=HMAC(secret, body)`, and, as GitHub and Stripe do, `X-Gate-Delivery` (the same on every retry of
one delivery, so a receiver tells a retry from a new event) and `X-Gate-Signature: t=TIMESTAMP,
v1=HMAC(secret, "TIMESTAMP.DELIVERY.BODY")` (so a receiver refuses a replay older than it allows). Without
GATE_WEBHOOK_SECRET it is sent unsigned, and `gate serve` says so at start. A `slack+https://…` URL gets a
Slack incoming-webhook body whose text has `&`, `<` and `>` escaped as Slack's format asks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from gate import httpout
from gate.config import SLACK

SEND_TIMEOUT = 10.0


class DeliveryError(Exception):
    """The receiver did not take the message; it will be retried."""


def post_json(url: str, data: bytes, headers: dict[str, str], timeout: float, who: str) -> None:
    """POST a JSON body; any answer but 2xx (a redirect included), or none, is a DeliveryError."""
    try:
        answer = httpout.request(
            "POST", url, body=data, headers={"Content-Type": "application/json", **headers}, timeout=timeout
        )
    except httpout.HttpError as exc:
        raise DeliveryError(f"{who}: {exc}") from exc
    if answer.redirect is not None:
        raise DeliveryError(f"{who} answered {answer.status}, a redirect to {answer.redirect}: not followed")
    if not 200 <= answer.status < 300:
        raise DeliveryError(f"{who} answered {answer.status}")


def send_page(url: str, body: dict[str, Any], timeout: float = SEND_TIMEOUT) -> None:
    """POST a PagerDuty Events API v2 event."""
    post_json(url, json.dumps(body).encode(), {}, timeout, "pager")


def send_email(
    smtp_url: str, sender: str, recipient: str, subject: str, text: str, timeout: float = SEND_TIMEOUT
) -> None:
    """Send one e-mail through smtp:// or smtps:// (user and password optional)."""
    parts = urlsplit(smtp_url)
    message = EmailMessage()
    # a header is one line: line breaks a reporter typed into a title must not make the alert undeliverable
    message["From"], message["To"], message["Subject"] = sender, recipient, " ".join(subject.split())
    message.set_content(text)
    host = parts.hostname or "localhost"
    try:
        if parts.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, parts.port or 465, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
        with smtp:
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"smtp: {exc}") from exc


def webhook_request(
    url: str, payload: dict[str, Any], secret: str, *, delivery: str, timestamp: int
) -> tuple[str, bytes, dict[str, str]]:
    """Where to POST, the body and its headers: Slack's shape, or the event, signed when there is a secret."""
    if url.startswith(SLACK):
        return url[len(SLACK) :], json.dumps({"text": slack_escape(slack_text(payload))}).encode(), {}
    data = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"X-Gate-Delivery": delivery, "X-Gate-Timestamp": str(timestamp)}
    if secret:
        key = secret.encode()
        headers["X-Gate-Signature-256"] = "sha256=" + hmac.new(key, data, hashlib.sha256).hexdigest()
        signed = f"{timestamp}.{delivery}.".encode() + data
        headers["X-Gate-Signature"] = f"t={timestamp},v1={hmac.new(key, signed, hashlib.sha256).hexdigest()}"
    return url, data, headers


def slack_text(payload: dict[str, Any]) -> str:
    """One line a channel can read: what happened, to which feature, by whom, at which version."""
    subject = f" {payload['feature']}" if payload.get("feature") else ""
    raw = payload.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    where = f" → {detail['ring']} {detail.get('percent', '')}%".rstrip() if detail.get("ring") else ""
    said = detail.get("reason") or detail.get("detail")  # an exposure change's reason, a plan entry's words
    reason = f": {said}" if said else ""
    return f"Gate: {payload['event']}{subject}{where} by {payload['actor']} (version {payload['version']}){reason}"


def slack_escape(text: str) -> str:
    """What users typed stays text in Slack: no `<!channel>` ping, no `<https://…|disguised>` link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
