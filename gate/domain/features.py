"""Features and their release criteria, as product managers write them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gate.domain.components import ComponentSpec, parse_components
from gate.domain.documents import is_http_url
from gate.domain.errors import Problems
from gate.domain.evidence import EvidenceSpec, parse_evidence, parse_max_age
from gate.domain.plans import PlanSpec, parse_plan
from gate.domain.rings import KEY_PATTERN, NAME, RingsConfig

MAX_TEXT = 2000
MAX_CRITERIA = 200
_FEATURE_KEYS = {"feature", "name", "owner", "description", "design", "criteria", "plan", "components", "integration"}
_CRITERION_KEYS = {"id", "description", "ring", "required_yes", "evidence", "max_age"}


@dataclass(frozen=True)
class CriterionSpec:
    """One release criterion: what must be true before the feature enters `ring`."""

    id: str
    description: str
    ring: str
    required_yes: int = 1
    evidence: EvidenceSpec | None = None  # a CI report must pass too (§8.2)
    max_age: timedelta | None = None  # evidence older than this no longer counts


@dataclass(frozen=True)
class FeatureSpec:
    """A feature as declared in its product YAML."""

    key: str
    name: str
    owner: str
    description: str | None
    design: str | None
    criteria: tuple[CriterionSpec, ...]
    plan: PlanSpec | None = None
    components: tuple[ComponentSpec, ...] = ()  # parts other teams deliver (contract 8.3)
    integration: str | None = None  # the criterion that tests them together


@dataclass(frozen=True)
class CriteriaPlan:
    """What applying a feature's criteria changes."""

    created: tuple[CriterionSpec, ...]
    revised: tuple[CriterionSpec, ...]
    dropped: tuple[str, ...]
    reordered: bool

    @property
    def changed(self) -> bool:
        """Whether applying the file changes anything about the criteria."""
        return bool(self.created or self.revised or self.dropped or self.reordered)


def is_key(value: object) -> bool:
    """Tell whether `value` is a valid feature or criterion key."""
    return isinstance(value, str) and NAME.match(value) is not None


def parse_feature(data: Any, rings: RingsConfig, *, key: str | None = None) -> FeatureSpec:
    """Validate a loaded product document against `rings`; raise ParseError naming every problem."""
    problems = Problems()
    if not isinstance(data, Mapping):
        problems.add("$", "must be a mapping with feature, name, owner and criteria")
        problems.raise_if_any()
    problems.unknown_keys(data, _FEATURE_KEYS)
    feature = data.get("feature")
    if not is_key(feature):
        problems.add("feature", f"must be a key like 'checkout-v2' ({KEY_PATTERN})")
    elif key is not None and feature != key:
        problems.add("feature", f"{feature!r} does not match the feature {key!r} in the URL")
    name = _text(data, "name", problems, required=True, limit=200)
    owner = _text(data, "owner", problems, required=True, limit=200)
    description = _text(data, "description", problems)
    design = _url(data, "design", problems)
    criteria = _criteria(data.get("criteria"), rings, problems)
    plan = parse_plan(data["plan"], rings, problems) if data.get("plan") is not None else None
    ids = (
        [c.get("id") for c in data.get("criteria") or [] if isinstance(c, Mapping)]
        if isinstance(data.get("criteria"), list)
        else []
    )
    components, integration = parse_components(data, ids, problems)
    problems.raise_if_any()
    return FeatureSpec(
        key=str(feature),
        name=name or "",
        owner=owner or "",
        description=description,
        design=design,
        criteria=criteria,
        plan=plan,
        components=components,
        integration=integration,
    )


def _text(
    data: Mapping[str, Any],
    key: str,
    problems: Problems,
    *,
    path: str = "",
    required: bool = False,
    limit: int = MAX_TEXT,
) -> str | None:
    where = f"{path}.{key}" if path else key
    value = data.get(key)
    if value is None:
        if required:
            problems.add(where, "is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(where, "must be a non-empty string" if required else "must be a string")
        return None
    if len(value) > limit:
        problems.add(where, f"must be at most {limit} characters")
        return None
    return value


def _url(data: Mapping[str, Any], key: str, problems: Problems) -> str | None:
    value = _text(data, key, problems)
    if value is None:
        return None
    if not is_http_url(value):
        problems.add(key, "must be an http or https URL")
        return None
    return value


def _criteria(raw: Any, rings: RingsConfig, problems: Problems) -> tuple[CriterionSpec, ...]:
    if raw is None:
        problems.add("criteria", "is required (it may be an empty list)")
        return ()
    if not isinstance(raw, list):
        problems.add("criteria", "must be a list")
        return ()
    if len(raw) > MAX_CRITERIA:
        problems.add("criteria", f"must hold at most {MAX_CRITERIA} criteria, not {len(raw)}")
        return ()
    specs: list[CriterionSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"criteria[{i}]"
        if not isinstance(item, Mapping):
            problems.add(path, "must be a mapping with id, description and ring")
            continue
        before = len(problems.errors)
        problems.unknown_keys(item, _CRITERION_KEYS, path)
        cid = item.get("id")
        if not is_key(cid):
            problems.add(f"{path}.id", "must be a key like 'unit-tests'")
        elif cid in seen:
            problems.add(f"{path}.id", f"duplicate criterion id {cid!r}")
        else:
            seen.add(str(cid))
        description = _text(item, "description", problems, path=path, required=True)
        ring = item.get("ring")
        if not isinstance(ring, str) or rings.get(ring) is None:
            problems.add(f"{path}.ring", f"must be one of the rings: {', '.join(rings.names)}")
        evidence = parse_evidence(item["evidence"], f"{path}.evidence", problems) if "evidence" in item else None
        if "max_age" in item and "evidence" not in item:
            problems.add(f"{path}.max_age", "ages evidence: it needs an evidence spec beside it")
        max_age = parse_max_age(item.get("max_age"), f"{path}.max_age", problems)
        # with evidence, votes are optional (0 unless asked for); without, a criterion needs at least one yes
        least = 0 if "evidence" in item else 1
        required = item.get("required_yes", least)
        if isinstance(required, bool) or not isinstance(required, int) or not least <= required <= 1000:
            problems.add(f"{path}.required_yes", f"must be an integer from {least} to 1000")
        if len(problems.errors) == before:
            specs.append(
                CriterionSpec(
                    id=str(cid),
                    description=description or "",
                    ring=str(ring),
                    required_yes=int(required),
                    evidence=evidence,
                    max_age=max_age,
                )
            )
    return tuple(specs)


def plan_criteria(current: Sequence[CriterionSpec], wanted: Sequence[CriterionSpec]) -> CriteriaPlan:
    """Compare stored criteria with a newly applied list: which are new, revised, dropped."""
    before = {c.id: c for c in current}
    after_ids = {c.id for c in wanted}
    created = tuple(c for c in wanted if c.id not in before)
    revised = tuple(c for c in wanted if c.id in before and before[c.id] != c)
    dropped = tuple(c.id for c in current if c.id not in after_ids)
    kept_order = [c.id for c in wanted if c.id in before]
    reordered = kept_order != [c.id for c in current if c.id in after_ids]
    return CriteriaPlan(created=created, revised=revised, dropped=dropped, reordered=reordered)
