"""The gate: independent checks that decide whether a feature may enter a ring."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from gate.domain.components import ComponentStatus
from gate.domain.durations import format_duration
from gate.domain.evidence import EvidenceNeed
from gate.domain.exposure import format_percent
from gate.domain.rings import Ring, RingsConfig

V = TypeVar("V")


class Check(NamedTuple):
    """One line of a gate: its name, whether it passed, and why, in words."""

    name: str
    passed: bool
    detail: str


class CriterionStatus(NamedTuple):
    """A criterion's current revision with the current vote of each voter (a tuple: the board builds thousands)."""

    id: str
    ring: str
    required_yes: int
    revision: int
    yes: tuple[str, ...]
    no: tuple[str, ...]
    evidence: EvidenceNeed | None = None  # None: the criterion asks for votes only
    note: str = ""  # why what was counted is not all there is (the integration test: votes before delivery)

    @property
    def passed(self) -> bool:
        """Enough current yes votes and no current no (the votes part; `verdict` adds the evidence)."""
        return len(self.yes) >= self.required_yes and not self.no

    @property
    def detail(self) -> str:
        """Say what the votes amount to, naming every voter whose no blocks."""
        text = f"{len(self.yes)} of {self.required_yes} yes vote{'s' if self.required_yes != 1 else ''}"
        if self.no:
            text += "; no from " + ", ".join(self.no)
        return text

    def verdict(self, now: datetime) -> tuple[bool, str]:
        """Whether the criterion passes at `now`: its latest evidence passes and is young enough (when it asks
        for evidence), and its votes pass. The words say which part is missing."""
        if self.evidence is None:
            ok, said = self.passed, self.detail
        else:
            ok, said = self.evidence.verdict(now)
            if self.required_yes:  # votes asked for: say them too
                said += "; " + self.detail
            elif self.no:  # none asked for, but a no blocks
                said += "; no from " + ", ".join(self.no)
            ok = ok and self.passed
        return ok, f"{said}; {self.note}" if self.note and not ok else said


def latest_votes(votes: Iterable[V], voter: Callable[[V], str]) -> dict[str, V]:
    """Each voter's current vote: their latest by server order (`votes` come in that order).

    The mapping is ordered by when each voter last voted. facts.gather folds the same rule in SQL.
    """
    latest: dict[str, V] = {}
    for vote in votes:
        name = voter(vote)
        latest.pop(name, None)  # re-insert, so the order is that of each voter's latest vote
        latest[name] = vote
    return latest


def criterion_status(
    *, id: str, ring: str, required_yes: int, revision: int, votes: Iterable[tuple[str, str]]
) -> CriterionStatus:
    """Fold votes `(voter, 'yes'|'no')` in server order into each voter's current vote."""
    latest = {name: vote for name, (_, vote) in latest_votes(votes, lambda v: v[0]).items()}
    return CriterionStatus(
        id=id,
        ring=ring,
        required_yes=required_yes,
        revision=revision,
        yes=tuple(v for v, vote in latest.items() if vote == "yes"),
        no=tuple(v for v, vote in latest.items() if vote == "no"),
    )


@dataclass(frozen=True)
class Exposure:
    """Where a feature stands: its ring (None when off), rollout, kill switch and soak start."""

    ring: str | None = None
    percent: float = 0.0
    killed: bool = False
    full_since: datetime | None = None


@dataclass(frozen=True)
class OpenItem:
    """An open incident, bug or RCA item that a check may name."""

    id: int
    title: str
    severity: int | None = None


@dataclass(frozen=True)
class GateFacts:
    """Everything the gate needs to know about a feature, gathered by a service."""

    exposure: Exposure
    criteria: tuple[CriterionStatus, ...] = ()
    open_incidents: tuple[OpenItem, ...] = ()
    open_bugs: tuple[OpenItem, ...] = ()
    open_rca_items: tuple[OpenItem, ...] = ()
    components: tuple[ComponentStatus, ...] = ()  # parts other teams deliver (contract 8.3)
    integration: str | None = None  # the criterion that tests them together


@dataclass(frozen=True)
class GateResult:
    """The decision for one ring, with every check and its reason."""

    ring: str
    passed: bool
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.passed)


GateCheck = Callable[[RingsConfig, Ring, GateFacts, datetime], Iterable[Check]]
NOT_REQUIRED = "not required"


def killed_check(ring: str | None) -> Check:
    """The `order` check of a killed feature: nothing moves it but a revive (or a rollback)."""
    return Check("order", False, f"killed in {ring or 'off'}; revive first")


