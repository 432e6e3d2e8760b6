"""Sign-in through the identity provider end to end: a real `gate serve` (gunicorn, two workers), a real
certified provider (panva's oidc-provider under Node) and a real headless Chromium at both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.idp import IdentityProvider
from tests.integration.conftest import Served, free_port, start_gate, wait_for
from tests.integration.test_dashboard_browser import shot
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


@pytest.fixture
def signed_on(database_url: str, tmp_path: Path) -> Iterator[tuple[Served, IdentityProvider]]:
    port = free_port()  # the provider must know Gate's redirect URI before Gate starts
    idp = IdentityProvider([f"http://127.0.0.1:{port}/auth/oidc/callback"]).start()
    gate = None
    try:
        gate = start_gate(database_url, tmp_path, port=port, env=idp.environment())
        yield gate, idp
    finally:
        if gate is not None:
            gate.stop()
        idp.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_person_signs_in_through_the_provider_in_a_browser_and_votes_as_themselves(
    signed_on: tuple[Served, IdentityProvider], browser: Any, tmp_path: Path
) -> None:
    gate, idp = signed_on
    doc = FeatureBuilder("checkout-v2", name="New checkout flow").criterion("unit-tests", ring="internal")
    assert gate.call("PUT", "/api/v1/features/checkout-v2/criteria", json=doc.build()).status_code == 200
    page = browser.new_page()
    page.goto(gate.url + "/features/checkout-v2")
    assert "/login" in page.url
    sso = page.get_by_role("link", name="Sign in with your company account")
    assert sso.is_visible() and page.get_by_label("API token").is_visible()
    shot(page, "signin-sso", tmp_path, full_page=False)
    sso.click()
    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/interaction/.*"))
    page.locator("input[name=login]").fill("alice@example.com")
    page.locator("input[name=password]").fill("whatever")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # consent to Gate reading the email and groups
    page.wait_for_url(gate.url + "/features/checkout-v2")
    assert page.get_by_text("alice@example.com").first.is_visible()
    unit = page.locator("#criterion-unit-tests")
    unit.get_by_label("yes").check()
    unit.get_by_role("button", name="Vote").click()
    assert page.get_by_role("status").get_by_text("Voted yes on unit-tests.").is_visible()
    votes = gate.call("GET", "/api/v1/features/checkout-v2").json()["criteria"][0]["votes"]
    assert [(v["voter"], v["vote"]) for v in votes] == [("alice@example.com", "yes")]
    audit = gate.call("GET", "/api/v1/audit?feature=checkout-v2&action=vote").json()
    assert [a["actor"] for a in audit] == ["alice@example.com"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(gate.url + "/login")
    page.goto(gate.url + "/")
    assert "/login" in page.url  # the session ended on the server
    assert "Traceback" not in gate.log.read_text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_provider_away_at_start_is_said_once_and_tokens_still_sign_in(database_url: str, tmp_path: Path) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    gate = start_gate(database_url, tmp_path, env=IdentityProvider([]).environment(OIDC_ISSUER=away))
    try:
        qa = gate.token("alice", "qa")
        browser = requests.Session()
        for _ in range(4):  # each worker, more than once
            page = browser.get(gate.url + "/login", timeout=10).text
            assert "Single sign-on is unavailable for now" in page
        assert browser.get(gate.url + "/auth/oidc/login", allow_redirects=False, timeout=10).status_code == 302
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get(gate.url + "/login", timeout=10).text)
        assert csrf
        answer = browser.post(gate.url + "/login", data={"token": qa, "csrf": csrf.group(1)}, timeout=10)
        assert answer.ok and "alice" in answer.text
        log = gate.log.read_text()
        assert log.count(f"the identity provider {away} cannot be reached") == 1
        assert "Traceback" not in log
    finally:
        gate.stop()
    assert wait_for(lambda: gate.process.poll() is not None)
