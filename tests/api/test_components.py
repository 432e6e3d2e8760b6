"""Components and milestones through the API (contract §8.3), on both stores, with an injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import text

from gate.extensions import db
from gate.runtime import runtime
from tests.support import Api, Clock, FeatureBuilder, dump_store


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WEBHOOK_URLS": "http://127.0.0.1:9/hook"}  # queued in the outbox; nothing needs to listen


def two_teams(clock: Clock, key: str = "pay", owner: str = "payments") -> FeatureBuilder:
    today = clock.now.date()
    return (
        FeatureBuilder(key, owner=owner)
        .criterion("payments-contract", ring="internal")
        .criterion("ledger-contract", ring="internal", evidence={"kind": "tests", "min_passed": 1})
        .criterion("e2e-integration", ring="preview")
        .with_(
            components=[
                {
                    "id": "payments-api",
                    "team": "platform",
                    "due": (today + timedelta(days=5)).isoformat(),
                    "contract": "https://git.example/platform/payments-api/openapi.yaml",
                    "criteria": ["payments-contract"],
                },
                {
                    "id": "ledger",
                    "team": "blockchain",
                    "due": (today + timedelta(days=10)).isoformat(),
                    "criteria": ["ledger-contract"],
                },
            ],
            integration={"criterion": "e2e-integration"},
        )
    )


def listed(api: Api, **query: str) -> dict[str, dict]:
    return {c["id"]: c for c in api.get("/api/v1/components", query_string=query).json}


def check(api: Api, name: str, ring: str = "preview") -> tuple[bool, str]:
    gate = api.get("/api/v1/features/pay/gate", query_string={"ring": ring}).json
    return next((c["passed"], c["detail"]) for c in gate["checks"] if c["name"] == name)


def test_delivery_follows_the_history_of_votes_and_evidence(api: Api, clock: Clock) -> None:
    api.apply(two_teams(clock))
    components = listed(api)
    assert components["payments-api"] == {
        "feature": "pay",
        "id": "payments-api",
        "team": "platform",
        "due": (clock.now.date() + timedelta(days=5)).isoformat(),
        "contract": "https://git.example/platform/payments-api/openapi.yaml",
        "delivered_at": None,
        "late": False,
        "days_late": 0,
    }
    clock.advance(hours=1)
    delivered = clock.now
    api.as_("qa").vote("pay", "payments-contract", "yes")
    assert listed(api)["payments-api"]["delivered_at"] == delivered.isoformat()
    clock.advance(hours=1)
    api.token("bob", "qa").vote("pay", "payments-contract", "no")  # a later no undelivers it
    assert listed(api)["payments-api"]["delivered_at"] is None
    clock.advance(hours=1)
    again = clock.now
    api.token("bob", "qa").vote("pay", "payments-contract", "yes")
    assert listed(api)["payments-api"]["delivered_at"] == again.isoformat()
    clock.advance(hours=1)
    api.evidence("pay", "ledger-contract", '<testsuite tests="4"/>', "text/xml")  # evidence delivers too
    assert listed(api)["ledger"]["delivered_at"] == clock.now.isoformat()
    audit = api.get("/api/v1/audit", query_string={"feature": "pay"}).json
    said = [(e["action"], e["target"], e["actor"]) for e in audit if e["action"].startswith("component.")]
    assert said == [
        ("component.deliver", "component:pay/ledger", "ci"),
        ("component.deliver", "component:pay/payments-api", "bob"),
        ("component.regress", "component:pay/payments-api", "bob"),
        ("component.deliver", "component:pay/payments-api", "alice"),
    ]


def test_the_components_check_names_each_missing_one_with_its_lateness(api: Api, clock: Clock) -> None:
    api.apply(two_teams(clock))
    assert check(api, "components", "internal") == (True, "not required")  # before the integration test's ring
    clock.advance(days=13)
    due_api, due_ledger = (clock.now.date() - timedelta(days=d) for d in (8, 3))
    assert check(api, "components") == (
        False,
        f"payments-api (platform): not delivered, due {due_api}, 8 days late; "
        f"ledger (blockchain): not delivered, due {due_ledger}, 3 days late",
    )
    api.as_("qa").vote("pay", "payments-contract", "yes")
    api.evidence("pay", "ledger-contract", '<testsuite tests="4"/>', "text/xml")
    assert check(api, "components") == (
        True,
        f"every component delivered: payments-api on {clock.now:%Y-%m-%d}, ledger on {clock.now:%Y-%m-%d}",
    )
    names = [c["name"] for c in api.get("/api/v1/features/pay/gate?ring=ga").json["checks"]]
    assert names.index("components") == names.index("soak") - 1  # after the criteria, before soak


def test_the_integration_test_counts_only_what_came_after_the_last_delivery(api: Api, clock: Clock) -> None:
    api.apply(two_teams(clock))
    qa = api.as_("qa")
    qa.vote("pay", "e2e-integration", "yes")  # tested before anything was there
    assert check(api, "criterion:e2e-integration") == (
        False,
        "0 of 1 yes vote; counts only once every component is delivered (payments-api, ledger not yet)",
    )
    clock.advance(days=1)
    qa.vote("pay", "payments-contract", "yes")
    clock.advance(days=1)
    delivered = clock.now
    api.evidence("pay", "ledger-contract", '<testsuite tests="4"/>', "text/xml")
    assert check(api, "criterion:e2e-integration") == (
        False,
        f"0 of 1 yes vote; 1 yes vote predates the delivery of ledger on {delivered:%Y-%m-%d}: test again",
    )
    clock.advance(hours=2)
    qa.vote("pay", "e2e-integration", "yes")
    assert check(api, "criterion:e2e-integration") == (True, "1 of 1 yes vote")
    feature = api.get("/api/v1/features/pay").json
    assert next(c for c in feature["criteria"] if c["id"] == "e2e-integration")["passed"] is True


def test_the_listing_filters_by_team_and_lateness_and_leaves_archived_features_out(api: Api, clock: Clock) -> None:
    api.apply(two_teams(clock))
    api.apply(two_teams(clock, key="search", owner="discovery"))
    assert sorted((c["feature"], c["id"]) for c in api.as_("qa").get("/api/v1/components").json) == [
        ("pay", "ledger"),
        ("pay", "payments-api"),
        ("search", "ledger"),
        ("search", "payments-api"),
    ]
    assert {(c["feature"], c["id"]) for c in api.get("/api/v1/components?team=platform").json} == {
        ("pay", "payments-api"),
        ("search", "payments-api"),
    }
    clock.advance(days=7)
    late = api.get("/api/v1/components?late=true").json
    assert {(c["feature"], c["id"], c["days_late"]) for c in late} == {
        ("pay", "payments-api", 2),
        ("search", "payments-api", 2),
    }
    assert {c["id"] for c in api.get("/api/v1/components?late=false").json} == {"ledger"}
    assert api.as_("admin").delete("/api/v1/features/search").status_code in (200, 204)
    assert {c["feature"] for c in api.get("/api/v1/components").json} == {"pay"}
    assert api.get("/api/v1/components?late=maybe").status_code == 422


def test_component_late_is_announced_once_through_the_outbox(app: Flask, api: Api, clock: Clock) -> None:
    api.apply(two_teams(clock))
    milestones = runtime(app).milestones
    assert milestones.run_once() == 0
    clock.advance(days=6)
    assert milestones.run_once() == 1 and milestones.run_once() == 0
    clock.advance(days=5)
    assert milestones.run_once() == 1 and milestones.run_once() == 0
    with app.app_context():
        rows = db.session.execute(text("SELECT body FROM outbox WHERE kind = 'webhook' ORDER BY id")).scalars()
        payloads = [(json.loads(b) if isinstance(b, str) else b)["payload"] for b in rows]
    late = [(p["event"], p["feature"], p["detail"]["days_late"]) for p in payloads if p["event"] == "component.late"]
    assert late == [("component.late", "pay", 1), ("component.late", "pay", 1)]
    audit = api.get("/api/v1/audit", query_string={"action": "component.late"}).json
    assert [e["target"] for e in audit] == ["component:pay/ledger", "component:pay/payments-api"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["components"][0].update(criteria=["ghost"]), "components[0].criteria[0]"),
        (lambda d: d["components"][1].update(id="payments-api"), "components[1].id"),
        (lambda d: d["components"][0].update(due="soon"), "components[0].due"),
        (lambda d: d["components"][0].update(contract="javascript:alert(1)"), "components[0].contract"),
        (lambda d: d.pop("integration"), "integration"),
        (lambda d: d.update(integration={"criterion": "payments-contract"}), "integration.criterion"),
    ],
)
def test_a_bad_components_block_is_422_with_its_path_and_nothing_stored(
    api: Api, clock: Clock, database_url: str, change: Any, path: str
) -> None:
    api.apply(FeatureBuilder("other"))
    document = two_teams(clock).build()
    change(document)
    before = dump_store(database_url)
    r = api.as_("product").put(
        "/api/v1/features/pay/criteria", data=yaml.safe_dump(document), content_type="application/yaml"
    )
    assert r.status_code == 422 and path in r.json["errors"], r.json
    assert dump_store(database_url) == before


def test_the_listing_follows_every_change_it_may_have_remembered(api: Api, clock: Clock) -> None:
    builder = two_teams(clock)
    api.apply(builder)
    assert listed(api)["ledger"]["due"] == (clock.now.date() + timedelta(days=10)).isoformat()
    builder.extra["components"][1]["due"] = (clock.now.date() + timedelta(days=20)).isoformat()
    clock.advance(minutes=1)
    api.apply(builder)  # a new due day in the product file
    assert listed(api)["ledger"]["due"] == (clock.now.date() + timedelta(days=20)).isoformat()
    api.evidence("pay", "ledger-contract", '<testsuite tests="1"/>', "text/xml")  # new evidence
    assert listed(api)["ledger"]["delivered_at"] == clock.now.isoformat()
    api.evidence("pay", "ledger-contract", '<testsuite tests="1" failures="1"/>', "text/xml")
    assert listed(api)["ledger"]["delivered_at"] is None
    api.as_("qa").vote("pay", "payments-contract", "yes")  # a new vote
    assert listed(api)["payments-api"]["delivered_at"] == clock.now.isoformat()


def test_components_added_to_criteria_voted_long_ago_are_delivered_from_that_history(api: Api, clock: Clock) -> None:
    plain = two_teams(clock)
    plain.extra.pop("components"), plain.extra.pop("integration")
    api.apply(plain)  # no components yet: nothing keeps when its criteria began to pass
    voted = clock.now
    api.as_("qa").vote("pay", "payments-contract", "yes")
    clock.advance(days=2)
    api.apply(two_teams(clock))  # the same criteria, now parts of components
    assert listed(api)["payments-api"]["delivered_at"] == voted.isoformat()
    assert listed(api)["ledger"]["delivered_at"] is None


def test_the_migration_folds_the_same_delivery_from_history_as_the_service(
    app: Flask, api: Api, clock: Clock, database_url: str
) -> None:
    """0011 fills `passing_since` of existing features from their votes and evidence, as each vote would."""
    from alembic import command

    from gate import migrate as migrations

    api.apply(two_teams(clock))
    qa = api.as_("qa")
    qa.vote("pay", "payments-contract", "yes")
    clock.advance(hours=1)
    api.evidence("pay", "ledger-contract", '<testsuite tests="1" failures="1"/>', "text/xml")
    clock.advance(hours=1)
    api.evidence("pay", "ledger-contract", '<testsuite tests="2"/>', "text/xml")
    clock.advance(hours=1)
    qa.vote("pay", "e2e-integration", "yes")
    before = listed(api)
    read = "SELECT criterion, passing_since FROM criterion_revisions WHERE retired_at IS NULL ORDER BY id"
    with app.app_context():
        kept = db.session.execute(text(read)).all()
        db.session.remove()
        db.engine.dispose()
    assert sum(1 for _, since in kept if since is not None) == 3
    runtime(app).watcher.stop()
    command.downgrade(migrations.alembic_config(database_url), "0010")
    migrations.upgrade(database_url)
    with app.app_context():
        assert db.session.execute(text(read)).all() == kept
    assert listed(api) == before
