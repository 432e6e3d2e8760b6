"""Roles, owner scopes and expiry (contract 8.1): the one home of who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gate.domain.roles import (
    PEOPLE,
    PERSON_LENGTH,
    ROLES,
    Principal,
    Role,
    expiry_errors,
    is_name,
    mapped_roles,
    owner_errors,
    role_errors,
    role_map,
)

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)


def principal(*roles: str, owners: set[str] | None = None, expires_at: datetime | None = None) -> Principal:
    return Principal(1, "t", frozenset(roles), frozenset(owners) if owners is not None else None, expires_at)


def test_admin_holds_every_role_and_a_token_of_several_roles_holds_each() -> None:
    assert ROLES == ("admin", "product", "qa", "release", "reporter", "ci", "sdk")
    assert Role.SDK not in PEOPLE and Role.CI in PEOPLE and len(PEOPLE) == 6
    assert all(principal("admin").may([role]) for role in ROLES)
    assert principal("qa").may(["qa", "release"]) and not principal("qa").may(["release"])
    assert not principal("sdk").may(PEOPLE) and principal("sdk").may(["sdk"])
    both = principal("product", "qa")
    assert both.may(["qa"]) and both.may(["product"]) and not both.may(["release"])
    assert both.role == "product,qa" and principal("ci").role == "ci"


@pytest.mark.parametrize(
    ("roles", "errors"),
    [
        (["qa"], []),
        (["ci", "reporter", "qa"], []),
        (list(ROLES[1:]), []),  # all six that are not admin
        ([], ["at least one role"]),
        (["root"], ["unknown role 'root': one of admin, product, qa, release, reporter, ci, sdk"]),
        (["qa", "qa"], ["each role at most once"]),
        (["admin", "qa"], ["admin holds every role: give it alone"]),
        ([7], ["unknown role 7: one of admin, product, qa, release, reporter, ci, sdk"]),
    ],
)
def test_the_roles_a_token_may_hold(roles: list[object], errors: list[str]) -> None:
    assert role_errors(roles) == errors


@pytest.mark.parametrize(
    ("owners", "ok"),
    [
        (["payments"], True),
        (["Payments Team", "search"], True),
        (["x" * 200], True),
        (["x" * 201], False),
        ([""], False),
        ([" payments"], False),
        (["payments "], False),
        (["pay\nments"], False),
        (["pay\x00ments"], False),
        (["pay\x85ments"], False),
        ([3], False),
    ],
)
def test_owners_are_written_as_a_product_file_writes_them(owners: list[object], ok: bool) -> None:
    assert (owner_errors(owners) == []) is ok
    assert owner_errors([]) == ["at least one owner, or no scope at all"]


def test_the_owner_scope_limits_writes_only_when_there_is_one() -> None:
    assert principal("release").may_write("anyone")
    scoped = principal("release", owners={"payments"})
    assert scoped.may_write("payments") and not scoped.may_write("search")


def test_expiry_lies_in_the_future_and_within_ten_years() -> None:
    assert expiry_errors(NOW + timedelta(seconds=1), NOW) == []
    assert expiry_errors(NOW + timedelta(days=3650), NOW) == []
    assert expiry_errors(NOW, NOW) == ["must be in the future"]
    assert expiry_errors(NOW + timedelta(days=3650, seconds=1), NOW) == ["at most 3650 days ahead"]
    token = principal("qa", expires_at=NOW)
    assert token.expired(NOW) and not token.expired(NOW - timedelta(microseconds=1))
    assert not principal("qa").expired(NOW)


def test_a_role_map_gives_each_group_its_roles_and_names_each_fault() -> None:
    assert role_map("gate-qa=qa,, leads = qa ,leads=release,") == (
        {"gate-qa": frozenset({"qa"}), "leads": frozenset({"qa", "release"})},
        [],
    )
    assert role_map("team=a=qa") == (
        {},
        ["'team=a=qa': a person's role is one of admin, product, qa, release, reporter, ci"],
    )  # the group is what comes before the first =
    assert role_map("ok=qa,x=,=qa,lone,y=sdk") == (
        {"ok": frozenset({"qa"})},
        [
            "'x=' is not idp-group=role",
            "'=qa' is not idp-group=role",
            "'lone' is not idp-group=role",
            "'y=sdk': a person's role is one of admin, product, qa, release, reporter, ci",
        ],
    )
    assert role_map("") == ({}, ["map at least one group to a role, as gate-qa=qa"])
    assert role_map("x=") == ({}, ["'x=' is not idp-group=role"])  # one fault is said once


def test_a_persons_groups_give_the_roles_mapped_to_them() -> None:
    mapping = {"qa": frozenset({"qa"}), "leads": frozenset({"qa", "release"}), "root": frozenset({"admin"})}
    assert mapped_roles(["qa", "leads", "other", 7], mapping) == frozenset({"qa", "release"})
    assert mapped_roles("leads", mapping) == frozenset({"qa", "release"})  # one group as a string
    assert mapped_roles(["root", "qa"], mapping) == frozenset({"admin"})  # admin holds every role, alone
    assert mapped_roles(None, mapping) == mapped_roles({"qa": 1}, mapping) == mapped_roles(["nobody"], mapping) == set()


@pytest.mark.parametrize(
    ("identity", "ok"),
    [
        ("alice@example.com", True),
        ("a", True),
        ("a" * 320, True),
        ("a" * 321, False),
        ("", False),
        (" alice", False),
        ("alice\n", False),
        ("al\x00ice", False),
        ("Ana María", True),
    ],
)
def test_a_persons_identity_is_a_name_people_write(identity: str, ok: bool) -> None:
    assert is_name(identity, PERSON_LENGTH) is ok
