"""Evidence specs in the product file, the verdict on a summary, and the gate's words (contract §8.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate.domain.errors import ParseError, Problems
from gate.domain.evidence import EvidenceNeed, EvidenceSeen, EvidenceSpec, age_words, judge, parse_evidence
from gate.domain.features import parse_feature
from gate.domain.gate import CriterionStatus
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))
NOW = datetime(2030, 5, 1, 12, tzinfo=UTC)


def parsed(raw: object) -> tuple[EvidenceSpec | None, dict[str, list[str]]]:
    problems = Problems()
    spec = parse_evidence(raw, "criteria[0].evidence", problems)
    return spec, problems.errors


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        ({"kind": "coverage", "min": 95}, EvidenceSpec(kind="coverage", min=95.0)),
        ({"kind": "tests", "min_passed": 100}, EvidenceSpec(kind="tests", min_passed=100, max_failed=0)),
        (
            {"kind": "tests", "max_failed": 2, "max_skipped": 5},
            EvidenceSpec(kind="tests", max_failed=2, max_skipped=5),
        ),
        (
            {"kind": "findings", "max": {"warning": 10, "error": 0}},
            EvidenceSpec(kind="findings", max_levels=(("error", 0), ("warning", 10))),
        ),
        (
            {"kind": "measure", "name": "checkout_p95_ms", "max": 250},
            EvidenceSpec(kind="measure", name="checkout_p95_ms", max=250.0),
        ),
        ({"kind": "measure", "name": "rps", "min": 1000.5}, EvidenceSpec(kind="measure", name="rps", min=1000.5)),
    ],
)
def test_each_kind_parses_and_round_trips_through_the_store(raw: dict, spec: EvidenceSpec) -> None:
    assert parsed(raw) == (spec, {})
    assert EvidenceSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (
            "coverage",
            {"criteria[0].evidence": ["must be a mapping with kind: one of coverage, tests, findings, measure"]},
        ),
        ({"kind": "speed"}, {"criteria[0].evidence.kind": ["must be one of coverage, tests, findings, measure"]}),
        ({"kind": "coverage"}, {"criteria[0].evidence.min": ["is required"]}),
        ({"kind": "coverage", "min": 101}, {"criteria[0].evidence.min": ["must be a number from 0 to 100"]}),
        ({"kind": "coverage", "min": True}, {"criteria[0].evidence.min": ["must be a number from 0 to 100"]}),
        (
            {"kind": "coverage", "min": 90, "max_failed": 0},
            {"criteria[0].evidence.max_failed": ["unknown key; expected one of kind, min"]},
        ),
        (
            {"kind": "tests", "max_failed": -1},
            {"criteria[0].evidence.max_failed": ["must be a whole number of at least 0"]},
        ),
        (
            {"kind": "tests", "min_passed": 1.5},
            {"criteria[0].evidence.min_passed": ["must be a whole number of at least 0"]},
        ),
        (
            {"kind": "findings"},
            {"criteria[0].evidence.max": ["must map one or more of error, warning, note to the most findings allowed"]},
        ),
        (
            {"kind": "findings", "max": {"critical": 0}},
            {"criteria[0].evidence.max.critical": ["unknown key; expected one of error, note, warning"]},
        ),
        (
            {"kind": "findings", "max": {"error": "0"}},
            {"criteria[0].evidence.max.error": ["must be a whole number of at least 0"]},
        ),
        (
            {"kind": "measure", "max": 3},
            {"criteria[0].evidence.name": ["must be a measure name like 'checkout_p95_ms'"]},
        ),
        ({"kind": "measure", "name": "p95"}, {"criteria[0].evidence": ["a measure needs min, max or both"]}),
        (
            {"kind": "measure", "name": "p95", "min": 5, "max": 3},
            {"criteria[0].evidence.min": ["must not be above max (3)"]},
        ),
        (
            {"kind": "measure", "name": "p95", "max": float("nan")},
            {"criteria[0].evidence.max": ["must be a number from -1e+15 to 1e+15"]},
        ),
    ],
)
def test_a_bad_spec_names_every_problem_at_its_path(raw: object, errors: dict[str, list[str]]) -> None:
    assert parsed(raw) == (None, errors)


def feature(*criteria: dict) -> dict:
    return {"feature": "pay", "name": "Pay", "owner": "payments", "criteria": list(criteria)}


def test_a_criterion_with_evidence_needs_no_vote_unless_asked_and_may_age_its_evidence() -> None:
    spec = parse_feature(
        feature(
            {"id": "unit", "description": "d", "ring": "internal", "evidence": {"kind": "coverage", "min": 95}},
            {
                "id": "load",
                "description": "d",
                "ring": "ga",
                "evidence": {"kind": "measure", "name": "p95", "max": 250},
                "max_age": "7d",
                "required_yes": 1,
            },
            {"id": "manual", "description": "d", "ring": "ga"},
        ),
        RINGS,
    )
    unit, load, manual = spec.criteria
    assert (unit.required_yes, unit.max_age, unit.evidence) == (0, None, EvidenceSpec(kind="coverage", min=95.0))
    assert (load.required_yes, load.max_age) == (1, timedelta(days=7))
    assert (manual.required_yes, manual.evidence) == (1, None)


def test_criteria_errors_with_evidence_are_named_with_the_rest() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feature(
            feature(
                {"id": "a", "description": "d", "ring": "internal", "required_yes": 0},
                {"id": "b", "description": "d", "ring": "internal", "max_age": "7d"},
                {
                    "id": "c",
                    "description": "d",
                    "ring": "internal",
                    "evidence": {"kind": "coverage", "min": 9},
                    "max_age": "soon",
                },
                {"id": "d", "description": "d", "ring": "internal", "evidence": {"kind": "tests"}, "max_age": "0d"},
            ),
            RINGS,
        )
    assert caught.value.errors == {
        "criteria[0].required_yes": ["must be an integer from 1 to 1000"],
        "criteria[1].max_age": ["ages evidence: it needs an evidence spec beside it"],
        "criteria[2].max_age": ["'soon' is not a duration like 30m, 24h or 3d"],
        "criteria[3].max_age": ["must be longer than 0"],
    }


COVERAGE = EvidenceSpec(kind="coverage", min=95.0)


@pytest.mark.parametrize(
    ("spec", "summary", "verdict"),
    [
        (COVERAGE, {"percent": 93.4}, (False, "coverage 93.40% < 95%")),
        (COVERAGE, {"percent": 95.0}, (True, "coverage 95.00% ≥ 95%")),
        (COVERAGE, {"percent": 94.999}, (False, "coverage 95.00% < 95%")),
        (
            EvidenceSpec(kind="tests", min_passed=100, max_failed=0),
            {"passed": 120, "failed": 0, "skipped": 3},
            (True, "120 passed, 0 failed, 3 skipped"),
        ),
        (
            EvidenceSpec(kind="tests", min_passed=100, max_failed=0, max_skipped=2),
            {"passed": 98, "failed": 1, "skipped": 3},
            (False, "98 passed < 100; 1 failed > 0; 3 skipped > 2"),
        ),
        (
            EvidenceSpec(kind="tests", min_passed=100, max_failed=0),
            {"passed": 100, "failed": 0, "skipped": 0},
            (True, "100 passed, 0 failed, 0 skipped"),
        ),
        (
            EvidenceSpec(kind="findings", max_levels=(("error", 0), ("warning", 10))),
            {"error": 1, "warning": 11, "note": 400},
            (False, "1 error > 0; 11 warning > 10"),
        ),
        (
            EvidenceSpec(kind="findings", max_levels=(("error", 0), ("warning", 10))),
            {"error": 0, "warning": 10, "note": 400},
            (True, "findings 0 error, 10 warning, 400 note: within limits"),
        ),
        (EvidenceSpec(kind="measure", name="p95", max=250.0), {"p95": 251}, (False, "p95 251 > 250")),
        (EvidenceSpec(kind="measure", name="p95", max=250.0), {"p95": 250}, (True, "p95 250 ≤ 250")),
        (EvidenceSpec(kind="measure", name="rps", min=10.0), {"rps": 9.5}, (False, "rps 9.5 < 10")),
        (EvidenceSpec(kind="measure", name="x", min=1.0, max=2.0), {"x": 1.5}, (True, "x 1.5 ≥ 1 and ≤ 2")),
    ],
)
def test_the_verdict_says_what_the_report_shows_against_the_limits(
    spec: EvidenceSpec, summary: dict, verdict: tuple[bool, str]
) -> None:
    assert judge(spec, summary) == verdict


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=2, minutes=59), "2 h"),
        (timedelta(days=9, hours=23), "9 d"),
        (timedelta(seconds=-5), "0 s"),
    ],
)
def test_ages_are_said_coarsely(age: timedelta, words: str) -> None:
    assert age_words(age) == words


def seen(passed: bool, detail: str, ago: timedelta, build: str = "1a2b3c") -> EvidenceSeen:
    return EvidenceSeen(passed, detail, build, NOW - ago)


def test_the_gate_says_which_part_of_the_evidence_is_missing() -> None:
    assert EvidenceNeed().verdict(NOW) == (False, "no evidence yet")
    assert EvidenceNeed(build="abc").verdict(NOW) == (False, "no evidence for build abc yet")
    failing = EvidenceNeed(latest=seen(False, "coverage 93.40% < 95%", timedelta(hours=2)))
    assert failing.verdict(NOW) == (False, "coverage 93.40% < 95% (build 1a2b3c, 2 h ago)")
    old = EvidenceNeed(max_age=timedelta(days=7), latest=seen(True, "p95 231 ≤ 250", timedelta(days=9)))
    assert old.verdict(NOW) == (False, "evidence from 9 d ago is older than 7d")
    fresh = EvidenceNeed(max_age=timedelta(days=7), latest=seen(True, "p95 231 ≤ 250", timedelta(days=7)))
    assert fresh.verdict(NOW) == (True, "p95 231 ≤ 250 (build 1a2b3c, 7 d ago)")


def status(required_yes: int, yes: tuple[str, ...], no: tuple[str, ...], need: EvidenceNeed | None) -> CriterionStatus:
    return CriterionStatus("unit", "internal", required_yes, 1, yes, no, need)


def test_a_criterion_with_evidence_passes_on_its_evidence_and_its_votes() -> None:
    good = EvidenceNeed(latest=seen(True, "coverage 96.00% ≥ 95%", timedelta(minutes=3)))
    bad = EvidenceNeed(latest=seen(False, "coverage 90.00% < 95%", timedelta(minutes=3)))
    assert status(0, (), (), good).verdict(NOW) == (True, "coverage 96.00% ≥ 95% (build 1a2b3c, 3 min ago)")
    assert status(0, (), (), bad).verdict(NOW)[0] is False
    # a no blocks even where no yes is asked for; the words name it
    assert status(0, (), ("bob",), good).verdict(NOW) == (
        False,
        "coverage 96.00% ≥ 95% (build 1a2b3c, 3 min ago); no from bob",
    )
    assert status(1, (), (), good).verdict(NOW) == (
        False,
        "coverage 96.00% ≥ 95% (build 1a2b3c, 3 min ago); 0 of 1 yes vote",
    )
    assert status(1, ("alice",), (), good).verdict(NOW)[0] is True
    assert status(1, ("alice",), (), bad).verdict(NOW)[0] is False
    assert status(1, ("alice",), (), None).verdict(NOW) == (True, "1 of 1 yes vote")


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        ({"kind": "coverage", "min": 0}, EvidenceSpec(kind="coverage", min=0.0)),
        ({"kind": "coverage", "min": 100}, EvidenceSpec(kind="coverage", min=100.0)),
        ({"kind": "tests", "max_failed": 10**12}, EvidenceSpec(kind="tests", max_failed=10**12)),
        (
            {"kind": "measure", "name": "p95", "min": 5, "max": 5},
            EvidenceSpec(kind="measure", name="p95", min=5.0, max=5.0),
        ),
        ({"kind": "measure", "name": "p95", "max": 1e15}, EvidenceSpec(kind="measure", name="p95", max=1e15)),
        ({"kind": "measure", "name": "p95", "min": -1e15}, EvidenceSpec(kind="measure", name="p95", min=-1e15)),
    ],
)
def test_limits_at_their_edges_are_accepted(raw: dict, spec: EvidenceSpec) -> None:
    assert parsed(raw) == (spec, {})


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (
            {"kind": "tests", "max_skipped": -1},
            {"criteria[0].evidence.max_skipped": ["must be a whole number of at least 0"]},
        ),
        (
            {"kind": "tests", "max_failed": 10**12 + 1},
            {"criteria[0].evidence.max_failed": ["must be a whole number of at least 0"]},
        ),
        (
            {"kind": "measure", "name": "p95", "min": "x"},
            {"criteria[0].evidence.min": ["must be a number from -1e+15 to 1e+15"]},
        ),
        (
            {"kind": "findings", "max": {}},
            {"criteria[0].evidence.max": ["must map one or more of error, warning, note to the most findings allowed"]},
        ),
    ],
)
def test_more_bad_specs_at_their_paths(raw: dict, errors: dict) -> None:
    assert parsed(raw) == (None, errors)


@pytest.mark.parametrize(
    ("spec", "summary", "verdict"),
    [
        (EvidenceSpec(kind="coverage", min=0.0), {"percent": 0.5}, (True, "coverage 0.50% ≥ 0%")),
        (
            EvidenceSpec(kind="tests", max_failed=0, max_skipped=3),
            {"passed": 1, "failed": 0, "skipped": 3},
            (True, "1 passed, 0 failed, 3 skipped"),
        ),
        (EvidenceSpec(kind="measure", name="rps", min=10.0), {"rps": 10}, (True, "rps 10 ≥ 10")),
        (EvidenceSpec(kind="measure", name="rps", min=10.0), {"rps": 12}, (True, "rps 12 ≥ 10")),
        (EvidenceSpec(kind="measure", name="big", max=1e15), {"big": 1e15}, (True, "big 1e+15 ≤ 1e+15")),
    ],
)
def test_verdicts_at_the_limits(spec: EvidenceSpec, summary: dict, verdict: tuple[bool, str]) -> None:
    assert judge(spec, summary) == verdict


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(59, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"), (86399, "23 h"), (86400, "1 d")],
)
def test_age_units_change_at_their_edges(seconds: int, words: str) -> None:
    assert age_words(timedelta(seconds=seconds)) == words


def test_every_no_voter_is_named_and_the_gate_judges_evidence_at_its_own_now() -> None:
    from gate.domain.gate import Exposure, GateFacts, evaluate_gate

    good = EvidenceNeed(max_age=timedelta(days=1), latest=seen(True, "coverage 96.00% ≥ 95%", timedelta(hours=2)))
    assert status(0, (), ("bob", "carol"), good).verdict(NOW)[1].endswith("; no from bob, carol")
    facts = GateFacts(exposure=Exposure(), criteria=(status(0, (), (), good),))
    checks = {c.name: (c.passed, c.detail) for c in evaluate_gate(RINGS, RINGS.get("internal"), facts, now=NOW).checks}
    assert checks["criterion:unit"] == (True, "coverage 96.00% ≥ 95% (build 1a2b3c, 2 h ago)")
    later = evaluate_gate(RINGS, RINGS.get("internal"), facts, now=NOW + timedelta(days=1)).checks
    assert next(c.detail for c in later if c.name == "criterion:unit") == "evidence from 1 d ago is older than 1d"


def test_a_bad_evidence_spec_is_named_under_its_criterion() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feature(
            feature({"id": "a", "description": "d", "ring": "internal", "evidence": {"kind": "speed"}}), RINGS
        )
    assert caught.value.errors == {"criteria[0].evidence.kind": ["must be one of coverage, tests, findings, measure"]}
