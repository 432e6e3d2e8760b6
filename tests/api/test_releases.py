"""Promotion through the rings: the gate, soak, override, rollout, rollback, kill, revive."""

from __future__ import annotations

from tests.support import Api, Clock, FeatureBuilder


def ready(api: Api, key: str = "checkout") -> None:
    """A feature whose internal and preview criteria are signed off."""
    api.apply(FeatureBuilder(key).criterion("unit", ring="internal").criterion("e2e", ring="preview"))
    api.vote(key, "unit")
    api.vote(key, "e2e")


def checks(body: dict) -> dict[str, tuple[bool, str]]:
    return {c["name"]: (c["passed"], c["detail"]) for c in body["checks"]}


def test_the_gate_lists_every_check_in_order(api: Api) -> None:
    api.apply(
        FeatureBuilder("checkout")
        .criterion("unit", ring="internal")
        .criterion("e2e", ring="preview")
        .criterion("perf", ring="ga")
    )
    gate = api.get("/api/v1/features/checkout/gate?ring=preview").json
    assert gate["ring"] == "preview" and gate["passed"] is False
    assert [c["name"] for c in gate["checks"]] == [
        "order",
        "criterion:unit",
        "criterion:e2e",
        "soak",
        "incidents",
        "zero-bug-bounce",
        "rca",
    ]
    assert checks(gate)["zero-bug-bounce"] == (True, "not required")
    default = api.get("/api/v1/features/checkout/gate").json
    assert default["ring"] == "internal"
    assert checks(default)["order"] == (True, "off → internal")


def test_promotion_walks_the_rings_only_when_each_gate_passes(api: Api, clock: Clock) -> None:
    ready(api)
    r = api.promote("checkout", "internal")
    assert r.status_code == 200
    assert (r.json["ring"], r.json["percent"], r.json["killed"]) == ("internal", 100, False)
    v1 = r.json["version"]
    refused = api.promote("checkout", "preview")
    assert refused.status_code == 409
    assert refused.content_type == "application/problem+json"
    assert checks(refused.json)["soak"] == (False, "served 0s of 1d in internal; 1d to go")
    clock.advance(hours=23)
    assert checks(api.get("/api/v1/features/checkout/gate").json)["soak"] == (
        False,
        "served 23h of 1d in internal; 1h to go",
    )
    clock.advance(hours=1)
    r = api.promote("checkout", "preview", percent=25)
    assert r.status_code == 200 and r.json["version"] == v1 + 1
    assert (r.json["ring"], r.json["percent"]) == ("preview", 25)


def test_only_the_next_ring_may_be_entered(api: Api) -> None:
    ready(api)
    r = api.promote("checkout", "ga")
    assert r.status_code == 409
    assert checks(r.json)["order"] == (False, "the next ring after off is internal; ga cannot be skipped to")
    api.promote("checkout", "internal")
    again = api.promote("checkout", "internal")
    assert again.status_code == 409
    assert checks(again.json)["order"][0] is False
    assert api.promote("checkout", "moon").status_code == 422


def test_a_refusal_names_every_failing_check(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit", required_yes=2))
    api.as_("qa").vote("checkout", "unit", "no")
    r = api.promote("checkout", "internal")
    assert r.status_code == 409
    assert checks(r.json)["criterion:unit"] == (False, "0 of 2 yes votes; no from alice")
    assert "criterion:unit: 0 of 2 yes votes; no from alice" in r.json["detail"]


def test_admin_override_passes_failed_checks_but_not_order_and_is_recorded(api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    r = api.as_("release").post(
        "/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "hotfix"}
    )
    assert r.status_code == 403
    r = api.post("/api/v1/features/checkout/promote", json={"ring": "ga", "override_reason": "yolo"})
    assert r.status_code == 409
    r = api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "sev-0 fix"})
    assert r.status_code == 200
    audit = api.get("/api/v1/audit?feature=checkout").json
    override = next(a for a in audit if a["action"] == "override")
    assert override["actor"] == "admin"
    assert override["after"] == {"ring": "internal", "reason": "sev-0 fix"}
    assert override["before"]["failed"][0]["name"] == "criterion:unit"
    deployment = api.get("/api/v1/features/checkout/deployments").json[0]
    assert (deployment["overridden"], deployment["reason"]) == (True, "sev-0 fix")


