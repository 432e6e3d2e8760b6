"""Sign-in through the company's identity provider (contract 8.4), in-process against a real provider:
panva's certified oidc-provider run by Node (tests/idp.py). Gate's side is the real app; the browser's part at
the provider is played over HTTP. Every attack signs nobody in: no session row, the board sends to sign-in."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gate.config import SignOn
from gate.domain.errors import ParseError
from gate.extensions import db
from gate.models import WebSession
from gate.web import sso
from tests.idp import ROLE_MAP, IdentityProvider, free_port
from tests.support import Api, Clock, FeatureBuilder, csrf, page_text

BASE = "http://gate.test"


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider([f"{BASE}/auth/oidc/callback", "http://localhost/auth/oidc/callback"]).start()
    yield provider
    provider.stop()


@pytest.fixture
def app_config(idp: IdentityProvider) -> dict[str, Any]:
    idp.tamper("none")
    idp.control("claims", in_id_token=False)
    return idp.settings(BASE_URL=BASE)


def sessions(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(WebSession))
        db.session.remove()
        return int(count or 0)


def start(client: FlaskClient, next_page: str = "") -> str:
    """Press the sign-in button: Gate's redirect to the provider."""
    answer = client.get("/auth/oidc/login" + (f"?next={next_page}" if next_page else ""))
    assert answer.status_code == 302, page_text(answer)
    return str(answer.headers["Location"])


def back(client: FlaskClient, callback: str) -> Any:
    """The browser arrives at Gate's callback (the same host as its cookie)."""
    parts = urlsplit(callback)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/auth/oidc/callback"
    return client.get(f"{parts.path}?{parts.query}")


def sign_in_as(app: Flask, idp: IdentityProvider, login: str) -> tuple[FlaskClient, Any]:
    client = app.test_client()
    return client, back(client, idp.authorize(start(client, "/incidents"), login))


def signed_out(client: FlaskClient) -> bool:
    return bool(client.get("/").status_code == 302)


def test_a_person_signs_in_with_pkce_state_and_nonce_and_votes_in_their_own_name(
    app: Flask, api: Api, idp: IdentityProvider
) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    client = app.test_client()
    assert "Sign in with your company account" in page_text(client.get("/login"))
    to_provider = start(client, "/features/checkout")
    asked = parse_qs(urlsplit(to_provider).query)
    assert to_provider.startswith(f"{idp.issuer}/auth?")
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["scope"] == ["openid email profile"] and asked["response_type"] == ["code"]
    assert asked["redirect_uri"] == [f"{BASE}/auth/oidc/callback"] and asked["client_id"] == ["gate"]
    assert len(asked["state"][0]) >= 20 and len(asked["nonce"][0]) >= 20
    before = idp.stats()["userinfo"]
    arrived = back(client, idp.authorize(to_provider, "alice@example.com"))
    assert (arrived.status_code, arrived.headers["Location"]) == (302, "/features/checkout")
    assert idp.stats()["userinfo"] == before + 1  # the ID token held only `sub`: the rest came from userinfo
    page = page_text(client.get("/features/checkout"))
    assert "alice@example.com" in page and "(qa)" in page
    client.post("/features/checkout/criteria/unit/vote", data={"csrf": csrf(client, "/"), "vote": "yes"})
    votes = api.get("/api/v1/features/checkout").json["criteria"][0]["votes"]
    assert [(v["voter"], v["vote"]) for v in votes] == [("alice@example.com", "yes")]
    audit = api.get("/api/v1/audit?feature=checkout").json[0]
    assert (audit["action"], audit["actor"]) == ("vote", "alice@example.com")
    assert (
        client.post("/features/checkout/promote", data={"csrf": csrf(client, "/"), "ring": "internal"}).status_code
        == 403
    )
    assert sessions(app) == 1


