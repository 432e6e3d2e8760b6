"""The `gate` console script, run in-process with click's runner against a real database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gate.app import create_app
from gate.cli import main
from gate.domain.errors import ParseError
from tests.support import RINGS, Api, FeatureBuilder


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GATE_DATABASE_URL", database_url)
    monkeypatch.setenv("GATE_RINGS_FILE", str(RINGS))
    return CliRunner()


def test_db_upgrade_creates_a_fresh_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{tmp_path}/new/gate.db")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "gate.db").exists()


def test_token_create_prints_the_secret_alone_then_list_and_revoke(cli: CliRunner) -> None:
    created = cli.invoke(main, ["token", "create", "--name", "ci", "--role", "release"])
    assert created.exit_code == 0
    secret = created.stdout.strip()
    assert secret.startswith("gate_") and "\n" not in secret
    listed = cli.invoke(main, ["token", "list"])
    assert "ci" in listed.stdout and "release" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split()[0]
    assert cli.invoke(main, ["token", "revoke", token_id]).exit_code == 0
    assert "revoked" in cli.invoke(main, ["token", "list"]).stdout
    again = cli.invoke(main, ["token", "revoke", token_id])
    assert again.exit_code == 2 and "no active token" in again.output


def test_rings_check_summarises_a_good_file(cli: CliRunner) -> None:
    result = cli.invoke(main, ["rings", "check", str(RINGS)])
    assert result.exit_code == 0
    assert "3 rings: internal → preview → ga" in result.stdout
    assert "  internal: criteria only" in result.stdout
    assert "  ga: soak 3d, no open incident of severity ≤ 2, zero bugs, RCA closed" in result.stdout


def test_rings_check_refuses_a_file_that_drops_a_ring_the_database_still_uses(
    cli: CliRunner, api: Api, tmp_path: Path
) -> None:
    api.apply(FeatureBuilder("checkout").criterion("soak-ok", ring="ga"))
    fewer = tmp_path / "rings.yaml"
    fewer.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "rings": [
                    {"name": "internal", "audience": {"groups": ["cs"]}},
                    {"name": "everyone", "audience": "all"},
                ],
            }
        )
    )
    result = cli.invoke(main, ["rings", "check", str(fewer)])
    assert result.exit_code == 1
    assert "ring 'ga' is gone but still used by" in result.output and "checkout" in result.output
    same = cli.invoke(main, ["rings", "check", str(RINGS)])
    assert same.exit_code == 0 and "(every ring in use in " in same.stdout and "is still there)" in same.stdout


def test_rings_check_without_a_database_checks_the_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{tmp_path}/none/gate.db")
    result = CliRunner().invoke(main, ["rings", "check", str(RINGS)])
    assert result.exit_code == 0, result.output
    assert f"(no database at {tmp_path}/none/gate.db yet: the file alone was checked)" in result.stdout
    assert not (tmp_path / "none").exists()  # checking creates nothing


def test_rings_check_lists_every_error_with_its_path(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "rings.yaml"
    bad.write_text("version: 1\nrings:\n  - name: a\n    audience: {groups: [x]}\n    gate: {soak: soon}\n")
    result = cli.invoke(main, ["rings", "check", str(bad)])
    assert result.exit_code == 1
    assert "rings[0].gate.soak:" in result.output
    assert "rings[0].audience: the last ring's audience must be all" in result.output


def test_criteria_apply_and_status(cli: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "checkout.yaml"
    doc.write_text(FeatureBuilder("checkout").criterion("unit").yaml())
    result = cli.invoke(main, ["criteria", "apply", str(doc)])
    assert result.exit_code == 0 and "checkout: 1 criterion applied" in result.stdout
    status = cli.invoke(main, ["status", "checkout"])
    assert status.exit_code == 0
    assert "exposure: off" in status.stdout
    assert "gate for internal: REFUSED" in status.stdout
    assert "[ ] criterion:unit: 0 of 1 yes vote" in status.stdout
    assert "release plan" not in status.stdout
    assert cli.invoke(main, ["status", "nope"]).exit_code == 2
    doc.write_text(FeatureBuilder("checkout").criterion("unit").with_(plan={"steps": [{"ring": "internal"}]}).yaml())
    assert cli.invoke(main, ["criteria", "apply", str(doc)]).exit_code == 0
    planned = cli.invoke(main, ["status", "checkout"])
    assert planned.stdout.splitlines()[-1] == "release plan idle, no step of 1 taken"


def test_criteria_apply_refuses_every_bad_file_and_applies_none(cli: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(FeatureBuilder("good").yaml())
    bad = tmp_path / "bad.yaml"
    bad.write_text("feature: bad\nname: x\n")
    result = cli.invoke(main, ["criteria", "apply", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: owner: is required" in result.output
    assert cli.invoke(main, ["status", "good"]).exit_code == 2


def test_a_rings_file_that_drops_a_ring_in_use_is_refused(api: Api, database_url: str, tmp_path: Path) -> None:
    api.apply(FeatureBuilder("checkout").criterion("e2e", ring="preview"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "test"})
    api.apply(FeatureBuilder("search").with_(plan={"steps": [{"ring": "preview", "percent": 5}, {"ring": "ga"}]}))
    rings = yaml.safe_load(RINGS.read_text())
    rings["rings"] = [r for r in rings["rings"] if r["name"] not in ("internal", "preview")]
    smaller = tmp_path / "rings.yaml"
    smaller.write_text(yaml.safe_dump(rings))
    with pytest.raises(ParseError) as info:
        create_app({"DATABASE_URL": database_url, "RINGS_FILE": str(smaller)})
    text = str(info.value)
    assert "'internal' is gone but still used by feature checkout" in text
    assert "'preview' is gone but still used by criterion checkout/e2e, plan search step 1" in text


def test_the_cli_reports_a_bad_rings_file_instead_of_a_traceback(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_DATABASE_URL", database_url)
    monkeypatch.setenv("GATE_RINGS_FILE", str(tmp_path / "missing.yaml"))
    result = CliRunner().invoke(main, ["token", "list"])
    assert result.exit_code == 2 and f"no rings file at {tmp_path / 'missing.yaml'}" in result.output
    assert "GATE_RINGS_FILE" in result.output and "Traceback" not in result.output


def test_a_local_command_names_what_is_missing_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_RINGS_FILE", str(RINGS))
    store = tmp_path / "elsewhere" / "gate.db"
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{store}")
    result = CliRunner().invoke(main, ["status", "checkout"])
    assert result.exit_code == 2 and f"no database at {store}" in result.output and "gate db upgrade" in result.output
    assert not store.exists() and not store.parent.exists()  # no empty store left behind
    store.parent.mkdir()
    sqlite3.connect(store).close()  # a file, but never migrated
    result = CliRunner().invoke(main, ["status", "checkout"])
    assert result.exit_code == 2 and "not at the newest migration" in result.output


def test_rings_check_says_when_the_database_could_not_be_consulted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{empty}")
    result = CliRunner().invoke(main, ["rings", "check", str(RINGS)])
    assert result.exit_code == 0 and "is not migrated: the file alone was checked)" in result.stdout
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{tmp_path}")  # a folder, not a database
    result = CliRunner().invoke(main, ["rings", "check", str(RINGS)])
    assert result.exit_code == 0 and "cannot be read (" in result.stdout


def test_token_create_takes_several_roles_owners_and_an_expiry(cli: CliRunner, api: Api) -> None:
    created = cli.invoke(
        main,
        [
            "token",
            "create",
            "--name",
            "pipeline",
            "--role",
            "ci",
            "--role",
            "release",
            "--owner",
            "payments",
            "--expires",
            "90d",
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("gate_") and "\n" not in secret
    (row,) = [t for t in api.get("/api/v1/tokens").json if t["name"] == "pipeline"]
    assert (row["roles"], row["owners"]) == (["ci", "release"], ["payments"]) and row["expires_at"]
    listed = cli.invoke(main, ["token", "list"]).stdout
    line = next(line for line in listed.splitlines() if "pipeline" in line)
    assert "ci,release" in line and "owners payments" in line and "expires " in line
    for bad, says in (
        (["--role", "admin", "--role", "qa"], "admin holds every role"),
        (["--role", "qa", "--role", "qa"], "each role at most once"),
        (["--role", "qa", "--expires", "3651d"], "is longer than 3650d"),
        (["--role", "qa", "--owner", " x"], "is not an owner"),
    ):
        result = cli.invoke(main, ["token", "create", "--name", "bad", *bad])
        assert result.exit_code == 2 and says in result.output, (bad, result.output)
    result = cli.invoke(main, ["token", "create", "--name", "bad", "--role", "qa", "--expires", "soon"])
    assert result.exit_code == 2 and "--expires" in result.output
    assert [t["name"] for t in api.get("/api/v1/tokens").json].count("bad") == 0


def test_gate_features_works_locally_with_the_server_s_words(cli: CliRunner, api: Api) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.apply(FeatureBuilder("search").with_(owner="discovery"))
    api.vote("checkout", "unit")
    assert api.promote("checkout", "internal").status_code == 200
    listed = cli.invoke(main, ["features"])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["search", "off", "Search", "(discovery)"]
    assert lines[1].split()[:4] == ["checkout", "internal", "at", "100%"]
    assert cli.invoke(main, ["features", "--owner", "discovery"]).stdout.split()[0] == "search"
    assert cli.invoke(main, ["features", "--owner", "nobody"]).stdout == ""


def test_local_exit_codes_are_the_server_s(cli: CliRunner, api: Api) -> None:
    """0 done, 1 refused (409), 2 anything else: the same with and without GATE_URL."""
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    assert cli.invoke(main, ["status", "checkout"]).exit_code == 0
    missing = cli.invoke(main, ["status", "nope"])
    assert missing.exit_code == 2 and "no feature 'nope'" in missing.stderr  # a 404 against a server
    assert cli.invoke(main, ["dora", "--benchmark", "1999"]).exit_code == 2  # a 422
    server_only = cli.invoke(main, ["promote", "checkout", "internal"])
    assert server_only.exit_code == 2 and "works against a server" in server_only.stderr
    assert cli.invoke(main, ["status", "checkout", "--json"]).exit_code == 2  # --json needs a server
