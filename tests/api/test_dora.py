"""DORA metrics on hand-built histories with a fixed clock, and known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from gate.cli import main
from tests.support import RINGS, Api, Clock, FeatureBuilder

# Day 1 of the history is eleven UTC days ago, so `gate dora`, which reads the real clock, sees all of it.
DAY_ONE = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=11)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY_ONE + timedelta(days=day - 1, hours=hour, minutes=minute)


def promote(api: Api, key: str, ring: str, percent: float = 100) -> None:
    r = api.post(f"/api/v1/features/{key}/promote", json={"ring": ring, "percent": percent, "override_reason": "t"})
    assert r.status_code == 200, r.json


def release(api: Api, key: str, action: str, **body: object) -> None:
    r = api.as_("release").post(f"/api/v1/features/{key}/{action}", json=body)
    assert r.status_code == 200, r.json


def change(api: Api, key: str, committed: datetime) -> None:
    r = api.as_("reporter").post(
        f"/api/v1/features/{key}/changes", json={"sha": "abc123", "committed_at": committed.isoformat()}
    )
    assert r.status_code == 201, r.json


def incident(api: Api, severity: int, feature: str | None = None) -> int:
    r = api.as_("reporter").post("/api/v1/incidents", json={"title": "t", "severity": severity, "feature": feature})
    assert r.status_code == 201, r.json
    return int(r.json["id"])


def dora(api: Api, **query: object) -> dict:
    r = api.get("/api/v1/metrics/dora", query_string=query)
    assert r.status_code == 200, r.json
    return r.json


def test_no_deployments_at_all(api: Api) -> None:
    body = dora(api)
    assert body["days"] == 30 and body["benchmark"] == "2021"
    assert body["deployment_frequency"] == {"deployments": 0, "deploy_days": 0, "per_week": 0.0, "level": "low"}
    assert body["lead_time_hours"] == {"median": None, "p90": None, "changes": 0, "level": None}
    assert body["change_fail_rate"] == {"failed": 0, "deployments": 0, "percent": None, "level": None}
    assert body["time_to_restore_hours"] == {"median": None, "incidents": 0, "level": None}


@pytest.fixture
def history(api: Api, clock: Clock) -> None:
    """Two features, five deployments, four of them failed in four different ways."""
    clock.now = at(2, 9)
    api.apply(FeatureBuilder("a"))
    change(api, "a", at(1, 21))  # committed 12 h before it is reported
    promote(api, "a", "internal")
    clock.now = at(2, 9, 1)
    promote(api, "a", "preview")
    clock.now = at(2, 9, 2)
    promote(api, "a", "ga")  # D1; change 1 ships: 12 h 02 m
    clock.now = at(3, 10)
    change(api, "a", at(3, 9))
    clock.now = at(3, 12)
    release(api, "a", "rollout", percent=50)  # lowering: D1 failed, not a deployment
    clock.now = at(3, 13)
    release(api, "a", "rollout", percent=100)  # D2, a raise; change 2 ships: 4 h
    clock.now = at(4, 10)
    sev2 = incident(api, 2, "a")  # attributed to D2: failed
    clock.now = at(4, 12)
    api.as_("reporter").post(f"/api/v1/incidents/{sev2}/resolve")  # restored in 2 h
    clock.now = at(5, 10)
    incident(api, 3, "a")  # severity 3: neither a failure nor a restore
    clock.now = at(5, 11)
    no_feature = incident(api, 1)  # no feature: nothing to attribute, nothing to kill
    clock.now = at(5, 11, 30)
    api.as_("reporter").post(f"/api/v1/incidents/{no_feature}/resolve")  # restored in 30 m
    clock.now = at(6, 9)
    api.apply(FeatureBuilder("b"))
    promote(api, "b", "internal")
    promote(api, "b", "preview")
    promote(api, "b", "ga", percent=10)  # D3
    clock.now = at(6, 10)
    release(api, "b", "rollout", percent=30)  # D4
    clock.now = at(6, 11)
    change(api, "b", at(6, 8))  # reported after D4: waits for the next deployment
    clock.now = at(7, 9)
    release(api, "b", "kill")  # D4 failed
    clock.now = at(7, 10)
    release(api, "b", "revive")  # neither a deployment nor a failure
    clock.now = at(7, 11)
    release(api, "b", "rollout", percent=60)  # D5; change 3 ships: 27 h
    clock.now = at(8, 9)
    release(api, "b", "rollback", ring="preview")  # a rollback with no incident: D5 failed
    clock.now = at(8, 12)


def test_a_history_with_known_answers(api: Api, history: None) -> None:
    body = dora(api)
    assert body["since"] == (at(8, 0) - timedelta(days=29)).isoformat() and body["until"] == at(8, 12).isoformat()
    assert body["deployment_frequency"] == {"deployments": 5, "deploy_days": 4, "per_week": 1.17, "level": "high"}
    assert body["lead_time_hours"] == {"median": 12.03, "p90": 27.0, "changes": 3, "level": "high"}
    assert body["change_fail_rate"] == {"failed": 4, "deployments": 5, "percent": 80.0, "level": "low"}
    assert body["time_to_restore_hours"] == {"median": 1.25, "incidents": 2, "level": "high"}


def test_a_window_that_cuts_the_history_in_two(api: Api, history: None) -> None:
    body = dora(api, days=3)
    assert body["since"] == at(6, 0).isoformat()
    assert body["deployment_frequency"]["deployments"] == 3 and body["deployment_frequency"]["deploy_days"] == 2
    assert body["change_fail_rate"] == {"failed": 2, "deployments": 3, "percent": 66.7, "level": "low"}
    assert body["lead_time_hours"] == {"median": 27.0, "p90": 27.0, "changes": 1, "level": "high"}
    assert body["time_to_restore_hours"] == {"median": None, "incidents": 0, "level": None}


def test_a_correction_during_the_rca_moves_the_failure(api: Api, history: None) -> None:
    sev2 = next(i for i in api.get("/api/v1/incidents").json if i["severity"] == 2)
    api.as_("reporter").patch(f"/api/v1/incidents/{sev2['id']}", json={"caused_by": None})
    assert dora(api)["change_fail_rate"]["failed"] == 3


def test_levels_come_from_the_named_report(api: Api, history: None) -> None:
    body = dora(api, benchmark="2023")
    assert body["benchmark"] == "2023"
    assert body["lead_time_hours"]["level"] == "elite"  # 2023: elite below a day
    assert body["deployment_frequency"]["level"] == "medium"  # 2023: high needs a deployment day every week
    unknown = api.get("/api/v1/metrics/dora?benchmark=1999")
    assert unknown.status_code == 422 and unknown.json["detail"].endswith("the reports known are 2021, 2023")


def test_an_auto_kill_restores_in_no_time(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("c"))
    for ring in ("internal", "preview", "ga"):
        promote(api, "c", ring)
    incident(api, 0, "c")
    body = dora(api)
    assert body["time_to_restore_hours"] == {"median": 0.0, "incidents": 1, "level": "elite"}
    assert body["change_fail_rate"]["failed"] == 1


def test_gate_dora_prints_the_same_for_a_terminal(
    api: Api, history: None, database_url: str, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    monkeypatch.setenv("GATE_DATABASE_URL", database_url)
    monkeypatch.setenv("GATE_RINGS_FILE", str(RINGS))
    result = CliRunner().invoke(main, ["dora", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "Deployment frequency" in result.output and "5 deployments" in result.output
    assert "Change fail rate" in result.output and "80.0%" in result.output