def test_rollout_changes_the_percent_in_the_current_ring(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal", percent=10)
    gate = api.get("/api/v1/features/checkout/gate").json
    assert checks(gate)["soak"] == (False, "at 10% in internal; soak starts at 100%")
    r = api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 12.5})
    assert (r.status_code, r.json["percent"]) == (200, 12.5)
    same = api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 12.5})
    assert same.status_code == 200 and same.json["version"] == r.json["version"] and same.json["deployment"] is None
    api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 100})
    clock.advance(days=1)
    assert api.promote("checkout", "preview").status_code == 200


def test_rollout_below_100_ends_the_soak_period(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal")
    clock.advance(hours=20)
    api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 50})
    api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 100})
    clock.advance(hours=20)
    assert checks(api.get("/api/v1/features/checkout/gate").json)["soak"][0] is False


def test_rollout_needs_a_ring(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    r = api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 50})
    assert r.status_code == 409


def test_kill_and_revive_restore_the_held_exposure(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal", percent=40)
    r = api.as_("release").post("/api/v1/features/checkout/kill", json={"reason": "errors spiking"})
    assert (r.status_code, r.json["killed"], r.json["ring"], r.json["percent"]) == (200, True, "internal", 40)
    assert api.as_("release").post("/api/v1/features/checkout/kill", json={}).status_code == 409
    refused = api.promote("checkout", "preview")
    assert refused.status_code == 409
    assert checks(refused.json)["order"] == (False, "killed in internal; revive first")
    rollout = api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 50})
    assert rollout.status_code == 409 and rollout.json["checks"][0]["name"] == "order"
    r = api.as_("release").post("/api/v1/features/checkout/revive")
    assert (r.status_code, r.json["killed"], r.json["ring"], r.json["percent"]) == (200, False, "internal", 40)
    assert api.as_("release").post("/api/v1/features/checkout/revive", json={}).status_code == 409


