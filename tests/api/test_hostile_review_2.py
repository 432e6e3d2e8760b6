"""The second hostile review (issue 21), each finding pinned: plans, webhooks, alerts, streams, sessions."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, pool, text

from gate.runtime import runtime
from tests.api.test_plans import act, exposure, plan, with_plan
from tests.receivers import Hook, Pager, SlowPrometheus
from tests.support import Api, Clock, FeatureBuilder, dump_store

HUGE = {"steps": [{"ring": "internal", "hold": "999999999d"}, {"ring": "preview"}]}


def test_a_duration_beyond_ten_years_is_refused_where_it_enters(api: Api, database_url: str) -> None:
    before = dump_store(database_url)
    r = api.as_("product").put(
        "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").with_(plan=HUGE).build()
    )
    assert r.status_code == 422 and r.json["errors"]["plan.steps[0].hold"] == ["'999999999d' is longer than 3650d"], (
        r.json
    )
    assert dump_store(database_url) == before
    assert (
        api.as_("product")
        .put(
            "/api/v1/features/checkout/criteria",
            json=FeatureBuilder("checkout").with_(plan={"steps": [{"ring": "internal", "hold": "3650d"}]}).build(),
        )
        .status_code
        == 200
    )


def test_one_plan_that_cannot_be_decided_never_stops_the_others(
    app: Flask, api: Api, clock: Clock, database_url: str
) -> None:
    for key in ("broken", "healthy"):
        with_plan(api, {"steps": [{"ring": "internal", "hold": "1h"}, {"ring": "preview", "percent": 5}]}, key=key)
        assert act(api, "start", key).status_code == 200
    # a plan stored before durations had a bound (or written by hand): its hold overflows any date
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        spec = conn.execute(
            text("SELECT p.spec FROM plans p JOIN features f ON f.id = p.feature_id WHERE f.key = 'broken'")
        ).scalar()
        bad = (spec if isinstance(spec, str) else json.dumps(spec)).replace('"1h"', '"999999999d"')
        value = "CAST(:spec AS JSON)" if conn.dialect.name == "postgresql" else ":spec"
        conn.execute(
            text(f"UPDATE plans SET spec = {value} WHERE feature_id = (SELECT id FROM features WHERE key = 'broken')"),
            {"spec": bad},
        )
    engine.dispose()
    tick = runtime(app).plans.run_once()  # step 1 of each: the broken one cannot be decided, the other goes on
    assert tick.checked == 2
    assert exposure(api, "healthy") == ("internal", 100, False)
    clock.advance(hours=25)
    api.as_("qa").vote("healthy", "e2e")
    runtime(app).plans.run_once()
    assert exposure(api, "healthy") == ("preview", 5, False)
    r = api.get("/api/v1/features/broken/plan")
    assert r.status_code == 409 and "the stored plan of broken cannot be read" in r.json["detail"], r.json
    assert plan(api, "healthy")["state"] == "done"


# ---- the outbox: pages never wait behind webhooks, no redirect followed, Slack escaped, deliveries named


@pytest.fixture
def app_config(pager: Pager, hooks: list[Hook], slow_prometheus: SlowPrometheus) -> dict[str, Any]:
    urls = [hooks[0].url, hooks[1].url, hooks[2].url, "slack+" + hooks[3].url]
    return {
        "PROMETHEUS_URL": slow_prometheus.url,
        "PAGER_URL": pager.url,
        "PAGER_ROUTING_KEY": "R0UT1NG",
        "WEBHOOK_URLS": ",".join(urls),
        "WEBHOOK_SECRET": "s3cret",
    }


def in_ga(api: Api, key: str = "checkout") -> None:
    api.apply(FeatureBuilder(key))
    for ring in ("internal", "preview", "ga"):
        r = api.post(f"/api/v1/features/{key}/promote", json={"ring": ring, "override_reason": "t"})
        assert r.status_code == 200


def test_a_page_never_waits_behind_webhook_receivers_that_hang(
    app: Flask, api: Api, pager: Pager, hooks: list[Hook]
) -> None:
    in_ga(api)
    outbox = runtime(app).outbox
    outbox.run_once()  # the promotions' webhooks, delivered before the test starts
    slack_before = len(hooks[3].requests)
    for hook in hooks[:3]:
        hook.hang = 3.0  # three receivers that take 3 s each (a 10 s timeout would be worse)
    outbox.start()
    try:
        reported = time.monotonic()
        r = api.as_("reporter").post("/api/v1/incidents", json={"title": "down", "severity": 0, "feature": "checkout"})
        assert r.status_code == 201
        assert pager.wait(1, timeout=5), "the page never arrived"
        assert time.monotonic() - reported < 2.0  # behind three 3 s webhooks it would take 9 s: sent at once instead
        assert len(hooks[3].wait(slack_before + 2, timeout=2)) == slack_before + 2  # incident.open, kill: not held up
    finally:
        for hook in hooks:
            hook.hang = 0
        outbox.stop()


def test_no_redirect_is_followed_by_a_webhook_or_the_pager(
    app: Flask, api: Api, pager: Pager, hooks: list[Hook], database_url: str
) -> None:
    evil = hooks[2]
    hooks[0].status, hooks[0].location = 307, evil.url
    hooks[1].status, hooks[1].location = 302, evil.url
    api.apply(FeatureBuilder("checkout"))
    api.as_("release").post("/api/v1/features/checkout/kill", json={"reason": "drill"})
    evil_before = len(evil.requests)
    assert runtime(app).outbox.run_once() == 2  # the evil hook's own delivery and the Slack one
    assert len(evil.requests) == evil_before + 1 and evil.requests[-1][0] == "POST"  # its own, not a redirected one
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT attempts, delivered_at, last_error FROM outbox WHERE kind = 'webhook' ORDER BY id")
        ).all()
    engine.dispose()
    failed = [r for r in rows if r.delivered_at is None]
    assert len(failed) == 2 and all(r.attempts == 1 for r in failed)  # failed attempts, retried on the backoff
    assert all("a redirect to " + evil.url + ": not followed" in r.last_error for r in failed)


def test_a_page_redirected_elsewhere_is_a_failed_attempt(pager: Pager, hooks: list[Hook]) -> None:
    from gate.services.delivery import DeliveryError, send_page

    hooks[0].status, hooks[0].location = 308, pager.url
    with pytest.raises(DeliveryError, match="answered 308, a redirect to"):
        send_page(hooks[0].url, {"event_action": "trigger"}, timeout=5)
    assert pager.requests == 0


def test_slack_gets_what_users_typed_as_text(app: Flask, api: Api, hooks: list[Hook]) -> None:
    api.apply(FeatureBuilder("checkout"))
    reason = "<!channel> see <https://evil.example/|the runbook> & more"
    api.as_("release").post("/api/v1/features/checkout/kill", json={"reason": reason})
    runtime(app).outbox.run_once()
    (_, body, _), *_ = hooks[3].requests
    said = json.loads(body)["text"]
    assert "&lt;!channel&gt; see &lt;https://evil.example/|the runbook&gt; &amp; more" in said
    assert "<" not in said and ">" not in said


def test_webhooks_carry_a_delivery_id_kept_across_retries_and_a_signed_timestamp(
    app: Flask, api: Api, hooks: list[Hook], clock: Clock
) -> None:
    hooks[0].fail_first = 1
    api.apply(FeatureBuilder("checkout"))
    api.as_("release").post("/api/v1/features/checkout/kill", json={})
    runtime(app).outbox.run_once()
    clock.advance(seconds=5)
    runtime(app).outbox.run_once()
    (_, first, h1), (_, second, h2) = hooks[0].requests
    assert first == second and h1["X-Gate-Delivery"] == h2["X-Gate-Delivery"]  # a retry, not a new event
    assert int(h2["X-Gate-Timestamp"]) == int(h1["X-Gate-Timestamp"]) + 5  # when each attempt was signed
    for headers, body in ((h1, first), (h2, second)):
        assert headers["X-Gate-Signature-256"] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        stamp, delivery = headers["X-Gate-Timestamp"], headers["X-Gate-Delivery"]
        signed = hmac.new(b"s3cret", f"{stamp}.{delivery}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["X-Gate-Signature"] == f"t={stamp},v1={signed}"
    others = {h["X-Gate-Delivery"] for _, _, h in hooks[1].requests}
    assert h1["X-Gate-Delivery"] not in others  # each delivery its own id


def test_without_a_secret_webhooks_go_unsigned_and_serve_says_so(hooks: list[Hook]) -> None:
    from gate.cli.serve import start_warnings
    from gate.config import load_settings
    from gate.services.delivery import webhook_request

    url, _, headers = webhook_request(hooks[0].url, {"event": "kill"}, "", delivery="7", timestamp=1)
    assert url == hooks[0].url and "X-Gate-Signature-256" not in headers and "X-Gate-Signature" not in headers
    assert headers["X-Gate-Delivery"] == "7"
    settings = load_settings({"WEBHOOK_URLS": f"{hooks[0].url},slack+{hooks[1].url}", "WEBHOOK_SECRET": ""})
    assert any("GATE_WEBHOOK_SECRET is not set: webhooks are sent unsigned" in w for w in start_warnings(settings))
    slack_only = load_settings({"WEBHOOK_URLS": f"slack+{hooks[1].url}", "WEBHOOK_SECRET": ""})
    assert not any("WEBHOOK_SECRET" in w for w in start_warnings(slack_only))


# ---- plan control is release's; a plan whose starter's token lapses pauses


def test_a_plan_started_by_a_token_later_revoked_pauses_instead_of_stepping_in_its_name(
    app: Flask, api: Api, clock: Clock
) -> None:
    with_plan(api, {"steps": [{"ring": "internal", "hold": "1h"}, {"ring": "preview", "percent": 5}]})
    rita = api.token("rita", "release")
    assert rita.post("/api/v1/features/checkout/plan/start").status_code == 200
    assert runtime(app).plans.run_once().taken == 1
    rita_id = next(t["id"] for t in api.get("/api/v1/tokens").json if t["name"] == "rita")
    api.delete(f"/api/v1/tokens/{rita_id}")
    clock.advance(hours=25)
    assert runtime(app).plans.run_once().taken == 0
    paused = plan(api)
    assert paused["state"] == "paused" and exposure(api) == ("internal", 100, False)
    assert paused["reason"] == "the token of rita, in whose name it steps, was revoked"
    assert paused["history"][-1]["actor"] == "gate"
    # another release manager resumes it, and from then on it steps in their name
    sam = api.token("sam", "release")
    assert sam.post("/api/v1/features/checkout/plan/resume").status_code == 200
    runtime(app).plans.run_once()
    assert exposure(api) == ("preview", 5, False)
    assert plan(api)["history"][-1]["actor"] == "plan:sam"


def test_a_plan_whose_starter_s_token_expired_pauses_too(app: Flask, api: Api, clock: Clock) -> None:
    with_plan(api, {"steps": [{"ring": "internal", "hold": "1h"}, {"ring": "preview", "percent": 5}]})
    r = api.post("/api/v1/tokens", json={"name": "temp-rm", "roles": ["release"], "expires_in_days": 1})
    temp = Api(api.client, {"t": r.json["secret"]}, "t")
    assert temp.post("/api/v1/features/checkout/plan/start").status_code == 200
    runtime(app).plans.run_once()
    clock.advance(days=1)
    runtime(app).plans.run_once()
    assert plan(api)["reason"] == "the token of temp-rm, in whose name it steps, has expired"


def test_sign_in_renews_the_csrf_token(api: Api) -> None:
    from tests.support import csrf

    client = api.client.application.test_client()
    before = csrf(client)
    assert client.post("/login", data={"token": api.tokens["release"], "csrf": before}).status_code == 302
    after = csrf(client, "/")
    assert after != before
    api.apply(FeatureBuilder("checkout"))
    stale = client.post("/features/checkout/kill", data={"csrf": before, "reason": "x", "confirm": "yes"})
    assert stale.status_code == 400  # a token planted before sign-in does not carry over
    assert api.get("/api/v1/features/checkout").json["state"]["killed"] is False
    client.post("/features/checkout/kill", data={"csrf": after, "reason": "x", "confirm": "yes"})
    assert api.get("/api/v1/features/checkout").json["state"]["killed"] is True


# ---- a slow Prometheus holds up nothing but the plans that read it


GUARDED = {
    "steps": [{"ring": "internal"}, {"ring": "preview", "percent": 5}],
    "guard": {"query": "sum(rate(errors_total[5m]))", "max": 1},
}


def test_a_prometheus_that_trickles_its_answer_holds_up_no_other_plan_and_no_api_answer(
    app: Flask, api: Api, slow_prometheus: SlowPrometheus
) -> None:
    with_plan(api, GUARDED, key="guarded")
    with_plan(api, {"steps": [{"ring": "internal"}]}, key="free")
    for key in ("guarded", "free"):
        assert act(api, "start", key).status_code == 200
    started = time.monotonic()
    tick = runtime(app).plans.run_once()  # the guard's answer would take about 50 s, one byte at a time
    took = time.monotonic() - started
    assert took < 4.5, took  # its deadline (3 s) bounds the whole answer, not each read
    assert tick.taken == 1 and exposure(api, "free") == ("internal", 100, False)  # decided before the guards
    assert exposure(api, "guarded") == (None, 0, False)
    for call in (
        lambda: api.get("/api/v1/features/guarded/plan"),
        lambda: act(api, "pause", "guarded"),
        lambda: act(api, "resume", "guarded"),
    ):
        asked = time.monotonic()
        answer = call()
        assert answer.status_code == 200 and time.monotonic() - asked < 1.5  # never waits on Prometheus (3 s)
    blocked = plan(api, "guarded")["next"]["blocked_by"]
    assert blocked == [
        "guard: Prometheus could not be read: no whole answer within 3 s; no step is taken without a reading"
    ], blocked


def test_a_prometheus_redirect_is_not_followed(app: Flask, api: Api, slow_prometheus: SlowPrometheus) -> None:
    elsewhere = Hook()
    try:
        slow_prometheus.location = elsewhere.url
        with_plan(api, GUARDED, key="guarded")
        act(api, "start", "guarded")
        runtime(app).plans.run_once()
        assert elsewhere.requests == []
        (blocked,) = plan(api, "guarded")["next"]["blocked_by"]
        assert f"Prometheus answered 302, a redirect to {elsewhere.url}: not followed" in blocked
    finally:
        elsewhere.close()
