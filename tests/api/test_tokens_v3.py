"""Tokens of contract 8.1: several roles, the ci role, an owner scope, an expiry; the migration keeps old ones."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from tests.support import Api, Clock, FeatureBuilder, dump_store, sign_in


def put(api: Api, builder: FeatureBuilder) -> Any:
    """PUT a product file as whoever `api` speaks for."""
    return api.put(f"/api/v1/features/{builder.key}/criteria", json=builder.build())


def make(api: Api, **body: Any) -> Api:
    """A new token from the API's answer, speaking as itself."""
    r = api.post("/api/v1/tokens", json={"name": body.pop("name", "t"), **body})
    assert r.status_code == 201, r.json
    return Api(api.client, {**api.tokens, "made": r.json["secret"]}, "made")


def test_a_token_of_several_roles_may_do_what_each_may_and_listings_show_them(api: Api) -> None:
    r = api.post("/api/v1/tokens", json={"name": "pm-qa", "roles": ["product", "qa"]})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    assert (r.json["roles"], r.json["role"], r.json["owners"], r.json["expires_at"]) == (
        ["product", "qa"],
        "product,qa",
        None,
        None,
    )
    both = Api(api.client, {"x": r.json["secret"]}, "x")
    assert put(both, FeatureBuilder("checkout").criterion("unit")).status_code == 200  # product
    assert both.post("/api/v1/features/checkout/criteria/unit/votes", json={"vote": "yes"}).status_code == 201  # qa
    refused = both.post("/api/v1/features/checkout/promote", json={"ring": "internal"})  # not release
    assert refused.status_code == 403 and refused.json["detail"].startswith("role product,qa may not do this")
    listed = next(t for t in api.get("/api/v1/tokens").json if t["name"] == "pm-qa")
    assert listed["roles"] == ["product", "qa"] and "secret" not in listed
    audit = api.get("/api/v1/audit?action=token.create").json[0]
    assert audit["after"]["roles"] == ["product", "qa"]


