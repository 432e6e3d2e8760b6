"""Reports that real tools write, made during the test run: pytest's JUnit XML, coverage.py's Cobertura XML,
JSON and LCOV, and bandit's SARIF, over a small module whose answers are known."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = """
import subprocess


def grade(score):
    if score >= 90:
        return "A"
    if score >= 50:
        return "B"
    return "C"


def unused(x):
    return subprocess.call("echo " + x, shell=True)
"""

TESTS = """
import pytest
from calc import grade


def test_a():
    assert grade(95) == "A"


def test_b():
    assert grade(60) == "B"


def test_fails():
    assert grade(10) == "A"


@pytest.mark.skip(reason="later")
def test_skipped():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("set-up fails")


def test_errors(broken):
    pass
"""


@dataclass(frozen=True)
class RealReports:
    """Paths of the reports. 5 tests: 2 pass, 1 fails, 1 errors, 1 skipped; calc.py is covered but for `unused`;
    bandit finds the shell call (an error) and the subprocess import (a note)."""

    junit: Path
    cobertura: Path
    coverage_json: Path
    lcov: Path
    sarif: Path
    folder: Path


def make_reports(folder: Path) -> RealReports:
    (folder / "calc.py").write_text(MODULE)
    (folder / "test_calc.py").write_text(TESTS)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COVERAGE_PROCESS_START": ""}
    env.pop("COVERAGE_PROCESS_START")
    run = {"cwd": folder, "env": env, "capture_output": True, "check": False}
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            "--branch",
            "--data-file=.cov",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=junit.xml",
            "test_calc.py",
        ],
        **run,  # type: ignore[call-overload]
    )
    assert tests.returncode == 1, tests.stdout  # one failed and one errored: pytest says so
    for command in (["xml", "-o", "coverage.xml"], ["json", "-o", "coverage.json"], ["lcov", "-o", "coverage.lcov"]):
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *command, "--data-file=.cov", "--include=calc.py"], **run
        )
        assert done.returncode == 0, done.stderr
    scan = subprocess.run([sys.executable, "-m", "bandit", "-q", "-f", "sarif", "-o", "bandit.sarif", "calc.py"], **run)
    assert (folder / "bandit.sarif").exists(), scan.stderr  # bandit exits 1 when it finds something
    return RealReports(
        folder / "junit.xml",
        folder / "coverage.xml",
        folder / "coverage.json",
        folder / "coverage.lcov",
        folder / "bandit.sarif",
        folder,
    )


@pytest.fixture(scope="session")
def real_reports(tmp_path_factory: pytest.TempPathFactory) -> RealReports:
    """Made once per run: the first xdist worker to ask makes them, under a lock; the others read them."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, above the workers'
    folder = shared / "real-reports"
    with open(shared / "real-reports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "bandit.sarif").exists():
            folder.mkdir(exist_ok=True)
            make_reports(folder)
    names = ("junit.xml", "coverage.xml", "coverage.json", "coverage.lcov", "bandit.sarif")
    return RealReports(*(folder / name for name in names), folder)
