"""Parsing rings.yaml: every error, with its path, all at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from gate.domain.durations import format_duration, parse_duration
from gate.domain.errors import ParseError
from gate.domain.rings import parse_rings
from gate.ringsfile import load_rings_file

ROOT = Path(__file__).resolve().parents[2]


def good() -> dict:
    return yaml.safe_load((ROOT / "rings.yaml").read_text())


def errors_of(data: object) -> dict[str, list[str]]:
    with pytest.raises(ParseError) as info:
        parse_rings(data)
    return info.value.errors


def test_the_contract_example_parses() -> None:
    config = parse_rings(good())
    assert config.names == ("internal", "preview", "ga")
    preview = config.get("preview")
    assert preview is not None and preview.index == 1 and preview.bucket_by == "tenant"
    assert preview.gate.soak == timedelta(hours=24) and preview.gate.block_on_incidents == 1
    assert config.last.audience.everyone and config.last.gate.zero_bug_bounce and config.last.gate.rca_complete
    assert config.auto_kill_at_or_above == 1
    assert config.index("ga") == 2 and config.index(None) is None and config.get("moon") is None


def test_every_error_is_reported_with_its_path() -> None:
    data = good()
    data["colour"] = "blue"
    data["rings"][0]["gate"] = {"soak": "ten minutes", "zero_bug_bounce": "yes", "wait": 1}
    data["rings"][1]["name"] = "internal"
    data["rings"][1]["bucket_by"] = "country"
    data["rings"][2]["audience"] = {"users": "everyone"}
    data["incidents"] = {"auto_kill_at_or_above": 7}
    errors = errors_of(data)
    assert set(errors) == {
        "colour",
        "rings[0].gate.soak",
        "rings[0].gate.zero_bug_bounce",
        "rings[0].gate.wait",
        "rings[1].name",
        "rings[1].bucket_by",
        "rings[2].audience.users",
        "rings[2].audience",
        "incidents.auto_kill_at_or_above",
    }
    assert "duplicate ring name 'internal'" in errors["rings[1].name"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], "$"),
        ({"version": 2, "rings": []}, "version"),
        ({"version": 1, "rings": []}, "rings"),
        ({"version": 1, "rings": "internal"}, "rings"),
        ({"version": 1, "rings": ["internal"]}, "rings[0]"),
        ({"version": 1, "rings": [{"name": "a", "audience": {"groups": ["x"]}}]}, "rings[0].audience"),
        (
            {"version": 1, "rings": [{"name": "a", "audience": "all"}, {"name": "b", "audience": "all"}]},
            "rings[0].audience",
        ),
        (
            {"version": 1, "rings": [{"name": "a", "audience": {}}, {"name": "b", "audience": "all"}]},
            "rings[0].audience",
        ),
        ({"version": 1, "rings": [{"name": "A b", "audience": "all"}]}, "rings[0].name"),
        ({"version": 1, "rings": [{"name": "a", "audience": 3}]}, "rings[0].audience"),
        ({"version": 1, "rings": [{"name": "a", "audience": "all", "gate": []}]}, "rings[0].gate"),
        (
            {"version": 1, "rings": [{"name": "a", "audience": "all", "gate": {"block_on_incidents": True}}]},
            "rings[0].gate.block_on_incidents",
        ),
        ({"version": 1, "rings": [{"name": "a", "audience": "all", "description": 5}]}, "rings[0].description"),
        ({"version": 1, "rings": [{"name": "a", "audience": "all"}], "incidents": []}, "incidents"),
        ({"version": True, "rings": [{"name": "a", "audience": "all"}]}, "version"),
    ],
)
def test_invalid_documents_name_the_path(data: object, path: str) -> None:
    assert path in errors_of(data)


def test_a_gate_of_null_asks_nothing() -> None:
    config = parse_rings({"version": 1, "rings": [{"name": "a", "audience": "all", "gate": None}]})
    assert config.rings[0].gate.soak is None
    assert config.auto_kill_at_or_above is None
    assert parse_rings({**good(), "incidents": {}}).auto_kill_at_or_above is None


def test_load_rings_file_refuses_unreadable_and_aliased_files(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as missing:
        load_rings_file(str(tmp_path / "nope.yaml"))
    assert "cannot read" in str(missing.value)
    aliased = tmp_path / "rings.yaml"
    aliased.write_text("version: 1\nrings: &r [{name: a, audience: all}]\nother: *r\n")
    with pytest.raises(ParseError, match="aliases are not allowed"):
        load_rings_file(str(aliased))


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("36h", 129600), ("3d", 259200)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("text", ["24", "1w", "-1h", "1.5h", "", 24, None, "h", "1h\n"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(text)  # type: ignore[arg-type]
    assert str(refused.value) == f"{text!r} is not a duration like 30m, 24h or 3d"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (61, "1m01s"),
        (181, "3m01s"),
        (3600, "1h"),
        (3661, "1h01m"),
        (5400, "90m"),
        (7141, "1h59m"),
        (7200, "2h"),
        (18003, "5h00m"),  # seconds past whole minutes are dropped once there are hours
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_every_error_says_why_in_words() -> None:
    data = good()
    data["colour"] = "blue"
    data["rings"][0]["gate"] = {
        "soak": "ten minutes",
        "zero_bug_bounce": "yes",
        "wait": 1,
        "block_on_incidents": True,
        "rca_complete": 1,
    }
    data["rings"][1].update(name="internal", bucket_by="country", description=5)
    data["rings"][2]["audience"] = {"users": "everyone", "teams": []}
    data["incidents"] = {"auto_kill_at_or_above": 7, "x": 1}
    severity = ["must be a severity from 0 to 3"]
    assert errors_of(data) == {
        "colour": ["unknown key; expected one of incidents, rings, version"],
        "rings[0].gate.wait": ["unknown key; expected one of block_on_incidents, rca_complete, soak, zero_bug_bounce"],
        "rings[0].gate.soak": ["'ten minutes' is not a duration like 30m, 24h or 3d"],
        "rings[0].gate.block_on_incidents": severity,
        "rings[0].gate.zero_bug_bounce": ["must be true or false"],
        "rings[0].gate.rca_complete": ["must be true or false"],
        "rings[1].description": ["must be a string"],
        "rings[1].bucket_by": ["must be user or tenant"],
        "rings[1].name": ["duplicate ring name 'internal'"],
        "rings[2].audience.teams": ["unknown key; expected one of groups, tenants, users"],
        "rings[2].audience.users": ["must be a list of strings"],
        "rings[2].audience": ["names nobody: give users, tenants or groups", "the last ring's audience must be all"],
        "incidents.x": ["unknown key; expected one of auto_kill_at_or_above"],
        "incidents.auto_kill_at_or_above": severity,
    }


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (None, {"$": ["must be a mapping with version and rings"]}),
        ({"version": True, "rings": []}, {"version": ["must be 1"], "rings": ["must not be empty"]}),
        ({"version": 2, "rings": "all"}, {"version": ["must be 1"], "rings": ["must be a list of rings"]}),
        (
            {"version": 1, "rings": [5, {"name": "Bad Name", "audience": "all", "gate": []}]},
            {
                "rings[0]": ["must be a mapping"],
                "rings[1].name": ["must be a name like 'preview' ([a-z0-9][a-z0-9._-]{0,63})"],
                "rings[1].gate": ["must be a mapping"],
            },
        ),
        (
            {"version": 1, "rings": [{"name": "a", "audience": "all"}, {"name": "b", "audience": {"users": ["u"]}}]},
            {
                "rings[0].audience": ["only the last ring may reach all; later rings would be unreachable"],
                "rings[1].audience": ["the last ring's audience must be all"],
            },
        ),
        (
            {
                "version": 1,
                "rings": [{"name": "a", "audience": {}}, {"name": "b", "audience": ["x"]}],
                "incidents": [1],
            },
            {
                "rings[0].audience": ["names nobody: give users, tenants or groups"],
                "rings[1].audience": [
                    "must be all or a mapping of users, tenants and groups",
                    "the last ring's audience must be all",
                ],
                "incidents": ["must be a mapping"],
            },
        ),
        (
            {
                "version": 1,
                "rings": [
                    {"name": "a", "audience": {"groups": [1]}},
                    {"name": "b", "audience": "all", "gate": {"block_on_incidents": 4}},
                ],
                "incidents": {"auto_kill_at_or_above": False},
            },
            {
                "rings[0].audience.groups": ["must be a list of strings"],
                "rings[0].audience": ["names nobody: give users, tenants or groups"],
                "rings[1].gate.block_on_incidents": ["must be a severity from 0 to 3"],
                "incidents.auto_kill_at_or_above": ["must be a severity from 0 to 3"],
            },
        ),
    ],
)
def test_each_refusal_in_full(data: object, errors: dict[str, list[str]]) -> None:
    assert errors_of(data) == errors


def test_what_a_minimal_file_means() -> None:
    config = parse_rings(
        {
            "version": 1,
            "rings": [
                {"name": "staff", "audience": {"groups": ["cs"]}, "gate": {"block_on_incidents": 0, "soak": "0s"}},
                {"name": "all", "description": "everyone", "bucket_by": "tenant", "audience": "all"},
            ],
            "incidents": {"auto_kill_at_or_above": 0},
        }
    )
    staff, everyone = config.rings
    assert (staff.name, staff.index, staff.description, staff.bucket_by) == ("staff", 0, "", "user")
    assert staff.gate.block_on_incidents == 0 and staff.gate.soak == timedelta(0)
    assert not staff.gate.zero_bug_bounce and not staff.gate.rca_complete
    assert staff.audience.to_dict() == {"users": [], "tenants": [], "groups": ["cs"]}
    assert (everyone.index, everyone.description, everyone.bucket_by) == (1, "everyone", "tenant")
    assert everyone.audience.to_dict() == "all" and everyone.gate.soak is None
    assert everyone.gate.block_on_incidents is None
    assert config.auto_kill_at_or_above == 0 and config.index("all") == 1 and config.index("moon") is None
    assert config.last is everyone
    quiet = parse_rings({"version": 1, "rings": [{"name": "all", "audience": "all"}]})
    assert quiet.auto_kill_at_or_above is None and quiet.names == ("all",)


def test_a_ring_s_unknown_keys_and_bad_names_are_named_by_ring() -> None:
    data = {
        "version": 1,
        "rings": [
            {"name": "Staff", "audience": {"users": ["u"]}, "colour": "red"},
            {"name": "Everyone", "audience": "all"},
        ],
    }
    name = "must be a name like 'preview' ([a-z0-9][a-z0-9._-]{0,63})"
    assert errors_of(data) == {  # two bad names are two errors, not also a duplicate
        "rings[0].colour": ["unknown key; expected one of audience, bucket_by, description, gate, name"],
        "rings[0].name": [name],
        "rings[1].name": [name],
    }


def test_a_parse_error_says_every_problem_in_one_line() -> None:
    from gate.domain.errors import Problems

    problems = Problems()
    problems.add("", "must be a mapping")
    problems.add("rings[0].name", "is bad")
    problems.add("rings[0].name", "is taken")
    with pytest.raises(ParseError) as raised:
        problems.raise_if_any()
    assert raised.value.errors == {"$": ["must be a mapping"], "rings[0].name": ["is bad", "is taken"]}
    assert str(raised.value) == "$: must be a mapping; rings[0].name: is bad; rings[0].name: is taken"
    Problems().raise_if_any()  # nothing recorded: nothing raised