def test_the_ci_role_reports_changes_and_reads_gates_and_nothing_else(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    ci = make(api, name="pipeline", roles=["ci"])
    change = ci.post("/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "2026-01-01T00:00:00Z"})
    assert change.status_code == 201 and api.get("/api/v1/audit?action=change.report").json[0]["actor"] == "pipeline"
    assert ci.get("/api/v1/features/checkout/gate").status_code == 200  # a pipeline waits on gates
    assert ci.post("/api/v1/features/checkout/promote", json={"ring": "internal"}).status_code == 403
    assert ci.post("/api/v1/features/checkout/criteria/unit/votes", json={"vote": "yes"}).status_code == 403
    assert ci.get("/api/v1/sdk/snapshot").status_code == 403


BAD_TOKENS = {
    "unknown role": ({"roles": ["root"]}, "roles"),
    "duplicate role": ({"roles": ["qa", "qa"]}, "roles"),
    "admin beside another": ({"roles": ["admin", "qa"]}, "roles"),
    "no role": ({"roles": []}, "roles"),
    "eight roles": ({"roles": ["qa"] * 8}, "roles"),
    "role and roles": ({"role": "qa", "roles": ["qa"]}, "roles"),
    "neither": ({}, "roles"),
    "single unknown role": ({"role": "root"}, "role"),
    "expiry in the past": ({"roles": ["qa"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    "expiry now": ({"roles": ["qa"], "expires_at": "NOW"}, "expires_at"),
    "expiry beyond 3650 days": ({"roles": ["qa"], "expires_at": "FAR"}, "expires_at"),
    "expiry in zero days": ({"roles": ["qa"], "expires_in_days": 0}, "expires_in_days"),
    "expiry in 3651 days": ({"roles": ["qa"], "expires_in_days": 3651}, "expires_in_days"),
    "expiry as text": ({"roles": ["qa"], "expires_in_days": "90"}, "expires_in_days"),
    "both expiries": ({"roles": ["qa"], "expires_in_days": 9, "expires_at": "FAR"}, "expires_at"),
    "owner with a newline": ({"roles": ["qa"], "owners": ["pay\nments"]}, "owners"),
    "owner with spaces around": ({"roles": ["qa"], "owners": [" payments"]}, "owners"),
    "empty owner list": ({"roles": ["qa"], "owners": []}, "owners"),
    "owner not a string": ({"roles": ["qa"], "owners": [7]}, "owners"),
    "owners not a list": ({"roles": ["qa"], "owners": "payments"}, "owners"),
}


@pytest.mark.parametrize("case", BAD_TOKENS, ids=list(BAD_TOKENS))
def test_bad_tokens_are_422_naming_the_field_and_store_nothing(
    api: Api, database_url: str, clock: Clock, case: str
) -> None:
    body, field = BAD_TOKENS[case]
    for key, value in body.items():  # times relative to the injected clock
        if value == "NOW":
            body[key] = clock.now.isoformat()
        elif value == "FAR":
            body[key] = (clock.now + timedelta(days=3650, seconds=1)).isoformat()
    before = dump_store(database_url)
    r = api.post("/api/v1/tokens", json={"name": "bad", **body})
    assert r.status_code == 422, r.json
    assert r.headers["Content-Type"] == "application/problem+json", r.json
    assert any(name == field or name.startswith(field + "[") for name in r.json["errors"]), r.json
    assert dump_store(database_url) == before


def test_an_expired_token_is_401_everywhere_saying_it_expired(api: Api, clock: Clock) -> None:
    qa = make(api, name="temp", roles=["qa", "sdk"], expires_in_days=1)
    listed = next(t for t in api.get("/api/v1/tokens").json if t["name"] == "temp")
    assert listed["expires_at"] == (clock.now + timedelta(days=1)).isoformat()
    assert qa.get("/api/v1/rings").status_code == 200
    clock.advance(days=1)
    for path in ("/api/v1/rings", "/api/v1/sdk/snapshot", "/api/v1/features"):
        r = qa.get(path)
        assert r.status_code == 401 and "expired" in r.json["detail"], path
    assert api.get("/api/v1/rings").status_code == 200  # other tokens go on


def test_an_expired_token_s_dashboard_session_ends(api: Api, clock: Clock) -> None:
    r = api.post("/api/v1/tokens", json={"name": "visitor", "roles": ["qa"], "expires_in_days": 2})
    tokens = {**api.tokens, "visitor": r.json["secret"]}
    client, _ = sign_in(Api(api.client, tokens, "visitor"), "visitor")
    assert client.get("/").status_code == 200
    clock.advance(days=2)
    assert client.get("/").status_code == 302  # signed out at the next page


def test_an_expiring_token_s_stream_ends_when_it_expires(api: Api, clock: Clock) -> None:
    fleet = make(api, name="fleet", roles=["sdk"], expires_at=(clock.now + timedelta(seconds=0.6)).isoformat())
    response = fleet.get("/api/v1/sdk/stream", buffered=False)
    opened = time.monotonic()
    chunks = iter(response.response)
    assert next(chunks) == b"retry: 1000\n\n" and next(chunks).startswith(b"event: snapshot")
    reader = threading.Thread(target=lambda: list(chunks), daemon=True)
    reader.start()
    reader.join(timeout=3.0)
    assert not reader.is_alive(), "the stream of an expired token is still open"
    assert 0.5 < time.monotonic() - opened < 3.0  # at its expiry, not at the next keepalive (15 s)
    response.close()


def test_the_owner_scope_limits_writes_and_leaves_reads_alone(api: Api, database_url: str) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))  # owner: payments (the builder's)
    api.apply(FeatureBuilder("search").with_(owner="discovery").criterion("unit"))
    assert api.get("/api/v1/features/checkout").json["owner"] == "payments"
    release = make(api, name="payments-release", roles=["release", "product", "qa", "reporter"], owners=["payments"])
    assert release.post("/api/v1/features/checkout/promote", json={"ring": "internal"}).status_code == 409  # a gate
    before = dump_store(database_url)
    writes = [
        release.post("/api/v1/features/search/promote", json={"ring": "internal", "override_reason": "x"}),
        release.post("/api/v1/features/search/kill", json={}),
        release.post("/api/v1/features/search/criteria/unit/votes", json={"vote": "yes"}),
        put(release, FeatureBuilder("search").with_(owner="discovery")),
        put(release, FeatureBuilder("checkout").with_(owner="discovery")),  # giving its own feature away
        put(release, FeatureBuilder("newcomer").with_(owner="discovery")),  # creating one for another owner
        release.delete("/api/v1/features/search"),
        release.post("/api/v1/incidents", json={"title": "down", "severity": 0, "feature": "search"}),
        release.post("/api/v1/features/search/bugs", json={"title": "broken"}),
        release.post("/api/v1/features/search/plan/start"),
    ]
    for r in writes:
        assert r.status_code == 403, (r.status_code, r.json)
        assert "this token writes only to features owned by payments" in r.json["detail"]
    assert dump_store(database_url) == before
    assert release.get("/api/v1/features/search").status_code == 200  # reads are not scoped
    assert release.get("/api/v1/features/search/gate").status_code == 200
    assert put(release, FeatureBuilder("wallet")).status_code == 200  # a new feature of its own owner
    assert release.post("/api/v1/incidents", json={"title": "slow", "severity": 3}).status_code == 201  # no feature


def test_the_owner_scope_holds_in_the_dashboard_too(api: Api) -> None:
    api.apply(FeatureBuilder("search").with_(owner="discovery").criterion("unit"))
    r = api.post("/api/v1/tokens", json={"name": "payments-qa", "roles": ["qa"], "owners": ["payments"]})
    client, token = sign_in(Api(api.client, {**api.tokens, "pq": r.json["secret"]}, "pq"), "pq")
    refused = client.post("/features/search/criteria/unit/vote", data={"csrf": token, "vote": "yes"})
    assert refused.status_code == 403
    assert api.get("/api/v1/features/search/criteria/unit/votes").json == []
