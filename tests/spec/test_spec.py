"""Language-neutral vectors (tests/spec/*.json) run against the SDK, the server and Microsoft's library."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from featuremanagement import FeatureManager, TargetingContext
from gate_sdk import Snapshot, bucket, evaluate, in_rollout

from tests.support import Api, FeatureBuilder

HERE = Path(__file__).parent
BUCKETING = json.loads((HERE / "bucketing.json").read_text())
EVALUATION = json.loads((HERE / "evaluation.json").read_text())


@pytest.fixture
def rings_file(tmp_path: Path) -> Path:
    """The server's rings: those of the evaluation vectors' snapshot."""
    rings = [dict(r) for r in EVALUATION["snapshot"]["rings"]]
    path = tmp_path / "rings.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "rings": rings}))
    return path


@pytest.mark.parametrize("case", BUCKETING["cases"], ids=lambda c: f"{c['flag']}:{c['value'][:12]}:{c['percent']}")
def test_bucketing_vectors_match_the_sdk(case: dict[str, Any]) -> None:
    assert bucket(case["value"], case["flag"]) == case["bucket"]
    assert in_rollout(case["value"], case["flag"], case["percent"]) is case["inside"]


def _microsoft(flag: str, user: str, percent: float) -> bool:
    audience = {"Users": [], "Groups": [], "DefaultRolloutPercentage": percent}
    flags = [
        {
            "id": flag,
            "enabled": True,
            "conditions": {"client_filters": [{"name": "Microsoft.Targeting", "parameters": {"Audience": audience}}]},
        }
    ]
    return bool(
        FeatureManager({"feature_management": {"feature_flags": flags}}).is_enabled(
            flag, TargetingContext(user_id=user)
        )
    )


def test_bucketing_vectors_match_microsoft_featuremanagement() -> None:
    mismatches = [c for c in BUCKETING["cases"] if _microsoft(c["flag"], c["value"], c["percent"]) is not c["inside"]]
    assert mismatches == []
    assert len(BUCKETING["cases"]) > 300


def test_no_value_is_inside_only_at_100(caplog: pytest.LogCaptureFixture) -> None:
    assert in_rollout(None, "f", 100) and in_rollout("", "f", 100)
    assert not in_rollout(None, "f", 99.99) and not in_rollout("", "f", 99.99)
    with caplog.at_level(logging.ERROR):  # Microsoft's library answers false here; the contract differs on purpose
        assert _microsoft("f", "", 50) is False


@pytest.mark.parametrize("case", EVALUATION["cases"], ids=lambda c: c["name"])
def test_evaluation_vectors_against_the_sdk(case: dict[str, Any]) -> None:
    snapshot = Snapshot.from_dict(EVALUATION["snapshot"])
    result = evaluate(snapshot, case["flag"], case["context"], case["default"])
    expected = case["expected"]
    assert (result.enabled, result.reason.value, result.ring, result.version) == (
        expected["enabled"],
        expected["reason"],
        expected["ring"],
        expected["version"],
    )


def test_evaluation_vectors_against_the_server(api: Api) -> None:
    """Build the vectors' snapshot through the API, then ask the server for every case."""
    flags = EVALUATION["snapshot"]["flags"]
    for key, state in flags.items():
        api.apply(FeatureBuilder(key))
        if state["ring"] is None:
            continue
        for ring in ("internal", "preview", "ga"):
            r = api.post(
                f"/api/v1/features/{key}/promote",
                json={
                    "ring": ring,
                    "override_reason": "spec vectors",
                    **({"percent": state["percent"]} if ring == state["ring"] else {}),
                },
            )
            assert r.status_code == 200, r.json
            if ring == state["ring"]:
                break
        if state["killed"]:
            assert api.post(f"/api/v1/features/{key}/kill", json={}).status_code == 200
    snapshot = api.as_("sdk").get("/api/v1/sdk/snapshot").json
    assert snapshot["flags"] == flags
    for case in EVALUATION["cases"]:
        if case["default"] or case["context"] is None:
            continue  # the endpoint has no default; a null context is refused as input
        body = api.as_("sdk").post("/api/v1/sdk/evaluate", json={"flag": case["flag"], "context": case["context"]}).json
        expected = case["expected"]
        assert (body["enabled"], body["reason"], body["ring"]) == (
            expected["enabled"],
            expected["reason"],
            expected["ring"],
        ), case["name"]
        _check_ofrep(api, case)


def _check_ofrep(api: Api, case: dict[str, Any]) -> None:
    """The same case through OFREP: the user is the targeting key, Gate's reason and ring in the metadata."""
    context = dict(case["context"])
    user = context.pop("user", None)
    if user is not None and type(user) is not str:
        return  # OFREP's targeting key is a string by its own schema: a number there is refused as input
    if user is not None:
        context["targetingKey"] = user
    r = api.as_("sdk").post(f"/ofrep/v1/evaluate/flags/{case['flag']}", json={"context": context})
    expected = case["expected"]
    if expected["reason"] == "UNKNOWN_FLAG":
        assert (r.status_code, r.json["errorCode"]) == (404, "FLAG_NOT_FOUND"), case["name"]
        return
    assert r.status_code == 200, (case["name"], r.json)
    assert (r.json["value"], r.json["metadata"]["gateReason"], r.json["metadata"]["ring"]) == (
        expected["enabled"],
        expected["reason"],
        expected["ring"],
    ), case["name"]


@pytest.mark.parametrize("percent", [0.01, 0.5, 1, 12.5, 33.33, 50, 66.67, 99.99, 100])
def test_the_integer_threshold_is_the_float_formula_exactly(percent: float) -> None:
    from gate_sdk._bucket import threshold

    t = threshold(percent)
    scale = 2**32 - 1
    assert not t / scale * 100 < percent
    if t > 0:
        assert (t - 1) / scale * 100 < percent
    for x in (0, t - 2, t - 1, t, t + 1, scale):
        if 0 <= x <= scale:
            assert (x < t) is (x / scale * 100 < percent)


def test_context_ring_names_the_first_matching_ring() -> None:
    from gate_sdk import context_ring

    snapshot = Snapshot.from_dict(EVALUATION["snapshot"])
    assert context_ring(snapshot, {"user": "dana", "tenant": "fabrikam"}) == 0
    assert context_ring(snapshot, {"tenant": "fabrikam"}) == 1
    assert context_ring(snapshot, {"groups": ["x", "cs"]}) == 0
    assert context_ring(snapshot, {"user": 5, "groups": "cs"}) == 2
    assert context_ring(snapshot, None) == 2
