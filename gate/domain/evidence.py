"""Evidence: what a criterion asks of a CI report, and the verdict on what a report says (contract §8.2)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gate.domain.durations import format_duration, parse_duration
from gate.domain.errors import Problems

KINDS = ("coverage", "tests", "findings", "measure")
LEVELS = ("error", "warning", "note")
_KEYS = {
    "coverage": {"kind", "min"},
    "tests": {"kind", "min_passed", "max_failed", "max_skipped"},
    "findings": {"kind", "max"},
    "measure": {"kind", "name", "min", "max"},
}
MEASURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_COUNT = 10**12
MAX_MEASURE = 1e15


@dataclass(frozen=True)
class EvidenceSpec:
    """What a criterion asks of its evidence. Unused limits are None; `max_levels` is for findings."""

    kind: str
    min: float | None = None
    max: float | None = None
    min_passed: int | None = None
    max_failed: int | None = None
    max_skipped: int | None = None
    max_levels: tuple[tuple[str, int], ...] = ()
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec as written in the product file (what the store keeps; `from_json` reads it back)."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "findings":
            data["max"] = dict(self.max_levels)
        else:
            for key in ("name", "min", "max", "min_passed", "max_failed", "max_skipped"):
                value = getattr(self, key)
                if value is not None:
                    data[key] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvidenceSpec:
        """Read back what `to_json` wrote (parse_evidence has checked it before it was stored)."""
        if data["kind"] == "findings":
            return cls(kind="findings", max_levels=tuple(sorted((k, int(v)) for k, v in data["max"].items())))
        return cls(**{k: v for k, v in data.items()})


def parse_evidence(raw: Any, path: str, problems: Problems) -> EvidenceSpec | None:
    """Validate a criterion's `evidence` mapping, recording every problem at its path."""
    if not isinstance(raw, Mapping):
        problems.add(path, f"must be a mapping with kind: one of {', '.join(KINDS)}")
        return None
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.add(f"{path}.kind", f"must be one of {', '.join(KINDS)}")
        return None
    before = len(problems.errors)
    problems.unknown_keys(raw, _KEYS[kind], path)
    spec: EvidenceSpec
    if kind == "coverage":
        low = _number(raw, "min", path, problems, low=0, high=100, required=True)
        spec = EvidenceSpec(kind=kind, min=low)
    elif kind == "tests":
        spec = EvidenceSpec(
            kind=kind,
            min_passed=_count(raw, "min_passed", path, problems),
            max_failed=_count(raw, "max_failed", path, problems, default=0),
            max_skipped=_count(raw, "max_skipped", path, problems),
        )
    elif kind == "findings":
        spec = EvidenceSpec(kind=kind, max_levels=_levels(raw.get("max"), f"{path}.max", problems))
    else:
        name = raw.get("name")
        if not isinstance(name, str) or MEASURE_NAME.match(name) is None:
            problems.add(f"{path}.name", "must be a measure name like 'checkout_p95_ms'")
        low = _number(raw, "min", path, problems)
        high = _number(raw, "max", path, problems)
        if "min" not in raw and "max" not in raw:
            problems.add(path, "a measure needs min, max or both")
        elif low is not None and high is not None and low > high:
            problems.add(f"{path}.min", f"must not be above max ({high:g})")
        spec = EvidenceSpec(kind=kind, name=str(name), min=low, max=high)
    return spec if len(problems.errors) == before else None


def parse_max_age(raw: Any, path: str, problems: Problems) -> timedelta | None:
    """`max_age: 7d`: how old evidence may be and still count."""
    if raw is None:
        return None
    try:
        age = parse_duration(raw)
    except ValueError as exc:
        problems.add(path, str(exc))
        return None
    if not age:
        problems.add(path, "must be longer than 0")
        return None
    return age


