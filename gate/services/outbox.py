"""The outbox: pages, e-mails and webhooks are rows written with the change that caused them, delivered
in the background (how each is sent: gate/services/delivery.py).

Every `gate serve` worker runs a dispatcher thread, woken when a transaction that queued a message
commits; otherwise it sleeps until the next retry falls due, and at most 5 s (it then finds what a script
queued, the claim of a worker that died, an incident turned overdue). A message is claimed with a short
hold (a conditional UPDATE), so one worker sends it at a time; a failed delivery is retried after 1 s,
doubling to 30 s. Each destination (the pager, the mail relay, each webhook URL) is sent to by its own
thread, one message at a time in id order: a receiver that never answers delays only its own messages,
never a page or another URL's.

Delivery is at least once, honestly: the claim, the send and its outcome cannot be one transaction. An
outcome the database could not take (an outage) is kept in memory and written as soon as it answers, so
a failure is retried on its backoff and a delivery is not repeated; only a worker that dies between the
send and the outcome leaves its claim to expire (SEND_TIMEOUT plus a margin), after which another worker
sends again. Every attempt carries the same body and dedup_key (a webhook the same X-Gate-Delivery), so
PagerDuty merges a repeat and a receiver can drop one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import CursorResult, func, insert, or_, select, update

from gate.models import OutboxMessage
from gate.services.context import Services, now, session
from gate.services.delivery import SEND_TIMEOUT, DeliveryError, post_json, send_email, send_page, webhook_request
from gate.services.outage import OUTAGE, background_failure, is_outage
from gate.services.periodic import Periodic

log = logging.getLogger(__name__)
ALERTS_FAILED = Counter(
    "gate_alerts_failed_total", "Alerts given up as undeliverable (see outbox.last_error)", ["kind"]
)
LEASE = timedelta(seconds=SEND_TIMEOUT + 5)  # a claim outlives any send; it matters only if a worker dies
MAX_DELAY = 30.0
# the longest the dispatcher sleeps with nothing due: within it, it finds what a process with no dispatcher
# of its own queued (a script), the claim of a worker that died, an incident turned overdue
LONGEST_SLEEP = 5.0
WAKE = "gate.outbox.wake"  # in a session's info: it queued a message, so wake the dispatcher at commit


def enqueue(kind: str, body: dict[str, Any], *, at: datetime, incident_id: int | None = None) -> None:
    """Add a message (a page, an e-mail, a webhook) to the current transaction's outbox; the dispatcher
    is woken when that transaction commits."""
    s = session()
    s.execute(
        insert(OutboxMessage).values(
            kind=kind, body=body, incident_id=incident_id, created_at=at, next_attempt_at=at, attempts=0
        )
    )
    s.info[WAKE] = True


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 1, 2, 4, ... up to 30."""
    return float(min(MAX_DELAY, 2 ** max(0, attempts - 1)))


