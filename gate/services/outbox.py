"""The alert outbox: alerts are rows written with the change that caused them, delivered in the background.

Every `gate serve` worker runs a dispatcher thread. A message is claimed with a short hold (a conditional
UPDATE), so one worker sends it at a time; a failed delivery is retried after 1 s, doubling to 30 s.
Delivery is at least once, honestly: the claim, the send and its outcome cannot be one transaction. An
outcome the database could not take (an outage) is kept in memory and written as soon as it answers, so
a failure is retried on its backoff and a delivery is not repeated; only a worker that dies between the
send and the outcome leaves its claim to expire (SEND_TIMEOUT plus a margin), after which another worker
sends again. Every attempt carries the same body and dedup_key, so PagerDuty merges a repeat.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from prometheus_client import Counter
from sqlalchemy import CursorResult, insert, or_, select, update

from gate.domain.incidents import Alert
from gate.models import OutboxMessage
from gate.services import webhooks
from gate.services.context import Services, now, session
from gate.services.outage import OUTAGE, background_failure, is_outage

log = logging.getLogger(__name__)
ALERTS_FAILED = Counter(
    "gate_alerts_failed_total", "Alerts given up as undeliverable (see outbox.last_error)", ["kind"]
)
SEND_TIMEOUT = 10.0
LEASE = timedelta(seconds=SEND_TIMEOUT + 5)  # a claim outlives any send; it matters only if a worker dies
MAX_DELAY = 30.0


class DeliveryError(Exception):
    """The receiver did not take the alert; it will be retried."""


def enqueue(alert: Alert, *, incident_id: int | None, at: datetime) -> None:
    """Add an alert to the current transaction's outbox."""
    session().execute(
        insert(OutboxMessage).values(
            kind=alert.kind, body=alert.body, incident_id=incident_id, created_at=at, next_attempt_at=at, attempts=0
        )
    )


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 1, 2, 4, ... up to 30."""
    return float(min(MAX_DELAY, 2 ** max(0, attempts - 1)))


def send_page(url: str, body: dict[str, Any], timeout: float = 10.0) -> None:
    """POST a PagerDuty Events API v2 event."""
    post_json(url, json.dumps(body).encode(), {}, timeout, "pager")


def post_json(url: str, data: bytes, headers: dict[str, str], timeout: float, who: str) -> None:
    """POST a JSON body; any answer but 2xx, or none, is a DeliveryError (retried)."""
    request = urllib.request.Request(  # noqa: S310 - the operator's configured pager or webhook URL
        url, data=data, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:  # pragma: no cover - urllib raises on most non-2xx
                raise DeliveryError(f"{who} answered {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{who}: {exc}") from exc


def send_email(smtp_url: str, sender: str, recipient: str, subject: str, text: str, timeout: float = 10.0) -> None:
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


class Dispatcher:
    """Delivers due outbox messages; `run_once` is the unit the background thread repeats."""

    def __init__(
        self,
        services: Services,
        *,
        scope: Callable[[], AbstractContextManager[Any]] | None = None,
        wake: threading.Event | None = None,
        lease: timedelta = LEASE,
        interval: float = 0.5,
    ) -> None:
        """`scope`: what each pass runs inside (the app's context binds the app's services); `wake`: set when
        an alert is due now."""
        self.services = services
        self._scope = scope or services.bound
        self.interval = interval
        self.lease = lease
        self.wake = wake or threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcomes: list[tuple[int, int, dict[str, Any]]] = []  # (id, attempt, values) not yet written
        self.before_each: list[Callable[[datetime], None]] = []  # e.g. escalation of overdue incidents

    def start(self) -> None:
        """Start the background thread (gunicorn workers do, after fork)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gate-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the store may blink; keep the thread alive
                background_failure(exc, log, "outbox pass")
            self.wake.wait(self.interval)
            self.wake.clear()

    def run_once(self, limit: int = 50) -> int:
        """Deliver what is due now; return how many messages were delivered."""
        delivered = 0
        with self._scope():
            self._write_outcomes()
            at = now()
            for hook in self.before_each:
                hook(at)
            s = session()
            due = s.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    OutboxMessage.next_attempt_at <= at,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
            s.commit()
            for message_id in due:
                delivered += self._deliver_one(message_id)
            self.services.sessions.remove()
        return delivered

    def _deliver_one(self, message_id: int) -> int:
        s = session()
        at = now()
        claimed = cast(
            CursorResult[Any],
            s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < at),
                )
                .values(locked_until=at + self.lease, attempts=OutboxMessage.attempts + 1)
            ),
        )
        s.commit()
        if claimed.rowcount != 1:
            return 0  # another worker has it
        message = s.get(OutboxMessage, message_id, populate_existing=True)
        assert message is not None
        kind, body, attempt = message.kind, message.body, message.attempts
        s.commit()
        try:
            self._send(kind, body)
        except DeliveryError as exc:
            delay = retry_delay(attempt)
            retry_at = now() + timedelta(seconds=delay)
            self._record(
                message_id, attempt, {"locked_until": None, "last_error": str(exc)[:2000], "next_attempt_at": retry_at}
            )
            log.warning("alert %s not delivered (attempt %s, next in %.0fs): %s", message_id, attempt, delay, exc)
            return 0
        except Exception as exc:  # no retry can send this message: say so loudly, once, and stop trying
            self._record(
                message_id,
                attempt,
                {"locked_until": None, "failed_at": now(), "last_error": f"{type(exc).__name__}: {exc}"[:2000]},
            )
            ALERTS_FAILED.labels(kind).inc()
            log.error("alert %s (%s) can never be delivered, giving up: %r", message_id, kind, exc)
            return 0
        self._record(message_id, attempt, {"delivered_at": now(), "locked_until": None})
        log.info("%s %s delivered (attempt %s)", kind, message_id, attempt)
        return 1

    def _record(self, message_id: int, attempt: int, values: dict[str, Any]) -> None:
        """Write an attempt's outcome; during an outage keep it, to be written when the database returns."""
        self._outcomes.append((message_id, attempt, values))
        self._write_outcomes()

    def _write_outcomes(self) -> None:
        s = session()
        while self._outcomes:
            message_id, attempt, values = self._outcomes[0]
            try:
                # only while no other worker has claimed it since (its claim counts another attempt)
                s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, OutboxMessage.attempts == attempt)
                    .values(**values)
                )
                s.commit()
            except Exception as exc:
                s.rollback()
                if not is_outage(exc):
                    raise
                OUTAGE.failed(exc)
                return
            self._outcomes.pop(0)

    def _send(self, kind: str, body: dict[str, Any]) -> None:
        alerting = self.services.alerting
        if kind == "webhook":
            url, data, headers = webhooks.request_for(body["url"], body["payload"], alerting.webhook_secret)
            post_json(url, data, headers, SEND_TIMEOUT, "webhook")
        elif kind == "page":
            send_page(str(alerting.pager_url), body, timeout=SEND_TIMEOUT)
        else:
            send_email(
                str(alerting.smtp_url),
                alerting.alert_from,
                str(alerting.alert_email),
                body["subject"],
                body["text"],
                timeout=SEND_TIMEOUT,
            )
