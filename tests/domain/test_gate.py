"""Each gate check alone, as a pure function of explicit facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gate.domain.gate import (
    GATE_CHECKS,
    Check,
    Exposure,
    GateFacts,
    OpenItem,
    check_bugs,
    check_criteria,
    check_incidents,
    check_order,
    check_rca,
    check_soak,
    criterion_status,
    evaluate_gate,
    next_ring,
)
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))
INTERNAL, PREVIEW, GA = RINGS.rings
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def facts(**kw: object) -> GateFacts:
    exposure = kw.pop("exposure", Exposure())
    return GateFacts(exposure=exposure, **kw)  # type: ignore[arg-type]


def one(check, ring, f) -> Check:  # type: ignore[no-untyped-def]
    (result,) = list(check(RINGS, ring, f, NOW))
    return result


def test_criterion_status_keeps_each_voters_latest_vote() -> None:
    s = criterion_status(
        id="e2e",
        ring="preview",
        required_yes=2,
        revision=3,
        votes=[("bob", "no"), ("alice", "yes"), ("bob", "yes"), ("carol", "no"), ("carol", "yes")],
    )
    assert (s.yes, s.no, s.passed, s.detail) == (("alice", "bob", "carol"), (), True, "3 of 2 yes votes")
    one_vote = criterion_status(id="u", ring="internal", required_yes=1, revision=1, votes=[])
    assert one_vote.detail == "0 of 1 yes vote"


def test_order() -> None:
    assert one(check_order, INTERNAL, facts()) == Check("order", True, "off → internal")
    at_internal = facts(exposure=Exposure(ring="internal", percent=100))
    assert one(check_order, PREVIEW, at_internal).passed
    assert (
        one(check_order, GA, at_internal).detail == "the next ring after internal is preview; ga cannot be skipped to"
    )
    assert one(check_order, INTERNAL, at_internal).detail.startswith("already in internal")
    at_ga = facts(exposure=Exposure(ring="ga", percent=100))
    assert one(check_order, PREVIEW, at_ga).detail == "already past preview (in ga); use rollback to go back"
    killed = facts(exposure=Exposure(ring="internal", percent=100, killed=True))
    assert one(check_order, PREVIEW, killed) == Check("order", False, "killed in internal; revive first")


def test_criteria_checks_cover_this_ring_and_earlier_ones() -> None:
    statuses = tuple(
        criterion_status(id=i, ring=r, required_yes=1, revision=1, votes=[("a", "yes")])
        for i, r in (("u", "internal"), ("e", "preview"), ("p", "ga"))
    )
    names = [c.name for c in check_criteria(RINGS, PREVIEW, facts(criteria=statuses), NOW)]
    assert names == ["criterion:u", "criterion:e"]


def test_soak() -> None:
    assert one(check_soak, INTERNAL, facts()).detail == "not required"
    started = NOW - timedelta(hours=30)
    full = facts(exposure=Exposure(ring="internal", percent=100, full_since=started))
    assert one(check_soak, PREVIEW, full) == Check("soak", True, "served 30h of 1d in internal")
    assert one(check_soak, GA, full) == Check("soak", False, "must soak 3d at 100% in preview first")
    partial = facts(exposure=Exposure(ring="internal", percent=12.5))
    assert one(check_soak, PREVIEW, partial).detail == "at 12.5% in internal; soak starts at 100%"
    killed = facts(exposure=Exposure(ring="internal", percent=100, killed=True))
    assert not one(check_soak, PREVIEW, killed).passed
    future = facts(exposure=Exposure(ring="internal", percent=100, full_since=NOW + timedelta(hours=1)))
    assert one(check_soak, PREVIEW, future).detail == "served 0s of 1d in internal; 1d to go"


def test_soak_in_a_first_ring_has_no_previous_ring() -> None:
    from gate.domain.rings import parse_rings

    rings = parse_rings({"version": 1, "rings": [{"name": "a", "audience": "all", "gate": {"soak": "1h"}}]})
    (result,) = check_soak(rings, rings.rings[0], facts(), NOW)
    assert result == Check("soak", True, "no previous ring to soak in")


def test_incidents() -> None:
    assert one(check_incidents, INTERNAL, facts()).detail == "not required"
    sev2 = OpenItem(4, "slow page", severity=2)
    sev1 = OpenItem(5, "checkout down", severity=1)
    assert one(check_incidents, PREVIEW, facts(open_incidents=(sev2,))) == Check(
        "incidents", True, "no open incident of severity 0 to 1"
    )
    blocked = one(check_incidents, GA, facts(open_incidents=(sev2, sev1)))
    assert blocked == Check(
        "incidents", False, "open incidents #4 (severity 2: slow page), #5 (severity 1: checkout down)"
    )


def test_zero_bug_bounce() -> None:
    assert one(check_bugs, PREVIEW, facts(open_bugs=(OpenItem(1, "typo"),))).detail == "not required"
    assert one(check_bugs, GA, facts()) == Check("zero-bug-bounce", True, "no open bug")
    bugs = (OpenItem(1, "typo"), OpenItem(2, "crash"))
    assert one(check_bugs, GA, facts(open_bugs=bugs)) == Check(
        "zero-bug-bounce", False, "2 open bugs: #1 (typo), #2 (crash)"
    )


def test_rca() -> None:
    assert one(check_rca, PREVIEW, facts()).detail == "not required"
    assert one(check_rca, GA, facts()) == Check("rca", True, "every RCA item is closed")
    assert one(check_rca, GA, facts(open_rca_items=(OpenItem(9, "add alert"),))) == Check(
        "rca", False, "1 open RCA item: #9 (add alert)"
    )


def test_the_gate_runs_every_check_in_order() -> None:
    result = evaluate_gate(RINGS, GA, facts(exposure=Exposure(ring="preview", percent=100, full_since=NOW)), now=NOW)
    assert [c.name for c in result.checks] == ["order", "soak", "incidents", "zero-bug-bounce", "rca"]
    assert not result.passed and [c.name for c in result.failed] == ["soak"]
    assert len(GATE_CHECKS) == 7  # components: only for features that have some (tests/domain/test_components.py)


def test_next_ring() -> None:
    assert next_ring(RINGS, None).name == "internal"
    assert next_ring(RINGS, "preview").name == "ga"
    assert next_ring(RINGS, "ga").name == "ga"


def test_each_voter_counts_once_with_their_latest_vote_in_the_order_they_last_voted() -> None:
    from gate.domain.gate import latest_votes

    votes = [("alice", "yes"), ("bob", "no"), ("alice", "no"), ("carol", "yes"), ("bob", "yes")]
    latest = latest_votes(votes, lambda v: v[0])
    assert list(latest.items()) == [("alice", ("alice", "no")), ("carol", ("carol", "yes")), ("bob", ("bob", "yes"))]
    assert latest_votes([], lambda v: v) == {}


def test_every_check_in_words_for_every_case() -> None:
    """The gate's answer is read by people: each line's name, verdict and words are pinned."""
    at = Exposure
    cases = [
        (check_order, PREVIEW, facts(exposure=at(ring="preview", percent=40)), "order", False,
         "already in preview; use rollout to change the percent"),
        (check_order, INTERNAL, facts(exposure=at(ring="preview", percent=100)), "order", False,
         "already past internal (in preview); use rollback to go back"),
        (check_order, PREVIEW, facts(), "order", False,
         "the next ring after off is internal; preview cannot be skipped to"),
        (check_order, PREVIEW, facts(exposure=at(ring="internal", percent=5)), "order", True, "internal → preview"),
        (check_order, INTERNAL, facts(exposure=at(killed=True)), "order", False, "killed in off; revive first"),
        (check_soak, INTERNAL, facts(), "soak", True, "not required"),
        (check_soak, PREVIEW, facts(exposure=at(ring="internal", percent=100, killed=True, full_since=NOW)),
         "soak", False, "killed; soak in internal starts again at revive"),
        (check_soak, PREVIEW, facts(exposure=at(ring="internal", percent=99.99, full_since=NOW)), "soak", False,
         "at 99.99% in internal; soak starts at 100%"),
        (check_soak, PREVIEW, facts(exposure=at(ring="internal", percent=100)), "soak", False,
         "at 100% in internal; soak starts at 100%"),
        (check_soak, PREVIEW, facts(exposure=at(ring="internal", percent=100, full_since=NOW - timedelta(hours=24))),
         "soak", True, "served 1d of 1d in internal"),
        (check_soak, PREVIEW, facts(exposure=at(ring="internal", percent=100, full_since=NOW - timedelta(hours=23))),
         "soak", False, "served 23h of 1d in internal; 1h to go"),
        (check_incidents, INTERNAL, facts(), "incidents", True, "not required"),
        (check_incidents, PREVIEW, facts(open_incidents=(OpenItem(3, "down", severity=0),)), "incidents", False,
         "open incident #3 (severity 0: down)"),
        (check_incidents, PREVIEW, facts(open_incidents=(OpenItem(3, "untriaged"),)), "incidents", True,
         "no open incident of severity 0 to 1"),
        (check_bugs, PREVIEW, facts(), "zero-bug-bounce", True, "not required"),
        (check_bugs, GA, facts(open_bugs=(OpenItem(7, "crash"),)), "zero-bug-bounce", False, "1 open bug: #7 (crash)"),
        (check_rca, PREVIEW, facts(), "rca", True, "not required"),
        (check_rca, GA, facts(open_rca_items=(OpenItem(1, "alert"), OpenItem(2, "test"))), "rca", False,
         "2 open RCA items: #1 (alert), #2 (test)"),
    ]  # fmt: skip
    for check, ring, given, name, passed, detail in cases:
        assert one(check, ring, given) == Check(name, passed, detail), detail


def test_criteria_lines_carry_each_criterions_verdict_and_votes() -> None:
    signed = criterion_status(id="u", ring="internal", required_yes=2, revision=3, votes=[("a", "yes"), ("b", "yes")])
    blocked = criterion_status(id="e", ring="internal", required_yes=1, revision=1, votes=[("a", "yes"), ("q", "no")])
    assert (signed.revision, signed.yes, signed.no) == (3, ("a", "b"), ())
    assert blocked.no == ("q",) and not blocked.passed
    lines = list(check_criteria(RINGS, INTERNAL, facts(criteria=(signed, blocked)), NOW))
    assert lines == [
        Check("criterion:u", True, "2 of 2 yes votes"),
        Check("criterion:e", False, "1 of 1 yes vote; no from q"),
    ]


def test_a_gate_result_names_its_ring_and_passes_only_when_every_check_does() -> None:
    ready = facts(exposure=Exposure(ring="internal", percent=100, full_since=NOW - timedelta(days=2)))
    result = evaluate_gate(RINGS, PREVIEW, ready, now=NOW)
    assert (result.ring, result.passed, result.failed) == ("preview", True, ())
    assert next_ring(RINGS, "internal").name == "preview"


def test_soak_ends_when_the_previous_ring_has_been_at_100_percent_for_the_soak() -> None:
    from gate.domain.gate import soak_ends

    since = NOW - timedelta(hours=5)
    full = Exposure(ring="internal", percent=100.0, full_since=since)
    assert soak_ends(RINGS, PREVIEW, full) == since + timedelta(hours=24)
    assert soak_ends(RINGS, GA, Exposure(ring="preview", percent=100.0, full_since=since)) == since + timedelta(
        hours=72
    )
    assert soak_ends(RINGS, INTERNAL, Exposure()) is None  # no soak asked
    assert soak_ends(RINGS, PREVIEW, Exposure(ring="internal", percent=50.0, full_since=since)) is None
    assert soak_ends(RINGS, PREVIEW, Exposure(ring="internal", percent=100.0, full_since=None)) is None
    assert soak_ends(RINGS, PREVIEW, Exposure(ring="internal", percent=100.0, killed=True, full_since=since)) is None
    assert soak_ends(RINGS, GA, full) is None  # not in the ring before ga
    assert soak_ends(RINGS, PREVIEW, Exposure(ring=None)) is None
    from gate.domain.rings import parse_rings

    soaked_first = parse_rings(
        {
            "version": 1,
            "rings": [
                {"name": "a", "audience": {"groups": ["x"]}, "gate": {"soak": "1h"}},
                {"name": "b", "audience": "all"},
            ],
        }
    )
    # the first ring has no ring before it to soak in, whatever the last ring holds
    assert soak_ends(soaked_first, soaked_first.rings[0], Exposure(ring="b", percent=100.0, full_since=since)) is None
    # a ring that asks for no soak: nothing to wait for, however long the feature has been in the ring before
    assert soak_ends(soaked_first, soaked_first.rings[1], Exposure(ring="a", percent=100.0, full_since=since)) is None
