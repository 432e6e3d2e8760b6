"""gate serve's gevent workers and the database: psycopg must wait on the loop, never block it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import postgres_url

pytestmark = pytest.mark.integration

COOPERATION = """
from gevent import monkey
monkey.patch_all()
import time, gevent, psycopg, psycopg.waiting
assert psycopg.waiting.wait.__name__ != "wait_c", psycopg.waiting.wait.__name__

def sleep_in_database():
    with psycopg.connect(URL) as conn:
        conn.execute("SELECT pg_sleep(0.5)")

started = time.monotonic()
gevent.joinall([gevent.spawn(sleep_in_database) for _ in range(4)], raise_error=True)
print(round(time.monotonic() - started, 2))
"""


def test_four_slow_queries_share_one_loop_instead_of_queueing() -> None:
    url = postgres_url()
    if not url:
        pytest.skip("no PostgreSQL to test against")
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    out = subprocess.run(
        [sys.executable, "-c", f"URL = {conninfo!r}\n" + COOPERATION], capture_output=True, text=True, check=True
    )
    assert float(out.stdout) < 1.5  # one after another would take 2 s


def test_the_cli_imports_no_database_driver_before_serve_patches() -> None:
    code = "import sys, gate.cli\nprint(sorted(m for m in ('psycopg', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
