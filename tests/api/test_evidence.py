"""Evidence through the API (contract §8.2): reports that real tools wrote decide criteria beside QA votes, per
build, within an age; bad reports are refused and change nothing."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from gate.extensions import db
from tests.reports import RealReports, real_reports  # noqa: F401 - the fixture
from tests.support import Api, Clock, FeatureBuilder, dump_store

URL = "/api/v1/features/pay/criteria/{}/evidence"


def pay(api: Api) -> None:
    api.apply(
        FeatureBuilder("pay")
        .criterion("unit", evidence={"kind": "coverage", "min": 95})
        .criterion("e2e", evidence={"kind": "tests", "min_passed": 2, "max_failed": 0}, required_yes=1)
        .criterion("scan", ring="preview", evidence={"kind": "findings", "max": {"error": 0, "warning": 10}})
        .criterion("load", ring="ga", evidence={"kind": "measure", "name": "checkout_p95_ms", "max": 250}, max_age="7d")
        .criterion("manual", ring="ga")
    )


def checks(api: Api, ring: str = "ga", **query: str) -> dict[str, tuple[bool, str]]:
    body = api.get("/api/v1/features/pay/gate", query_string={"ring": ring, **query}).json
    return {c["name"]: (c["passed"], c["detail"]) for c in body["checks"] if c["name"].startswith("criterion:")}


def test_each_real_report_is_read_judged_and_answered(api: Api, real_reports: RealReports) -> None:  # noqa: F811
    pay(api)
    r = api.evidence(
        "pay", "unit", real_reports.cobertura.read_bytes(), "application/xml", link="https://ci.example/run/7"
    )
    assert r.status_code == 201, r.json
    percent = json.loads(real_reports.coverage_json.read_text())["totals"]["percent_covered"]
    assert r.json["summary"]["percent"] == pytest.approx(percent)
    assert percent < 95  # the module leaves a function uncovered
    assert {k: r.json[k] for k in ("criterion", "build", "kind", "passed", "detail", "link")} == {
        "criterion": "unit",
        "build": "1a2b3c",
        "kind": "coverage",
        "passed": False,
        "detail": f"coverage {percent:.2f}% < 95%",
        "link": "https://ci.example/run/7",
    }
    assert set(r.json) == {"id", "feature", "criterion", "revision", "current_revision", "build", "kind", "format",
                           "summary", "passed", "detail", "link", "reporter", "at"}  # fmt: skip
    for path, media in ((real_reports.coverage_json, "application/json"), (real_reports.lcov, "text/plain")):
        again = api.evidence("pay", "unit", path.read_bytes(), media)
        assert again.status_code == 201 and again.json["summary"]["percent"] == pytest.approx(percent)
    junit = api.evidence("pay", "e2e", real_reports.junit.read_bytes(), "text/xml")
    assert (junit.json["summary"], junit.json["passed"]) == ({"passed": 2, "failed": 2, "skipped": 1}, False)
    assert junit.json["detail"] == "2 failed > 0"
    sarif = api.evidence("pay", "scan", real_reports.sarif.read_bytes(), "application/sarif+json")
    assert (sarif.json["summary"], sarif.json["passed"]) == ({"error": 1, "warning": 0, "note": 1}, False)
    measures = api.evidence(
        "pay", "load", json.dumps({"measures": {"checkout_p95_ms": 231, "rps": 9}}), "application/json"
    )
    assert (measures.json["summary"], measures.json["detail"]) == (
        {"checkout_p95_ms": 231.0},
        "checkout_p95_ms 231 ≤ 250",
    )


def test_the_gate_hears_evidence_beside_votes_and_says_what_is_missing(api: Api, clock: Clock) -> None:
    pay(api)
    assert checks(api)["criterion:unit"] == (False, "no evidence yet")
    assert checks(api)["criterion:e2e"] == (False, "no evidence yet; 0 of 1 yes vote")
    api.evidence("pay", "unit", '<coverage lines-valid="1000" lines-covered="934"/>', "application/xml")
    clock.advance(hours=2)
    assert checks(api)["criterion:unit"] == (False, "coverage 93.40% < 95% (build 1a2b3c, 2 h ago)")
    api.evidence("pay", "unit", '<coverage lines-valid="100" lines-covered="96"/>', "application/xml", build="4d5e6f")
    assert checks(api)["criterion:unit"] == (True, "coverage 96.00% ≥ 95% (build 4d5e6f, 0 s ago)")
    # evidence and a QA yes: both parts, each said
    api.evidence("pay", "e2e", '<testsuite tests="3"/>', "application/xml", build="4d5e6f")
    assert checks(api)["criterion:e2e"] == (
        False,
        "3 passed, 0 failed, 0 skipped (build 4d5e6f, 0 s ago); 0 of 1 yes vote",
    )
    api.as_("qa").vote("pay", "e2e", "yes")
    assert checks(api)["criterion:e2e"][0] is True
    # a no blocks a criterion that asks for no vote
    api.as_("qa").vote("pay", "unit", "no")
    assert checks(api)["criterion:unit"] == (False, "coverage 96.00% ≥ 95% (build 4d5e6f, 0 s ago); no from alice")


def test_evidence_older_than_max_age_no_longer_counts(api: Api, clock: Clock) -> None:
    pay(api)
    api.evidence("pay", "load", '{"measures": {"checkout_p95_ms": 200}}', "application/json")
    clock.advance(days=7)
    assert checks(api)["criterion:load"] == (True, "checkout_p95_ms 200 ≤ 250 (build 1a2b3c, 7 d ago)")
    clock.advance(days=2)
    assert checks(api)["criterion:load"] == (False, "evidence from 9 d ago is older than 7d")


def test_build_judges_only_that_builds_evidence_on_the_gate_and_the_promote(api: Api) -> None:
    api.apply(FeatureBuilder("pay").criterion("unit", evidence={"kind": "coverage", "min": 95}))
    api.evidence("pay", "unit", '<coverage line-rate="0.97"/>', "application/xml", build="good")
    api.evidence("pay", "unit", '<coverage line-rate="0.90"/>', "application/xml", build="bad")
    assert checks(api, "internal")["criterion:unit"][0] is False  # the latest is the bad build
    assert checks(api, "internal", build="good")["criterion:unit"] == (
        True,
        "coverage 97.00% ≥ 95% (build good, 0 s ago)",
    )
    assert checks(api, "internal", build="other")["criterion:unit"] == (False, "no evidence for build other yet")
    refused = api.promote("pay", "internal", build="bad")
    assert refused.status_code == 409 and "coverage 90.00% < 95%" in refused.json["detail"]
    assert api.promote("pay", "internal").status_code == 409
    assert api.promote("pay", "internal", build="good").status_code == 200


def test_a_changed_evidence_spec_voids_older_evidence_as_a_changed_criterion_voids_votes(api: Api) -> None:
    api.apply(FeatureBuilder("pay").criterion("unit", evidence={"kind": "coverage", "min": 90}))
    api.evidence("pay", "unit", '<coverage line-rate="0.93"/>', "application/xml")
    assert checks(api, "internal")["criterion:unit"][0] is True
    api.apply(FeatureBuilder("pay").criterion("unit", evidence={"kind": "coverage", "min": 90}))  # the same: kept
    assert checks(api, "internal")["criterion:unit"][0] is True
    api.apply(FeatureBuilder("pay").criterion("unit", evidence={"kind": "coverage", "min": 95}))
    assert checks(api, "internal")["criterion:unit"] == (False, "no evidence yet")
    api.apply(FeatureBuilder("pay").criterion("unit", evidence={"kind": "coverage", "min": 95}, max_age="1d"))
    history = api.get(URL.format("unit")).json
    assert [(e["revision"], e["current_revision"]) for e in history] == [(1, False)]
    feature = api.get("/api/v1/features/pay").json["criteria"][0]
    assert (feature["revision"], feature["evidence"], feature["max_age"], feature["required_yes"]) == (
        3,
        {"kind": "coverage", "min": 95.0},
        "1d",
        0,
    )
    assert (feature["passed"], feature["detail"]) == (False, "no evidence yet")


def test_the_listing_is_newest_first_and_filters_by_build(api: Api) -> None:
    pay(api)
    for build, rate in (("a", "0.96"), ("b", "0.91"), ("a", "0.97")):
        api.evidence("pay", "unit", f'<coverage line-rate="{rate}"/>', "application/xml", build=build)
    listed = api.as_("qa").get(URL.format("unit")).json
    assert [(e["build"], e["summary"]["percent"], e["reporter"]) for e in listed] == [
        ("a", 97.0, "ci"),
        ("b", 91.0, "ci"),
        ("a", 96.0, "ci"),
    ]
    assert [e["summary"]["percent"] for e in api.get(URL.format("unit"), query_string={"build": "a"}).json] == [97, 96]
    assert len(api.get(URL.format("unit"), query_string={"limit": 1}).json) == 1
    assert api.get("/api/v1/features/pay/criteria/nope/evidence").status_code == 404


def test_gzip_bodies_are_inflated(api: Api, real_reports: RealReports) -> None:  # noqa: F811
    pay(api)
    r = api.post(
        URL.format("e2e"),
        query_string={"build": "z"},
        data=gzip.compress(real_reports.junit.read_bytes()),
        content_type="application/xml",
        headers={"Content-Encoding": "gzip"},
    )
    assert r.status_code == 201 and r.json["summary"] == {"passed": 2, "failed": 2, "skipped": 1}


def test_the_audit_records_each_report_and_the_webhook_fires_when_the_pass_state_changes(app: Flask, api: Api) -> None:
    pay(api)
    for rate in ("0.90", "0.91", "0.96", "0.97", "0.50"):
        api.evidence("pay", "unit", f'<coverage line-rate="{rate}"/>', "application/xml")
    audit = api.get("/api/v1/audit", query_string={"action": "evidence.report"}).json
    assert [(e["after"]["summary"]["percent"], e["after"]["criterion_passed"]) for e in audit] == [
        (50.0, False),
        (97.0, True),
        (96.0, True),
        (91.0, False),
        (90.0, False),
    ]
    assert audit[0]["actor"] == "ci" and audit[0]["target"] == "criterion:pay/unit"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WEBHOOK_URLS": "http://127.0.0.1:9/hook"}  # queued in the outbox; nothing needs to listen here


def test_webhooks_carry_evidence_report_only_when_the_criterion_changes_state(app: Flask, api: Api) -> None:
    pay(api)
    for rate in ("0.90", "0.91", "0.96", "0.97", "0.50"):
        api.evidence("pay", "unit", f'<coverage line-rate="{rate}"/>', "application/xml")
    with app.app_context():
        rows = db.session.execute(text("SELECT body FROM outbox WHERE kind = 'webhook' ORDER BY id")).scalars()
        payloads = [(json.loads(b) if isinstance(b, str) else b)["payload"] for b in rows]
    sent = [(p["event"], p["detail"]["summary"]["percent"]) for p in payloads if p["event"] == "evidence.report"]
    assert sent == [("evidence.report", 96.0), ("evidence.report", 50.0)]


# ---- refused, and nothing stored ---------------------------------------------------------------------


def bomb() -> bytes:
    return gzip.compress(b"<testsuite>" + b" " * (60 * 1024 * 1024) + b"</testsuite>", compresslevel=9)


@pytest.mark.parametrize(
    ("criterion", "body", "media", "query", "headers", "status", "words"),
    [
        ("unit", "<coverage line-rate='0.9'/>", "application/x-yaml", {}, {}, 415, "send a report as one of"),
        (
            "unit",
            "<coverage line-rate='0.9'/>",
            "application/xml",
            {},
            {"Content-Encoding": "br"},
            415,
            "plain or as gzip",
        ),
        ("unit", "", "application/xml", {}, {}, 422, "the body is empty"),
        ("unit", "<coverage line-rate='0.9'/>", "application/xml", {"build": ""}, {}, 422, "build"),
        ("unit", "<coverage line-rate='0.9'/>", "application/xml", {"build": "x" * 65}, {}, 422, "build"),
        ("unit", "<coverage line-rate='0.9'/>", "application/xml", {"build": "a\x07b"}, {}, 422, "build"),
        ("unit", "<coverage line-rate='0.9'/>", "application/xml", {"link": "javascript:alert(1)"}, {}, 422, "link"),
        ("unit", "<coverage line-rate='0.9'/>", "application/xml", {"link": "file:///etc/passwd"}, {}, 422, "link"),
        ("unit", '<testsuite tests="1"/>', "application/xml", {}, {}, 422, "asks for coverage evidence"),
        ("load", '{"measures": {"other": 1}}', "application/json", {}, {}, 422, "no measure 'checkout_p95_ms'"),
        ("manual", '<testsuite tests="1"/>', "application/xml", {}, {}, 422, "asks for QA votes, not evidence"),
        ("unit", '<!DOCTYPE x [<!ENTITY a "b">]><coverage line-rate="&a;"/>', "application/xml", {}, {}, 422, "DTD"),
        ("unit", '<coverage line-rate="0.9">', "application/xml", {}, {}, 422, "not well-formed"),
        ("scan", '{"runs": []}', "application/sarif+json", {}, {}, 422, "SARIF must be version 2.1.0"),
        ("load", '{"measures": {"checkout_p95_ms": NaN}}', "application/json", {}, {}, 422, "NaN"),
        ("e2e", '<testsuite tests="1" failures="-2"/>', "application/xml", {}, {}, 422, "not a whole number"),
        ("nope", "<coverage/>", "application/xml", {}, {}, 404, "no criterion"),
    ],
)
def test_a_bad_report_is_refused_in_words_and_nothing_is_stored(
    api: Api,
    database_url: str,
    criterion: str,
    body: str,
    media: str,
    query: dict,
    headers: dict,
    status: int,
    words: str,
) -> None:
    pay(api)
    before = dump_store(database_url)
    r = api.as_("ci").post(
        URL.format(criterion),
        query_string={"build": "1a2b3c", **query},
        data=body,
        content_type=media,
        headers=headers,
    )
    assert r.status_code == status, r.json
    assert r.content_type == "application/problem+json" and words in json.dumps(r.json, ensure_ascii=False)
    assert dump_store(database_url) == before


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (lambda: gzip.compress(b'<coverage line-rate="0.9"/>')[:-12], 422, "cut short"),
        (lambda: b"\x1f\x8b\x08\x00garbage" * 3, 422, "gzip body is corrupt"),
        (bomb, 413, "inflates past 52428800 bytes"),
    ],
)
def test_broken_or_bombing_gzip_is_refused(api: Api, database_url: str, body: Any, status: int, words: str) -> None:
    pay(api)
    before = dump_store(database_url)
    r = api.as_("ci").post(
        URL.format("unit"),
        query_string={"build": "b"},
        data=body(),
        content_type="application/xml",
        headers={"Content-Encoding": "gzip"},
    )
    assert (r.status_code, words in r.json["detail"]) == (status, True), r.json
    assert dump_store(database_url) == before


def test_a_body_over_ten_mebibytes_is_413_and_roles_and_owner_scope_hold(api: Api, database_url: str) -> None:
    pay(api)
    before = dump_store(database_url)
    big = b"<testsuite>" + b" " * (10 * 1024 * 1024) + b"</testsuite>"
    assert (
        api.as_("ci")
        .post(URL.format("e2e"), query_string={"build": "b"}, data=big, content_type="text/xml")
        .status_code
        == 413
    )
    for role in ("qa", "release", "sdk"):
        r = api.as_(role).post(
            URL.format("unit"), query_string={"build": "b"}, data="<coverage/>", content_type="text/xml"
        )
        assert r.status_code in (401, 403), role
    outsider = api.token("other-ci", "ci")
    with api.client.application.app_context():
        from gate.services.tokens import create_token

        _, scoped = create_token(name="scoped-ci", roles=["ci"], owners=["search"], actor="test")
    r = api.client.post(
        URL.format("unit"),
        query_string={"build": "b"},
        data='<coverage line-rate="1"/>',
        content_type="text/xml",
        headers={"Authorization": f"Bearer {scoped}"},
    )
    assert r.status_code == 403 and "owned by search" in r.json["detail"]
    assert dump_store(database_url)["evidence"] == before["evidence"]
    assert outsider.evidence("pay", "unit", '<coverage line-rate="1"/>', "text/xml").status_code == 201


def test_xml_naming_an_external_dtd_or_entity_reads_nothing_from_the_network_or_the_disk(
    api: Api, database_url: str, tmp_path: Any
) -> None:
    from tests.receivers import Hook

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    listener = Hook()
    try:
        pay(api)
        before = dump_store(database_url)
        for body in (
            f'<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "{listener.url}"><testsuite tests="1"/>',
            f'<!DOCTYPE t [<!ENTITY % p SYSTEM "{listener.url}"> %p;]><testsuite tests="1"/>',
            f'<!DOCTYPE t [<!ENTITY s SYSTEM "file://{secret}">]><testsuite tests="1" name="&s;"/>',
            '<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><testsuite tests="1" name="&c;"/>',
        ):
            r = api.evidence("pay", "e2e", body, "application/xml")
            assert r.status_code == 422 and "DTD or entities" in r.json["detail"], r.json
            assert "TOP-SECRET" not in r.get_data(as_text=True)
        assert listener.requests == []  # nothing fetched, not even the DTD
        assert dump_store(database_url) == before
    finally:
        listener.close()


def test_openapi_documents_the_upload_with_each_media_type_it_reads(api: Api) -> None:
    document = api.get("/api/v1/openapi.json").json
    upload = document["paths"]["/api/v1/features/{key}/criteria/{criterion}/evidence"]["post"]
    assert sorted(upload["requestBody"]["content"]) == [
        "application/json",
        "application/sarif+json",
        "application/xml",
        "text/plain",
        "text/xml",
    ]
    assert {p["name"] for p in upload["parameters"] if p["in"] == "query"} == {"build", "link"}
    assert upload["security"] == [{"bearer": []}] and "201" in upload["responses"]
