"""The SDK's snapshot parser and evaluator: strict parsing, evaluation that never raises."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gate_sdk
import pytest
from gate_sdk import Reason, Snapshot, SnapshotError, evaluate

SPEC = json.loads((Path(__file__).resolve().parents[1] / "spec" / "evaluation.json").read_text())


def snap(**flags: Any) -> Snapshot:
    return Snapshot.from_dict({**SPEC["snapshot"], "flags": flags or SPEC["snapshot"]["flags"]})


def test_the_public_surface_is_pinned() -> None:
    assert set(gate_sdk.__all__) == {
        "OPENFEATURE_REASONS",
        "__version__",
        "etag_for",
        "EvaluationDetails",
        "FlagState",
        "ClientStatus",
        "GateClient",
        "PatchGap",
        "Reason",
        "RingAudience",
        "Snapshot",
        "SnapshotError",
        "SnapshotRing",
        "StreamUnavailable",
        "TransportError",
        "bucket",
        "context_ring",
        "evaluate",
        "in_rollout",
        "openfeature_shape",
    }
    assert all(hasattr(gate_sdk, name) for name in gate_sdk.__all__)
    assert (Path(gate_sdk.__file__).parent / "py.typed").exists()


def test_a_snapshot_round_trips() -> None:
    snapshot = snap()
    again = Snapshot.from_dict(snapshot.to_dict())
    assert again == snapshot
    assert again.to_dict()["rings"][0]["audience"] == {"users": ["dana"], "tenants": [], "groups": ["cs", "product"]}
    assert snapshot.flags["preview-half"].ring_index == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: [], "snapshot: not an object"),
        (lambda d: {**d, "version": "7"}, "version: not a non-negative integer"),
        (lambda d: {**d, "version": True}, "version: not a non-negative integer"),
        (lambda d: {**d, "version": -1}, "version: not a non-negative integer"),
        (lambda d: {**d, "rings": []}, "rings: empty"),
        (lambda d: {**d, "rings": "x"}, "rings: not a list"),
        (lambda d: {**d, "rings": [{"name": 1}]}, "rings[0]: not a ring"),
        (lambda d: {**d, "rings": [{"name": "a", "audience": 5}]}, "rings[0].audience: not 'all' or an object"),
        (lambda d: {**d, "rings": [{"name": "a", "audience": {"users": "x"}}]}, "rings[0].audience.users: not a list"),
        (
            lambda d: {**d, "rings": [{"name": "a", "audience": {"users": [1]}}]},
            "rings[0].audience.users: not a list of strings",
        ),
        (
            lambda d: {**d, "rings": [{"name": "a", "audience": "all", "bucket_by": "ip"}]},
            "rings[0].bucket_by: not user or tenant",
        ),
        (lambda d: {**d, "flags": []}, "flags: not an object"),
        (lambda d: {**d, "flags": {"f": 1}}, "flags.f: not an object"),
        (lambda d: {**d, "flags": {"f": {"ring": "moon"}}}, "flags.f.ring: unknown ring 'moon'"),
        (lambda d: {**d, "flags": {"f": {"ring": None, "percent": "5"}}}, "flags.f.percent: not a number"),
        (lambda d: {**d, "flags": {"f": {"ring": None, "percent": float("nan")}}}, "flags.f.percent: not a number"),
        (
            lambda d: {**d, "flags": {"f": {"ring": None, "percent": 0, "killed": "no"}}},
            "flags.f.killed: not a boolean",
        ),
    ],
)
def test_an_off_contract_snapshot_is_refused(mutate: Any, message: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        Snapshot.from_dict(mutate(dict(SPEC["snapshot"])))
    assert str(refused.value) == message  # what the SDK logs when it keeps its last good snapshot


def test_version_zero_is_a_version() -> None:
    assert Snapshot.from_dict({**SPEC["snapshot"], "version": 0}).version == 0


def test_not_ready_answers_the_default() -> None:
    result = evaluate(None, "anything", {"user": "u"}, default=True)
    assert (result.enabled, result.reason, result.ring, result.version) == (True, Reason.NOT_READY, None, None)
    assert str(Reason.NOT_READY) == "NOT_READY"


class Hostile(dict):  # type: ignore[type-arg]
    def get(self, key: Any, default: Any = None) -> Any:
        raise RuntimeError("boom")

    def __bool__(self) -> bool:
        return True


def test_evaluation_never_raises() -> None:
    result = evaluate(snap(), "ga-ten", Hostile(), default=True)
    assert (result.enabled, result.reason) == (True, Reason.ERROR)
    for context in (None, {}, {"user": object()}, {"groups": [[1]]}, {"groups": ({"a": 1},)}):
        assert evaluate(snap(), "ga-ten", context).reason in (Reason.ROLLOUT, Reason.RING)


def test_every_answer_without_an_evaluation_names_the_flag_the_default_and_the_version() -> None:
    """What an application logs when it gets its default: which flag, which snapshot, why."""
    snapshot = snap()
    assert evaluate(None, "checkout").astuple() == ("checkout", False, Reason.NOT_READY, None, None)  # off unless told
    assert evaluate(None, "checkout", {}, True).astuple() == ("checkout", True, Reason.NOT_READY, None, None)
    assert evaluate(snapshot, "nope").astuple() == ("nope", False, Reason.UNKNOWN_FLAG, None, 7)
    assert evaluate(snapshot, "nope", {}, True).astuple() == ("nope", True, Reason.UNKNOWN_FLAG, None, 7)
    assert evaluate(snapshot, "ga-ten", Hostile(), True).astuple() == ("ga-ten", True, Reason.ERROR, None, 7)
    assert evaluate(snapshot, "ga-ten", Hostile(), False).astuple() == ("ga-ten", False, Reason.ERROR, None, 7)


@pytest.mark.parametrize("flag", [123, None, ["ga-ten"], ("ga-ten",)])
def test_a_flag_key_that_is_not_a_string_is_unknown(flag: Any) -> None:
    result = evaluate(snap(), flag, {"user": "u"}, True)
    assert (result.enabled, result.reason, result.version) == (True, Reason.UNKNOWN_FLAG, 7)


def test_an_odd_context_is_evaluated_in_its_clean_form() -> None:
    """A user the fast path cannot look up (a list) is dropped, and the rest of the context still counts."""
    result = evaluate(snap(), "internal-full", {"user": ["dana"], "groups": ["cs"]}, False)
    assert result.astuple()[1:] == (True, Reason.ROLLOUT, "internal", 7)
    result = evaluate(snap(), "internal-full", {"user": ["dana"]}, True)
    assert result.astuple()[1:] == (False, Reason.NOT_IN_RING, "ga", 7)


def test_a_groups_value_that_is_a_string_is_not_a_list_of_its_letters() -> None:
    snapshot = Snapshot.from_dict(
        {
            **SPEC["snapshot"],
            "rings": [
                {"name": "internal", "audience": {"users": [], "tenants": [], "groups": ["c"]}, "bucket_by": "user"},
                {"name": "ga", "audience": "all", "bucket_by": "user"},
            ],
            "flags": {"f": {"ring": "internal", "percent": 100, "killed": False}},
        }
    )
    assert evaluate(snapshot, "f", {"groups": ["c"]}).enabled
    assert evaluate(snapshot, "f", {"groups": "cs"}).astuple()[1:] == (False, Reason.NOT_IN_RING, "ga", 7)


def test_a_context_exactly_at_the_percent_is_outside() -> None:
    """Inside iff the point is below the percent, never equal: a percent set to a context's own point leaves it out."""
    point = gate_sdk.bucket("u-1", "f")
    just_over = math.nextafter(point, 101)
    flags = {"f": {"ring": "ga", "percent": point, "killed": False}}
    assert not evaluate(snap(**flags), "f", {"user": "u-1"}).enabled
    flags = {"f": {"ring": "ga", "percent": just_over, "killed": False}}
    assert evaluate(snap(**flags), "f", {"user": "u-1"}).enabled