def destination(kind: str, body: dict[str, Any]) -> str:
    """Who receives a message: each webhook URL, the pager, the mail relay are sent to independently."""
    return f"webhook {body.get('url')}" if kind == "webhook" else kind


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
        longest: float = LONGEST_SLEEP,
    ) -> None:
        """`scope`: what each pass runs inside (the app's context binds the app's services); `wake`: set when
        an alert is due now. The background loop looks again when the next message falls due (its retry),
        at least `interval` and at most `longest` later, or at once when woken."""
        self.services = services
        self._scope = scope or services.bound
        self.interval = interval
        self.lease = lease
        self.wake = wake or threading.Event()
        self._stop = threading.Event()
        self._loop = Periodic("gate-outbox", self._background_pass, interval=interval, wake=self.wake, longest=longest)
        self.due_in: float | None = None  # after a pass: seconds until a message it saw falls due (None: none)
        self._outcomes: list[tuple[int, int, dict[str, Any]]] = []  # (id, attempt, values) not yet written
        self._lock = threading.Lock()  # guards the outcomes and the destinations being sent to
        self._busy: set[str] = set()  # destinations a sender thread is working through
        self._senders: list[threading.Thread] = []
        self.before_each: list[Callable[[datetime], None]] = []  # e.g. escalation of overdue incidents

    def start(self) -> None:
        """Start the background thread (gunicorn workers do, after fork)."""
        self._stop.clear()
        self._loop.start()

    def stop(self) -> None:
        """Stop, letting each send under way finish (each is bounded by SEND_TIMEOUT)."""
        self._stop.set()
        self._loop.stop()
        with self._lock:
            senders, self._senders = self._senders, []
        for sender in senders:
            sender.join(SEND_TIMEOUT + 1)

    def run_once(self, limit: int = 50, *, wait: bool = True) -> int:
        """Start a sender for each destination that has messages due and none in flight; with `wait`,
        wait for them and return how many messages they delivered (the background loop does not wait:
        a slow receiver must not hold up the next page)."""
        with self._scope():
            self._write_outcomes()
            at = now()
            for hook in self.before_each:
                hook(at)
            s = session()
            due = s.execute(
                select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.body)
                .where(
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    OutboxMessage.next_attempt_at <= at,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
            self.due_in = self._next_due(at)
            s.commit()
            self.services.sessions.remove()
        queues: dict[str, list[int]] = {}
        for message_id, kind, body in due:
            queues.setdefault(destination(kind, body if isinstance(body, dict) else {}), []).append(message_id)
        delivered: list[int] = []
        senders = []
        for where, ids in queues.items():
            with self._lock:
                if where in self._busy:
                    continue  # its sender is still at work (a slow receiver): it delays only itself
                self._busy.add(where)
            sender = threading.Thread(
                target=self._send_in_turn, args=(where, ids, delivered), name="gate-outbox-sender", daemon=True
            )
            sender.start()
            senders.append(sender)
        with self._lock:
            self._senders = [t for t in self._senders if t.is_alive()] + senders
        if not wait:
            return 0
        for sender in senders:
            sender.join()
        return sum(delivered)

    def _background_pass(self) -> float | None:
        """The loop's pass: start the due deliveries, and say when to look again."""
        self.run_once(wait=False)
        return self.due_in

    def _next_due(self, at: datetime) -> float | None:
        """Seconds until the soonest undelivered message falls due (0 or less: due now, being sent by a
        sender of this worker or another); 0 while outcomes wait for the database."""
        if self._outcomes:
            return 0.0
        soonest = session().scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)
            )
        )
        return None if soonest is None else (soonest - at).total_seconds()

    def _send_in_turn(self, where: str, ids: list[int], delivered: list[int]) -> None:
        """Deliver one destination's due messages, in id order."""
        try:
            with self._scope():
                for message_id in ids:
                    if self._stop.is_set():
                        break
                    delivered.append(self._deliver_one(message_id))
                self.services.sessions.remove()
        except Exception as exc:  # the store may blink; the messages stay due
            background_failure(exc, log, f"outbox delivery to {where}")
        finally:
            with self._lock:
                self._busy.discard(where)
            self.wake.set()  # more may be due for it: look again now

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
            self._send(message_id, kind, body)
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
        with self._lock:
            self._outcomes.append((message_id, attempt, values))
        self._write_outcomes()

    def _write_outcomes(self) -> None:
        s = session()
        while True:
            with self._lock:
                if not self._outcomes:
                    return
                entry = self._outcomes[0]
            message_id, attempt, values = entry
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
            with self._lock:
                if entry in self._outcomes:  # another sender may have written it meanwhile: the same update
                    self._outcomes.remove(entry)

    def _send(self, message_id: int, kind: str, body: dict[str, Any]) -> None:
        alerting = self.services.alerting
        if kind == "webhook":
            url, data, headers = webhook_request(
                body["url"],
                body["payload"],
                alerting.webhook_secret,
                delivery=str(message_id),
                timestamp=int(now().timestamp()),
            )
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
