"""Product YAML through the API: apply, revisions, idempotence, archive."""

from __future__ import annotations

from tests.support import Api, FeatureBuilder


def checkout() -> FeatureBuilder:
    return (
        FeatureBuilder("checkout-v2", name="New checkout flow")
        .criterion("unit-tests", ring="internal")
        .criterion("e2e-browsers", ring="preview", required_yes=2)
    )


def test_apply_yaml_creates_the_feature_with_its_criteria(api: Api) -> None:
    body = api.apply(checkout().with_(description="One-page checkout", design="https://design.example/c"))
    assert body["key"] == "checkout-v2"
    assert body["name"] == "New checkout flow"
    assert body["design"] == "https://design.example/c"
    assert body["state"] == {"ring": None, "percent": 0, "killed": False, "soak_started_at": None}
    assert [(c["id"], c["ring"], c["required_yes"], c["revision"]) for c in body["criteria"]] == [
        ("unit-tests", "internal", 1, 1),
        ("e2e-browsers", "preview", 2, 1),
    ]
    assert body["criteria"][1]["detail"] == "0 of 2 yes votes"


def test_apply_json_is_the_same_as_yaml(api: Api) -> None:
    r = api.as_("product").put("/api/v1/features/checkout-v2/criteria", json=checkout().build())
    assert r.status_code == 200
    assert [c["id"] for c in r.json["criteria"]] == ["unit-tests", "e2e-browsers"]


def test_applying_the_same_file_twice_changes_nothing(api: Api) -> None:
    first = api.apply(checkout())
    second = api.apply(checkout())
    assert second["criteria"] == first["criteria"]
    assert second["version"] == first["version"]
    applies = [a for a in api.get("/api/v1/audit").json if a["action"] == "criteria.apply"]
    assert len(applies) == 1


def test_a_changed_criterion_gets_a_new_revision_and_old_votes_stop_counting(api: Api) -> None:
    api.apply(checkout())
    api.vote("checkout-v2", "unit-tests", "yes")
    assert api.get("/api/v1/features/checkout-v2").json["criteria"][0]["passed"] is True
    changed = (
        FeatureBuilder("checkout-v2", name="New checkout flow")
        .criterion("unit-tests", ring="internal", description="Unit tests cover 99%")
        .criterion("e2e-browsers", ring="preview", required_yes=2)
    )
    body = api.apply(changed)
    unit = body["criteria"][0]
    assert (unit["revision"], unit["passed"], unit["votes"]) == (2, False, [])
    assert body["criteria"][1]["revision"] == 1  # untouched criterion keeps its revision
    history = api.get("/api/v1/features/checkout-v2/criteria/unit-tests/votes").json
    assert [(v["revision"], v["current_revision"]) for v in history] == [(1, False)]


def test_required_yes_and_ring_changes_are_revisions_too(api: Api) -> None:
    api.apply(checkout())
    body = api.apply(
        FeatureBuilder("checkout-v2", name="New checkout flow")
        .criterion("unit-tests", ring="preview")
        .criterion("e2e-browsers", ring="preview", required_yes=3)
    )
    assert [c["revision"] for c in body["criteria"]] == [2, 2]


def test_a_dropped_criterion_leaves_the_gate_but_keeps_its_history(api: Api) -> None:
    api.apply(checkout())
    api.vote("checkout-v2", "e2e-browsers", "no")
    body = api.apply(FeatureBuilder("checkout-v2", name="New checkout flow").criterion("unit-tests"))
    assert [c["id"] for c in body["criteria"]] == ["unit-tests"]
    gate = api.get("/api/v1/features/checkout-v2/gate?ring=preview").json
    assert "criterion:e2e-browsers" not in [c["name"] for c in gate["checks"]]
    history = api.get("/api/v1/features/checkout-v2/criteria/e2e-browsers/votes").json
    assert [v["vote"] for v in history] == ["no"]
    assert api.post("/api/v1/features/checkout-v2/criteria/e2e-browsers/votes", json={"vote": "yes"}).status_code == 404