def test_several_groups_give_several_roles_and_the_identity_falls_back_to_the_username(
    app: Flask, api: Api, idp: IdentityProvider
) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    carol, _ = sign_in_as(app, idp, "carol@example.com")
    assert "(qa,release)" in page_text(carol.get("/"))
    token = csrf(carol, "/")
    carol.post("/features/checkout/criteria/unit/vote", data={"csrf": token, "vote": "yes"})
    carol.post("/features/checkout/promote", data={"csrf": token, "ring": "internal", "percent": "100"})
    assert api.get("/api/v1/features/checkout").json["state"]["ring"] == "internal"
    assert api.get("/api/v1/audit?feature=checkout").json[0]["actor"] == "carol@example.com"
    idp.control("claims", in_id_token=True)  # a provider that puts the claims in the ID token: no userinfo
    before = idp.stats()["userinfo"]
    erin, arrived = sign_in_as(app, idp, "erin")  # no email: preferred_username
    assert arrived.headers["Location"] == "/incidents"
    assert "erin" in page_text(erin.get("/")) and "(admin)" in page_text(erin.get("/"))
    assert idp.stats()["userinfo"] == before


def test_a_person_whose_groups_map_to_no_role_gets_a_page_saying_so_and_no_session(
    app: Flask, idp: IdentityProvider
) -> None:
    dave, arrived = sign_in_as(app, idp, "dave@example.com")
    assert arrived.status_code == 403
    assert "none of your groups" in page_text(arrived) and "dave@example.com" in page_text(arrived)
    assert signed_out(dave) and sessions(app) == 0


def test_an_identity_gate_cannot_record_signs_nobody_in(app: Flask, idp: IdentityProvider) -> None:
    client, arrived = sign_in_as(app, idp, "mallory")  # an e-mail with a line break: a forged log line
    assert arrived.status_code == 401 and "the provider named nobody Gate can record" in page_text(arrived)
    assert signed_out(client) and sessions(app) == 0


def test_the_words_for_each_failure_name_it_and_never_a_secret() -> None:
    import requests
    from authlib.integrations.base_client import OAuthError
    from joserfc.errors import BadSignatureError

    assert (
        sso._words(requests.ConnectionError("refused"))
        == "the identity provider could not be reached (ConnectionError)"
    )
    assert sso._words(BadSignatureError()) == "the ID token cannot be trusted (BadSignatureError)"
    assert (
        sso._words(OAuthError("invalid_client", "no such client"))
        == "the identity provider refused: invalid_client: no such client"
    )
    assert sso._words(OAuthError("server_error")) == "the identity provider refused: server_error"
    assert sso._words(ValueError("the provider sent no ID token")) == "the provider sent no ID token"


def test_a_wrong_or_missing_state_signs_nobody_in(app: Flask, idp: IdentityProvider) -> None:
    client = app.test_client()
    callback = idp.authorize(start(client), "alice@example.com")
    forged = callback.replace("state=", "state=x")
    answer = back(client, forged)
    assert answer.status_code == 401 and "state mismatch" in page_text(answer)
    stranger = app.test_client()  # a callback in a browser that never started this sign-in
    assert back(stranger, idp.authorize(start(app.test_client()), "alice@example.com")).status_code == 401
    assert back(app.test_client(), f"{BASE}/auth/oidc/callback?code=abc").status_code == 401
    assert signed_out(client) and signed_out(stranger) and sessions(app) == 0


