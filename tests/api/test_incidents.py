"""Incidents: deadlines, dedup, auto-kill, alerts through the outbox to a real pager and SMTP server, RCA, bugs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from gate.runtime import runtime
from gate.services.outbox import Dispatcher, retry_delay
from tests.receivers import Mailbox, Pager
from tests.support import Api, Clock, FeatureBuilder


@pytest.fixture
def app_config(pager: Pager, mailbox: Mailbox) -> dict[str, Any]:
    return {
        "PAGER_URL": pager.url,
        "PAGER_ROUTING_KEY": "R0UT1NG",
        "SMTP_URL": mailbox.url,
        "ALERT_FROM": "gate@example.test",
        "ALERT_EMAIL": "oncall@example.test",
    }


def deliver(app: Flask) -> int:
    dispatcher: Dispatcher = runtime(app).outbox
    return dispatcher.run_once()


def report(api: Api, **body: Any) -> Any:
    return api.as_("reporter").post("/api/v1/incidents", json={"title": "checkout errors", **body})


def in_ga(api: Api, clock: Clock, key: str = "checkout") -> None:
    api.apply(FeatureBuilder(key))
    for ring in ("internal", "preview", "ga"):
        assert (
            api.post(f"/api/v1/features/{key}/promote", json={"ring": ring, "override_reason": "t"}).status_code == 200
        )
        clock.advance(hours=1)


@pytest.mark.parametrize(
    ("severity", "minutes", "notified"), [(0, 30, "page"), (1, 60, "page"), (2, 1440, "email"), (3, 2880, "none")]
)
def test_a_reported_incident_has_its_deadline_stored_at_opening(
    api: Api, clock: Clock, severity: int, minutes: int, notified: str
) -> None:
    r = report(api, severity=severity)
    assert r.status_code == 201
    body = r.json
    assert body["status"] == "open" and body["reporter"] == "reporter" and body["notified"] == notified
    from datetime import timedelta

    assert body["deadline"] == (clock.now + timedelta(minutes=minutes)).isoformat()
    assert body["deadline_met"] is None
    clock.advance(minutes=minutes + 1)
    assert api.get(f"/api/v1/incidents/{body['id']}").json["deadline_met"] is False


def test_acknowledging_in_time_meets_the_deadline_and_resolving_restores(api: Api, clock: Clock) -> None:
    incident = report(api, severity=1).json
    clock.advance(minutes=10)
    acked = api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/ack")
    assert (acked.status_code, acked.json["status"], acked.json["deadline_met"]) == (200, "acknowledged", True)
    assert acked.json["response_minutes"] == 10
    assert api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/ack", json={}).status_code == 409
    clock.advance(minutes=50)
    resolved = api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve", json={})
    assert (resolved.json["status"], resolved.json["resolution_minutes"], resolved.json["restore_minutes"]) == (
        "resolved",
        60,
        60,
    )
    assert api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve").status_code == 409
    assert api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/ack").status_code == 409


def test_a_monitor_that_retries_neither_opens_nor_pages_twice(api: Api, app: Flask, pager: Pager) -> None:
    first = report(api, severity=0, dedup_key="cpu-high")
    again = report(api, severity=0, dedup_key="cpu-high", title="other words")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json["title"] == "checkout errors"
    assert deliver(app) == 1
    assert len(pager.wait(1)) == 1
    api.as_("reporter").post(f"/api/v1/incidents/{first.json['id']}/resolve")
    assert report(api, severity=0, dedup_key="cpu-high").status_code == 201  # the old one is resolved


def test_severe_incidents_page_in_the_pagerduty_events_v2_shape(
    api: Api, app: Flask, pager: Pager, clock: Clock
) -> None:
    in_ga(api, clock)
    incident = report(api, severity=1, feature="checkout", ring="ga", description="500s on pay").json
    api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/ack")
    api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve")
    assert deliver(app) == 3
    trigger, ack, resolve = pager.wait(3)
    dedup = f"gate-incident-{incident['id']}"
    assert (
        trigger["routing_key"] == "R0UT1NG" and trigger["event_action"] == "trigger" and trigger["dedup_key"] == dedup
    )
    payload = trigger["payload"]
    assert payload["severity"] == "error" and payload["source"] == "gate"
    assert payload["summary"] == f"[SEV1] #{incident['id']} checkout errors on checkout in ga"
    assert payload["custom_details"]["feature"] == "checkout"
    assert (ack["event_action"], ack["dedup_key"], resolve["event_action"]) == ("acknowledge", dedup, "resolve")
    assert "payload" not in ack


def test_severity_two_emails_and_three_tells_nobody(api: Api, app: Flask, pager: Pager, mailbox: Mailbox) -> None:
    report(api, severity=2, title="slow search", description="p95 at 4s")
    report(api, severity=3, title="typo")
    assert deliver(app) == 1
    (message,) = mailbox.wait(1)
    assert message["To"] == "oncall@example.test" and message["From"] == "gate@example.test"
    assert message["Subject"].startswith("[SEV2]") and "p95 at 4s" in message.get_payload()
    assert pager.events == []


def test_a_pager_that_fails_three_times_still_gets_exactly_one_page(
    api: Api, app: Flask, pager: Pager, clock: Clock
) -> None:
    pager.fail_first = 3
    report(api, severity=0)
    dispatcher: Dispatcher = runtime(app).outbox
    for expected_delay in (1, 2, 4):
        assert deliver(app) == 0
        assert deliver(app) == 0  # not due yet: nothing is tried before its backoff
        assert dispatcher.due_in == expected_delay  # the background loop sleeps until the retry, no longer
        clock.advance(seconds=expected_delay)
    assert deliver(app) == 1
    assert deliver(app) == 0
    assert dispatcher.due_in is None  # nothing left to send: the loop sleeps its longest
    assert pager.requests == 4 and len(pager.events) == 1
    assert [retry_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_an_alert_claimed_by_a_worker_that_died_is_delivered_by_another(
    api: Api, app: Flask, pager: Pager, clock: Clock
) -> None:
    from sqlalchemy import update

    from gate.extensions import db
    from gate.models import OutboxMessage

    report(api, severity=0)
    with app.app_context():  # a worker claims the message, then dies before delivering it
        db.session.execute(update(OutboxMessage).values(locked_until=clock.now + runtime(app).outbox.lease, attempts=1))
        db.session.commit()
    assert deliver(app) == 0
    clock.advance(seconds=61)
    assert deliver(app) == 1
    assert len(pager.wait(1)) == 1


def test_an_unacknowledged_incident_pages_again_at_its_deadline_once(
    api: Api, app: Flask, pager: Pager, clock: Clock
) -> None:
    incident = report(api, severity=0).json
    deliver(app)
    clock.advance(minutes=29)
    deliver(app)
    assert len(pager.events) == 1
    clock.advance(minutes=2)
    deliver(app)
    deliver(app)
    events = pager.wait(2)
    assert len(events) == 2 and events[1]["dedup_key"] == f"gate-incident-{incident['id']}-escalation"
    assert events[1]["payload"]["summary"].startswith("ESCALATION")
    api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve")
    deliver(app)
    assert {e["dedup_key"] for e in pager.wait(4)[2:]} == {
        f"gate-incident-{incident['id']}",
        f"gate-incident-{incident['id']}-escalation",
    }


def test_a_severe_incident_kills_its_flag_before_the_answer(api: Api, clock: Clock) -> None:
    in_ga(api, clock)
    sdk = api.as_("sdk")
    before = sdk.get("/api/v1/sdk/snapshot").json
    incident = report(api, severity=1, feature="checkout").json
    assert incident["restored_at"] == incident["opened_at"] and incident["restore_minutes"] == 0
    after = sdk.get("/api/v1/sdk/snapshot").json
    assert after["version"] > before["version"] and after["flags"]["checkout"]["killed"] is True
    kill = api.get("/api/v1/features/checkout/deployments").json[0]
    assert (kill["kind"], kill["actor"]) == ("kill", "reporter")
    assert kill["reason"] == f"auto-kill: incident #{incident['id']} (severity 1)"
    api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve")
    assert sdk.get("/api/v1/sdk/snapshot").json["flags"]["checkout"]["killed"] is True  # resolving never revives


def test_a_milder_incident_does_not_kill_but_a_later_kill_restores_it(api: Api, clock: Clock) -> None:
    in_ga(api, clock)
    incident = report(api, severity=2, feature="checkout").json
    assert incident["restored_at"] is None
    clock.advance(minutes=12)
    api.as_("release").post("/api/v1/features/checkout/kill", json={"reason": "mitigate"})
    assert api.get(f"/api/v1/incidents/{incident['id']}").json["restore_minutes"] == 12


def test_an_incident_is_attributed_to_the_latest_deployment_and_can_be_corrected(api: Api, clock: Clock) -> None:
    in_ga(api, clock)
    deployment = api.get("/api/v1/features/checkout/deployments").json[0]
    assert deployment["is_deployment"] is True
    incident = report(api, severity=2, feature="checkout", ring="preview").json
    assert incident["caused_by"] == deployment["id"]
    patched = api.as_("reporter").patch(f"/api/v1/incidents/{incident['id']}", json={"caused_by": None, "severity": 3})
    assert (patched.status_code, patched.json["caused_by"], patched.json["severity"]) == (200, None, 3)
    assert api.as_("reporter").patch(f"/api/v1/incidents/{incident['id']}", json={"caused_by": 999}).status_code == 422
    moved = api.as_("reporter").patch(f"/api/v1/incidents/{incident['id']}", json={"feature": None}).json
    assert moved["feature"] is None
    same = api.as_("reporter").patch(f"/api/v1/incidents/{incident['id']}", json={}).json
    assert same["severity"] == 3
    actions = [a["action"] for a in api.get("/api/v1/audit").json if a["target"] == f"incident:{incident['id']}"]
    assert actions == ["incident.update", "incident.update", "incident.open"]


def test_the_incidents_check_blocks_on_open_severe_incidents(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal"})
    clock.advance(days=2)
    incident = report(api, severity=2, feature="checkout").json
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate").json["checks"]}
    assert gate["incidents"]["passed"] is True  # preview blocks on 0..1
    severe = report(api, severity=1, feature="checkout", title="down").json
    api.as_("release").post("/api/v1/features/checkout/revive")
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate").json["checks"]}
    assert gate["incidents"] == {
        "name": "incidents",
        "passed": False,
        "detail": f"open incident #{severe['id']} (severity 1: down)",
    }
    api.as_("reporter").post(f"/api/v1/incidents/{severe['id']}/resolve")
    clock.advance(days=2)
    assert api.post("/api/v1/features/checkout/promote", json={"ring": "preview"}).status_code == 200
    assert incident["id"] < severe["id"]


def test_rca_items_block_rings_that_ask_for_them(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout"))
    incident = report(api, severity=3, feature="checkout").json
    item = api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/rca-items", json={"title": "add an alert"})
    assert item.status_code == 201 and item.json["status"] == "open"
    api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve")
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate?ring=ga").json["checks"]}
    assert gate["rca"] == {
        "name": "rca",
        "passed": False,
        "detail": f"1 open RCA item: #{item.json['id']} (add an alert)",
    }
    listed = api.get(f"/api/v1/incidents/{incident['id']}").json["rca_items"]
    assert [i["title"] for i in listed] == ["add an alert"]
    closed = api.as_("reporter").post(f"/api/v1/rca-items/{item.json['id']}/close")
    assert (closed.status_code, closed.json["status"]) == (200, "closed")
    assert api.as_("reporter").post(f"/api/v1/rca-items/{item.json['id']}/close").status_code == 409
    assert api.as_("reporter").post("/api/v1/rca-items/999/close").status_code == 404
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate?ring=ga").json["checks"]}
    assert gate["rca"]["passed"] is True


def test_rca_follows_the_restore_items_open_and_close_on_a_resolved_incident(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    incident = report(api, severity=2, feature="checkout").json
    assert api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/resolve").status_code == 200
    item = api.as_("reporter").post(f"/api/v1/incidents/{incident['id']}/rca-items", json={"title": "add an alert"})
    assert item.status_code == 201 and item.json["status"] == "open"
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate?ring=ga").json["checks"]}
    assert gate["rca"]["passed"] is False  # a follow-up opened after the restore still blocks GA
    closed = api.as_("reporter").post(f"/api/v1/rca-items/{item.json['id']}/close")
    assert (closed.status_code, closed.json["status"]) == (200, "closed")
    assert [a["action"] for a in api.get("/api/v1/audit?feature=checkout").json][:2] == ["rca.close", "rca.open"]


def test_zero_bug_bounce(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    bug = api.as_("reporter").post(
        "/api/v1/features/checkout/bugs", json={"title": "total off by a cent", "severity": 2}
    )
    assert bug.status_code == 201 and bug.json["status"] == "open" and bug.json["feature"] == "checkout"
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate?ring=ga").json["checks"]}
    assert gate["zero-bug-bounce"]["detail"] == f"1 open bug: #{bug.json['id']} (total off by a cent)"
    assert [b["id"] for b in api.get("/api/v1/features/checkout/bugs?status=open").json] == [bug.json["id"]]
    closed = api.as_("reporter").post(f"/api/v1/bugs/{bug.json['id']}/close")
    assert closed.json["status"] == "closed"
    assert api.as_("reporter").post(f"/api/v1/bugs/{bug.json['id']}/close").status_code == 409
    assert api.get("/api/v1/features/checkout/bugs?status=open").json == []
    assert len(api.get("/api/v1/features/checkout/bugs?status=closed").json) == 1
    gate = {c["name"]: c for c in api.get("/api/v1/features/checkout/gate?ring=ga").json["checks"]}
    assert gate["zero-bug-bounce"] == {"name": "zero-bug-bounce", "passed": True, "detail": "no open bug"}


def test_listing_incidents_by_status(api: Api) -> None:
    a = report(api, severity=3, title="a").json
    b = report(api, severity=3, title="b").json
    api.as_("reporter").post(f"/api/v1/incidents/{a['id']}/resolve")
    assert [i["id"] for i in api.get("/api/v1/incidents?status=open").json] == [b["id"]]
    assert [i["id"] for i in api.get("/api/v1/incidents?status=resolved").json] == [a["id"]]
    assert [i["id"] for i in api.get("/api/v1/incidents").json] == [b["id"], a["id"]]
    assert api.get("/api/v1/incidents/999").status_code == 404