def check_order(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """Only the next ring may be entered, and never while killed."""
    exposure = facts.exposure
    current = rings.index(exposure.ring)
    here = exposure.ring or "off"
    if exposure.killed:
        yield killed_check(exposure.ring)
    elif current is not None and ring.index == current:
        yield Check("order", False, f"already in {ring.name}; use rollout to change the percent")
    elif current is not None and ring.index < current:
        yield Check("order", False, f"already past {ring.name} (in {here}); use rollback to go back")
    elif ring.index != (-1 if current is None else current) + 1:
        nxt = rings.rings[0 if current is None else current + 1].name
        yield Check("order", False, f"the next ring after {here} is {nxt}; {ring.name} cannot be skipped to")
    else:
        yield Check("order", True, f"{here} → {ring.name}")


def check_criteria(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """Each criterion for this ring or an earlier one is signed off."""
    for status in facts.criteria:
        target = rings.get(status.ring)
        if target is not None and target.index <= ring.index:
            yield Check(f"criterion:{status.id}", *status.verdict(now))


def check_components(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """From the integration test's ring on, every component is delivered (only for features that have some)."""
    if not facts.components:
        return
    tested_in = next((rings.get(c.ring) for c in facts.criteria if c.id == facts.integration), None)
    if tested_in is not None and ring.index < tested_in.index:
        yield Check("components", True, NOT_REQUIRED)
        return
    missing = [c.missing(now) for c in facts.components if c.delivered_at is None]
    if missing:
        yield Check("components", False, "; ".join(missing))
    else:
        when = ", ".join(f"{c.spec.id} on {c.delivered_at:%Y-%m-%d}" for c in facts.components)
        yield Check("components", True, f"every component delivered: {when}")


def check_soak(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """The feature has been at 100% in the previous ring for the ring's soak time."""
    soak = ring.gate.soak
    if soak is None:
        yield Check("soak", True, NOT_REQUIRED)
        return
    if ring.index == 0:
        yield Check("soak", True, "no previous ring to soak in")
        return
    previous = rings.rings[ring.index - 1].name
    exposure = facts.exposure
    if exposure.killed:
        yield Check("soak", False, f"killed; soak in {previous} starts again at revive")
    elif exposure.ring != previous:
        yield Check("soak", False, f"must soak {format_duration(soak)} at 100% in {previous} first")
    elif exposure.percent < 100 or exposure.full_since is None:
        yield Check(
            "soak", False, f"at {format_percent(round(exposure.percent * 100))} in {previous}; soak starts at 100%"
        )
    else:
        served = max(now - exposure.full_since, soak * 0)
        if served >= soak:
            yield Check("soak", True, f"served {format_duration(served)} of {format_duration(soak)} in {previous}")
        else:
            left = format_duration(soak - served)
            yield Check(
                "soak",
                False,
                f"served {format_duration(served)} of {format_duration(soak)} in {previous}; {left} to go",
            )


def soak_ends(rings: RingsConfig, ring: Ring, exposure: Exposure) -> datetime | None:
    """When the soak for entering `ring` will have been served, if it is being served now (else None)."""
    soak = ring.gate.soak
    previous = rings.rings[ring.index - 1].name if ring.index > 0 else None
    if soak is None or previous is None or exposure.ring != previous or exposure.killed:
        return None
    return exposure.full_since + soak if exposure.percent >= 100 and exposure.full_since is not None else None


def check_incidents(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """No open incident on the feature at or above the ring's blocking severity."""
    limit = ring.gate.block_on_incidents
    if limit is None:
        yield Check("incidents", True, NOT_REQUIRED)
        return
    blocking = [i for i in facts.open_incidents if i.severity is not None and i.severity <= limit]
    if blocking:
        named = ", ".join(f"#{i.id} (severity {i.severity}: {i.title})" for i in blocking)
        yield Check("incidents", False, f"open incident{'s' if len(blocking) > 1 else ''} {named}")
    else:
        yield Check("incidents", True, f"no open incident of severity 0 to {limit}")


def check_bugs(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """Zero bug bounce: no open bug on the feature."""
    if not ring.gate.zero_bug_bounce:
        yield Check("zero-bug-bounce", True, NOT_REQUIRED)
    elif facts.open_bugs:
        named = ", ".join(f"#{b.id} ({b.title})" for b in facts.open_bugs)
        yield Check(
            "zero-bug-bounce",
            False,
            f"{len(facts.open_bugs)} open bug{'s' if len(facts.open_bugs) > 1 else ''}: {named}",
        )
    else:
        yield Check("zero-bug-bounce", True, "no open bug")


def check_rca(rings: RingsConfig, ring: Ring, facts: GateFacts, now: datetime) -> Iterable[Check]:
    """Every RCA item of the feature's incidents is closed."""
    if not ring.gate.rca_complete:
        yield Check("rca", True, NOT_REQUIRED)
    elif facts.open_rca_items:
        named = ", ".join(f"#{r.id} ({r.title})" for r in facts.open_rca_items)
        count = len(facts.open_rca_items)
        yield Check("rca", False, f"{count} open RCA item{'s' if count > 1 else ''}: {named}")
    else:
        yield Check("rca", True, "every RCA item is closed")


GATE_CHECKS: Sequence[GateCheck] = (
    check_order,
    check_criteria,
    check_components,
    check_soak,
    check_incidents,
    check_bugs,
    check_rca,
)


def evaluate_gate(rings: RingsConfig, ring: Ring, facts: GateFacts, *, now: datetime) -> GateResult:
    """Decide whether a feature may enter `ring`, with every check and its reason."""
    checks = tuple(c for check in GATE_CHECKS for c in check(rings, ring, facts, now))
    return GateResult(ring=ring.name, passed=all(c.passed for c in checks), checks=checks)


def next_ring(rings: RingsConfig, current: str | None) -> Ring:
    """The ring after `current` (the first when off; the last when already there)."""
    index = rings.index(current)
    if index is None:
        return rings.rings[0]
    return rings.rings[min(index + 1, len(rings.rings) - 1)]
