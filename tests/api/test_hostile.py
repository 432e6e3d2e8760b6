"""Hostile input, one case per class (contract 7.1): a problem+json 4xx on both stores and a store unchanged."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Api, FeatureBuilder, assert_refused_and_unchanged

YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
TOO_BIG_ID = "9223372036854775808"  # 2^63
HUGE = "9" * 5000  # beyond Python's 4,300-digit int conversion limit


def raw_json(api: Api, method: str, path: str, body: str, role: str) -> Any:
    """Send a JSON text as written: escapes like \\ud800 reach the server untouched."""
    return getattr(api.as_(role), method)(path, data=body.encode(), headers=JSON)


def yaml_put(api: Api, text: str, key: str = "checkout") -> Any:
    return api.as_("product").put(f"/api/v1/features/{key}/criteria", data=text.encode(), headers=YAML)


def nested_json(depth: int) -> str:
    return '{"vote": "yes", "comment": ' + "[" * depth + "]" * depth + "}"


def chunked(api: Api, path: str, body: bytes, content_type: str, role: str = "release") -> Any:
    return api.as_(role).post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )


GOOD_YAML = (
    "feature: checkout\nname: Checkout\nowner: payments\ncriteria:\n  - {id: unit, description: d, ring: internal}\n"
)
VOTES = "/api/v1/features/checkout/criteria/unit/votes"

# name → (send, status, the field the problem must name, or None)
CASES: dict[str, tuple[Callable[[Api], Any], int, str | None]] = {
    # the design link: http(s) or nothing
    "design javascript: URL": (lambda api: yaml_put(api, GOOD_YAML + "design: javascript:alert(1)\n"), 422, "design"),
    "design data: URL": (lambda api: yaml_put(api, GOOD_YAML + "design: 'data:text/html,<b>x</b>'\n"), 422, "design"),
    "design with a broken scheme": (
        lambda api: yaml_put(api, GOOD_YAML + 'design: "java\\tscript:alert(1)"\n'),
        422,
        "design",
    ),
    "design without a host": (lambda api: yaml_put(api, GOOD_YAML + "design: 'https://'\n"), 422, "design"),
    # ids in paths and ?before=
    "incident id of 2^63": (lambda api: api.get(f"/api/v1/incidents/{TOO_BIG_ID}"), 404, None),
    "incident id of 30 digits": (
        lambda api: api.as_("reporter").post("/api/v1/incidents/" + "9" * 30 + "/ack"),
        404,
        None,
    ),
    "bug id zero": (lambda api: api.as_("reporter").post("/api/v1/bugs/0/close"), 404, None),
    "rca id beyond 64 bits": (lambda api: api.as_("reporter").post(f"/api/v1/rca-items/{2**64}/close"), 404, None),
    "token id beyond 64 bits": (lambda api: api.delete(f"/api/v1/tokens/{2**64}"), 404, None),
    "negative token id": (lambda api: api.delete("/api/v1/tokens/-1"), 404, None),
    "before of 2^63": (lambda api: api.get(f"/api/v1/features?before={TOO_BIG_ID}"), 422, "before"),
    "before of 5000 digits": (lambda api: api.get(f"/api/v1/audit?before={HUGE}"), 422, "before"),
    "caused_by of 2^63": (
        lambda api: raw_json(api, "patch", "/api/v1/incidents/1", '{"caused_by": ' + TOO_BIG_ID + "}", "reporter"),
        422,
        "caused_by",
    ),
    # lone surrogates in any text, the SDK's flag key included
    "lone surrogate in a comment": (
        lambda api: raw_json(api, "post", VOTES, '{"vote": "yes", "comment": "\\ud800"}', "qa"),
        422,
        "comment",
    ),
    "lone surrogate in a flag key": (
        lambda api: raw_json(api, "post", "/api/v1/sdk/evaluate", '{"flag": "\\udfff", "context": {}}', "sdk"),
        422,
        "flag",
    ),
    "lone surrogate in an OFREP context": (
        lambda api: raw_json(
            api, "post", "/ofrep/v1/evaluate/flags/checkout", '{"context": {"targetingKey": "\\ud83d"}}', "sdk"
        ),
        422,
        "context.targetingKey",
    ),
    "lone surrogate in a yaml name": (
        lambda api: yaml_put(api, GOOD_YAML.replace("name: Checkout", 'name: "\\ud800"')),
        422,
        "name",
    ),
    "lone surrogate in a mapping key": (
        lambda api: raw_json(api, "post", VOTES, '{"vote": "yes", "\\udc00": 1}', "qa"),
        422,
        None,
    ),
    # NUL characters, refused alike by both stores
    "NUL in an incident title": (
        lambda api: raw_json(api, "post", "/api/v1/incidents", '{"title": "a\\u0000b", "severity": 3}', "reporter"),
        422,
        "title",
    ),
    "NUL in a dedup key": (
        lambda api: raw_json(
            api, "post", "/api/v1/incidents", '{"title": "t", "severity": 3, "dedup_key": "\\u0000"}', "reporter"
        ),
        422,
        "dedup_key",
    ),
    "NUL in a token name": (
        lambda api: raw_json(api, "post", "/api/v1/tokens", '{"name": "ci\\u0000", "role": "qa"}', "admin"),
        422,
        "name",
    ),
    "NUL in a kill reason": (
        lambda api: raw_json(api, "post", "/api/v1/features/checkout/kill", '{"reason": "\\u0000"}', "release"),
        422,
        "reason",
    ),
    "NUL in a yaml description": (
        lambda api: yaml_put(api, GOOD_YAML + 'description: "a\\0b"\n'),
        422,
        "description",
    ),
    "NUL in a query": (lambda api: api.get("/api/v1/audit?feature=a%00b"), 422, "feature"),
    "NUL in a path": (lambda api: api.get("/api/v1/features/check%00out"), 404, None),
    "NUL in a dashboard path": (lambda api: api.client.get("/features/check%00out"), 404, None),
    # depth and size
    "json nested 5000 deep": (lambda api: raw_json(api, "post", VOTES, nested_json(5000), "qa"), 422, None),
    "json nested 65 deep": (lambda api: raw_json(api, "post", VOTES, nested_json(64), "qa"), 422, None),
    "yaml nested 5000 deep": (lambda api: yaml_put(api, GOOD_YAML + "description: " + "[" * 5000), 422, None),
    "yaml nested 65 deep": (
        lambda api: yaml_put(api, GOOD_YAML + "description: " + "[" * 65 + "]" * 65 + "\n"),
        422,
        None,
    ),
    "json integer of 5000 digits": (
        lambda api: raw_json(api, "post", "/api/v1/incidents", '{"title": "t", "severity": ' + HUGE + "}", "reporter"),
        422,
        None,
    ),
    "json integer of 31 digits": (
        lambda api: raw_json(
            api, "post", "/api/v1/features/checkout/rollout", '{"percent": ' + "1" * 31 + "}", "release"
        ),
        422,
        None,
    ),
    "json float of 5000 digits": (
        lambda api: raw_json(
            api, "post", "/api/v1/features/checkout/rollout", '{"percent": 0.' + HUGE + "}", "release"
        ),
        422,
        None,
    ),
    "json NaN": (
        lambda api: raw_json(api, "post", "/api/v1/features/checkout/rollout", '{"percent": NaN}', "release"),
        400,
        None,
    ),
    "yaml integer of 5000 digits": (
        lambda api: yaml_put(api, GOOD_YAML.replace("ring: internal}", "ring: internal, required_yes: " + HUGE + "}")),
        422,
        None,
    ),
    "yaml set as a mapping key": (lambda api: yaml_put(api, GOOD_YAML + "? !!set {a: null}\n: 1\n"), 422, None),
    "yaml integer mapping key": (lambda api: yaml_put(api, GOOD_YAML + "1: one\n"), 422, None),
    "201 criteria": (
        lambda api: api.as_("product").put(
            "/api/v1/features/checkout/criteria",
            json={
                **FeatureBuilder("checkout").build(),
                "criteria": [{"id": f"c{i}", "description": "d", "ring": "internal"} for i in range(201)],
            },
        ),
        422,
        "criteria",
    ),
    # dates
    "date whose offset leaves the calendar": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "0001-01-01T00:00:00+14:00"}
        ),
        422,
        "committed_at",
    ),
    "date before 1970": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "1969-12-31T23:59:59Z"}
        ),
        422,
        "committed_at",
    ),
    "date in year 10000": (
        lambda api: api.as_("reporter").post(
            "/api/v1/features/checkout/changes", json={"sha": "abc", "committed_at": "10000-01-01T00:00:00Z"}
        ),
        422,
        "committed_at",
    ),
    # keys and criterion ids: the whole text matches
    "feature key with a trailing newline": (
        lambda api: yaml_put(api, GOOD_YAML.replace("feature: checkout", 'feature: "checkout\\n"')),
        422,
        "feature",
    ),
    "criterion id with a trailing newline": (
        lambda api: yaml_put(api, GOOD_YAML.replace("id: unit", 'id: "unit\\n"')),
        422,
        "criteria[0].id",
    ),
    # bodies sent chunked obey the size limit and the media type
    "chunked body over 1 MiB": (
        lambda api: chunked(
            api, "/api/v1/features/checkout/kill", b'{"reason": "' + b"x" * (1024 * 1024) + b'"}', "application/json"
        ),
        413,
        None,
    ),
    "chunked text/plain kill": (
        lambda api: chunked(api, "/api/v1/features/checkout/kill", b"now", "text/plain"),
        415,
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_refused_with_a_problem_and_changes_nothing(api: Api, database_url: str, case: str) -> None:
    assert_refused_and_unchanged(api, database_url, *CASES[case], pages=True)


def test_a_chunked_body_within_the_limit_is_read_whole(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    reason = "r" * 1500
    body = json.dumps({"reason": reason}).encode()
    r = chunked(api, "/api/v1/features/checkout/kill", body, "application/json")
    assert r.status_code == 200, r.json
    audit = api.get("/api/v1/audit?feature=checkout").json
    assert audit[0]["action"] == "kill" and reason in json.dumps(audit[0]["after"])


def test_document_limits_let_the_largest_allowed_document_through(api: Api) -> None:
    r = raw_json(
        api, "post", "/api/v1/sdk/evaluate", '{"flag": "x", "context": {"groups": ["a"], "n": ' + "9" * 30 + "}}", "sdk"
    )
    assert r.status_code == 200 and r.json["reason"] == "UNKNOWN_FLAG"
    r = raw_json(
        api, "post", "/api/v1/sdk/evaluate", '{"flag": "x", "context": {"deep": ' + "[" * 62 + "]" * 62 + "}}", "sdk"
    )
    assert r.status_code == 200


def test_an_incident_says_which_channels_were_queued(api: Api) -> None:
    """No pager and no SMTP configured here: nothing can be queued, and the answer says so."""
    for severity in (0, 1, 2, 3):
        r = api.as_("reporter").post("/api/v1/incidents", json={"title": "t", "severity": severity})
        assert r.status_code == 201 and r.json["notified"] == "none"
