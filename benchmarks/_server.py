"""Start a real `gate serve` in a scratch folder for benchmarks."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GATE = str(Path(sys.executable).parent / "gate")


class Server:
    """`gate serve` on a free loopback port, with its own SQLite store unless a URL is given."""

    def __init__(
        self,
        *,
        workers: int = 2,
        database_url: str | None = None,
        worker_class: str = "gevent",
        env: dict[str, str] | None = None,
        admin: str | None = None,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gate-bench-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        extra = env or {}
        env = {**os.environ, "GATE_RINGS_FILE": str(ROOT / "rings.yaml"), "GATE_LOG_LEVEL": "WARNING", **extra}
        env["GATE_DATABASE_URL"] = database_url or f"sqlite:///{self.dir}/gate.db"
        subprocess.run([GATE, "db", "upgrade"], cwd=self.dir, env=env, check=True, capture_output=True)
        self.log = self.dir / "gate.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [
                    GATE,
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    *("--workers", str(workers)),
                    "--worker-class",
                    worker_class,
                ],
                cwd=self.dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        self.admin = admin or ""  # a second server on a bootstrapped database prints no token
        while not self.admin and time.monotonic() < deadline:
            match = re.search(r"^(gate_\S+)$", self.log.read_text(), re.MULTILINE)
            self.admin = match.group(1) if match else ""
            time.sleep(0.05)
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.admin}"

    def token(self, role: str) -> str:
        r = self.session.post(f"{self.url}/api/v1/tokens", json={"name": f"bench-{role}", "role": role})
        r.raise_for_status()
        return str(r.json()["secret"])

    def pids(self) -> list[int]:
        """The server's processes: its master and every worker."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [self.process.pid, *(int(p) for p in children.stdout.split())]

    def cpu_seconds(self) -> float:
        """CPU time the master and its workers have used so far (see `cpu_seconds`)."""
        return cpu_seconds(self.pids())

    def memory_mib(self) -> float:
        """Resident memory of the server: its master and every worker."""
        total_kib = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            total_kib += int(match.group(1)) if match else 0
        return total_kib / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time the processes `pids` have used so far, every thread's, in nanoseconds from the scheduler
    (/proc/PID/task/TID/schedstat): the 10 ms ticks of /proc/PID/stat would blur a 100 ms change by a fifth."""
    used = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                used += int(stat.read_text().split()[0])
            except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
                continue
    return used / 1e9
