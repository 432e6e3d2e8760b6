"""What a Gate app holds beside Flask's own, typed and under one key: its caches, the watcher, streams, the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

if TYPE_CHECKING:
    from gate.services.outbox import Dispatcher
    from gate.services.periodic import Periodic
    from gate.services.snapshots import SnapshotCache
    from gate.services.streams import StreamEngine
    from gate.services.tokens import TokenCache
    from gate.services.watch import VersionWatcher

KEY = "gate"


@dataclass(frozen=True)
class Runtime:
    """One app's runtime state, built by the factory (as flask-sqlalchemy keeps its state object)."""

    tokens: TokenCache
    snapshots: SnapshotCache
    watcher: VersionWatcher  # follows the shared state row: streams wait on it
    streams: StreamEngine  # SDK streams: their slots (the host's, made before the fork), events, reaper
    outbox: Dispatcher
    plans: Periodic  # checks running release plans and takes their steps
    milestones: Periodic  # announces each component that turns late, once across hosts


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of `app`, or of the current app."""
    return cast(Runtime, (app if app is not None else current_app).extensions[KEY])
