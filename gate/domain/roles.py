"""Who may do what: the token roles, the one rule that admin holds every role, an owner scope, an expiry.

Every check of a role or a scope, the API's and the dashboard's, goes through `Principal.may` and
`Principal.may_write`; every set of roles a token is given goes through `role_errors` (contract 8.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeGuard

from gate.domain.durations import MAX_DURATION


class Role(StrEnum):
    """A token's role."""

    ADMIN = "admin"  # everything
    PRODUCT = "product"  # criteria and features
    QA = "qa"  # votes
    RELEASE = "release"  # promote, rollout, rollback, kill, revive, plans
    REPORTER = "reporter"  # incidents, bugs, changes, RCA items
    CI = "ci"  # a pipeline: evidence and changes
    SDK = "sdk"  # snapshot, stream, evaluation, exposures, OFREP: nothing else


ROLES: tuple[str, ...] = tuple(role.value for role in Role)
PEOPLE: tuple[str, ...] = tuple(role.value for role in Role if role is not Role.SDK)  # "any" in the contract
MAX_LIFETIME = MAX_DURATION  # a token lives at most as long as any duration Gate takes


def is_name(text: object, longest: int) -> TypeGuard[str]:
    """Whether `text` is a name as people write it: 1 to `longest` characters, no control character, no space
    at either end (an owner in a product file, a person's identity from the identity provider)."""
    edge, inner = r"[^\x00-\x20\x7f-\x9f]", r"[^\x00-\x1f\x7f-\x9f]"
    return isinstance(text, str) and re.match(rf"{edge}(?:{inner}{{0,{longest - 2}}}{edge})?\Z", text) is not None


OWNER_LENGTH = 200  # an owner as a product file writes it
PERSON_LENGTH = 320  # a person's identity, as it becomes an actor (an e-mail's length)


def role_errors(roles: Sequence[object]) -> list[str]:
    """What is wrong with the roles a token is to hold: 1 to 7 distinct known roles, admin only alone."""
    if not roles:
        return ["at least one role"]
    errors = [f"unknown role {r!r}: one of {', '.join(ROLES)}" for r in roles if r not in ROLES]
    if len(set(map(str, roles))) != len(roles):
        errors.append("each role at most once")
    if Role.ADMIN in roles and len(roles) > 1:
        errors.append("admin holds every role: give it alone")
    return errors


def owner_errors(owners: Sequence[object]) -> list[str]:
    """What is wrong with an owner scope: at least one owner, each written as a product file's owner."""
    if not owners:
        return ["at least one owner, or no scope at all"]
    return [
        f"{o!r} is not an owner: 1 to 200 characters, no control character, no space at either end"
        for o in owners
        if not is_name(o, OWNER_LENGTH)
    ]


def expiry_errors(expires_at: datetime, now: datetime) -> list[str]:
    """An expiry must lie in the future and at most 3650 days ahead."""
    if expires_at <= now:
        return ["must be in the future"]
    if expires_at - now > MAX_LIFETIME:
        return [f"at most {MAX_LIFETIME.days} days ahead"]
    return []


def role_map(text: str) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Read GATE_OIDC_ROLE_MAP, `idp-group=role,...` (a group may appear again for another role), into
    each group's roles; and what is wrong with it. People never get the sdk role."""
    mapping: dict[str, set[str]] = {}
    errors = []
    for entry in (part.strip() for part in text.split(",")):
        group, equals, role = (side.strip() for side in entry.partition("="))
        if not entry:
            continue
        if not equals or not group or not role:
            errors.append(f"{entry!r} is not idp-group=role")
        elif role not in PEOPLE:
            errors.append(f"{entry!r}: a person's role is one of {', '.join(PEOPLE)}")
        else:
            mapping.setdefault(group, set()).add(role)
    if not mapping and not errors:
        errors.append("map at least one group to a role, as gate-qa=qa")
    return {group: frozenset(roles) for group, roles in mapping.items()}, errors


def mapped_roles(groups: object, mapping: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The roles a person's groups claim gives through `mapping`: a list of groups, or one group as a string;
    anything else gives none. Admin, when given, stands alone, as on a token."""
    found = [groups] if isinstance(groups, str) else groups if isinstance(groups, list) else []
    roles = frozenset(role for group in found if isinstance(group, str) for role in mapping.get(group, ()))
    return frozenset({Role.ADMIN.value}) if Role.ADMIN in roles else roles


@dataclass(frozen=True)
class Principal:
    """Who is acting: the token's id (None for a person signed in through the identity provider), its name
    or the person's identity (the actor of every write), its roles, the owners whose features it may write
    (None: every owner) and when it stops working (None: never)."""

    token_id: int | None  # None: a person signed in through the identity provider
    name: str
    roles: frozenset[str]
    owners: frozenset[str] | None = None
    expires_at: datetime | None = None

    @property
    def role(self) -> str:
        """The roles in words, for messages and headers: 'qa' or 'product,qa'."""
        return ",".join(sorted(self.roles))

    def may(self, roles: Iterable[str]) -> bool:
        """Whether it holds one of `roles` (admin holds every role)."""
        return Role.ADMIN in self.roles or not self.roles.isdisjoint(roles)

    def may_write(self, owner: str) -> bool:
        """Whether its owner scope lets it write to a feature of `owner`."""
        return self.owners is None or owner in self.owners

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at
