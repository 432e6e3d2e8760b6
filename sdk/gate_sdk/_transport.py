"""Talking to Gate over HTTP with the standard library: snapshot polling, the event stream, exposures.

TransportError            the request failed (network, timeout, or an unexpected status)
└── StreamUnavailable     the stream endpoint refused (503 streams full, 404 ...): poll instead
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

SNAPSHOT_PATH = "/api/v1/sdk/snapshot"
STREAM_PATH = "/api/v1/sdk/stream?patches=1"  # only what changed after the first event (contract 7.2)
EXPOSURES_PATH = "/api/v1/sdk/exposures"


class TransportError(Exception):
    """A request to Gate failed."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # the server's advice (Retry-After, seconds) when it gave one


class StreamUnavailable(TransportError):
    """The stream endpoint answered, but not with a stream."""


@dataclass(frozen=True)
class Fetched:
    """A snapshot poll: 304 (body None) or 200 with the body and its ETag."""

    status: int
    etag: str | None
    body: bytes | None


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event."""

    event: str
    id: str | None
    data: str


class Transport(Protocol):
    """What the client needs from the network; tests swap in their own."""

    def fetch(self, etag: str | None) -> Fetched: ...

    def stream(self, last_event_id: str | None) -> Iterator[Event]: ...

    def post_exposures(self, payload: dict[str, Any]) -> None: ...

    def abort(self) -> None: ...
