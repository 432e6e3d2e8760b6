"""Components and milestones in the domain (contract §8.3): the product file, delivery from history, the gate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gate.domain.components import (
    ComponentSpec,
    ComponentStatus,
    Happening,
    delivered_at,
    passing_since,
    ready_at,
)
from gate.domain.errors import ParseError
from gate.domain.features import parse_feature
from gate.domain.gate import CriterionStatus, Exposure, GateFacts, evaluate_gate
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))
T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


def product(**extra: object) -> dict:
    criteria = [
        {"id": "payments-contract", "description": "d", "ring": "internal"},
        {"id": "ledger-contract", "description": "d", "ring": "internal"},
        {"id": "e2e-integration", "description": "d", "ring": "preview"},
    ]
    return {"feature": "pay", "name": "Pay", "owner": "payments", "criteria": criteria, **extra}


TWO_TEAMS = {
    "components": [
        {
            "id": "payments-api",
            "team": "platform",
            "due": "2030-01-20",
            "contract": "https://git.example/platform/payments-api/openapi.yaml",
            "criteria": ["payments-contract"],
        },
        {"id": "ledger", "team": "blockchain", "due": date(2030, 2, 10), "criteria": ["ledger-contract"]},
    ],
    "integration": {"criterion": "e2e-integration"},
}


def test_components_and_the_integration_test_parse_and_round_trip() -> None:
    spec = parse_feature(product(**TWO_TEAMS), RINGS)
    assert spec.integration == "e2e-integration"
    api, ledger = spec.components
    assert api == ComponentSpec(
        "payments-api",
        "platform",
        date(2030, 1, 20),
        ("payments-contract",),
        "https://git.example/platform/payments-api/openapi.yaml",
    )
    assert (ledger.due, ledger.contract) == (date(2030, 2, 10), None)
    assert ComponentSpec.from_json(api.to_json()) == api
    assert parse_feature(product(), RINGS).components == ()


def refused(**extra: object) -> dict[str, list[str]]:
    with pytest.raises(ParseError) as caught:
        parse_feature(product(**extra), RINGS)
    return caught.value.errors


def test_every_error_of_components_is_named_at_its_path() -> None:
    bad = [
        {"id": "Payments API", "team": "", "due": "20-12-2030", "contract": "ftp://x", "criteria": ["nope"], "x": 1},
        {"id": "ledger", "team": "blockchain", "due": "2030-02-30", "criteria": []},
        {"id": "ledger", "team": "b", "due": "2030-02-01", "criteria": ["ledger-contract", "ledger-contract"]},
        "not a mapping",
    ]
    assert refused(components=bad, integration={"criterion": "ledger-contract", "extra": 1}) == {
        "components[0].x": ["unknown key; expected one of contract, criteria, due, id, team"],
        "components[0].id": ["must be a key like 'payments-api' ([a-z0-9][a-z0-9._-]{0,63})"],
        "components[0].team": ["must be a team's name: 1 to 200 printable characters"],
        "components[0].due": ["must be a day like 2026-12-20 (UTC)"],
        "components[0].contract": ["must be an http or https URL"],
        "components[0].criteria[0]": ["no criterion 'nope' in this feature"],
        "components[1].due": ["must be a day like 2026-12-20 (UTC)"],
        "components[1].criteria": ["must list one or more of this feature's criteria"],
        "components[2].id": ["duplicate component id 'ledger'"],
        "components[2].criteria": ["names a criterion twice"],
        "components[3]": ["must be a mapping with id, team, due and criteria"],
        "integration.extra": ["unknown key; expected one of criterion"],
        "integration.criterion": ["'ledger-contract' proves a component; the integration test must be its own"],
    }


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        (
            {"components": TWO_TEAMS["components"]},
            {"integration": ["is required with components: {criterion: ID}, the final integration test"]},
        ),
        (
            {"integration": {"criterion": "e2e-integration"}},
            {"integration": ["needs components: the integration test waits for their delivery"]},
        ),
        (
            {**TWO_TEAMS, "integration": {"criterion": "ghost"}},
            {"integration.criterion": ["must be one of this feature's criteria"]},
        ),
        (
            {"components": [], "integration": {"criterion": "e2e-integration"}},
            {"components": ["must be a list of one or more components"]},
        ),
        (
            {"components": [TWO_TEAMS["components"][1]] * 51, "integration": {"criterion": "e2e-integration"}},
            {"components": ["must hold at most 50 components, not 51"]},
        ),
    ],
)
def test_integration_goes_with_components(extra: dict, errors: dict) -> None:
    assert refused(**extra) == errors


def vote(minutes: int, voter: str, value: str) -> Happening:
    return Happening(T0 + timedelta(minutes=minutes), voter=voter, vote=value)


def evidence(minutes: int, passed: bool) -> Happening:
    return Happening(T0 + timedelta(minutes=minutes), evidence_passed=passed)


@pytest.mark.parametrize(
    ("required", "asks", "happenings", "since"),
    [
        (1, False, [], None),
        (1, False, [vote(1, "a", "yes")], 1),
        (2, False, [vote(1, "a", "yes"), vote(5, "b", "yes")], 5),
        (1, False, [vote(1, "a", "yes"), vote(3, "b", "no")], None),  # a no blocks: undelivered
        (1, False, [vote(1, "a", "yes"), vote(3, "b", "no"), vote(7, "b", "yes")], 7),  # delivered again, later
        (1, False, [vote(1, "a", "yes"), vote(2, "a", "yes")], 1),  # still passing: the start stays
        (0, True, [evidence(1, False), evidence(4, True), evidence(6, True)], 4),
        (0, True, [evidence(1, True), evidence(4, False)], None),  # failing evidence undelivers
        (1, True, [evidence(1, True), vote(9, "a", "yes")], 9),  # both parts: from the later
        (1, True, [vote(1, "a", "yes")], None),  # votes without the evidence asked for
    ],
)
def test_a_criterion_passes_since_it_last_began_to(
    required: int, asks: bool, happenings: list[Happening], since: int | None
) -> None:
    expected = None if since is None else T0 + timedelta(minutes=since)
    assert passing_since(required, asks, happenings) == expected


SPEC = ComponentSpec("ledger", "blockchain", date(2030, 1, 10), ("a", "b"))


def test_a_component_is_delivered_when_the_last_of_its_criteria_began_to_pass() -> None:
    assert delivered_at(SPEC, {"a": T0, "b": T0 + timedelta(hours=3)}) == T0 + timedelta(hours=3)
    assert delivered_at(SPEC, {"a": T0, "b": None}) is None
    assert delivered_at(SPEC, {"a": T0}) is None


def test_lateness_counts_whole_utc_days_after_the_due_day() -> None:
    pending = ComponentStatus(SPEC, None)
    assert (
        pending.late(datetime(2030, 1, 10, 23, 59, tzinfo=UTC)),
        pending.days_late(datetime(2030, 1, 10, 23, 59, tzinfo=UTC)),
    ) == (False, 0)
    assert (
        pending.late(datetime(2030, 1, 11, 0, 0, tzinfo=UTC)),
        pending.days_late(datetime(2030, 1, 11, tzinfo=UTC)),
    ) == (True, 1)
    assert (
        pending.missing(datetime(2030, 1, 13, 8, tzinfo=UTC))
        == "ledger (blockchain): not delivered, due 2030-01-10, 3 days late"
    )
    assert pending.missing(datetime(2030, 1, 11, 8, tzinfo=UTC)).endswith("1 day late")
    assert pending.missing(datetime(2030, 1, 2, tzinfo=UTC)) == "ledger (blockchain): not delivered, due 2030-01-10"
    done = ComponentStatus(SPEC, T0)
    assert (done.late(datetime(2031, 1, 1, tzinfo=UTC)), done.days_late(datetime(2031, 1, 1, tzinfo=UTC))) == (False, 0)
    assert ready_at([done, ComponentStatus(SPEC, T0 + timedelta(days=1))]) == T0 + timedelta(days=1)
    assert ready_at([done, pending]) is None


def facts(*parts: ComponentStatus) -> GateFacts:
    criteria = (
        CriterionStatus("ledger-contract", "internal", 1, 1, ("q",), ()),
        CriterionStatus("e2e-integration", "preview", 1, 1, ("q",), ()),
    )
    exposure = Exposure(ring="internal", percent=100, full_since=T0 - timedelta(days=30))
    return GateFacts(exposure=exposure, criteria=criteria, components=parts, integration="e2e-integration")


def checks(result: object) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.passed, c.detail) for c in result.checks}  # type: ignore[attr-defined]


def test_the_components_check_runs_from_the_integration_tests_ring_on_after_the_criteria() -> None:
    now = datetime(2030, 1, 13, 8, tzinfo=UTC)
    late = ComponentStatus(SPEC, None)
    api = ComponentStatus(ComponentSpec("payments-api", "platform", date(2030, 1, 20), ("p",)), T0)
    internal, preview, ga = (RINGS.get(n) for n in ("internal", "preview", "ga"))
    assert checks(evaluate_gate(RINGS, internal, facts(late), now=now))["components"] == (True, "not required")
    result = evaluate_gate(RINGS, preview, facts(api, late), now=now)
    names = [c.name for c in result.checks]
    assert names.index("components") == names.index("criterion:e2e-integration") + 1 == names.index("soak") - 1
    assert checks(result)["components"] == (False, "ledger (blockchain): not delivered, due 2030-01-10, 3 days late")
    done = ComponentStatus(SPEC, T0 + timedelta(days=2))
    assert checks(evaluate_gate(RINGS, ga, facts(api, done), now=now))["components"] == (
        True,
        "every component delivered: payments-api on 2030-01-01, ledger on 2030-01-03",
    )
    plain = GateFacts(exposure=Exposure(), criteria=())
    assert "components" not in checks(evaluate_gate(RINGS, internal, plain, now=now))


def test_a_note_says_why_the_integration_test_does_not_pass() -> None:
    status = CriterionStatus("e2e", "preview", 1, 1, (), (), note="2 yes votes predate the delivery of ledger")
    assert status.verdict(T0) == (False, "0 of 1 yes vote; 2 yes votes predate the delivery of ledger")
    assert status._replace(yes=("q",)).verdict(T0) == (True, "1 of 1 yes vote")


def one(**changes: object) -> dict:
    component = {"id": "ledger", "team": "blockchain", "due": "2030-02-10", "criteria": ["ledger-contract"], **changes}
    return {"components": [component], "integration": {"criterion": "e2e-integration"}}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"team": "block\x07chain"}, {"components[0].team": ["must be a team's name: 1 to 200 printable characters"]}),
        ({"team": "t" * 201}, {"components[0].team": ["must be a team's name: 1 to 200 printable characters"]}),
        ({"team": 7}, {"components[0].team": ["must be a team's name: 1 to 200 printable characters"]}),
        ({"contract": 5}, {"components[0].contract": ["must be an http or https URL"]}),
        ({"contract": "https://x.example/" + "a" * 1983}, {"components[0].contract": ["must be an http or https URL"]}),
        ({"criteria": ["c" * 70]}, {"components[0].criteria[0]": [f"no criterion {'c' * 64!r} in this feature"]}),
        ({"due": 5}, {"components[0].due": ["must be a day like 2026-12-20 (UTC)"]}),
        ({"due": date(1969, 12, 31)}, {"components[0].due": ["must be a day like 2026-12-20 (UTC)"]}),
        ({"due": "1969-12-31"}, {"components[0].due": ["must be a day like 2026-12-20 (UTC)"]}),
        ({"due": datetime(2030, 1, 1, tzinfo=UTC)}, {"components[0].due": ["must be a day like 2026-12-20 (UTC)"]}),
    ],
)
def test_a_component_at_and_past_its_limits_is_refused(changes: dict, errors: dict) -> None:
    assert refused(**one(**changes)) == errors


@pytest.mark.parametrize(
    "changes",
    [
        {"team": "t" * 200},
        {"contract": "https://x.example/" + "a" * 1982},
        {"due": date(9999, 12, 31)},
        {"due": date(1970, 1, 1)},
        {"due": "1970-01-01"},
    ],
)
def test_a_component_at_its_limits_is_accepted(changes: dict) -> None:
    (spec,) = parse_feature(product(**one(**changes)), RINGS).components
    assert spec.team == changes.get("team", "blockchain")


def test_fifty_components_are_accepted_and_a_product_file_without_criteria_still_says_so() -> None:
    many = [{"id": f"c{i}", "team": "t", "due": "2030-01-01", "criteria": ["ledger-contract"]} for i in range(50)]
    spec = parse_feature(product(components=many, integration={"criterion": "e2e-integration"}), RINGS)
    assert len(spec.components) == 50
    with pytest.raises(ParseError) as caught:
        parse_feature({"feature": "pay", "name": "Pay", "owner": "payments"}, RINGS)
    assert caught.value.errors == {"criteria": ["is required (it may be an empty list)"]}
    with pytest.raises(ParseError) as caught:
        parse_feature({"feature": "pay", "name": "Pay", "owner": "payments", "criteria": 5}, RINGS)
    assert caught.value.errors == {"criteria": ["must be a list"]}


def test_every_missing_component_is_named_and_nothing_is_ready_without_components() -> None:
    now = datetime(2030, 1, 13, 8, tzinfo=UTC)
    two = (
        ComponentStatus(SPEC, None),
        ComponentStatus(ComponentSpec("api", "platform", date(2030, 1, 20), ("p",)), None),
    )
    result = evaluate_gate(RINGS, RINGS.get("preview"), facts(*two), now=now)
    assert checks(result)["components"] == (
        False,
        "ledger (blockchain): not delivered, due 2030-01-10, 3 days late; "
        "api (platform): not delivered, due 2030-01-20",
    )
    assert ready_at([]) is None


def test_the_last_delivery_is_the_one_the_integration_test_waits_for() -> None:
    from gate.domain.components import last_delivered

    first = ComponentStatus(SPEC, T0)
    last = ComponentStatus(ComponentSpec("api", "platform", date(2030, 1, 20), ("p",)), T0 + timedelta(days=2))
    assert last_delivered([first, last]) is last and last_delivered([last, first]) is last
    assert last_delivered([first, ComponentStatus(SPEC, None)]) is None
