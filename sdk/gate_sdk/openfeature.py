"""An OpenFeature provider over GateClient (`pip install 'gate-sdk[openfeature]'`).

The evaluation context's `targeting_key` is the user; its attributes `tenant` and `groups` are Gate's.
Gate's flags are booleans: other flag types answer their default with TYPE_MISMATCH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from gate_sdk import _openfeature as shape
from gate_sdk._result import EvaluationDetails
from gate_sdk._result import Reason as GateReason

_ERRORS = {
    GateReason.UNKNOWN_FLAG: ErrorCode.FLAG_NOT_FOUND,
    GateReason.NOT_READY: ErrorCode.PROVIDER_NOT_READY,
    GateReason.ERROR: ErrorCode.GENERAL,
}


class Evaluates(Protocol):
    def evaluate(
        self, flag: str, context: Mapping[str, Any] | None = None, default: bool = False
    ) -> EvaluationDetails: ...

    def close(self) -> None: ...


def gate_context(context: EvaluationContext | None) -> dict[str, Any]:
    """OpenFeature's context as Gate's: targeting_key → user; tenant and groups from the attributes."""
    if context is None:
        return {}
    return shape.gate_context(context.targeting_key, context.attributes)


class GateProvider(AbstractProvider):
    """Resolves boolean flags with a GateClient (or gate_sdk.testing.InMemoryClient)."""

    def __init__(self, client: Evaluates) -> None:
        super().__init__()
        self.client = client

    def get_metadata(self) -> Metadata:
        return Metadata(name="Gate")

    def shutdown(self) -> None:
        self.client.close()

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        result = self.client.evaluate(flag_key, gate_context(evaluation_context), default_value)
        error = _ERRORS.get(result.reason)
        return FlagResolutionDetails(
            value=result.enabled,
            reason=Reason(shape.openfeature_reason(result)),
            variant=None if error else shape.variant(result),
            error_code=error,
            error_message=f"{result.reason.value}: {flag_key}" if error else None,
            flag_metadata=shape.flag_metadata(result),
        )

    def _mismatch(self, flag_key: str, default_value: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(
            value=default_value,
            reason=Reason.ERROR,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"Gate flags are booleans; {flag_key} was asked for another type",
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._mismatch(flag_key, default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._mismatch(flag_key, default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._mismatch(flag_key, default_value)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._mismatch(flag_key, default_value)