def test_a_replayed_code_signs_nobody_in(app: Flask, idp: IdentityProvider) -> None:
    client = app.test_client()
    callback = idp.authorize(start(client), "alice@example.com")
    cookie = client.get_cookie("gate_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("gate_session", cookie.value)  # the browser's state as it was before the callback
    assert back(client, callback).status_code == 302
    replayed = back(thief, callback)
    assert replayed.status_code == 401 and "invalid_grant" in page_text(replayed)
    assert back(client, callback).status_code == 401  # the state is spent too
    assert signed_out(thief) and sessions(app) == 1


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("audience", "claim is wrong or missing"),
        ("audience-azp", "aud claim is wrong or missing"),
        ("expired", "the ID token has expired"),
        ("stranger", "signed with a key the provider does not publish"),
        ("no-id-token", "the provider sent no ID token"),
        ("userinfo-subject", "userinfo speaks of another subject than the ID token"),
    ],
)
def test_an_id_token_gate_cannot_trust_signs_nobody_in(
    app: Flask, idp: IdentityProvider, mode: str, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    idp.tamper(mode)
    client, answer = sign_in_as(app, idp, "alice@example.com")
    assert answer.status_code == 401 and words in page_text(answer)
    assert signed_out(client) and sessions(app) == 0
    assert any(words in r.getMessage() for r in caplog.records if r.name == "gate.sso")


def test_a_rotated_key_fetches_the_jwks_again_and_an_unknown_one_at_most_once_a_minute(
    app: Flask, idp: IdentityProvider
) -> None:
    assert sign_in_as(app, idp, "alice@example.com")[1].status_code == 302
    fetched = idp.stats()["jwks"]
    idp.control("rotate")
    assert sign_in_as(app, idp, "alice@example.com")[1].status_code == 302  # the new key: fetched again
    assert idp.stats()["jwks"] == fetched + 1
    idp.tamper("stranger")
    assert sign_in_as(app, idp, "alice@example.com")[1].status_code == 401
    assert idp.stats()["jwks"] == fetched + 1  # within a minute of the last fetch: not again
    client = sso.provider(app).client  # type: ignore[union-attr]
    client.clock = lambda: client._refetched_at + sso.JWKS_REFETCH_SECONDS
    assert sign_in_as(app, idp, "alice@example.com")[1].status_code == 401
    assert idp.stats()["jwks"] == fetched + 2
    assert sessions(app) == 2


def test_the_provider_saying_no_signs_nobody_in(app: Flask, idp: IdentityProvider) -> None:
    client = app.test_client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    answer = client.get(f"/auth/oidc/callback?error=access_denied&error_description=End-User+aborted&state={state}")
    assert answer.status_code == 401 and "access_denied: End-User aborted" in page_text(answer)
    assert signed_out(client)


def test_signing_out_ends_the_session_on_the_server(app: Flask, idp: IdentityProvider) -> None:
    client, _ = sign_in_as(app, idp, "alice@example.com")
    copy = app.test_client()
    copy.set_cookie("gate_session", client.get_cookie("gate_session").value)  # type: ignore[union-attr]
    assert not signed_out(copy)
    client.post("/logout", data={"csrf": csrf(client, "/")})
    assert signed_out(copy) and signed_out(client) and sessions(app) == 0


def test_sessions_last_gate_session_hours(app: Flask, api: Api, idp: IdentityProvider, clock: Clock) -> None:
    client, _ = sign_in_as(app, idp, "alice@example.com")
    token_client = app.test_client()
    token_client.post("/login", data={"token": api.tokens["release"], "csrf": csrf(token_client)})
    clock.advance(hours=11, minutes=59)
    assert not signed_out(client) and not signed_out(token_client)
    clock.advance(minutes=1)
    assert signed_out(client) and signed_out(token_client)


@pytest.fixture
def without_tokens(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["TOKEN_SIGNIN"] = "0"
    return app_config


def test_token_sign_in_can_be_turned_off_leaving_api_tokens_alone(
    without_tokens: dict[str, Any], app: Flask, api: Api, idp: IdentityProvider
) -> None:
    page = page_text(app.test_client().get("/login"))
    assert "Sign in with your company account" in page and 'name="token"' not in page
    client, arrived = sign_in_as(app, idp, "alice@example.com")
    assert arrived.status_code == 302
    refused = client.post("/login", data={"token": api.tokens["admin"], "csrf": csrf(client, "/")})
    assert refused.status_code == 403 and "Token sign-in is turned off here" in page_text(refused)
    assert "(qa)" in page_text(client.get("/"))  # still alice: the admin token signed nobody in
    assert api.get("/api/v1/tokens").status_code == 200  # the API's bearer tokens are not affected


def test_token_sign_in_stays_beside_the_provider(app: Flask, api: Api) -> None:
    client = app.test_client()
    page = page_text(client.get("/login"))
    assert page.index("Sign in with your company account") < page.index('name="token"')
    answer = client.post("/login", data={"token": api.tokens["qa"], "csrf": csrf(client), "next": "/"})
    assert answer.status_code == 302 and not signed_out(client)


@pytest.fixture
def provider_away(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["OIDC_ISSUER"] = f"http://127.0.0.1:{free_port()}"  # nobody listens there yet
    return app_config


def test_a_provider_away_at_start_leaves_tokens_working_and_is_found_once_it_answers(
    provider_away: dict[str, Any],
    app: Flask,
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gate.sso")
    monkeypatch.setattr(sso, "RETRY_SECONDS", 0.0)  # each later look tries again, in the background
    client = app.test_client()
    page = page_text(client.get("/login"))
    assert "Single sign-on is unavailable for now" in page and 'name="token"' in page
    assert client.get("/auth/oidc/login").headers["Location"].startswith("/login")
    assert "unavailable for now" in page_text(client.get("/login"))
    assert client.post("/login", data={"token": api.tokens["qa"], "csrf": csrf(client)}).status_code == 302
    port = int(urlsplit(provider_away["OIDC_ISSUER"]).port or 0)
    late = IdentityProvider([f"{BASE}/auth/oidc/callback"], port=port).start()
    try:
        found = sso.provider(app)
        assert found is not None
        for _ in range(200):
            if found.ready():
                break
            time.sleep(0.02)
        assert "Sign in with your company account" in page_text(app.test_client().get("/login"))
        fresh = app.test_client()
        assert back(fresh, late.authorize(start(fresh), "alice@example.com")).status_code == 302
    finally:
        late.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "gate.sso" and r.levelno >= logging.INFO]
    assert said == [f"single sign-on is available again: {late.issuer} answers"]


@pytest.fixture
def issuer_mismatch(app_config: dict[str, Any], idp: IdentityProvider) -> dict[str, Any]:
    app_config["OIDC_ISSUER"] = f"http://localhost:{idp.port}"  # the same provider, another issuer name
    return app_config


def test_a_provider_naming_another_issuer_is_not_trusted(issuer_mismatch: dict[str, Any], app: Flask) -> None:
    assert "unavailable for now" in page_text(app.test_client().get("/login"))


def test_the_settings_are_checked_whole_at_start() -> None:
    assert SignOn.from_settings({}) is None
    with pytest.raises(ParseError) as partial:
        SignOn.from_settings({"OIDC_ISSUER": "ftp://idp", "OIDC_ROLE_MAP": ROLE_MAP})
    assert partial.value.errors == {
        "GATE_OIDC_CLIENT_ID": ["must be set beside the other GATE_OIDC_ settings"],
        "GATE_OIDC_CLIENT_SECRET": ["must be set beside the other GATE_OIDC_ settings"],
        "GATE_OIDC_ISSUER": ["'ftp://idp' is not an http(s) URL"],
    }
    given = {"OIDC_ISSUER": "https://idp.example/", "OIDC_CLIENT_ID": "gate", "OIDC_CLIENT_SECRET": "s"}
    with pytest.raises(ParseError) as bad_map:
        SignOn.from_settings({**given, "OIDC_ROLE_MAP": "gate-qa=qa, devs, ops=sdk, x=wizard, =qa"})
    assert bad_map.value.errors["GATE_OIDC_ROLE_MAP"] == [
        "'devs' is not idp-group=role",
        "'ops=sdk': a person's role is one of admin, product, qa, release, reporter, ci",
        "'x=wizard': a person's role is one of admin, product, qa, release, reporter, ci",
        "'=qa' is not idp-group=role",
    ]
    with pytest.raises(ParseError) as empty:
        SignOn.from_settings({**given, "OIDC_ROLE_MAP": " , "})
    assert empty.value.errors["GATE_OIDC_ROLE_MAP"] == ["map at least one group to a role, as gate-qa=qa"]
    found = SignOn.from_settings({**given, "OIDC_ROLE_MAP": "leads=qa,leads=release", "OIDC_ROLES_CLAIM": "roles"})
    assert found is not None and found.issuer == "https://idp.example" and found.roles_claim == "roles"
    assert found.role_map == {"leads": frozenset({"qa", "release"})}


def test_gate_serve_refuses_a_wrong_setting_at_start_and_says_whether_the_provider_answers(
    idp: IdentityProvider, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gate.cli.serve import start_warnings
    from gate.config import load_settings

    gate = str(Path(sys.executable).parent / "gate")
    env = {**os.environ, **idp.environment(OIDC_ROLE_MAP="gate-qa=wizard"), "GATE_DATABASE_URL": "sqlite://"}
    refused = subprocess.run([gate, "serve"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert refused.returncode == 2
    assert "GATE_OIDC_ROLE_MAP: 'gate-qa=wizard': a person's role is one of" in refused.stderr
    assert "Traceback" not in refused.stderr
    found = [w for w in start_warnings(load_settings(idp.settings())) if "identity provider" in w]
    assert found == []
    away = load_settings(idp.settings(OIDC_ISSUER=f"http://127.0.0.1:{free_port()}"))
    said = [w for w in start_warnings(away) if "identity provider" in w]
    assert len(said) == 1 and "cannot be reached" in said[0] and "offers tokens only" in said[0]
