"""The gate costs a constant number of SQL queries whatever the number of criteria and votes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event

from gate.extensions import db
from tests.support import Api, FeatureBuilder


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_gate_queries_do_not_grow_with_criteria_and_votes(api: Api, app: Flask) -> None:
    api.apply(FeatureBuilder("small").criterion("only"))
    large = FeatureBuilder("large")
    for i in range(50):
        large.criterion(f"c{i:02d}", required_yes=2)
    api.apply(large)
    voters = [api.token(f"qa-{i}", "qa") for i in range(4)]
    for i in range(50):
        for voter in voters:
            voter.vote("large", f"c{i:02d}", "yes")
    for key in ("small", "large"):  # warm the token cache and the last-use stamp
        api.get(f"/api/v1/features/{key}/gate")
    counts = {}
    for key in ("small", "large"):
        with counting(app) as statements:
            response = api.get(f"/api/v1/features/{key}/gate")
        assert response.status_code == 200
        counts[key] = len(statements)
    assert counts["small"] == counts["large"] <= 8
    with counting(app) as statements:
        feature = api.get("/api/v1/features/large").json
    assert len(statements) <= 8 and len(feature["criteria"]) == 50


def test_a_304_snapshot_read_runs_no_orm_query(api: Api, app: Flask) -> None:
    """Only the state read runs, on a raw pooled connection (engine events do not see it)."""
    sdk = api.as_("sdk")
    etag = sdk.get("/api/v1/sdk/snapshot").headers["ETag"]
    with counting(app) as statements:
        assert sdk.get("/api/v1/sdk/snapshot", headers={"If-None-Match": etag}).status_code == 304
        assert sdk.get("/api/v1/sdk/snapshot").status_code == 200  # cached for this version: no rebuild
    assert statements == []


def test_a_plan_check_with_no_plan_running_asks_one_query(api: Api, app: Flask) -> None:
    """Each worker checks plans every 2 s; most of the time none runs, and then the facts are not gathered."""
    from gate.services.plan_checks import check_plans

    api.apply(FeatureBuilder("checkout").criterion("qa", required_yes=1))  # a feature, with no plan
    with counting(app) as statements, app.app_context():
        assert check_plans().checked == 0
    assert [s.split()[0] for s in statements] == ["SELECT"]


def test_a_kill_and_a_revive_read_the_feature_once(api: Api, app: Flask) -> None:
    """The compare-and-set reads back what it wrote in the same statement, and the latest deployment is
    marked failed in one UPDATE: the kill behind every fleet-wide change asks eight statements, revive six."""
    api.apply(FeatureBuilder("checkout"))
    api.post("/api/v1/features/checkout/kill", json={"reason": "warm"})
    api.post("/api/v1/features/checkout/revive", json={})
    with counting(app) as kill:
        killed = api.post("/api/v1/features/checkout/kill", json={"reason": "outage"})
    with counting(app) as revive:
        revived = api.post("/api/v1/features/checkout/revive", json={})
    assert killed.status_code == revived.status_code == 200
    assert killed.json["killed"] is True and revived.json["killed"] is False
    reads = [sum(s.startswith("SELECT features.") for s in statements) for statements in (kill, revive)]
    assert reads == [1, 1]
    assert len([s for s in kill if not s.startswith("NOTIFY")]) == 8
    assert len([s for s in revive if not s.startswith("NOTIFY")]) == 6
