"""The dashboard in a real headless Chromium (Debian's), driven by Playwright, against a real `gate serve`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import Served, start_gate
from tests.support import ROOT, FeatureBuilder

pytestmark = pytest.mark.integration


@pytest.fixture
def gate(database_url: str, tmp_path: Path) -> Iterator[Served]:
    served = start_gate(database_url, tmp_path, workers=2)
    yield served
    served.stop()


def shot(page: Any, name: str, tmp: Path, *, full_page: bool = True) -> None:
    """Save a screenshot; with GATE_SCREENSHOTS=1 into docs/screenshots for the README."""
    folder = ROOT / "docs" / "screenshots" if os.environ.get("GATE_SCREENSHOTS") else tmp
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def _as(gate: Served, secret: str) -> Any:
    """The snapshot as an SDK holding `secret` would fetch it."""
    import requests

    return requests.get(gate.url + "/api/v1/sdk/snapshot", headers=gate.headers(secret), timeout=10)


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/")
    assert "/login" in page.url
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_release_walked_through_in_the_browser(gate: Served, browser: Any, tmp_path: Path) -> None:
    qa, release = gate.token("alice", "qa"), gate.token("rita", "release")
    doc = FeatureBuilder("checkout-v2", name="New checkout flow").criterion("unit-tests", ring="internal")
    doc.criterion("e2e-browsers", ring="preview", required_yes=2)
    assert gate.call("PUT", "/api/v1/features/checkout-v2/criteria", json=doc.build()).status_code == 200
    assert (
        gate.call(
            "PUT", "/api/v1/features/search/criteria", json=FeatureBuilder("search", owner="discovery").build()
        ).status_code
        == 200
    )
    page = browser.new_page()

    sign_in(page, gate.url, qa)
    board = page.get_by_role("table")
    assert board.get_by_role("row", name="checkout-v2").get_by_text("✗ internal: 1 check failing").is_visible()
    assert page.get_by_role("row", name="search").get_by_text("✓ internal gate passes").is_visible()
    page.get_by_label("Owner").select_option("discovery")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("row", name="checkout-v2").count() == 0
    shot(page, "board-filtered", tmp_path)

    page.goto(gate.url + "/features/checkout-v2")
    assert page.get_by_role("heading", name="Gate for internal: ✗ refused").is_visible()
    assert page.get_by_text("criterion:unit-tests — 0 of 1 yes vote").is_visible()
    assert page.get_by_role("button", name="Promote").count() == 0  # QA may vote, not promote
    unit = page.locator("#criterion-unit-tests")
    unit.get_by_label("yes").check()
    unit.get_by_label("Comment").fill("97% line coverage")
    unit.get_by_role("button", name="Vote").click()
    assert page.get_by_role("status").get_by_text("Voted yes on unit-tests.").is_visible()
    assert page.get_by_role("heading", name="Gate for internal: ✓ passes").is_visible()
    assert page.locator("#criterion-unit-tests").get_by_role("cell", name="97% line coverage").is_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, gate.url, release)
    page.goto(gate.url + "/features/checkout-v2")
    page.get_by_role("button", name="Promote").click()
    assert page.get_by_role("status").get_by_text("Promoted to internal.").is_visible()
    assert page.get_by_text("internal at 100%", exact=True).is_visible()
    assert page.get_by_role("cell", name="promoted: off → internal at 100%").is_visible()  # the timeline, in words
    assert page.get_by_role("heading", name="Gate for preview: ✗ refused").is_visible()
    page.get_by_role("button", name="Promote").click()  # preview wants soak and two votes: refused, with reasons
    assert page.get_by_role("alert").get_by_text("the gate for preview did not pass").is_visible()
    assert page.get_by_text("criterion:e2e-browsers — 0 of 2 yes votes").first.is_visible()
    shot(page, "feature", tmp_path)

    page.goto(gate.url + "/")
    row = page.get_by_role("row", name="checkout-v2")
    assert row.get_by_role("cell", name="● on").count() == 1 and row.get_by_role("cell", name="○ off").count() == 2
    shot(page, "board", tmp_path)

    r = gate.call(
        "POST", "/api/v1/incidents", json={"title": "payments failing", "severity": 1, "feature": "checkout-v2"}
    )
    assert r.status_code == 201
    page.reload()
    killed_row = page.get_by_role("row", name="checkout-v2")
    # killed where it had reached (internal); the rings it never reached stay off
    assert killed_row.get_by_role("cell", name="⨯ killed").count() == 1
    assert killed_row.get_by_role("cell", name="○ off").count() == 2

    page.get_by_role("link", name="Incidents").click()
    incident = page.get_by_role("row", name=f"#{r.json()['id']} payments failing")
    assert incident.get_by_text("SEV1").is_visible() and incident.get_by_text("min left").is_visible()
    shot(page, "incidents", tmp_path)

    from datetime import UTC, datetime, timedelta

    committed = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    assert (
        gate.call(
            "POST", "/api/v1/features/search/changes", json={"sha": "9f1c2e", "committed_at": committed}
        ).status_code
        == 201
    )
    for ring in ("internal", "preview", "ga"):
        assert (
            gate.call(
                "POST", "/api/v1/features/search/promote", json={"ring": ring, "override_reason": "demo"}
            ).status_code
            == 200
        )
    page.get_by_role("link", name="DORA").click()
    assert page.get_by_role("heading", name="Change fail rate").is_visible()
    assert page.get_by_text("1 deployment on 1 day").is_visible()
    assert page.get_by_text("over 1 change").is_visible()
    assert page.get_by_role("img", name="Deployments per week").is_visible()
    shot(page, "dora", tmp_path)

    page.get_by_role("link", name="Rings").click()
    assert page.get_by_role("row", name="preview").get_by_text("tenants: fabrikam, northwind").is_visible()
    shot(page, "rings", tmp_path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sign_in_refuses_bad_and_sdk_tokens(gate: Served, browser: Any) -> None:
    page = browser.new_page()
    page.goto(gate.url + "/login")
    page.get_by_label("API token").fill("gate_wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").get_by_text("That token is unknown or revoked.").is_visible()
    page.get_by_label("API token").fill(gate.token("svc", "sdk"))
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").get_by_text("SDK tokens cannot sign in").is_visible()
    cookies = {c["name"]: c for c in browser.cookies()}
    assert cookies["gate_session"]["httpOnly"] is True and cookies["gate_session"]["sameSite"] == "Lax"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_on_call_runs_an_incident_from_a_phone(gate: Served, browser: Any, tmp_path: Path) -> None:
    """At 390 px: report, acknowledge, RCA, resolve; a kill needs its box ticked; no page scrolls sideways."""
    assert gate.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
    assert gate.call("POST", "/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"}).ok
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, gate.url, gate.admin)

    page.goto(gate.url + "/incidents")
    report = page.locator("#report")
    report.get_by_label("What is wrong").fill("checkout slow")
    report.get_by_label("Severity").select_option("2")
    report.get_by_label("Feature key (optional)").fill("checkout")
    report.get_by_role("button", name="Report").click()
    assert page.get_by_role("status").get_by_text("Incident #1 opened").is_visible()
    row = page.locator("#incident-1")
    assert row.get_by_text("23 h 59 min left").is_visible()
    row.get_by_role("button", name="Acknowledge").click()
    assert page.get_by_role("status").get_by_text("Acknowledged.").is_visible()
    row = page.locator("#incident-1")
    row.get_by_label("RCA item").fill("alert on p95 latency")
    row.get_by_role("button", name="Add").click()
    assert page.get_by_role("status").get_by_text("RCA item #1 added.").is_visible()
    shot(page, "incidents-phone", tmp_path)
    page.locator("#incident-1").get_by_role("button", name="Close").click()
    assert page.get_by_role("status").get_by_text("RCA item closed.").is_visible()
    page.locator("#incident-1").get_by_role("button", name="Resolve").click()  # the box is not ticked: the
    assert page.locator("#incident-1").count() == 1  # browser does not send the form
    page.locator("#incident-1").get_by_label("restored").check()
    page.locator("#incident-1").get_by_role("button", name="Resolve").click()
    assert page.get_by_role("status").get_by_text("Incident #1 resolved.").is_visible()
    assert gate.call("GET", "/api/v1/incidents/1").json()["resolved_at"] is not None

    page.goto(gate.url + "/features/checkout")
    kill = page.locator("form.danger")
    kill.get_by_label("Kill reason").fill("payments failing")
    kill.get_by_role("button", name="Kill now").click()
    assert gate.call("GET", "/api/v1/features/checkout").json()["state"]["killed"] is False  # not confirmed
    kill.get_by_label("I am sure").check()
    kill.get_by_role("button", name="Kill now").click()
    assert page.get_by_role("status").get_by_text("Killed.").is_visible()
    assert gate.call("GET", "/api/v1/features/checkout").json()["state"]["killed"] is True
    shot(page, "feature-phone", tmp_path)

    page.get_by_role("link", name="Tokens").click()
    form = page.locator("#create-token")
    form.get_by_label("Name (who or what uses it)").fill("checkout-svc")
    form.get_by_label("sdk", exact=True).check()  # roles are boxes: a token may hold several
    form.get_by_label("Owners it may write to (comma-separated; empty: every owner)").fill("payments")
    form.get_by_label("Expires after (days; empty: never)").fill("90")
    form.get_by_role("button", name="Create").click()
    secret = page.locator("#new-secret code").inner_text()
    assert secret.startswith("gate_") and _as(gate, secret).ok
    shot(page, "tokens-phone", tmp_path)
    page.goto(gate.url + "/admin/tokens")  # the list again: the secret is gone for good
    assert page.locator("#new-secret").count() == 0 and secret not in page.content()
    row = page.get_by_role("row", name="checkout-svc")
    assert "payments" in row.inner_text() and "expires " in row.inner_text()
    row.get_by_label("I am sure").check()
    row.get_by_role("button", name="Revoke").click()
    assert page.get_by_role("status").get_by_text("Token checkout-svc revoked").is_visible()
    assert _as(gate, secret).status_code == 401
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Action").fill("kill")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role(
        "cell", name="killed: internal at 100% → internal at 100% (killed) (payments failing)"
    ).is_visible()
    assert page.get_by_text("revoked token").count() == 0  # filtered to kills
    shot(page, "audit-phone", tmp_path)

    for path in ("/", "/features/checkout", "/incidents", "/dora", "/rings", "/admin/tokens", "/admin/audit"):
        page.goto(gate.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at 390 px"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_api_reference_renders_in_the_browser(gate: Served, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text and "script" in m.text else None,
    )
    page.goto(gate.url + "/api/docs")
    page.get_by_text("/api/v1/features/{key}/promote").first.wait_for(timeout=10_000)
    assert page.get_by_text("Gate", exact=False).first.is_visible()
    assert blocked == []  # every script came from the server itself
    shot(page, "api-reference", tmp_path, full_page=False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_release_manager_runs_a_plan_from_the_browser(database_url: str, browser: Any, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2, env={"GATE_PLAN_INTERVAL_SECONDS": "0.3"})
    try:
        plan = {
            "steps": [
                {"ring": "internal"},
                {"ring": "preview", "percent": 10, "hold": "1h"},
                {"ring": "preview"},
                {"ring": "ga", "percent": 5, "hold": "1d"},
                {"ring": "ga"},
            ],
            "on_incident": "rollback",
            "windows": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "timezone": "Europe/Berlin"},
        }
        doc = FeatureBuilder("search-v2", name="Faster search", owner="discovery").criterion("unit-tests")
        assert served.call("PUT", "/api/v1/features/search-v2/criteria", json=doc.with_(plan=plan).build()).ok
        qa, release = served.token("alice", "qa"), served.token("rita", "release")
        import requests

        voted = requests.post(
            served.url + "/api/v1/features/search-v2/criteria/unit-tests/votes",
            json={"vote": "yes"},
            headers=served.headers(qa),
            timeout=10,
        )
        assert voted.status_code == 201
        page = browser.new_page()
        sign_in(page, served.url, release)
        page.goto(served.url + "/features/search-v2")
        assert page.get_by_role("heading", name="Release plan: idle").is_visible()
        page.get_by_role("button", name="Start plan").click()
        assert page.get_by_role("status").get_by_text("Plan started.").is_visible()
        page.wait_for_timeout(1500)  # the checker takes the first step within a check or two
        page.reload()
        steps = page.locator(".plan-steps")
        assert steps.locator(".step.current").get_by_text("internal at 100%").is_visible()
        assert steps.locator(".step.next").get_by_text("soak: served").is_visible()
        shot(page, "feature-plan", tmp_path)
        page.goto(served.url + "/")
        assert page.get_by_role("row", name="search-v2").get_by_text("▶ plan running").is_visible()
        page.goto(served.url + "/features/search-v2")
        page.get_by_role("button", name="Pause plan").click()
        assert page.get_by_role("heading", name="Release plan: paused").is_visible()
        assert page.get_by_role("button", name="Resume plan").is_visible()
    finally:
        served.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_evidence_and_its_chart_read_in_the_browser(gate: Served, browser: Any, tmp_path: Path) -> None:
    doc = (
        FeatureBuilder("checkout-v2", name="New checkout flow")
        .criterion("unit-tests", evidence={"kind": "coverage", "min": 95})
        .criterion("security-scan", evidence={"kind": "findings", "max": {"error": 0, "warning": 10}})
        .criterion("e2e", evidence={"kind": "tests", "min_passed": 3}, required_yes=1)
    )
    assert gate.call("PUT", "/api/v1/features/checkout-v2/criteria", json=doc.build()).status_code == 200
    ci = gate.token("pipeline", "ci")

    def report(criterion: str, body: str, media: str, build: str) -> None:
        r = requests.post(
            f"{gate.url}/api/v1/features/checkout-v2/criteria/{criterion}/evidence",
            params={"build": build, "link": f"https://ci.example.org/runs/{build}"},
            data=body.encode(),
            headers={**gate.headers(ci), "Content-Type": media},
            timeout=10,
        )
        assert r.status_code == 201, r.text

    for i, percent in enumerate((91.5, 93.0, 94.2, 96.1, 97.3)):
        lines = 1000
        report("unit-tests", f'<coverage lines-valid="{lines}" lines-covered="{int(percent * 10)}"/>',
               "application/xml", f"b{i}")  # fmt: skip
        sarif = {"version": "2.1.0", "runs": [{"results": [{"level": "error"}] * (2 - min(i, 2)) + [{}] * (i + 1)}]}
        report("security-scan", json.dumps(sarif), "application/sarif+json", f"b{i}")
    report("e2e", '<testsuite tests="4" failures="1"/>', "text/xml", "b4")

    page = browser.new_page()
    sign_in(page, gate.url, gate.admin)
    page.goto(gate.url + "/features/checkout-v2")
    unit = page.locator("#evidence-unit-tests")
    assert unit.get_by_text("✓ passes: coverage 97.30% ≥ 95%").is_visible()
    assert unit.get_by_role("link", name="CI run").get_attribute("href") == "https://ci.example.org/runs/b4"
    chart = unit.get_by_role("img", name="unit-tests: coverage % over the last 5 builds")
    assert chart.is_visible()
    # readable without sight or script: the description holds every build's value and verdict
    described = page.locator("#e-unit-tests-d").text_content() or ""
    assert described.startswith("build b0: 91.50% (fails); build b1: 93.00% (fails)")
    assert "build b4: 97.30% (passes)" in described
    assert unit.locator("text.failmark").count() == 3  # the failing builds are marked, not only coloured
    scan = page.locator("#evidence-security-scan")
    assert scan.get_by_role("img", name="security-scan: findings over the last 5 builds").is_visible()
    assert "build b0: 2 error, 1 warning, 0 note (fails)" in (page.locator("#e-security-scan-d").text_content() or "")
    assert page.locator("#criterion-e2e").get_by_text("1 failed > 0").first.is_visible()
    assert page.get_by_text("criterion:unit-tests — coverage 97.30% ≥ 95% (build b4").is_visible()
    shot(page, "feature-evidence", tmp_path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_milestones_page_reads_in_the_browser(gate: Served, browser: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    for key, parts in (
        ("checkout-v2", [("payments-api", "platform", -6, True), ("ledger", "blockchain", -3, False)]),
        ("wallet", [("custody", "blockchain", 9, False), ("kyc-service", "platform", 4, True)]),
    ):
        doc = FeatureBuilder(key).criterion("e2e-integration", ring="preview")
        for cid, _, _, _ in parts:
            doc.criterion(f"{cid}-contract")
        doc.with_(
            components=[
                {
                    "id": cid,
                    "team": team,
                    "due": day(offset),
                    "criteria": [f"{cid}-contract"],
                    "contract": f"https://git.example/{team}/{cid}/openapi.yaml",
                }
                for cid, team, offset, _ in parts
            ],
            integration={"criterion": "e2e-integration"},
        )
        assert gate.call("PUT", f"/api/v1/features/{key}/criteria", json=doc.build()).status_code == 200
        for cid, _, _, delivered in parts:
            if delivered:
                assert gate.call(
                    "POST", f"/api/v1/features/{key}/criteria/{cid}-contract/votes", json={"vote": "yes"}
                ).ok
    page = browser.new_page()
    sign_in(page, gate.url, gate.admin)
    page.get_by_role("link", name="Milestones").click()
    assert page.get_by_role("heading", name="Milestones").is_visible()
    chart = page.get_by_role("img", name=f"checkout-v2: components against today, {today.isoformat()}")
    assert chart.is_visible()
    described = page.locator("#m-checkout-v2-d").text_content() or ""
    assert f"ledger (blockchain): late by 3 days, due {day(-3)}" in described
    assert f"payments-api (platform): delivered {today.isoformat()}" in described
    row = page.get_by_role("row", name="ledger")
    assert row.get_by_text("✗ late by 3 days").is_visible()  # a glyph and words, not only a colour
    assert page.get_by_role("row", name="kyc-service").get_by_text("✓ delivered").is_visible()
    assert page.get_by_role("row", name="custody").get_by_text("○ pending").is_visible()
    shot(page, "milestones", tmp_path)
    page.get_by_label("Team").select_option("blockchain")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("row", name="payments-api").count() == 0
    assert page.get_by_role("row", name="custody").is_visible() and page.get_by_role("row", name="ledger").is_visible()
