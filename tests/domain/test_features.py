"""Product YAML parsing and criteria revision planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.domain.errors import ParseError
from gate.domain.features import CriterionSpec, parse_feature, plan_criteria
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))

UNKNOWN_TOP = (
    "unknown key; expected one of components, criteria, description, design, feature, integration, name, owner, plan"
)


def doc(**over: object) -> dict:
    base = {
        "feature": "checkout-v2",
        "name": "New checkout",
        "owner": "payments",
        "criteria": [{"id": "unit", "description": "d", "ring": "internal"}],
    }
    base.update(over)
    return base


def test_a_document_parses_to_a_frozen_spec() -> None:
    spec = parse_feature(doc(description="x", design="https://d"), RINGS, key="checkout-v2")
    assert spec.criteria == (CriterionSpec("unit", "d", "internal", 1),)
    assert (spec.description, spec.design) == ("x", "https://d")


@pytest.mark.parametrize(
    ("over", "path"),
    [
        ({"feature": "UPPER"}, "feature"),
        ({"name": "  "}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"description": "d" * 2001}, "description"),
        ({"criteria": None}, "criteria"),
        ({"criteria": "unit"}, "criteria"),
        (
            {"criteria": [{"id": "a", "description": "d", "ring": "ga", "required_yes": True}]},
            "criteria[0].required_yes",
        ),
        ({"criteria": [{"id": "a", "description": 3, "ring": "ga"}]}, "criteria[0].description"),
    ],
)
def test_invalid_fields_are_named(over: dict, path: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feature(doc(**over), RINGS)
    assert path in info.value.errors


def test_plan_criteria_tells_created_revised_dropped_and_reordered() -> None:
    a, b, c = (CriterionSpec(x, "d", "internal") for x in "abc")
    b2 = CriterionSpec("b", "changed", "internal")
    plan = plan_criteria([a, b, c], [c, b2, CriterionSpec("d", "d", "ga")])
    assert plan.created == (CriterionSpec("d", "d", "ga"),)
    assert plan.revised == (b2,)
    assert plan.dropped == ("a",)
    assert plan.reordered and plan.changed
    same = plan_criteria([a, b], [a, b])
    assert not same.changed


RINGS_LIST = ", ".join(RINGS.names)


@pytest.mark.parametrize(
    ("over", "errors"),
    [
        ({"feature": "UPPER"}, {"feature": ["must be a key like 'checkout-v2' ([a-z0-9][a-z0-9._-]{0,63})"]}),
        ({"feature": "other"}, {"feature": ["'other' does not match the feature 'checkout-v2' in the URL"]}),
        ({"colour": "red", "zebra": 1}, {"colour": [UNKNOWN_TOP], "zebra": [UNKNOWN_TOP]}),
        ({"name": None}, {"name": ["is required"]}),
        ({"owner": None}, {"owner": ["is required"]}),
        ({"owner": "  "}, {"owner": ["must be a non-empty string"]}),
        ({"owner": 5}, {"owner": ["must be a non-empty string"]}),
        ({"owner": "o" * 201}, {"owner": ["must be at most 200 characters"]}),
        ({"description": 5}, {"description": ["must be a string"]}),
        ({"description": "d" * 2001}, {"description": ["must be at most 2000 characters"]}),
        ({"design": "javascript:alert(1)"}, {"design": ["must be an http or https URL"]}),
        ({"design": "https://"}, {"design": ["must be an http or https URL"]}),
        ({"design": " https://d.example"}, {"design": ["must be an http or https URL"]}),
        ({"design": "http://[::1"}, {"design": ["must be an http or https URL"]}),
        ({"design": 5}, {"design": ["must be a string"]}),
        ({"criteria": None}, {"criteria": ["is required (it may be an empty list)"]}),
        ({"criteria": {"id": "x"}}, {"criteria": ["must be a list"]}),
        (
            {"criteria": [{"id": f"c{i}", "description": "d", "ring": "internal"} for i in range(201)]},
            {"criteria": ["must hold at most 200 criteria, not 201"]},
        ),
        ({"criteria": ["unit"]}, {"criteria[0]": ["must be a mapping with id, description and ring"]}),
        (
            {"criteria": [7, {"id": "u", "description": "d", "ring": "moon"}]},
            {
                "criteria[0]": ["must be a mapping with id, description and ring"],
                "criteria[1].ring": [f"must be one of the rings: {RINGS_LIST}"],
            },
        ),
        (
            {"criteria": [{"id": "Unit", "description": "d", "ring": "internal", "weight": 2}]},
            {
                "criteria[0].weight": [
                    "unknown key; expected one of description, evidence, id, max_age, required_yes, ring"
                ],
                "criteria[0].id": ["must be a key like 'unit-tests'"],
            },
        ),
        (
            {"criteria": [{"id": "u", "description": "d", "ring": "internal"}] * 2},
            {"criteria[1].id": ["duplicate criterion id 'u'"]},
        ),
        (
            {"criteria": [{"id": "u", "ring": "moon"}]},
            {
                "criteria[0].description": ["is required"],
                "criteria[0].ring": [f"must be one of the rings: {RINGS_LIST}"],
            },
        ),
        (
            {"criteria": [{"id": "u", "description": " ", "ring": 3, "required_yes": True}]},
            {
                "criteria[0].description": ["must be a non-empty string"],
                "criteria[0].ring": [f"must be one of the rings: {RINGS_LIST}"],
                "criteria[0].required_yes": ["must be an integer from 1 to 1000"],
            },
        ),
        (
            {"criteria": [{"id": "u", "description": "d", "ring": "internal", "required_yes": n} for n in (0, 1001)]},
            {
                "criteria[0].required_yes": ["must be an integer from 1 to 1000"],
                "criteria[1].id": ["duplicate criterion id 'u'"],
                "criteria[1].required_yes": ["must be an integer from 1 to 1000"],
            },
        ),
    ],
)
def test_every_refusal_names_its_path_and_says_why(over: dict, errors: dict[str, list[str]]) -> None:
    with pytest.raises(ParseError) as refused:
        parse_feature(doc(**over), RINGS, key="checkout-v2")
    assert refused.value.errors == errors


@pytest.mark.parametrize("data", [None, [], "feature: x", 5])
def test_a_document_that_is_not_a_mapping_is_refused_as_a_whole(data: object) -> None:
    with pytest.raises(ParseError) as refused:
        parse_feature(data, RINGS)
    assert refused.value.errors == {"$": ["must be a mapping with feature, name, owner and criteria"]}


def test_the_limits_themselves_are_allowed() -> None:
    spec = parse_feature(
        doc(
            name="n" * 200,
            owner="o" * 200,
            description="d" * 2000,
            design="HTTP://d.example/x",
            criteria=[
                {"id": f"c{i}", "description": "d", "ring": "internal", "required_yes": 1000 if i else 1}
                for i in range(200)
            ],
        ),
        RINGS,
    )
    assert (len(spec.name), len(spec.owner), len(spec.description or "")) == (200, 200, 2000)
    assert spec.design == "HTTP://d.example/x" and spec.key == "checkout-v2"
    assert len(spec.criteria) == 200 and spec.criteria[0].required_yes == 1 and spec.criteria[1].required_yes == 1000
    assert spec.criteria[0] == CriterionSpec("c0", "d", "internal", 1)
    empty = parse_feature(doc(criteria=[]), RINGS)
    assert (empty.criteria, empty.description, empty.design) == ((), None, None)


def test_a_plan_in_the_product_file_is_parsed_with_it_and_its_errors_carry_the_plan_path() -> None:
    from datetime import timedelta

    from gate.domain.plans import PlanSpec, Step

    spec = parse_feature(doc(plan={"steps": [{"ring": "internal"}, {"ring": "ga", "hold": "1h"}]}), RINGS)
    assert spec.plan == PlanSpec(steps=(Step("internal"), Step("ga", 10_000, timedelta(hours=1))))
    assert parse_feature(doc(), RINGS).plan is None
    assert parse_feature(doc(plan=None), RINGS).plan is None
    with pytest.raises(ParseError) as refused:
        parse_feature(doc(name="", plan={"steps": [{"ring": "moon"}]}), RINGS)
    assert refused.value.errors == {
        "name": ["must be a non-empty string"],
        "plan.steps[0].ring": ["must be one of the rings: internal, preview, ga"],
    }
