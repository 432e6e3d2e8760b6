"""Who may do what: the token roles, and the one rule that admin holds every role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A token's role."""

    ADMIN = "admin"  # everything
    PRODUCT = "product"  # criteria and features
    QA = "qa"  # votes
    RELEASE = "release"  # promote, rollout, rollback, kill, revive, plans
    REPORTER = "reporter"  # incidents, bugs, changes, RCA items
    SDK = "sdk"  # snapshot, stream, evaluation, exposures, OFREP: nothing else


ROLES: tuple[str, ...] = tuple(role.value for role in Role)
PEOPLE: tuple[str, ...] = tuple(role.value for role in Role if role is not Role.SDK)  # "any" in the contract


def allowed(role: str, roles: Iterable[str]) -> bool:
    """Whether a token of `role` may act where `roles` may (admin holds every role)."""
    return role == Role.ADMIN or role in set(roles)


@dataclass(frozen=True)
class Principal:
    """Who is acting: the token's id, its name (the actor of every write) and its role."""

    token_id: int
    name: str
    role: str
