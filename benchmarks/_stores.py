"""Scratch stores for benchmarks: a migrated SQLite file, or a PostgreSQL database made and dropped."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate import migrate as migrations


@contextmanager
def sqlite_store() -> Iterator[str]:
    """A migrated SQLite database in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/gate.db"
        migrations.upgrade(url)
        yield url


@contextmanager
def postgres_store(admin_url: str, name: str) -> Iterator[str]:
    """A migrated PostgreSQL database `name` beside `admin_url`'s, dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
