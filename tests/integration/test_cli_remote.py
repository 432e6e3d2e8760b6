"""The `gate` CLI against a real `gate serve`, as a release pipeline runs it: every command, --json,
exit codes (0 done, 1 refused, 2 anything else), `wait` passing after a vote and timing out."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import GATE, Served

pytestmark = pytest.mark.integration

PRODUCT = """\
feature: checkout
name: Checkout
owner: payments
criteria:
  - id: unit
    description: Unit tests pass
    ring: internal
"""


def gate(served: Served, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATE_URL": served.url, "GATE_TOKEN": token or served.admin}
    env.pop("GATE_DATABASE_URL", None)  # nothing local: everything goes through the API
    return subprocess.run([GATE, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_pipeline_gates_itself_with_the_cli_alone(served: Served, tmp_path: Path) -> None:
    product = tmp_path / "checkout.yaml"
    product.write_text(PRODUCT)
    qa = served.token("quinn", "qa")

    assert gate(served, "apply", str(product)).returncode == 0
    listed = gate(served, "features", "--owner", "payments")
    assert listed.returncode == 0 and listed.stdout.startswith("checkout") and "off" in listed.stdout
    assert gate(served, "features", "--owner", "nobody").stdout == ""
    assert "unit [internal]" in gate(served, "show", "checkout").stdout

    refused = gate(served, "check", "checkout", "--ring", "internal")
    assert refused.returncode == 1 and "[ ] criterion:unit" in refused.stderr
    timed_out = gate(served, "wait", "checkout", "--ring", "internal", "--timeout", "2s", "--interval", "1s")
    assert timed_out.returncode == 1 and "timed out after 2s" in timed_out.stderr

    env = {**os.environ, "GATE_URL": served.url, "GATE_TOKEN": served.admin}
    waiting = subprocess.Popen(
        [GATE, "wait", "checkout", "--ring", "internal", "--timeout", "30s", "--interval", "1s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    assert gate(served, "vote", "checkout", "unit", "yes", "--comment", "green", token=qa).returncode == 0
    out, _ = waiting.communicate(timeout=30)
    assert waiting.returncode == 0 and "gate for internal: PASSES" in out

    promoted = gate(served, "promote", "checkout", "internal", "--json")
    assert promoted.returncode == 0 and json.loads(promoted.stdout)["ring"] == "internal"
    too_far = gate(served, "promote", "checkout", "ga")
    assert too_far.returncode == 1 and "409" in too_far.stderr and "[ ] order" in too_far.stderr
    assert "internal at 50%" in gate(served, "rollout", "checkout", "50").stdout
    assert "KILLED" in gate(served, "kill", "checkout", "--reason", "drill").stdout
    assert gate(served, "kill", "checkout").returncode == 1  # already killed: a 409, a refusal
    assert gate(served, "revive", "checkout").returncode == 0
    assert "checkout: off" in gate(served, "rollback", "checkout", "off", "--reason", "done").stdout

    opened = gate(served, "incident", "open", "--severity", "3", "--title", "slow", "--feature", "checkout", "--json")
    incident = json.loads(opened.stdout)["id"]
    assert "acknowledged" in gate(served, "incident", "ack", str(incident)).stdout
    assert "resolved" in gate(served, "incident", "resolve", str(incident)).stdout
    change = gate(served, "change", "checkout", "abc123", "--committed-at", "2026-01-01T00:00:00Z")
    assert change.returncode == 0 and "abc123" in change.stdout

    status = gate(served, "status", "checkout")
    assert status.returncode == 0 and status.stdout.startswith("checkout — Checkout (owner payments)")
    assert "gate for internal" in status.stdout
    dora = gate(served, "dora", "--days", "7")
    assert dora.returncode == 0 and "Deployment frequency" in dora.stdout


def test_failures_exit_2_and_never_show_the_token(served: Served) -> None:
    secret = "gate_wrong-token-value"
    wrong = gate(served, "features", token=secret)
    assert wrong.returncode == 2 and "401" in wrong.stderr
    assert secret not in wrong.stdout + wrong.stderr
    missing = gate(served, "show", "no-such-feature", "--json")
    assert missing.returncode == 2 and json.loads(missing.stdout)["status"] == 404
    nowhere = subprocess.run(
        [GATE, "features", "--url", "http://127.0.0.1:9", "--token", secret], capture_output=True, text=True, timeout=30
    )
    assert nowhere.returncode == 2 and "cannot reach Gate" in nowhere.stderr and secret not in nowhere.stderr
    local_only = subprocess.run(
        [GATE, "kill", "checkout"],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k not in ("GATE_URL", "GATE_TOKEN")},
    )
    assert local_only.returncode == 2 and "--url" in local_only.stderr