def test_importing_the_sdk_and_the_domain_loads_no_framework() -> None:
    code = (
        "import sys, gate_sdk, gate_sdk._openfeature, gate.errors, gate.domain.gate, gate.domain.features,"
        " gate.domain.rings, gate.domain.roles, gate.domain.exposure, gate.domain.documents, gate.domain.incidents;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'marshmallow', 'yaml')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_patch_carries_only_what_changed_and_applies_back() -> None:
    from gate_sdk import PatchGap

    old = snap()
    data = old.to_dict()
    key = next(iter(data["flags"]))
    data["version"] = old.version + 2
    data["flags"][key] = {"ring": None, "percent": 0, "killed": True}
    data["flags"]["brand-new"] = {"ring": data["rings"][0]["name"], "percent": 12.5, "killed": False}
    removed = sorted(data["flags"])[-1] if sorted(data["flags"])[-1] not in (key, "brand-new") else None
    if removed:
        del data["flags"][removed]
    new = Snapshot.from_dict(data)
    patch = new.patch_since(old)
    assert patch is not None and patch["base"] == old.version and patch["version"] == new.version
    expected = {key, "brand-new"} | ({removed} if removed else set())
    assert set(patch["flags"]) == expected and (not removed or patch["flags"][removed] is None)
    assert old.apply_patch(patch).to_dict() == new.to_dict()
    with pytest.raises(PatchGap):
        new.apply_patch(patch)  # a patch applies on its own base only
    fewer_rings = Snapshot.from_dict({**data, "rings": data["rings"][1:], "flags": {}})
    assert Snapshot.from_dict({**data, "flags": {}}).patch_since(fewer_rings) is None  # rings changed: no patch


ORDER = "patch: base and version must be integers, version after base"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ([], "patch: not an object"),
        ({"base": "1", "version": 2, "flags": {}}, ORDER),
        ({"base": 7, "version": "8", "flags": {}}, ORDER),
        ({"base": 7, "version": 7, "flags": {}}, ORDER),
        ({"base": 7, "version": 6, "flags": {}}, ORDER),
        ({"base": 7, "version": 8}, "patch: flags: not an object"),
    ],
)
def test_a_malformed_patch_is_refused(patch: Any, message: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        snap().apply_patch(patch)
    assert str(refused.value) == message


def _count(snapshot: Snapshot, flag: str, context: dict[str, Any], times: int) -> None:
    for _ in range(times):
        next(evaluate(snapshot, flag, context)._hits)  # what GateClient does for each evaluation


def test_each_flag_tallies_its_evaluations_by_result_and_newer_snapshots_keep_the_tallies() -> None:
    """The exposure counts a client sends: per flag and result, never lost to a snapshot update or a patch."""
    from gate_sdk._result import tally

    old = snap()
    _count(old, "ga-full", {}, 12)
    _count(old, "ga-ten", {"user": "user-0"}, 3)  # outside the 10%
    _count(old, "ga-ten", {"user": "user-8"}, 1)  # inside
    assert {k: (tally(off), tally(on)) for k, (off, on) in old.tallies.items()} == {
        "ga-full": (0, 12),
        "ga-ten": (3, 1),
    }
    newer = Snapshot.from_dict({**old.to_dict(), "version": 8}, previous=old)
    _count(newer, "ga-full", {}, 1)
    assert tally(newer.tallies["ga-full"][True]) == 13
    patched = newer.apply_patch({"base": 8, "version": 9, "flags": {"ga-ten": None, "nope": None}})
    _count(patched, "ga-full", {}, 1)
    assert set(patched.tallies) == {"ga-full"} and tally(patched.tallies["ga-full"][True]) == 14
    fresh = Snapshot.from_dict(old.to_dict())
    assert fresh.tallies == {}  # without `previous`, counting starts again


def test_results_name_their_flag_and_describe_themselves() -> None:
    result = evaluate(snap(), "ga-full", {})
    assert result.flag == "ga-full" and result._asdict() == {
        "flag": "ga-full",
        "enabled": True,
        "reason": Reason.ROLLOUT,
        "ring": "ga",
        "version": 7,
    }
    outside = evaluate(snap(), "ga-ten", {"user": "user-0"})
    assert outside.astuple() == ("ga-ten", False, Reason.ROLLOUT, "ga", 7)


def test_the_writer_keeps_whole_percents_whole_and_defaults_what_is_left_out() -> None:
    snapshot = Snapshot.from_dict(
        {
            "version": 3,
            "rings": [
                {"name": "staff", "audience": {"users": ["dana"]}},
                {"name": "everyone", "audience": "all", "bucket_by": "tenant"},
            ],
            "flags": {"plain": {"ring": "everyone"}, "half": {"ring": "staff", "percent": 12.5, "killed": True}},
        }
    )
    assert snapshot.flags["plain"].percent == 0 and snapshot.flags["plain"].killed is False
    written = snapshot.to_dict()
    assert written["rings"] == [
        {"name": "staff", "audience": {"users": ["dana"], "tenants": [], "groups": []}, "bucket_by": "user"},
        {"name": "everyone", "audience": "all", "bucket_by": "tenant"},
    ]
    assert written["flags"] == {
        "plain": {"ring": "everyone", "percent": 0, "killed": False},
        "half": {"ring": "staff", "percent": 12.5, "killed": True},
    }
    assert '"percent": 0,' in json.dumps(written) and '"percent": 12.5' in json.dumps(written)


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        ({"tenants": "acme"}, "rings[0].audience.tenants: not a list"),
        ({"groups": [None]}, "rings[0].audience.groups: not a list of strings"),
    ],
)
def test_each_audience_list_is_named_when_refused(audience: dict[str, Any], message: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        Snapshot.from_dict({**SPEC["snapshot"], "rings": [{"name": "a", "audience": audience}]})
    assert str(refused.value) == message


def test_a_patch_says_which_versions_do_not_meet_and_names_a_bad_flag() -> None:
    from gate_sdk import PatchGap

    with pytest.raises(PatchGap) as gap:
        snap().apply_patch({"base": 5, "version": 9, "flags": {}})
    assert str(gap.value) == "patch from version 5, but this snapshot is version 7"
    with pytest.raises(SnapshotError) as refused:
        snap().apply_patch({"base": 7, "version": 8, "flags": {"x": {"ring": None, "percent": "ten"}}})
    assert str(refused.value) == "flags.x.percent: not a number"
    added = snap().apply_patch({"base": 7, "version": 8, "flags": {"x": {"ring": "ga", "percent": 100}}})
    assert evaluate(added, "x", {}).astuple() == ("x", True, Reason.ROLLOUT, "ga", 8)


def test_the_threshold_of_zero_percent_is_zero() -> None:
    from gate_sdk._bucket import threshold

    assert threshold(0) == 0 and threshold(100) == 2**32 - 1


@pytest.mark.parametrize("n", [0, 1, 9, 10, 12, 1234])
def test_a_tally_reads_its_count_without_advancing_it(n: int) -> None:
    from itertools import count

    from gate_sdk._result import tally

    hits = count()
    for _ in range(n):
        next(hits)
    assert tally(hits) == n and tally(hits) == n


def test_the_openfeature_shape() -> None:
    from gate_sdk._openfeature import flag_metadata, gate_context, variant

    assert gate_context("u1", {"tenant": "acme", "groups": ["cs"], "user": "ignored"}) == {
        "tenant": "acme",
        "groups": ["cs"],
        "user": "u1",
    }
    assert gate_context(None, {"user": "u2"}) == {"user": "u2"} and gate_context("", {"user": "u3"}) == {"user": "u3"}
    assert gate_context(None, {}) == {}
    on = evaluate(snap(), "ga-full", {})
    assert flag_metadata(on) == {"gateReason": "ROLLOUT", "version": 7, "ring": "ga"} and variant(on) == "on"
    off = evaluate(None, "ga-full")
    assert flag_metadata(off) == {"gateReason": "NOT_READY"} and variant(off) == "off"


def test_evaluation_never_raises_even_when_bucketing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault below the evaluator (here the hash) is the caller's default with ERROR, never an exception."""
    import gate_sdk._evaluate as evaluator

    def broken(key: str) -> int:
        raise OSError("sha256 unavailable")

    monkeypatch.setattr(evaluator, "hash32", broken)
    for default in (True, False):
        result = evaluate(snap(), "ga-ten", {"user": "user-8"}, default)
        assert result.astuple() == ("ga-ten", default, Reason.ERROR, None, 7)
    assert evaluate(snap(), "ga-full", {"user": "u"}).enabled  # no bucketing needed: unaffected
