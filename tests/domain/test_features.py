"""Product YAML parsing and criteria revision planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.domain.errors import ParseError
from gate.domain.features import CriterionSpec, parse_feature, plan_criteria
from gate.ringsfile import load_rings_file

RINGS = load_rings_file(str(Path(__file__).resolve().parents[2] / "rings.yaml"))


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
