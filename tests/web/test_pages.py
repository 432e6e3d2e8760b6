"""Dashboard pages in-process: sign-in, CSRF, roles, forms under the API's rules, filters, stale flags."""

from __future__ import annotations

import html
import re

from tests.support import Api, Clock, FeatureBuilder, csrf, dump_store, page_text, sign_in


def test_pages_need_a_session_and_sessions_need_a_live_token(api: Api) -> None:
    client = api.client.application.test_client()
    assert client.get("/dora").headers["Location"] == "/login?next=/dora"
    signed, _ = sign_in(api, "release")
    assert signed.get("/").status_code == 200
    token_id = next(t["id"] for t in api.get("/api/v1/tokens").json if t["name"] == "release")
    api.delete(f"/api/v1/tokens/{token_id}")
    assert signed.get("/").status_code == 302  # revoked: signed out at the next page


def test_sign_in_refuses_bad_tokens_sdk_tokens_and_forged_forms(api: Api) -> None:
    client = api.client.application.test_client()
    token = csrf(client)
    assert client.post("/login", data={"token": "gate_nope", "csrf": token}).status_code == 401
    assert client.post("/login", data={"token": api.tokens["sdk"], "csrf": token}).status_code == 403
    assert client.post("/login", data={"token": api.tokens["qa"], "csrf": "forged"}).status_code == 400
    r = client.post("/login", data={"token": api.tokens["qa"], "csrf": token, "next": "https://evil.example/"})
    assert r.headers["Location"] == "/"  # no open redirect
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = api.client.application.test_client()
    token = csrf(secure)
    r = secure.post("/login", data={"token": api.tokens["qa"], "csrf": token}, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["Set-Cookie"]
    token = csrf(secure, "/")  # renewed at sign-in
    assert (
        secure.post("/logout", data={"csrf": token}, headers={"X-Forwarded-Proto": "https"}).headers["Location"]
        == "/login"
    )


def test_forms_follow_the_api_rules_and_roles(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    qa, qa_csrf = sign_in(api, "qa")
    assert qa.post("/features/checkout/promote", data={"csrf": qa_csrf, "ring": "internal"}).status_code == 403
    qa.post("/features/checkout/criteria/unit/vote", data={"csrf": qa_csrf, "vote": "maybe"})
    assert "vote: Must be one of: yes, no." in page_text(qa.get("/features/checkout"))
    release, token = sign_in(api, "release")
    assert release.post("/features/checkout/kill", data={}).status_code == 400  # no CSRF token
    release.post("/features/checkout/promote", data={"csrf": token, "ring": "internal", "percent": "100"})
    assert "the gate for internal did not pass" in page_text(release.get("/features/checkout"))
    qa.post("/features/checkout/criteria/unit/vote", data={"csrf": qa_csrf, "vote": "yes", "comment": "fine"})
    release.post("/features/checkout/promote", data={"csrf": token, "ring": "internal", "percent": "40"})
    release.post("/features/checkout/rollout", data={"csrf": token, "percent": "abc"})
    assert "percent: must be a number" in page_text(release.get("/features/checkout"))
    release.post("/features/checkout/rollout", data={"csrf": token, "percent": "100"})
    release.post("/features/checkout/kill", data={"csrf": token, "reason": "boom"})  # not confirmed: nothing
    assert "tick the box to confirm the kill" in page_text(release.get("/features/checkout"))
    release.post("/features/checkout/kill", data={"csrf": token, "reason": "boom", "confirm": "yes"})
    release.post("/features/checkout/revive", data={"csrf": token})
    release.post("/features/checkout/rollback", data={"csrf": token, "ring": "", "reason": "later"})
    assert "tick the box to confirm the rollback" in page_text(release.get("/features/checkout"))
    release.post("/features/checkout/rollback", data={"csrf": token, "ring": "", "reason": "later", "confirm": "yes"})
    kinds = [e["kind"] for e in api.get("/api/v1/features/checkout/deployments").json]
    assert kinds == ["rollback", "revive", "kill", "rollout", "promote"]
    page = page_text(release.get("/features/checkout"))
    assert "Gate for internal" in page
    assert "voted yes on unit (revision 1): “fine”" in page
    assert "promoted: off → internal at 40%" in page and "rollout changed: internal at 40% → internal at 100%" in page
    assert "killed: internal at 100% → internal at 100% (killed) (boom)" in page
    assert "rolled back: internal at 100% → off (later)" in page
    assert "applied the product file: 1 criterion (unit before internal)" in page and "{&#34;" not in page


def test_the_board_filters_and_marks_stale_flags(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("old", owner="growth"))
    api.apply(FeatureBuilder("fresh", owner="payments"))
    for ring in ("internal", "preview", "ga"):
        api.post("/api/v1/features/old/promote", json={"ring": ring, "override_reason": "t"})
    clock.advance(days=45)
    client, _ = sign_in(api, "product")
    page = page_text(client.get("/"))
    assert "released to everyone 45 days ago: time to remove the flag" in page
    assert "old" in page_text(client.get("/?state=stale")) and "fresh" not in page_text(client.get("/?state=stale"))
    assert "fresh" in page_text(client.get("/?owner=payments")) and ">old<" not in page_text(
        client.get("/?owner=payments")
    )
    assert ">old<" in page_text(client.get("/?state=released"))
    assert client.get("/?state=weird").status_code == 422
    api.as_("sdk").post("/api/v1/sdk/exposures", json={"exposures": [{"flag": "old", "enabled": True, "count": 1}]})
    clock.advance(days=8)
    client, _ = sign_in(api, "product")  # sessions last GATE_SESSION_HOURS (12): a new day, a new sign-in
    assert "not evaluated for 8 days" not in page_text(client.get("/"))  # released long ago says so first
    api.post("/api/v1/features/fresh/promote", json={"ring": "internal", "override_reason": "t"})
    assert "never evaluated" not in page_text(client.get("/"))  # promoted a moment ago: SDKs get a grace
    clock.advance(minutes=14)
    assert "never evaluated" not in page_text(client.get("/"))
    clock.advance(minutes=1)
    assert "exposed but never evaluated by an SDK" in page_text(client.get("/"))
    found = page_text(client.get("/?q=FRE"))  # search: key or name, any case
    assert ">fresh<" in found and ">old<" not in found and "1 feature:" in found
    assert "0 features:" in page_text(client.get("/?q=nothing-like-it"))


def test_incidents_dora_and_rings_pages_show_their_figures(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout"))
    opened = api.as_("reporter").post("/api/v1/incidents", json={"title": "slow", "severity": 2}).json
    late = api.as_("reporter").post("/api/v1/incidents", json={"title": "down", "severity": 0}).json
    api.as_("reporter").post(f"/api/v1/incidents/{opened['id']}/rca-items", json={"title": "add a dashboard"})
    clock.advance(minutes=31)
    client, _ = sign_in(api, "reporter")
    page = page_text(client.get("/incidents"))
    assert f"#{late['id']} down" in page and "deadline missed" in page and "add a dashboard" in page
    assert "23 h 29 min left" in page  # 24 h less the 31 min gone, as an on-call reads it
    dora = page_text(client.get("/dora"))
    assert "Deployment frequency" in dora and "<svg" in dora and "Deployments per week" in dora
    rings = page_text(client.get("/rings"))
    assert "tenants: fabrikam, northwind" in rings and "zero open bugs" in rings
    assert client.get("/features/nope").status_code == 404


def test_an_incident_runs_from_the_browser(api: Api, database_url: str) -> None:
    """Report, acknowledge, add and close an RCA item, resolve: each form calls the API's own service."""
    api.apply(FeatureBuilder("checkout"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    reporter, token = sign_in(api, "reporter")
    page = page_text(reporter.get("/incidents"))
    assert "0 · outage, data loss, DDoS: pages on-call, 30 min to respond" in page
    assert "3 · user-reported: tells no one, 2 days to respond" in page
    before = dump_store(database_url)
    for bad in ({"title": "", "severity": "1"}, {"title": "x", "severity": "7"}, {"title": "x", "severity": "one"}):
        reporter.post("/incidents", data={"csrf": token, **bad})
    assert dump_store(database_url) == before  # refused forms change nothing
    assert "severity:" in page_text(reporter.get("/incidents"))
    reporter.post("/incidents", data={"csrf": token, "title": "checkout down", "severity": "1", "feature": "checkout"})
    (incident,) = api.get("/api/v1/incidents?status=open").json
    assert (incident["title"], incident["severity"], incident["feature"]) == ("checkout down", 1, "checkout")
    page = page_text(reporter.get("/incidents"))
    assert f"Incident #{incident['id']} opened: no one told. The flag was killed at once." in page  # no pager here
    assert api.get("/api/v1/features/checkout").json["state"]["killed"] is True
    reporter.post(f"/incidents/{incident['id']}/ack", data={"csrf": token})
    reporter.post(f"/incidents/{incident['id']}/rca-items", data={"csrf": token, "title": "add an alert"})
    (item,) = api.get(f"/api/v1/incidents/{incident['id']}").json["rca_items"]
    reporter.post(f"/rca-items/{item['id']}/close", data={"csrf": token})
    reporter.post(f"/incidents/{incident['id']}/resolve", data={"csrf": token})  # not confirmed
    assert api.get(f"/api/v1/incidents/{incident['id']}").json["resolved_at"] is None
    reporter.post(f"/incidents/{incident['id']}/resolve", data={"csrf": token, "confirm": "yes"})
    done = api.get(f"/api/v1/incidents/{incident['id']}").json
    assert done["acknowledged_at"] and done["resolved_at"] and done["rca_items"][0]["closed_at"]
    assert done["deadline_met"] is True
    # the RCA goes on after the restore: the resolved incident's row still adds and closes items
    page = page_text(reporter.get("/incidents"))
    resolved_part = page.split("Recently resolved")[1]
    assert (
        f'action="/incidents/{incident["id"]}/rca-items"' in resolved_part and "Resolve</button>" not in resolved_part
    )
    reporter.post(f"/incidents/{incident['id']}/rca-items", data={"csrf": token, "title": "page on checkout errors"})
    follow_up = api.get(f"/api/v1/incidents/{incident['id']}").json["rca_items"][1]
    assert follow_up["title"] == "page on checkout errors" and follow_up["closed_at"] is None
    assert f'action="/rca-items/{follow_up["id"]}/close"' in page_text(reporter.get("/incidents")).split("Recently")[1]
    reporter.post(f"/rca-items/{follow_up['id']}/close", data={"csrf": token})
    assert api.get(f"/api/v1/incidents/{incident['id']}").json["rca_items"][1]["closed_at"] is not None
    viewer, viewer_token = sign_in(api, "qa")
    assert "Report an incident" not in page_text(viewer.get("/incidents"))
    assert viewer.post(f"/incidents/{incident['id']}/ack", data={"csrf": viewer_token}).status_code == 403


def test_the_vote_form_starts_at_your_current_vote(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit").criterion("e2e"))
    qa, token = sign_in(api, "qa")
    qa.post("/features/checkout/criteria/unit/vote", data={"csrf": token, "vote": "yes", "comment": "green"})
    qa.post("/features/checkout/criteria/unit/vote", data={"csrf": token, "vote": "no", "comment": "flaky"})
    api.token("qa-2", "qa").post("/api/v1/features/checkout/criteria/e2e/votes", json={"vote": "yes"})
    page = page_text(qa.get("/features/checkout"))
    unit = page[page.index('id="criterion-unit"') : page.index('id="criterion-e2e"')]
    e2e = page[page.index('id="criterion-e2e"') :]
    assert "Your vote on unit (now: no)" in unit and 'value="no" checked' in unit and 'value="flaky"' in unit
    assert "(now:" not in e2e and "checked" not in e2e  # another voter's yes is not yours


def test_an_admin_manages_tokens_from_the_page_and_sees_the_secret_once(api: Api, database_url: str) -> None:
    admin, token = sign_in(api, "admin")
    before = dump_store(database_url)
    for bad, says in (
        ({"roles": "wizard"}, "roles: unknown role 'wizard'"),
        ({"roles": ["admin", "qa"]}, "roles: admin holds every role: give it alone"),
        ({}, "roles: give roles (a list), or the single role"),
        ({"roles": "qa", "owners": "pay\u0085ments, ok"}, "owners"),
        ({"roles": "qa", "expires_in_days": "0"}, "expires_in_days: Must be greater than or equal to 1"),
        ({"roles": "qa", "expires_in_days": "3651"}, "expires_in_days:"),
    ):
        assert admin.post("/admin/tokens", data={"csrf": token, "name": "svc", **bad}).status_code == 302
        assert says in html.unescape(page_text(admin.get("/admin/tokens"))), bad
    assert dump_store(database_url) == before  # a refused form changes nothing
    several = admin.post(
        "/admin/tokens",
        data={
            "csrf": token,
            "name": "pipeline",
            "roles": ["ci", "release"],
            "owners": "payments, search",
            "expires_in_days": "90",
        },
    )
    assert several.status_code == 201 and "Token pipeline (ci, release) created" in page_text(several)
    assert several.headers["Cache-Control"] == "no-store"  # the secret stays in no cache
    (made,) = [t for t in api.get("/api/v1/tokens").json if t["name"] == "pipeline"]
    assert (made["roles"], made["owners"]) == (["ci", "release"], ["payments", "search"])
    assert made["expires_at"] is not None
    row = page_text(admin.get("/admin/tokens")).split('id="token-' + str(made["id"]))[1].split("</tr>")[0]
    assert "ci, release" in row and "payments, search" in row and "expires " in row
    created = admin.post("/admin/tokens", data={"csrf": token, "name": "checkout-svc", "roles": "sdk"})
    assert created.status_code == 201
    secret = created.get_data(as_text=True).split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("gate_")
    assert api.client.get("/api/v1/sdk/snapshot", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = page_text(admin.get("/admin/tokens"))
    assert "checkout-svc" in listing and secret not in listing  # shown once, never again
    (row,) = [t for t in api.get("/api/v1/tokens").json if t["name"] == "checkout-svc"]
    admin.post(f"/admin/tokens/{row['id']}/revoke", data={"csrf": token})  # not confirmed
    assert api.client.get("/api/v1/sdk/snapshot", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    admin.post(f"/admin/tokens/{row['id']}/revoke", data={"csrf": token, "confirm": "yes"})
    assert "Token checkout-svc revoked" in page_text(admin.get("/admin/tokens"))
    assert api.client.get("/api/v1/sdk/snapshot", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    release, release_token = sign_in(api, "release")
    assert release.get("/admin/tokens").status_code == 403 and release.get("/admin/audit").status_code == 403
    assert release.post("/admin/tokens", data={"csrf": release_token, "name": "x", "roles": "admin"}).status_code == 403
    assert "Tokens" not in page_text(release.get("/")) and "Tokens</a>" in page_text(admin.get("/"))


def test_the_audit_page_filters_by_feature_actor_and_action(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.apply(FeatureBuilder("search"))
    api.as_("qa").post("/api/v1/features/checkout/criteria/unit/votes", json={"vote": "yes"})
    api.post("/api/v1/features/search/promote", json={"ring": "internal", "override_reason": "demo"})
    admin, _ = sign_in(api, "admin")
    everything = page_text(admin.get("/admin/audit"))
    assert "voted yes on unit (revision 1)" in everything and "promoted: off → internal at 100% (demo)" in everything
    mine = page_text(admin.get("/admin/audit?actor=alice"))
    assert "voted yes on unit" in mine and "promoted" not in mine
    promotions = page_text(admin.get("/admin/audit?action=promote&feature=search"))
    assert "promoted: off → internal at 100%" in promotions and "voted" not in promotions
    assert "Nothing matches." in page_text(admin.get("/admin/audit?feature=nope"))
    assert admin.get("/admin/audit?before=0").status_code == 422
    api_view = api.get("/api/v1/audit?actor=alice&action=vote").json
    assert [e["action"] for e in api_view] == ["vote"]


def test_the_api_reference_is_served_from_the_package_under_the_pages_policy(api: Api) -> None:
    page = api.client.get("/api/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page_text(page)
    assert 'src="/api/docs/swagger-ui-bundle.js"' in html and 'data-spec="/api/v1/openapi.json"' in html
    assert "<script>" not in html  # no inline script: the page's policy allows none
    with api.client.get("/api/docs/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200 and bundle.mimetype in ("text/javascript", "application/javascript")
        assert len(bundle.data) > 100_000  # the real bundle, from the package
    assert api.client.get("/api/docs/index.html").status_code == 404  # only the files the page uses
    assert api.client.get("/api/docs/..%2F__init__.py").status_code == 404
    with api.client.get("/static/api-docs.js") as starter:
        assert starter.status_code == 200 and b"SwaggerUIBundle" in starter.data


def test_the_feature_page_leads_with_what_matters(api: Api) -> None:
    """Banners: killed by incident #N (auto-kill), entered a ring with an override, blocked by an incident."""
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "hotfix demo"})
    client, _ = sign_in(api, "admin")
    page = page_text(client.get("/features/checkout"))
    assert "⚠ Entered internal with an override by admin: hotfix demo" in page
    assert "Killed" not in page and "blocked" not in page
    api.as_("qa").post("/api/v1/features/checkout/criteria/unit/votes", json={"vote": "yes"})
    api.as_("reporter").post("/api/v1/incidents", json={"title": "slow", "severity": 2, "feature": "checkout"})
    page = page_text(client.get("/features/checkout"))
    assert "⛔ preview is blocked by an open incident #1 (severity 2: slow)" not in page  # preview blocks 0..1
    incident = (
        api.as_("reporter")
        .post("/api/v1/incidents", json={"title": "payments down", "severity": 1, "feature": "checkout"})
        .json
    )
    page = page_text(client.get("/features/checkout"))
    assert f"Killed at once by incident #{incident['id']} (severity 1) at " in page and "(auto-kill)" in page
    assert f"⛔ preview is blocked by an open incident #{incident['id']} (severity 1: payments down)" in page
    api.post("/api/v1/features/checkout/revive", json={})
    api.post("/api/v1/features/checkout/kill", json={"reason": "bad config"})
    page = page_text(client.get("/features/checkout"))
    assert "Killed by admin at " in page and ": bad config" in page and "Killed at once" not in page
    api.post("/api/v1/features/checkout/revive", json={})
    api.post("/api/v1/features/checkout/rollback", json={"ring": None, "reason": "redo"})
    page = page_text(client.get("/features/checkout"))
    assert "with an override" not in page  # off now: no ring was entered by an override


def shown(response: object) -> str:
    """The page as a reader sees it: text without tags, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", html.unescape(page_text(response)))
    return " ".join(text.split())


def test_the_plan_on_the_feature_page_and_the_board(api: Api, clock: Clock) -> None:
    from gate.runtime import runtime

    plan = {"steps": [{"ring": "internal"}, {"ring": "preview", "percent": 10, "hold": "1h"}, {"ring": "preview"}]}
    api.apply(FeatureBuilder("checkout").criterion("unit").with_(plan=plan))
    api.as_("qa").vote("checkout", "unit")
    api.apply(FeatureBuilder("search"))
    release, token = sign_in(api, "release")
    idle = shown(release.get("/features/checkout"))
    assert (
        "Release plan: idle" in idle
        and "→ internal at 100% next · not before 2026-11-02 09:00 UTC ✗ plan: not started" in idle
    )
    assert "Release plan" not in shown(release.get("/features/search"))
    release.post("/features/checkout/plan/start", data={"csrf": token})
    runtime(api.client.application).plans.run_once()
    clock.advance(hours=24)
    runtime(api.client.application).plans.run_once()
    clock.advance(minutes=15)
    release, token = sign_in(api, "release")  # the session of a day ago has lapsed (GATE_SESSION_HOURS)
    page = shown(release.get("/features/checkout"))
    assert "Release plan: running started by release; its steps act as plan:release" in page
    assert "✓ internal at 100% done · taken 2026-11-02 09:00 UTC" in page
    assert "● preview at 10%, hold 1h current · taken 2026-11-03 09:00 UTC; 45 min left of its hold" in page
    assert (
        "→ preview at 100% next · not before 2026-11-03 10:00 UTC ✗ hold: preview at 10% for 1 h, 45 min left" in page
    )
    assert "▶ plan running" in shown(release.get("/"))
    assert (
        "2026-11-03 09:00:00 plan:release plan: step 2 of 3: preview at 10% "
        "2026-11-03 09:00:00 plan:release promoted: internal at 100% → preview at 10%"
    ) in page
    assert "2026-11-02 09:00:00 release plan: started by release before its first step" in page
    release.post("/features/checkout/plan/pause", data={"csrf": token})
    paused = shown(release.get("/features/checkout"))
    assert "Plan paused." in paused and "Release plan: paused" in paused and "Resume plan" in paused
    assert "▶ plan paused" in shown(release.get("/"))
    release.post("/features/checkout/plan/cancel", data={"csrf": token})
    assert "Release plan: idle" in shown(release.get("/features/checkout"))
    assert "▶ plan" not in shown(release.get("/"))
    assert release.post("/features/checkout/plan/launch", data={"csrf": token}).status_code == 404
    qa, qa_token = sign_in(api, "qa")
    assert qa.post("/features/checkout/plan/start", data={"csrf": qa_token}).status_code == 403
    assert "Start plan" not in shown(qa.get("/features/checkout"))
    release.post("/features/checkout/plan/pause", data={"csrf": token})  # idle: refused, said on the page
    assert "the plan of checkout is idle, not running" in shown(release.get("/features/checkout"))


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_asking_for_a_page_that_does_not_exist_gets_a_page(api: Api) -> None:
    client = api.client.application.test_client()
    page = client.get("/no/such/page", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "404 · Not found" in page_text(page) and "There is no page here" in page_text(page)
    assert "Back to the board" in page_text(page)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]  # the dashboard's headers too
    # API clients keep problem+json: under /api/ and /ofrep/ whatever they accept, elsewhere unless they ask for HTML
    for path, accept in (("/api/v1/nothing", BROWSER_ACCEPT), ("/ofrep/v1/x", BROWSER_ACCEPT), ("/nothing", "*/*")):
        problem = client.get(path, headers={"Accept": accept})
        assert problem.status_code == 404 and problem.mimetype == "application/problem+json", path
        assert problem.json["status"] == 404


def test_the_feature_page_shows_each_criterions_evidence_its_chart_and_its_timeline_words(api: Api) -> None:
    api.apply(
        FeatureBuilder("pay")
        .criterion("unit", evidence={"kind": "coverage", "min": 95}, max_age="7d")
        .criterion("p95", evidence={"kind": "measure", "name": "p95_ms", "max": 250})
        .criterion("manual")
    )
    for build, rate in (("b1", "0.90"), ("b2", "0.97")):
        r = api.evidence("pay", "unit", f'<coverage line-rate="{rate}"/>', "text/xml", build=build,
                         link=f"https://ci.example.org/{build}")  # fmt: skip
        assert r.status_code == 201
    client, _ = sign_in(api, "qa")
    page = page_text(client.get("/features/pay"))
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "Evidence (coverage, counts for 7d): ✓ passes: coverage 97.00% ≥ 95% · build b2" in text
    assert 'href="https://ci.example.org/b2"' in page
    assert '<svg class="evidence-chart"' in page and "unit: coverage % over the last 2 builds" in page
    assert "build b1: 90.00% (fails); build b2: 97.00% (passes)" in page
    assert "Evidence (measure): none yet: a pipeline reports it with gate evidence pay p95 FILE --build SHA" in text
    assert text.count("Evidence (") == 2  # the criterion asking for votes only has none
    assert "✓ evidence for unit from build b2: coverage 97.00% ≥ 95%" in text
    assert "✗ evidence for unit from build b1: coverage 90.00% < 95%" in text


def test_the_milestones_page_shows_components_against_today_by_team(api: Api, clock: Clock) -> None:
    from datetime import timedelta

    today = clock.now.date()
    api.apply(
        FeatureBuilder("pay")
        .criterion("api-contract")
        .criterion("ledger-contract")
        .criterion("e2e", ring="preview")
        .with_(
            components=[
                {
                    "id": "payments-api",
                    "team": "platform",
                    "due": str(today + timedelta(days=4)),
                    "contract": "https://git.example/api.yaml",
                    "criteria": ["api-contract"],
                },
                {
                    "id": "ledger",
                    "team": "blockchain",
                    "due": str(today - timedelta(days=2)),
                    "criteria": ["ledger-contract"],
                },
            ],
            integration={"criterion": "e2e"},
        )
    )
    api.as_("qa").vote("pay", "api-contract", "yes")
    client, _ = sign_in(api, "qa")
    page = page_text(client.get("/milestones"))
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert 'href="/milestones" aria-current="page">Milestones</a>' in page
    assert f"payments-api platform {today + timedelta(days=4)} ✓ delivered {today}" in text
    assert f"ledger blockchain {today - timedelta(days=2)} ✗ late by 2 days" in text
    assert '<svg class="milestones"' in page and f"pay: components against today, {today}" in page
    assert ">today</text>" in page
    assert 'href="https://git.example/api.yaml"' in page
    filtered = page_text(client.get("/milestones?team=blockchain"))
    assert "ledger · blockchain" in filtered and "payments-api · platform" not in filtered
    assert "No feature has components of team nobody" in page_text(client.get("/milestones?team=nobody"))


def test_single_sign_on_is_offered_only_where_configured(api: Api) -> None:
    client = api.client.application.test_client()
    assert "company account" not in page_text(client.get("/login"))
    assert client.get("/auth/oidc/login", headers={"Accept": "text/html"}).status_code == 404
    answer = client.get("/auth/oidc/callback?code=x&state=y", headers={"Accept": "text/html"})
    assert answer.status_code == 404 and "<html" in page_text(answer)
