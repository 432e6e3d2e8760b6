"""Release plans as pure functions: parsing with paths, where a feature stands, and the next step's blockers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.domain.errors import ParseError, Problems
from gate.domain.gate import CriterionStatus, Exposure, GateFacts, OpenItem
from gate.domain.plans import (
    Guard,
    NextStep,
    PlanSpec,
    Reading,
    Step,
    next_step,
    parse_plan,
    plan_from_json,
    position,
    stops_plan,
)
from gate.domain.windows import Window
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))
NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)  # a Monday
STEPS = [
    {"ring": "internal"},
    {"ring": "preview", "percent": 10, "hold": "1h"},
    {"ring": "preview"},
    {"ring": "ga", "percent": 5, "hold": "24h"},
    {"ring": "ga"},
]
SPEC = PlanSpec(
    steps=(
        Step("internal"),
        Step("preview", 1000, timedelta(hours=1)),
        Step("preview"),
        Step("ga", 500, timedelta(hours=24)),
        Step("ga"),
    )
)


def parse(raw: Any) -> tuple[PlanSpec | None, dict[str, list[str]]]:
    problems = Problems()
    return parse_plan(raw, RINGS, problems), problems.errors


def test_a_plan_parses_with_its_defaults() -> None:
    spec, errors = parse({"steps": STEPS})
    assert errors == {} and spec == SPEC
    assert spec.on_incident == "pause" and spec.window is None and spec.guard is None
    full, _ = parse(
        {
            "steps": [{"ring": "ga", "percent": 12.5, "hold": "30m"}],
            "on_incident": "kill",
            "windows": {"days": ["fri"], "hours": "10:00-11:00"},
            "guard": {"query": "up", "max": 1},
        }
    )
    assert full == PlanSpec(
        steps=(Step("ga", 1250, timedelta(minutes=30)),),
        on_incident="kill",
        window=Window(days=(4,), start=time(10), end=time(11)),
        guard=Guard(query="up", max=1.0, on_breach="rollback"),
    )
    assert parse({"steps": STEPS, "guard": {"query": "up", "max": 0, "on_breach": "pause"}})[0].guard == Guard(
        "up", 0.0, "pause"
    )
    fifty = [{"ring": "internal", "percent": 2 * (i + 1)} for i in range(50)]
    assert len(parse({"steps": fifty})[0].steps) == 50
    longest = parse({"steps": STEPS, "guard": {"query": "u" * 2000, "max": 1}})[0]
    assert longest is not None and len(longest.guard.query) == 2000
    multiline, _ = parse({"steps": STEPS, "guard": {"query": "sum(\n  rate(errors[5m]))", "max": 1}})
    assert multiline is not None and multiline.guard == Guard("sum(\n  rate(errors[5m]))", 1.0)
    assert Step("ga").percent_bp == 10_000 and Step("ga").hold == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (["internal"], {"plan": ["must be a mapping with steps (and optionally on_incident, windows, guard)"]}),
        ({}, {"plan.steps": ["must be a non-empty list of steps like {ring: preview, percent: 10, hold: 1h}"]}),
        (
            {"steps": {"ring": "ga"}},
            {"plan.steps": ["must be a non-empty list of steps like {ring: preview, percent: 10, hold: 1h}"]},
        ),
        ({"steps": [{"ring": "ga"}] * 51}, {"plan.steps": ["must hold at most 50 steps, not 51"]}),
        ({"steps": ["ga"]}, {"plan.steps[0]": ["must be a mapping with ring (and optionally percent, hold)"]}),
        ({"steps": [{"ring": "moon"}]}, {"plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"]}),
        ({"steps": [{"ring": 7}]}, {"plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"]}),
        ({"steps": [{"ring": ["ga"]}]}, {"plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"]}),
        (
            {"steps": ["ga", {"ring": "moon"}, {"ring": "mars"}, {"ring": "ga"}]},
            {
                "plan.steps[0]": ["must be a mapping with ring (and optionally percent, hold)"],
                "plan.steps[1].ring": ["must be one of the rings: internal, preview, ga"],
                "plan.steps[2].ring": ["must be one of the rings: internal, preview, ga"],
            },
        ),
        ({"steps": [{"percent": 5}]}, {"plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"]}),
        (
            {"steps": [{"ring": "ga", "percent": 0}]},
            {"plan.steps[0].percent": ["must be greater than 0 and at most 100"]},
        ),
        ({"steps": [{"ring": "ga", "percent": 1.234}]}, {"plan.steps[0].percent": ["must have at most two decimals"]}),
        (
            {"steps": [{"ring": "ga", "hold": "1w"}]},
            {"plan.steps[0].hold": ["'1w' is not a duration like 30m, 24h or 3d"]},
        ),
        ({"steps": [{"ring": "ga", "hold": 60}]}, {"plan.steps[0].hold": ["60 is not a duration like 30m, 24h or 3d"]}),
        (
            {"steps": [{"ring": "ga", "why": 1}]},
            {"plan.steps[0].why": ["unknown key; expected one of hold, percent, ring"]},
        ),
        (
            {"steps": [{"ring": "preview"}, {"ring": "internal"}]},
            {"plan.steps[1]": ["steps must go in exposure order: each a later ring, or a higher percent of the same"]},
        ),
        (
            {"steps": [{"ring": "preview", "percent": 20}, {"ring": "preview", "percent": 10}]},
            {"plan.steps[1]": ["steps must go in exposure order: each a later ring, or a higher percent of the same"]},
        ),
        (
            {"steps": [{"ring": "ga"}, {"ring": "ga"}]},
            {"plan.steps[1]": ["steps must go in exposure order: each a later ring, or a higher percent of the same"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "on_incident": "rollforward"},
            {"plan.on_incident": ["must be one of pause, rollback, kill"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "windows": "always"},
            {"plan.windows": ["must be a mapping with days, hours and timezone"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": "up"},
            {"plan.guard": ["must be a mapping with query and max (and optionally on_breach)"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"max": 1}},
            {"plan.guard.query": ["is required: a PromQL query whose value must stay at or below max"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "  ", "max": 1}},
            {"plan.guard.query": ["is required: a PromQL query whose value must stay at or below max"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up\x1bor down", "max": 1}},
            {"plan.guard.query": ["must be at most 2000 characters, with no control characters"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "u" * 2001, "max": 1}},
            {"plan.guard.query": ["must be at most 2000 characters, with no control characters"]},
        ),
        ({"steps": [{"ring": "ga"}], "guard": {"query": "up"}}, {"plan.guard.max": ["is required: a number"]}),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up", "max": True}},
            {"plan.guard.max": ["is required: a number"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up", "max": float("nan")}},
            {"plan.guard.max": ["is required: a number"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up", "max": "1"}},
            {"plan.guard.max": ["is required: a number"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up", "max": 1, "on_breach": "kill"}},
            {"plan.guard.on_breach": ["must be one of pause, rollback"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "guard": {"query": "up", "max": 1, "by": 2}},
            {"plan.guard.by": ["unknown key; expected one of max, on_breach, query"]},
        ),
        (
            {"steps": [{"ring": "ga"}], "then": "party"},
            {"plan.then": ["unknown key; expected one of guard, on_incident, steps, windows"]},
        ),
        (
            {"steps": [{"ring": "moon", "percent": 101, "hold": "x"}], "on_incident": None},
            {
                "plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"],
                "plan.steps[0].percent": ["must be greater than 0 and at most 100"],
                "plan.steps[0].hold": ["'x' is not a duration like 30m, 24h or 3d"],
                "plan.on_incident": ["must be one of pause, rollback, kill"],
            },
        ),
    ],
)
def test_a_bad_plan_names_every_problem_with_its_path(raw: Any, errors: dict[str, list[str]]) -> None:
    assert parse(raw) == (None, errors)


def test_a_stored_plan_reads_back_and_a_ring_removed_since_fails_loudly() -> None:
    full = PlanSpec(
        steps=SPEC.steps,
        on_incident="rollback",
        window=Window(days=(0, 1), start=time(9), end=time(16), timezone="Europe/Berlin"),
        guard=Guard("sum(rate(errors[5m]))", 0.5, "pause"),
    )
    stored = full.to_json()
    assert stored["steps"][1] == {"ring": "preview", "percent": 10, "hold": "1h"}
    assert stored["steps"][0] == {"ring": "internal", "percent": 100, "hold": "0s"}
    assert stored["guard"] == {"query": "sum(rate(errors[5m]))", "max": 0.5, "on_breach": "pause"}
    assert stored["on_incident"] == "rollback"
    assert plan_from_json(stored, RINGS) == full
    assert plan_from_json(SPEC.to_json(), RINGS) == SPEC
    with pytest.raises(ParseError, match=r"plan.steps\[0\].ring"):
        plan_from_json({"steps": [{"ring": "gone"}]}, RINGS)


def test_position_is_the_last_step_at_or_below_the_exposure() -> None:
    assert position(SPEC, RINGS, None, 0) is None
    assert position(SPEC, RINGS, "internal", 5000) is None
    assert position(SPEC, RINGS, "internal", 10_000) == 0
    assert position(SPEC, RINGS, "preview", 500) == 0
    assert position(SPEC, RINGS, "preview", 1000) == 1
    assert position(SPEC, RINGS, "preview", 9999) == 1
    assert position(SPEC, RINGS, "preview", 10_000) == 2
    assert position(SPEC, RINGS, "ga", 500) == 3
    assert position(SPEC, RINGS, "ga", 10_000) == 4
    assert position(SPEC, RINGS, "moon", 10_000) is None


def test_severity_0_to_2_stops_a_plan() -> None:
    assert [stops_plan(s) for s in range(4)] == [True, True, True, False]


def signed_off(ring: str = "internal", percent: float = 100.0, **kw: Any) -> GateFacts:
    full_since = kw.pop("full_since", NOW - timedelta(days=10))
    exposure = Exposure(ring=ring, percent=percent, killed=kw.pop("killed", False), full_since=full_since)
    return GateFacts(exposure=exposure, **kw)


def decide(facts: GateFacts, step: int | None, *, spec: PlanSpec = SPEC, **kw: Any) -> NextStep | None:
    return next_step(
        spec,
        RINGS,
        facts,
        step=step,
        step_at=kw.pop("step_at", NOW - timedelta(days=1)),
        reading=kw.pop("reading", None),
        now=kw.pop("now", NOW),
    )


def test_the_first_step_from_off_is_ready_when_the_gate_passes() -> None:
    off = GateFacts(exposure=Exposure())
    assert decide(off, None) == NextStep(step=0, not_before=NOW, blocked_by=())
    assert decide(off, None).ready
    unsigned = GateFacts(exposure=Exposure(), criteria=(CriterionStatus("unit", "internal", 1, 1, (), ("bob",)),))
    blocked = decide(unsigned, None)
    assert blocked == NextStep(0, NOW, ("criterion:unit: 0 of 1 yes vote; no from bob",))
    assert not blocked.ready


def test_a_hold_blocks_until_it_is_served() -> None:
    at = NOW - timedelta(minutes=20)
    holding = decide(signed_off("preview", 10.0), 1, step_at=at)
    assert holding == NextStep(2, at + timedelta(hours=1), ("hold: preview at 10% for 1 h, 40 min left",))
    served = decide(signed_off("preview", 10.0), 1, step_at=NOW - timedelta(hours=1))
    assert served == NextStep(2, NOW, ())
    # the first step's hold is 0: the next one may follow at once
    assert decide(signed_off("internal"), 0, step_at=NOW) == NextStep(1, NOW, ())


def test_a_new_ring_needs_its_gate_and_inside_a_ring_only_the_order_counts() -> None:
    fresh = signed_off("internal", full_since=NOW - timedelta(hours=2))
    soaking = decide(fresh, 0)
    # not before the soak is served: the feature has been at 100% in internal for 2 h of 24
    assert soaking == NextStep(1, NOW + timedelta(hours=22), ("soak: served 2h of 1d in internal; 22h to go",))
    incident = OpenItem(7, "checkout down", 0)
    # raising the percent inside preview ignores preview's gate (an open incident would block entering it)
    inside = decide(signed_off("preview", 10.0, open_incidents=(incident,)), 1)
    assert inside == NextStep(2, NOW, ())
    killed = decide(signed_off("preview", 10.0, killed=True), 1)
    assert killed == NextStep(2, NOW, ("order: killed in preview; revive first",))
    entering = decide(signed_off("internal", open_incidents=(incident,)), 0)
    assert entering.blocked_by == ("incidents: open incident #7 (severity 0: checkout down)",)


def test_no_step_is_left_after_the_last() -> None:
    assert decide(signed_off("ga"), 4) is None
    assert decide(signed_off("ga", 5.0), 3, step_at=NOW - timedelta(days=2)) == NextStep(4, NOW, ())


def test_a_window_blocks_outside_it_and_moves_not_before_to_the_opening() -> None:
    window = Window(days=(0,), start=time(9), end=time(16), timezone="Europe/Berlin")
    spec = PlanSpec(steps=SPEC.steps, window=window)
    monday_evening = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    blocked = decide(signed_off(), 0, spec=spec, now=monday_evening)
    assert blocked == NextStep(
        1,
        datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        ("window: outside mon 09:00-16:00 Europe/Berlin; it opens Mon 07 Dec 09:00 CET",),
    )
    inside = decide(signed_off(), 0, spec=spec, now=datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert inside == NextStep(1, datetime(2026, 11, 30, 8, 0, tzinfo=UTC), ())
    # inside the window now, but the hold ends after it closes: it may start at the next opening
    late = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    holding = decide(signed_off("preview", 10.0), 1, spec=spec, now=late, step_at=late)
    assert holding.blocked_by == ("hold: preview at 10% for 1 h, 1 h left",)
    assert holding.not_before == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_the_guard_blocks_without_a_reading_or_above_its_maximum() -> None:
    spec = PlanSpec(steps=SPEC.steps, guard=Guard("errors", 0.5))
    facts = signed_off()
    assert decide(facts, 0, spec=spec).blocked_by == ("guard: not read yet",)
    assert decide(facts, 0, spec=spec, reading=Reading()).blocked_by == ("guard: not read yet",)
    failed = decide(facts, 0, spec=spec, reading=Reading(error="the query returned no data"))
    assert failed.blocked_by == ("guard: the query returned no data; no step is taken without a reading",)
    high = decide(facts, 0, spec=spec, reading=Reading(value=0.75))
    assert high.blocked_by == ("guard: 0.75 is above the maximum 0.5",)
    assert decide(facts, 0, spec=spec, reading=Reading(value=0.5)).ready  # at the maximum is within it
    assert decide(facts, 0, spec=spec, reading=Reading(value=0.0)).ready


def test_a_reading_breaches_only_above_the_maximum() -> None:
    guard = Guard("errors", 0.5)
    assert Reading(value=0.51).breaches(guard)
    assert not Reading(value=0.5).breaches(guard)
    assert not Reading(error="down").breaches(guard)
    assert Reading(value=float("inf")).breaches(guard)


def test_everything_that_blocks_is_listed_in_order() -> None:
    window = Window(days=(1,), start=time(9), end=time(10))
    spec = PlanSpec(steps=SPEC.steps, window=window, guard=Guard("errors", 0.5))
    facts = signed_off("internal", full_since=NOW, criteria=(CriterionStatus("e2e", "preview", 1, 1, (), ()),))
    result = decide(facts, 0, spec=spec, step_at=NOW, reading=Reading(value=1.0))
    assert result is not None
    assert [line.split(":")[0] for line in result.blocked_by] == ["criterion", "soak", "window", "guard"]


def test_a_step_in_words() -> None:
    assert Step("preview", 1250).describe() == "preview at 12.5%"
    assert Step("ga").describe() == "ga at 100%"
    assert Step("ga", 500, timedelta(hours=24)).to_json() == {"ring": "ga", "percent": 5, "hold": "1d"}
