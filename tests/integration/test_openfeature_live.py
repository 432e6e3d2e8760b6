"""OpenFeature through Gate: our provider in openfeature-sdk, OFREP through OpenFeature's own OFREP provider,
and a change made through one `gate serve` reaching a client of another on the same PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_sdk import GateClient
from gate_sdk.openfeature import GateProvider
from openfeature import api as openfeature_api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason as OFReason

from tests.integration.conftest import Served, start_gate, wait_for
from tests.integration.test_sdk_live import STAFF, promote, setup_flag

pytestmark = pytest.mark.integration


@pytest.fixture
def openfeature() -> Iterator[None]:
    yield
    openfeature_api.shutdown()
    openfeature_api.clear_providers()


def test_the_gate_provider_in_openfeature(served: Served, openfeature: None) -> None:
    setup_flag(served)
    promote(served, "checkout")
    client = GateClient(served.url, sdk_key=served.token("svc", "sdk"))
    assert client.wait_until_ready(5)
    openfeature_api.set_provider(GateProvider(client))
    flags = openfeature_api.get_client()
    staff = EvaluationContext(targeting_key="u1", attributes={"groups": ["product"]})
    details = flags.get_boolean_details("checkout", False, staff)
    assert (details.value, details.variant, details.reason) == (True, "on", OFReason.SPLIT)
    assert details.flag_metadata["gateReason"] == "ROLLOUT" and details.flag_metadata["ring"] == "internal"
    everyone = flags.get_boolean_details("checkout", True, EvaluationContext(targeting_key="someone"))
    assert (everyone.value, everyone.reason, everyone.flag_metadata["gateReason"]) == (False, "DEFAULT", "NOT_IN_RING")
    missing = flags.get_boolean_details("nope", True, staff)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    wrong_type = flags.get_string_details("checkout", "x", staff)
    assert (wrong_type.value, wrong_type.error_code) == ("x", ErrorCode.TYPE_MISMATCH)


def test_ofrep_through_openfeatures_own_provider(served: Served, openfeature: None) -> None:
    setup_flag(served)
    setup_flag(served, "search")
    promote(served, "checkout")
    sdk_key = served.token("svc", "sdk")
    openfeature_api.set_provider(
        OFREPProvider(served.url, headers_factory=lambda: {"Authorization": f"Bearer {sdk_key}"})
    )
    flags = openfeature_api.get_client()
    staff = EvaluationContext(targeting_key="u1", attributes={"groups": ["cs"]})
    details = flags.get_boolean_details("checkout", False, staff)
    assert (details.value, details.variant, details.reason) == (True, "on", "SPLIT")
    assert details.flag_metadata["gateReason"] == "ROLLOUT"
    off = flags.get_boolean_details("search", True, staff)
    assert (off.value, off.reason) == (False, "DISABLED")
    missing = flags.get_boolean_details("nope", True, staff)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_change_through_one_server_reaches_a_client_of_another(database_url: str, tmp_path: Path) -> None:
    first = start_gate(database_url, tmp_path, workers=2)
    second = start_gate(database_url, tmp_path, workers=2, admin=first.admin)
    try:
        setup_flag(first)
        client = GateClient(second.url, sdk_key=second.token("svc", "sdk"))
        try:
            assert client.wait_until_ready(5)
            version = promote(first, "checkout")
            assert wait_for(lambda: client.snapshot is not None and client.snapshot.version == version, timeout=3)
            assert client.is_enabled("checkout", STAFF)
        finally:
            client.close()
    finally:
        second.stop()
        first.stop()