def test_reordering_criteria_is_recorded_without_new_revisions(api: Api) -> None:
    api.apply(checkout())
    body = api.apply(
        FeatureBuilder("checkout-v2", name="New checkout flow")
        .criterion("e2e-browsers", ring="preview", required_yes=2)
        .criterion("unit-tests")
    )
    assert [(c["id"], c["revision"]) for c in body["criteria"]] == [("e2e-browsers", 1), ("unit-tests", 1)]


def test_feature_fields_change_without_touching_criteria(api: Api) -> None:
    api.apply(checkout())
    body = api.apply(checkout().with_(owner="growth"))
    assert body["owner"] == "growth"
    assert [c["revision"] for c in body["criteria"]] == [1, 1]


def test_listing_shows_state_and_last_evaluation_newest_first(api: Api) -> None:
    for key in ("a-one", "b-two", "c-three"):
        api.apply(FeatureBuilder(key))
    listed = api.get("/api/v1/features").json
    assert [f["key"] for f in listed] == ["c-three", "b-two", "a-one"]
    assert listed[0]["state"]["ring"] is None and listed[0]["last_evaluated_at"] is None
    page = api.get("/api/v1/features?limit=2").json
    assert [f["key"] for f in page] == ["c-three", "b-two"]
    ids = api.get("/api/v1/features?limit=1&before=3").json
    assert [f["key"] for f in ids] == ["b-two"]


def test_archive_removes_the_flag_from_the_snapshot_and_keeps_history(api: Api) -> None:
    api.apply(checkout())
    api.vote("checkout-v2", "unit-tests")
    before = api.as_("sdk").get("/api/v1/sdk/snapshot").json
    assert "checkout-v2" in before["flags"]
    r = api.as_("product").delete("/api/v1/features/checkout-v2")
    assert r.status_code == 200 and r.json["version"] == before["version"] + 1
    after = api.as_("sdk").get("/api/v1/sdk/snapshot").json
    assert "checkout-v2" not in after["flags"]
    assert api.get("/api/v1/features/checkout-v2").status_code == 404
    assert api.as_("product").delete("/api/v1/features/checkout-v2").status_code == 404
    actions = [a["action"] for a in api.get("/api/v1/audit?feature=checkout-v2").json]
    assert actions == ["feature.archive", "vote", "criteria.apply"]


def test_reapplying_an_archived_feature_brings_it_back_off(api: Api) -> None:
    api.apply(checkout())
    api.vote("checkout-v2", "unit-tests")
    assert api.promote("checkout-v2", "internal").status_code == 200
    api.as_("product").delete("/api/v1/features/checkout-v2")
    body = api.apply(checkout())
    assert body["state"]["ring"] is None
    assert body["criteria"][0]["passed"] is True  # same revision, its votes still count


def test_rings_are_listed_as_loaded(api: Api) -> None:
    rings = api.get("/api/v1/rings").json
    assert [r["name"] for r in rings] == ["internal", "preview", "ga"]
    assert rings[1]["audience"] == {"users": [], "tenants": ["fabrikam", "northwind"], "groups": []}
    assert rings[1]["bucket_by"] == "tenant"
    assert rings[2]["gate"] == {"soak": 259200, "block_on_incidents": 2, "zero_bug_bounce": True, "rca_complete": True}


def test_the_listing_filters_by_owner_and_by_text(api: Api) -> None:
    api.apply(FeatureBuilder("checkout-v2", owner="payments", name="New checkout"))
    api.apply(FeatureBuilder("search", owner="discovery", name="Search 50%_off"))
    keys = lambda query: [f["key"] for f in api.get("/api/v1/features" + query).json]  # noqa: E731
    assert keys("?owner=payments") == ["checkout-v2"]
    assert keys("?q=CHECK") == ["checkout-v2"] and keys("?q=new") == ["checkout-v2"]
    assert keys("?q=%25_") == ["search"] and keys("?q=_") == ["search"]  # wildcards are themselves
    assert keys("?q=%25") == ["search"]  # a percent sign is itself, not a wildcard
    assert keys("?owner=nobody") == [] and api.get("/api/v1/features?owner=").status_code == 422
