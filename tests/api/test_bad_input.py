"""Bad input: the right 4xx as problem+json, and a store exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Api, FeatureBuilder, assert_refused_and_unchanged, dump_store

YAML = {"Content-Type": "application/yaml"}
GOOD = FeatureBuilder("checkout").criterion("unit", ring="internal").yaml()
ALIAS_BOMB = """feature: checkout
name: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
owner: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
description: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
design: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
criteria: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""


def put(api: Api, body: Any, key: str = "checkout", headers: dict[str, str] | None = None) -> Any:
    kwargs: dict[str, Any] = (
        {"json": body} if isinstance(body, dict | list) else {"data": body, "headers": headers or YAML}
    )
    return api.as_("product").put(f"/api/v1/features/{key}/criteria", **kwargs)


def incident(api: Api, body: Any) -> Any:
    return api.as_("reporter").post("/api/v1/incidents", json=body)


def vote(api: Api, body: Any, criterion: str = "unit", key: str = "checkout", role: str = "qa") -> Any:
    return api.as_(role).post(f"/api/v1/features/{key}/criteria/{criterion}/votes", json=body)


CASES: dict[str, tuple[Callable[[Api], Any], int, str | None]] = {
    "malformed yaml": (lambda api: put(api, "feature: [unclosed"), 400, "body"),
    "yaml that is not a mapping": (lambda api: put(api, "- just\n- a list\n"), 422, "$"),
    "unknown top-level key": (lambda api: put(api, GOOD + "colour: blue\n"), 422, "colour"),
    "unknown criterion key": (
        lambda api: put(
            api,
            {
                **FeatureBuilder("checkout").build(),
                "criteria": [{"id": "a", "description": "d", "ring": "internal", "x": 1}],
            },
        ),
        422,
        "criteria[0].x",
    ),
    "wrong types": (lambda api: put(api, {"feature": "checkout", "name": 5, "owner": [], "criteria": {}}), 422, "name"),
    "duplicate criterion ids": (
        lambda api: put(api, FeatureBuilder("checkout").criterion("a").criterion("a").yaml()),
        422,
        "criteria[1].id",
    ),
    "unknown ring": (
        lambda api: put(api, FeatureBuilder("checkout").criterion("a", ring="moon").yaml()),
        422,
        "criteria[0].ring",
    ),
    "required_yes below one": (
        lambda api: put(api, FeatureBuilder("checkout").criterion("a", required_yes=0).yaml()),
        422,
        "criteria[0].required_yes",
    ),
    "yaml alias bomb": (lambda api: put(api, ALIAS_BOMB), 400, "body"),
    "duplicate yaml keys": (lambda api: put(api, GOOD + "name: again\n"), 400, "body"),
    "invalid utf-8 yaml": (lambda api: put(api, b"feature: checkout\nname: \xff\xfe\n"), 400, "body"),
    "invalid utf-8 json": (
        lambda api: put(api, b'{"feature": "\xff"}', headers={"Content-Type": "application/json"}),
        400,
        None,
    ),
    "malformed json": (lambda api: put(api, b'{"feature": ', headers={"Content-Type": "application/json"}), 400, None),
    "key not matching the url": (lambda api: put(api, GOOD, key="other"), 422, "feature"),
    "invalid feature key": (lambda api: put(api, FeatureBuilder("Bad Key!").yaml(), key="Bad Key!"), 422, "feature"),
    "unsupported media type": (lambda api: put(api, GOOD, headers={"Content-Type": "text/plain"}), 415, None),
    "8 MB body": (lambda api: put(api, "x" * (8 * 1024 * 1024)), 413, None),
    "vote other than yes/no": (lambda api: vote(api, {"vote": "maybe"}), 422, "vote"),
    "comment over 2000 characters": (lambda api: vote(api, {"vote": "yes", "comment": "c" * 2001}), 422, "comment"),
    "unknown body field": (lambda api: vote(api, {"vote": "yes", "weight": 3}), 422, "weight"),
    "body naming the voter": (lambda api: vote(api, {"vote": "yes", "voter": "mallory"}), 422, "voter"),
    "vote body not an object": (lambda api: vote(api, ["yes"]), 422, None),
    "vote as plain text": (
        lambda api: api.as_("qa").post(
            "/api/v1/features/checkout/criteria/unit/votes", data="yes", headers={"Content-Type": "text/plain"}
        ),
        415,
        None,
    ),
    "unknown feature": (lambda api: vote(api, {"vote": "yes"}, key="nope"), 404, None),
    "unknown criterion": (lambda api: vote(api, {"vote": "yes"}, criterion="nope"), 404, None),
    "percent above 100": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 101}),
        422,
        "percent",
    ),
    "percent zero": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 0}),
        422,
        "percent",
    ),
    "percent with three decimals": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 12.345}),
        422,
        "percent",
    ),
    "percent not a number": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": "50"}),
        422,
        "percent",
    ),
    "percent a boolean": (
        lambda api: api.as_("release").post(
            "/api/v1/features/checkout/promote", json={"ring": "internal", "percent": True}
        ),
        422,
        "percent",
    ),
    "promote to an unknown ring": (lambda api: api.promote("checkout", "moon"), 422, "ring"),
    "promote without a ring": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/promote", json={}),
        422,
        "ring",
    ),
    "revive with a body field": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/revive", json={"force": True}),
        422,
        "force",
    ),
    "rollback without a ring key": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/rollback", json={}),
        422,
        "ring",
    ),
    "reason over 2000 characters": (
        lambda api: api.as_("release").post("/api/v1/features/checkout/kill", json={"reason": "r" * 2001}),
        422,
        "reason",
    ),
    "exposure count not a positive integer": (
        lambda api: api.as_("sdk").post(
            "/api/v1/sdk/exposures", json={"exposures": [{"flag": "checkout", "enabled": True, "count": 0}]}
        ),
        422,
        "exposures[0].count",
    ),
    "exposure result not a boolean": (
        lambda api: api.as_("sdk").post(
            "/api/v1/sdk/exposures", json={"exposures": [{"flag": "checkout", "enabled": "yes", "count": 1}]}
        ),
        422,
        "exposures[0].enabled",
    ),
    "evaluate without a flag": (
        lambda api: api.as_("sdk").post("/api/v1/sdk/evaluate", json={"context": {}}),
        422,
        "flag",
    ),
    "ofrep context not an object": (
        lambda api: api.as_("sdk").post("/ofrep/v1/evaluate/flags/checkout", json={"context": "u1"}),
        422,
        "context",
    ),
    "ofrep without a token": (lambda api: api.client.post("/ofrep/v1/evaluate/flags", json={}), 401, None),
    "sdk role writing a vote": (lambda api: vote(api, {"vote": "yes"}, role="sdk"), 403, None),
    "incident severity out of range": (lambda api: incident(api, {"title": "t", "severity": 4}), 422, "severity"),
    "incident severity as a string": (lambda api: incident(api, {"title": "t", "severity": "1"}), 422, "severity"),
    "incident without a title": (lambda api: incident(api, {"severity": 1}), 422, "title"),
    "incident on an unknown feature": (
        lambda api: incident(api, {"title": "t", "severity": 0, "feature": "nope"}),
        422,
        "feature",
    ),
    "incident in an unknown ring": (
        lambda api: incident(api, {"title": "t", "severity": 0, "ring": "moon"}),
        422,
        "ring",
    ),
    "incident description over 2000": (
        lambda api: incident(api, {"title": "t", "severity": 3, "description": "d" * 2001}),
        422,
        "description",
    ),
    "incident reported by qa": (
        lambda api: api.as_("qa").post("/api/v1/incidents", json={"title": "t", "severity": 0}),
        403,
        None,
    ),
    "patching an unknown incident": (
        lambda api: api.as_("reporter").patch("/api/v1/incidents/999", json={"severity": 1}),
        404,
        None,
    ),
    "acknowledging an unknown incident": (lambda api: api.as_("reporter").post("/api/v1/incidents/999/ack"), 404, None),
    "change sha too long": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "a" * 65, "committed_at": "2026-11-01T00:00:00Z"}
        ),
        422,
        "sha",
    ),
    "change committed_at not a date": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "yesterday"}
        ),
        422,
        "committed_at",
    ),
    "change committed in the future": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "2099-01-01T00:00:00Z"}
        ),
        422,
        "committed_at",
    ),
    "bug severity out of range": (
        lambda api: api.as_("reporter").post("/api/v1/features/checkout/bugs", json={"title": "b", "severity": 5}),
        422,
        "severity",
    ),
    "bug on an unknown feature": (
        lambda api: api.as_("reporter").post("/api/v1/features/nope/bugs", json={"title": "b"}),
        404,
        None,
    ),
    "closing an unknown bug": (lambda api: api.as_("reporter").post("/api/v1/bugs/999/close"), 404, None),
    "rca item without a title": (
        lambda api: api.as_("reporter").post("/api/v1/incidents/999/rca-items", json={}),
        422,
        "title",
    ),
    "dora over zero days": (lambda api: api.get("/api/v1/metrics/dora?days=0"), 422, "days"),
    "limit above 10000": (lambda api: api.get("/api/v1/features?limit=10001"), 422, "limit"),
    "limit not a number": (lambda api: api.get("/api/v1/features?limit=ten"), 422, "limit"),
    "no token": (
        lambda api: api.client.post("/api/v1/features/checkout/criteria/unit/votes", json={"vote": "yes"}),
        401,
        None,
    ),
    "bad token": (
        lambda api: api.client.post(
            "/api/v1/features/checkout/criteria/unit/votes",
            json={"vote": "yes"},
            headers={"Authorization": "Bearer gate_nope"},
        ),
        401,
        None,
    ),
    "not a bearer token": (
        lambda api: api.client.get("/api/v1/features", headers={"Authorization": "Basic eDp5"}),
        401,
        None,
    ),
    "wrong role for a vote": (lambda api: vote(api, {"vote": "yes"}, role="release"), 403, None),
    "wrong role for criteria": (
        lambda api: api.as_("qa").put("/api/v1/features/checkout/criteria", data=GOOD, headers=YAML),
        403,
        None,
    ),
    "sdk role reading features": (lambda api: api.as_("sdk").get("/api/v1/features"), 403, None),
    "non-admin reading the audit": (lambda api: api.as_("release").get("/api/v1/audit"), 403, None),
    "non-admin creating a token": (
        lambda api: api.as_("product").post("/api/v1/tokens", json={"name": "x", "role": "admin"}),
        403,
        None,
    ),
    "token with an unknown role": (
        lambda api: api.post("/api/v1/tokens", json={"name": "x", "role": "root"}),
        422,
        "role",
    ),
    "revoking an unknown token": (lambda api: api.delete("/api/v1/tokens/999"), 404, None),
    "unknown route": (lambda api: api.get("/api/v1/nothing-here"), 404, None),
    "wrong method": (lambda api: api.client.patch("/api/v1/features"), 405, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_problem_and_changes_nothing(api: Api, database_url: str, case: str) -> None:
    assert_refused_and_unchanged(api, database_url, *CASES[case])


def test_an_unauthorized_answer_says_how_to_authenticate(api: Api) -> None:
    r = api.client.get("/api/v1/features")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_refused_gate_changes_nothing(api: Api, database_url: str) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    before = dump_store(database_url)
    r = api.promote("checkout", "internal")
    assert r.status_code == 409 and r.json["checks"]
    assert dump_store(database_url) == before


def test_every_error_of_a_document_is_reported_at_once(api: Api) -> None:
    r = put(api, {"feature": "checkout", "name": "", "criteria": [{"id": "A"}, "x"], "extra": 1})
    assert r.status_code == 422
    assert set(r.json["errors"]) >= {
        "name",
        "owner",
        "criteria[0].id",
        "criteria[0].description",
        "criteria[0].ring",
        "criteria[1]",
        "extra",
    }
