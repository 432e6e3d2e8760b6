"""Release plans' guard readings (contract 7.3), read where they cannot hold anything up.

The plan checker reads the guards of running plans after its database read has committed (never inside a
transaction), each query in a thread of its own when there are several, each bounded by the reader's
deadline for the whole answer: a slow Prometheus delays only the plans that read it, and the plans
without a guard are decided first. The plan view answers from the latest reading of this worker (a few
seconds old at most while the plan runs), so an API answer never waits on Prometheus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from gate.domain.plans import Reading

Reader = Callable[[str], Reading]
KEPT = 1_000  # readings kept per worker: one per distinct query of the running plans


def no_guard(query: str) -> Reading:
    return Reading(error="GATE_PROMETHEUS_URL is not set, so the guard cannot be read")


class Guards:
    """One worker's guard reader and the latest reading of each query."""

    def __init__(self, read: Reader = no_guard) -> None:
        self.read = read
        self._latest: dict[str, Reading] = {}
        self._lock = threading.Lock()

    def read_many(self, queries: Iterable[str], read: Reader | None = None) -> dict[str, Reading]:
        """Read each query once, the several of them side by side; keep each as the latest."""
        reader = read or self.read
        wanted = sorted(set(queries))
        readings: dict[str, Reading] = {}
        if len(wanted) == 1:
            readings[wanted[0]] = reader(wanted[0])
        else:

            def one(query: str) -> None:
                readings[query] = reader(query)

            threads = [threading.Thread(target=one, args=(q,), name="gate-guard", daemon=True) for q in wanted]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()  # each read has its own deadline for the whole answer
        with self._lock:
            if len(self._latest) + len(readings) > KEPT:
                self._latest.clear()
            self._latest.update(readings)
        return readings

    def latest(self, query: str) -> Reading:
        """The last reading of `query` in this worker, without asking Prometheus."""
        with self._lock:
            found = self._latest.get(query)
        return found or Reading(error="not read yet: the plan checker reads a running plan's guard every few seconds")
