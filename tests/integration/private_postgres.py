"""A PostgreSQL server of the test's own (initdb into a temporary folder, its own port), to stop and start."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

from tests.integration.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """One cluster in a temporary folder; never the shared server."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            pytest.skip("PostgreSQL 15's server binaries are not installed")
        self.folder = Path(tempfile.mkdtemp(prefix="gate-pg-"))  # under /tmp, reachable by postgres
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        subprocess.run(
            _as_postgres([str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/gate"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )

    def create_database(self) -> None:
        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE gate"))
        engine.dispose()

    def stop(self) -> None:
        """A clean, fast shutdown: clients are disconnected, the port refuses."""
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def kill(self) -> None:
        """SIGKILL the postmaster, as an out-of-memory killer would."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        postmaster = int(pid_file.read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        for pid in [postmaster, *map(int, children)]:  # its backends too, or their shared memory blocks a restart
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # a container's init may never reap the killed postmaster, whose zombie would look alive to the next start
        pid_file.unlink(missing_ok=True)
        (self.folder / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
