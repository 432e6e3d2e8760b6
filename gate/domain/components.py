"""Components and milestones (contract §8.3): parts of a feature that other teams deliver by a due day, proved
by the feature's own criteria, and the final integration test that counts only once everything is there.

Delivery is never a flag: it is read from the history of votes and evidence (`passing_since`), so every host
computes the same `delivered_at` and it can always be recomputed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from gate.domain.documents import is_http_url
from gate.domain.errors import Problems
from gate.domain.rings import KEY_PATTERN, NAME

MAX_COMPONENTS = 50
_COMPONENT_KEYS = {"id", "team", "due", "contract", "criteria"}


@dataclass(frozen=True)
class ComponentSpec:
    """A part another team delivers: by `due` (a UTC day), against `contract`, proved by `criteria`."""

    id: str
    team: str
    due: date
    criteria: tuple[str, ...]
    contract: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As written in the product file (what the store keeps)."""
        return {
            "id": self.id,
            "team": self.team,
            "due": self.due.isoformat(),
            "contract": self.contract,
            "criteria": list(self.criteria),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComponentSpec:
        return cls(data["id"], data["team"], date.fromisoformat(data["due"]), tuple(data["criteria"]), data["contract"])


def parse_components(
    data: Mapping[str, Any], criteria: Sequence[Any], problems: Problems
) -> tuple[tuple[ComponentSpec, ...], str | None]:
    """Validate `components` and `integration` against the feature's criterion ids; every error at its path."""
    raw, integration_raw = data.get("components"), data.get("integration")
    if raw is None:
        if integration_raw is not None:
            problems.add("integration", "needs components: the integration test waits for their delivery")
        return (), None
    if not isinstance(raw, list) or not raw:
        problems.add("components", "must be a list of one or more components")
        return (), None
    if len(raw) > MAX_COMPONENTS:
        problems.add("components", f"must hold at most {MAX_COMPONENTS} components, not {len(raw)}")
        return (), None
    known: set[Any] = set(criteria)
    seen: set[str] = set()
    owned: set[str] = set()
    specs = []
    for i, item in enumerate(raw):
        spec = _component(item, f"components[{i}]", known, seen, problems)
        if spec is not None:
            specs.append(spec)
        names = item.get("criteria") if isinstance(item, Mapping) else None
        if isinstance(names, list):  # an invalid component still owns its criteria: say so once, not twice
            owned.update(n for n in names if isinstance(n, str))
    return tuple(specs), _integration(integration_raw, known, owned, problems)


def _component(item: Any, path: str, known: set[Any], seen: set[str], problems: Problems) -> ComponentSpec | None:
    if not isinstance(item, Mapping):
        problems.add(path, "must be a mapping with id, team, due and criteria")
        return None
    before = len(problems.errors)
    problems.unknown_keys(item, _COMPONENT_KEYS, path)
    cid, team, contract = item.get("id"), item.get("team"), item.get("contract")
    if not isinstance(cid, str) or NAME.match(cid) is None:
        problems.add(f"{path}.id", f"must be a key like 'payments-api' ({KEY_PATTERN})")
    elif cid in seen:
        problems.add(f"{path}.id", f"duplicate component id {cid!r}")
    else:
        seen.add(cid)
    if not isinstance(team, str) or not team.strip() or len(team) > 200 or not team.isprintable():
        problems.add(f"{path}.team", "must be a team's name: 1 to 200 printable characters")
    due = _day(item.get("due"))
    if due is None:
        problems.add(f"{path}.due", "must be a day like 2026-12-20 (UTC)")
    if contract is not None and (not isinstance(contract, str) or len(contract) > 2000 or not is_http_url(contract)):
        problems.add(f"{path}.contract", "must be an http or https URL")
    names = item.get("criteria")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        problems.add(f"{path}.criteria", "must list one or more of this feature's criteria")
    else:
        for j, name in enumerate(names):
            if name not in known:
                problems.add(f"{path}.criteria[{j}]", f"no criterion {name[:64]!r} in this feature")
        if len(set(names)) != len(names):
            problems.add(f"{path}.criteria", "names a criterion twice")
    if len(problems.errors) != before:
        return None
    return ComponentSpec(str(cid), str(team), due, tuple(names), contract)  # type: ignore[arg-type]


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value if 1970 <= value.year <= 9999 else None
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        return day if day.year >= 1970 else None
    return None


def _integration(raw: Any, known: set[Any], owned: set[str], problems: Problems) -> str | None:
    if not isinstance(raw, Mapping):
        problems.add("integration", "is required with components: {criterion: ID}, the final integration test")
        return None
    problems.unknown_keys(raw, {"criterion"}, "integration")
    name = raw.get("criterion")
    if not isinstance(name, str) or name not in known:
        problems.add("integration.criterion", "must be one of this feature's criteria")
        return None
    if name in owned:
        problems.add("integration.criterion", f"{name!r} proves a component; the integration test must be its own")
        return None
    return name


# ---- delivery from history ------------------------------------------------------------------------


class Happening(NamedTuple):
    """A vote (voter, 'yes'|'no') or a piece of evidence (passed) on a criterion revision, with its time (a
    tuple: a listing of a thousand features reads thousands)."""

    at: datetime
    voter: str | None = None
    vote: str | None = None
    evidence_passed: bool | None = None


def passing_since(required_yes: int, asks_evidence: bool, happenings: Iterable[Happening]) -> datetime | None:
    """When the criterion last began to pass, if it passes after every happening (in server order); else None.
    A criterion passes on its latest evidence (when it asks for some) and each voter's latest vote."""
    votes: dict[str, str] = {}
    evidence = False  # passing, as the latest report says
    since: datetime | None = None
    for h in happenings:
        if h.voter is not None:
            votes[h.voter] = str(h.vote)
        else:
            evidence = bool(h.evidence_passed)
        values = votes.values()
        ok = sum(v == "yes" for v in values) >= required_yes and "no" not in values
        ok = ok and (evidence or not asks_evidence)
        if not ok:
            since = None
        elif since is None:
            since = h.at
    return since


@dataclass(frozen=True)
class ComponentStatus:
    """A component and when it was delivered (None while it is not)."""

    spec: ComponentSpec
    delivered_at: datetime | None

    def days_late(self, now: datetime) -> int:
        """Whole days past the due day while undelivered (0 when delivered or not yet due)."""
        if self.delivered_at is not None:
            return 0
        return max(0, (now.date() - self.spec.due).days)

    def late(self, now: datetime) -> bool:
        return self.days_late(now) > 0

    def missing(self, now: datetime) -> str:
        """'ledger (blockchain): not delivered, due 2027-01-10, 3 days late'."""
        text = f"{self.spec.id} ({self.spec.team}): not delivered, due {self.spec.due.isoformat()}"
        days = self.days_late(now)
        return text + (f", {days} day{'s' if days != 1 else ''} late" if days else "")


def delivered_at(spec: ComponentSpec, since: Mapping[str, datetime | None]) -> datetime | None:
    """A component is delivered while every criterion it names passes: since the last of them began to."""
    times = [since.get(name) for name in spec.criteria]
    return None if any(t is None for t in times) else max(t for t in times if t is not None)


def ready_at(components: Sequence[ComponentStatus]) -> datetime | None:
    """When everything was there: the latest delivery, or None while a component is undelivered."""
    if any(c.delivered_at is None for c in components):
        return None
    return max((c.delivered_at for c in components if c.delivered_at is not None), default=None)


def last_delivered(components: Sequence[ComponentStatus]) -> ComponentStatus | None:
    ready = ready_at(components)
    return next((c for c in components if c.delivered_at == ready), None) if ready else None
