"""Every shell block of the README and docs/ runs, as written, against a real `gate serve` (tests/docs.py
says how blocks are read): a new user following them meets no error they did not cause, and the docs
cannot drift from what Gate does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.docs import blocks, script
from tests.integration.conftest import Served, start_gate, wait_for
from tests.support import RINGS, ROOT

pytestmark = pytest.mark.integration
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROBLEM = re.compile(r'"status":\s*[45]\d\d')  # a problem document in an answer: an error the user did not cause


def run(doc: Path, served: Served, workdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    text, _ = script(doc, served.url)
    (workdir / ".venv").symlink_to(Path(sys.executable).parent.parent)  # `. .venv/bin/activate`, as in a checkout
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    environment.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        GATE_DATABASE_URL=served.database_url,  # what `make run` and the server use, for `gate token create`
        GATE_RINGS_FILE=str(env.pop("rings", RINGS)),
        ADMIN=served.admin,  # the bootstrap token `make run` prints, as the reader pastes it
        **env,
    )
    result = subprocess.run(
        ["bash", "-c", text], cwd=workdir, env=environment, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"{doc.name} stopped with {result.returncode}:\n{result.stderr[-3000:]}"
    assert not PROBLEM.search(result.stdout), f"{doc.name} met an error:\n{result.stdout[-3000:]}"
    return result


def test_every_sh_block_is_run_or_says_why_not() -> None:
    for doc in DOCS:
        _, skipped = script(doc, "http://gate")
        ran = [b for b in blocks(doc) if b.language == "sh" and b.marker != "skip"]
        assert all(b.argument for b in skipped)
        assert ran or doc.name == "reference.md", doc
    readme_skips = [b.line for b in script(ROOT / "README.md", "http://gate")[1]]
    assert len(readme_skips) == 2  # `make run` and `make test`: the test starts the server, the suite is itself


# each doc on one store, the one its reader meets: `make run` keeps SQLite; a pipeline's Gate runs on PostgreSQL.
# The API tests hold both stores to the same answers; running each doc twice would only double its minute.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_readme_walkthrough_runs_as_written(database_url: str, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2)
    try:
        workdir = tmp_path / "reader"
        workdir.mkdir()
        result = run(ROOT / "README.md", served, workdir)
        feature = served.call("GET", "/api/v1/features/checkout-v2").json()
        assert feature["state"]["ring"] == "internal" and feature["state"]["killed"] is False  # revived at the end
        assert "checkout-v2 — New checkout flow (owner payments)" in result.stdout  # gate status

        def plan() -> dict[str, object]:
            return dict(served.call("GET", "/api/v1/features/search-v2/plan").json())

        assert wait_for(lambda: plan()["step"] == 0, timeout=10), plan()  # the checker took the first step
        assert plan()["state"] == "running"
        incidents = served.call("GET", "/api/v1/incidents").json()
        assert [i["title"] for i in incidents] == ["payments failing"]
        actors = {e["actor"] for e in served.call("GET", "/api/v1/audit").json()}
        assert {"pat", "alice", "rita", "on-call", "plan:rita"} <= actors
    finally:
        served.stop()


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_pipeline_doc_runs_as_written_and_reaches_ga(database_url: str, tmp_path: Path) -> None:
    """docs/pipeline.md against a Gate whose rings ask for no soak (the default file asks days of it; a
    test cannot wait them): a fresh store, the tokens, the build job, QA's votes, the deploy job to GA."""
    rings = yaml.safe_load(RINGS.read_text())
    for ring in rings["rings"]:
        ring.get("gate", {}).pop("soak", None)
    short = tmp_path / "rings.yaml"
    short.write_text(yaml.safe_dump(rings))
    served = start_gate(database_url, tmp_path, workers=2, rings=short)
    try:
        workdir = tmp_path / "repo"
        workdir.mkdir()
        git = ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.org"]
        subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
        (workdir / "deploy.sh").write_text('#!/bin/sh\necho "deployed to $1"\n')
        (workdir / "deploy.sh").chmod(0o755)
        subprocess.run([*git, "add", "deploy.sh"], cwd=workdir, check=True)
        subprocess.run([*git, "commit", "-qm", "checkout v2"], cwd=workdir, check=True)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True, text=True).stdout
        result = run(
            ROOT / "docs" / "pipeline.md",
            served,
            workdir,
            rings=str(short),
            GIT_COMMIT=sha.strip(),
            CI_RUN_URL="https://ci.example.org/runs/7",
        )
        state = served.call("GET", "/api/v1/features/checkout-v2").json()["state"]
        assert (state["ring"], state["percent"], state["killed"]) == ("ga", 100, False)
        assert [line for line in result.stdout.splitlines() if line.startswith("deployed")] == [
            "deployed to internal",
            "deployed to preview",
            "deployed to ga",
        ]
        audit = served.call("GET", "/api/v1/audit?feature=checkout-v2").json()
        by_action = {(e["action"], e["actor"]) for e in audit}
        assert {("criteria.apply", "checkout-pipeline"), ("change.report", "checkout-pipeline")} <= by_action
        assert ("promote", "checkout-deploy") in by_action and ("vote", "quinn") in by_action
        assert ("evidence.report", "checkout-pipeline") in by_action
        reported = served.call("GET", "/api/v1/features/checkout-v2/criteria/unit-tests/evidence").json()
        assert [(e["build"], e["summary"], e["link"]) for e in reported] == [
            (sha.strip(), {"passed": 2, "failed": 0, "skipped": 0}, "https://ci.example.org/runs/7")
        ]
        tokens = {t["name"]: t for t in served.call("GET", "/api/v1/tokens").json()}
        assert tokens["checkout-deploy"]["roles"] == ["release"] and tokens["checkout-deploy"]["owners"] == ["payments"]
        assert tokens["checkout-pipeline"]["expires_at"] is not None
        dora = requests.get(f"{served.url}/api/v1/metrics/dora", headers=served.headers(), timeout=10).json()
        assert dora["lead_time_hours"]["changes"] == 1  # the change the build job reported shipped with GA
        assert served.call("GET", "/api/v1/features/search-v2/plan").json()["state"] == "running"
    finally:
        served.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sign_in_doc_checks_a_gate_that_found_its_provider(database_url: str, tmp_path: Path) -> None:
    """docs/sso.md's check, against `gate serve` with a real identity provider (tests/idp.py)."""
    from tests.idp import IdentityProvider
    from tests.integration.conftest import free_port

    port = free_port()
    idp = IdentityProvider([f"http://127.0.0.1:{port}/auth/oidc/callback"]).start()
    served = None
    try:
        served = start_gate(database_url, tmp_path, port=port, env=idp.environment())
        result = run(ROOT / "docs" / "sso.md", served, tmp_path, GATE_OIDC_ISSUER=idp.issuer)
        assert result.stdout.splitlines() == [idp.issuer, "Sign in with your company account"]
    finally:
        if served is not None:
            served.stop()
        idp.stop()
