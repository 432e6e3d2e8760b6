"""A real `gate serve` (gunicorn, several workers) on SQLite or PostgreSQL, started per test."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import RINGS

GATE = str(Path(sys.executable).parent / "gate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running Gate: its base URL, the bootstrap admin token and the process."""

    url: str
    admin: str
    process: subprocess.Popen[str]
    database_url: str
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request as the admin."""
        return requests.request(method, self.url + path, headers=self.headers(), timeout=10, **kwargs)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    def token(self, name: str, role: str) -> str:
        r = requests.post(
            f"{self.url}/api/v1/tokens", json={"name": name, "role": role}, headers=self.headers(), timeout=10
        )
        r.raise_for_status()
        return str(r.json()["secret"])

    def stop(self, *, graceful: bool = False) -> None:
        """SIGQUIT: gunicorn's quick stop (workers leave at once; coverage and the master's clean-up still run),
        half a second where SIGTERM's graceful one takes one and a half: the suite stops about a hundred
        servers. `graceful`: SIGTERM, what a service manager sends (its own tests ask for it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if graceful else signal.SIGQUIT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gate(
    database_url: str,
    workdir: Path,
    *,
    workers: int = 2,  # what `gate serve` runs by default; a test that needs more says so
    port: int | None = None,
    rings: Path = RINGS,
    env: dict[str, str] | None = None,
    admin: str | None = None,
) -> Served:
    """Start `gate serve` and wait until it is ready (`admin`: a token of a database already bootstrapped)."""
    process, url, log = spawn_gate(database_url, workdir, workers=workers, port=port, rings=rings, env=env)
    served = Served(url=url, admin="", process=process, database_url=database_url, log=log)
    try:
        served.admin = _wait_ready(served, log, admin)
    except BaseException:
        served.stop()  # a failed start must not leave a server running after the suite
        raise
    return served


def spawn_gate(
    database_url: str,
    workdir: Path,
    *,
    workers: int = 2,
    port: int | None = None,
    rings: Path = RINGS,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str, Path]:
    """Start `gate serve` without waiting for it: the process, its URL and its log file."""
    port = port or free_port()
    environment = {
        **os.environ,
        "GATE_DATABASE_URL": database_url,
        "GATE_RINGS_FILE": str(rings),
        "GATE_LOG_LEVEL": "WARNING",
        # a cap two workers hold (the default, 50,000, takes a third worker here): the suite's servers keep
        # the worker count they ask for; the fleet tests and benchmarks/fleet.py run the default
        "GATE_MAX_STREAMS": "20000",
        **(env or {}),
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = workdir / f"gate-{port}.log"
    with open(log, "w") as out:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(
            [GATE, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            cwd=workdir,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return process, f"http://127.0.0.1:{port}", log


def _wait_ready(served: Served, log: Path, admin: str | None) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not admin and served.process.poll() is None:
        match = re.search(r"^(gate_\S+)$", log.read_text(), re.MULTILINE)
        admin = match.group(1) if match else ""
        time.sleep(0.05)
    assert admin, "gate serve printed no bootstrap token:\n" + log.read_text()
    while time.monotonic() < deadline and served.process.poll() is None:
        try:
            if requests.get(f"{served.url}/readyz", timeout=1).status_code == 200:
                return admin
        except requests.RequestException:  # refused, reset or slow while workers boot
            pass
        time.sleep(0.05)
    pytest.fail("gate serve did not become ready:\n" + log.read_text())


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll `predicate` until it is true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    gate = start_gate(database_url, tmp_path)
    yield gate
    gate.stop()


CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()
