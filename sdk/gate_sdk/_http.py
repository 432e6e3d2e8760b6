"""HTTP/1.1 to Gate with http.client, imported only when a client talks to a real server."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from gate_sdk._transport import (
    EXPOSURES_PATH,
    SNAPSHOT_PATH,
    STREAM_PATH,
    Event,
    Fetched,
    StreamUnavailable,
    TransportError,
)
from gate_sdk._version import __version__


class HttpTransport:
    """HTTP/1.1 with http.client; `abort()` unblocks a read in progress from another thread."""

    def __init__(self, base_url: str, sdk_key: str, *, connect_timeout: float = 5.0, read_timeout: float = 40.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {sdk_key}", "User-Agent": f"gate-sdk-python/{__version__}"}
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.role: str | None = None  # the key's role, as Gate last said it (Gate-Token-Role)
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def _connect(self, read_timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._connect_timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(read_timeout)
        with self._lock:
            self._open.add(conn)
        return conn

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._open.discard(conn)
        conn.close()

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            conn = self._connect(self._read_timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect: {exc}") from exc
        try:
            conn.request(method, self._prefix + path, body=body, headers={**self._headers, **(headers or {})})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"{method} {path}: {exc}") from exc
        finally:
            self._release(conn)

    def fetch(self, etag: str | None) -> Fetched:
        headers = {"Accept-Encoding": "gzip", **({"If-None-Match": etag} if etag else {})}
        status, response_headers, body = self._request("GET", SNAPSHOT_PATH, headers=headers)
        self.role = response_headers.get("gate-token-role", self.role)
        if status == 304:
            return Fetched(304, etag, None)
        if status != 200:
            raise TransportError(f"snapshot: HTTP {status}", status, retry_after(response_headers.get("retry-after")))
        if response_headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise TransportError(f"snapshot: bad gzip body: {exc}") from exc
        return Fetched(200, response_headers.get("etag"), body)

    def post_exposures(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        status, _, _ = self._request("POST", EXPOSURES_PATH, body=body, headers={"Content-Type": "application/json"})
        if status != 200:
            raise TransportError(f"exposures: HTTP {status}", status)

    def stream(self, last_event_id: str | None) -> Iterator[Event]:
        try:
            conn = self._connect(self._read_timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect: {exc}") from exc
        try:
            headers = {**self._headers, "Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            conn.request("GET", self._prefix + STREAM_PATH, headers=headers)
            response = conn.getresponse()
            self.role = response.getheader("gate-token-role", self.role)
            if response.status != 200:
                advice = retry_after(response.getheader("retry-after"))
                raise StreamUnavailable(f"stream: HTTP {response.status}", response.status, advice)
            yield from _parse_events(response)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise TransportError(f"stream: {exc}") from exc
        finally:
            self._release(conn)

    def after_fork(self) -> None:
        """In a forked child: a fresh lock, and the parent's connections forgotten (they are the parent's)."""
        self._lock = threading.Lock()
        self._open = set()

    def abort(self) -> None:
        """Break every connection in progress (close() uses it)."""
        with self._lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _parse_events(response: http.client.HTTPResponse) -> Iterator[Event]:
    """Server-Sent Events, as the HTML standard parses them (event, id, data; comments ignored)."""
    event, event_id = "message", None
    data: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield Event(event, event_id, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its delay-seconds form (at most 5 minutes); else None."""
    if value is None or not value.strip().isdigit():
        return None
    return min(300.0, float(value.strip()))