def _number(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    problems: Problems,
    *,
    low: float = -MAX_MEASURE,
    high: float = MAX_MEASURE,
    required: bool = False,
) -> float | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(f"{path}.{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        problems.add(f"{path}.{key}", f"must be a number from {low:g} to {high:g}")
        return None
    return float(value)


def _count(
    raw: Mapping[str, Any], key: str, path: str, problems: Problems, *, default: int | None = None
) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        problems.add(f"{path}.{key}", "must be a whole number of at least 0")
        return None
    return value


def _levels(raw: Any, path: str, problems: Problems) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, Mapping) or not raw:
        problems.add(path, f"must map one or more of {', '.join(LEVELS)} to the most findings allowed")
        return ()
    problems.unknown_keys(raw, LEVELS, path)
    limits = []
    for level in LEVELS:
        if level in raw:
            count = _count(raw, level, path, problems)
            if count is not None:
                limits.append((level, count))
    return tuple(sorted(limits))


# ---- verdicts ---------------------------------------------------------------------------------------


def _n(value: float) -> str:
    """A measure as people write it: 231, 231.5, 0.25 (measures stay within ±1e15: six digits say them)."""
    return f"{value:g}"


def judge(spec: EvidenceSpec, summary: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a report's summary meets the spec, and why in words ("coverage 93.40% < 95%")."""
    if spec.kind == "coverage":
        percent, low = float(summary["percent"]), float(spec.min or 0)
        ok = percent >= low
        return ok, f"coverage {percent:.2f}% {'≥' if ok else '<'} {_n(low)}%"
    if spec.kind == "tests":
        passed, failed, skipped = (int(summary[k]) for k in ("passed", "failed", "skipped"))
        told = f"{passed} passed, {failed} failed, {skipped} skipped"
        short = []
        if spec.min_passed is not None and passed < spec.min_passed:
            short.append(f"{passed} passed < {spec.min_passed}")
        if spec.max_failed is not None and failed > spec.max_failed:
            short.append(f"{failed} failed > {spec.max_failed}")
        if spec.max_skipped is not None and skipped > spec.max_skipped:
            short.append(f"{skipped} skipped > {spec.max_skipped}")
        return not short, "; ".join(short) if short else told
    if spec.kind == "findings":
        over = [
            f"{int(summary[level])} {level} > {limit}"
            for level, limit in spec.max_levels
            if int(summary[level]) > limit
        ]
        told = ", ".join(f"{int(summary[level])} {level}" for level in LEVELS)
        return not over, "; ".join(over) if over else f"findings {told}: within limits"
    name = str(spec.name)
    value = float(summary[name])
    if spec.max is not None and value > spec.max:
        return False, f"{name} {_n(value)} > {_n(spec.max)}"
    if spec.min is not None and value < spec.min:
        return False, f"{name} {_n(value)} < {_n(spec.min)}"
    bounds = [f"≥ {_n(spec.min)}" if spec.min is not None else "", f"≤ {_n(spec.max)}" if spec.max is not None else ""]
    return True, f"{name} {_n(value)} {' and '.join(b for b in bounds if b)}"


def age_words(age: timedelta) -> str:
    """How long ago, coarsely: 40 s, 12 min, 2 h, 9 d."""
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@dataclass(frozen=True)
class EvidenceSeen:
    """The latest evidence on a criterion revision (of one build, when the gate is asked about one)."""

    passed: bool
    detail: str
    build: str
    at: datetime


@dataclass(frozen=True)
class EvidenceNeed:
    """A criterion's evidence part as the gate sees it: the age limit, the build asked about, the latest seen."""

    max_age: timedelta | None = None
    build: str | None = None
    latest: EvidenceSeen | None = None

    def verdict(self, now: datetime) -> tuple[bool, str]:
        """Whether the evidence part passes at `now`, and which part is missing if not."""
        latest = self.latest
        if latest is None:
            return False, f"no evidence for build {self.build} yet" if self.build else "no evidence yet"
        age = now - latest.at
        if self.max_age is not None and age > self.max_age:
            return False, f"evidence from {age_words(age)} ago is older than {format_duration(self.max_age)}"
        return latest.passed, f"{latest.detail} (build {latest.build}, {age_words(age)} ago)"


def finite(value: Any) -> bool:
    """A real number a report may hold: no bool, no NaN, no infinity."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
