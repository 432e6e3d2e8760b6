"""The OpenFeature shape of Gate, shared by the SDK's provider and the server's OFREP endpoints.

Standard library only: the provider wraps these in OpenFeature's types, OFREP in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate_sdk._result import OPENFEATURE_REASONS, EvaluationDetails


def gate_context(targeting_key: str | None, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenFeature's context as Gate's: the targeting key is the user; `tenant` and `groups` as they are."""
    out: dict[str, Any] = {k: attributes[k] for k in ("tenant", "groups") if k in attributes}
    user = targeting_key if targeting_key else attributes.get("user")
    if user is not None:
        out["user"] = user
    return out


def flag_metadata(result: EvaluationDetails) -> dict[str, Any]:
    """Gate's own reason, and the ring and snapshot version when known."""
    metadata: dict[str, Any] = {"gateReason": result.reason.value}
    if result.version is not None:
        metadata["version"] = result.version
    if result.ring is not None:
        metadata["ring"] = result.ring
    return metadata


def openfeature_reason(result: EvaluationDetails) -> str:
    """The OpenFeature reason for Gate's: RING→TARGETING_MATCH, ROLLOUT→SPLIT, KILLED and OFF→DISABLED …"""
    return OPENFEATURE_REASONS[result.reason]


def variant(result: EvaluationDetails) -> str:
    """`on` or `off`."""
    return "on" if result.enabled else "off"
