"""The `gate` CLI against a real `gate serve`, as a release pipeline runs it: every command, --json,
exit codes (0 done, 1 refused, 2 anything else), `wait` passing after a vote and timing out."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import GATE, Served, wait_for
from tests.reports import RealReports, real_reports  # noqa: F401 - the fixture

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


PLANNED = (
    PRODUCT
    + """\
plan:
  steps:
    - {ring: internal}
    - {ring: preview, percent: 10, hold: 1h}
    - {ring: preview}
  on_incident: rollback
"""
)


def test_a_pipeline_runs_a_release_plan_with_the_cli(served: Served, tmp_path: Path) -> None:
    product = tmp_path / "checkout.yaml"
    product.write_text(PLANNED)
    assert gate(served, "apply", str(product)).returncode == 0
    idle = gate(served, "plan", "show", "checkout")
    assert idle.returncode == 0 and idle.stdout.startswith("checkout: plan idle, no step of 3 taken")
    assert "  [>] 1. internal at 100%" in idle.stdout and "  [ ] 2. preview at 10%, hold 1h" in idle.stdout
    assert "  - plan: not started" in idle.stdout and "  - criterion:unit: 0 of 1 yes vote" in idle.stdout
    assert gate(served, "vote", "checkout", "unit", "yes", token=served.token("quinn", "qa")).returncode == 0
    release = served.token("rita", "release")
    started = gate(served, "plan", "start", "checkout", token=release)
    assert started.returncode == 0 and started.stdout.startswith("checkout: plan running")

    def first_step_taken() -> bool:
        shown = gate(served, "plan", "show", "checkout", "--json")
        return shown.returncode == 0 and json.loads(shown.stdout)["step"] == 0

    assert wait_for(first_step_taken, timeout=20, interval=0.5)  # every gate serve checks plans every 2 s
    shown = gate(served, "plan", "show", "checkout").stdout
    assert "  [x] 1. internal at 100%" in shown and "  [>] 2. preview at 10%, hold 1h" in shown
    assert "  - soak: served" in shown and "plan:rita" in shown
    assert gate(served, "status", "checkout").stdout.splitlines()[-1] == "release plan running, step 1 of 3"
    assert gate(served, "plan", "pause", "checkout", token=release).stdout.startswith("checkout: plan paused")
    again = gate(served, "plan", "pause", "checkout", token=release)
    assert again.returncode == 1 and "409: the plan of checkout is paused, not running" in again.stderr
    assert gate(served, "plan", "resume", "checkout", token=release).returncode == 0
    cancelled = gate(served, "plan", "cancel", "checkout", "--json", token=release)
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["state"] == "idle"
    forbidden = gate(served, "plan", "start", "checkout", token=served.token("qa2", "qa"))
    assert forbidden.returncode == 2 and "403" in forbidden.stderr
    missing = gate(served, "plan", "show", "no-such-feature")
    assert missing.returncode == 2 and "404" in missing.stderr


EVIDENCE_PRODUCT = """\
feature: pay
name: Pay
owner: payments
criteria:
  - id: unit
    description: Unit tests cover at least 90% of the code
    ring: internal
    evidence: {kind: coverage, min: 90}
  - id: tests
    description: The suite passes
    ring: internal
    evidence: {kind: tests, min_passed: 2, max_failed: 0}
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the API tests hold both stores to it
def test_a_pipeline_reports_real_evidence_with_the_cli(
    served: Served,
    tmp_path: Path,
    real_reports: RealReports,  # noqa: F811
) -> None:
    product = tmp_path / "pay.yaml"
    product.write_text(EVIDENCE_PRODUCT)
    assert gate(served, "apply", str(product)).returncode == 0
    ci = served.token("pipeline", "ci")
    # the coverage XML coverage.py wrote: 92%, which passes 90 — exit 0
    passed = gate(served, "evidence", "pay", "unit", str(real_reports.cobertura), "--build", "b1",
                  "--link", "https://ci.example/1", token=ci)  # fmt: skip
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith("pay/unit: build b1 passes: coverage 92.")
    # pytest's JUnit with a failure and an error: the evidence does not pass — exit 1
    failing = gate(served, "evidence", "pay", "tests", str(real_reports.junit), "--build", "b1", token=ci)
    assert (failing.returncode, failing.stdout.strip()) == (1, "pay/tests: build b1 does not pass: 2 failed > 0")
    # refused: a report of the wrong kind, a qa token — exit 2, the reason on stderr
    wrong = gate(served, "evidence", "pay", "unit", str(real_reports.junit), "--build", "b1", token=ci)
    assert wrong.returncode == 2 and "asks for coverage evidence" in wrong.stderr
    as_qa = gate(served, "evidence", "pay", "unit", str(real_reports.lcov), "--build", "b1",
                 token=served.token("quinn", "qa"))  # fmt: skip
    assert as_qa.returncode == 2 and "403" in as_qa.stderr
    # a JUnit report of 3 MiB goes gzip by itself; one already gzip goes as it is
    cases = "".join(f'<testcase name="t{i}" classname="c"/>' for i in range(60000))
    big = tmp_path / "big.xml"
    big.write_text(f'<testsuite name="s" tests="60000">{cases}</testsuite>')
    assert big.stat().st_size > 2 * 1024 * 1024
    large = gate(served, "evidence", "pay", "tests", str(big), "--build", "b2", "--json", token=ci)
    assert large.returncode == 0 and json.loads(large.stdout)["summary"] == {"passed": 60000, "failed": 0, "skipped": 0}
    packed = tmp_path / "coverage.json.gz"
    packed.write_bytes(gzip.compress(real_reports.coverage_json.read_bytes()))
    assert gate(served, "evidence", "pay", "unit", str(packed), "--build", "b2", token=ci).returncode == 0
    # the gate of build b2 passes; b1's does not (its tests failed)
    assert gate(served, "check", "pay", "--ring", "internal", "--build", "b2").returncode == 0
    b1 = gate(served, "check", "pay", "--ring", "internal", "--build", "b1")
    assert b1.returncode == 1 and "2 failed > 0 (build b1" in b1.stderr
    assert gate(served, "promote", "pay", "internal", "--build", "b1").returncode == 1
    assert gate(served, "promote", "pay", "internal", "--build", "b2").returncode == 0
