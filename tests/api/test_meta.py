"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.support import Api


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_metrics_are_in_prometheus_text_format(api: Api, client: FlaskClient) -> None:
    api.get("/api/v1/rings")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.content_type.startswith("text/plain")
    assert b'gate_http_requests_total{endpoint="meta.list_rings",method="GET",status="200"}' in r.data


def test_the_openapi_document_covers_every_route(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    routes = [
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/", "/ofrep/", "/healthz", "/readyz", "/metrics"))
        and rule.endpoint != "api-docs.openapi_json"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    ]
    assert len(routes) >= 39
    for path, method in routes:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not in the OpenAPI document"
        if not path.startswith(("/healthz", "/readyz", "/metrics")):
            assert paths[path][method].get("security") == [{"bearer": []}], path
    vote = paths["/api/v1/features/{key}/criteria/{criterion}/votes"]["post"]
    assert "201" in vote["responses"] and vote["security"] == [{"bearer": []}]
    body = vote["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/VoteIn")
    assert doc["components"]["schemas"]["VoteIn"]["properties"]["vote"]["enum"] == ["yes", "no"]
    put = paths["/api/v1/features/{key}/criteria"]["put"]["requestBody"]["content"]
    assert set(put) == {"application/yaml", "application/json"}
