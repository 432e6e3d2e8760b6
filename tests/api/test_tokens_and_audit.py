"""Tokens (hashed, shown once, revocable) and the audit log."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from gate.extensions import db
from gate.models import Token
from gate.services.tokens import BOOTSTRAP_NAME, bootstrap_admin, hash_secret
from tests.support import Api, Clock, FeatureBuilder


def test_a_created_token_works_at_once_and_its_secret_is_never_shown_again(api: Api, app: Flask) -> None:
    r = api.post("/api/v1/tokens", json={"name": "ci-bot", "role": "reporter"})
    assert r.status_code == 201
    secret = r.json["secret"]
    assert secret.startswith("gate_") and len(secret) > 40
    listed = api.get("/api/v1/tokens").json
    assert all("secret" not in t and "secret_hash" not in t for t in listed)
    assert listed[0]["name"] == "ci-bot" and listed[0]["role"] == "reporter"
    with app.app_context():
        stored = db.session.scalars(select(Token).where(Token.name == "ci-bot")).one()
        assert stored.secret_hash == hash_secret(secret) and secret not in stored.secret_hash
    ok = api.client.get("/api/v1/rings", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200


def test_last_use_is_recorded(api: Api, clock: Clock) -> None:
    created = api.post("/api/v1/tokens", json={"name": "bot", "role": "qa"}).json
    assert created["last_used_at"] is None
    api.client.get("/api/v1/rings", headers={"Authorization": f"Bearer {created['secret']}"})
    listed = {t["name"]: t for t in api.get("/api/v1/tokens").json}
    assert listed["bot"]["last_used_at"] == clock.now.isoformat()


def test_a_revoked_token_stops_working_at_once(api: Api) -> None:
    created = api.post("/api/v1/tokens", json={"name": "old", "role": "qa"}).json
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert api.client.get("/api/v1/rings", headers=headers).status_code == 200
    r = api.delete(f"/api/v1/tokens/{created['id']}")
    assert r.status_code == 200 and r.json["revoked_at"] is not None
    assert api.client.get("/api/v1/rings", headers=headers).status_code == 401
    assert api.delete(f"/api/v1/tokens/{created['id']}").status_code == 404


def test_names_need_not_be_unique_so_a_token_can_be_rotated(api: Api) -> None:
    a = api.post("/api/v1/tokens", json={"name": "deployer", "role": "release"}).json
    b = api.post("/api/v1/tokens", json={"name": "deployer", "role": "release"}).json
    assert a["secret"] != b["secret"]
    api.delete(f"/api/v1/tokens/{a['id']}")
    assert api.client.get("/api/v1/rings", headers={"Authorization": f"Bearer {b['secret']}"}).status_code == 200


def test_bootstrap_admin_is_made_once_on_an_empty_database(app: Flask) -> None:
    with app.app_context():
        secret = bootstrap_admin()
        assert secret is not None
        assert bootstrap_admin() is None
        token = db.session.scalars(select(Token)).one()
        assert (token.name, token.roles) == (BOOTSTRAP_NAME, "admin")


def test_the_audit_names_actor_action_target_before_and_after(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.as_("qa").vote("checkout", "unit", comment="ok")
    api.promote("checkout", "internal")
    entries = api.get("/api/v1/audit?feature=checkout").json
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("promote", "release", "feature:checkout"),
        ("vote", "alice", "criterion:checkout/unit"),
        ("criteria.apply", "product", "feature:checkout"),
    ]
    promote = entries[0]
    assert promote["before"] == {"ring": None, "percent": 0, "killed": False}
    assert promote["after"] == {"ring": "internal", "percent": 100, "killed": False}
    assert entries[2]["before"] is None and entries[2]["after"]["criteria"][0]["id"] == "unit"
    every = api.get("/api/v1/audit").json
    assert "token.create" in {e["action"] for e in every}  # the fixture's tokens
    assert len(api.get("/api/v1/audit?limit=1").json) == 1


def test_token_writes_are_audited(api: Api) -> None:
    created = api.post("/api/v1/tokens", json={"name": "temp", "role": "qa"}).json
    api.delete(f"/api/v1/tokens/{created['id']}")
    actions = [(e["action"], e["actor"]) for e in api.get("/api/v1/audit?limit=2").json]
    assert actions == [("token.revoke", "admin"), ("token.create", "admin")]
