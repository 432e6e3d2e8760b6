"""Incident policy as the brief states it: who is told, how soon, and when a flag dies at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gate.domain.incidents import (
    Alert,
    auto_kills,
    deadline_met,
    email,
    notification,
    page,
    response_deadline,
    status,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severity", "within"),
    [(0, timedelta(minutes=30)), (1, timedelta(hours=1)), (2, timedelta(hours=24)), (3, timedelta(hours=48))],
)
def test_each_severity_has_its_response_time(severity: int, within: timedelta) -> None:
    assert response_deadline(severity, T0) == T0 + within


@pytest.mark.parametrize(("severity", "told"), [(0, "page"), (1, "page"), (2, "email"), (3, None)])
def test_severe_incidents_page_the_middle_one_emails_and_the_rest_wait(severity: int, told: str | None) -> None:
    assert notification(severity) == told


def test_the_status_is_resolved_over_acknowledged_over_open() -> None:
    assert status(None, None) == "open"
    assert status(T0, None) == "acknowledged"
    assert status(None, T0) == "resolved"
    assert status(T0, T0 + timedelta(hours=1)) == "resolved"


@pytest.mark.parametrize(
    ("severity", "threshold", "kills"),
    [(0, 0, True), (1, 0, False), (0, 1, True), (1, 1, True), (2, 1, False), (3, 3, True), (0, None, False)],
)
def test_an_incident_at_or_above_the_threshold_kills_at_once(severity: int, threshold: int | None, kills: bool) -> None:
    assert auto_kills(severity, threshold) is kills


def test_the_deadline_is_met_by_the_first_answer_in_time_and_undecided_until_it_passes() -> None:
    deadline = T0 + timedelta(minutes=30)
    assert deadline_met(deadline, None, None, now=T0) is None  # still time
    assert deadline_met(deadline, None, None, now=deadline) is None  # the last moment still counts
    assert deadline_met(deadline, None, None, now=deadline + timedelta(seconds=1)) is False
    assert deadline_met(deadline, deadline, None, now=T0 + timedelta(days=1)) is True  # on the dot
    assert deadline_met(deadline, deadline + timedelta(seconds=1), None, now=T0) is False
    assert deadline_met(deadline, None, T0 + timedelta(minutes=5), now=T0 + timedelta(days=1)) is True
    # resolved in time without an acknowledgement, acknowledged late: the first answer counts
    assert deadline_met(deadline, deadline + timedelta(hours=1), T0 + timedelta(minutes=5), now=T0) is True
    assert deadline_met(deadline, T0 + timedelta(minutes=5), deadline + timedelta(hours=1), now=T0) is True


def test_a_trigger_page_is_a_pagerduty_v2_event_with_severity_and_a_capped_summary() -> None:
    alert = page(
        routing_key="rk",
        action="trigger",
        dedup_key="gate-incident-7",
        summary="x" * 2000,
        severity=0,
        source="gate.example",
        details={"feature": "checkout", "severity": 0},
    )
    assert alert == Alert(
        "page",
        {
            "routing_key": "rk",
            "event_action": "trigger",
            "dedup_key": "gate-incident-7",
            "payload": {
                "summary": "x" * 1024,
                "severity": "critical",
                "source": "gate.example",
                "component": "checkout",
                "custom_details": {"feature": "checkout", "severity": 0},
            },
        },
    )
    one = page(routing_key="rk", action="trigger", dedup_key="d", summary="s", severity=1, source="g", details={})
    assert one.body["payload"]["severity"] == "error" and one.body["payload"]["component"] == "gate"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_pages_carry_only_the_key(action: str) -> None:
    alert = page(routing_key="rk", action=action, dedup_key="d", summary="s", severity=0, source="g", details={})
    assert alert == Alert("page", {"routing_key": "rk", "event_action": action, "dedup_key": "d"})


def test_an_email_alert_is_a_subject_and_a_text() -> None:
    assert email(subject="Incident #3", text="checkout is down") == Alert(
        "email", {"subject": "Incident #3", "text": "checkout is down"}
    )


def test_an_auto_kill_says_which_incident_and_how_severe() -> None:
    from gate.domain.incidents import AUTO_KILL, auto_kill_reason

    assert auto_kill_reason(12, 1) == "auto-kill: incident #12 (severity 1)"
    assert auto_kill_reason(12, 1).startswith(AUTO_KILL)