def test_a_kill_ends_soak_and_revive_starts_a_new_period(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal")
    clock.advance(hours=23)
    api.as_("release").post("/api/v1/features/checkout/kill", json={})
    assert checks(api.get("/api/v1/features/checkout/gate?ring=preview").json)["soak"][0] is False
    api.as_("release").post("/api/v1/features/checkout/revive", json={})
    clock.advance(hours=2)
    assert checks(api.get("/api/v1/features/checkout/gate").json)["soak"] == (
        False,
        "served 2h of 1d in internal; 22h to go",
    )


def test_rollback_goes_to_an_earlier_ring_or_off(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal")
    clock.advance(days=1)
    api.promote("checkout", "preview", percent=30)
    assert api.as_("release").post("/api/v1/features/checkout/rollback", json={"ring": "preview"}).status_code == 409
    r = api.as_("release").post("/api/v1/features/checkout/rollback", json={"ring": "internal", "reason": "bad"})
    assert (r.status_code, r.json["ring"], r.json["percent"]) == (200, "internal", 100)
    gate = api.get("/api/v1/features/checkout/gate").json
    assert checks(gate)["soak"] == (False, "served 0s of 1d in internal; 1d to go")
    assert checks(gate)["criterion:e2e"][0] is True  # votes survive a rollback
    r = api.as_("release").post("/api/v1/features/checkout/rollback", json={"ring": None})
    assert (r.json["ring"], r.json["percent"]) == (None, 0)
    assert api.as_("release").post("/api/v1/features/checkout/rollback", json={"ring": None}).status_code == 409


def test_rollback_while_killed_changes_what_revive_restores(api: Api, clock: Clock) -> None:
    ready(api)
    api.promote("checkout", "internal")
    clock.advance(days=1)
    api.promote("checkout", "preview")
    api.as_("release").post("/api/v1/features/checkout/kill", json={})
    r = api.as_("release").post("/api/v1/features/checkout/rollback", json={"ring": "internal"})
    assert (r.status_code, r.json["killed"]) == (200, True)
    r = api.as_("release").post("/api/v1/features/checkout/revive")
    assert (r.json["ring"], r.json["percent"], r.json["killed"]) == ("internal", 100, False)


def test_every_exposure_change_is_a_deployment_event_and_bumps_the_version(api: Api, clock: Clock) -> None:
    ready(api)
    versions = [api.get("/api/v1/features/checkout").json["version"]]
    release = api.as_("release")
    versions.append(api.promote("checkout", "internal", percent=50).json["version"])
    versions.append(release.post("/api/v1/features/checkout/rollout", json={"percent": 100}).json["version"])
    versions.append(release.post("/api/v1/features/checkout/kill", json={"reason": "r"}).json["version"])
    versions.append(release.post("/api/v1/features/checkout/revive").json["version"])
    versions.append(release.post("/api/v1/features/checkout/rollback", json={"ring": None}).json["version"])
    assert versions == sorted(set(versions)) and versions[-1] == versions[0] + 5
    events = api.get("/api/v1/features/checkout/deployments").json
    assert [(e["kind"], e["ring"], e["percent"], e["actor"]) for e in events] == [
        ("rollback", None, 0, "release"),
        ("revive", "internal", 100, "release"),
        ("kill", "internal", 100, "release"),
        ("rollout", "internal", 100, "release"),
        ("promote", "internal", 50, "release"),
    ]
    assert events[0]["from_ring"] == "internal" and events[4]["from_ring"] is None
    assert [e["version"] for e in events] == sorted(versions[1:], reverse=True)
    assert len(api.get("/api/v1/features/checkout/deployments?limit=2").json) == 2
    assert api.get(f"/api/v1/features/checkout/deployments?before={events[3]['id']}").json[0]["kind"] == "promote"


def test_deployments_into_the_last_ring_count_for_dora_and_leaving_marks_them_failed(api: Api, clock: Clock) -> None:
    api.apply(FeatureBuilder("checkout"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal"})
    clock.advance(days=1)
    api.post("/api/v1/features/checkout/promote", json={"ring": "preview"})
    clock.advance(days=3)
    api.post("/api/v1/features/checkout/promote", json={"ring": "ga", "percent": 10})
    api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 50})
    api.as_("release").post("/api/v1/features/checkout/rollout", json={"percent": 20})
    events = api.get("/api/v1/features/checkout/deployments").json
    assert [(e["kind"], e["is_deployment"], e["failed"]) for e in events] == [
        ("rollout", False, False),
        ("rollout", True, True),
        ("promote", True, False),
        ("promote", False, False),
        ("promote", False, False),
    ]


def test_snapshot_reflects_exposure_and_answers_304_on_its_etag(api: Api) -> None:
    ready(api)
    sdk = api.as_("sdk")
    first = sdk.get("/api/v1/sdk/snapshot")
    assert first.status_code == 200
    assert first.headers["ETag"] == f'"{first.json["version"]}"'
    assert first.json["flags"]["checkout"] == {"ring": None, "percent": 0, "killed": False}
    assert sdk.get("/api/v1/sdk/snapshot", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    version = api.promote("checkout", "internal", percent=12.5).json["version"]
    second = sdk.get("/api/v1/sdk/snapshot", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.json["version"] == version
    assert second.json["flags"]["checkout"] == {"ring": "internal", "percent": 12.5, "killed": False}
    assert second.json["rings"][2] == {"name": "ga", "audience": "all", "bucket_by": "user"}


def test_server_evaluation_uses_the_sdk_algorithm(api: Api) -> None:
    ready(api)
    api.promote("checkout", "internal")
    sdk = api.as_("sdk")
    staff = sdk.post("/api/v1/sdk/evaluate", json={"flag": "checkout", "context": {"user": "u", "groups": ["cs"]}})
    assert staff.json == {
        "flag": "checkout",
        "enabled": True,
        "reason": "ROLLOUT",
        "ring": "internal",
        "version": staff.json["version"],
    }
    everyone = sdk.post("/api/v1/sdk/evaluate", json={"flag": "checkout", "context": {"user": "u"}})
    assert (everyone.json["enabled"], everyone.json["reason"], everyone.json["ring"]) == (False, "NOT_IN_RING", "ga")
    unknown = sdk.post("/api/v1/sdk/evaluate", json={"flag": "nope", "context": {}})
    assert (unknown.json["enabled"], unknown.json["reason"]) == (False, "UNKNOWN_FLAG")
