"""DORA performance levels: thresholds are data (gate/dora_levels.json), keyed by report year."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEVELS = ("elite", "high", "medium", "low")


def frequency_level(table: Mapping[str, Any], deploy_days: int, days: int) -> str:
    """Level from deployment days in a window of `days`: the first level whose rate is reached."""
    for level in LEVELS[:-1]:
        rule = table["deployment_frequency"][level]
        if deploy_days / days * rule["per_days"] >= rule["at_least"]:
            return level
    return "low"


def upper_bound_level(table: Mapping[str, Any], metric: str, value: float | None) -> str | None:
    """Level of a metric where less is better (hours or percent): the first whose bound it meets."""
    if value is None:
        return None
    for level in LEVELS[:-1]:
        rule = table[metric][level]
        bound = rule.get("below", rule.get("at_most"))
        if value < bound if "below" in rule else value <= bound:
            return level
    return "low"
