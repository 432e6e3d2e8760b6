"""Release plans through the API: bad plans, a walk to GA under the gate, holds, windows, incidents, the guard.

The checker is the one every `gate serve` worker runs (`runtime(app).plans.run_once()`), driven here by the
test's clock; tests/integration/test_plans_live.py runs it in two real servers against a real Prometheus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from gate.runtime import runtime
from tests.receivers import MetricSource
from tests.support import Api, Clock, FeatureBuilder, dump_store

PLAN: dict[str, Any] = {
    "steps": [
        {"ring": "internal"},
        {"ring": "preview", "percent": 10, "hold": "1h"},
        {"ring": "preview"},
        {"ring": "ga", "percent": 50, "hold": "2h"},
        {"ring": "ga"},
    ]
}


def with_plan(api: Api, plan: dict[str, Any] | None = None, key: str = "checkout") -> None:
    builder = FeatureBuilder(key).criterion("unit", ring="internal").criterion("e2e", ring="preview")
    api.apply(builder.with_(plan=plan or PLAN))
    api.as_("qa").vote(key, "unit")
    api.as_("qa").vote(key, "e2e")


def tick(app: Flask) -> Any:
    return runtime(app).plans.run_once()


def plan(api: Api, key: str = "checkout") -> dict[str, Any]:
    r = api.get(f"/api/v1/features/{key}/plan")
    assert r.status_code == 200, r.json
    return r.json


def exposure(api: Api, key: str = "checkout") -> tuple[Any, Any, Any]:
    state = api.get(f"/api/v1/features/{key}").json["state"]
    return state["ring"], state["percent"], state["killed"]


def act(api: Api, action: str, key: str = "checkout") -> Any:
    return api.as_("release").post(f"/api/v1/features/{key}/plan/{action}")


def test_a_plan_takes_the_feature_to_ga_by_itself_under_every_gate(app: Flask, api: Api, clock: Clock) -> None:
    with_plan(api)
    idle = plan(api)
    assert idle["state"] == "idle" and idle["step"] is None
    assert idle["steps"][1] == {"ring": "preview", "percent": 10, "hold": "1h"}
    assert idle["next"]["blocked_by"] == ["plan: not started"]
    started = act(api, "start")
    assert started.status_code == 200 and started.json["state"] == "running"
    assert started.json["next"] == {"step": 0, "not_before": clock.now.isoformat(), "blocked_by": []}
    assert tick(app).taken == 1
    assert exposure(api) == ("internal", 100, False)
    # the preview gate needs 24 h of soak in internal: the plan waits, and says why
    waiting = plan(api)
    assert waiting["step"] == 0 and waiting["state"] == "running"
    assert waiting["next"]["blocked_by"] == ["soak: served 0s of 1d in internal; 1d to go"]
    assert tick(app).taken == 0
    clock.advance(hours=24)
    assert tick(app).taken == 1
    assert exposure(api) == ("preview", 10, False)
    clock.advance(minutes=30)
    held = plan(api)["next"]
    assert held["blocked_by"] == ["hold: preview at 10% for 1 h, 30 min left"]
    assert held["not_before"] == datetime(2026, 11, 3, 10, 0, tzinfo=UTC).isoformat()
    assert tick(app).taken == 0
    clock.advance(minutes=30)
    assert tick(app).taken == 1 and exposure(api) == ("preview", 100, False)
    clock.advance(hours=72)
    tick(app)
    assert exposure(api) == ("ga", 50, False)
    clock.advance(hours=2)
    tick(app)
    done = plan(api)
    assert exposure(api) == ("ga", 100, False)
    assert done["state"] == "done" and done["step"] == 4 and done["next"] is None
    assert [h["action"] for h in done["history"]] == ["start", "step", "step", "step", "step", "step"]
    assert done["history"][-1]["detail"] == "step 5 of 5: ga at 100% (the last: done)"
    assert {h["actor"] for h in done["history"][1:]} == {"plan:release"}
    # each step is an ordinary exposure change: audited as the plan, counted by DORA, seen by SDKs
    deployments = api.get("/api/v1/features/checkout/deployments").json
    assert [(d["kind"], d["ring"], d["percent"], d["actor"]) for d in deployments][:2] == [
        ("rollout", "ga", 100, "plan:release"),
        ("promote", "ga", 50, "plan:release"),
    ]
    assert sum(d["is_deployment"] for d in deployments) == 2
    snapshot = api.as_("sdk").get("/api/v1/sdk/snapshot").json
    flag = snapshot["flags"]["checkout"]
    assert (flag["ring"], flag["percent"]) == ("ga", 100)
    assert tick(app).checked == 0  # a done plan is no longer checked


def test_a_plan_never_overrides_a_gate(app: Flask, api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit", ring="internal").with_(plan=PLAN))
    act(api, "start")
    assert tick(app).taken == 0
    assert exposure(api) == (None, 0, False)
    assert plan(api)["next"]["blocked_by"] == ["criterion:unit: 0 of 1 yes vote"]
    api.as_("qa").vote("checkout", "unit", "no")
    assert plan(api)["next"]["blocked_by"] == ["criterion:unit: 0 of 1 yes vote; no from alice"]
    api.as_("qa").vote("checkout", "unit")
    assert tick(app).taken == 1 and exposure(api) == ("internal", 100, False)


def test_racing_checkers_take_each_step_once(app: Flask, api: Api) -> None:
    with_plan(api)
    act(api, "start")
    assert tick(app).taken == 1
    assert tick(app).taken == 0  # the next step waits for soak; nothing is taken twice
    steps = [h for h in plan(api)["history"] if h["action"] == "step"]
    assert len(steps) == 1


def test_a_manual_exposure_change_pauses_the_plan_and_resume_goes_on_from_there(
    app: Flask, api: Api, clock: Clock
) -> None:
    with_plan(api)
    act(api, "start")
    tick(app)
    assert api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 40}).status_code == 200
    paused = plan(api)
    assert paused["state"] == "paused" and paused["reason"] == "release made a rollout by hand"
    assert paused["next"]["blocked_by"][0] == "plan: paused: release made a rollout by hand"
    assert paused["history"][-1]["detail"] == "paused: release made a rollout by hand"
    clock.advance(hours=24)
    assert tick(app).checked == 0 and exposure(api) == ("internal", 40, False)
    resumed = act(api, "resume").json
    assert resumed["state"] == "running" and resumed["step"] is None  # internal at 40% is below step 1
    tick(app)
    assert exposure(api) == ("internal", 100, False)


def test_pause_resume_cancel_and_start_are_refused_in_the_wrong_state(app: Flask, api: Api) -> None:
    with_plan(api)
    for action in ("pause", "resume", "cancel"):
        r = act(api, action)
        assert r.status_code == 409 and r.content_type == "application/problem+json", action
    assert act(api, "start").status_code == 200
    assert act(api, "start").status_code == 409
    assert act(api, "pause").json["state"] == "paused"
    assert act(api, "pause").status_code == 409
    assert act(api, "resume").json["state"] == "running"
    cancelled = act(api, "cancel").json
    assert cancelled["state"] == "idle" and cancelled["reason"] == "cancelled by release"
    assert [h["action"] for h in cancelled["history"]] == ["start", "pause", "resume", "cancel"]
    assert api.as_("qa").post("/api/v1/features/checkout/plan/start").status_code == 403
    assert api.get("/api/v1/features/nope/plan").status_code == 404
    api.apply(FeatureBuilder("plain"))
    missing = api.get("/api/v1/features/plain/plan")
    assert missing.status_code == 404 and "no release plan" in missing.json["detail"]


@pytest.mark.parametrize(
    ("on_incident", "severity", "state", "expected"),
    [
        ("pause", 2, "paused", ("preview", 10, False)),
        ("rollback", 2, "halted", ("internal", 100, False)),
        ("kill", 2, "halted", ("preview", 10, True)),
        ("rollback", 1, "halted", ("internal", 100, True)),  # auto-killed first (rings.yaml), then rolled back
        ("pause", 3, "running", ("preview", 10, False)),  # severity 3 does not stop a plan
    ],
)
def test_an_incident_mid_plan_applies_on_incident(
    app: Flask, api: Api, clock: Clock, on_incident: str, severity: int, state: str, expected: tuple[Any, ...]
) -> None:
    with_plan(api, {**PLAN, "on_incident": on_incident})
    act(api, "start")
    tick(app)
    clock.advance(hours=24)
    tick(app)
    assert exposure(api) == ("preview", 10, False)
    opened = api.as_("reporter").post(
        "/api/v1/incidents", json={"title": "checkout 500s", "severity": severity, "feature": "checkout"}
    )
    assert opened.status_code == 201
    after = plan(api)
    assert after["state"] == state
    assert exposure(api) == expected
    if state != "running":
        assert after["reason"] == f"incident #{opened.json['id']} (severity {severity}) opened"
        assert after["history"][-1]["action"] == ("pause" if state == "paused" else "halt")
    if state != "running":  # one entry: the auto-kill (severity 1) is not a change by hand
        assert [h["action"] for h in after["history"]] == ["start", "step", "step", after["history"][-1]["action"]]
    if on_incident == "rollback":
        assert after["step"] == 0
        assert after["history"][-1]["detail"].startswith("halted and rolled back to step 1 (internal at 100%)")


def test_rollback_before_any_step_or_from_the_first_halts_off(app: Flask, api: Api) -> None:
    with_plan(api, {**PLAN, "on_incident": "rollback"})
    act(api, "start")
    tick(app)
    api.as_("reporter").post("/api/v1/incidents", json={"title": "t", "severity": 2, "feature": "checkout"})
    halted = plan(api)
    assert halted["state"] == "halted" and halted["step"] is None
    assert exposure(api) == (None, 0, False)
    assert halted["history"][-1]["detail"] == "halted and rolled back to off: incident #1 (severity 2) opened"
    resumed = act(api, "resume").json
    assert resumed["state"] == "running"


def test_a_window_holds_steps_until_it_opens(app: Flask, api: Api, clock: Clock) -> None:
    window = {"days": ["mon", "tue"], "hours": "09:00-16:00", "timezone": "Europe/Berlin"}
    with_plan(api, {**PLAN, "windows": window})
    clock.now = datetime(2026, 11, 3, 15, 30, tzinfo=UTC)  # Tuesday 16:30 in Berlin: closed
    act(api, "start")
    assert tick(app).taken == 0
    waiting = plan(api)["next"]
    assert waiting["blocked_by"] == [
        "window: outside mon, tue 09:00-16:00 Europe/Berlin; it opens Mon 09 Nov 09:00 CET"
    ]
    assert waiting["not_before"] == datetime(2026, 11, 9, 8, 0, tzinfo=UTC).isoformat()
    clock.now = datetime(2026, 11, 9, 7, 59, tzinfo=UTC)
    assert tick(app).taken == 0
    clock.now = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert tick(app).taken == 1 and exposure(api) == ("internal", 100, False)


@pytest.fixture
def app_config(metric: MetricSource) -> dict[str, Any]:
    return {"PROMETHEUS_URL": metric.url}


GUARDED = {**PLAN, "guard": {"query": 'sum(rate(errors_total{feature="checkout"}[1m]))', "max": 0.5}}


def test_a_guard_breach_rolls_back_and_a_failed_query_only_blocks(
    app: Flask, api: Api, clock: Clock, metric: MetricSource
) -> None:
    with_plan(api, GUARDED)
    act(api, "start")
    metric.value = None
    assert tick(app).taken == 0
    assert plan(api)["next"]["blocked_by"] == ["guard: the query returned no data; no step is taken without a reading"]
    metric.status = 400
    assert tick(app).taken == 0
    assert plan(api)["next"]["blocked_by"] == [
        "guard: Prometheus answered 400: parse error at char 1; no step is taken without a reading"
    ]
    metric.status, metric.value = 200, "0.1"
    assert tick(app).taken == 1
    clock.advance(hours=24)
    tick(app)
    assert exposure(api) == ("preview", 10, False)
    metric.value = "0.75"
    result = tick(app)
    assert (result.taken, result.halted) == (0, 1)
    halted = plan(api)
    assert halted["state"] == "halted" and exposure(api) == ("internal", 100, False)
    assert halted["reason"] == "the guard read 0.75, above its maximum 0.5"
    assert metric.queries[-1] == 'sum(rate(errors_total{feature="checkout"}[1m]))'


def test_a_guard_breach_can_pause_instead(app: Flask, api: Api, metric: MetricSource) -> None:
    with_plan(api, {**GUARDED, "guard": {**GUARDED["guard"], "on_breach": "pause"}})
    act(api, "start")
    tick(app)
    metric.value = "9"
    tick(app)
    assert plan(api)["state"] == "paused" and exposure(api) == ("internal", 100, False)


BAD_PLANS = [
    ({"steps": []}, {"plan.steps"}),
    ({"steps": [{"ring": "moon"}]}, {"plan.steps[0].ring"}),
    ({"steps": [{"ring": "preview"}, {"ring": "internal"}]}, {"plan.steps[1]"}),
    ({"steps": [{"ring": "internal", "percent": 50}, {"ring": "internal", "percent": 50}]}, {"plan.steps[1]"}),
    ({"steps": [{"ring": "internal", "percent": 150}]}, {"plan.steps[0].percent"}),
    ({"steps": [{"ring": "internal", "hold": "soon"}]}, {"plan.steps[0].hold"}),
    ({"steps": [{"ring": "internal", "wait": "1h"}]}, {"plan.steps[0].wait"}),
    ({"steps": [{"ring": "internal"}], "on_incident": "panic"}, {"plan.on_incident"}),
    ({"steps": [{"ring": "internal"}], "windows": {"hours": "16:00-09:00"}}, {"plan.windows.hours"}),
    ({"steps": [{"ring": "internal"}], "windows": {"days": ["someday"]}}, {"plan.windows.days[0]"}),
    ({"steps": [{"ring": "internal"}], "windows": {"timezone": "Mars/Olympus"}}, {"plan.windows.timezone"}),
    ({"steps": [{"ring": "internal"}], "windows": {"timezone": "../../etc/passwd"}}, {"plan.windows.timezone"}),
    ({"steps": [{"ring": "internal"}], "guard": {"max": 1}}, {"plan.guard.query"}),
    ({"steps": [{"ring": "internal"}], "guard": {"query": "up", "max": "high"}}, {"plan.guard.max"}),
    (
        {"steps": [{"ring": "internal"}], "guard": {"query": "up", "max": 1, "on_breach": "kill"}},
        {"plan.guard.on_breach"},
    ),
    ("go", {"plan"}),
    (
        {"steps": [{"ring": "moon", "percent": 0}], "on_incident": "x", "guard": {"query": ""}},
        {"plan.steps[0].ring", "plan.steps[0].percent", "plan.on_incident", "plan.guard.query", "plan.guard.max"},
    ),
]


@pytest.mark.parametrize(("bad", "paths"), BAD_PLANS)
def test_a_bad_plan_is_422_with_every_error_and_changes_nothing(
    api: Api, database_url: str, bad: Any, paths: set[str]
) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit").with_(plan=PLAN))
    before = dump_store(database_url)
    r = api.as_("product").put(
        "/api/v1/features/checkout/criteria",
        data=FeatureBuilder("checkout").criterion("unit").with_(plan=bad).yaml(),
        content_type="application/yaml",
    )
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert set(r.json["errors"]) == paths
    assert dump_store(database_url) == before


def test_a_running_plan_changes_only_once_release_pauses_it_and_then_from_the_next_step(
    app: Flask, api: Api, clock: Clock, database_url: str
) -> None:
    with_plan(api)
    act(api, "start")
    tick(app)
    clock.advance(hours=24)
    tick(app)
    assert exposure(api) == ("preview", 10, False)
    shorter = {"steps": [{"ring": "internal"}, {"ring": "preview", "percent": 10, "hold": "5m"}, {"ring": "ga"}]}
    builder = FeatureBuilder("checkout").criterion("unit", ring="internal").criterion("e2e", ring="preview")
    product = api.as_("product")
    before = dump_store(database_url)
    for document in (builder.with_(plan=shorter).build(), {**builder.build(), "plan": None}):
        if document["plan"] is None:
            del document["plan"]  # a file without its plan: that would cancel the run
        refused = product.put("/api/v1/features/checkout/criteria", json=document)
        assert refused.status_code == 409, refused.json
        assert refused.json["detail"].startswith("the release plan of checkout is running: a release manager pauses")
    assert dump_store(database_url) == before  # plan control is release's (contract 7.3)
    assert act(api, "pause").status_code == 200
    api.apply(builder.with_(plan=shorter))
    changed = plan(api)
    assert changed["state"] == "paused" and changed["step"] == 1
    assert (
        changed["history"][-1]["detail"]
        == "the product file changed the plan; it goes on after step 2 (preview at 10%)"
    )
    assert act(api, "resume").json["next"]["step"] == 2
    act(api, "pause")
    # removing the plan from the file of a paused plan ends the run
    api.apply(FeatureBuilder("checkout").criterion("unit", ring="internal").criterion("e2e", ring="preview"))
    assert api.get("/api/v1/features/checkout/plan").status_code == 404
    assert tick(app).checked == 0


def test_a_killed_feature_cannot_start_or_resume_its_plan(app: Flask, api: Api) -> None:
    with_plan(api)
    act(api, "start")
    tick(app)
    api.as_("release").post("/api/v1/features/checkout/kill", json={})
    assert plan(api)["state"] == "paused"
    assert act(api, "resume").status_code == 409
    act(api, "cancel")
    r = act(api, "start")
    assert r.status_code == 409 and "revive" in r.json["detail"]


def test_archiving_the_feature_cancels_its_run(app: Flask, api: Api) -> None:
    with_plan(api)
    act(api, "start")
    tick(app)
    assert api.as_("product").delete("/api/v1/features/checkout").status_code == 200
    assert tick(app).checked == 0
    with_plan(api)  # applied again: back, off, with its plan idle
    again = plan(api)
    assert again["state"] == "idle" and exposure(api) == (None, 0, False)
    assert "cancelled: the feature was archived" in [h["detail"] for h in again["history"]]


def test_a_gate_that_closes_between_the_check_and_the_step_takes_nothing(app: Flask, api: Api) -> None:
    from gate.domain.plans import Reading
    from gate.services.plan_checks import check_plans

    with_plan(api, {**PLAN, "guard": {"query": "errors", "max": 1}})
    act(api, "start")

    def read_and_vote_no(query: str) -> Reading:
        # while the check decides, QA takes the sign-off back (another request, another transaction)
        api.as_("qa").vote("checkout", "unit", "no")
        return Reading(value=0.0)

    with app.app_context():
        tick_result = check_plans(read=read_and_vote_no)
    assert (tick_result.checked, tick_result.taken) == (1, 0)
    assert exposure(api) == (None, 0, False)
    assert plan(api)["next"]["blocked_by"][0] == "criterion:unit: 0 of 1 yes vote; no from alice"


def test_a_plan_changed_between_the_check_and_the_step_is_left_to_the_next_check(app: Flask, api: Api) -> None:
    from gate.domain.plans import Reading
    from gate.services.plan_checks import check_plans

    with_plan(api, {**PLAN, "guard": {"query": "errors", "max": 1}})
    act(api, "start")

    def read_and_pause(query: str) -> Reading:
        act(api, "pause")  # a release manager pauses it while the check decides
        return Reading(value=0.0)

    with app.app_context():
        assert check_plans(read=read_and_pause).taken == 0
    assert exposure(api) == (None, 0, False) and plan(api)["state"] == "paused"
